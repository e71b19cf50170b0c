//! The live plan: what a cluster has now (mode, aws-auth, access entries, node roles, IAM role
//! paths) and the operations that bring it to the plan.
//!
//! aws-auth is read through the Kubernetes API and fed to the same reader as an offline file,
//! in the JSON form the backup stores, so findings point into the backup a person can open.

pub mod aws;
pub mod eks;
pub mod fleet;
pub mod kube;
pub mod parity;
pub mod retry;
pub mod snapshot;
pub mod token;

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use k8s_openapi::api::core::v1::ConfigMap;
use serde::Serialize;

use crate::live::eks::{ClusterInfo, Eks, NodeRoles};
use crate::live::kube::KubeAccess;
use crate::model::arn::{self, PrincipalKind};
use crate::plan::options::{PolicyMap, RolePaths};
use crate::plan::reconcile::{ExistingEntry, Operation, reconcile};
use crate::plan::translate::Options;
use crate::plan::{ClusterPlan, InputError};
use crate::source::SourceFile;

/// Everything read from a cluster before deciding anything.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub cluster: ClusterInfo,
    /// The ConfigMap as fetched, `None` when the cluster has none.
    pub aws_auth: Option<ConfigMap>,
    pub entries: Vec<ExistingEntry>,
    pub node_roles: NodeRoles,
    /// The account of the credentials in use.
    pub caller_account: String,
    pub caller_arn: String,
}

/// A cluster's plan with its live state and the operations that reconcile it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LivePlan {
    #[serde(flatten)]
    pub plan: ClusterPlan,
    pub authentication_mode: Option<String>,
    pub existing_entries: Vec<ExistingEntry>,
    pub operations: Vec<Operation>,
    #[serde(skip)]
    pub errors: Vec<InputError>,
    #[serde(skip)]
    pub snapshot: Snapshot,
}

/// Clients for one cluster.
pub struct Cluster {
    pub name: String,
    pub sdk: SdkConfig,
    pub eks: Eks,
    /// Shared with the cluster lock, which renews its Lease beside the run.
    pub kube: std::sync::Arc<KubeAccess>,
    pub info: ClusterInfo,
}

/// Why a live command could not run.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Api(#[from] crate::live::eks::ApiError),
    #[error(transparent)]
    Kube(#[from] crate::live::kube::KubeError),
    #[error(transparent)]
    Config(#[from] crate::live::aws::ConfigError),
    #[error("no AWS credentials configured")]
    NoCredentials,
    /// STS GetCallerIdentity failed (the SDK's description of why).
    #[error("STS GetCallerIdentity failed: {0}")]
    CallerIdentity(String),
    #[error("IAM GetRole {role} failed: {message}")]
    Iam { role: String, message: String },
    /// The cluster's aws-auth could not be read as a ConfigMap at all.
    #[error("{0}")]
    AwsAuth(String),
}

impl Cluster {
    /// Connects to `name`: DescribeCluster, then Kubernetes access from its endpoint and CA
    /// (or from a kubeconfig when one is named).
    pub async fn connect(
        name: &str,
        sdk: SdkConfig,
        kubeconfig: Option<std::path::PathBuf>,
        context: Option<String>,
    ) -> Result<Self, LiveError> {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let eks = Eks::new(aws_sdk_eks::Client::new(&sdk), region);
        let info = eks.describe_cluster(name).await?;
        tracing::info!(
            cluster = name,
            arn = %info.arn,
            endpoint = %info.endpoint,
            mode = info.authentication_mode.map_or("unknown", |m| m.as_str()),
            status = %info.status,
            "cluster described"
        );
        let kube = if kubeconfig.is_some() || context.is_some() {
            KubeAccess::Kubeconfig {
                path: kubeconfig,
                context,
            }
        } else {
            let credentials = sdk.credentials_provider().ok_or(LiveError::NoCredentials)?;
            KubeAccess::Token {
                cluster: Box::new(info.clone()),
                credentials,
                cached: tokio::sync::Mutex::new(None),
            }
        };
        Ok(Cluster {
            name: name.to_string(),
            sdk,
            eks,
            kube: std::sync::Arc::new(kube),
            info,
        })
    }

    /// Reads everything the plan needs.
    pub async fn snapshot(&mut self) -> Result<Snapshot, LiveError> {
        self.info = self.eks.describe_cluster(&self.name).await?;
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let me = sts.get_caller_identity().send().await.map_err(|e| {
            LiveError::CallerIdentity(aws_sdk_sts::error::DisplayErrorContext(e).to_string())
        })?;
        let entries = if self.info.authentication_mode
            == Some(crate::live::eks::AuthenticationMode::ConfigMap)
        {
            // Access-entry calls are refused in CONFIG_MAP
            // (docs/access-entries.md#only-in-the-api-modes).
            Vec::new()
        } else {
            self.eks.list_entries(&self.name).await?
        };
        Ok(Snapshot {
            aws_auth: self.kube.aws_auth().await?,
            node_roles: self.eks.node_roles(&self.name).await?,
            entries,
            caller_account: me.account().unwrap_or_default().to_string(),
            caller_arn: me.arn().unwrap_or_default().to_string(),
            cluster: self.info.clone(),
        })
    }
}

/// The ConfigMap as the JSON document the backup stores (kubectl-apply-able).
pub fn configmap_json(cm: &ConfigMap) -> String {
    let mut value = serde_json::to_value(cm).expect("ConfigMaps serialize");
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        // Server-owned fields would make `kubectl apply` of the backup fail or conflict.
        for key in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            meta.remove(key);
        }
    }
    if let Some(obj) = value.as_object_mut() {
        obj.insert("apiVersion".into(), "v1".into());
        obj.insert("kind".into(), "ConfigMap".into());
    }
    let mut s = serde_json::to_string_pretty(&value).expect("JSON values serialize");
    s.push('\n');
    s
}

