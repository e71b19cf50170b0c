//! EKS access policies as an allow-only authorizer
//! (docs/access-entries.md#what-the-user-facing-policies-allow,
//! docs/access-entries.md#authorization).
//!
//! The EKS authorizer never denies: it allows or passes. The rules below are the documented rules
//! of the user-facing policies, nothing more (no CRDs, no `pods/eviction`, no
//! `serviceaccounts/token`), so a test sees exactly what a policy does not carry over from the
//! upstream ClusterRoles (docs/access-entries.md#policies-are-not-clusterroles). Service policies
//! (Auto Mode, hybrid, …) have no rules here: the simulator never grants through them.

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::rbac::{Action, rule, rule_allows, url_rule};

const RO: &[&str] = &["get", "list", "watch"];
const W: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

/// Where an association applies (`AccessScope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    /// Namespace names; `*` is a wildcard (`dev-*`).
    Namespaces(Vec<String>),
}

/// One associated access policy of an access entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// `arn:<partition>:eks::aws:cluster-access-policy/NAME`.
    pub policy_arn: String,
    pub scope: Scope,
}

/// The policy name at the end of a policy ARN.
pub fn policy_name(policy_arn: &str) -> &str {
    policy_arn.rsplit('/').next().unwrap_or(policy_arn)
}

/// The rules of a user-facing access policy, or `None` for a policy the simulator does not model.
pub fn policy_rules(name: &str) -> Option<Vec<PolicyRule>> {
    Some(match name {
        "AmazonEKSClusterAdminPolicy" => {
            vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])]
        }
        "AmazonEKSAdminViewPolicy" => vec![rule(RO, &["*"], &["*"])],
        "AmazonEKSSecretReaderPolicy" => vec![rule(RO, &[""], &["secrets"])],
        "AmazonEKSViewPolicy" => view_rules(),
        "AmazonEKSEditPolicy" => edit_rules(),
        "AmazonEKSAdminPolicy" => {
            let mut rules = edit_rules();
            rules.push(rule(
                &["create"],
                &["authorization.k8s.io"],
                &["localsubjectaccessreviews"],
            ));
            rules.push(rule(
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
                &["rbac.authorization.k8s.io"],
                &["rolebindings", "roles"],
            ));
            rules
        }
        _ => return None,
    })
}

fn view_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            RO,
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
        ),
        rule(
            RO,
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            RO,
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        ),
        rule(RO, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            RO,
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
        ),
        rule(
            RO,
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
        ),
        rule(
            RO,
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            RO,
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
        ),
        rule(
            RO,
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
        ),
        rule(RO, &[""], &["namespaces"]),
    ]
}

fn edit_rules() -> Vec<PolicyRule> {
    let mut rules = view_rules();
    rules.extend([
        rule(
            W,
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
        ),
        rule(W, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(W, &["batch"], &["cronjobs", "jobs"]),
        rule(
            W,
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
        ),
        rule(W, &["networking.k8s.io"], &["ingresses", "networkpolicies"]),
        rule(W, &["policy"], &["poddisruptionbudgets"]),
        rule(
            RO,
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(
            W,
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
        ),
        rule(
            W,
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
        ),
    ]);
    rules
}

/// Does a namespace pattern (`*` as wildcard) match a namespace?
pub fn namespace_matches(pattern: &str, namespace: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
            Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
        }
    }
    glob(pattern.as_bytes(), namespace.as_bytes())
}

impl Association {
    /// Does this association allow the action? A namespace-scoped association only covers
    /// requests inside a matching namespace: never cluster-scoped resources, never requests
    /// across all namespaces, never non-resource URLs.
    pub fn allows(&self, action: &Action) -> bool {
        let in_scope = match (&self.scope, action) {
            (Scope::Cluster, _) => true,
            (Scope::Namespaces(patterns), Action::Resource(r)) => {
                !r.namespace.is_empty()
                    && patterns.iter().any(|p| namespace_matches(p, &r.namespace))
            }
            (Scope::Namespaces(_), Action::NonResource { .. }) => false,
        };
        in_scope
            && policy_rules(policy_name(&self.policy_arn))
                .is_some_and(|rules| rules.iter().any(|r| rule_allows(r, action)))
    }
}

