//! Infrastructure-as-code output: the planned access entries as Terraform (plain resources or
//! the terraform-aws-eks module's `access_entries`), a CloudFormation template, or the
//! `accessConfig` of an eksctl ClusterConfig, for teams whose clusters are owned by such code.
//!
//! Pure functions from plan values to text. From a live plan, entries that already exist on the
//! cluster (made by EKS at the mode switch, by the tool, or by hand) are written as they will be
//! after the plan and marked for import, so the IaC takes them over instead of failing with
//! `ResourceInUseException`. Mappings that stay in aws-auth become comments naming their
//! findings. The tool's own `created-by` tag is never written: rollback deletes only entries
//! carrying it, and an entry owned by IaC must never be deleted by the tool.

mod cloudformation;
mod eksctl;
mod terraform;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use sha2::Digest as _;

use crate::model::{AccessScope, MappingId, Severity};
use crate::plan::ClusterPlan;
use crate::plan::reconcile::{ExistingEntry, Operation, TAG_CREATED_BY, TAG_RUN_ID};
use crate::plan::translate::Action;

/// The kinds of code the plan can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IacFormat {
    /// `aws_eks_access_entry` and `aws_eks_access_policy_association` resources.
    Terraform,
    /// A local for the terraform-aws-eks module's `access_entries` input.
    TerraformModule,
    /// `AWS::EKS::AccessEntry` resources.
    CloudFormation,
    /// The `accessConfig` section of an eksctl ClusterConfig.
    Eksctl,
}

impl IacFormat {
    /// The `-o` value.
    pub fn name(self) -> &'static str {
        match self {
            IacFormat::Terraform => "terraform",
            IacFormat::TerraformModule => "terraform-module",
            IacFormat::CloudFormation => "cloudformation",
            IacFormat::Eksctl => "eksctl",
        }
    }
}

impl IacFormat {
    /// Every file a rendering of this format may hold.
    pub fn file_names(self) -> &'static [&'static str] {
        match self {
            IacFormat::Terraform | IacFormat::TerraformModule => &["access-entries.tf"],
            IacFormat::CloudFormation => &[
                "access-entries.yaml",
                "import.yaml",
                "resources-to-import.json",
            ],
            IacFormat::Eksctl => &["eksctl.yaml"],
        }
    }
}

/// Choices the renderers leave to the user.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The name of the terraform-aws-eks module block (`module.NAME`), for import addresses.
    pub module: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            module: "eks".into(),
        }
    }
}

/// What the code is written from: a plan, and for a live plan what the cluster has.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub plan: &'a ClusterPlan,
    pub live: Option<Live<'a>>,
    /// Keys of aws-auth that could not be read (the plan's input errors; those of other files
    /// are ignored): their mappings are missing here as they are for the authenticator.
    pub errors: &'a [crate::plan::InputError],
}

/// The live state behind a plan.
#[derive(Debug, Clone, Copy)]
pub struct Live<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// The cluster's authentication mode, as EKS names it.
    pub authentication_mode: Option<&'a str>,
    pub existing: &'a [ExistingEntry],
    /// What `migrate --to entries` would send (`reconcile`).
    pub operations: &'a [Operation],
}

/// One file of output; the first of a rendering is the main one (what stdout shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: &'static str,
    pub text: String,
}

/// Writes `input` as `format`.
pub fn render(input: &Input<'_>, format: IacFormat, settings: &Settings) -> Vec<File> {
    let model = Model::build(input);
    match format {
        IacFormat::Terraform => vec![File {
            name: "access-entries.tf",
            text: terraform::resources(&model),
        }],
        IacFormat::TerraformModule => vec![File {
            name: "access-entries.tf",
            text: terraform::module(&model, &settings.module),
        }],
        IacFormat::CloudFormation => cloudformation::render(&model),
        IacFormat::Eksctl => vec![File {
            name: "eksctl.yaml",
            text: eksctl::render(&model),
        }],
    }
}

// ------------------------------------------------------------------------------------------------
// The model every renderer writes
// ------------------------------------------------------------------------------------------------

/// A cluster's access entries as the code should declare them.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub cluster: String,
    pub source: String,
    pub live: Option<LiveInfo>,
    pub entries: Vec<Entry>,
    /// Mappings that stay in aws-auth, with the blockers that say why.
    pub kept: Vec<Unmigrated>,
    /// Keys of aws-auth that could not be read, located.
    pub unreadable: Vec<String>,
    /// Mappings the authenticator does not use today.
    pub skipped: Vec<Unmigrated>,
    /// Entries on the cluster the code leaves alone, with the reason.
    pub left_out: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct LiveInfo {
    pub account: String,
    pub region: String,
    pub mode: Option<String>,
}

