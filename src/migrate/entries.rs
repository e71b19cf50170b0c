//! The `entries` stage: reconcile the cluster's access entries to the plan. Missing entries are
//! created and tagged as the tool's, entries EKS or someone else made are adopted, what differs
//! is updated where EKS allows it, policies are associated. Every change is journaled around its
//! call; a create that meets an existing entry (an earlier attempt got through, or EKS made it)
//! is reconciled against what exists instead of failing.

use std::collections::BTreeMap;

use super::state::{Event, JournalOp, Step};
use super::{Refusal, Run, StageError, TAG_CREATED_BY, TAG_RUN_ID};
use crate::live::eks::AuthenticationMode;
use crate::plan::reconcile::{AccessEntryRequest, Operation, reconcile};

impl Run<'_> {
    /// Reconciles access entries to the plan, re-reading the cluster first (EKS may have
    /// created entries at the mode switch).
    pub(super) async fn entries(&mut self) -> Result<(), StageError> {
        let plan = self.plan().await?;
        if self.cluster.info.authentication_mode == Some(AuthenticationMode::ConfigMap) {
            return Err(Refusal::ConfigMapMode.into());
        }
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut conflicts = Vec::new();
        let mut mutation = 0usize;
        for op in &plan.operations {
            let Some(journal_op) = JournalOp::of(op) else {
                match op {
                    Operation::Conflict {
                        principal_arn,
                        reason,
                    } => conflicts.push(format!("{principal_arn}: {reason}")),
                    _ => *counts.entry("adopted").or_default() += 1,
                }
                continue;
            };
            mutation += 1;
            let token = self.token_for(Step::Entries, &journal_op)?;
            let sent = self.journaled(
                Step::Entries,
                &journal_op,
                token.clone(),
                mutation,
                self.apply(op, token.as_deref().unwrap_or_default()),
            );
            match sent.await {
                Ok(word) => *counts.entry(word).or_default() += 1,
                Err(e) => {
                    return Err(StageError::Stopped {
                        source: Box::new(e),
                        done: mutation - 1,
                    });
                }
            }
        }
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        self.say(&format!(
            "entries  {}",
            if summary.is_empty() {
                "nothing to do".to_string()
            } else {
                summary.join(", ")
            }
        ));
        if !conflicts.is_empty() {
            return Err(StageError::Conflicts(conflicts));
        }
        Ok(())
    }

    /// Sends one operation; says what became of it (`created`, `adopted`, `updated`, …).
    async fn apply(&self, op: &Operation, token: &str) -> Result<&'static str, StageError> {
        let eks = &self.cluster.eks;
        let cluster = &self.cluster.name;
        match op {
            Operation::Create { entry } => {
                let tags = BTreeMap::from([
                    (TAG_CREATED_BY.to_string(), "aws-auth-migrate".to_string()),
                    (TAG_RUN_ID.to_string(), self.run_id.clone()),
                ]);
                match eks.create_entry(cluster, entry, &tags, token).await {
                    Ok(()) => Ok("created"),
                    Err(e) if e.code == crate::live::eks::ErrorCode::ResourceInUse => {
                        self.adopt_on_create(entry).await
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Operation::Update {
                principal_arn,
                username,
                kubernetes_groups,
                ..
            } => {
                eks.update_entry(
                    cluster,
                    principal_arn,
                    username.as_deref(),
                    kubernetes_groups,
                    token,
                )
                .await?;
                Ok("updated")
            }
            Operation::Associate {
                principal_arn,
                policy,
                ..
            } => {
                eks.associate(cluster, principal_arn, policy).await?;
                Ok("policy associations")
            }
            Operation::Adopt { .. } | Operation::Conflict { .. } => Ok("adopted"),
        }
    }

    /// A create met an existing entry. One with the tool's tag is its own (an earlier attempt
    /// got through); any other was made by EKS or someone else and is adopted, so rollback
    /// restores it rather than deleting it. Either way it is then brought to the plan.
    async fn adopt_on_create(
        &self,
        entry: &AccessEntryRequest,
    ) -> Result<&'static str, StageError> {
        let eks = &self.cluster.eks;
        let cluster = &self.cluster.name;
        let existing = eks.describe_entry(cluster, &entry.principal_arn).await?;
        let ours = existing.as_ref().is_some_and(|e| {
            e.tags.get(TAG_CREATED_BY).map(String::as_str) == Some("aws-auth-migrate")
        });
        if !ours {
            self.journal(
                Step::Entries,
                Event::Done {
                    op: JournalOp::Adopt {
                        principal_arn: entry.principal_arn.clone(),
                    },
                },
            )?;
        }
        let want = crate::model::AccessEntry {
            principal_arn: entry.principal_arn.clone(),
            entry_type: entry.entry_type,
            username: entry.username.clone(),
            kubernetes_groups: entry.kubernetes_groups.clone(),
            access_policies: Vec::new(),
            principal_id: entry.principal_id.clone(),
        };
        for follow in reconcile(std::slice::from_ref(&want), existing.as_slice()) {
            match &follow {
                Operation::Update {
                    principal_arn,
                    username,
                    kubernetes_groups,
                    ..
                } => {
                    let op = JournalOp::of(&follow).expect("an update is a change");
                    let token = self.request_token(Step::Entries, &op)?;
                    let call = eks.update_entry(
                        cluster,
                        principal_arn,
                        username.as_deref(),
                        kubernetes_groups,
                        &token,
                    );
                    self.journaled(Step::Entries, &op, Some(token.clone()), 0, call)
                        .await?;
                }
                Operation::Conflict { reason, .. } => {
                    return Err(StageError::Conflict {
                        principal_arn: entry.principal_arn.clone(),
                        reason: reason.clone(),
                    });
                }
                _ => {}
            }
        }
        Ok("adopted")
    }
}
