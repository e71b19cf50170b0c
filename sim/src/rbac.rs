//! An RBAC evaluator written for the simulator, following the upstream Kubernetes authorizer
//! (`plugin/pkg/auth/authorizer/rbac`): bindings select subjects, role references select rules,
//! rules match verbs, API groups, resources (with `resource/subresource` and `*/subresource`),
//! resource names and non-resource URLs (with a trailing `*` prefix match). RBAC only allows; a
//! request nobody allows is denied by the caller of this module.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The authenticated user as the authorizers see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub name: String,
    /// Includes `system:authenticated` for authenticated users (the API server adds it).
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What a request does, in the authorizer's terms (Kubernetes `authorizer.Attributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Resource(ResourceAction),
    NonResource { verb: String, path: String },
}

/// A request on an API resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceAction {
    pub verb: String,
    /// `""` for the core group.
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// `""` for cluster-scoped resources and for requests across all namespaces.
    pub namespace: String,
}

impl ResourceAction {
    pub fn new(verb: &str, api_group: &str, resource: &str) -> Self {
        // `pods/log` written as one string is split the way the API server splits the path.
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Self {
            verb: verb.into(),
            api_group: api_group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            ..Self::default()
        }
    }

    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.into();
        self
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// `resource/subresource`, the form rules list.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

impl Action {
    pub fn verb(&self) -> &str {
        match self {
            Action::Resource(r) => &r.verb,
            Action::NonResource { verb, .. } => verb,
        }
    }
}

/// Does one policy rule allow the action? Upstream `RuleAllows`.
pub fn rule_allows(rule: &PolicyRule, action: &Action) -> bool {
    match action {
        Action::Resource(r) => {
            verb_matches(rule, &r.verb)
                && list_matches(rule.api_groups.as_deref(), &r.api_group)
                && resource_matches(rule, &r.combined_resource(), &r.subresource)
                && resource_name_matches(rule, &r.name)
        }
        Action::NonResource { verb, path } => {
            verb_matches(rule, verb) && non_resource_url_matches(rule, path)
        }
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn list_matches(list: Option<&[String]>, value: &str) -> bool {
    list.unwrap_or_default()
        .iter()
        .any(|v| v == "*" || v == value)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|r| {
            r == "*"
            || r == combined
            // `*/scale` matches the `scale` subresource of every resource.
            || (!subresource.is_empty()
                && r.strip_prefix("*/").is_some_and(|s| s == subresource))
        })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
}

/// Does a binding subject name this user? Upstream `appliesToUser`.
fn subject_applies(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            !namespace.is_empty()
                && user.name == format!("system:serviceaccount:{namespace}:{}", subject.name)
        }
        _ => false,
    }
}

/// Does a label selector select these labels? A selector with no terms selects everything.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector.match_expressions.iter().flatten().all(|req| {
        let values = req.values.as_deref().unwrap_or_default();
        let value = labels.get(&req.key);
        match req.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

/// The RBAC objects of one cluster, borrowed for one decision.
#[derive(Debug, Clone, Default)]
pub struct Rbac<'a> {
    pub cluster_roles: Vec<&'a ClusterRole>,
    pub cluster_role_bindings: Vec<&'a ClusterRoleBinding>,
    pub roles: Vec<&'a Role>,
    pub role_bindings: Vec<&'a RoleBinding>,
}

/// The bootstrap policy, built once.
static BOOTSTRAP: std::sync::OnceLock<(Vec<ClusterRole>, Vec<ClusterRoleBinding>)> =
    std::sync::OnceLock::new();

fn bootstrap() -> &'static (Vec<ClusterRole>, Vec<ClusterRoleBinding>) {
    BOOTSTRAP.get_or_init(|| (bootstrap_cluster_roles(), bootstrap_cluster_role_bindings()))
}