/// One access entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Stable, readable key derived from the principal (`eks_admin`).
    pub key: String,
    pub principal_arn: String,
    pub entry_type: String,
    /// `None`: EKS chooses (always for node types).
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub policies: Vec<Policy>,
    /// Tags to declare: the entry's own, never the tool's.
    pub tags: BTreeMap<String, String>,
    /// The entry as it exists on the cluster: the code imports it.
    pub current: Option<ExistingEntry>,
    /// Comment lines: where the entry comes from, its findings, what changes.
    pub notes: Vec<String>,
}

impl Entry {
    pub fn is_node(&self) -> bool {
        self.entry_type != "STANDARD"
    }
}

/// One access policy association of an entry.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    /// Readable key of the policy (`cluster_admin`), unique within its entry.
    pub key: String,
    pub policy_arn: String,
    pub scope: AccessScope,
    /// Already associated on the cluster: the code imports it.
    pub exists: bool,
}

/// A mapping that gets no access entry.
#[derive(Debug, Clone)]
pub(crate) struct Unmigrated {
    pub id: MappingId,
    pub arn: String,
    /// `severity code: message` of its findings.
    pub findings: Vec<String>,
}

impl Model {
    pub fn build(input: &Input<'_>) -> Model {
        let plan = input.plan;
        let findings_of = |id: MappingId, min: Severity| -> Vec<String> {
            plan.findings
                .iter()
                .filter(|f| f.mapping == Some(id) && f.severity >= min)
                .map(|f| format!("{} {}: {}", f.severity, f.code, f.message))
                .collect()
        };
        let codes_of = |id: MappingId| -> Vec<String> {
            plan.findings
                .iter()
                .filter(|f| f.mapping == Some(id) && f.severity >= Severity::Warning)
                .map(|f| format!("{} {}", f.severity, f.code))
                .collect()
        };
        let existing: HashMap<String, &ExistingEntry> = input
            .live
            .map(|l| l.existing)
            .unwrap_or_default()
            .iter()
            .map(|e| (e.principal_arn.to_lowercase(), e))
            .collect();
        let operations = input.live.map(|l| l.operations).unwrap_or_default();
        let mut entries = Vec::new();
        let mut matched = HashSet::new();
        let mut kept = Vec::new();
        let mut skipped = Vec::new();
        for m in &plan.mappings {
            let id = m.mapping.id;
            match (&m.access_entry, m.action) {
                (Some(want), _) => {
                    let mut notes = vec![{
                        let codes = codes_of(id);
                        if codes.is_empty() {
                            format!("{id} in aws-auth")
                        } else {
                            format!("{id} in aws-auth; {}", codes.join(", "))
                        }
                    }];
                    let lower = want.principal_arn.to_lowercase();
                    let entry = match existing.get(&lower) {
                        None => {
                            if input.live.is_some() {
                                notes.push("not on the cluster yet".into());
                            }
                            planned_entry(want, notes)
                        }
                        Some(have) => {
                            matched.insert(lower.clone());
                            let ops: Vec<&Operation> = operations
                                .iter()
                                .filter(|o| o.principal_arn().to_lowercase() == lower)
                                .collect();
                            adopted_entry(want, have, &ops, notes)
                        }
                    };
                    entries.push(entry);
                }
                (None, Action::Keep) => kept.push(Unmigrated {
                    id,
                    arn: m.mapping.arn.clone(),
                    findings: findings_of(id, Severity::Blocker),
                }),
                (None, _) => skipped.push(Unmigrated {
                    id,
                    arn: m.mapping.arn.clone(),
                    findings: codes_of(id),
                }),
            }
        }
        // Entries the cluster has and aws-auth does not name: declared as they are, so the code
        // owns every entry of the cluster (the creator's among them).
        let mut left_out = Vec::new();
        let mut others: Vec<&ExistingEntry> = input
            .live
            .map(|l| l.existing)
            .unwrap_or_default()
            .iter()
            .filter(|e| !matched.contains(&e.principal_arn.to_lowercase()))
            .collect();
        others.sort_by(|a, b| a.principal_arn.cmp(&b.principal_arn));
        for have in others {
            if crate::model::arn::parse(&have.principal_arn)
                .is_ok_and(|p| p.is_service_linked_role())
            {
                left_out.push(format!(
                    "{} ({}): a service-linked role's entry belongs to EKS, which refuses changes to it",
                    have.principal_arn, have.entry_type
                ));
                continue;
            }
            entries.push(existing_entry(have));
        }
        assign_keys(&mut entries);
        Model {
            cluster: plan.cluster.clone(),
            source: plan.source.clone(),
            live: input.live.map(|l| LiveInfo {
                account: l.account.to_string(),
                region: l.region.to_string(),
                mode: l.authentication_mode.map(str::to_string),
            }),
            entries,
            kept,
            unreadable: input
                .errors
                .iter()
                .filter(|e| *e.location.file == *plan.source)
                .map(|e| format!("{}: {}", e.location, e.message))
                .collect(),
            skipped,
            left_out,
        }
    }

