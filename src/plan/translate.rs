//! The translation rules (docs/access-entries.md, docs/pitfalls.md), in one place: each effective
//! `aws-auth` mapping becomes an access entry, or stays in `aws-auth` with a blocker that says why.
//!
//! Rule of thumb behind every `Keep`: in `API_AND_CONFIG_MAP` an access entry replaces the
//! principal's aws-auth mapping entirely (docs/authentication-modes.md#precedence), so an entry
//! that would carry less than the mapping must not be created at all; the mapping keeps working
//! from aws-auth and the blocker stops the final switch to `API` until someone decides.

use std::collections::HashMap;

use serde::Serialize;

use crate::awsauth::AwsAuth;
use crate::model::arn::{self, Principal, PrincipalKind};
use crate::model::findings::finding;
use crate::model::{
    AccessEntry, AccessScope, CLUSTER_ADMIN_POLICY, EntryType, Finding, Mapping, MappingStatus,
    PolicyAssociation, Section, access_policy_arn,
};
use crate::plan::options::{PolicyMap, RolePaths};

/// What the translation may use besides aws-auth itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    pub policy_map: Option<&'a PolicyMap>,
    pub role_paths: Option<&'a RolePaths>,
    /// The cluster's account, when known: node entries must be in it.
    pub cluster_account: Option<&'a str>,
    /// Lower-cased names of the cluster's Fargate pod execution roles, when known (live plan).
    pub fargate_roles: Option<&'a [String]>,
    /// Lower-cased names of managed node group roles with whether the group runs Windows, when
    /// known (live plan): EKS creates those entries by AMI type, so the plan follows it.
    pub nodegroup_roles: Option<&'a [(String, bool)]>,
    /// `--include-ineffective`: also migrate role ARNs written with a path, which never matched
    /// in aws-auth; their entries grant access that did not exist before.
    pub include_ineffective: bool,
}

/// What happens to one mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// An access entry is created for it (or an existing one adopted).
    Create,
    /// It stays in aws-auth; the switch to API would drop it (a blocker says why).
    Keep,
    /// Nothing: the authenticator does not use it today.
    Skip,
}

/// A mapping and what the plan does with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMapping {
    #[serde(flatten)]
    pub mapping: Mapping,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_entry: Option<AccessEntry>,
}

/// The translation of one aws-auth ConfigMap.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub mappings: Vec<PlannedMapping>,
    pub findings: Vec<Finding>,
}

/// EKS's limit of access entries per cluster (quota L-C56B9FC3, not adjustable).
pub const MAX_ENTRIES: usize = 3000;

const EC2_NODE_USERNAME: &str = "system:node:{{EC2PrivateDNSName}}";
const SESSION_NODE_USERNAME: &str = "system:node:{{SessionName}}";
const NODE_GROUPS: [&str; 4] = [
    "system:bootstrappers",
    "system:nodes",
    "system:node-proxier",
    "eks:kube-proxy-windows",
];
const RESERVED_USERNAME_PREFIXES: [&str; 5] = ["system:", "eks:", "aws:", "amazon:", "iam:"];

