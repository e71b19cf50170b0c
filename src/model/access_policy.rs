//! The user-facing EKS access policies as published rules
//! (docs/access-entries.md#what-the-user-facing-policies-allow), evaluated the way the EKS
//! authorizer does: allow-only, within the association's scope. Used to predict what an access
//! entry's policies allow, because a SubjectAccessReview about another user does not reliably
//! reflect them (docs/access-entries.md#authorization).

use crate::model::{AccessScope, PolicyAssociation};

/// A request to authorize, as a SubjectAccessReview describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub verb: String,
    /// API group (`""` for core) of a resource request.
    pub group: String,
    pub resource: String,
    pub subresource: String,
    /// `""` means cluster-wide (all namespaces, or a cluster-scoped resource).
    pub namespace: String,
    /// A non-resource URL (`/healthz`); when set, the resource fields are empty.
    pub path: String,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.path.is_empty() {
            return write!(f, "{} {}", self.verb, self.path);
        }
        let mut res = self.resource.clone();
        if !self.subresource.is_empty() {
            res = format!("{res}/{}", self.subresource);
        }
        if !self.group.is_empty() {
            res = format!("{res}.{}", self.group);
        }
        if self.namespace.is_empty() {
            write!(f, "{} {res} (cluster-wide)", self.verb)
        } else {
            write!(f, "{} {res} in {}", self.verb, self.namespace)
        }
    }
}

const RO: &[&str] = &["get", "list", "watch"];
const W: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

/// One rule: verbs on resources (with `/subresource`) of API groups.
struct Rule {
    groups: &'static [&'static str],
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
}

const fn r(
    groups: &'static [&'static str],
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
) -> Rule {
    Rule {
        groups,
        resources,
        verbs,
    }
}