    pub fn imported(&self) -> usize {
        self.entries.iter().filter(|e| e.current.is_some()).count()
    }

    pub fn associations(&self) -> usize {
        self.entries.iter().map(|e| e.policies.len()).sum()
    }

    /// The mode the code should leave the cluster in: `API_AND_CONFIG_MAP` (the dual stage)
    /// unless the cluster is already further.
    pub fn target_mode(&self) -> &str {
        match self.live.as_ref().and_then(|l| l.mode.as_deref()) {
            Some("API") => "API",
            _ => "API_AND_CONFIG_MAP",
        }
    }
}

/// An entry the plan creates.
fn planned_entry(want: &crate::model::AccessEntry, notes: Vec<String>) -> Entry {
    let node = want.entry_type.is_node();
    Entry {
        key: String::new(),
        principal_arn: want.principal_arn.clone(),
        entry_type: want.entry_type.as_str().to_string(),
        username: if node { None } else { want.username.clone() },
        groups: if node {
            Vec::new()
        } else {
            want.kubernetes_groups.clone()
        },
        policies: if node {
            Vec::new()
        } else {
            want.access_policies
                .iter()
                .map(|p| Policy {
                    key: String::new(),
                    policy_arn: p.policy_arn.clone(),
                    scope: p.access_scope.clone(),
                    exists: false,
                })
                .collect()
        },
        tags: BTreeMap::new(),
        current: None,
        notes,
    }
}

/// An entry the plan names that already exists: what it will be once `ops` (reconcile's
/// operations for it) are done, in EKS's spelling of the ARN (the import id must match).
fn adopted_entry(
    want: &crate::model::AccessEntry,
    have: &ExistingEntry,
    ops: &[&Operation],
    mut notes: Vec<String>,
) -> Entry {
    let mut entry = existing_entry_values(have);
    let carried = std::mem::take(&mut entry.notes);
    if let Some(Operation::Conflict { reason, .. }) =
        ops.iter().find(|o| matches!(o, Operation::Conflict { .. }))
    {
        notes.push(format!(
            "CONFLICT: declared as it exists, not as planned: {reason}"
        ));
        notes.extend(carried);
        entry.notes = notes;
        return entry;
    }
    if want.entry_type.is_node() {
        notes.push("on the cluster already (EKS makes node entries at the switch)".into());
        notes.extend(carried);
        entry.notes = notes;
        return entry;
    }
    let mut changes = Vec::new();
    for op in ops {
        match op {
            Operation::Update {
                username,
                kubernetes_groups,
                previous_username,
                previous_groups,
                ..
            } => {
                if let Some(u) = username
                    && previous_username.as_ref() != Some(u)
                {
                    changes.push(format!(
                        "username {} -> {u}",
                        previous_username.as_deref().unwrap_or("(none)")
                    ));
                    entry.username = Some(u.clone());
                }
                if !same_set(kubernetes_groups, previous_groups) {
                    changes.push(format!(
                        "groups [{}] -> [{}]",
                        previous_groups.join(", "),
                        kubernetes_groups.join(", ")
                    ));
                    if kubernetes_groups.is_empty() {
                        changes.push(
                            "Terraform cannot empty an entry's groups (the argument is optional and computed): clear them with `aws eks update-access-entry`".into(),
                        );
                    }
                    entry.groups = kubernetes_groups.clone();
                }
            }
            Operation::Associate {
                policy,
                previous_scope,
                ..
            } => {
                match previous_scope {
                    Some(before) => changes.push(format!(
                        "{} scope {before} -> {} (the association is replaced)",
                        policy.policy_name(),
                        policy.access_scope
                    )),
                    None => changes.push(format!(
                        "{} ({}) associated",
                        policy.policy_name(),
                        policy.access_scope
                    )),
                }
                match entry
                    .policies
                    .iter_mut()
                    .find(|p| p.policy_arn == policy.policy_arn)
                {
                    Some(p) => p.scope = policy.access_scope.clone(),
                    None => entry.policies.push(Policy {
                        key: String::new(),
                        policy_arn: policy.policy_arn.clone(),
                        scope: policy.access_scope.clone(),
                        exists: false,
                    }),
                }
            }
            _ => {}
        }
    }
    if changes.is_empty() {
        notes.push("on the cluster already, as planned".into());
    } else {
        notes.push(format!(
            "on the cluster already; the plan changes {}",
            changes.join("; ")
        ));
    }
    let planned: HashSet<&str> = want
        .access_policies
        .iter()
        .map(|p| p.policy_arn.as_str())
        .collect();
    let extra: Vec<&str> = entry
        .policies
        .iter()
        .filter(|p| !planned.contains(p.policy_arn.as_str()))
        .map(|p| p.policy_arn.rsplit('/').next().unwrap_or(&p.policy_arn))
        .collect();
    if !extra.is_empty() {
        notes.push(format!(
            "also associated on the cluster, kept as it is: {}",
            extra.join(", ")
        ));
    }
    notes.extend(carried);
    entry.notes = notes;
    entry
}

