//! Reconciling desired access entries with the ones a cluster already has
//! (docs/pitfalls.md#entries-eks-creates, docs/pitfalls.md#re-running-must-converge). Pure: the
//! executor turns each [`Operation`] into API calls.
//!
//! EKS creates entries itself at the first mode switch (node groups, Fargate, the cluster
//! creator), and an entry may exist from an earlier, interrupted run. So every desired entry is
//! compared with what exists: missing ones are created, existing ones adopted and updated only
//! where they differ, and nothing the plan does not name is touched.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::{AccessEntry, AccessScope, EntryType, PolicyAssociation};

/// Tag keys on entries the tool creates: they mark what rollback may delete. Infrastructure as
/// code never carries them (see `iac`), so an entry owned by IaC is never the tool's to delete.
pub const TAG_CREATED_BY: &str = "aws-auth-migrate/created-by";
pub const TAG_RUN_ID: &str = "aws-auth-migrate/run-id";

/// An access entry as the cluster has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingEntry {
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: String,
    pub username: Option<String>,
    pub kubernetes_groups: Vec<String>,
    pub access_policies: Vec<PolicyAssociation>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub access_entry_arn: Option<String>,
}

/// One step towards the desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "op")]
pub enum Operation {
    /// Create the entry (policies follow as separate `Associate` operations).
    Create { entry: AccessEntryRequest },
    /// Replace username and groups of an existing STANDARD entry; `previous` is what it had.
    Update {
        principal_arn: String,
        username: Option<String>,
        kubernetes_groups: Vec<String>,
        previous_username: Option<String>,
        previous_groups: Vec<String>,
    },
    /// Associate a policy (an upsert: an existing association gets this scope).
    Associate {
        principal_arn: String,
        policy: PolicyAssociation,
        /// The scope it had before, when it was already associated.
        previous_scope: Option<AccessScope>,
    },
    /// The entry already exists exactly as desired (EKS or an earlier run created it).
    Adopt { principal_arn: String },
    /// The existing entry cannot be made to match without deleting it, which the tool never
    /// does to an entry it did not create.
    Conflict {
        principal_arn: String,
        reason: String,
    },
}

/// A CreateAccessEntry request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntryRequest {
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    pub username: Option<String>,
    pub kubernetes_groups: Vec<String>,
    /// The principal's IAM unique id at creation, for the journal (EKS takes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}

impl Operation {
    pub fn principal_arn(&self) -> &str {
        match self {
            Operation::Create { entry } => &entry.principal_arn,
            Operation::Update { principal_arn, .. }
            | Operation::Associate { principal_arn, .. }
            | Operation::Adopt { principal_arn }
            | Operation::Conflict { principal_arn, .. } => principal_arn,
        }
    }

    /// Whether the operation changes the cluster.
    pub fn is_mutation(&self) -> bool {
        matches!(
            self,
            Operation::Create { .. } | Operation::Update { .. } | Operation::Associate { .. }
        )
    }
}

/// The operations that bring `existing` to `desired`, grouped per principal in desired order:
/// create/update first, then its policies, so a principal is never left half-migrated longer
/// than necessary (docs/pitfalls.md#an-entry-replaces-the-mapping-at-once).
pub fn reconcile(desired: &[AccessEntry], existing: &[ExistingEntry]) -> Vec<Operation> {
    // Principal ARNs compare case-insensitively; EKS's own spelling is what gets sent back.
    let by_arn: HashMap<String, &ExistingEntry> = existing
        .iter()
        .map(|e| (e.principal_arn.to_lowercase(), e))
        .collect();
    let mut ops = Vec::new();
    for want in desired {
        match by_arn.get(&want.principal_arn.to_lowercase()) {
            None => {
                ops.push(Operation::Create {
                    entry: AccessEntryRequest {
                        principal_arn: want.principal_arn.clone(),
                        entry_type: want.entry_type,
                        username: want.username.clone(),
                        kubernetes_groups: want.kubernetes_groups.clone(),
                        principal_id: want.principal_id.clone(),
                    },
                });
                for policy in &want.access_policies {
                    ops.push(Operation::Associate {
                        principal_arn: want.principal_arn.clone(),
                        policy: policy.clone(),
                        previous_scope: None,
                    });
                }
            }
            Some(have) => reconcile_existing(want, have, &mut ops),
        }
    }
    ops
}

