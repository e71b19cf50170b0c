//! Parity verification (design.md "verify"): every principal can do after the migration what it
//! could do before, and nothing more unless declared.
//!
//! Before: the identity aws-auth gives the principal (username and groups, templates filled
//! with a fixed probe session name), asked of the cluster with SubjectAccessReview. After: the
//! identity of the principal's access entry as it exists in EKS, asked the same way for RBAC,
//! plus the entry's access policies evaluated from their published rules ([`crate::access_policy`]),
//! because a SubjectAccessReview about another user does not reflect them (domain.md §6).
//! Identical identities are asked once, so the cost follows distinct identities, not principals.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use serde::Serialize;

use crate::access_policy::{self, Probe};
use crate::arn::{self, Principal};
use crate::kubeapi::{KubeAccess, KubeError};
use crate::model::{AccessEntry, MappingId, PolicyAssociation};
use crate::rbac::{self, Rbac, Resources};
use crate::reconcile::ExistingEntry;
use crate::translate::{Action, PlannedMapping};

/// The session name templates are filled with while probing.
pub const PROBE_SESSION: &str = "aws-auth-migrate-probe";
/// SubjectAccessReviews in flight at once.
pub const CONCURRENCY: usize = 8;

/// A Kubernetes identity: what an authenticator hands the API server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Identity {
    pub username: String,
    /// Sorted, with `system:authenticated` as the API server adds it.
    pub groups: Vec<String>,
}

impl Identity {
    fn new(username: String, groups: impl IntoIterator<Item = String>) -> Self {
        let mut groups: Vec<String> = groups.into_iter().filter(|g| !g.is_empty()).collect();
        groups.push("system:authenticated".into());
        groups.sort();
        groups.dedup();
        Identity { username, groups }
    }
}

/// Fills the authenticator's templates the way it would for a probe session of `p`.
pub fn render(template: &str, p: &Principal) -> String {
    template
        .replace("{{AccountID}}", &p.account)
        .replace("{{SessionNameRaw}}", PROBE_SESSION)
        .replace("{{SessionName}}", PROBE_SESSION)
        .replace("{{AccessKeyID}}", "ASIAAWSAUTHMIGRATEPROBE")
}

/// The identity aws-auth gives a mapping.
pub fn before_identity(m: &PlannedMapping, p: &Principal) -> Identity {
    let username = render(m.mapping.username.as_deref().unwrap_or_default(), p);
    Identity::new(username, m.mapping.groups.iter().map(|g| render(g, p)))
}

/// The identity an access entry gives its principal (EKS's default username when none is set).
pub fn after_identity(username: Option<&str>, groups: &[String], p: &Principal) -> Identity {
    let username = match username {
        Some(u) => render(u, p),
        None => render(&p.default_username(&p.path), p),
    };
    Identity::new(username, groups.iter().cloned())
}

/// The verdict for one principal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalParity {
    pub mapping: MappingId,
    pub principal_arn: String,
    pub before: Identity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Identity>,
    pub policies: Vec<String>,
    /// Allowed before, denied after: blocks the switch to API.
    pub lost: Vec<String>,
    /// Denied before, allowed after.
    pub gained: Vec<String>,
    /// Every gain comes from a policy the policy map asked for (within the planned scope).
    pub gained_declared: bool,
    pub unchanged: usize,
    /// Why the principal has no `after` (no entry, a node role…), when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// (probe, allowed before, allowed after as predicted), for checks as the real principal.
    #[serde(skip)]
    pub decisions: Vec<(Probe, bool, bool)>,
}

/// The result of a verification.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityReport {
    pub cluster: String,
    pub plan_hash: String,
    pub passed: bool,
    pub principals: Vec<PrincipalParity>,
    /// Distinct identities asked about, and SubjectAccessReviews sent.
    pub identities: usize,
    pub reviews: usize,
    /// Checks made as the real principal (`--probe-as`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probed_as: Vec<ProbedAs>,
}