/// An entry the cluster has that aws-auth does not name.
fn existing_entry(have: &ExistingEntry) -> Entry {
    let mut entry = existing_entry_values(have);
    let who = if have.tags.contains_key(TAG_CREATED_BY) {
        "made by aws-auth-migrate for a mapping the plan no longer has"
    } else if entry.is_node() {
        "a node entry (EKS makes these for managed node groups and Fargate profiles)"
    } else {
        "not in aws-auth (EKS makes one for the cluster creator at the first switch; others come from people or other tools)"
    };
    entry.notes.insert(
        0,
        format!("on the cluster already, {who}: declared as it is"),
    );
    entry
}

/// The declaration of `have` as it exists, without the tool's tags.
fn existing_entry_values(have: &ExistingEntry) -> Entry {
    let node = have.entry_type != "STANDARD";
    let mut notes = Vec::new();
    if have.tags.contains_key(TAG_CREATED_BY) {
        notes.push(
            "made by aws-auth-migrate: its `aws-auth-migrate/` tags are left out, so `rollback` leaves the entry to this code"
                .to_string(),
        );
    }
    Entry {
        key: String::new(),
        principal_arn: have.principal_arn.clone(),
        entry_type: have.entry_type.clone(),
        username: if node { None } else { have.username.clone() },
        groups: if node {
            Vec::new()
        } else {
            have.kubernetes_groups.clone()
        },
        policies: have
            .access_policies
            .iter()
            .map(|p| Policy {
                key: String::new(),
                policy_arn: p.policy_arn.clone(),
                scope: p.access_scope.clone(),
                exists: true,
            })
            .collect(),
        tags: declared_tags(&have.tags),
        current: Some(have.clone()),
        notes,
    }
}

/// Tags the code may declare: not the tool's, and not `aws:` ones (AWS reserves them).
pub(crate) fn declared_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| {
            k.as_str() != TAG_CREATED_BY && k.as_str() != TAG_RUN_ID && !k.starts_with("aws:")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let x: HashSet<&String> = a.iter().collect();
    let y: HashSet<&String> = b.iter().collect();
    x == y
}

// ------------------------------------------------------------------------------------------------
// Keys
// ------------------------------------------------------------------------------------------------

/// Gives every entry a key from its principal's name (`eks_admin`), and every policy a key from
/// the policy's name (`cluster_admin`). A name shared by several principals gets the account,
/// then the kind, then a short hash of the ARN appended, so keys stay unique and only depend on
/// the set of principals.
fn assign_keys(entries: &mut [Entry]) {
    let candidates: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let (name, account, kind) = match crate::model::arn::parse(&e.principal_arn) {
                Ok(p) => (
                    p.name.clone(),
                    p.account.clone(),
                    match p.kind {
                        crate::model::arn::PrincipalKind::User => "user",
                        _ => "role",
                    },
                ),
                Err(_) => (
                    e.principal_arn
                        .rsplit(['/', ':'])
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    String::new(),
                    "principal",
                ),
            };
            let base = identifier(&name);
            let with_account = format!("{base}_{account}");
            let with_kind = format!("{with_account}_{kind}");
            vec![
                base,
                with_account,
                with_kind,
                format!("{}_{}", identifier(&name), short_hash(&e.principal_arn)),
            ]
        })
        .collect();
    let keys = unique(&candidates);
    for (e, k) in entries.iter_mut().zip(keys) {
        e.key = k;
        let candidates: Vec<Vec<String>> = e
            .policies
            .iter()
            .map(|p| {
                vec![
                    policy_key(&p.policy_arn),
                    format!(
                        "{}_{}",
                        policy_key(&p.policy_arn),
                        short_hash(&p.policy_arn)
                    ),
                ]
            })
            .collect();
        for (p, k) in e.policies.iter_mut().zip(unique(&candidates)) {
            p.key = k;
        }
    }
    // Associations are named `ENTRY_POLICY` (the module does the same); `a_b` + `view` and
    // `a` + `b_view` would meet, so such policies take their hashed key.
    let mut count: HashMap<String, usize> = HashMap::new();
    for e in entries.iter() {
        for p in &e.policies {
            *count.entry(format!("{}_{}", e.key, p.key)).or_default() += 1;
        }
    }
    for e in entries.iter_mut() {
        let key = e.key.clone();
        for p in &mut e.policies {
            if count[&format!("{key}_{}", p.key)] > 1 {
                p.key = format!(
                    "{}_{}",
                    p.key,
                    short_hash(&format!("{key}#{}", p.policy_arn))
                );
            }
        }
    }
}

