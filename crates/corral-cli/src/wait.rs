//! Waiting for an operation to end, polling quickly at first so short operations feel
//! instant, then backing off so long ones do not hammer the server.

use std::time::Duration;

use corral_api::{ApiError, ErrorCode, Operation, OperationStatus};

use crate::client::Client;
use crate::console::Console;

const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_millis(500);

/// Polls until the operation ends; a failed operation becomes its error.
pub async fn wait(
    client: &Client,
    op: Operation,
    console: &mut Console,
) -> anyhow::Result<Operation> {
    let result = poll(client, op, console).await;
    console.end_progress();
    let op = result?;
    match op.status {
        OperationStatus::Failed => Err(op
            .error
            .unwrap_or_else(|| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("operation {} ({}) failed", op.id, op.kind),
                )
            })
            .into()),
        _ => Ok(op),
    }
}

async fn poll(
    client: &Client,
    mut op: Operation,
    console: &mut Console,
) -> anyhow::Result<Operation> {
    let mut delay = FIRST_POLL;
    while op.status == OperationStatus::Running {
        console.progress(&progress_line(&op));
        tokio::time::sleep(delay).await;
        delay = next_delay(delay);
        op = client.get(&["v1", "operations", &op.id]).await?;
    }
    Ok(op)
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
    fn progress_names_the_operation() {
        let op = operation(OperationStatus::Running);
        assert_eq!(
            progress_line(&op),
            "cluster.create clusters/demo: 1/2 nodes running"
        );
    }
}
