//! Rollback while the cluster is in `API_AND_CONFIG_MAP`: `aws-auth` governs access again.
//!
//! Two halves. The pure one folds the journal into the changes still in effect
//! ([`changes_to_undo`]) and turns them, with the entries the cluster has now, into a list of
//! undo operations ([`plan_rollback`]): delete the entries the tool created (only where the
//! journal and the entry's tag agree), restore username, groups and policy scopes of the entries
//! it adopted and changed, disassociate the policies it added to them. The executor
//! ([`Run::rollback`]) journals and sends that list, and says what remains.

use std::collections::{BTreeMap, BTreeSet};

use super::backup::data_diff;
use super::state::{Event, JournalOp, Record, Step};
use super::{Refusal, Run, StageError, TAG_CREATED_BY, confirm_interactively};
use crate::live::configmap_json;
use crate::live::eks::AuthenticationMode;
use crate::model::{AccessScope, PolicyAssociation};
use crate::plan::reconcile::ExistingEntry;

/// What the journal says the tool changed and has not undone.
#[derive(Debug, Default, PartialEq)]
pub struct Undo {
    /// Principals whose entries the tool created (or may have: an intent without a result).
    pub created: BTreeSet<String>,
    /// Entries the tool adopted and changed, with what they had before its first change.
    pub adopted: BTreeMap<String, Original>,
}

/// What an adopted entry had before the tool's first change to it.
#[derive(Debug, Default, PartialEq)]
pub struct Original {
    /// Username and groups, when the tool updated them.
    pub identity: Option<(Option<String>, Vec<String>)>,
    /// Policy ARN → scope it had before (`None`: it was not associated).
    pub policies: BTreeMap<String, Option<AccessScope>>,
}

impl Original {
    fn is_empty(&self) -> bool {
        self.identity.is_none() && self.policies.is_empty()
    }
}

/// Folds the journal into the changes still in effect. An intent without a result counts as
/// done (the call may have got through); a rollback operation undoes only once it is done.
pub fn changes_to_undo(records: &[Record]) -> Undo {
    let mut undo = Undo::default();
    for r in records {
        let (op, done) = match &r.event {
            Event::Intent { op, .. } => (op, false),
            Event::Done { op } => (op, true),
            _ => continue,
        };
        let Some(arn) = op.principal_arn().map(str::to_lowercase) else {
            continue;
        };
        match (r.stage, op) {
            (Step::Entries, JournalOp::Create { .. }) => {
                undo.created.insert(arn);
            }
            // A create that found someone else's entry: it is adopted, not the tool's.
            (Step::Entries, JournalOp::Adopt { .. }) => {
                undo.created.remove(&arn);
            }
            (
                Step::Entries,
                JournalOp::Update {
                    previous_username,
                    previous_groups,
                    ..
                },
            ) if !undo.created.contains(&arn) => {
                undo.adopted
                    .entry(arn)
                    .or_default()
                    .identity
                    .get_or_insert_with(|| (previous_username.clone(), previous_groups.clone()));
            }
            (
                Step::Entries,
                JournalOp::Associate {
                    policy,
                    previous_scope,
                    ..
                },
            ) if !undo.created.contains(&arn) => {
                undo.adopted
                    .entry(arn)
                    .or_default()
                    .policies
                    .entry(policy.policy_arn.clone())
                    .or_insert_with(|| previous_scope.clone());
            }
            (Step::Rollback, JournalOp::Delete { .. }) if done => {
                undo.created.remove(&arn);
            }
            (Step::Rollback, restored) if done => {
                if let Some(original) = undo.adopted.get_mut(&arn) {
                    match restored {
                        JournalOp::Update { .. } => original.identity = None,
                        JournalOp::Associate { policy, .. } => {
                            original.policies.remove(&policy.policy_arn);
                        }
                        JournalOp::Disassociate { policy_arn, .. } => {
                            original.policies.remove(policy_arn);
                        }
                        _ => {}
                    }
                    if original.is_empty() {
                        undo.adopted.remove(&arn);
                    }
                }
            }
            _ => {}
        }
    }
    undo
}

/// The undo operations, in the order they are sent, and what rollback leaves alone and why.
#[derive(Debug, Default, PartialEq)]
pub struct RollbackPlan {
    pub ops: Vec<JournalOp>,
    pub notes: Vec<String>,
}