pub fn translate(auth: &AwsAuth, options: Options<'_>) -> Translation {
    let mut findings = Vec::new();
    let mut mappings: Vec<PlannedMapping> = auth
        .mappings
        .iter()
        .map(|m| translate_one(m, options, &mut findings))
        .collect();
    let unverified: Vec<&str> = mappings
        .iter()
        .filter(|p| p.action == Action::Create)
        .filter_map(|p| {
            let principal = p.principal.as_ref()?;
            let unverified = principal.kind == PrincipalKind::Role
                && principal.path == "/"
                && !principal.is_identity_center_role()
                && options
                    .role_paths
                    .and_then(|r| r.path(&principal.account, &principal.name))
                    .is_none();
            unverified.then_some(principal.name.as_str())
        })
        .collect();
    if !unverified.is_empty() {
        findings.push(finding(
            "role-path-unverified",
            format!(
                "{} role ARN(s) are planned with the path `/` because aws-auth cannot carry paths ({}); the live plan asks IAM, or pass --role-paths",
                unverified.len(),
                abbreviate(&unverified, 5)
            ),
        ));
    }
    mark_ambiguous_principals(&mut mappings, &mut findings);
    let entries: Vec<&AccessEntry> = mappings
        .iter()
        .filter_map(|p| p.access_entry.as_ref())
        .collect();
    let has_admin = entries.iter().any(|e| {
        e.access_policies.iter().any(|p| {
            p.policy_name() == CLUSTER_ADMIN_POLICY && p.access_scope == AccessScope::Cluster
        })
    });
    if !has_admin {
        findings.push(finding(
            "no-cluster-admin",
            "no planned access entry gets AmazonEKSClusterAdminPolicy at cluster scope; before the switch to API make sure a break-glass admin entry exists (the cluster creator's, if EKS created one)",
        ));
    }
    if entries.len() > MAX_ENTRIES {
        findings.push(finding(
            "entry-limit",
            format!(
                "the plan needs {} access entries; EKS allows at most {MAX_ENTRIES} per cluster",
                entries.len()
            ),
        ));
    }
    Translation { mappings, findings }
}

fn abbreviate(names: &[&str], max: usize) -> String {
    if names.len() <= max {
        names.join(", ")
    } else {
        format!(
            "{}, and {} more",
            names[..max].join(", "),
            names.len() - max
        )
    }
}

/// Two entries for one principal cannot exist; the user-section case variants are the only
/// way to get here, and the authenticator's own choice between them is random.
fn mark_ambiguous_principals(mappings: &mut [PlannedMapping], findings: &mut Vec<Finding>) {
    let mut by_arn: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in mappings.iter().enumerate() {
        let (Some(e), Some(principal)) = (&p.access_entry, &p.principal) else {
            continue;
        };
        // A role's name is unique in its account whatever the path, so two ARNs of one role
        // that differ only in path name the same principal.
        let key = match principal.kind {
            PrincipalKind::Role => format!(
                "role:{}:{}",
                principal.account,
                principal.name.to_lowercase()
            ),
            _ => e.principal_arn.to_lowercase(),
        };
        by_arn.entry(key).or_default().push(i);
    }
    for indices in by_arn.into_values().filter(|v| v.len() > 1) {
        // A role ARN with a path included by --include-ineffective yields to a mapping of the
        // same role that works today; it adds nothing then.
        let (included, effective): (Vec<usize>, Vec<usize>) = indices
            .into_iter()
            .partition(|&i| mappings[i].mapping.status != MappingStatus::Effective);
        if let [kept] = effective[..] {
            for i in included {
                mappings[i].action = Action::Skip;
                mappings[i].access_entry = None;
                let (m, by) = (&mappings[i].mapping, &mappings[kept].mapping);
                findings.push(
                    finding(
                        "ineffective-included",
                        format!(
                            "{} names the same role as {}, which works today, so it adds nothing and is skipped",
                            m.id, by.id
                        ),
                    )
                    .at(m.location.clone())
                    .related(by.location.clone())
                    .about(m.id),
                );
            }
            continue;
        }
        for i in included.into_iter().chain(effective) {
            mappings[i].action = Action::Keep;
            mappings[i].access_entry = None;
        }
    }
}

struct Ctx<'a, 'f> {
    mapping: &'a Mapping,
    findings: &'f mut Vec<Finding>,
}

impl Ctx<'_, '_> {
    fn note(&mut self, code: &'static str, message: String) {
        let f = finding(code, message)
            .at(self.mapping.location.clone())
            .about(self.mapping.id);
        self.findings.push(f);
    }
}