impl<'a> Rbac<'a> {
    /// A cluster's objects plus the bootstrap ClusterRoles and ClusterRoleBindings it does not
    /// define itself (a fixture object replaces the bootstrap one of the same name).
    pub fn with_bootstrap(
        cluster_roles: impl IntoIterator<Item = &'a ClusterRole>,
        cluster_role_bindings: impl IntoIterator<Item = &'a ClusterRoleBinding>,
        roles: impl IntoIterator<Item = &'a Role>,
        role_bindings: impl IntoIterator<Item = &'a RoleBinding>,
    ) -> Self {
        let mut cluster_roles: Vec<&ClusterRole> = cluster_roles.into_iter().collect();
        let mut cluster_role_bindings: Vec<&ClusterRoleBinding> =
            cluster_role_bindings.into_iter().collect();
        let (boot_roles, boot_bindings) = bootstrap();
        for role in boot_roles {
            if !cluster_roles
                .iter()
                .any(|r| r.metadata.name == role.metadata.name)
            {
                cluster_roles.push(role);
            }
        }
        for binding in boot_bindings {
            if !cluster_role_bindings
                .iter()
                .any(|b| b.metadata.name == binding.metadata.name)
            {
                cluster_role_bindings.push(binding);
            }
        }
        Self {
            cluster_roles,
            cluster_role_bindings,
            roles: roles.into_iter().collect(),
            role_bindings: role_bindings.into_iter().collect(),
        }
    }

    /// Returns why the action is allowed, or `None` when no binding allows it.
    pub fn allows(&self, user: &UserInfo, action: &Action) -> Option<String> {
        for binding in &self.cluster_role_bindings {
            if binding.role_ref.kind != "ClusterRole" {
                continue;
            }
            let Some(subject) = binding
                .subjects
                .iter()
                .flatten()
                .find(|s| subject_applies(s, user, ""))
            else {
                continue;
            };
            if self
                .cluster_role_rules(&binding.role_ref.name)
                .iter()
                .any(|rule| rule_allows(rule, action))
            {
                return Some(reason(
                    "ClusterRoleBinding",
                    &binding.metadata,
                    &binding.role_ref,
                    subject,
                ));
            }
        }
        // RoleBindings only grant inside their own namespace, and only for resource requests.
        let Action::Resource(resource) = action else {
            return None;
        };
        if resource.namespace.is_empty() {
            return None;
        }
        for binding in self
            .role_bindings
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(resource.namespace.as_str()))
        {
            let Some(subject) = binding
                .subjects
                .iter()
                .flatten()
                .find(|s| subject_applies(s, user, &resource.namespace))
            else {
                continue;
            };
            let rules = match binding.role_ref.kind.as_str() {
                "ClusterRole" => self.cluster_role_rules(&binding.role_ref.name),
                "Role" => self.role_rules(&resource.namespace, &binding.role_ref.name),
                _ => Vec::new(),
            };
            if rules.iter().any(|rule| rule_allows(rule, action)) {
                return Some(reason(
                    "RoleBinding",
                    &binding.metadata,
                    &binding.role_ref,
                    subject,
                ));
            }
        }
        None
    }

    /// Rules of a ClusterRole, including those aggregated into it.
    ///
    /// The aggregation controller writes the union of the selected roles' rules into the
    /// aggregated role. The simulator computes it on read; it keeps the role's own rules too,
    /// because a role copied from a live cluster (`kubectl get clusterrole view -o yaml`) already
    /// holds the aggregated result even when its sources are not in the fixture.
    pub fn cluster_role_rules(&self, name: &str) -> Vec<&'a PolicyRule> {
        let mut rules = Vec::new();
        let mut visited = Vec::new();
        self.collect_cluster_role_rules(name, &mut visited, &mut rules);
        rules
    }

    fn collect_cluster_role_rules(
        &self,
        name: &str,
        visited: &mut Vec<String>,
        rules: &mut Vec<&'a PolicyRule>,
    ) {
        if visited.iter().any(|v| v == name) {
            return;
        }
        visited.push(name.to_string());
        let Some(role) = self
            .cluster_roles
            .iter()
            .copied()
            .find(|r| r.metadata.name.as_deref() == Some(name))
        else {
            return;
        };
        rules.extend(role.rules.iter().flatten());
        if let Some(AggregationRule {
            cluster_role_selectors: Some(selectors),
        }) = &role.aggregation_rule
        {
            for candidate in &self.cluster_roles {
                let labels = candidate.metadata.labels.clone().unwrap_or_default();
                match &candidate.metadata.name {
                    Some(candidate_name)
                        if selectors.iter().any(|s| selector_matches(s, &labels)) =>
                    {
                        self.collect_cluster_role_rules(candidate_name, visited, rules);
                    }
                    _ => {}
                }
            }
        }
    }

    fn role_rules(&self, namespace: &str, name: &str) -> Vec<&'a PolicyRule> {
        self.roles
            .iter()
            .copied()
            .filter(|r| {
                r.metadata.namespace.as_deref() == Some(namespace)
                    && r.metadata.name.as_deref() == Some(name)
            })
            .flat_map(|r| r.rules.iter().flatten())
            .collect()
    }
}