/// Picks for each item the first of its candidates that no other item also picks, going to a
/// more specific candidate only where names collide. The last candidate is meant to be unique;
/// a numeric suffix settles what still collides.
pub(crate) fn unique(candidates: &[Vec<String>]) -> Vec<String> {
    let mut level = vec![0usize; candidates.len()];
    let pick = |i: usize, level: &[usize]| {
        let c = &candidates[i];
        c[level[i].min(c.len().saturating_sub(1))].clone()
    };
    loop {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for i in 0..candidates.len() {
            by_name.entry(pick(i, &level)).or_default().push(i);
        }
        let mut bumped = false;
        for group in by_name.values().filter(|g| g.len() > 1) {
            for &i in group {
                if level[i] + 1 < candidates[i].len() {
                    level[i] += 1;
                    bumped = true;
                }
            }
        }
        if !bumped {
            break;
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    (0..candidates.len())
        .map(|i| {
            let name = pick(i, &level);
            let n = seen.entry(name.clone()).or_default();
            *n += 1;
            if *n == 1 { name } else { format!("{name}_{n}") }
        })
        .collect()
}

/// A Terraform identifier from a name, in the snake case Terraform names use: lower case,
/// `[a-z0-9_]`, starting with a letter or `_`.
pub(crate) fn identifier(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push_str("entry");
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert(0, '_');
    }
    s
}

/// `AmazonEKSClusterAdminPolicy` → `cluster_admin`; other names in snake case.
pub(crate) fn policy_key(policy_arn: &str) -> String {
    let name = policy_arn.rsplit('/').next().unwrap_or(policy_arn);
    let short = name
        .strip_prefix("AmazonEKS")
        .and_then(|n| n.strip_suffix("Policy"))
        .filter(|n| !n.is_empty())
        .unwrap_or(name);
    let mut out = String::new();
    let mut previous_lower = false;
    for c in short.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    identifier(&out)
}

/// Eight hex digits of the SHA-256 of `s`.
fn short_hash(s: &str) -> String {
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..4])
}

/// `eks_admin-x` → `EksAdminX`: a CloudFormation logical id part (alphanumeric only).
pub(crate) fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Text shared by the renderers
// ------------------------------------------------------------------------------------------------

