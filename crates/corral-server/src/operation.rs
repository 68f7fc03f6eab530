//! Operations: asynchronous requests in flight, and what each waits for.

use corral_api::{ApiError, Operation, OperationStatus};
use corral_store::{typed, Compare, Op};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::time::now;

/// What must become true for an operation to succeed; the tracker checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum WaitFor {
    /// Every wanted node of the cluster runs, every unwanted one is gone.
    ClusterRunning {
        /// Cluster uid.
        uid: String,
    },
    /// Every node of the cluster is stopped.
    ClusterStopped {
        /// Cluster uid.
        uid: String,
    },
    /// The cluster record is gone.
    ClusterGone {
        /// Cluster uid.
        uid: String,
        /// Cluster key.
        key: String,
    },
    /// A task in this process finishes it.
    Task,
    /// A node runs (or rests, if stopped) on a given host, its migration done.
    NodeOn {
        /// Cluster uid.
        uid: String,
        /// Node name.
        name: String,
        /// Target host.
        host: String,
    },
}

/// A stored operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationRecord {
    /// The API view.
    pub op: Operation,
    /// What it waits for.
    pub wait: WaitFor,
}

/// A new running operation (not yet stored).
pub fn new(kind: &str, target: &str, owner: &str, wait: WaitFor) -> OperationRecord {
    let t = now();
    OperationRecord {
        op: Operation {
            id: format!("op-{}", crate::user::random_secret(8)),
            kind: kind.to_string(),
            target: target.to_string(),
            owner: owner.to_string(),
            status: OperationStatus::Running,
            progress: String::new(),
            error: None,
            created_at: t,
            updated_at: t,
        },
        wait,
    }
}

/// The put of an operation, for a transaction.
pub fn put_op(rec: &OperationRecord) -> Result<Op> {
    Ok(typed::put_op(&keys::operation(&rec.op.id), rec)?)
}

/// Stores a new operation on its own.
pub fn insert(ctx: &Context, rec: &OperationRecord) -> Result<()> {
    ctx.store.txn(&[], &[put_op(rec)?])?;
    Ok(())
}

/// Reads an operation.
pub fn get(ctx: &Context, id: &str) -> Result<Option<OperationRecord>> {
    Ok(typed::get::<OperationRecord>(ctx.store.as_ref(), &keys::operation(id))?.map(|d| d.value))
}

/// All operations.
pub fn all(ctx: &Context) -> Result<Vec<typed::Doc<OperationRecord>>> {
    Ok(typed::list(ctx.store.as_ref(), keys::OPERATIONS)?)
}

/// Sets progress or the end of an operation, if it is still running and unchanged.
pub fn update(
    ctx: &Context,
    doc: &typed::Doc<OperationRecord>,
    status: OperationStatus,
    progress: &str,
    error: Option<ApiError>,
) -> Result<()> {
    let mut rec = doc.value.clone();
    if rec.op.status == status && rec.op.progress == progress && rec.op.error == error {
        return Ok(());
    }
    rec.op.status = status;
    rec.op.progress = progress.to_string();
    rec.op.error = error;
    rec.op.updated_at = now();
    ctx.store.txn(
        &[Compare::ModRevision(doc.key.clone(), doc.revision)],
        &[typed::put_op(&doc.key, &rec)?],
    )?;
    Ok(())
}

/// Ends a task operation by id.
pub fn finish(ctx: &Context, id: &str, result: std::result::Result<String, ApiError>) -> Result<()> {
    for _ in 0..10 {
        let Some(doc) = typed::get::<OperationRecord>(ctx.store.as_ref(), &keys::operation(id))? else {
            return Ok(());
        };
        let (status, progress, error) = match &result {
            Ok(p) => (OperationStatus::Succeeded, p.clone(), None),
            Err(e) => (OperationStatus::Failed, String::from("failed"), Some(e.clone())),
        };
        let mut rec = doc.value.clone();
        rec.op.status = status;
        rec.op.progress = progress;
        rec.op.error = error;
        rec.op.updated_at = now();
        if ctx
            .store
            .txn(
                &[Compare::ModRevision(doc.key.clone(), doc.revision)],
                &[typed::put_op(&doc.key, &rec)?],
            )?
            .is_some()
        {
            return Ok(());
        }
    }
    Ok(())
}
