//! Placement: which host each pending node goes to. Pure: hosts and demands in,
//! decisions out; no store, no I/O.
//!
//! Filter: ready hosts that carry the cluster's constraint labels, have the node's
//! memory free (never over-committed), its cpu free (capacity × the over-commit ratio)
//! and at least its cpu physically. Score: `spread` takes the host with the most free
//! memory among those without a node of the same cluster, else the one with the most
//! free memory; `pack` takes the fitting host with the least free memory (best fit).
//!
//! Hosts sit in ordered sets keyed by free memory, one set per distinct constraint map,
//! so a placement costs O(log hosts) plus the hosts it skips, not a scan of the pool.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use corral_api::quantity::format_bytes;
use corral_api::Placement;

/// Labels as hosts carry them and clusters constrain them.
pub type Labels = BTreeMap<String, String>;

/// Whether a host with `labels` satisfies `constraints` (every key with its value).
pub fn carries(labels: &Labels, constraints: &Labels) -> bool {
    constraints.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A host as placement sees it.
#[derive(Debug, Clone)]
pub struct HostInfo<'a> {
    /// Name, used in reasons.
    pub name: &'a str,
    /// Physical cpu, millicpus.
    pub cpu_millis: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Labels.
    pub labels: &'a Labels,
    /// Whether it takes nodes.
    pub ready: bool,
}

/// A node already on a host: it uses room there and counts for `spread`.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    /// Its host's name (unknown hosts are ignored).
    pub host: &'a str,
    /// Its cluster's uid.
    pub cluster: &'a str,
    /// Cpu, millicpus.
    pub cpu_millis: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
}

/// A pending node to place.
#[derive(Debug, Clone)]
pub struct Demand<'a> {
    /// Its cluster's uid.
    pub cluster: &'a str,
    /// Cpu, millicpus.
    pub cpu_millis: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Its cluster's placement policy.
    pub policy: Placement,
    /// Labels its host must carry.
    pub constraints: &'a Labels,
}

/// What placement decided for one demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Place it on the host at this index of the input.
    Host(usize),
    /// Leave it pending, for this reason.
    Pending(String),
}

/// Room left on a host.
#[derive(Debug, Clone, Copy)]
struct Room {
    cpu_capacity: i64,
    free_cpu: i64,
    free_memory: i64,
}

/// The ready hosts that carry one constraint map, ordered by free memory.
#[derive(Debug)]
struct HostSet {
    by_free_memory: BTreeSet<(i64, u32)>,
    /// "ready host" or "ready host with site=a", for reasons.
    what: String,
}

/// Places demands one after another, keeping the pool's free room up to date.
pub struct Placer<'a> {
    hosts: &'a [HostInfo<'a>],
    rooms: Vec<Room>,
    sets: Vec<HostSet>,
    set_of: HashMap<Labels, usize>,
    sets_of_host: Vec<Vec<u32>>,
    clusters: HashMap<String, HashSet<u32>>,
    /// Demands that found no host, by (set, cpu, memory): room only shrinks during a
    /// pass, so the same demand fails again, and is answered without a scan.
    failed: HashMap<(usize, u64, u64), String>,
}

impl<'a> Placer<'a> {
    /// A placer over `hosts` with `placed` nodes already on them.
    pub fn new(hosts: &'a [HostInfo<'a>], placed: &[Placed<'_>], cpu_overcommit: f64) -> Self {
        let mut rooms: Vec<Room> = hosts
            .iter()
            .map(|h| Room {
                cpu_capacity: h.cpu_millis as i64,
                free_cpu: (h.cpu_millis as f64 * cpu_overcommit) as i64,
                free_memory: h.memory_bytes as i64,
            })
            .collect();
        let index: HashMap<&str, u32> = hosts.iter().enumerate().map(|(i, h)| (h.name, i as u32)).collect();
        let mut clusters: HashMap<String, HashSet<u32>> = HashMap::new();
        for p in placed {
            let Some(&i) = index.get(p.host) else { continue };
            let r = &mut rooms[i as usize];
            r.free_cpu -= p.cpu_millis as i64;
            r.free_memory -= p.memory_bytes as i64;
            match clusters.get_mut(p.cluster) {
                Some(on) => {
                    on.insert(i);
                }
                None => {
                    clusters.insert(p.cluster.to_string(), HashSet::from([i]));
                }
            }
        }
        Placer {
            hosts,
            rooms,
            sets: Vec::new(),
            set_of: HashMap::new(),
            sets_of_host: vec![Vec::new(); hosts.len()],
            clusters,
            failed: HashMap::new(),
        }
    }

    /// Decides where one demand goes and, when it is placed, takes its room.
    pub fn place(&mut self, d: &Demand<'_>) -> Decision {
        let set = self.set_for(d.constraints);
        let key = (set, d.cpu_millis, d.memory_bytes);
        if let Some(why) = self.failed.get(&key) {
            return Decision::Pending(why.clone());
        }
        let chosen = match d.policy {
            Placement::Spread => self.spread(set, d),
            Placement::Pack => self.pack(set, d),
        };
        match chosen {
            Some(h) => {
                self.take(h, d);
                Decision::Host(h as usize)
            }
            None => {
                let why = self.why_not(set, d);
                self.failed.insert(key, why.clone());
                Decision::Pending(why)
            }
        }
    }