fn reason(kind: &str, meta: &ObjectMeta, role_ref: &RoleRef, subject: &Subject) -> String {
    let binding = match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or_default()),
        None => meta.name.clone().unwrap_or_default(),
    };
    format!(
        "RBAC: allowed by {kind} \"{binding}\" of {} \"{}\" to {} \"{}\"",
        role_ref.kind, role_ref.name, subject.kind, subject.name
    )
}

/// Builds a policy rule; a terse form for the built-in roles and for tests.
pub fn rule(verbs: &[&str], api_groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        api_groups: Some(strings(api_groups)),
        resources: Some(strings(resources)),
        ..PolicyRule::default()
    }
}

/// Builds a non-resource-URL rule.
pub fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        non_resource_urls: Some(strings(urls)),
        ..PolicyRule::default()
    }
}

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/bootstrapping".to_string(),
                "rbac-defaults".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        rules: Some(rules),
        aggregation_rule: None,
    }
}

fn group_binding(name: &str, groups: &[&str]) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/bootstrapping".to_string(),
                "rbac-defaults".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: name.into(),
        },
        subjects: Some(
            groups
                .iter()
                .map(|g| Subject {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "Group".into(),
                    name: g.to_string(),
                    namespace: None,
                })
                .collect(),
        ),
    }
}