/// Text safe inside a `#` comment line: control characters and the line separators YAML 1.1
/// knows (NEL, LS, PS) are written as `\u{…}`, so nothing in aws-auth can end a comment early.
pub(crate) fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// `# line` for every line, with `indent` spaces before; lines longer than 100 columns are
/// wrapped at spaces, continued two columns further in.
pub(crate) fn comments(lines: &[String], indent: usize) -> String {
    const WIDTH: usize = 100;
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for line in lines {
        let line = comment_text(line);
        if line.is_empty() {
            let _ = writeln!(out, "{pad}#");
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let mut current = String::new();
        let mut first = true;
        for word in line.trim_start().split(' ') {
            let prefix = if first { lead } else { lead + 2 };
            if !current.is_empty() && indent + 2 + prefix + current.len() + 1 + word.len() > WIDTH {
                let _ = writeln!(out, "{pad}# {}{current}", " ".repeat(prefix));
                current.clear();
                first = false;
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        let prefix = if first { lead } else { lead + 2 };
        let _ = writeln!(out, "{pad}# {}{current}", " ".repeat(prefix));
    }
    out
}

/// The comment lines every rendering starts with: what it is, where it comes from, what stays
/// in aws-auth and what to do next.
pub(crate) fn header(model: &Model, format: IacFormat) -> Vec<String> {
    let mut lines = Vec::new();
    let origin = match &model.live {
        Some(l) => format!(
            "the live cluster {}/{} (mode {})",
            l.account,
            l.region,
            l.mode.as_deref().unwrap_or("unknown")
        ),
        None => format!("{} (offline plan)", model.source),
    };
    lines.push(format!(
        "EKS access entries of cluster {}, written by aws-auth-migrate from {origin}.",
        model.cluster
    ));
    let entries = model.entries.len();
    let imported = model.imported();
    lines.push(format!(
        "{}{}, {}; {} in aws-auth.",
        crate::report::plural(entries, "access entry"),
        if model.live.is_some() {
            format!(
                " ({} to create, {imported} on the cluster already{})",
                entries - imported,
                if format == IacFormat::Eksctl {
                    ", named in comments"
                } else {
                    ": imported"
                }
            )
        } else {
            String::new()
        },
        crate::report::plural(model.associations(), "policy association"),
        match model.kept.len() {
            1 => "1 mapping stays".to_string(),
            n => format!("{n} mappings stay"),
        },
    ));
    lines.push(
        "Review it like any change of who may use the cluster. The tool's created-by tag is never written here."
            .into(),
    );
    let before_switch = match &model.live {
        None => Some("Offline plan, so no imports"),
        Some(l) if l.mode.as_deref() == Some("CONFIG_MAP") => {
            Some("The cluster is still in CONFIG_MAP, so there is nothing to import yet")
        }
        Some(_) => None,
    };
    if let Some(why) = before_switch {
        lines.push(String::new());
        lines.push(format!(
            "{why}: EKS makes node, Fargate and cluster-creator entries itself at the switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch the mode first, then write this again from the live cluster:"
        ));
        lines.push(format!(
            "  aws-auth-migrate migrate --cluster {} --to dual   # or the authentication mode in your IaC",
            model.cluster
        ));
        lines.push(format!(
            "  aws-auth-migrate plan --cluster {} -o {}",
            model.cluster,
            format.name()
        ));
    }
    lines.push(String::new());
    lines.push("Then, once applied:".into());
    lines.push(format!(
        "  aws-auth-migrate verify --cluster {}            # parity, recorded for the api gate",
        model.cluster
    ));
    lines.push(format!(
        "  aws-auth-migrate migrate --cluster {} --to api --confirm {}",
        model.cluster, model.cluster
    ));
    lines.push(
        "and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that still says API_AND_CONFIG_MAP fails.".into(),
    );
    if !model.unreadable.is_empty() {
        lines.push(String::new());
        lines.push(
            "aws-auth could not be read in full; the mappings of these keys are missing here, as they are for the authenticator today:".into(),
        );
        for u in &model.unreadable {
            lines.push(format!("  {u}"));
        }
    }
    if !model.kept.is_empty() {
        lines.push(String::new());
        lines.push(
            "Mappings that stay in aws-auth (no access entry; the switch to API cuts them off unless resolved or named with --allow-drop):".into(),
        );
        for k in &model.kept {
            lines.push(format!("  {} {}", k.id, k.arn));
            for f in &k.findings {
                lines.push(format!("    {f}"));
            }
        }
    }
    if !model.skipped.is_empty() {
        lines.push(String::new());
        lines.push("Mappings not migrated because aws-auth does not use them today:".into());
        for s in &model.skipped {
            if s.findings.is_empty() {
                lines.push(format!("  {} {}", s.id, s.arn));
            } else {
                lines.push(format!("  {} {} ({})", s.id, s.arn, s.findings.join(", ")));
            }
        }
    }
    if !model.left_out.is_empty() {
        lines.push(String::new());
        lines.push("Entries on the cluster left out:".into());
        for l in &model.left_out {
            lines.push(format!("  {l}"));
        }
    }
    lines
}

/// A YAML scalar for `s`: plain when every YAML 1.1 and 1.2 reader takes it as this very
/// string, double-quoted (with escapes) otherwise.
pub(crate) fn yaml_str(s: &str) -> String {
    if plain_safe(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if yaml_printable(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Characters YAML 1.1 allows in a document as they are (its `c-printable`, minus the line
/// breaks NEL, LS and PS, which would be read as breaks).
fn yaml_printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

fn plain_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '/' || first == '_') {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./:@*+=,".contains(c))
    {
        return false;
    }
    if s.ends_with(':') {
        return false;
    }
    // YAML 1.1 booleans and nulls (1.2 readers only know true/false/null).
    !matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    )
}

/// A YAML tree in block style, with comment lines above map entries.
pub(crate) enum Yaml {
    /// A scalar, already written (`yaml_str`, or a tagged value such as `!Ref ClusterName`).
    Scalar(String),
    List(Vec<Yaml>),
    Map(Vec<(Vec<String>, String, Yaml)>),
}

impl Yaml {
    pub fn str(s: &str) -> Yaml {
        Yaml::Scalar(yaml_str(s))
    }

    pub fn strs(values: &[String]) -> Yaml {
        Yaml::List(values.iter().map(|v| Yaml::str(v)).collect())
    }

    /// A map without comments.
    pub fn map(entries: Vec<(&str, Yaml)>) -> Yaml {
        Yaml::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Vec::new(), k.to_string(), v))
                .collect(),
        )
    }

    pub fn write(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match self {
            Yaml::Scalar(s) => {
                let _ = writeln!(out, "{pad}{s}");
            }
            Yaml::List(items) if items.is_empty() => {
                let _ = writeln!(out, "{pad}[]");
            }
            Yaml::List(items) => {
                for item in items {
                    let mut text = String::new();
                    item.write(indent + 2, &mut text);
                    // The item's first line that is not a comment carries the dash.
                    // Comments before it stand at the dash's column.
                    let mut dashed = false;
                    for line in text.lines() {
                        if dashed {
                            let _ = writeln!(out, "{line}");
                        } else if line.trim_start().starts_with('#') {
                            let _ = writeln!(out, "{pad}{}", line.trim_start());
                        } else {
                            let _ = writeln!(out, "{pad}- {}", &line[indent + 2..]);
                            dashed = true;
                        }
                    }
                }
            }
            Yaml::Map(entries) if entries.is_empty() => {
                let _ = writeln!(out, "{pad}{{}}");
            }
            Yaml::Map(entries) => {
                for (notes, key, value) in entries {
                    out.push_str(&comments(notes, indent));
                    match value {
                        Yaml::Scalar(s) => {
                            let _ = writeln!(out, "{pad}{key}: {s}");
                        }
                        Yaml::List(items) if items.is_empty() => {
                            let _ = writeln!(out, "{pad}{key}: []");
                        }
                        Yaml::Map(entries) if entries.is_empty() => {
                            let _ = writeln!(out, "{pad}{key}: {{}}");
                        }
                        nested => {
                            let _ = writeln!(out, "{pad}{key}:");
                            nested.write(indent + 2, out);
                        }
                    }
                }
            }
        }
    }
}

/// A quoted HCL string with `s` as its literal value: escapes, and `${`/`%{` doubled so that
/// Terraform does not read them as interpolation or template directives.
pub(crate) fn hcl_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyAssociation;

    const AWS_AUTH: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: aws-auth, namespace: kube-system}
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/nodes
      username: system:node:{{EC2PrivateDNSName}}
      groups: [system:bootstrappers, system:nodes]
    - rolearn: arn:aws:iam::111122223333:role/admin
      username: admin
      groups: [system:masters, ops]
    - rolearn: arn:aws:iam::111122223333:role/viewer
      username: viewer
      groups: [viewers]
";

    fn existing(arn: &str, ty: &str, groups: &[&str], tags: &[(&str, &str)]) -> ExistingEntry {
        ExistingEntry {
            principal_arn: arn.into(),
            entry_type: ty.into(),
            username: (ty == "STANDARD").then(|| "old".to_string()),
            kubernetes_groups: groups.iter().map(|g| g.to_string()).collect(),
            access_policies: Vec::new(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            access_entry_arn: None,
        }
    }

    /// A live plan with an entry the tool made (tagged, groups to change), one of the wrong
    /// type, a hand-made one outside aws-auth and a service-linked role's.
    fn rendered(format: IacFormat) -> Vec<File> {
        let source = crate::source::SourceFile::new("live", AWS_AUTH);
        let plan = crate::plan::plan_source("prod", &source, Default::default())
            .0
            .unwrap();
        let mut hand = existing(
            "arn:aws:iam::111122223333:role/auditor",
            "STANDARD",
            &[],
            &[("aws:cloudformation:stack-name", "s")],
        );
        hand.access_policies.push(PolicyAssociation {
            policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy".into(),
            access_scope: AccessScope::Namespace {
                namespaces: vec!["apps".into()],
            },
        });
        let entries = vec![
            existing(
                "arn:aws:iam::111122223333:role/admin",
                "STANDARD",
                &["old-group"],
                &[
                    (TAG_CREATED_BY, "aws-auth-migrate"),
                    (TAG_RUN_ID, "r1"),
                    ("team", "platform"),
                ],
            ),
            existing(
                "arn:aws:iam::111122223333:role/nodes",
                "EC2_WINDOWS",
                &[],
                &[],
            ),
            hand,
            existing(
                "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
                "STANDARD",
                &[],
                &[],
            ),
        ];
        let desired: Vec<_> = plan
            .mappings
            .iter()
            .filter_map(|m| m.access_entry.clone())
            .collect();
        let operations = crate::plan::reconcile::reconcile(&desired, &entries);
        let input = Input {
            plan: &plan,
            live: Some(Live {
                account: "111122223333",
                region: "us-east-1",
                authentication_mode: Some("API_AND_CONFIG_MAP"),
                existing: &entries,
                operations: &operations,
            }),
            errors: &[],
        };
        render(&input, format, &Settings::default())
    }

    #[test]
    fn existing_entries_are_imported_as_the_plan_leaves_them_without_the_tools_tags() {
        let tf = &rendered(IacFormat::Terraform)[0].text;
        // The tool's tags go, the entry's own stay; groups are the plan's.
        assert!(!tf.contains("created-by\" ="), "{tf}");
        assert!(!tf.contains("run-id"), "{tf}");
        assert!(!tf.contains("aws:cloudformation"), "{tf}");
        assert!(tf.contains("\"team\" = \"platform\""), "{tf}");
        assert!(tf.contains("kubernetes_groups = [\"ops\"]"), "{tf}");
        assert!(tf.contains("groups [old-group] -> [ops]"), "{tf}");
        assert!(
            tf.contains("its `aws-auth-migrate/` tags are left out"),
            "{tf}"
        );
        // A type conflict is declared as it exists, never replaced.
        assert!(tf.contains("type          = \"EC2_WINDOWS\""), "{tf}");
        assert!(tf.contains("CONFLICT"), "{tf}");
        // The hand-made entry is declared with its namespaced policy; imports for all three,
        // and for the associations that exist.
        for id in [
            "prod:arn:aws:iam::111122223333:role/admin",
            "prod:arn:aws:iam::111122223333:role/nodes",
            "prod:arn:aws:iam::111122223333:role/auditor",
            "prod#arn:aws:iam::111122223333:role/auditor#arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        ] {
            assert!(tf.contains(&format!("id = \"{id}\"")), "{id}\n{tf}");
        }
        assert!(tf.contains("namespaces = [\"apps\"]"), "{tf}");
        // The admin policy is new on an existing entry: created, not imported.
        assert!(
            !tf.contains("prod#arn:aws:iam::111122223333:role/admin#"),
            "{tf}"
        );
        assert_eq!(tf.matches("import {").count(), 4, "{tf}");
        // The service-linked role's entry is named, not declared.
        assert!(!tf.contains("resource \"aws_eks_access_entry\" \"awsserviceroleforamazoneks\""));
        assert!(
            tf.contains("a service-linked role's entry belongs to EKS"),
            "{tf}"
        );
    }

    #[test]
    fn every_file_written_is_a_known_name_of_its_format() {
        for format in [
            IacFormat::Terraform,
            IacFormat::TerraformModule,
            IacFormat::CloudFormation,
            IacFormat::Eksctl,
        ] {
            for f in rendered(format) {
                assert!(format.file_names().contains(&f.name), "{}", f.name);
            }
        }
    }

    #[test]
    fn cloudformation_imports_what_exists_as_it_is() {
        let files = rendered(IacFormat::CloudFormation);
        let names: Vec<&str> = files.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "access-entries.yaml",
                "import.yaml",
                "resources-to-import.json"
            ]
        );
        // The import records the truth, tags included; the template drops the tool's.
        assert!(
            files[1].text.contains("Value: aws-auth-migrate"),
            "{}",
            files[1].text
        );
        assert!(files[1].text.contains("- old-group"), "{}", files[1].text);
        assert!(
            !files[0].text.contains("Value: aws-auth-migrate"),
            "{}",
            files[0].text
        );
        assert_eq!(files[0].text.matches("DeletionPolicy: Retain").count(), 3);
        let list: serde_json::Value = serde_json::from_str(&files[2].text).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 3);
    }

    #[test]
    fn eksctl_lists_existing_entries_only_in_comments() {
        let text = &rendered(IacFormat::Eksctl)[0].text;
        let doc: serde_json::Value = serde_saphyr::from_str(text).unwrap();
        let arns: Vec<&str> = doc["accessConfig"]["accessEntries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["principalARN"].as_str().unwrap())
            .collect();
        assert_eq!(arns, ["arn:aws:iam::111122223333:role/viewer"]);
        assert!(
            text.contains("#   arn:aws:iam::111122223333:role/admin (STANDARD)"),
            "{text}"
        );
        assert_eq!(doc["metadata"]["region"], "us-east-1");
    }

    #[test]
    fn hcl_strings_never_interpolate() {
        assert_eq!(hcl_str("ci:{{SessionName}}"), "\"ci:{{SessionName}}\"");
        assert_eq!(hcl_str("a${b}%{c}"), "\"a$${b}%%{c}\"");
        assert_eq!(hcl_str("$${"), "\"$$${\"");
        assert_eq!(hcl_str("q\"\\\n"), "\"q\\\"\\\\\\n\"");
        assert_eq!(hcl_str("\u{7}"), "\"\\u0007\"");
    }

    #[test]
    fn yaml_scalars_are_plain_only_when_unambiguous() {
        assert_eq!(
            yaml_str("arn:aws:iam::1:role/a-b"),
            "arn:aws:iam::1:role/a-b"
        );
        for quoted in [
            "",
            "yes",
            "On",
            "null",
            "0777",
            "1.5",
            "-x",
            "*x",
            "a b",
            "x:",
            "{{SessionName}}",
            "a#b",
            "é",
        ] {
            assert!(yaml_str(quoted).starts_with('"'), "{quoted}");
        }
        assert_eq!(yaml_str("a\u{85}b"), "\"a\\u0085b\"");
        assert_eq!(yaml_str("\u{2028}"), "\"\\u2028\"");
    }

    #[test]
    fn comments_cannot_be_ended_early() {
        assert_eq!(
            comment_text("a\nb\u{85}c\u{2028}"),
            "a\\u{a}b\\u{85}c\\u{2028}"
        );
    }

    #[test]
    fn keys_are_readable_and_unique() {
        assert_eq!(
            policy_key("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
            "cluster_admin"
        );
        assert_eq!(
            policy_key("arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"),
            "admin_view"
        );
        assert_eq!(
            identifier("eks-prod-node-group-NodeInstanceRole"),
            "eks_prod_node_group_nodeinstancerole"
        );
        assert_eq!(identifier("9lives"), "_9lives");
        assert_eq!(camel("eks_admin-x"), "EksAdminX");
        let names = unique(&[
            vec!["a".into(), "a_1".into()],
            vec!["a".into(), "a_2".into()],
            vec!["b".into(), "b_1".into()],
        ]);
        assert_eq!(names, ["a_1", "a_2", "b"]);
        let names = unique(&[vec!["a".into()], vec!["a".into()]]);
        assert_eq!(names, ["a", "a_2"]);
    }
}
