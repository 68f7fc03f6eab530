//! Waiting for an operation to end. Each poll is a long poll (`?wait_ms=`): the server
//! answers as soon as the operation changes, so its end is seen at once. A server that
//! answers at once without a change (one that does not long-poll) is polled quickly at
//! first so short operations feel instant, then with back-off so long ones do not
//! hammer it.

use std::time::{Duration, Instant};

use corral_api::{ApiError, ErrorCode, Operation, OperationStatus};

use crate::client::Client;
use crate::console::Console;

const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_millis(500);
/// How long one long poll may be held by the server.
const LONG_POLL: Duration = Duration::from_secs(10);

/// Polls until the operation ends; a failed operation becomes its error.
pub async fn wait(client: &Client, op: Operation, console: &mut Console) -> anyhow::Result<Operation> {
    let result = poll(client, op, console).await;
    console.end_progress();
    let op = result?;
    match op.status {
        OperationStatus::Failed => Err(op
            .error
            .unwrap_or_else(|| ApiError::new(ErrorCode::Internal, format!("operation {} ({}) failed", op.id, op.kind)))
            .into()),
        _ => Ok(op),
    }
}

async fn poll(client: &Client, mut op: Operation, console: &mut Console) -> anyhow::Result<Operation> {
    let mut delay = FIRST_POLL;
    let wait_ms = LONG_POLL.as_millis().to_string();
    while op.status == OperationStatus::Running {
        console.progress(&progress_line(&op));
        let asked = Instant::now();
        let next: Operation = client
            .get_query(&["v1", "operations", &op.id], &[("wait_ms", &wait_ms)])
            .await?;
        if let Some(pause) = pause_after(&op, &next, asked.elapsed(), delay) {
            tokio::time::sleep(pause).await;
            delay = next_delay(delay);
        }
        op = next;
    }
    Ok(op)
}

/// How long to pause before the next poll: none when the server held the request or
/// the operation changed; otherwise the rest of the back-off `delay` (the server did
/// not wait, so we must).
fn pause_after(before: &Operation, after: &Operation, took: Duration, delay: Duration) -> Option<Duration> {
    let changed = after != before;
    (!changed && took < delay).then(|| delay - took)
}

/// The next poll interval: doubling up to [`MAX_POLL`].
fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_POLL)
}

fn progress_line(op: &Operation) -> String {
    let progress = if op.progress.is_empty() {
        "in progress"
    } else {
        &op.progress
    };
    format!("{} {}: {progress}", op.kind, op.target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::operation_for_tests as operation;

    #[test]
    fn backs_off_to_half_a_second() {
        let mut d = FIRST_POLL;
        let mut seen = vec![];
        for _ in 0..6 {
            seen.push(d.as_millis());
            d = next_delay(d);
        }
        assert_eq!(seen, [50, 100, 200, 400, 500, 500]);
    }

    #[test]
    fn no_pause_after_a_long_poll_or_a_change() {
        let running = operation(OperationStatus::Running);
        let mut progressed = running.clone();
        progressed.progress = "2/2 nodes running".into();
        let d = Duration::from_millis(200);
        // The server answered at once with nothing new: it does not long-poll.
        assert_eq!(
            pause_after(&running, &running, Duration::from_millis(5), d),
            Some(Duration::from_millis(195))
        );
        // It held the request until its timeout: poll again at once.
        assert_eq!(pause_after(&running, &running, LONG_POLL, d), None);
        // Something changed: show it and poll again at once.
        assert_eq!(pause_after(&running, &progressed, Duration::from_millis(5), d), None);
    }

    #[test]
    fn progress_names_the_operation() {
        let op = operation(OperationStatus::Running);
        assert_eq!(progress_line(&op), "cluster.create clusters/demo: 1/2 nodes running");
    }
}