/// Resolves IAM paths of the roles aws-auth names, through IAM GetRole in the caller's own
/// account only: a role name looked up with another account's credentials would find a
/// different role of the same name, so other accounts need `--role-paths`.
pub async fn resolve_role_paths(
    sdk: &SdkConfig,
    snapshot: &Snapshot,
    source: &SourceFile,
    from_file: Option<&RolePaths>,
    include_ineffective: bool,
) -> Result<RolePaths, LiveError> {
    let mut paths = from_file.cloned().unwrap_or_default();
    paths.origin = if from_file.is_some() {
        "--role-paths or IAM"
    } else {
        "IAM"
    };
    let auth = match crate::awsauth::read(source) {
        Ok(auth) => auth,
        Err(_) => return Ok(paths),
    };
    let iam = aws_sdk_iam::Client::new(sdk);
    let mut asked = BTreeSet::new();
    // With --include-ineffective, role ARNs written with a path are planned too: IAM says
    // whether the role exists and what its path really is.
    let wanted = auth.mappings.iter().filter(|m| {
        m.status == crate::model::MappingStatus::Effective
            || (include_ineffective
                && matches!(m.status, crate::model::MappingStatus::NeverMatches { .. }))
    });
    for m in wanted {
        let Ok(p) = arn::parse(&m.arn) else { continue };
        if p.kind != PrincipalKind::Role
            || p.account != snapshot.caller_account
            || !asked.insert(p.name.to_lowercase())
        {
            continue;
        }
        match get_role(&iam, &p.name).await {
            // Defensive: never take a role of another account for this one.
            Ok(role) if role.arn.contains(&format!(":{}:", p.account)) => {
                paths.insert(&p.account, &p.name, &role.path);
                paths.insert_iam(&p.account, &p.name, &role.name, &role.role_id);
            }
            Ok(_) | Err(IamLookupError::AccessDenied(_)) => {}
            Err(IamLookupError::NoSuchEntity) => paths.insert_missing(&p.account, &p.name),
            // IAM refuses the name itself: a finding of that mapping, not of the cluster.
            Err(IamLookupError::Invalid(message)) => {
                paths.insert_invalid(&p.account, &p.name, &message)
            }
            Err(IamLookupError::Other(e)) => {
                return Err(LiveError::Iam {
                    role: p.name.clone(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(paths)
}

/// What IAM GetRole says of a role.
#[derive(Debug, Clone, PartialEq)]
pub struct IamRole {
    /// IAM's spelling of the name.
    pub name: String,
    pub path: String,
    pub arn: String,
    /// The unique id, `AROA…`.
    pub role_id: String,
    /// The AWS principals (ARNs, account ids) the trust policy allows to assume the role.
    pub trusted: Vec<String>,
}

/// What IAM GetUser says of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct IamUser {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// The unique id, `AIDA…`.
    pub user_id: String,
}

/// Why IAM did not describe a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamLookupError {
    NoSuchEntity,
    /// IAM refuses the name itself (`ValidationError`), with IAM's message.
    Invalid(String),
    AccessDenied(String),
    Other(String),
}

impl std::fmt::Display for IamLookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSuchEntity => f.write_str("NoSuchEntity"),
            Self::Invalid(m) => write!(f, "ValidationError: {m}"),
            Self::AccessDenied(m) => write!(f, "AccessDenied: {m}"),
            Self::Other(m) => f.write_str(m),
        }
    }
}

fn iam_lookup_error<E, R>(e: aws_sdk_iam::error::SdkError<E, R>) -> IamLookupError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&e)
        .unwrap_or_default()
        .to_string();
    match code {
        "NoSuchEntity" => IamLookupError::NoSuchEntity,
        "ValidationError" if message.is_empty() => IamLookupError::Invalid("invalid name".into()),
        "ValidationError" => IamLookupError::Invalid(message),
        "AccessDenied" => IamLookupError::AccessDenied(message),
        _ => IamLookupError::Other(aws_sdk_iam::error::DisplayErrorContext(e).to_string()),
    }
}

/// IAM GetRole of a role of the caller's own account (IAM looks names up there).
pub async fn get_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<IamRole, IamLookupError> {
    let out = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(iam_lookup_error)?;
    let role = out
        .role()
        .ok_or_else(|| IamLookupError::Other("GetRole answered without a role".into()))?;
    Ok(IamRole {
        name: role.role_name().to_string(),
        path: role.path().to_string(),
        arn: role.arn().to_string(),
        role_id: role.role_id().to_string(),
        trusted: trusted_principals(role.assume_role_policy_document().unwrap_or_default()),
    })
}