    fn fits(&self, h: u32, d: &Demand<'_>) -> bool {
        let r = &self.rooms[h as usize];
        let cpu = d.cpu_millis as i64;
        r.free_cpu >= cpu && r.cpu_capacity >= cpu
    }

    /// Most free memory first, skipping hosts that hold a node of the same cluster
    /// unless no other host fits.
    fn spread(&self, set: usize, d: &Demand<'_>) -> Option<u32> {
        let on = self.clusters.get(d.cluster);
        let mut fallback = None;
        for &(_, h) in self.sets[set].by_free_memory.range((d.memory_bytes as i64, 0)..).rev() {
            if !self.fits(h, d) {
                continue;
            }
            if on.is_some_and(|s| s.contains(&h)) {
                fallback.get_or_insert(h);
                continue;
            }
            return Some(h);
        }
        fallback
    }

    /// Least free memory that still fits: fills hosts one by one.
    fn pack(&self, set: usize, d: &Demand<'_>) -> Option<u32> {
        self.sets[set]
            .by_free_memory
            .range((d.memory_bytes as i64, 0)..)
            .map(|&(_, h)| h)
            .find(|&h| self.fits(h, d))
    }

    fn take(&mut self, h: u32, d: &Demand<'_>) {
        let r = &mut self.rooms[h as usize];
        let before = r.free_memory;
        r.free_memory -= d.memory_bytes as i64;
        r.free_cpu -= d.cpu_millis as i64;
        let after = r.free_memory;
        for &s in &self.sets_of_host[h as usize] {
            let set = &mut self.sets[s as usize].by_free_memory;
            set.remove(&(before, h));
            set.insert((after, h));
        }
        match self.clusters.get_mut(d.cluster) {
            Some(on) => {
                on.insert(h);
            }
            None => {
                self.clusters.insert(d.cluster.to_string(), HashSet::from([h]));
            }
        }
    }

    /// The set of ready hosts carrying `constraints`, made on first use.
    fn set_for(&mut self, constraints: &Labels) -> usize {
        if let Some(&s) = self.set_of.get(constraints) {
            return s;
        }
        let s = self.sets.len();
        let mut by_free_memory = BTreeSet::new();
        for (i, h) in self.hosts.iter().enumerate() {
            if h.ready && carries(h.labels, constraints) {
                by_free_memory.insert((self.rooms[i].free_memory, i as u32));
                self.sets_of_host[i].push(s as u32);
            }
        }
        let what = if constraints.is_empty() {
            "ready host".to_string()
        } else {
            format!("ready host with {}", describe(constraints))
        };
        self.sets.push(HostSet { by_free_memory, what });
        self.set_of.insert(constraints.clone(), s);
        s
    }

    /// Why no host of the set takes the demand, naming the closest host.
    fn why_not(&self, set: usize, d: &Demand<'_>) -> String {
        let HostSet { by_free_memory, what } = &self.sets[set];
        let Some(&(most, h)) = by_free_memory.last() else {
            return format!("no {what}");
        };
        let memory = format_bytes(d.memory_bytes);
        if most < d.memory_bytes as i64 {
            return format!(
                "no {what} has {memory} of memory free (largest free: {} on {})",
                format_bytes(most.max(0) as u64),
                self.hosts[h as usize].name
            );
        }
        let roomy: Vec<u32> = by_free_memory
            .range((d.memory_bytes as i64, 0)..)
            .map(|&(_, h)| h)
            .collect();
        let cpu = format_cpu(d.cpu_millis as i64);
        let biggest = roomy.iter().max_by_key(|&&h| (self.rooms[h as usize].cpu_capacity, h));
        if let Some(&b) = biggest.filter(|&&b| self.rooms[b as usize].cpu_capacity < d.cpu_millis as i64) {
            return format!(
                "no {what} with {memory} of memory free has {cpu} cpus (largest: {} on {})",
                format_cpu(self.rooms[b as usize].cpu_capacity),
                self.hosts[b as usize].name
            );
        }
        let best = roomy
            .iter()
            .filter(|&&h| self.rooms[h as usize].cpu_capacity >= d.cpu_millis as i64)
            .max_by_key(|&&h| (self.rooms[h as usize].free_cpu, h))
            .expect("a host with enough cpu capacity exists");
        format!(
            "no {what} with {memory} of memory free has {cpu} cpus free, cpu over-committed included (most free: {} on {})",
            format_cpu(self.rooms[*best as usize].free_cpu.max(0)),
            self.hosts[*best as usize].name
        )
    }
}

/// Places every demand in order: the decisions, one per demand.
pub fn place_all(
    hosts: &[HostInfo<'_>],
    placed: &[Placed<'_>],
    demands: &[Demand<'_>],
    cpu_overcommit: f64,
) -> Vec<Decision> {
    let mut p = Placer::new(hosts, placed, cpu_overcommit);
    demands.iter().map(|d| p.place(d)).collect()
}

/// `site=a, rack=r1`.
pub fn describe(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn format_cpu(millis: i64) -> String {
    format!("{}", millis as f64 / 1000.0)
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
