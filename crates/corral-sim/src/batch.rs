//! The batch system of a simulated cluster: FCFS with EASY backfilling, as the KTH SP2
//! ran. The queue's head gets a reservation at the earliest time enough nodes are
//! expected free (from the requested times of the jobs holding nodes); a later job
//! starts early only if it does not delay that reservation: it ends before it, or it
//! uses only nodes the head will not need.
//!
//! It schedules on slots, the cluster's `max` nodes, as Slurm does with power-saving
//! cloud nodes: a job may be given slots whose nodes do not exist yet, and Corral is
//! asked for them (the queue trigger). Which nodes hold which job is the engine's.

use std::collections::VecDeque;

use crate::swf::Job;

/// One cluster's batch queue.
#[derive(Debug, Clone)]
pub struct Batch {
    slots: u32,
    free: u32,
    queue: VecDeque<usize>,
    /// Jobs holding slots: (job, expected end, nodes).
    holding: Vec<(usize, u64, u32)>,
}

impl Batch {
    /// A queue over `slots` nodes.
    pub fn new(slots: u32) -> Self {
        Batch {
            slots,
            free: slots,
            queue: VecDeque::new(),
            holding: Vec::new(),
        }
    }

    /// Queues a job (an index into the jobs given to `schedule`).
    pub fn submit(&mut self, job: usize) {
        self.queue.push_back(job);
    }

    /// Jobs waiting for slots.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The job at the head of the queue.
    pub fn head(&self) -> Option<usize> {
        self.queue.front().copied()
    }

    /// Sets how many slots there are now. A group that may borrow from a shared pool
    /// has as many as its nodes plus the room the pool has for more, so this changes
    /// between passes; slots held by running jobs are never taken back.
    pub fn set_slots(&mut self, slots: u32) {
        let held = self.slots - self.free;
        self.slots = slots.max(held);
        self.free = self.slots - held;
    }

    /// Gives slots to the jobs that may start now; returns them in start order.
    pub fn schedule(&mut self, now: u64, jobs: &[Job]) -> Vec<usize> {
        let mut started = Vec::new();
        while let Some(&head) = self.queue.front() {
            if jobs[head].nodes > self.free {
                break;
            }
            self.queue.pop_front();
            self.start(head, now, jobs);
            started.push(head);
        }
        let Some(&head) = self.queue.front() else {
            return started;
        };
        if self.free == 0 {
            return started;
        }
        // The head's reservation: when enough slots are expected free, and how many of
        // those it leaves over.
        let need = jobs[head].nodes;
        let mut ends: Vec<(u64, u32)> = self.holding.iter().map(|&(_, end, n)| (end.max(now), n)).collect();
        ends.sort_unstable();
        let mut free_then = self.free;
        let mut shadow = u64::MAX;
        for (end, n) in ends {
            free_then += n;
            if free_then >= need {
                shadow = end;
                break;
            }
        }
        let mut extra = free_then.saturating_sub(need);
        let mut i = 1;
        while i < self.queue.len() && self.free > 0 {
            let j = self.queue[i];
            let job = &jobs[j];
            let before_shadow = now.saturating_add(job.requested) <= shadow;
            if job.nodes <= self.free && (before_shadow || job.nodes <= extra) {
                if !before_shadow {
                    extra -= job.nodes;
                }
                self.queue.remove(i);
                self.start(j, now, jobs);
                started.push(j);
            } else {
                i += 1;
            }
        }
        started
    }

    fn start(&mut self, j: usize, now: u64, jobs: &[Job]) {
        self.free -= jobs[j].nodes;
        self.holding.push((j, now + jobs[j].requested, jobs[j].nodes));
    }

    /// Gives back the slots of a finished job.
    pub fn finish(&mut self, job: usize) {
        if let Some(k) = self.holding.iter().position(|h| h.0 == job) {
            self.free += self.holding.swap_remove(k).2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    fn job(id: u64, submit: u64, nodes: u32, runtime: u64, requested: u64) -> Job {
        Job {
            id,
            submit,
            runtime,
            nodes,
            requested,
            user: -1,
        }
    }

    /// Start times of every job on a static machine of `slots` nodes.
    fn replay(jobs: &[Job], slots: u32) -> Vec<u64> {
        let mut b = Batch::new(slots);
        let mut starts = vec![u64::MAX; jobs.len()];
        let mut ends = BinaryHeap::new();
        let mut next = 0;
        loop {
            let t_submit = jobs.get(next).map(|j| j.submit);
            let t_end = ends.peek().map(|&Reverse((t, _))| t);
            let now = match (t_submit, t_end) {
                (None, None) => break,
                (Some(s), Some(e)) => s.min(e),
                (Some(s), None) => s,
                (None, Some(e)) => e,
            };
            while let Some(&Reverse((t, j))) = ends.peek() {
                if t != now {
                    break;
                }
                ends.pop();
                b.finish(j);
            }
            while next < jobs.len() && jobs[next].submit == now {
                b.submit(next);
                next += 1;
            }
            for j in b.schedule(now, jobs) {
                starts[j] = now;
                ends.push(Reverse((now + jobs[j].runtime, j)));
            }
        }
        starts
    }

    #[test]
    fn easy_backfills_without_delaying_the_head() {
        let jobs = [
            job(1, 0, 2, 10, 10),
            // Needs the whole machine: reserved for t=10, when job 1 ends.
            job(2, 1, 4, 5, 5),
            // Ends by 7, before the reservation: backfilled at once.
            job(3, 2, 2, 5, 5),
            // Would run past the reservation on nodes the head needs: waits for it.
            job(4, 3, 2, 20, 20),
            // One node for long, but no node is left over at the reservation: waits.
            job(5, 4, 1, 3, 100),
        ];
        assert_eq!(replay(&jobs, 4), vec![0, 10, 2, 15, 15]);
    }

    #[test]
    fn backfills_on_nodes_the_head_leaves_over() {
        let jobs = [
            job(1, 0, 3, 10, 10),
            // Needs 4 of 6: at t=10 it leaves 2 over.
            job(2, 1, 4, 5, 5),
            // Runs long, but on 2 of the nodes left over: starts now; it does not delay job 2.
            job(3, 2, 2, 50, 50),
            // One more long one: nothing is left over now; it starts when job 2 ends.
            job(4, 3, 1, 50, 50),
        ];
        assert_eq!(replay(&jobs, 6), vec![0, 10, 2, 15]);
    }

    #[test]
    fn overrunning_jobs_count_as_ending_now() {
        // Job 1 asked for 5 s but runs 20: the head's reservation moves with it, and a
        // backfill candidate that fits before "now" is not started on a stale shadow.
        let jobs = [job(1, 0, 2, 20, 5), job(2, 1, 4, 1, 1), job(3, 6, 2, 10, 10)];
        assert_eq!(replay(&jobs, 4), vec![0, 20, 21]);
    }
}
