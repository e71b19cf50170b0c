//! RBAC as the parity check needs it: which bindings name a user or a group, and the concrete
//! requests (probes) their rules grant, with wildcards sampled from the resources the cluster
//! serves. Read from the live cluster, or offline from `kubectl get clusterroles,
//! clusterrolebindings,roles,rolebindings -A -o yaml`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use crate::model::access_policy::Probe;

/// The RBAC objects of one cluster.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    pub cluster_roles: BTreeMap<String, ClusterRole>,
    pub roles: BTreeMap<(String, String), Role>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
}

/// A binding that grants something to a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// `ClusterRoleBinding/NAME` or `RoleBinding/NS/NAME`.
    pub binding: String,
    /// `None` for a ClusterRoleBinding (cluster-wide).
    pub namespace: Option<String>,
    pub role: String,
    pub rules: Vec<PolicyRule>,
}

/// Resources the cluster serves, by API group: (resource, namespaced).
pub type Resources = BTreeMap<String, Vec<(String, bool)>>;

/// Well-known resources, used with what discovery reports so wildcards are always sampled.
pub fn well_known_resources() -> Resources {
    let mut r: Resources = BTreeMap::new();
    let mut add = |g: &str, items: &[(&str, bool)]| {
        r.entry(g.to_string())
            .or_default()
            .extend(items.iter().map(|(n, ns)| (n.to_string(), *ns)));
    };
    add(
        "",
        &[
            ("pods", true),
            ("secrets", true),
            ("configmaps", true),
            ("services", true),
            ("serviceaccounts", true),
            ("persistentvolumeclaims", true),
            ("events", true),
            ("nodes", false),
            ("namespaces", false),
            ("persistentvolumes", false),
        ],
    );
    add(
        "apps",
        &[
            ("deployments", true),
            ("daemonsets", true),
            ("statefulsets", true),
            ("replicasets", true),
        ],
    );
    add("batch", &[("jobs", true), ("cronjobs", true)]);
    add(
        "rbac.authorization.k8s.io",
        &[
            ("roles", true),
            ("rolebindings", true),
            ("clusterroles", false),
            ("clusterrolebindings", false),
        ],
    );
    add(
        "networking.k8s.io",
        &[("ingresses", true), ("networkpolicies", true)],
    );
    add("policy", &[("poddisruptionbudgets", true)]);
    add("autoscaling", &[("horizontalpodautoscalers", true)]);
    r
}

/// Verbs a `*` stands for in a probe.
const SAMPLE_VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
/// At most this many resources stand for one `*`.
const SAMPLE_RESOURCES: usize = 8;

impl Rbac {
    /// From the objects of `kubectl get … -o yaml|json` (a List or bare objects).
    pub fn from_values(values: Vec<serde_json::Value>) -> Result<Self, String> {
        let mut rbac = Rbac::default();
        let mut stack = values;
        while let Some(v) = stack.pop() {
            let kind = v
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string();
            let err = |e: serde_json::Error| format!("a {kind} object: {e}");
            match kind.as_str() {
                k if k.ends_with("List") => {
                    if let Some(items) = v.get("items").and_then(|i| i.as_array()) {
                        stack.extend(items.iter().cloned());
                    }
                }
                "ClusterRole" => {
                    let o: ClusterRole = serde_json::from_value(v).map_err(err)?;
                    rbac.cluster_roles
                        .insert(o.metadata.name.clone().unwrap_or_default(), o);
                }
                "Role" => {
                    let o: Role = serde_json::from_value(v).map_err(err)?;
                    let key = (
                        o.metadata.namespace.clone().unwrap_or_default(),
                        o.metadata.name.clone().unwrap_or_default(),
                    );
                    rbac.roles.insert(key, o);
                }
                "ClusterRoleBinding" => rbac
                    .cluster_role_bindings
                    .push(serde_json::from_value(v).map_err(err)?),
                "RoleBinding" => rbac
                    .role_bindings
                    .push(serde_json::from_value(v).map_err(err)?),
                _ => {}
            }
        }
        Ok(rbac)
    }

