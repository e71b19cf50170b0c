//! The authentication-mode switches (`dual`: `CONFIG_MAP → API_AND_CONFIG_MAP`, and the last
//! step of `api`) and waiting on cluster updates: an update already running is waited for,
//! never raced, and the switch's own update is polled until it ends.

use std::time::{Duration, Instant};

use aws_sdk_eks::types::UpdateStatus;

use super::failpoint;
use super::state::{Event, JournalOp, Step};
use super::{MigrateOptions, Run, StageError, progress_spinner};
use crate::live::eks::AuthenticationMode;

impl Run<'_> {
    /// Waits for updates that are already running, so the switch never races one.
    pub(super) async fn wait_for_running_updates(
        &mut self,
        opts: &MigrateOptions,
    ) -> Result<(), StageError> {
        let name = self.cluster.name.clone();
        for id in self.cluster.eks.updates_in_progress(&name).await? {
            self.say(&format!("waiting  another update ({id}) is in progress"));
            let (status, errors) = self.wait_update(&id, opts).await?;
            self.say(&format!(
                "         update {id} ended {}{}",
                status.as_str(),
                super::errors_suffix(&errors)
            ));
        }
        Ok(())
    }

    /// Polls DescribeUpdate until the update ends, backing off to 30 s between polls.
    async fn wait_update(
        &mut self,
        id: &str,
        opts: &MigrateOptions,
    ) -> Result<(UpdateStatus, Vec<String>), StageError> {
        let start = Instant::now();
        let spinner = if self.spinner {
            progress_spinner()
        } else {
            self.say(&format!("waiting  for update {id}"));
            None
        };
        let finish = |s: &Option<indicatif::ProgressBar>| {
            if let Some(s) = s {
                s.finish_and_clear();
            }
        };
        let mut delay = opts.poll_interval;
        loop {
            let (status, errors) = self
                .cluster
                .eks
                .describe_update(&self.cluster.name, id)
                .await?;
            if status != UpdateStatus::InProgress {
                finish(&spinner);
                return Ok((status, errors));
            }
            let elapsed = start.elapsed();
            if elapsed > opts.update_timeout {
                finish(&spinner);
                return Err(StageError::UpdateTimeout {
                    update_id: id.to_string(),
                    seconds: elapsed.as_secs(),
                });
            }
            if let Some(s) = &spinner {
                s.set_message(format!("update {id} in progress ({}s)", elapsed.as_secs()));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2)
                .min(Duration::from_secs(30))
                .max(opts.poll_interval);
        }
    }

    /// UpdateClusterConfig to `target`, waiting for it; a no-op when the cluster is there.
    pub(super) async fn switch_mode(
        &mut self,
        target: AuthenticationMode,
        opts: &MigrateOptions,
    ) -> Result<(), StageError> {
        let stage = if target == AuthenticationMode::Api {
            Step::Api
        } else {
            Step::Dual
        };
        let label = stage.name();
        self.wait_for_running_updates(opts).await?;
        self.cluster.info = self
            .cluster
            .eks
            .describe_cluster(&self.cluster.name)
            .await?;
        let current = self.cluster.info.authentication_mode;
        let reached = match target {
            AuthenticationMode::ApiAndConfigMap => current != Some(AuthenticationMode::ConfigMap),
            _ => current == Some(target),
        };
        if reached {
            self.say(&format!(
                "{label:<8} already done: the cluster is in {}",
                current.map_or("?", |m| m.as_str())
            ));
            return Ok(());
        }
        let op = JournalOp::SwitchMode {
            authentication_mode: target.as_str().into(),
        };
        let token = self.request_token(stage, &op)?;
        self.journal(
            stage,
            Event::Intent {
                op: op.clone(),
                token: Some(token.clone()),
            },
        )?;
        failpoint::hit(stage, "before-send");
        // Another update can start between the check above and this call (EKS starts some
        // itself): ResourceInUse then means wait for it and try again, a few times.
        let mut attempts = 0;
        let id = loop {
            attempts += 1;
            match self
                .cluster
                .eks
                .update_mode(&self.cluster.name, target, &token)
                .await
            {
                Ok(id) => break id,
                Err(e) if e.code == crate::live::eks::ErrorCode::ResourceInUse && attempts < 4 => {
                    self.say(&format!(
                        "{label:<8} another update started meanwhile; waiting for it"
                    ));
                    self.wait_for_running_updates(opts).await?;
                }
                Err(e) => {
                    self.journal(
                        stage,
                        Event::Failed {
                            op,
                            error: e.to_string(),
                        },
                    )?;
                    return Err(e.into());
                }
            }
        };
        self.journal(
            stage,
            Event::ModeUpdateRequested {
                target: target.as_str().into(),
                update_id: id.clone(),
            },
        )?;
        failpoint::hit(stage, "after-send");
        let (status, errors) = self.wait_update(&id, opts).await?;
        self.journal(
            stage,
            Event::ModeUpdateFinished {
                target: target.as_str().into(),
                update_id: id.clone(),
                status: status.as_str().into(),
            },
        )?;
        if status != UpdateStatus::Successful {
            return Err(StageError::UpdateFailed {
                target: target.as_str(),
                update_id: id,
                status: status.as_str().into(),
                errors,
            });
        }
        self.cluster.info = self
            .cluster
            .eks
            .describe_cluster(&self.cluster.name)
            .await?;
        self.say(&format!(
            "{label:<8} the cluster is now in {}",
            target.as_str()
        ));
        Ok(())
    }
}
