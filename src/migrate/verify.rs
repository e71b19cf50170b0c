//! The `verify` stage: parity verification against the cluster, journaled with the plan's hash
//! (the `api` gate requires a passing one for the current plan) and kept as
//! `verification.json` beside the journal.

use std::collections::HashMap;

use super::state::{Event, JournalOp, Record, Step, write_atomic};
use super::{MigrateOptions, Run, StageError};

impl Run<'_> {
    /// Parity verification: journaled with the plan's hash, the report kept next to the journal.
    pub async fn verify(
        &mut self,
        opts: &MigrateOptions,
    ) -> Result<crate::verify::ParityReport, StageError> {
        let plan = self.plan().await?;
        let (rbac, resources) = crate::live::parity::read_rbac(&self.cluster.kube).await?;
        let declared = self
            .policy_map
            .map(|pm| pm.groups.values().map(|g| g.policy.clone()).collect())
            .unwrap_or_default();
        let inputs = crate::verify::Inputs {
            cluster: &self.cluster.name,
            mappings: &plan.plan.mappings,
            existing: &plan.existing_entries,
            rbac: &rbac,
            resources: &resources,
            declared_policies: declared,
            allow_drop: &opts.allow_drop,
            created_ids: created_ids(&self.state.records()?),
        };
        let mut report = crate::live::parity::verify(&self.cluster.kube, &inputs).await?;
        if !opts.probe_as.is_empty() {
            crate::live::parity::probe_as(
                &mut report,
                &opts.probe_as,
                &self.cluster.sdk,
                &self.cluster.info,
            )
            .await;
        }
        let mut text = serde_json::to_string_pretty(&report).expect("reports serialize");
        text.push('\n');
        write_atomic(&self.state.dir().join("verification.json"), text.as_bytes())?;
        self.journal(
            Step::Verify,
            Event::Verified {
                plan_hash: report.plan_hash.clone(),
                passed: report.passed,
                detail: format!(
                    "{} principals, {} lost, {} gained, {} identities, {} reviews",
                    report.principals.len(),
                    report.lost(),
                    report.gained(),
                    report.identities,
                    report.reviews
                ),
            },
        )?;
        self.say(&format!(
            "verify   {}: {} principals, {} lost, {} gained ({} identities, {} SubjectAccessReviews)",
            if report.passed { "passed" } else { "FAILED" },
            report.principals.len(),
            report.lost(),
            report.gained(),
            report.identities,
            report.reviews
        ));
        Ok(report)
    }
}

/// Principal ARN (lower-cased) → IAM unique id, for every entry the journal says the tool
/// created with the id known.
pub fn created_ids(records: &[Record]) -> HashMap<String, String> {
    records
        .iter()
        .filter(|r| r.stage == Step::Entries)
        .filter_map(|r| match &r.event {
            Event::Done {
                op: JournalOp::Create { entry },
            } => Some((
                entry.principal_arn.to_lowercase(),
                entry.principal_id.clone()?,
            )),
            _ => None,
        })
        .collect()
}