impl RollbackPlan {
    pub fn deletes(&self) -> impl Iterator<Item = &str> {
        self.ops.iter().filter_map(|op| match op {
            JournalOp::Delete { principal_arn } => Some(principal_arn.as_str()),
            _ => None,
        })
    }
}

/// Turns the changes still in effect into undo operations against the entries the cluster has
/// now (keyed by lower-cased principal ARN). Pure: the executor sends what this returns.
pub fn plan_rollback(undo: &Undo, existing: &BTreeMap<String, ExistingEntry>) -> RollbackPlan {
    let mut plan = RollbackPlan::default();
    for arn in &undo.created {
        match existing.get(arn) {
            Some(e)
                if e.tags.get(TAG_CREATED_BY).map(String::as_str) == Some("aws-auth-migrate") =>
            {
                plan.ops.push(JournalOp::Delete {
                    principal_arn: e.principal_arn.clone(),
                });
            }
            Some(e) => plan.notes.push(format!(
                "{}: not deleted, it does not carry the tool's tag (someone recreated it?)",
                e.principal_arn
            )),
            None => {}
        }
    }
    let mut restores = Vec::new();
    for (arn, original) in &undo.adopted {
        let Some(have) = existing.get(arn) else {
            plan.notes.push(format!(
                "{arn}: the entry the tool changed no longer exists; nothing to restore"
            ));
            continue;
        };
        if let Some((username, groups)) = &original.identity
            && (have.username.as_ref() != username.as_ref() || &have.kubernetes_groups != groups)
        {
            restores.push(JournalOp::Update {
                principal_arn: have.principal_arn.clone(),
                username: username.clone(),
                kubernetes_groups: groups.clone(),
                previous_username: have.username.clone(),
                previous_groups: have.kubernetes_groups.clone(),
            });
        }
        for (policy_arn, scope) in &original.policies {
            restores.push(match scope {
                Some(scope) => JournalOp::Associate {
                    principal_arn: have.principal_arn.clone(),
                    policy: PolicyAssociation {
                        policy_arn: policy_arn.clone(),
                        access_scope: scope.clone(),
                    },
                    previous_scope: None,
                },
                None => JournalOp::Disassociate {
                    principal_arn: have.principal_arn.clone(),
                    policy_arn: policy_arn.clone(),
                },
            });
        }
    }
    plan.ops.extend(restores);
    plan
}