fn translate_one(m: &Mapping, options: Options<'_>, findings: &mut Vec<Finding>) -> PlannedMapping {
    let mut planned = PlannedMapping {
        mapping: m.clone(),
        principal: None,
        action: Action::Skip,
        access_entry: None,
    };
    let included = m.status != MappingStatus::Effective
        && options.include_ineffective
        && is_role_arn_with_path(m);
    if m.status != MappingStatus::Effective && !included {
        return planned;
    }
    let mut ctx = Ctx {
        mapping: m,
        findings,
    };
    if included {
        ctx.note(
            "ineffective-included",
            format!(
                "`{}` never matched in aws-auth because of its path; --include-ineffective plans an access entry for it, which grants this role access it does not have today: make sure that is intended",
                m.arn
            ),
        );
    }
    planned.action = Action::Keep;
    if m.id.section == Section::MapAccounts {
        ctx.note(
            "map-accounts",
            format!(
                "mapAccounts admits every IAM principal of account {} (username = its IAM ARN, no groups); access entries name one principal each, so list the principals that use this cluster and map them, or accept that they lose access at the switch to API",
                m.arn
            ),
        );
        return planned;
    }
    if let Some(sso) = &m.sso {
        ctx.note(
            "sso-matcher",
            format!(
                "the `sso` matcher for permission set `{}` in {} matches roles by a name pattern; access entries need each concrete AWSReservedSSO_{}_… role ARN with its path",
                sso.permission_set_name, sso.account_id, sso.permission_set_name
            ),
        );
        return planned;
    }
    let principal = arn::parse(&m.arn).expect("effective mappings have matchable ARNs");
    planned.principal = Some(principal.clone());
    match principal.kind {
        PrincipalKind::Root => {
            ctx.note(
                "root-principal",
                format!(
                    "`{}` is the account root user; access entries accept only IAM roles and users",
                    m.arn
                ),
            );
            return planned;
        }
        PrincipalKind::FederatedUser => {
            ctx.note(
                "federated-user",
                format!(
                    "`{}` is an STS federated user; access entries accept only IAM roles and users",
                    m.arn
                ),
            );
            return planned;
        }
        _ => {}
    }
    let in_section = match principal.kind {
        PrincipalKind::Role => Section::MapRoles,
        _ => Section::MapUsers,
    };
    if m.id.section != in_section {
        ctx.note(
            "section-mismatch",
            format!(
                "`{}` is a {} ARN in {}; the authenticator matches it all the same, and it is planned as a {}",
                m.arn,
                if in_section == Section::MapRoles { "role" } else { "user" },
                m.id.section,
                if in_section == Section::MapRoles { "role" } else { "user" }
            ),
        );
    }
    let normal = arn::normalized(&principal);
    if normal != m.arn {
        ctx.note(
            "arn-spelling",
            format!(
                "`{}` is written with upper-case fixed parts; the access entry uses `{normal}`",
                m.arn
            ),
        );
    }
    if let Some(account) = options.cluster_account
        && principal.account != account
    {
        ctx.note(
            "cross-account-principal",
            format!(
                "`{}` lives in account {}, not in the cluster's account {account}",
                m.arn, principal.account
            ),
        );
    }
    if principal.is_service_linked_role() {
        ctx.note(
            "service-linked-role",
            format!(
                "`{}` is a service-linked role, which EKS refuses for access entries; it stays in aws-auth and the switch to API would cut it off (the owning service may offer its own access-entry integration)",
                m.arn
            ),
        );
        return planned;
    }
    for g in m.groups.iter().filter(|g| g.contains(char::is_whitespace)) {
        ctx.note(
            "group-whitespace",
            format!("group `{g}` contains white space; a stray space before a list item merges items into one group, so check the indentation"),
        );
    }
    if principal.kind == PrincipalKind::Role
        && let Some(why) = options
            .role_paths
            .and_then(|r| r.invalid(&principal.account, &principal.name))
    {
        ctx.note(
            "role-name-invalid",
            format!("IAM refuses `{}` as a role name ({why}), so no such role exists: no caller can match this mapping today, and it is not migrated", principal.name),
        );
        planned.action = Action::Skip;
        return planned;
    }
    if principal.kind == PrincipalKind::Role
        && options
            .role_paths
            .is_some_and(|r| r.is_missing(&principal.account, &principal.name))
    {
        ctx.note(
            "role-not-found",
            format!("IAM has no role `{}` in account {}: no caller can match this mapping today, so it is not migrated", principal.name, principal.account),
        );
        planned.action = Action::Skip;
        return planned;
    }
    let path = role_path(&principal, options, &mut ctx);
    let username = m.username.as_deref().unwrap_or_default();
    // A node username without a node group is no working node mapping (the node authorizer
    // needs system:nodes): it is planned as what it is, a STANDARD entry with a bad username.
    let node_group = m
        .groups
        .iter()
        .any(|g| g == "system:nodes" || g == "system:bootstrappers");
    let entry =
        if (username == EC2_NODE_USERNAME || username == SESSION_NODE_USERNAME) && node_group {
            node_entry(&principal, &path, options, &mut ctx)
        } else {
            standard_entry(&principal, &path, options, &mut ctx)
        };
    if let Some(mut entry) = entry {
        // IAM's own spelling of the name and its unique id, when the live plan asked IAM.
        if principal.kind == PrincipalKind::Role
            && let Some((canonical, id)) = options
                .role_paths
                .and_then(|r| r.iam_role(&principal.account, &principal.name))
        {
            let mut spelled = principal.clone();
            spelled.name = canonical.to_string();
            entry.principal_arn = spelled.iam_arn(&path);
            entry.principal_id = Some(id.to_string());
        }
        planned.action = Action::Create;
        planned.access_entry = Some(entry);
    }
    planned
}

