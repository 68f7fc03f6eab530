//! The agent in this process (`corral up`): calls it directly.

use std::sync::Arc;

use async_trait::async_trait;
use corral_agent::exec::{self, ExecSession};
use corral_agent::Agent;
use corral_api::{ExecRequest, ExecResult};
use corral_image::{ImageManifest, ImageStore};

use super::HostChannel;
use crate::error::{Result, ServerError};

/// A host whose agent runs in this process.
pub struct LocalHost {
    agent: Arc<Agent>,
}

impl LocalHost {
    /// The channel to `agent`.
    pub fn new(agent: Arc<Agent>) -> Self {
        LocalHost { agent }
    }
}

#[async_trait]
impl HostChannel for LocalHost {
    async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecResult> {
        Ok(exec::run(&self.agent, id, req).await?)
    }

    async fn session(&self, id: &str, req: &ExecRequest) -> Result<ExecSession> {
        Ok(exec::start(&self.agent, id, req)?)
    }

    async fn save(&self, id: &str, base: &str, into: &ImageStore) -> Result<ImageManifest> {
        let (upper, base, into) = (self.agent.upper_dir(id), base.to_string(), into.clone());
        tokio::task::spawn_blocking(move || corral_agent::save_node(&into, &upper, &base))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))?
            .map_err(ServerError::from)
    }
}