impl Run<'_> {
    /// Undoes what the tool did, while the cluster is in API_AND_CONFIG_MAP.
    pub async fn rollback(&mut self, yes: bool) -> Result<(), StageError> {
        let cluster = self.cluster.name.clone();
        self.cluster.info = self.cluster.eks.describe_cluster(&cluster).await?;
        match self.cluster.info.authentication_mode {
            Some(AuthenticationMode::Api) => {
                return Err(Refusal::ApiMode.into());
            }
            Some(AuthenticationMode::ConfigMap) => {
                self.say("rollback the cluster is in CONFIG_MAP: no access entries exist, aws-auth governs access; nothing to undo");
                return Ok(());
            }
            _ => {}
        }
        let undo = changes_to_undo(&self.state.records()?);
        let existing: BTreeMap<String, ExistingEntry> = self
            .cluster
            .eks
            .list_entries(&cluster)
            .await?
            .into_iter()
            .map(|e| (e.principal_arn.to_lowercase(), e))
            .collect();
        let plan = plan_rollback(&undo, &existing);
        let deletes = plan.deletes().count();
        self.say(&format!(
            "rollback cluster {cluster}: {deletes} entries the tool created to delete, {} changed entries to restore",
            plan.ops.len() - deletes
        ));
        if !plan.ops.is_empty() && !yes && !confirm_interactively("Proceed?")? {
            return Err(Refusal::NotConfirmed.into());
        }
        self.journal(
            Step::Rollback,
            Event::RunStarted {
                command: "rollback".into(),
            },
        )?;
        for op in &plan.ops {
            let token = self.token_for(Step::Rollback, op)?;
            let call = self.send_undo(op, token.as_deref().unwrap_or_default());
            self.journaled(Step::Rollback, op, token.clone(), 0, call)
                .await?;
        }
        self.journal(
            Step::Rollback,
            Event::RunFinished {
                outcome: "ok".into(),
            },
        )?;
        self.report_aws_auth_changes().await?;
        for n in &plan.notes {
            self.say(&format!("rollback {n}"));
        }
        let deleted: Vec<&str> = plan.deletes().collect();
        let remaining = existing
            .values()
            .filter(|e| {
                !deleted
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&e.principal_arn))
            })
            .count();
        self.say(&format!(
            "rollback done: aws-auth governs every principal without an access entry again. What remains: the mode stays API_AND_CONFIG_MAP (EKS never goes back to CONFIG_MAP), and {remaining} entries the tool did not create (EKS's node, Fargate and creator entries among them)"
        ));
        Ok(())
    }

    /// Sends one undo operation.
    async fn send_undo(&self, op: &JournalOp, token: &str) -> Result<(), StageError> {
        let eks = &self.cluster.eks;
        let cluster = &self.cluster.name;
        match op {
            JournalOp::Delete { principal_arn } => eks.delete_entry(cluster, principal_arn).await?,
            JournalOp::Update {
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
                .await?
            }
            JournalOp::Associate {
                principal_arn,
                policy,
                ..
            } => eks.associate(cluster, principal_arn, policy).await?,
            JournalOp::Disassociate {
                principal_arn,
                policy_arn,
            } => eks.disassociate(cluster, principal_arn, policy_arn).await?,
            JournalOp::SwitchMode { .. } | JournalOp::Create { .. } | JournalOp::Adopt { .. } => {
                // plan_rollback makes none of these.
                return Err(StageError::Conflict {
                    principal_arn: op.principal_arn().unwrap_or_default().to_string(),
                    reason: format!("rollback does not send `{op}`"),
                });
            }
        }
        Ok(())
    }

    /// The tool never edits aws-auth; says whether it still matches the first backup.
    async fn report_aws_auth_changes(&mut self) -> Result<(), StageError> {
        let current = self.cluster.kube.aws_auth().await?;
        let Some(first) = self.state.backups()?.into_iter().next() else {
            return Ok(());
        };
        let backed_up = std::fs::read_to_string(first.join("aws-auth.json")).ok();
        let now_text = current.as_ref().map(configmap_json);
        if backed_up != now_text {
            self.say(&format!(
                "rollback aws-auth differs from the backup in {}: someone changed it since; the tool left it as it is:",
                first.display()
            ));
            let diff = data_diff(
                backed_up.as_deref().unwrap_or_default(),
                now_text.as_deref().unwrap_or_default(),
            );
            for line in diff.lines() {
                self.say(&format!("         {line}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryType;
    use crate::plan::reconcile::AccessEntryRequest;

    fn rec(stage: Step, event: Event) -> Record {
        Record {
            time: String::new(),
            run_id: "r".into(),
            stage,
            event,
        }
    }

    fn intent(op: &JournalOp) -> Event {
        Event::Intent {
            op: op.clone(),
            token: None,
        }
    }

    fn done(op: &JournalOp) -> Event {
        Event::Done { op: op.clone() }
    }

    fn create(arn: &str) -> JournalOp {
        JournalOp::Create {
            entry: AccessEntryRequest {
                principal_arn: arn.into(),
                entry_type: EntryType::Standard,
                username: None,
                kubernetes_groups: Vec::new(),
                principal_id: None,
            },
        }
    }

    const VIEW: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";

    fn records() -> Vec<Record> {
        let race_update = JournalOp::Update {
            principal_arn: "arn:aws:iam::1:role/Race".into(),
            username: Some("new".into()),
            kubernetes_groups: vec!["g".into()],
            previous_username: Some("old".into()),
            previous_groups: vec!["a".into()],
        };
        let creator_view = JournalOp::Associate {
            principal_arn: "arn:aws:iam::1:role/Creator".into(),
            policy: PolicyAssociation {
                policy_arn: VIEW.into(),
                access_scope: AccessScope::Cluster,
            },
            previous_scope: None,
        };
        vec![
            rec(Step::Entries, intent(&create("arn:aws:iam::1:role/New"))),
            rec(Step::Entries, done(&create("arn:aws:iam::1:role/New"))),
            rec(Step::Entries, intent(&create("arn:aws:iam::1:role/Race"))),
            rec(
                Step::Entries,
                done(&JournalOp::Adopt {
                    principal_arn: "arn:aws:iam::1:role/Race".into(),
                }),
            ),
            rec(Step::Entries, intent(&race_update)),
            rec(Step::Entries, done(&race_update)),
            // An intent without a result: the call may have got through.
            rec(Step::Entries, intent(&creator_view)),
        ]
    }

    #[test]
    fn the_journal_folds_into_what_rollback_undoes() {
        let undo = changes_to_undo(&records());
        assert_eq!(
            undo.created,
            BTreeSet::from(["arn:aws:iam::1:role/new".to_string()])
        );
        let race = &undo.adopted["arn:aws:iam::1:role/race"];
        assert_eq!(race.identity, Some((Some("old".into()), vec!["a".into()])));
        let creator = &undo.adopted["arn:aws:iam::1:role/creator"];
        assert_eq!(creator.policies.values().next(), Some(&None));
    }

    fn entry(arn: &str, ours: bool, username: &str) -> (String, ExistingEntry) {
        (
            arn.to_lowercase(),
            ExistingEntry {
                principal_arn: arn.into(),
                entry_type: "STANDARD".into(),
                username: Some(username.into()),
                kubernetes_groups: vec!["g".into()],
                access_policies: Vec::new(),
                tags: if ours {
                    BTreeMap::from([(TAG_CREATED_BY.to_string(), "aws-auth-migrate".to_string())])
                } else {
                    BTreeMap::new()
                },
                access_entry_arn: None,
            },
        )
    }

    #[test]
    fn the_undo_plan_deletes_only_tagged_entries_and_restores_adopted_ones() {
        let existing = BTreeMap::from([
            entry("arn:aws:iam::1:role/New", true, "x"),
            entry("arn:aws:iam::1:role/Race", false, "new"),
            entry("arn:aws:iam::1:role/Creator", false, "creator"),
        ]);
        let plan = plan_rollback(&changes_to_undo(&records()), &existing);
        assert_eq!(
            plan.ops,
            vec![
                JournalOp::Delete {
                    principal_arn: "arn:aws:iam::1:role/New".into()
                },
                JournalOp::Disassociate {
                    principal_arn: "arn:aws:iam::1:role/Creator".into(),
                    policy_arn: VIEW.into()
                },
                JournalOp::Update {
                    principal_arn: "arn:aws:iam::1:role/Race".into(),
                    username: Some("old".into()),
                    kubernetes_groups: vec!["a".into()],
                    previous_username: Some("new".into()),
                    previous_groups: vec!["g".into()],
                },
            ]
        );
        // An entry the journal says the tool created, recreated by someone without the tag.
        let recreated = BTreeMap::from([entry("arn:aws:iam::1:role/New", false, "x")]);
        let plan = plan_rollback(&changes_to_undo(&records()[..2]), &recreated);
        assert!(plan.ops.is_empty());
        assert!(
            plan.notes[0].contains("does not carry the tool's tag"),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn a_rollback_cut_short_keeps_what_it_has_not_restored_yet() {
        let existing = BTreeMap::from([
            entry("arn:aws:iam::1:role/New", true, "x"),
            entry("arn:aws:iam::1:role/Race", false, "new"),
            entry("arn:aws:iam::1:role/Creator", false, "creator"),
        ]);
        let mut journal = records();
        let first = plan_rollback(&changes_to_undo(&journal), &existing);
        // The delete and the disassociation went through, then the process stopped.
        for op in &first.ops[..2] {
            journal.push(rec(Step::Rollback, intent(op)));
            journal.push(rec(Step::Rollback, done(op)));
        }
        journal.push(rec(Step::Rollback, intent(&first.ops[2])));
        let undo = changes_to_undo(&journal);
        assert!(undo.created.is_empty());
        assert!(!undo.adopted.contains_key("arn:aws:iam::1:role/creator"));
        // The update was only intended: it is still to do.
        assert!(undo.adopted.contains_key("arn:aws:iam::1:role/race"));
        journal.push(rec(Step::Rollback, done(&first.ops[2])));
        assert_eq!(changes_to_undo(&journal), Undo::default());
    }
}