fn role_path(p: &Principal, options: Options<'_>, ctx: &mut Ctx<'_, '_>) -> String {
    if p.kind != PrincipalKind::Role {
        return p.path.clone();
    }
    if let Some(paths) = options.role_paths
        && let Some(path) = paths.path(&p.account, &p.name)
    {
        ctx.note(
            "role-path-from-file",
            format!(
                "role `{}` uses the path `{path}` from {}",
                p.name, paths.origin
            ),
        );
        return path.to_string();
    }
    if p.path != "/" {
        // Only a role ARN written with a path, planned through --include-ineffective.
        return p.path.clone();
    }
    if p.is_identity_center_role() {
        ctx.note(
            "role-path-required",
            format!(
                "`{}` is an IAM Identity Center role, whose ARN includes `/aws-reserved/sso.amazonaws.com/[REGION/]`; EKS rejects the path-less ARN, so give its path in --role-paths or run the live plan",
                p.iam_arn("/")
            ),
        );
    }
    "/".to_string()
}

fn node_entry(
    p: &Principal,
    path: &str,
    options: Options<'_>,
    ctx: &mut Ctx<'_, '_>,
) -> Option<AccessEntry> {
    let m = ctx.mapping;
    let username = m.username.as_deref().unwrap_or_default();
    if p.kind != PrincipalKind::Role {
        ctx.note(
            "node-role-user",
            format!("`{}` is an IAM user with the node username `{username}`; node access entries take roles only", m.arn),
        );
        return None;
    }
    let (system_extra, extra): (Vec<&str>, Vec<&str>) = m
        .groups
        .iter()
        .map(String::as_str)
        .filter(|g| !g.is_empty() && !NODE_GROUPS.contains(g))
        .partition(|g| g.starts_with("system:"));
    let quoted = |groups: &[&str]| {
        groups
            .iter()
            .map(|g| format!("`{g}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !system_extra.is_empty() {
        ctx.note(
            "node-role-and-human",
            format!(
                "role `{}` is mapped as a node (`{username}`) and also gets {}; a node access entry carries no groups or policies and one principal has one entry, so split the role (nodes and people need different roles) before migrating it",
                p.name,
                quoted(&system_extra)
            ),
        );
        return None;
    }
    if looks_like_cluster_role(&p.name) {
        ctx.note(
            "node-role-cluster-role",
            format!(
                "role `{}` is mapped as a node, but its name says it is the cluster's service role (the role the EKS control plane assumes); nodes should have a node role of their own, so check which role your nodes' instance profile or Fargate profile uses",
                p.name
            ),
        );
    }
    if let Some(account) = options.cluster_account
        && p.account != account
    {
        ctx.note(
            "node-role-cross-account",
            format!("node role `{}` is in account {}, but node access entries must be in the cluster's account {account}", m.arn, p.account),
        );
        return None;
    }
    let has = |g: &str| m.groups.iter().any(|x| x == g);
    let entry_type = if username == EC2_NODE_USERNAME {
        if has("eks:kube-proxy-windows") {
            EntryType::Ec2Windows
        } else {
            EntryType::Ec2Linux
        }
    } else if has("system:node-proxier") {
        EntryType::FargateLinux
    } else {
        EntryType::HybridLinux
    };
    let nodegroup_windows = options
        .nodegroup_roles
        .and_then(|roles| roles.iter().find(|(r, _)| r.eq_ignore_ascii_case(&p.name)))
        .map(|(_, windows)| *windows);
    let entry_type = match (entry_type, nodegroup_windows) {
        (EntryType::Ec2Linux, Some(true)) | (EntryType::Ec2Windows, Some(false)) => {
            let corrected = if nodegroup_windows == Some(true) {
                EntryType::Ec2Windows
            } else {
                EntryType::Ec2Linux
            };
            ctx.note(
                "node-type-from-nodegroup",
                format!(
                    "role `{}` belongs to a managed node group whose AMI makes it {corrected}, which is what EKS creates; aws-auth's groups suggested {entry_type}",
                    p.name
                ),
            );
            corrected
        }
        (t, _) => t,
    };
    let confirmed_fargate = options
        .fargate_roles
        .is_some_and(|roles| roles.iter().any(|r| r.eq_ignore_ascii_case(&p.name)));
    let entry_type = if confirmed_fargate {
        EntryType::FargateLinux
    } else {
        entry_type
    };
    if username == SESSION_NODE_USERNAME && !confirmed_fargate {
        let other = if entry_type == EntryType::FargateLinux {
            EntryType::HybridLinux
        } else {
            EntryType::FargateLinux
        };
        ctx.note(
            "node-role-heuristic",
            format!(
                "role `{}` is planned as {entry_type} because its groups {} system:node-proxier; aws-auth cannot tell Fargate from hybrid nodes, so confirm it is not {other} (the live plan checks the cluster's Fargate profiles)",
                p.name,
                if entry_type == EntryType::FargateLinux { "include" } else { "do not include" }
            ),
        );
    }
    let managed = match entry_type {
        EntryType::FargateLinux => {
            "; EKS creates it itself at the switch to API_AND_CONFIG_MAP and the tool adopts it"
        }
        EntryType::Ec2Linux | EntryType::Ec2Windows => {
            "; for a managed node group EKS creates it itself at the switch and the tool adopts it"
        }
        _ => "",
    };
    if !extra.is_empty() {
        ctx.note(
            "node-role-group-dropped",
            format!(
                "role `{}` is a node role that aws-auth also puts in {}; a node access entry carries no groups (EKS fixes them), so the entry drops {}: bind what that group grants to the nodes some other way if they need it",
                p.name,
                quoted(&extra),
                if extra.len() == 1 { "it" } else { "them" }
            ),
        );
    }
    ctx.note(
        "node-role",
        format!("role `{}` becomes an access entry of type {entry_type}; EKS fixes its username and groups{managed}", p.name),
    );
    Some(AccessEntry {
        principal_arn: p.iam_arn(path),
        entry_type,
        username: None,
        kubernetes_groups: Vec::new(),
        access_policies: Vec::new(),
        principal_id: None,
    })
}

fn standard_entry(
    p: &Principal,
    path: &str,
    options: Options<'_>,
    ctx: &mut Ctx<'_, '_>,
) -> Option<AccessEntry> {
    let m = ctx.mapping;
    let mut blocked = false;
    let mut groups: Vec<String> = Vec::new();
    let mut policies: Vec<PolicyAssociation> = Vec::new();
    let kept_others = m
        .groups
        .iter()
        .any(|g| g != "system:masters" && !g.is_empty());
    for g in &m.groups {
        if g.is_empty() {
            ctx.note(
                "group-empty",
                "an empty group name is dropped; it grants nothing".to_string(),
            );
            continue;
        }
        if g == "system:masters" {
            push_policy(
                &mut policies,
                access_policy_arn(&p.partition, CLUSTER_ADMIN_POLICY),
                AccessScope::Cluster,
            );
            ctx.note(
                "system-masters",
                format!(
                    "system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope{}",
                    if kept_others {
                        "; the other groups are kept"
                    } else {
                        ""
                    }
                ),
            );
            continue;
        }
        if let Some(gp) = options.policy_map.and_then(|pm| pm.groups.get(g)) {
            push_policy(
                &mut policies,
                access_policy_arn(&p.partition, &gp.policy),
                gp.scope.clone(),
            );
            ctx.note(
                "policy-map-applied",
                format!(
                    "group `{g}` becomes {} ({}) as --policy-map says{}",
                    gp.policy,
                    gp.scope,
                    if gp.keep_group {
                        "; the group is kept too"
                    } else {
                        ""
                    }
                ),
            );
            if !gp.keep_group {
                continue;
            }
        }
        if g.starts_with("system:") {
            ctx.note(
                "system-group",
                format!(
                    "group `{g}` cannot be an access-entry group (EKS rejects system: names); create a non-system group with copies of the bindings that name `{g}`, then map it, or leave this principal in aws-auth"
                ),
            );
            blocked = true;
            continue;
        }
        let group = match expand_account(g, &p.account) {
            Some(expanded) => expanded,
            None => g.clone(),
        };
        if let Some(t) = templates(&group).into_iter().next() {
            ctx.note(
                "group-template",
                format!("group `{g}` contains `{t}`, which aws-auth renders per caller; access-entry groups are fixed strings"),
            );
            blocked = true;
            continue;
        }
        if let Some(prefix) = RESERVED_USERNAME_PREFIXES[1..]
            .iter()
            .find(|pre| group.starts_with(*pre))
        {
            ctx.note(
                "group-reserved-prefix",
                format!("group `{group}` starts with `{prefix}`; EKS may reject it (only system: is documented as forbidden)"),
            );
        }
        if groups.contains(&group) {
            ctx.note(
                "group-duplicate",
                format!("group `{group}` is listed more than once"),
            );
            continue;
        }
        groups.push(group);
    }
    let username = standard_username(p, path, ctx);
    if blocked {
        return None;
    }
    Some(AccessEntry {
        principal_arn: p.iam_arn(path),
        entry_type: EntryType::Standard,
        username,
        kubernetes_groups: groups,
        access_policies: policies,
        principal_id: None,
    })
}

fn push_policy(policies: &mut Vec<PolicyAssociation>, policy_arn: String, scope: AccessScope) {
    // One association per policy; a second scope for the same policy widens to their union.
    match policies.iter_mut().find(|p| p.policy_arn == policy_arn) {
        Some(existing) => {
            existing.access_scope = match (&existing.access_scope, scope) {
                (
                    AccessScope::Namespace { namespaces: a },
                    AccessScope::Namespace { namespaces: b },
                ) => {
                    let mut all = a.clone();
                    all.extend(b.into_iter().filter(|n| !a.contains(n)));
                    AccessScope::Namespace { namespaces: all }
                }
                _ => AccessScope::Cluster,
            }
        }
        None => policies.push(PolicyAssociation {
            policy_arn,
            access_scope: scope,
        }),
    }
}

/// The username to send, `None` for EKS's default. A username EKS would refuse is left out, so
/// the entry gets EKS's default; the RBAC read turns that into a blocker where a `kind: User`
/// binding names the old username.
fn standard_username(p: &Principal, path: &str, ctx: &mut Ctx<'_, '_>) -> Option<String> {
    let written = ctx.mapping.username.clone().unwrap_or_default();
    let default = p.default_username(path);
    if written.is_empty() {
        ctx.note(
            "username-empty",
            format!(
                "aws-auth gives this principal an empty username; its access entry will get EKS's default `{default}`, so anything bound to the old identity by username needs checking"
            ),
        );
        return None;
    }
    let username = match expand_account(&written, &p.account) {
        Some(expanded) => {
            ctx.note(
                "username-account-id",
                format!(
                    "`{written}` becomes `{expanded}`: {{{{AccountID}}}} is the principal's account"
                ),
            );
            expanded
        }
        None => written.clone(),
    };
    let omitted = format!(
        "the entry is planned without a username, so EKS gives it `{default}`; RoleBindings that name `{written}` as a User stop matching (the RBAC read, live or --rbac, reports each as a blocker)"
    );
    let mut ok = true;
    if let Some(prefix) = RESERVED_USERNAME_PREFIXES
        .iter()
        .find(|pre| username.starts_with(*pre))
    {
        ctx.note(
            "username-reserved-prefix",
            format!(
                "username `{written}` starts with `{prefix}`, which EKS rejects for access entries; {omitted}"
            ),
        );
        ok = false;
    }
    for t in templates(&username) {
        match t {
            "{{SessionName}}" | "{{SessionNameRaw}}" => {
                let before = &username[..username.find(t).unwrap_or_default()];
                if !before.contains(':') && ok {
                    ctx.note(
                        "username-session-colon",
                        format!("username `{written}` has no colon before `{t}`, which EKS requires (e.g. `name:{t}`); {omitted}"),
                    );
                    ok = false;
                }
                if t == "{{SessionNameRaw}}" && ok {
                    ctx.note(
                        "username-session-name-raw",
                        format!("username `{written}` uses {{{{SessionNameRaw}}}}, which EKS documents but has been reported unsupported; the live migration will show whether EKS accepts it"),
                    );
                }
            }
            "{{AccessKeyID}}" | "{{EC2PrivateDNSName}}" if ok => {
                ctx.note(
                    "username-template-unsupported",
                    format!("username `{written}` uses `{t}`, which access entries do not support; {omitted}"),
                );
                ok = false;
            }
            "{{AccessKeyID}}" | "{{EC2PrivateDNSName}}" => {}
            other => ctx.note(
                "username-unknown-template",
                format!("username `{written}` contains `{other}`, which the authenticator keeps literally; EKS may treat it differently"),
            ),
        }
    }
    ok.then_some(username)
}

/// Whether a mapping that does not match today is a role ARN written with a path (the one kind
/// of ineffective mapping whose principal is clear).
fn is_role_arn_with_path(m: &Mapping) -> bool {
    matches!(m.status, MappingStatus::NeverMatches { .. })
        && m.id.section != Section::MapAccounts
        && m.sso.is_none()
        && arn::parse(&m.arn).is_ok_and(|p| p.kind == PrincipalKind::Role && p.path != "/")
}

/// Names EKS's and eksctl's conventions give the cluster's service role (`eksClusterRole`,
/// `eks-cluster-role`, `eksctl-NAME-cluster-ServiceRole-ID`).
fn looks_like_cluster_role(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("cluster-servicerole")
        || lower.contains("clusterservicerole")
        || lower.ends_with("eksclusterrole")
        || lower.ends_with("eks-cluster-role")
        || lower.ends_with("-cluster-role")
}

fn expand_account(text: &str, account: &str) -> Option<String> {
    text.contains("{{AccountID}}")
        .then(|| text.replace("{{AccountID}}", account))
}

/// Every `{{…}}` placeholder in `text`, in order.
fn templates(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let t = &text[offset + start..offset + start + len + 2];
        out.push(t);
        offset += start + len + 2;
        rest = &text[offset..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_role_names() {
        for name in [
            "eksClusterRole",
            "AmazonEKSClusterRole",
            "eks-cluster-role",
            "eksctl-prod-cluster-ServiceRole-1A2B3C",
            "prod-cluster-role",
        ] {
            assert!(looks_like_cluster_role(name), "{name}");
        }
        for name in [
            "eks-node-role",
            "prod-nodes",
            "cluster-autoscaler",
            "NodeInstanceRole",
        ] {
            assert!(!looks_like_cluster_role(name), "{name}");
        }
    }

    #[test]
    fn finds_templates() {
        assert_eq!(
            templates("a:{{SessionName}}-{{X}}"),
            ["{{SessionName}}", "{{X}}"]
        );
        assert!(templates("plain").is_empty());
        assert!(templates("{{open").is_empty());
    }
}