/// What a principal's own token was allowed, next to what the verification predicted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbedAs {
    pub role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingId>,
    pub checked: usize,
    /// Probes whose real answer differs from the prediction.
    pub mismatches: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ParityReport {
    pub fn lost(&self) -> usize {
        self.principals.iter().map(|p| p.lost.len()).sum()
    }
    pub fn gained(&self) -> usize {
        self.principals.iter().map(|p| p.gained.len()).sum()
    }
}

/// A stable hash of the desired entries: a verification holds for one plan only.
pub fn plan_hash(entries: &[AccessEntry]) -> String {
    use sha2::Digest;
    let mut sorted: Vec<&AccessEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        a.principal_arn
            .to_lowercase()
            .cmp(&b.principal_arn.to_lowercase())
    });
    let text = serde_json::to_string(&sorted).expect("entries serialize");
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..12])
}

/// What the verification needs about the cluster besides its plan.
pub struct Inputs<'a> {
    pub cluster: &'a str,
    pub mappings: &'a [PlannedMapping],
    pub existing: &'a [ExistingEntry],
    pub rbac: &'a Rbac,
    pub resources: &'a Resources,
    /// Policy names the policy map declared (their gains are expected).
    pub declared_policies: BTreeSet<String>,
    /// Mappings or ARNs allowed to be dropped.
    pub allow_drop: &'a [String],
    /// Lower-cased principal ARN → IAM unique id when the tool created its entry (journal).
    pub created_ids: HashMap<String, String>,
}