    /// Reads an exported RBAC file (YAML or JSON, one or more documents).
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_values(docs).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn rules_of(&self, role_ref: &RoleRef, namespace: Option<&str>) -> Vec<PolicyRule> {
        match (role_ref.kind.as_str(), namespace) {
            ("ClusterRole", _) => self
                .cluster_roles
                .get(&role_ref.name)
                .and_then(|r| r.rules.clone())
                .unwrap_or_default(),
            ("Role", Some(ns)) => self
                .roles
                .get(&(ns.to_string(), role_ref.name.clone()))
                .and_then(|r| r.rules.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Bindings whose subjects name `user` or one of `groups`.
    pub fn grants_for(&self, user: &str, groups: &[String]) -> Vec<Grant> {
        let names = |subjects: &Option<Vec<Subject>>| {
            subjects.as_ref().is_some_and(|s| {
                s.iter().any(|s| {
                    (s.kind == "User" && s.name == user && !user.is_empty())
                        || (s.kind == "Group" && groups.contains(&s.name))
                })
            })
        };
        let mut out = Vec::new();
        for b in &self.cluster_role_bindings {
            if names(&b.subjects) {
                out.push(Grant {
                    binding: format!(
                        "ClusterRoleBinding/{}",
                        b.metadata.name.as_deref().unwrap_or_default()
                    ),
                    namespace: None,
                    role: b.role_ref.name.clone(),
                    rules: self.rules_of(&b.role_ref, None),
                });
            }
        }
        for b in &self.role_bindings {
            if names(&b.subjects) {
                let ns = b.metadata.namespace.clone().unwrap_or_default();
                out.push(Grant {
                    binding: format!(
                        "RoleBinding/{ns}/{}",
                        b.metadata.name.as_deref().unwrap_or_default()
                    ),
                    rules: self.rules_of(&b.role_ref, Some(&ns)),
                    role: b.role_ref.name.clone(),
                    namespace: Some(ns),
                });
            }
        }
        out
    }

    /// Namespaces that some RoleBinding lives in.
    pub fn binding_namespaces(&self) -> BTreeSet<String> {
        self.role_bindings
            .iter()
            .filter_map(|b| b.metadata.namespace.clone())
            .collect()
    }

    /// Every group and every user some binding names.
    pub fn subjects(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut users = BTreeSet::new();
        let mut groups = BTreeSet::new();
        let all = self
            .cluster_role_bindings
            .iter()
            .filter_map(|b| b.subjects.as_ref())
            .chain(
                self.role_bindings
                    .iter()
                    .filter_map(|b| b.subjects.as_ref()),
            );
        for subjects in all {
            for s in subjects {
                match s.kind.as_str() {
                    "User" => users.insert(s.name.clone()),
                    "Group" => groups.insert(s.name.clone()),
                    _ => false,
                };
            }
        }
        (users, groups)
    }
}

/// The concrete requests a grant allows, wildcards sampled from `resources`.
pub fn probes_of(grant: &Grant, resources: &Resources) -> BTreeSet<Probe> {
    let mut out = BTreeSet::new();
    let namespace = grant.namespace.clone().unwrap_or_default();
    for rule in &grant.rules {
        let verbs: Vec<String> = if rule.verbs.iter().any(|v| v == "*") {
            SAMPLE_VERBS.iter().map(|v| v.to_string()).collect()
        } else {
            rule.verbs.clone()
        };
        for path in rule.non_resource_urls.iter().flatten() {
            // `/*` stands for any URL (probed with /healthz); `/api/*` for the prefix itself.
            let path = match path.strip_suffix('*') {
                Some("/") | Some("") => "/healthz".to_string(),
                Some(prefix) => prefix.trim_end_matches('/').to_string(),
                None => path.clone(),
            };
            for verb in &verbs {
                out.insert(Probe {
                    verb: verb.clone(),
                    path: path.clone(),
                    ..Probe::default()
                });
            }
        }
        let groups: Vec<String> = match rule.api_groups.as_deref() {
            Some(g) if g.iter().any(|g| g == "*") => resources.keys().cloned().collect(),
            Some(g) => g.to_vec(),
            None => Vec::new(),
        };
        for group in groups {
            let names: Vec<(String, String)> = match rule.resources.as_deref() {
                Some(r) if r.iter().any(|r| r == "*") => resources
                    .get(&group)
                    .map(|rs| {
                        rs.iter()
                            .take(SAMPLE_RESOURCES)
                            .map(|(n, _)| (n.clone(), String::new()))
                            .collect()
                    })
                    .unwrap_or_default(),
                Some(r) => r
                    .iter()
                    .map(|r| match r.split_once('/') {
                        Some((res, sub)) => (res.to_string(), sub.to_string()),
                        None => (r.clone(), String::new()),
                    })
                    .collect(),
                None => Vec::new(),
            };
            for (resource, subresource) in names {
                for verb in &verbs {
                    out.insert(Probe {
                        verb: verb.clone(),
                        group: group.clone(),
                        resource: resource.clone(),
                        subresource: subresource.clone(),
                        namespace: namespace.clone(),
                        path: String::new(),
                    });
                }
            }
        }
    }
    out
}

/// The fixed baseline of design: reads and writes people care about, the RBAC escalation
/// paths, and a few non-resource URLs, in each of `namespaces` and cluster-wide.
pub fn baseline(namespaces: &BTreeSet<String>) -> BTreeSet<Probe> {
    let mut out = BTreeSet::new();
    let mut add = |verb: &str, group: &str, resource: &str, namespace: &str| {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        out.insert(Probe {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            path: String::new(),
        });
    };
    for ns in namespaces {
        for verb in ["get", "list", "create", "delete"] {
            add(verb, "", "pods", ns);
        }
        add("create", "", "pods/exec", ns);
        add("get", "", "secrets", ns);
        add("list", "", "secrets", ns);
        add("get", "", "configmaps", ns);
        add("update", "", "configmaps", ns);
        add("get", "apps", "deployments", ns);
        add("create", "apps", "deployments", ns);
        add("update", "apps", "deployments", ns);
        add("create", "rbac.authorization.k8s.io", "roles", ns);
        add("create", "rbac.authorization.k8s.io", "rolebindings", ns);
    }
    for verb in ["get", "list"] {
        add(verb, "", "nodes", "");
        add(verb, "", "namespaces", "");
        add(verb, "", "pods", "");
    }
    add("create", "", "namespaces", "");
    add("create", "rbac.authorization.k8s.io", "clusterroles", "");
    add(
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "",
    );
    add("escalate", "rbac.authorization.k8s.io", "clusterroles", "");
    add("bind", "rbac.authorization.k8s.io", "clusterroles", "");
    add("impersonate", "", "users", "");
    add("impersonate", "", "groups", "");
    add("impersonate", "", "serviceaccounts", "");
    for path in ["/healthz", "/version", "/metrics"] {
        out.insert(Probe {
            verb: "get".into(),
            path: path.into(),
            ..Probe::default()
        });
    }
    out
}

/// Findings from the cluster's RBAC about a plan (issue: offline analysis at plan time):
/// `kind: User` bindings the new username no longer matches, groups bound to nothing, and
/// groups whose only grant is a built-in role an access policy resembles (a suggestion, never
/// applied silently).
pub fn analyze(
    mappings: &[crate::plan::translate::PlannedMapping],
    rbac: &Rbac,
) -> Vec<crate::model::Finding> {
    use crate::model::findings::finding;
    let mut out = Vec::new();
    let (users, groups) = rbac.subjects();
    let mut reported_groups = BTreeSet::new();
    for m in mappings {
        let (Some(p), Some(entry)) = (&m.principal, &m.access_entry) else {
            continue;
        };
        if entry.entry_type.is_node() {
            continue;
        }
        let note = |code, message: String| {
            let mut f = finding(code, message).about(m.mapping.id);
            f.location = Some(m.mapping.location.clone());
            f
        };
        let before = crate::verify::render(m.mapping.username.as_deref().unwrap_or_default(), p);
        let after = match &entry.username {
            Some(u) => crate::verify::render(u, p),
            None => crate::verify::render(&p.default_username(&p.path), p),
        };
        // With no username the open-source authenticator sends "", but older EKS documentation
        // says the IAM ARN; a binding to that ARN is checked too
        // (docs/aws-auth.md#missing-username).
        let mut candidates = vec![before.clone()];
        if before.is_empty() {
            candidates.push(crate::model::arn::normalized(p));
        }
        for before in candidates
            .into_iter()
            .filter(|b| *b != after && users.contains(b))
        {
            let bindings: Vec<String> = rbac
                .grants_for(&before, &[])
                .into_iter()
                .map(|g| g.binding)
                .collect();
            out.push(note(
                "rbac-user-orphaned",
                format!(
                    "{} {} the user `{before}`, but the access entry's username will be `{}`: those permissions would be lost, so the mapping stays in aws-auth: update the bindings to the new username, then plan again",
                    bindings.join(", "),
                    if bindings.len() == 1 { "names" } else { "name" },
                    entry.username.clone().unwrap_or_else(|| p.default_username(&p.path))
                ),
            ));
        }
        for g in &entry.kubernetes_groups {
            if !groups.contains(g) {
                if reported_groups.insert(format!("unbound:{g}")) {
                    out.push(note(
                        "rbac-group-unbound",
                        format!("group `{g}` is named by no RoleBinding or ClusterRoleBinding: it grants nothing today"),
                    ));
                }
                continue;
            }
            let grants = rbac.grants_for("", std::slice::from_ref(g));
            let builtin = match grants.as_slice() {
                [one] if one.namespace.is_none() => match one.role.as_str() {
                    "view" => Some("AmazonEKSViewPolicy"),
                    "edit" => Some("AmazonEKSEditPolicy"),
                    "admin" => Some("AmazonEKSAdminPolicy"),
                    _ => None,
                },
                _ => None,
            };
            if let Some(policy) = builtin
                && reported_groups.insert(format!("policy:{g}"))
            {
                out.push(note(
                    "rbac-group-matches-policy",
                    format!(
                        "group `{g}` is only bound to the built-in ClusterRole `{}`; {policy} is similar (not equal: aggregated CRD rules and a few subresources differ), and --policy-map could use it instead of the group",
                        grants[0].role
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rbac() -> Rbac {
        let text = r#"
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: reader}
  rules:
  - apiGroups: [""]
    resources: [pods, pods/log]
    verbs: [get, list]
  - nonResourceURLs: ["/healthz"]
    verbs: [get]
- apiGroups: []
  apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: readers}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
  subjects: [{kind: Group, name: reader, apiGroup: rbac.authorization.k8s.io}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: deployer, namespace: apps}
  rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: alice-deploys, namespace: apps}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
  subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
"#;
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).unwrap();
        Rbac::from_values(docs).unwrap()
    }

    #[test]
    fn grants_follow_subjects() {
        let rbac = rbac();
        let g = rbac.grants_for("bob", &["reader".into()]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].binding, "ClusterRoleBinding/readers");
        let probes = probes_of(&g[0], &well_known_resources());
        let shown: Vec<String> = probes.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(&"get pods/log (cluster-wide)".to_string()),
            "{shown:?}"
        );
        assert!(shown.contains(&"get /healthz".to_string()));
        assert_eq!(probes.len(), 5);
        assert!(rbac.grants_for("", &[]).is_empty());
    }

    #[test]
    fn wildcards_are_sampled() {
        let rbac = rbac();
        let g = rbac.grants_for("alice", &[]);
        assert_eq!(g[0].namespace.as_deref(), Some("apps"));
        let probes = probes_of(&g[0], &well_known_resources());
        assert!(probes.iter().all(|p| p.namespace == "apps"));
        assert!(
            probes
                .iter()
                .any(|p| p.resource == "deployments" && p.verb == "deletecollection")
        );
        assert!(
            probes.len() > 100 && probes.len() < 1000,
            "{}",
            probes.len()
        );
        assert_eq!(
            rbac.binding_namespaces(),
            BTreeSet::from(["apps".to_string()])
        );
    }
}
