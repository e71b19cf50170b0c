//! Authentication: the EKS bearer token, then the mapping EKS applies for the cluster's current
//! authentication mode (docs/aws-auth.md, docs/authentication-modes.md).

use crate::access_policy::{Association, Scope};
use crate::authmap::{self, AuthMap, CallerIdentity, MapOutcome};
use crate::rbac::UserInfo;
use crate::world::{AccessEntry, AccessScopeType, AuthenticationMode, ClusterState, Sim};

/// Username the hidden `CONFIG_MAP` creator admin gets. [INF: EKS does not document it; older
/// clusters show `kubernetes-admin` in `kubectl auth whoami` for the creator.]
pub const CREATOR_ADMIN_USERNAME: &str = "kubernetes-admin";

/// Why a request is not authenticated (always answered 401; the reason is only logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthnError {
    #[error("no bearer token")]
    MissingToken,
    #[error("token rejected: {0}")]
    Rejected(String),
    #[error("caller {0} is not mapped for this cluster")]
    NotMapped(String),
    #[error("mapping denied: {0}")]
    Denied(String),
}

/// Where the Kubernetes identity came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// The cluster creator's hidden admin in `CONFIG_MAP` mode
    /// (docs/authentication-modes.md#the-cluster-creator).
    CreatorAdmin,
    /// An access entry, keyed by its principal ARN.
    AccessEntry { principal_arn: String },
    /// The `aws-auth` ConfigMap.
    AwsAuth,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Username and groups, `system:authenticated` included.
    pub user: UserInfo,
    pub source: IdentitySource,
    /// Associated access policies; only an access-entry identity carries any.
    pub access_policies: Vec<Association>,
    pub caller: CallerIdentity,
}

/// Validates the bearer token (expiry, `x-k8s-aws-id` bound to the cluster, SigV4 signature; the
/// STS half's [`crate::sts::verify_token`]) and returns the caller STS reports, with the canonical
/// ARN re-derived the authenticator's way.
pub fn authenticate_token(
    sim: &Sim,
    authorization: Option<&str>,
    cluster_name: &str,
) -> Result<CallerIdentity, AuthnError> {
    // The API server's bearer-token authenticator takes the scheme case-insensitively.
    let token = authorization
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AuthnError::MissingToken)?;
    let mut caller = crate::sts::verify_token(sim, token, cluster_name)
        .map_err(|e| AuthnError::Rejected(e.to_string()))?;
    caller.canonical_arn =
        authmap::canonicalize(&caller.arn).map_err(|e| AuthnError::Rejected(e.to_string()))?;
    Ok(caller)
}

/// What the authenticator asks EC2 for: the private DNS name of an instance. The simulator has
/// no EC2, so it answers the resource-name form EC2 gives instances (`i-….REGION.compute.internal`,
/// `i-….ec2.internal` in us-east-1).
fn ec2_private_dns_name(region: &str) -> impl Fn(&str) -> Option<String> + '_ {
    move |instance_id: &str| {
        Some(if region == "us-east-1" {
            format!("{instance_id}.ec2.internal")
        } else {
            format!("{instance_id}.{region}.compute.internal")
        })
    }
}

/// Maps a verified caller to a Kubernetes identity as EKS does for the cluster's current mode:
///
/// * `CONFIG_MAP`: the hidden creator admin, else `aws-auth`.
/// * `API_AND_CONFIG_MAP`: the caller's access entry wins entirely, even when it grants less;
///   else `aws-auth`, `mapAccounts` included (docs/authentication-modes.md#precedence).
/// * `API`: access entries only (docs/authentication-modes.md#api-mode).
pub fn map_caller(state: &ClusterState, caller: &CallerIdentity) -> Result<Identity, AuthnError> {
    let ec2 = ec2_private_dns_name(&state.key.region);
    let mode = state.authentication_mode;
    if mode == AuthenticationMode::ConfigMap && is_creator_admin(state, caller) {
        return Ok(identity(
            CREATOR_ADMIN_USERNAME.to_string(),
            vec!["system:masters".to_string()],
            IdentitySource::CreatorAdmin,
            Vec::new(),
            caller,
        ));
    }
    if mode.uses_access_entries()
        && let Some(entry) = entry_for(state, caller)
    {
        let username =
            authmap::render_template(&entry.username, caller, &ec2).map_err(AuthnError::Denied)?;
        let policies = entry
            .access_policies
            .values()
            .map(|p| Association {
                policy_arn: p.policy_arn.clone(),
                scope: match p.access_scope.scope_type {
                    AccessScopeType::Cluster => Scope::Cluster,
                    AccessScopeType::Namespace => {
                        Scope::Namespaces(p.access_scope.namespaces.clone())
                    }
                },
            })
            .collect();
        return Ok(identity(
            username,
            entry.kubernetes_groups.clone(),
            IdentitySource::AccessEntry {
                principal_arn: entry.principal_arn.clone(),
            },
            policies,
            caller,
        ));
    }
    if mode.uses_config_map() {
        // The authenticator re-reads the ConfigMap on every change; a deleted one maps nobody
        // (docs/aws-auth.md#where-the-authenticator-reads-it).
        let map = state
            .aws_auth()
            .and_then(|cm| cm.data.as_ref())
            .map(AuthMap::from_data)
            .unwrap_or_default();
        return match map.map(caller, &ec2) {
            MapOutcome::Mapped(m) => Ok(identity(
                m.username,
                m.groups,
                IdentitySource::AwsAuth,
                Vec::new(),
                caller,
            )),
            MapOutcome::Denied(reason) => Err(AuthnError::Denied(reason)),
            MapOutcome::NotMapped => Err(AuthnError::NotMapped(caller.arn.clone())),
        };
    }
    Err(AuthnError::NotMapped(caller.arn.clone()))
}

/// The creator's hidden `system:masters` access exists only while `bootstrapClusterCreatorAdmin
/// Permissions` is true, and is bound to the creator principal's unique id like an entry is.
fn is_creator_admin(state: &ClusterState, caller: &CallerIdentity) -> bool {
    state.bootstrap_cluster_creator_admin_permissions != Some(false)
        && state
            .creator_unique_id
            .as_deref()
            .is_some_and(|id| id == caller.principal_id)
}

/// The access entry of the caller's principal. EKS binds an entry to the principal's unique id
/// (docs/access-entries.md#bound-to-the-iam-unique-id): the entry's ARN carries the role path the
/// caller's STS ARN lacks, and a principal deleted and recreated under the same ARN has a new id,
/// so its old entry no longer matches it (and in `API_AND_CONFIG_MAP` the caller falls through to
/// `aws-auth`).
fn entry_for<'a>(state: &'a ClusterState, caller: &CallerIdentity) -> Option<&'a AccessEntry> {
    let bound = |e: &&AccessEntry| {
        e.principal_unique_id
            .as_deref()
            .is_some_and(|id| id == caller.principal_id)
    };
    state
        .access_entries
        .get(&caller.principal_arn)
        .filter(bound)
        .or_else(|| state.access_entries.values().find(bound))
}

fn identity(
    username: String,
    mut groups: Vec<String>,
    source: IdentitySource,
    access_policies: Vec<Association>,
    caller: &CallerIdentity,
) -> Identity {
    // The API server adds `system:authenticated` to every authenticated user.
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_string());
    }
    Identity {
        user: UserInfo {
            name: username,
            groups,
        },
        source,
        access_policies,
        caller: caller.clone(),
    }
}