fn reconcile_existing(want: &AccessEntry, have: &ExistingEntry, ops: &mut Vec<Operation>) {
    let arn = have.principal_arn.clone();
    if have.entry_type != want.entry_type.as_str() {
        ops.push(Operation::Conflict {
            principal_arn: arn,
            reason: format!(
                "the entry exists with type {} but the plan needs {}; the type cannot be changed, and the tool does not delete entries it did not create (delete and recreate it by hand, then run again)",
                have.entry_type, want.entry_type
            ),
        });
        return;
    }
    if want.entry_type.is_node() {
        ops.push(Operation::Adopt { principal_arn: arn });
        return;
    }
    let mut changed = false;
    let username_differs = want
        .username
        .as_ref()
        .is_some_and(|u| have.username.as_ref() != Some(u));
    let groups_differ = {
        let mut a = want.kubernetes_groups.clone();
        let mut b = have.kubernetes_groups.clone();
        a.sort();
        b.sort();
        a != b
    };
    if username_differs || groups_differ {
        changed = true;
        ops.push(Operation::Update {
            principal_arn: arn.clone(),
            // Groups are declarative: the full list (docs/pitfalls.md#group-updates-replace).
            username: want.username.clone(),
            kubernetes_groups: want.kubernetes_groups.clone(),
            previous_username: have.username.clone(),
            previous_groups: have.kubernetes_groups.clone(),
        });
    }
    for policy in &want.access_policies {
        let current = have
            .access_policies
            .iter()
            .find(|p| p.policy_arn == policy.policy_arn);
        match current {
            Some(c) if scope_covers(&c.access_scope, &policy.access_scope) => {}
            other => {
                changed = true;
                ops.push(Operation::Associate {
                    principal_arn: arn.clone(),
                    policy: policy.clone(),
                    previous_scope: other.map(|c| c.access_scope.clone()),
                });
            }
        }
    }
    if !changed {
        ops.push(Operation::Adopt { principal_arn: arn });
    }
}

