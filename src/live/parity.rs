//! The live half of parity verification: the cluster's SubjectAccessReview answers the
//! questions [`crate::verify::prepare`] works out, `--probe-as` asks SelfSubjectAccessReview as
//! the real principal, and the RBAC objects are read from the cluster.

use std::collections::HashMap;

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use crate::live::kube::{KubeAccess, KubeError};
use crate::model::access_policy::Probe;
use crate::model::arn;
use crate::verify::rbac;
use crate::verify::rbac::{Rbac, Resources};
use crate::verify::{Identity, Inputs, PROBE_SESSION, ParityReport, ProbedAs, conclude, prepare};

/// SubjectAccessReviews in flight at once.
pub const CONCURRENCY: usize = 8;

/// Runs the verification against the cluster's own SubjectAccessReview.
pub async fn verify(kube: &KubeAccess, inputs: &Inputs<'_>) -> Result<ParityReport, KubeError> {
    let prepared = prepare(inputs);
    // Each review asks for the client anew: a long verification outlives one EKS token, and
    // `client()` renews it before it expires.
    let answers: Vec<((Identity, Probe), Result<bool, KubeError>)> =
        futures::stream::iter(prepared.questions.clone())
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

    Ok(conclude(prepared, inputs, &decided, reviews))
}

/// `--probe-as ROLE_ARN`: assumes the role, makes its own EKS token and asks
/// SelfSubjectAccessReview for the principal's probes. This exercises the real EKS path,
/// access policies included, and catches what a model cannot (a recreated IAM role whose entry
/// no longer matches, docs/pitfalls.md#recreated-iam-principals). A probe allowed before and denied as the real principal
/// counts as lost.
pub async fn probe_as(
    report: &mut ParityReport,
    roles: &[String],
    sdk: &aws_config::SdkConfig,
    cluster: &crate::live::eks::ClusterInfo,
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
    crate::live::retry::Backoff {
        first_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_secs(5),
        attempts: 6,
    }
    .run(
        |e: &KubeError| matches!(e.status(), Some(429 | 500..=599)) || e.status().is_none(),
        || async {
            api.create(&PostParams::default(), &sar)
                .await
                .map(|r| r.status.is_some_and(|s| s.allowed))
                .map_err(KubeError::Api)
        },
    )
    .await
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
