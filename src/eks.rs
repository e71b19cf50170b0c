//! The EKS API as the migration needs it, through `aws-sdk-eks` (domain.md §2, §3, §7).
//!
//! Throttling, 5xx and dropped connections are retried by the SDK's standard retry strategy
//! (configured in [`crate::aws`]). This module adds the retries the SDK cannot know about: the
//! eventual-consistency window after CreateAccessEntry (AssociateAccessPolicy answers 404) and
//! IAM's propagation delay for new principals ("invalid principal"). Every list is followed to
//! its last page.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::types::{
    AccessScopeType, AuthenticationMode as SdkMode, UpdateAccessConfigRequest, UpdateStatus,
};

use crate::model::{AccessScope, PolicyAssociation};
use crate::reconcile::{AccessEntryRequest, ExistingEntry};

/// An error from EKS, with the service's code and message kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct ApiError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

fn api_error<E, R>(operation: &'static str, e: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match &e {
        SdkError::ServiceError(s) => (
            s.err().code().unwrap_or("Unknown").to_string(),
            s.err().message().unwrap_or_default().to_string(),
        ),
        SdkError::TimeoutError(_) => ("Timeout".to_string(), "the request timed out".to_string()),
        SdkError::DispatchFailure(d) => ("Transport".to_string(), format!("{d:?}")),
        other => (
            "Transport".to_string(),
            aws_sdk_eks::error::DisplayErrorContext(other).to_string(),
        ),
    };
    ApiError {
        operation,
        code,
        message,
    }
}

/// The three authentication modes (domain.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuthenticationMode {
    #[serde(rename = "CONFIG_MAP")]
    ConfigMap,
    #[serde(rename = "API_AND_CONFIG_MAP")]
    ApiAndConfigMap,
    #[serde(rename = "API")]
    Api,
}

impl AuthenticationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationMode::ConfigMap => "CONFIG_MAP",
            AuthenticationMode::ApiAndConfigMap => "API_AND_CONFIG_MAP",
            AuthenticationMode::Api => "API",
        }
    }

    fn from_sdk(m: Option<&SdkMode>) -> Option<Self> {
        match m? {
            SdkMode::ConfigMap => Some(AuthenticationMode::ConfigMap),
            SdkMode::ApiAndConfigMap => Some(AuthenticationMode::ApiAndConfigMap),
            SdkMode::Api => Some(AuthenticationMode::Api),
            _ => None,
        }
    }

    fn to_sdk(self) -> SdkMode {
        match self {
            AuthenticationMode::ConfigMap => SdkMode::ConfigMap,
            AuthenticationMode::ApiAndConfigMap => SdkMode::ApiAndConfigMap,
            AuthenticationMode::Api => SdkMode::Api,
        }
    }
}

impl std::fmt::Display for AuthenticationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What DescribeCluster says, in the terms the migration uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub endpoint: String,
    /// Base64 of the CA bundle (PEM), as EKS returns it.
    pub certificate_authority: String,
    /// `None` when EKS reports a mode this tool does not know.
    pub authentication_mode: Option<AuthenticationMode>,
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    pub status: String,
    pub platform_version: String,
}

/// What DescribeCluster says beyond [`ClusterInfo`]: what a copy of the cluster needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDetails {
    pub info: ClusterInfo,
    /// Kubernetes version, `1.31`.
    pub version: String,
    pub tags: BTreeMap<String, String>,
}

/// A managed node group (DescribeNodegroup).
#[derive(Debug, Clone, PartialEq)]
pub struct Nodegroup {
    pub name: String,
    pub node_role_arn: String,
    /// `AL2023_x86_64_STANDARD`, `WINDOWS_CORE_2022_x86_64`, … (empty when EKS says none).
    pub ami_type: String,
}

/// A Fargate profile (DescribeFargateProfile).
#[derive(Debug, Clone, PartialEq)]
pub struct FargateProfile {
    pub name: String,
    pub pod_execution_role_arn: String,
    /// (namespace, labels) of each selector.
    pub selectors: Vec<(String, BTreeMap<String, String>)>,
}

/// Roles EKS knows as node roles: managed node groups and Fargate profiles.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRoles {
    /// Node role ARN → whether the node group runs Windows.
    pub nodegroups: BTreeMap<String, bool>,
    pub fargate: Vec<String>,
}