/// The EKS authorizer: returns why the action is allowed by one of the associations, or `None`
/// (pass, never deny).
pub fn allows(associations: &[Association], action: &Action) -> Option<String> {
    associations.iter().find(|a| a.allows(action)).map(|a| {
        format!(
            "EKS Access Policy: allowed by {} ({})",
            policy_name(&a.policy_arn),
            match &a.scope {
                Scope::Cluster => "cluster scope".to_string(),
                Scope::Namespaces(ns) => format!("namespaces {}", ns.join(",")),
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::ResourceAction;

    fn assoc(name: &str, scope: Scope) -> Association {
        Association {
            policy_arn: format!("arn:aws:eks::aws:cluster-access-policy/{name}"),
            scope,
        }
    }

    fn res(verb: &str, group: &str, resource: &str, ns: &str) -> Action {
        Action::Resource(ResourceAction::new(verb, group, resource).in_namespace(ns))
    }

    fn allowed(a: &Association, verb: &str, group: &str, resource: &str, ns: &str) -> bool {
        allows(std::slice::from_ref(a), &res(verb, group, resource, ns)).is_some()
    }

    #[test]
    fn cluster_admin_allows_everything_including_urls() {
        let a = assoc("AmazonEKSClusterAdminPolicy", Scope::Cluster);
        assert!(allowed(&a, "delete", "", "nodes", ""));
        assert!(allowed(
            &a,
            "escalate",
            "rbac.authorization.k8s.io",
            "clusterroles",
            ""
        ));
        assert!(a.allows(&Action::NonResource {
            verb: "get".into(),
            path: "/metrics".into()
        }));
    }

    #[test]
    fn view_reads_listed_resources_only() {
        let a = assoc("AmazonEKSViewPolicy", Scope::Cluster);
        assert!(allowed(&a, "get", "", "pods", "default"));
        assert!(allowed(&a, "list", "", "pods", ""));
        assert!(allowed(&a, "get", "", "pods/log", "default"));
        assert!(allowed(&a, "list", "", "namespaces", ""));
        assert!(allowed(&a, "watch", "apps", "deployments/scale", "x"));
        assert!(!allowed(&a, "get", "", "secrets", "default"));
        assert!(!allowed(&a, "create", "", "pods", "default"));
        assert!(!allowed(&a, "list", "", "nodes", ""));
        assert!(!allowed(
            &a,
            "list",
            "rbac.authorization.k8s.io",
            "roles",
            "default"
        ));
        assert!(!allowed(&a, "get", "example.com", "widgets", "default"));
        assert!(!a.allows(&Action::NonResource {
            verb: "get".into(),
            path: "/version".into()
        }));
    }

    #[test]
    fn edit_adds_writes_secrets_and_impersonation_but_not_rbac_or_eviction() {
        let a = assoc("AmazonEKSEditPolicy", Scope::Cluster);
        assert!(allowed(&a, "create", "", "pods", "d"));
        assert!(allowed(&a, "get", "", "secrets", "d"));
        assert!(allowed(&a, "update", "", "configmaps", "kube-system"));
        assert!(allowed(&a, "impersonate", "", "serviceaccounts", "d"));
        assert!(allowed(&a, "patch", "apps", "deployments/scale", "d"));
        assert!(!allowed(&a, "create", "", "pods/eviction", "d"));
        assert!(!allowed(&a, "create", "", "serviceaccounts/token", "d"));
        assert!(!allowed(
            &a,
            "create",
            "rbac.authorization.k8s.io",
            "roles",
            "d"
        ));
        assert!(!allowed(&a, "update", "apps", "deployments/status", "d"));
    }

    #[test]
    fn admin_adds_namespace_rbac_and_local_reviews() {
        let a = assoc("AmazonEKSAdminPolicy", Scope::Cluster);
        assert!(allowed(
            &a,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            "d"
        ));
        assert!(allowed(
            &a,
            "create",
            "authorization.k8s.io",
            "localsubjectaccessreviews",
            "d"
        ));
        assert!(!allowed(
            &a,
            "list",
            "rbac.authorization.k8s.io",
            "clusterroles",
            ""
        ));
        assert!(!allowed(
            &a,
            "create",
            "authorization.k8s.io",
            "subjectaccessreviews",
            ""
        ));
    }

    #[test]
    fn admin_view_reads_everything_and_secret_reader_only_secrets() {
        let a = assoc("AmazonEKSAdminViewPolicy", Scope::Cluster);
        assert!(allowed(&a, "get", "", "secrets", "d"));
        assert!(allowed(&a, "list", "", "nodes", ""));
        assert!(allowed(
            &a,
            "list",
            "rbac.authorization.k8s.io",
            "clusterroles",
            ""
        ));
        assert!(!allowed(&a, "delete", "", "pods", "d"));
        let s = assoc("AmazonEKSSecretReaderPolicy", Scope::Cluster);
        assert!(allowed(&s, "watch", "", "secrets", "d"));
        assert!(!allowed(&s, "get", "", "configmaps", "d"));
    }

    #[test]
    fn namespace_scope_with_wildcards() {
        let a = assoc(
            "AmazonEKSEditPolicy",
            Scope::Namespaces(vec!["dev-*".into(), "team".into()]),
        );
        assert!(allowed(&a, "create", "", "pods", "dev-a"));
        assert!(allowed(&a, "create", "", "pods", "team"));
        assert!(!allowed(&a, "create", "", "pods", "prod"));
        assert!(!allowed(&a, "create", "", "pods", "team-x"));
        assert!(!allowed(&a, "list", "", "pods", ""));
        assert!(!allowed(&a, "list", "", "namespaces", ""));
        // A named namespace request carries the namespace itself.
        assert!(allowed(&a, "get", "", "namespaces", "dev-1"));
        let admin = assoc(
            "AmazonEKSClusterAdminPolicy",
            Scope::Namespaces(vec!["x".into()]),
        );
        assert!(!allowed(&admin, "list", "", "nodes", ""));
    }

    #[test]
    fn unmodelled_policies_grant_nothing() {
        let a = assoc("AmazonEKSAutoNodePolicy", Scope::Cluster);
        assert!(!allowed(&a, "get", "", "pods", "d"));
        assert!(policy_rules("AmazonEKSHybridPolicy").is_none());
    }

    #[test]
    fn namespace_glob() {
        assert!(namespace_matches("*", "anything"));
        assert!(namespace_matches("dev-*", "dev-"));
        assert!(namespace_matches("*-prod", "a-prod"));
        assert!(!namespace_matches("dev-*", "dev"));
    }
}
