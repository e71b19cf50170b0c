//! The `backup` stage: `aws-auth` as fetched, the access entries and the cluster's access state,
//! written to a new folder of the state directory before anything changes; and the diff
//! rollback shows when `aws-auth` changed since.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::state::{Event, Step, write_atomic};
use super::{Run, StageError};
use crate::live::{LivePlan, configmap_json};

impl Run<'_> {
    /// Writes aws-auth as fetched, the entries and the cluster's access state, once per run.
    pub fn backup(&mut self, plan: &LivePlan) -> Result<(), StageError> {
        let dir = self.state.backup_dir(&self.run_id)?;
        let snap = &plan.snapshot;
        if let Some(cm) = &snap.aws_auth {
            write_atomic(&dir.join("aws-auth.json"), configmap_json(cm).as_bytes())?;
        }
        let cluster = json!({
            "cluster": snap.cluster,
            "accessEntries": snap.entries,
            "nodeRoles": snap.node_roles,
            "awsAuthPresent": snap.aws_auth.is_some(),
        });
        let mut text = serde_json::to_string_pretty(&cluster).expect("JSON values serialize");
        text.push('\n');
        write_atomic(&dir.join("cluster.json"), text.as_bytes())?;
        self.journal(
            Step::Backup,
            Event::BackupWritten {
                path: dir.display().to_string(),
            },
        )?;
        self.say(&format!("backup   written to {}", dir.display()));
        Ok(())
    }
}

/// A line diff of the `data` of two ConfigMap JSON documents (backup, current), per key.
pub fn data_diff(before: &str, after: &str) -> String {
    let data = |text: &str| -> BTreeMap<String, String> {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("data").cloned())
            .and_then(|d| serde_json::from_value(d).ok())
            .unwrap_or_default()
    };
    let (a, b) = (data(before), data(after));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = String::new();
    for key in keys {
        let (x, y) = (
            a.get(key).map_or("", String::as_str),
            b.get(key).map_or("", String::as_str),
        );
        if x == y {
            continue;
        }
        out.push_str(&format!("--- backup {key}\n+++ current {key}\n"));
        for change in similar::TextDiff::from_lines(x, y).iter_all_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            out.push(sign);
            out.push_str(change.value().trim_end_matches('\n'));
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("(the data is the same; metadata such as labels or annotations changed)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_auth_changes_are_shown_as_a_diff() {
        let before = r#"{"data": {"mapRoles": "- rolearn: a\n  username: a\n", "mapUsers": "- userarn: u\n"}}"#;
        let after = r#"{"data": {"mapRoles": "- rolearn: a\n  username: b\n"}}"#;
        assert_eq!(
            data_diff(before, after),
            "--- backup mapRoles\n+++ current mapRoles\n - rolearn: a\n-  username: a\n+  username: b\n--- backup mapUsers\n+++ current mapUsers\n-- userarn: u\n"
        );
        assert!(data_diff(before, before).contains("the data is the same"));
    }
}