const VIEW: &[Rule] = &[
    r(
        &["apps"],
        &[
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
        RO,
    ),
    r(
        &["autoscaling"],
        &[
            "horizontalpodautoscalers",
            "horizontalpodautoscalers/status",
        ],
        RO,
    ),
    r(
        &["batch"],
        &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        RO,
    ),
    r(&["discovery.k8s.io"], &["endpointslices"], RO),
    r(
        &["extensions"],
        &[
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
        ],
        RO,
    ),
    r(
        &["networking.k8s.io"],
        &["ingresses", "ingresses/status", "networkpolicies"],
        RO,
    ),
    r(
        &["policy"],
        &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        RO,
    ),
    r(
        &[""],
        &[
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ],
        RO,
    ),
    r(
        &[""],
        &[
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
        RO,
    ),
    r(&[""], &["namespaces"], RO),
];

const EDIT_EXTRA: &[Rule] = &[
    r(
        &["apps"],
        &[
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        W,
    ),
    r(&["autoscaling"], &["horizontalpodautoscalers"], W),
    r(&["batch"], &["cronjobs", "jobs"], W),
    r(
        &["extensions"],
        &[
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "ingresses",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
        ],
        W,
    ),
    r(&["networking.k8s.io"], &["ingresses", "networkpolicies"], W),
    r(&["policy"], &["poddisruptionbudgets"], W),
    r(
        &[""],
        &[
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "secrets",
            "services/proxy",
        ],
        RO,
    ),
    r(&[""], &["serviceaccounts"], &["impersonate"]),
    r(
        &[""],
        &[
            "pods",
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
        ],
        W,
    ),
    r(
        &[""],
        &[
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
        W,
    ),
];

const ADMIN_EXTRA: &[Rule] = &[
    r(
        &["authorization.k8s.io"],
        &["localsubjectaccessreviews"],
        &["create"],
    ),
    r(
        &["rbac.authorization.k8s.io"],
        &["rolebindings", "roles"],
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
    ),
];

const SECRET_READER: &[Rule] = &[r(&[""], &["secrets"], RO)];

/// Whether `policy` (by name) allows `probe` through an association of `scope`.
pub fn allows(policy: &PolicyAssociation, probe: &Probe) -> bool {
    let name = policy.policy_name();
    let in_scope = match &policy.access_scope {
        AccessScope::Cluster => true,
        // A namespace-scoped association grants like a RoleBinding: only inside the namespaces.
        AccessScope::Namespace { namespaces } => {
            probe.path.is_empty()
                && !probe.namespace.is_empty()
                && namespaces
                    .iter()
                    .any(|n| namespace_matches(n, &probe.namespace))
        }
    };
    if !in_scope {
        return false;
    }
    match name {
        "AmazonEKSClusterAdminPolicy" => true,
        "AmazonEKSAdminViewPolicy" => probe.path.is_empty() && RO.contains(&probe.verb.as_str()),
        "AmazonEKSViewPolicy" => rules_allow(VIEW, probe),
        "AmazonEKSEditPolicy" => rules_allow(VIEW, probe) || rules_allow(EDIT_EXTRA, probe),
        "AmazonEKSAdminPolicy" => {
            rules_allow(VIEW, probe)
                || rules_allow(EDIT_EXTRA, probe)
                || rules_allow(ADMIN_EXTRA, probe)
        }
        "AmazonEKSSecretReaderPolicy" => rules_allow(SECRET_READER, probe),
        // Other policies are for AWS services; a migration never associates them.
        _ => false,
    }
}

fn rules_allow(rules: &[Rule], probe: &Probe) -> bool {
    if !probe.path.is_empty() {
        return false;
    }
    let resource = if probe.subresource.is_empty() {
        probe.resource.clone()
    } else {
        format!("{}/{}", probe.resource, probe.subresource)
    };
    rules.iter().any(|rule| {
        rule.groups.contains(&probe.group.as_str())
            && rule.resources.contains(&resource.as_str())
            && rule.verbs.contains(&probe.verb.as_str())
    })
}

/// EKS namespace patterns allow a trailing `*` wildcard (`dev-*`).
pub fn namespace_matches(pattern: &str, namespace: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => namespace.starts_with(prefix),
        None => pattern == namespace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(verb: &str, group: &str, resource: &str, namespace: &str) -> Probe {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        Probe {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: namespace.into(),
            path: String::new(),
        }
    }

    fn policy(name: &str, scope: AccessScope) -> PolicyAssociation {
        PolicyAssociation {
            policy_arn: format!("arn:aws:eks::aws:cluster-access-policy/{name}"),
            access_scope: scope,
        }
    }

    #[test]
    fn view_edit_admin_follow_the_published_rules() {
        let view = policy("AmazonEKSViewPolicy", AccessScope::Cluster);
        assert!(allows(&view, &probe("get", "", "pods", "default")));
        assert!(allows(&view, &probe("list", "apps", "deployments", "")));
        assert!(
            !allows(&view, &probe("get", "", "secrets", "default")),
            "view has no secrets"
        );
        assert!(!allows(&view, &probe("create", "", "pods", "default")));
        let edit = policy("AmazonEKSEditPolicy", AccessScope::Cluster);
        assert!(allows(&edit, &probe("create", "", "pods/exec", "default")));
        assert!(allows(&edit, &probe("get", "", "secrets", "default")));
        assert!(
            !allows(&edit, &probe("create", "", "pods/eviction", "default")),
            "documented gap"
        );
        assert!(!allows(
            &edit,
            &probe("create", "rbac.authorization.k8s.io", "roles", "default")
        ));
        let admin = policy("AmazonEKSAdminPolicy", AccessScope::Cluster);
        assert!(allows(
            &admin,
            &probe(
                "create",
                "rbac.authorization.k8s.io",
                "rolebindings",
                "default"
            )
        ));
        assert!(!allows(
            &admin,
            &probe("create", "rbac.authorization.k8s.io", "clusterroles", "")
        ));
    }

    #[test]
    fn cluster_admin_and_admin_view() {
        let ca = policy("AmazonEKSClusterAdminPolicy", AccessScope::Cluster);
        let nonres = Probe {
            verb: "get".into(),
            path: "/metrics".into(),
            ..probe("", "", "", "")
        };
        assert!(allows(&ca, &nonres));
        assert!(allows(
            &ca,
            &probe("escalate", "rbac.authorization.k8s.io", "clusterroles", "")
        ));
        let av = policy("AmazonEKSAdminViewPolicy", AccessScope::Cluster);
        assert!(allows(&av, &probe("get", "", "secrets", "kube-system")));
        assert!(!allows(&av, &probe("delete", "", "pods", "default")));
    }

    #[test]
    fn namespace_scopes_and_wildcards() {
        let edit = policy(
            "AmazonEKSEditPolicy",
            AccessScope::Namespace {
                namespaces: vec!["dev-*".into(), "staging".into()],
            },
        );
        assert!(allows(&edit, &probe("create", "", "pods", "dev-team1")));
        assert!(allows(&edit, &probe("create", "", "pods", "staging")));
        assert!(!allows(&edit, &probe("create", "", "pods", "prod")));
        assert!(
            !allows(&edit, &probe("list", "", "pods", "")),
            "not cluster-wide"
        );
        assert!(!allows(&edit, &probe("list", "", "namespaces", "")));
    }
}