/// How long the EKS-side retries of this module keep trying.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub attempts: u32,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            attempts: 10,
        }
    }
}

/// The EKS client of one cluster's account and region.
#[derive(Clone)]
pub struct Eks {
    client: Client,
    region: String,
    pub patience: Patience,
}

impl Eks {
    pub fn new(client: Client, region: impl Into<String>) -> Self {
        Eks {
            client,
            region: region.into(),
            patience: Patience::default(),
        }
    }

    pub async fn describe_cluster(&self, name: &str) -> Result<ClusterInfo, ApiError> {
        Ok(self.describe_cluster_details(name).await?.info)
    }

    /// DescribeCluster with the Kubernetes version and the cluster's tags.
    pub async fn describe_cluster_details(&self, name: &str) -> Result<ClusterDetails, ApiError> {
        let out = self
            .client
            .describe_cluster()
            .name(name)
            .send()
            .await
            .map_err(|e| api_error("DescribeCluster", e))?;
        let c = out.cluster().ok_or_else(|| ApiError {
            operation: "DescribeCluster",
            code: "Empty".into(),
            message: "the response has no cluster".into(),
        })?;
        let arn = c.arn().unwrap_or_default().to_string();
        // arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let part = |i: usize| parts.get(i).copied().unwrap_or_default().to_string();
        let access = c.access_config();
        let info = ClusterInfo {
            name: c.name().unwrap_or(name).to_string(),
            account: part(4),
            partition: part(1),
            region: if parts.len() > 3 {
                part(3)
            } else {
                self.region.clone()
            },
            arn,
            endpoint: c.endpoint().unwrap_or_default().to_string(),
            certificate_authority: c
                .certificate_authority()
                .and_then(|ca| ca.data())
                .unwrap_or_default()
                .to_string(),
            authentication_mode: AuthenticationMode::from_sdk(
                access.and_then(|a| a.authentication_mode()),
            ),
            bootstrap_cluster_creator_admin_permissions: access
                .and_then(|a| a.bootstrap_cluster_creator_admin_permissions()),
            status: c
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            platform_version: c.platform_version().unwrap_or_default().to_string(),
        };
        Ok(ClusterDetails {
            info,
            version: c.version().unwrap_or_default().to_string(),
            tags: c
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
    }

    /// Every access entry with its policies and tags (all pages).
    pub async fn list_entries(&self, cluster: &str) -> Result<Vec<ExistingEntry>, ApiError> {
        let arns: Vec<String> = self
            .client
            .list_access_entries()
            .cluster_name(cluster)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("ListAccessEntries", e))?;
        let mut out = Vec::with_capacity(arns.len());
        for arn in arns {
            match self.describe_entry(cluster, &arn).await {
                Ok(Some(e)) => out.push(e),
                // Deleted between the list and the describe.
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One entry with its policies, or `None` when it does not exist.
    pub async fn describe_entry(
        &self,
        cluster: &str,
        principal_arn: &str,
    ) -> Result<Option<ExistingEntry>, ApiError> {
        let out = match self
            .client
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = api_error("DescribeAccessEntry", e);
                return if e.is("ResourceNotFoundException") {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let Some(entry) = out.access_entry() else {
            return Ok(None);
        };
        let policies = self
            .client
            .list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("ListAssociatedAccessPolicies", e))?;
        Ok(Some(ExistingEntry {
            principal_arn: entry.principal_arn().unwrap_or(principal_arn).to_string(),
            entry_type: entry.r#type().unwrap_or("STANDARD").to_string(),
            username: entry.username().map(str::to_string),
            kubernetes_groups: entry.kubernetes_groups().to_vec(),
            access_policies: policies
                .iter()
                .map(|p| PolicyAssociation {
                    policy_arn: p.policy_arn().unwrap_or_default().to_string(),
                    access_scope: match p.access_scope() {
                        Some(s) if s.r#type() == Some(&AccessScopeType::Namespace) => {
                            AccessScope::Namespace {
                                namespaces: s.namespaces().to_vec(),
                            }
                        }
                        _ => AccessScope::Cluster,
                    },
                })
                .collect(),
            tags: entry
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            access_entry_arn: entry.access_entry_arn().map(str::to_string),
        }))
    }

    /// CreateAccessEntry, retrying IAM's propagation delay ("invalid principal") a few times.
    ///
    /// `token` is the request's `clientRequestToken`: every send of one logical operation
    /// (the SDK's retries after a dropped connection, these retries, a rerun after a crash)
    /// carries the same one, so EKS answers a resend with its first reply instead of acting
    /// twice. The same holds for [`Eks::update_entry`] and [`Eks::update_mode`].
    pub async fn create_entry(
        &self,
        cluster: &str,
        req: &AccessEntryRequest,
        tags: &BTreeMap<String, String>,
        token: &str,
    ) -> Result<(), ApiError> {
        self.with_patience(
            |e| e.is("InvalidParameterException") && e.message.contains("invalid principal"),
            3,
            || async {
                let mut call = self
                    .client
                    .create_access_entry()
                    .client_request_token(token)
                    .cluster_name(cluster)
                    .principal_arn(&req.principal_arn)
                    .r#type(req.entry_type.as_str())
                    .set_kubernetes_groups(
                        (!req.entry_type.is_node()).then(|| req.kubernetes_groups.clone()),
                    );
                if let Some(u) = &req.username
                    && !req.entry_type.is_node()
                {
                    call = call.username(u);
                }
                for (k, v) in tags {
                    call = call.tags(k, v);
                }
                call.send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("CreateAccessEntry", e))
            },
        )
        .await
    }

    /// UpdateAccessEntry with the full group list (it replaces the list).
    pub async fn update_entry(
        &self,
        cluster: &str,
        principal_arn: &str,
        username: Option<&str>,
        groups: &[String],
        token: &str,
    ) -> Result<(), ApiError> {
        let mut call = self
            .client
            .update_access_entry()
            .client_request_token(token)
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .set_kubernetes_groups(Some(groups.to_vec()));
        if let Some(u) = username {
            call = call.username(u);
        }
        call.send()
            .await
            .map(|_| ())
            .map_err(|e| api_error("UpdateAccessEntry", e))
    }

    pub async fn delete_entry(&self, cluster: &str, principal_arn: &str) -> Result<(), ApiError> {
        match self
            .client
            .delete_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api_error("DeleteAccessEntry", e);
                // Already gone is what was wanted.
                if e.is("ResourceNotFoundException") {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// AssociateAccessPolicy, retrying the 404 of a freshly created entry.
    pub async fn associate(
        &self,
        cluster: &str,
        principal_arn: &str,
        policy: &PolicyAssociation,
    ) -> Result<(), ApiError> {
        let scope = match &policy.access_scope {
            AccessScope::Cluster => aws_sdk_eks::types::AccessScope::builder()
                .r#type(AccessScopeType::Cluster)
                .build(),
            AccessScope::Namespace { namespaces } => aws_sdk_eks::types::AccessScope::builder()
                .r#type(AccessScopeType::Namespace)
                .set_namespaces(Some(namespaces.clone()))
                .build(),
        };
        self.with_patience(
            |e| e.is("ResourceNotFoundException"),
            self.patience.attempts,
            || {
                let scope = scope.clone();
                async move {
                    self.client
                        .associate_access_policy()
                        .cluster_name(cluster)
                        .principal_arn(principal_arn)
                        .policy_arn(&policy.policy_arn)
                        .access_scope(scope)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| api_error("AssociateAccessPolicy", e))
                }
            },
        )
        .await
    }

    pub async fn disassociate(
        &self,
        cluster: &str,
        principal_arn: &str,
        policy_arn: &str,
    ) -> Result<(), ApiError> {
        match self
            .client
            .disassociate_access_policy()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .policy_arn(policy_arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api_error("DisassociateAccessPolicy", e);
                if e.is("ResourceNotFoundException") {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Ids of the cluster's updates that are still in progress.
    pub async fn updates_in_progress(&self, cluster: &str) -> Result<Vec<String>, ApiError> {
        let ids: Vec<String> = self
            .client
            .list_updates()
            .name(cluster)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("ListUpdates", e))?;
        let mut running = Vec::new();
        for id in ids {
            let (status, _) = self.describe_update(cluster, &id).await?;
            if status == UpdateStatus::InProgress {
                running.push(id);
            }
        }
        Ok(running)
    }

    /// Status of an update and the errors EKS reports for it.
    pub async fn describe_update(
        &self,
        cluster: &str,
        id: &str,
    ) -> Result<(UpdateStatus, Vec<String>), ApiError> {
        let out = self
            .client
            .describe_update()
            .name(cluster)
            .update_id(id)
            .send()
            .await
            .map_err(|e| api_error("DescribeUpdate", e))?;
        let update = out.update();
        let status = update
            .and_then(|u| u.status())
            .cloned()
            .unwrap_or(UpdateStatus::InProgress);
        let errors = update
            .map(|u| {
                u.errors()
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.error_code().map(|c| c.as_str()).unwrap_or("Error"),
                            e.error_message().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok((status, errors))
    }

    /// UpdateClusterConfig with `accessConfig` alone; returns the update id.
    pub async fn update_mode(
        &self,
        cluster: &str,
        target: AuthenticationMode,
        token: &str,
    ) -> Result<String, ApiError> {
        let out = self
            .client
            .update_cluster_config()
            .client_request_token(token)
            .name(cluster)
            .access_config(
                UpdateAccessConfigRequest::builder()
                    .authentication_mode(target.to_sdk())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error("UpdateClusterConfig", e))?;
        Ok(out
            .update()
            .and_then(|u| u.id())
            .unwrap_or_default()
            .to_string())
    }

    /// Node roles of managed node groups and Fargate profiles.
    pub async fn node_roles(&self, cluster: &str) -> Result<NodeRoles, ApiError> {
        let mut roles = NodeRoles::default();
        for ng in self.nodegroups(cluster).await? {
            if !ng.node_role_arn.is_empty() {
                let windows = ng.ami_type.starts_with("WINDOWS");
                roles.nodegroups.insert(ng.node_role_arn, windows);
            }
        }
        for fp in self.fargate_profiles(cluster).await? {
            if !fp.pod_execution_role_arn.is_empty() {
                roles.fargate.push(fp.pod_execution_role_arn);
            }
        }
        Ok(roles)
    }

    /// Every managed node group of the cluster (all pages), in listing order.
    pub async fn nodegroups(&self, cluster: &str) -> Result<Vec<Nodegroup>, ApiError> {
        let names: Vec<String> = self
            .client
            .list_nodegroups()
            .cluster_name(cluster)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("ListNodegroups", e))?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let described = self
                .client
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(&name)
                .send()
                .await
                .map_err(|e| api_error("DescribeNodegroup", e))?;
            if let Some(ng) = described.nodegroup() {
                out.push(Nodegroup {
                    name: ng.nodegroup_name().unwrap_or(&name).to_string(),
                    node_role_arn: ng.node_role().unwrap_or_default().to_string(),
                    ami_type: ng
                        .ami_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    /// Every Fargate profile of the cluster (all pages), in listing order.
    pub async fn fargate_profiles(&self, cluster: &str) -> Result<Vec<FargateProfile>, ApiError> {
        let names: Vec<String> = self
            .client
            .list_fargate_profiles()
            .cluster_name(cluster)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| api_error("ListFargateProfiles", e))?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let described = self
                .client
                .describe_fargate_profile()
                .cluster_name(cluster)
                .fargate_profile_name(&name)
                .send()
                .await
                .map_err(|e| api_error("DescribeFargateProfile", e))?;
            if let Some(fp) = described.fargate_profile() {
                out.push(FargateProfile {
                    name: fp.fargate_profile_name().unwrap_or(&name).to_string(),
                    pod_execution_role_arn: fp
                        .pod_execution_role_arn()
                        .unwrap_or_default()
                        .to_string(),
                    selectors: fp
                        .selectors()
                        .iter()
                        .map(|sel| {
                            (
                                sel.namespace().unwrap_or_default().to_string(),
                                sel.labels()
                                    .map(|l| {
                                        l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                                    })
                                    .unwrap_or_default(),
                            )
                        })
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    /// Runs `call` until it succeeds, fails with an error `retryable` does not accept, or
    /// `attempts` run out; the delay doubles up to the patience's maximum.
    async fn with_patience<F, Fut>(
        &self,
        retryable: impl Fn(&ApiError) -> bool,
        attempts: u32,
        call: F,
    ) -> Result<(), ApiError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), ApiError>>,
    {
        let mut delay = self.patience.first_delay;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if retryable(&e) && attempt < attempts => {
                    tracing::info!(
                        operation = e.operation,
                        code = %e.code,
                        attempt,
                        of = attempts,
                        delay_ms = delay.as_millis(),
                        "retrying: {}",
                        e.message
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.patience.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