/// Runs the verification against the cluster's own SubjectAccessReview.
pub async fn verify(kube: &KubeAccess, inputs: &Inputs<'_>) -> Result<ParityReport, KubeError> {
    let existing: HashMap<String, &ExistingEntry> = inputs
        .existing
        .iter()
        .map(|e| (e.principal_arn.to_lowercase(), e))
        .collect();
    let mut namespaces: BTreeSet<String> =
        ["default".to_string(), "kube-system".to_string()].into();
    namespaces.extend(inputs.rbac.binding_namespaces());
    let base = rbac::baseline(&namespaces);

    // Work out, per principal, the identities and probes; then ask each (identity, probe) once.
    struct Work {
        index: usize,
        before: Identity,
        after: Option<(Identity, Vec<PolicyAssociation>)>,
        /// The planned associations of policies the policy map declared.
        declared: Vec<PolicyAssociation>,
        probes: BTreeSet<Probe>,
    }
    let mut results: Vec<PrincipalParity> = Vec::new();
    let mut work: Vec<Work> = Vec::new();
    let mut questions: BTreeSet<(Identity, Probe)> = BTreeSet::new();
    let mut probe_cache: HashMap<Identity, BTreeSet<Probe>> = HashMap::new();
    for m in inputs.mappings.iter().filter(|m| m.action != Action::Skip) {
        let Some(p) = m
            .principal
            .clone()
            .or_else(|| arn::parse(&m.mapping.arn).ok())
        else {
            // mapAccounts and sso matchers: dropped at the switch unless allowed.
            results.push(dropped(
                m,
                inputs.allow_drop,
                "no single principal: it has no access-entry equivalent",
            ));
            continue;
        };
        let before = before_identity(m, &p);
        let planned = m.access_entry.as_ref();
        // Looked up case-insensitively, shown as written.
        let arn = planned.map_or_else(|| m.mapping.arn.clone(), |e| e.principal_arn.clone());
        let have = existing.get(&arn.to_lowercase());
        if planned.is_some_and(|e| e.entry_type.is_node()) {
            results.push(PrincipalParity {
                mapping: m.mapping.id,
                principal_arn: have.map_or_else(|| arn.clone(), |h| h.principal_arn.clone()),
                before,
                after: None,
                policies: Vec::new(),
                lost: Vec::new(),
                gained: Vec::new(),
                gained_declared: false,
                decisions: Vec::new(),
                unchanged: 0,
                note: Some(match have {
                    Some(h) => format!("node entry of type {}: nodes are authorized by the node authorizer, not checked here", h.entry_type),
                    None => "node role without an access entry yet: run --to entries".into(),
                }),
            });
            if have.is_none() {
                let last = results.last_mut().expect("just pushed");
                last.lost.push("every request (no access entry)".into());
            }
            continue;
        }
        // EKS binds an entry to the principal's unique id: a role deleted and recreated since the
        // tool created its entry leaves the entry dead (domain.md §9.7).
        let recreated = planned.and_then(|e| {
            let now = e.principal_id.as_ref()?;
            let then = inputs.created_ids.get(&e.principal_arn.to_lowercase())?;
            (now != then).then(|| {
                format!(
                    "every request: the IAM role was recreated (unique id {then} when its entry was created, {now} now), so the entry no longer matches it; delete the entry and run --to entries again"
                )
            })
        });
        let after = have.map(|h| {
            (
                after_identity(h.username.as_deref(), &h.kubernetes_groups, &p),
                h.access_policies.clone(),
            )
        });
        let mut probes = BTreeSet::new();
        for identity in std::iter::once(&before).chain(after.as_ref().map(|(i, _)| i)) {
            let ps = probe_cache.entry(identity.clone()).or_insert_with(|| {
                inputs
                    .rbac
                    .grants_for(&identity.username, &identity.groups)
                    .iter()
                    .flat_map(|g| rbac::probes_of(g, inputs.resources))
                    .collect()
            });
            probes.extend(ps.iter().cloned());
        }
        probes.extend(base.iter().cloned());
        for probe in &probes {
            questions.insert((before.clone(), probe.clone()));
            if let Some((identity, _)) = &after {
                questions.insert((identity.clone(), probe.clone()));
            }
        }
        let declared = planned
            .map(|e| {
                e.access_policies
                    .iter()
                    .filter(|p| inputs.declared_policies.contains(p.policy_name()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        work.push(Work {
            index: results.len(),
            before,
            after,
            declared,
            probes,
        });
        results.push(PrincipalParity {
            mapping: m.mapping.id,
            principal_arn: have.map_or(arn, |h| h.principal_arn.clone()),
            before: Identity::new(String::new(), []),
            after: None,
            policies: Vec::new(),
            lost: Vec::new(),
            gained: Vec::new(),
            gained_declared: false,
            decisions: Vec::new(),
            unchanged: 0,
            note: None,
        });
        if let Some(dead) = recreated {
            results.last_mut().expect("just pushed").lost.push(dead);
        }
    }

    let identities: BTreeSet<&Identity> = questions.iter().map(|(i, _)| i).collect();
    let identities = identities.len();
    // Each review asks for the client anew: a long verification outlives one EKS token, and
    // `client()` renews it before it expires.
    let answers: Vec<((Identity, Probe), Result<bool, KubeError>)> =
        futures::stream::iter(questions)
            .map(|q| async move {
                let answer = match kube.client().await {
                    Ok(client) => review(&client, &q.0, &q.1).await,
                    Err(e) => Err(e),
                };
                (q, answer)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let reviews = answers.len();
    let mut decided: HashMap<(Identity, Probe), bool> = HashMap::new();
    for (q, a) in answers {
        decided.insert(q, a?);
    }

    for w in work {
        let r = &mut results[w.index];
        r.before = w.before.clone();
        let Some((after, policies)) = w.after else {
            r.note = Some("no access entry exists for this principal: at the switch to API it loses everything aws-auth granted".into());
            let lost: Vec<String> = w
                .probes
                .iter()
                .filter(|p| decided[&(w.before.clone(), (*p).clone())])
                .map(ToString::to_string)
                .collect();
            if allowed(inputs.allow_drop, r.mapping, &r.principal_arn) {
                r.note = Some("dropped at the switch to API, as --allow-drop says".into());
            } else {
                r.lost = if lost.is_empty() {
                    vec!["authentication (no access entry)".into()]
                } else {
                    lost
                };
            }
            continue;
        };
        r.policies = policies
            .iter()
            .map(|p| format!("{} ({})", p.policy_name(), p.access_scope))
            .collect();
        let mut undeclared = false;
        for probe in &w.probes {
            let was = decided[&(w.before.clone(), probe.clone())];
            let is = decided[&(after.clone(), probe.clone())]
                || policies.iter().any(|pa| access_policy::allows(pa, probe));
            r.decisions.push((probe.clone(), was, is));
            match (was, is) {
                (true, false) => r.lost.push(probe.to_string()),
                (false, true) => {
                    r.gained.push(probe.to_string());
                    undeclared |= !w.declared.iter().any(|pa| access_policy::allows(pa, probe));
                }
                _ => r.unchanged += 1,
            }
        }
        r.gained_declared = !undeclared && !r.gained.is_empty();
        r.after = Some(after);
    }
    let passed = results.iter().all(|r| r.lost.is_empty());
    let desired: Vec<AccessEntry> = inputs
        .mappings
        .iter()
        .filter_map(|m| m.access_entry.clone())
        .collect();
    Ok(ParityReport {
        cluster: inputs.cluster.to_string(),
        plan_hash: plan_hash(&desired),
        passed,
        principals: results,
        identities,
        reviews,
        probed_as: Vec::new(),
    })
}

/// `--probe-as ROLE_ARN`: assumes the role, makes its own EKS token and asks
/// SelfSubjectAccessReview for the principal's probes. This exercises the real EKS path,
/// access policies included, and catches what a model cannot (a recreated IAM role whose entry
/// no longer matches, domain.md §9.7). A probe allowed before and denied as the real principal
/// counts as lost.
pub async fn probe_as(
    report: &mut ParityReport,
    roles: &[String],
    sdk: &aws_config::SdkConfig,
    cluster: &crate::eks::ClusterInfo,
) {
    let sts = aws_sdk_sts::Client::new(sdk);
    for role_arn in roles {
        let mut result = ProbedAs {
            role_arn: role_arn.clone(),
            mapping: None,
            checked: 0,
            mismatches: Vec::new(),
            error: None,
        };
        let wanted = arn::parse(role_arn)
            .ok()
            .map(|p| (p.account, p.name.to_lowercase()));
        let index = report.principals.iter().position(|p| {
            arn::parse(&p.principal_arn)
                .ok()
                .map(|q| (q.account, q.name.to_lowercase()))
                == wanted
                && wanted.is_some()
        });
        let Some(index) = index else {
            result.error = Some("no mapping of this cluster names this role".into());
            report.probed_as.push(result);
            continue;
        };
        result.mapping = Some(report.principals[index].mapping);
        let creds = match sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(PROBE_SESSION)
            .send()
            .await
        {
            Ok(out) => match out.credentials() {
                Some(c) => aws_credential_types::Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_string()),
                    None,
                    "probe-as",
                ),
                None => {
                    result.error = Some("AssumeRole returned no credentials".into());
                    report.probed_as.push(result);
                    continue;
                }
            },
            Err(e) => {
                use aws_sdk_sts::error::ProvideErrorMetadata;
                result.error = Some(format!(
                    "cannot assume the role: {}: {}",
                    e.code().unwrap_or("error"),
                    e.message().unwrap_or("no message")
                ));
                report.probed_as.push(result);
                continue;
            }
        };
        let access = KubeAccess::Token {
            cluster: Box::new(cluster.clone()),
            credentials: aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            cached: tokio::sync::Mutex::new(None),
        };
        let client = match access.client().await {
            Ok(c) => c,
            Err(e) => {
                result.error = Some(e.to_string());
                report.probed_as.push(result);
                continue;
            }
        };
        let decisions = report.principals[index].decisions.clone();
        for (probe, before, predicted) in decisions {
            let actual = match self_review(&client, &probe).await {
                Ok(a) => a,
                // Refused outright (401/403 on the review itself): the principal can do nothing.
                Err(e) if matches!(e.status(), Some(401 | 403)) => false,
                Err(e) => {
                    result.error = Some(e.to_string());
                    break;
                }
            };
            result.checked += 1;
            if actual != predicted {
                result.mismatches.push(format!(
                    "{probe}: predicted {}, the real principal is {}",
                    if predicted { "allowed" } else { "denied" },
                    if actual { "allowed" } else { "denied" }
                ));
            }
            if before && !actual {
                let entry = format!("{probe} (as the real principal)");
                let p = &mut report.principals[index];
                if !p.lost.iter().any(|l| l == &probe.to_string()) {
                    p.lost.push(entry);
                }
            }
        }
        report.probed_as.push(result);
    }
    report.passed = report.principals.iter().all(|r| r.lost.is_empty())
        && report.probed_as.iter().all(|p| p.error.is_none());
}

async fn self_review(client: &kube::Client, probe: &Probe) -> Result<bool, KubeError> {
    use k8s_openapi::api::authorization::v1::{
        SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let (resource_attributes, non_resource_attributes) = attributes(probe);
    let spec = SelfSubjectAccessReviewSpec {
        resource_attributes,
        non_resource_attributes,
    };
    let review = SelfSubjectAccessReview {
        spec,
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    Ok(api
        .create(&PostParams::default(), &review)
        .await?
        .status
        .is_some_and(|s| s.allowed))
}

fn allowed(allow: &[String], id: MappingId, arn: &str) -> bool {
    allow
        .iter()
        .any(|a| a == &id.to_string() || a.eq_ignore_ascii_case(arn))
}

fn dropped(m: &PlannedMapping, allow: &[String], why: &str) -> PrincipalParity {
    let ok = allowed(allow, m.mapping.id, &m.mapping.arn);
    PrincipalParity {
        mapping: m.mapping.id,
        principal_arn: m.mapping.arn.clone(),
        before: Identity::new(
            m.mapping.username.clone().unwrap_or_default(),
            m.mapping.groups.clone(),
        ),
        after: None,
        policies: Vec::new(),
        lost: if ok {
            Vec::new()
        } else {
            vec![format!("authentication ({why})")]
        },
        gained: Vec::new(),
        gained_declared: false,
        decisions: Vec::new(),
        unchanged: 0,
        note: Some(if ok {
            "dropped at the switch to API, as --allow-drop says".into()
        } else {
            why.to_string()
        }),
    }
}

/// A probe as the attributes of an access review.
fn attributes(probe: &Probe) -> (Option<ResourceAttributes>, Option<NonResourceAttributes>) {
    if !probe.path.is_empty() {
        let attrs = NonResourceAttributes {
            verb: Some(probe.verb.clone()),
            path: Some(probe.path.clone()),
        };
        return (None, Some(attrs));
    }
    let attrs = ResourceAttributes {
        verb: Some(probe.verb.clone()),
        group: Some(probe.group.clone()),
        resource: Some(probe.resource.clone()),
        subresource: (!probe.subresource.is_empty()).then(|| probe.subresource.clone()),
        namespace: (!probe.namespace.is_empty()).then(|| probe.namespace.clone()),
        ..ResourceAttributes::default()
    };
    (Some(attrs), None)
}

/// One SubjectAccessReview, retried on throttling and server errors.
async fn review(
    client: &kube::Client,
    identity: &Identity,
    probe: &Probe,
) -> Result<bool, KubeError> {
    let (resource_attributes, non_resource_attributes) = attributes(probe);
    let spec = SubjectAccessReviewSpec {
        user: Some(identity.username.clone()),
        groups: Some(identity.groups.clone()),
        resource_attributes,
        non_resource_attributes,
        ..SubjectAccessReviewSpec::default()
    };
    let sar = SubjectAccessReview {
        spec,
        ..SubjectAccessReview::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let mut delay = std::time::Duration::from_millis(100);
    for attempt in 1.. {
        match api.create(&PostParams::default(), &sar).await {
            Ok(r) => return Ok(r.status.is_some_and(|s| s.allowed)),
            Err(e) => {
                let e = KubeError::Api(e);
                let retryable = matches!(e.status(), Some(429 | 500..=599)) || e.status().is_none();
                if !retryable || attempt >= 6 {
                    return Err(e);
                }
                tracing::info!(
                    attempt,
                    delay_ms = delay.as_millis(),
                    "retrying SubjectAccessReview: {e}"
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}

/// Reads the cluster's RBAC objects and the resources it serves.
pub async fn read_rbac(kube: &KubeAccess) -> Result<(Rbac, Resources), KubeError> {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use kube::api::ListParams;
    let client = kube.client().await?;
    let lp = ListParams::default();
    let mut rbac = Rbac::default();
    for o in Api::<ClusterRole>::all(client.clone()).list(&lp).await? {
        rbac.cluster_roles
            .insert(o.metadata.name.clone().unwrap_or_default(), o);
    }
    for o in Api::<Role>::all(client.clone()).list(&lp).await? {
        rbac.roles.insert(
            (
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
            ),
            o,
        );
    }
    rbac.cluster_role_bindings = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&lp)
        .await?
        .items;
    rbac.role_bindings = Api::<RoleBinding>::all(client.clone())
        .list(&lp)
        .await?
        .items;
    let mut resources = rbac::well_known_resources();
    // Wildcards are sampled from what the cluster serves, too; a thin discovery is not fatal.
    if let Ok(discovery) = kube::discovery::Discovery::new(client).run().await {
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                let list = resources.entry(ar.group.clone()).or_default();
                if !list.iter().any(|(n, _)| n == &ar.plural) {
                    list.push((
                        ar.plural.clone(),
                        caps.scope == kube::discovery::Scope::Namespaced,
                    ));
                }
            }
        }
    }
    Ok((rbac, resources))
}

/// Renders the report as markdown, for a pull request or a change ticket.
pub fn render_markdown(r: &ParityReport) -> String {
    use std::fmt::Write as _;
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!(
        "# Access parity of `{}`\n\nPlan `{}`: **{}**. {} principals, {} lost, {} gained ({} distinct identities, {} SubjectAccessReviews).\n\n",
        r.cluster,
        r.plan_hash,
        if r.passed { "passed" } else { "failed" },
        r.principals.len(),
        r.lost(),
        r.gained(),
        r.identities,
        r.reviews
    );
    out.push_str("| Mapping | Principal | State | Lost | Gained |\n|---|---|---|---|---|\n");
    for p in &r.principals {
        let state = if !p.lost.is_empty() {
            "**lost**"
        } else if p.gained_declared {
            "gained (declared)"
        } else if !p.gained.is_empty() {
            "gained"
        } else {
            "unchanged"
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {state} | {} | {} |",
            p.mapping,
            p.principal_arn,
            cell(&p.lost.join("<br>")),
            cell(&p.gained.join("<br>"))
        );
    }
    out
}

/// Renders the report for people.
pub fn render_table(r: &ParityReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Verification of {} (plan {}): {}; {} principals, {} distinct identities, {} SubjectAccessReviews",
        r.cluster,
        r.plan_hash,
        if r.passed { "PASSED" } else { "FAILED" },
        r.principals.len(),
        r.identities,
        r.reviews
    );
    let _ = writeln!(out, "  {} lost, {} gained\n", r.lost(), r.gained());
    for p in &r.probed_as {
        let _ = writeln!(
            out,
            "  as {}: {} probes checked with its own token, {} differ from the prediction{}",
            p.role_arn,
            p.checked,
            p.mismatches.len(),
            p.error
                .as_ref()
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default()
        );
        for m in &p.mismatches {
            let _ = writeln!(out, "      {m}");
        }
    }
    let mut by_state: BTreeMap<u8, Vec<&PrincipalParity>> = BTreeMap::new();
    for p in &r.principals {
        let key = if !p.lost.is_empty() {
            0
        } else if !p.gained.is_empty() {
            1
        } else {
            2
        };
        by_state.entry(key).or_default().push(p);
    }
    for (key, ps) in by_state {
        for p in ps {
            let state = match key {
                0 => "LOST",
                1 if p.gained_declared => "gained (declared)",
                1 => "gained",
                _ => "unchanged",
            };
            let _ = writeln!(out, "  {state:<17} {} {}", p.mapping, p.principal_arn);
            if let Some(n) = &p.note {
                let _ = writeln!(out, "                    {n}");
            }
            for l in &p.lost {
                let _ = writeln!(out, "                    lost:   {l}");
            }
            for g in &p.gained {
                let _ = writeln!(out, "                    gained: {g}");
            }
        }
    }
    out
}