/// IAM GetUser of a user of the caller's own account.
pub async fn get_user(iam: &aws_sdk_iam::Client, name: &str) -> Result<IamUser, IamLookupError> {
    let out = iam
        .get_user()
        .user_name(name)
        .send()
        .await
        .map_err(iam_lookup_error)?;
    let user = out
        .user()
        .ok_or_else(|| IamLookupError::Other("GetUser answered without a user".into()))?;
    Ok(IamUser {
        name: user.user_name().to_string(),
        path: user.path().to_string(),
        arn: user.arn().to_string(),
        user_id: user.user_id().to_string(),
    })
}

/// The `AWS` principals of the Allow statements of a trust policy, as IAM returns it
/// (URL-encoded JSON) that grant `sts:AssumeRole`. Service and federated principals and
/// conditions are not kept: they are not principals that call AssumeRole with keys.
pub fn trusted_principals(document: &str) -> Vec<String> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return Vec::new();
    };
    let as_list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(items) => items.clone(),
        single @ serde_json::Value::Object(_) => vec![single.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for statement in statements {
        let assumes = as_list(&statement["Action"])
            .iter()
            .any(|a| matches!(a.as_str(), "sts:AssumeRole" | "sts:*" | "*"));
        if statement["Effect"] != "Allow" || !assumes {
            continue;
        }
        for principal in as_list(&statement["Principal"]["AWS"]) {
            if !out.contains(&principal) {
                out.push(principal);
            }
        }
    }
    out
}

/// Reads the cluster and plans it.
pub async fn plan_cluster(
    cluster: &mut Cluster,
    policy_map: Option<&PolicyMap>,
    role_paths: Option<&RolePaths>,
    include_ineffective: bool,
) -> Result<LivePlan, LiveError> {
    let snapshot = cluster.snapshot().await?;
    let name = format!(
        "{}/{}/{}:kube-system/aws-auth",
        snapshot.cluster.account, snapshot.cluster.region, snapshot.cluster.name
    );
    let text = match &snapshot.aws_auth {
        Some(cm) => configmap_json(cm),
        None => String::from(
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"aws-auth\", \"namespace\": \"kube-system\"}}\n",
        ),
    };
    let source = SourceFile::new(name, text);
    let paths = resolve_role_paths(
        &cluster.sdk,
        &snapshot,
        &source,
        role_paths,
        include_ineffective,
    )
    .await?;
    let fargate: Vec<String> = snapshot
        .node_roles
        .fargate
        .iter()
        .filter_map(|a| arn::parse(a).ok().map(|p| p.name.to_lowercase()))
        .collect();
    let nodegroups: Vec<(String, bool)> = snapshot
        .node_roles
        .nodegroups
        .iter()
        .filter_map(|(a, windows)| {
            arn::parse(a)
                .ok()
                .map(|p| (p.name.to_lowercase(), *windows))
        })
        .collect();
    let options = Options {
        policy_map,
        role_paths: Some(&paths),
        cluster_account: Some(&snapshot.cluster.account),
        fargate_roles: Some(&fargate),
        nodegroup_roles: Some(&nodegroups),
        include_ineffective,
    };
    // RBAC findings need list access to RBAC objects; without it the plan goes on without them.
    let rbac = crate::live::parity::read_rbac(&cluster.kube)
        .await
        .ok()
        .map(|(r, _)| r);
    let (plan, errors) =
        crate::plan::plan_source_with_rbac(&snapshot.cluster.name, &source, options, rbac.as_ref());
    let plan = plan.ok_or_else(|| {
        LiveError::AwsAuth(errors.first().map_or_else(
            || "aws-auth could not be read".into(),
            |e| e.message.clone(),
        ))
    })?;
    let desired: Vec<_> = plan
        .mappings
        .iter()
        .filter_map(|m| m.access_entry.clone())
        .collect();
    let operations = reconcile(&desired, &snapshot.entries);
    Ok(LivePlan {
        plan,
        authentication_mode: snapshot
            .cluster
            .authentication_mode
            .map(|m| m.as_str().to_string()),
        existing_entries: snapshot.entries.clone(),
        operations,
        errors,
        snapshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_give_their_aws_principals() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/ops/Ci","444455556666"]},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":["sts:TagSession","sts:AssumeRole"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/tagger"},"Action":"sts:TagSession"}
        ]}"#;
        let encoded: String =
            percent_encoding::utf8_percent_encode(policy, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(
            trusted_principals(&encoded),
            [
                "arn:aws:iam::111122223333:role/ops/Ci",
                "444455556666",
                "arn:aws:iam::111122223333:user/admin"
            ]
        );
        // A single statement as an object, and documents IAM would not return.
        let single = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"sts:*"}}"#;
        assert_eq!(trusted_principals(single), ["arn:aws:iam::1:root"]);
        assert!(trusted_principals("not json").is_empty());
        assert!(trusted_principals("").is_empty());
    }
}