/// The bootstrap ClusterRoles every cluster has (upstream `bootstrappolicy`), limited to the ones
/// that decide what an ordinary authenticated user may do without any binding of its own:
/// discovery, `/version`, and self reviews. A fixture object with the same name replaces one.
pub fn bootstrap_cluster_roles() -> Vec<ClusterRole> {
    vec![
        cluster_role(
            "cluster-admin",
            vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])],
        ),
        cluster_role(
            "system:discovery",
            vec![url_rule(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![url_rule(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
        cluster_role(
            "system:basic-user",
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
    ]
}

/// The bootstrap ClusterRoleBindings matching [`bootstrap_cluster_roles`].
pub fn bootstrap_cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        group_binding("cluster-admin", &["system:masters"]),
        group_binding("system:discovery", &["system:authenticated"]),
        group_binding(
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
        group_binding("system:basic-user", &["system:authenticated"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            ..ObjectMeta::default()
        }
    }

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            api_group: None,
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
        }
    }

    fn crb(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: meta(name, None),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(subjects),
        }
    }

    fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
        RoleBinding {
            metadata: meta(name, Some(ns)),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: kind.into(),
                name: role.into(),
            },
            subjects: Some(subjects),
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: strings(groups),
        }
    }

    fn res(verb: &str, group: &str, resource: &str, ns: &str) -> Action {
        Action::Resource(ResourceAction::new(verb, group, resource).in_namespace(ns))
    }

    struct Fixture {
        cluster_roles: Vec<ClusterRole>,
        crbs: Vec<ClusterRoleBinding>,
        roles: Vec<Role>,
        rbs: Vec<RoleBinding>,
    }

    impl Fixture {
        fn rbac(&self) -> Rbac<'_> {
            Rbac {
                cluster_roles: self.cluster_roles.iter().collect(),
                cluster_role_bindings: self.crbs.iter().collect(),
                roles: self.roles.iter().collect(),
                role_bindings: self.rbs.iter().collect(),
            }
        }
    }

    fn fixture() -> Fixture {
        let mut view = cluster_role(
            "view",
            vec![rule(
                &["get", "list", "watch"],
                &[""],
                &["pods", "pods/log", "configmaps"],
            )],
        );
        view.metadata.labels = None;
        let mut crd_view = cluster_role(
            "crd-view",
            vec![rule(&["get"], &["example.com"], &["widgets"])],
        );
        crd_view.metadata.labels = Some(BTreeMap::from([(
            "rbac.authorization.k8s.io/aggregate-to-view".to_string(),
            "true".to_string(),
        )]));
        view.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "rbac.authorization.k8s.io/aggregate-to-view".to_string(),
                    "true".to_string(),
                )])),
                match_expressions: None,
            }]),
        });
        let scaler = cluster_role("scaler", vec![rule(&["update"], &["apps"], &["*/scale"])]);
        let named = cluster_role(
            "one-cm",
            vec![PolicyRule {
                resource_names: Some(strings(&["aws-auth"])),
                ..rule(&["get"], &[""], &["configmaps"])
            }],
        );
        let metrics = cluster_role("metrics", vec![url_rule(&["get"], &["/metrics/*"])]);
        let role = Role {
            metadata: meta("deployer", Some("dev")),
            rules: Some(vec![rule(&["create"], &["apps"], &["deployments"])]),
        };
        Fixture {
            cluster_roles: vec![view, crd_view, scaler, named, metrics],
            crbs: vec![
                crb("readers", "view", vec![subject("Group", "reader", None)]),
                crb("scalers", "scaler", vec![subject("User", "sam", None)]),
                crb(
                    "cm",
                    "one-cm",
                    vec![subject("ServiceAccount", "reader", Some("tools"))],
                ),
                crb("metrics", "metrics", vec![subject("User", "prom", None)]),
            ],
            roles: vec![role],
            rbs: vec![
                rb(
                    "dev",
                    "deployers",
                    "Role",
                    "deployer",
                    vec![subject("User", "dana", None)],
                ),
                rb(
                    "dev",
                    "dev-view",
                    "ClusterRole",
                    "view",
                    vec![subject("ServiceAccount", "ci", None)],
                ),
            ],
        }
    }

    #[test]
    fn group_bound_to_view_reads_but_does_not_write() {
        let f = fixture();
        let alice = user("alice", &["reader", "system:authenticated"]);
        assert!(
            f.rbac()
                .allows(&alice, &res("get", "", "pods", "default"))
                .is_some()
        );
        assert!(
            f.rbac()
                .allows(&alice, &res("list", "", "pods", ""))
                .is_some()
        );
        assert!(
            f.rbac()
                .allows(&alice, &res("get", "", "pods/log", "x"))
                .is_some()
        );
        assert!(
            f.rbac()
                .allows(&alice, &res("create", "", "pods", "default"))
                .is_none()
        );
        assert!(
            f.rbac()
                .allows(&alice, &res("get", "", "pods/exec", "x"))
                .is_none()
        );
        assert!(
            f.rbac()
                .allows(&alice, &res("get", "", "secrets", "x"))
                .is_none()
        );
        let bob = user("bob", &["system:authenticated"]);
        assert!(
            f.rbac()
                .allows(&bob, &res("get", "", "pods", "default"))
                .is_none()
        );
    }

    #[test]
    fn aggregated_rules_are_included() {
        let f = fixture();
        let alice = user("alice", &["reader"]);
        assert!(
            f.rbac()
                .allows(&alice, &res("get", "example.com", "widgets", "a"))
                .is_some()
        );
    }

    #[test]
    fn subresource_wildcard_and_resource_names() {
        let f = fixture();
        let sam = user("sam", &[]);
        assert!(
            f.rbac()
                .allows(&sam, &res("update", "apps", "deployments/scale", "a"))
                .is_some()
        );
        assert!(
            f.rbac()
                .allows(&sam, &res("update", "apps", "deployments", "a"))
                .is_none()
        );
        let sa = user("system:serviceaccount:tools:reader", &[]);
        let named = |name: &str| {
            Action::Resource(
                ResourceAction::new("get", "", "configmaps")
                    .in_namespace("kube-system")
                    .named(name),
            )
        };
        assert!(f.rbac().allows(&sa, &named("aws-auth")).is_some());
        assert!(f.rbac().allows(&sa, &named("other")).is_none());
    }

    #[test]
    fn role_bindings_grant_only_in_their_namespace() {
        let f = fixture();
        let dana = user("dana", &[]);
        assert!(
            f.rbac()
                .allows(&dana, &res("create", "apps", "deployments", "dev"))
                .is_some()
        );
        assert!(
            f.rbac()
                .allows(&dana, &res("create", "apps", "deployments", "prod"))
                .is_none()
        );
        assert!(
            f.rbac()
                .allows(&dana, &res("create", "apps", "deployments", ""))
                .is_none()
        );
        // A ServiceAccount subject without a namespace takes the binding's.
        let ci = user("system:serviceaccount:dev:ci", &[]);
        assert!(
            f.rbac()
                .allows(&ci, &res("get", "", "pods", "dev"))
                .is_some()
        );
        assert!(
            f.rbac()
                .allows(&ci, &res("get", "", "pods", "prod"))
                .is_none()
        );
    }

    #[test]
    fn non_resource_urls_with_prefix_wildcard() {
        let f = fixture();
        let prom = user("prom", &[]);
        let get = |path: &str| Action::NonResource {
            verb: "get".into(),
            path: path.into(),
        };
        assert!(f.rbac().allows(&prom, &get("/metrics/cadvisor")).is_some());
        assert!(f.rbac().allows(&prom, &get("/healthz")).is_none());
    }

    #[test]
    fn bootstrap_policy_allows_discovery_and_self_reviews_for_everyone_authenticated() {
        let rbac = Rbac::with_bootstrap([], [], [], []);
        let anyone = user("x", &["system:authenticated"]);
        let get = |path: &str| Action::NonResource {
            verb: "get".into(),
            path: path.into(),
        };
        assert!(
            rbac.allows(&anyone, &get("/apis/rbac.authorization.k8s.io/v1"))
                .is_some()
        );
        assert!(rbac.allows(&anyone, &get("/version")).is_some());
        assert!(
            rbac.allows(
                &anyone,
                &res(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    ""
                )
            )
            .is_some()
        );
        assert!(
            rbac.allows(
                &anyone,
                &res("create", "authorization.k8s.io", "subjectaccessreviews", "")
            )
            .is_none()
        );
        let master = user("m", &["system:masters"]);
        assert!(
            rbac.allows(&master, &res("delete", "", "nodes", ""))
                .is_some()
        );
    }

    #[test]
    fn label_selector_operators() {
        let labels = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let req = |op: &str, values: &[&str]| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: op.into(),
                values: Some(strings(values)),
            }]),
        };
        assert!(selector_matches(&req("In", &["1", "2"]), &labels));
        assert!(!selector_matches(&req("NotIn", &["1"]), &labels));
        assert!(selector_matches(&req("Exists", &[]), &labels));
        assert!(!selector_matches(&req("DoesNotExist", &[]), &labels));
        assert!(selector_matches(&LabelSelector::default(), &labels));
    }
}
