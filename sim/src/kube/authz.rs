//! Authorization: the chain every request goes through (docs/access-entries.md#authorization), and
//! the access reviews.
//!
//! Order: `system:masters` short-circuits; then a minimal Node authorizer, RBAC, and the EKS
//! access-policy authorizer. None of them denies, so the order does not change outcomes; a request
//! no authorizer allows is forbidden.

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReviewStatus,
};

use crate::access_policy::{self, Association};
use crate::rbac::{Action, Rbac, ResourceAction, UserInfo};
use crate::world::ClusterState;

/// A decision with the reason the API server would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

impl Decision {
    fn allow(reason: impl Into<String>) -> Self {
        Self {
            allowed: true,
            reason: reason.into(),
        }
    }

    pub fn to_status(&self) -> SubjectAccessReviewStatus {
        SubjectAccessReviewStatus {
            allowed: self.allowed,
            denied: None,
            evaluation_error: None,
            reason: (!self.reason.is_empty()).then(|| self.reason.clone()),
        }
    }
}

/// The RBAC objects of a cluster, with the bootstrap policy.
pub fn rbac(state: &ClusterState) -> Rbac<'_> {
    Rbac::with_bootstrap(
        state.cluster_roles.values(),
        state.cluster_role_bindings.values(),
        state.roles.values(),
        state.role_bindings.values(),
    )
}

/// Decides with `system:masters`, the Node authorizer and RBAC, plus the given access-policy
/// associations (empty when the identity does not come from an access entry).
pub fn authorize(
    state: &ClusterState,
    user: &UserInfo,
    access_policies: &[Association],
    action: &Action,
) -> Decision {
    if user.in_group("system:masters") {
        return Decision::allow("system:masters");
    }
    if node_allows(user, action) {
        return Decision::allow("Node: allowed for system:nodes");
    }
    if let Some(reason) = rbac(state).allows(user, action) {
        return Decision::allow(reason);
    }
    if let Some(reason) = access_policy::allows(access_policies, action) {
        return Decision::allow(reason);
    }
    Decision {
        allowed: false,
        reason: String::new(),
    }
}

/// A deliberately small stand-in for the Node authorizer and the `eks:node-bootstrapper`-style
/// bindings: a node identity may read nodes and pods and update its own Node object. Enough for a
/// test to see a node role lose access after a bad migration; not a model of NodeRestriction.
fn node_allows(user: &UserInfo, action: &Action) -> bool {
    let Some(node_name) = user.name.strip_prefix("system:node:") else {
        return false;
    };
    if !user.in_group("system:nodes") {
        return false;
    }
    let Action::Resource(r) = action else {
        return false;
    };
    if !r.api_group.is_empty() {
        return false;
    }
    let read = matches!(r.verb.as_str(), "get" | "list" | "watch");
    match r.resource.as_str() {
        "nodes" if read => true,
        "pods" if read && r.subresource.is_empty() => true,
        "nodes" => matches!(r.verb.as_str(), "update" | "patch" | "create") && r.name == node_name,
        _ => false,
    }
}

/// The action a review's attributes describe; `None` when neither or both are set.
pub fn review_action(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
) -> Option<Action> {
    match (resource, non_resource) {
        (Some(r), None) => {
            let mut action = ResourceAction::new(
                r.verb.as_deref().unwrap_or_default(),
                r.group.as_deref().unwrap_or_default(),
                r.resource.as_deref().unwrap_or_default(),
            );
            action.subresource = r.subresource.clone().unwrap_or_default();
            action.name = r.name.clone().unwrap_or_default();
            action.namespace = r.namespace.clone().unwrap_or_default();
            Some(Action::Resource(action))
        }
        (None, Some(n)) => Some(Action::NonResource {
            verb: n.verb.clone().unwrap_or_default(),
            path: n.path.clone().unwrap_or_default(),
        }),
        _ => None,
    }
}

/// A SubjectAccessReview about any user is decided by `system:masters`, the Node authorizer and
/// RBAC only, for exactly the user and groups written in its spec. Access policies are not applied:
/// the EKS authorizer keys on the identity the authenticator attached (access entry, `extra.arn`,
/// principal id), which a SAR spec does not carry — the same reason impersonation ignores access
/// policies (docs/access-entries.md#authorization, from the EKS User Guide's access-policies page;
/// what the EKS webhook does with a SAR's `extra` is unverified).
pub fn subject_access_review(state: &ClusterState, user: &UserInfo, action: &Action) -> Decision {
    authorize(state, user, &[], action)
}

/// A SelfSubjectAccessReview asks about the real caller, so it runs through the full chain, access
/// policies included (docs/access-entries.md#authorization: `kubectl auth can-i` reflects access
/// policies while `--list` does not).
pub fn self_subject_access_review(
    state: &ClusterState,
    user: &UserInfo,
    access_policies: &[Association],
    action: &Action,
) -> Decision {
    authorize(state, user, access_policies, action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_identity_reads_nodes_and_updates_only_itself() {
        let node = UserInfo {
            name: "system:node:ip-1".into(),
            groups: vec!["system:nodes".into()],
        };
        let res = |verb: &str, resource: &str, name: &str| {
            Action::Resource(ResourceAction::new(verb, "", resource).named(name))
        };
        assert!(node_allows(&node, &res("list", "nodes", "")));
        assert!(node_allows(&node, &res("patch", "nodes", "ip-1")));
        assert!(!node_allows(&node, &res("patch", "nodes", "ip-2")));
        assert!(!node_allows(&node, &res("get", "secrets", "s")));
        let not_node = UserInfo {
            name: "system:node:ip-1".into(),
            groups: vec![],
        };
        assert!(!node_allows(&not_node, &res("list", "nodes", "")));
    }
}
