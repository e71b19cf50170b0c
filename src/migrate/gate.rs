//! The `api` stage: the irreversible switch to `API`, only through the safety gate of the
//! design. The gate returns every reason to refuse at once, so one run tells the operator all
//! that stands in the way.

use super::state::Event;
use super::{MigrateOptions, Refusal, Run, StageError};
use crate::live::LivePlan;
use crate::live::eks::AuthenticationMode;
use crate::model::{AccessScope, CLUSTER_ADMIN_POLICY, EntryType};
use crate::plan::reconcile::{ExistingEntry, Operation};
use crate::plan::translate::Action;

impl Run<'_> {
    /// The switch to API, only through the safety gate.
    pub(super) async fn api(&mut self, opts: &MigrateOptions) -> Result<(), StageError> {
        let plan = self.plan().await?;
        let verification = self.last_verification()?;
        let mut refusals = gate(&plan, opts, &self.cluster.name, &plan.snapshot.caller_arn);
        let hash = crate::verify::plan_hash(
            &plan
                .plan
                .mappings
                .iter()
                .filter_map(|m| m.access_entry.clone())
                .collect::<Vec<_>>(),
        );
        refusals.extend(verification_refusal(verification, &hash));
        let running = self
            .cluster
            .eks
            .updates_in_progress(&self.cluster.name)
            .await?;
        if !running.is_empty() {
            refusals.push(format!(
                "an update is in progress ({}); wait for it",
                running.join(", ")
            ));
        }
        if !refusals.is_empty() {
            return Err(Refusal::Gate(refusals).into());
        }
        self.switch_mode(AuthenticationMode::Api, opts).await?;
        self.say("api      done: aws-auth is no longer consulted; it is kept in the cluster and in the backup");
        Ok(())
    }

    /// The plan hash and outcome of the latest verification in the journal.
    fn last_verification(&self) -> Result<Option<(String, bool)>, StageError> {
        Ok(self
            .state
            .records()?
            .iter()
            .rev()
            .find_map(|r| match &r.event {
                Event::Verified {
                    plan_hash, passed, ..
                } => Some((plan_hash.clone(), *passed)),
                _ => None,
            }))
    }
}

/// The safety gate before the irreversible switch to API (README, "Migrating a live cluster";
/// docs/authentication-modes.md). Returns every reason
/// to refuse; empty means the switch may go ahead.
pub fn gate(
    plan: &LivePlan,
    opts: &MigrateOptions,
    cluster: &str,
    caller_arn: &str,
) -> Vec<String> {
    let mut refusals = Vec::new();
    if opts.confirm.as_deref() != Some(cluster) {
        refusals.push(format!(
            "type the cluster name to confirm: --confirm {cluster}"
        ));
    }
    if plan.snapshot.cluster.authentication_mode != Some(AuthenticationMode::ApiAndConfigMap) {
        refusals.push(format!(
            "the cluster is in {}, not API_AND_CONFIG_MAP; run --to entries first",
            plan.authentication_mode
                .as_deref()
                .unwrap_or("an unknown mode")
        ));
    }
    let allowed = |m: &crate::plan::translate::PlannedMapping| {
        opts.allow_drop
            .iter()
            .any(|a| a == &m.mapping.id.to_string() || a.eq_ignore_ascii_case(&m.mapping.arn))
    };
    for m in plan
        .plan
        .mappings
        .iter()
        .filter(|m| m.action == Action::Keep && !allowed(m))
    {
        refusals.push(format!(
            "{} ({}) would be dropped: it has no access entry (see its blocker); fix it or name it with --allow-drop {}",
            m.mapping.id, m.mapping.arn, m.mapping.id
        ));
    }
    for op in &plan.operations {
        let what = match op {
            Operation::Adopt { .. } => continue,
            Operation::Create { .. } => "has no access entry yet",
            Operation::Update { .. } => {
                "has an entry whose username or groups differ from aws-auth"
            }
            Operation::Associate { .. } => "lacks a planned access policy",
            Operation::Conflict { .. } => "has a conflicting entry",
        };
        refusals.push(format!("{} {what}; run --to entries", op.principal_arn()));
    }
    let is_admin = |e: &ExistingEntry| {
        e.entry_type == EntryType::Standard.as_str()
            && e.access_policies.iter().any(|p| {
                p.policy_arn.ends_with(&format!("/{CLUSTER_ADMIN_POLICY}"))
                    && p.access_scope == AccessScope::Cluster
            })
    };
    if !plan.existing_entries.iter().any(is_admin) {
        refusals.push("no access entry has AmazonEKSClusterAdminPolicy at cluster scope: nobody could administer the cluster".into());
    }
    let caller = caller_principal(caller_arn);
    let caller_admin = plan
        .existing_entries
        .iter()
        .filter(|e| is_admin(e))
        .any(|e| {
            crate::model::arn::parse(&e.principal_arn)
                .ok()
                .is_some_and(|p| Some((p.account.clone(), p.name.to_lowercase())) == caller)
        });
    if !caller_admin {
        refusals.push(format!(
            "your own principal ({caller_arn}) has no cluster-admin access entry; after the switch you could not undo a mistake"
        ));
    }
    refusals
}

/// Why the latest verification (plan hash, passed) does not cover the plan `hash`, if it does not.
pub fn verification_refusal(last: Option<(String, bool)>, hash: &str) -> Option<String> {
    match last {
        Some((h, true)) if h == hash => None,
        Some((h, true)) => Some(format!(
            "the last passing verification was for plan {h}, but the plan is now {hash}; run --to verify again"
        )),
        Some((_, false)) => Some(
            "the last verification failed: permissions would be lost; fix them and run --to verify"
                .into(),
        ),
        None => Some("no verification has passed for this cluster; run --to verify".into()),
    }
}

/// (account, lower-cased name) of a principal ARN, for comparing the caller with entries.
fn caller_principal(arn: &str) -> Option<(String, String)> {
    let p = crate::model::arn::parse(arn).ok()?;
    Some((p.account, p.name.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_needs_a_passing_verification_of_this_plan() {
        assert_eq!(
            verification_refusal(Some(("abc".into(), true)), "abc"),
            None
        );
        let stale = verification_refusal(Some(("abc".into(), true)), "def").unwrap();
        assert!(
            stale.contains("for plan abc, but the plan is now def"),
            "{stale}"
        );
        assert!(
            verification_refusal(Some(("abc".into(), false)), "abc")
                .unwrap()
                .contains("failed")
        );
        assert!(
            verification_refusal(None, "abc")
                .unwrap()
                .contains("no verification")
        );
    }
}