/// Whether an existing scope already grants everything the wanted scope grants.
fn scope_covers(have: &AccessScope, want: &AccessScope) -> bool {
    match (have, want) {
        (AccessScope::Cluster, _) => true,
        (AccessScope::Namespace { .. }, AccessScope::Cluster) => false,
        (AccessScope::Namespace { namespaces: h }, AccessScope::Namespace { namespaces: w }) => {
            w.iter().all(|n| h.contains(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin_policy() -> PolicyAssociation {
        PolicyAssociation {
            policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy".into(),
            access_scope: AccessScope::Cluster,
        }
    }

    fn want(
        arn: &str,
        ty: EntryType,
        user: Option<&str>,
        groups: &[&str],
        policies: Vec<PolicyAssociation>,
    ) -> AccessEntry {
        AccessEntry {
            principal_arn: arn.into(),
            entry_type: ty,
            username: user.map(Into::into),
            kubernetes_groups: groups.iter().map(|g| g.to_string()).collect(),
            access_policies: policies,
            principal_id: None,
        }
    }

    fn have(
        arn: &str,
        ty: &str,
        user: Option<&str>,
        groups: &[&str],
        policies: Vec<PolicyAssociation>,
    ) -> ExistingEntry {
        ExistingEntry {
            principal_arn: arn.into(),
            entry_type: ty.into(),
            username: user.map(Into::into),
            kubernetes_groups: groups.iter().map(|g| g.to_string()).collect(),
            access_policies: policies,
            tags: Default::default(),
            access_entry_arn: None,
        }
    }

    #[test]
    fn missing_entries_are_created_then_associated() {
        let ops = reconcile(
            &[want(
                "arn:aws:iam::1:role/a",
                EntryType::Standard,
                Some("a"),
                &["g"],
                vec![admin_policy()],
            )],
            &[],
        );
        assert!(matches!(&ops[0], Operation::Create { entry } if entry.kubernetes_groups == ["g"]));
        assert!(matches!(
            &ops[1],
            Operation::Associate {
                previous_scope: None,
                ..
            }
        ));
        assert_eq!(ops.len(), 2);
    }

    #[test]
    fn eks_created_entries_are_adopted_case_insensitively() {
        let ops = reconcile(
            &[
                want(
                    "arn:aws:iam::1:role/Nodes",
                    EntryType::Ec2Linux,
                    None,
                    &[],
                    vec![],
                ),
                want(
                    "arn:aws:iam::1:role/creator",
                    EntryType::Standard,
                    None,
                    &[],
                    vec![admin_policy()],
                ),
            ],
            &[
                have(
                    "arn:aws:iam::1:role/nodes",
                    "EC2_LINUX",
                    Some("system:node:{{EC2PrivateDNSName}}"),
                    &["system:nodes"],
                    vec![],
                ),
                have(
                    "arn:aws:iam::1:role/creator",
                    "STANDARD",
                    Some("arn:aws:sts::1:assumed-role/creator/{{SessionName}}"),
                    &[],
                    vec![admin_policy()],
                ),
            ],
        );
        assert_eq!(
            ops,
            [
                Operation::Adopt {
                    principal_arn: "arn:aws:iam::1:role/nodes".into()
                },
                Operation::Adopt {
                    principal_arn: "arn:aws:iam::1:role/creator".into()
                },
            ]
        );
    }

    #[test]
    fn differing_standard_entries_are_updated_with_the_full_group_list() {
        let ops = reconcile(
            &[want(
                "arn:aws:iam::1:role/a",
                EntryType::Standard,
                Some("a"),
                &["g1", "g2"],
                vec![],
            )],
            &[have(
                "arn:aws:iam::1:role/a",
                "STANDARD",
                Some("old"),
                &["g1"],
                vec![],
            )],
        );
        assert_eq!(
            ops,
            [Operation::Update {
                principal_arn: "arn:aws:iam::1:role/a".into(),
                username: Some("a".into()),
                kubernetes_groups: vec!["g1".into(), "g2".into()],
                previous_username: Some("old".into()),
                previous_groups: vec!["g1".into()],
            }]
        );
    }

    #[test]
    fn narrower_scopes_are_widened_and_wider_ones_left() {
        let ns = |n: &[&str]| AccessScope::Namespace {
            namespaces: n.iter().map(|s| s.to_string()).collect(),
        };
        let view = |scope| PolicyAssociation {
            policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy".into(),
            access_scope: scope,
        };
        let ops = reconcile(
            &[want(
                "arn:aws:iam::1:role/a",
                EntryType::Standard,
                Some("a"),
                &[],
                vec![view(ns(&["a", "b"]))],
            )],
            &[have(
                "arn:aws:iam::1:role/a",
                "STANDARD",
                Some("a"),
                &[],
                vec![view(ns(&["a"]))],
            )],
        );
        assert!(matches!(
            &ops[..],
            [Operation::Associate {
                previous_scope: Some(_),
                ..
            }]
        ));
        let ops = reconcile(
            &[want(
                "arn:aws:iam::1:role/a",
                EntryType::Standard,
                Some("a"),
                &[],
                vec![view(ns(&["a"]))],
            )],
            &[have(
                "arn:aws:iam::1:role/a",
                "STANDARD",
                Some("a"),
                &[],
                vec![view(AccessScope::Cluster)],
            )],
        );
        assert!(matches!(&ops[..], [Operation::Adopt { .. }]));
    }

    #[test]
    fn type_mismatches_are_conflicts() {
        let ops = reconcile(
            &[want(
                "arn:aws:iam::1:role/win",
                EntryType::Ec2Windows,
                None,
                &[],
                vec![],
            )],
            &[have(
                "arn:aws:iam::1:role/win",
                "EC2_LINUX",
                None,
                &[],
                vec![],
            )],
        );
        assert!(matches!(&ops[..], [Operation::Conflict { .. }]));
    }
}
