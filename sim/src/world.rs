// Shared with the Kubernetes half: add fields additively.

//! The simulator's world model: IAM principals, clusters and everything on them.
//!
//! Two layers:
//!
//! * **Fixture** ([`WorldSpec`] and the `*Spec` types): a declarative description, read from YAML
//!   ([`WorldSpec::from_yaml`]) or assembled in code ([`World::builder`]). It says what exists when
//!   the simulator starts: accounts, IAM roles/users (with paths, unique ids, trust and access keys),
//!   and clusters with their authentication mode, `aws-auth`, RBAC objects, node groups, Fargate
//!   profiles and pre-existing access entries.
//! * **Runtime state** ([`Sim`], [`World`], [`ClusterState`]): what the EKS, IAM/STS and Kubernetes
//!   servers read and mutate. `Sim` is a cheap `Arc` handle. IAM lives behind one `RwLock` (read
//!   mostly); every cluster has its own `Mutex` so traffic to different clusters never contends.
//!
//! Time: [`Sim::now`] is wall-clock time plus a test offset ([`Sim::advance_clock`]), as epoch
//! seconds. Cluster updates are settled lazily: [`Cluster::lock`] completes every update whose
//! deadline has passed before handing out the state, so no background task is needed and a test
//! that advances the clock sees the mode switch immediately.
//!
//! Lock order: a cluster's mutex may be held while taking the IAM read lock, never the reverse.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use crate::counters::Counters;
use crate::faults::{FaultConfig, Faults};

/// Seconds since the Unix epoch, with fraction (the unit EKS uses on the wire).
pub type Epoch = f64;

/// Namespace of `aws-auth` and the other ConfigMaps EKS reads.
pub const KUBE_SYSTEM: &str = "kube-system";
/// Name of the authenticator's ConfigMap.
pub const AWS_AUTH: &str = "aws-auth";
/// The per-cluster access-entry quota (docs/access-entries.md#limits).
pub const MAX_ACCESS_ENTRIES: usize = 3_000;
/// Default duration of an `UpdateClusterConfig` before it completes.
pub const DEFAULT_UPDATE_DURATION: Duration = Duration::from_millis(200);

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

/// A fixture that cannot describe a real world (unknown account, duplicate names, …).
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot parse the world fixture: {0}")]
    Parse(String),
    #[error("cannot read the world fixture {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid world fixture: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> WorldError {
    WorldError::Invalid(msg.into())
}

// ------------------------------------------------------------------------------------------------
// Small domain enums
// ------------------------------------------------------------------------------------------------

/// `accessConfig.authenticationMode` (docs/authentication-modes.md#the-three-modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthenticationMode {
    #[default]
    ConfigMap,
    ApiAndConfigMap,
    Api,
}

impl AuthenticationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigMap => "CONFIG_MAP",
            Self::ApiAndConfigMap => "API_AND_CONFIG_MAP",
            Self::Api => "API",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CONFIG_MAP" => Some(Self::ConfigMap),
            "API_AND_CONFIG_MAP" => Some(Self::ApiAndConfigMap),
            "API" => Some(Self::Api),
            _ => None,
        }
    }

    /// Whether access entries are consulted (and the access-entry API usable) in this mode.
    pub fn uses_access_entries(self) -> bool {
        self != Self::ConfigMap
    }

    /// Whether `aws-auth` is consulted in this mode.
    pub fn uses_config_map(self) -> bool {
        self != Self::Api
    }
}

/// Access entry `type` (docs/access-entries.md#types). The API carries it as a string; unknown
/// values are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum AccessEntryType {
    #[default]
    #[serde(rename = "STANDARD")]
    Standard,
    #[serde(rename = "EC2_LINUX")]
    Ec2Linux,
    #[serde(rename = "EC2_WINDOWS")]
    Ec2Windows,
    #[serde(rename = "FARGATE_LINUX")]
    FargateLinux,
    #[serde(rename = "HYBRID_LINUX")]
    HybridLinux,
    #[serde(rename = "EC2")]
    Ec2,
    #[serde(rename = "HYPERPOD_LINUX")]
    HyperpodLinux,
}

impl AccessEntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Ec2Linux => "EC2_LINUX",
            Self::Ec2Windows => "EC2_WINDOWS",
            Self::FargateLinux => "FARGATE_LINUX",
            Self::HybridLinux => "HYBRID_LINUX",
            Self::Ec2 => "EC2",
            Self::HyperpodLinux => "HYPERPOD_LINUX",
        }
    }

    /// Case-sensitive, as the API is (docs/access-entries.md#types).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "STANDARD" => Self::Standard,
            "EC2_LINUX" => Self::Ec2Linux,
            "EC2_WINDOWS" => Self::Ec2Windows,
            "FARGATE_LINUX" => Self::FargateLinux,
            "HYBRID_LINUX" => Self::HybridLinux,
            "EC2" => Self::Ec2,
            "HYPERPOD_LINUX" => Self::HyperpodLinux,
            _ => return None,
        })
    }

    /// Node types: same-account roles only, no username/groups/policies.
    pub fn is_node(self) -> bool {
        !matches!(self, Self::Standard)
    }

    /// The username EKS generates for node types (docs/access-entries.md#types); `None` for
    /// STANDARD.
    pub fn node_username(self) -> Option<&'static str> {
        match self {
            Self::Ec2Linux | Self::Ec2Windows => Some("system:node:{{EC2PrivateDNSName}}"),
            Self::FargateLinux | Self::HybridLinux => Some("system:node:{{SessionName}}"),
            Self::Ec2 | Self::HyperpodLinux => Some("system:node:{{EC2PrivateDNSName}}"),
            Self::Standard => None,
        }
    }

    /// The groups EKS assigns to node types (docs/access-entries.md#types,
    /// docs/access-entries.md#node-roles).
    pub fn node_groups(self) -> Vec<String> {
        match self {
            Self::Standard => Vec::new(),
            _ => vec!["system:nodes".to_string()],
        }
    }
}

/// `AccessScope.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccessScopeType {
    #[default]
    Cluster,
    Namespace,
}

impl AccessScopeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Namespace => "namespace",
        }
    }
}

/// Scope of an associated access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccessScope {
    #[serde(rename = "type", default)]
    pub scope_type: AccessScopeType,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl AccessScope {
    pub fn cluster() -> Self {
        Self::default()
    }

    pub fn namespaces<I: IntoIterator<Item = S>, S: Into<String>>(ns: I) -> Self {
        Self {
            scope_type: AccessScopeType::Namespace,
            namespaces: ns.into_iter().map(Into::into).collect(),
        }
    }
}

/// Cluster `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    Creating,
    #[default]
    Active,
    Deleting,
    Failed,
    Updating,
    Pending,
}

impl ClusterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Active => "ACTIVE",
            Self::Deleting => "DELETING",
            Self::Failed => "FAILED",
            Self::Updating => "UPDATING",
            Self::Pending => "PENDING",
        }
    }
}

/// `Update.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStatus {
    InProgress,
    Successful,
    Failed,
    Cancelled,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Successful => "Successful",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Fixture
// ------------------------------------------------------------------------------------------------

/// The declarative world: what exists when the simulator starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldSpec {
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    #[serde(default)]
    pub clusters: Vec<ClusterSpec>,
    /// Access key id whose credentials `eks-sim serve` prints (default: the first user key).
    #[serde(default)]
    pub caller: Option<String>,
    /// How long `UpdateClusterConfig` stays `InProgress`, in milliseconds.
    #[serde(default)]
    pub update_duration_ms: Option<u64>,
}

/// An AWS account and its IAM principals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSpec {
    /// 12-digit account id.
    pub id: String,
    #[serde(default = "default_partition")]
    pub partition: String,
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

fn default_partition() -> String {
    "aws".to_string()
}

fn default_path() -> String {
    "/".to_string()
}

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleSpec {
    pub name: String,
    #[serde(default = "default_path")]
    pub path: String,
    /// `AROA…`; generated (deterministically) when absent.
    #[serde(default)]
    pub unique_id: Option<String>,
    /// Who may `sts:AssumeRole` this role: principal ARNs (`…:role/…`, `…:user/…`, `…:root`)
    /// and/or 12-digit account ids (any principal of that account).
    #[serde(default)]
    pub trust: Vec<String>,
}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default = "default_path")]
    pub path: String,
    /// `AIDA…`; generated (deterministically) when absent.
    #[serde(default)]
    pub unique_id: Option<String>,
    #[serde(default)]
    pub access_keys: Vec<AccessKeySpec>,
}

/// A long-term access key of an IAM user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessKeySpec {
    pub id: String,
    pub secret: String,
}

/// A cluster and everything on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    pub account: String,
    pub region: String,
    #[serde(default)]
    pub authentication_mode: AuthenticationMode,
    #[serde(default = "default_k8s_version")]
    pub kubernetes_version: String,
    #[serde(default = "default_platform_version")]
    pub platform_version: String,
    #[serde(default)]
    pub status: ClusterStatus,
    /// `None` models clusters created before the field existed (DescribeCluster omits it).
    #[serde(default = "default_true")]
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    /// The IAM principal (role or user ARN) that created the cluster.
    #[serde(default)]
    pub creator_arn: Option<String>,
    /// `data` of `kube-system/aws-auth`, exactly; `None` = the ConfigMap does not exist.
    #[serde(default)]
    pub aws_auth: Option<BTreeMap<String, String>>,
    /// Other ConfigMaps (namespace defaults to `kube-system`).
    #[serde(default)]
    pub config_maps: Vec<ConfigMap>,
    #[serde(default)]
    pub cluster_roles: Vec<ClusterRole>,
    #[serde(default)]
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub role_bindings: Vec<RoleBinding>,
    /// Namespace names; `default`, `kube-system`, `kube-public`, `kube-node-lease` always exist.
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub nodegroups: Vec<NodegroupSpec>,
    #[serde(default)]
    pub fargate_profiles: Vec<FargateProfileSpec>,
    #[serde(default)]
    pub access_entries: Vec<AccessEntrySpec>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `coordination.k8s.io/v1` Leases (namespace defaults to `kube-system`), e.g. a migration
    /// lock already held when the simulator starts.
    #[serde(default)]
    pub leases: Vec<Lease>,
}

fn default_k8s_version() -> String {
    "1.31".to_string()
}

fn default_platform_version() -> String {
    "eks.20".to_string()
}

fn default_true() -> Option<bool> {
    Some(true)
}

impl ClusterSpec {
    /// A `CONFIG_MAP` cluster with defaults (bootstrap admin true, Kubernetes 1.31, ACTIVE).
    pub fn new(
        name: impl Into<String>,
        account: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            account: account.into(),
            region: region.into(),
            authentication_mode: AuthenticationMode::ConfigMap,
            kubernetes_version: default_k8s_version(),
            platform_version: default_platform_version(),
            status: ClusterStatus::Active,
            bootstrap_cluster_creator_admin_permissions: Some(true),
            creator_arn: None,
            aws_auth: None,
            config_maps: Vec::new(),
            cluster_roles: Vec::new(),
            cluster_role_bindings: Vec::new(),
            roles: Vec::new(),
            role_bindings: Vec::new(),
            namespaces: Vec::new(),
            nodes: Vec::new(),
            nodegroups: Vec::new(),
            fargate_profiles: Vec::new(),
            access_entries: Vec::new(),
            tags: BTreeMap::new(),
            leases: Vec::new(),
        }
    }

    pub fn mode(mut self, mode: AuthenticationMode) -> Self {
        self.authentication_mode = mode;
        self
    }

    pub fn creator(mut self, arn: impl Into<String>) -> Self {
        self.creator_arn = Some(arn.into());
        self
    }

    pub fn bootstrap_admin(mut self, value: Option<bool>) -> Self {
        self.bootstrap_cluster_creator_admin_permissions = value;
        self
    }

    pub fn kubernetes_version(mut self, v: impl Into<String>) -> Self {
        self.kubernetes_version = v.into();
        self
    }

    /// Sets one key of `aws-auth` `data` (creating the ConfigMap).
    pub fn aws_auth_key(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.aws_auth
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    pub fn aws_auth(mut self, data: BTreeMap<String, String>) -> Self {
        self.aws_auth = Some(data);
        self
    }

    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespaces.push(name.into());
        self
    }

    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.nodes.push(NodeSpec {
            name: name.into(),
            labels: BTreeMap::new(),
        });
        self
    }

    pub fn nodegroup(
        mut self,
        name: impl Into<String>,
        node_role_arn: impl Into<String>,
        ami_type: impl Into<String>,
    ) -> Self {
        self.nodegroups.push(NodegroupSpec {
            name: name.into(),
            node_role_arn: node_role_arn.into(),
            ami_type: ami_type.into(),
        });
        self
    }

    pub fn fargate_profile(
        mut self,
        name: impl Into<String>,
        pod_execution_role_arn: impl Into<String>,
        namespace: impl Into<String>,
    ) -> Self {
        self.fargate_profiles.push(FargateProfileSpec {
            name: name.into(),
            pod_execution_role_arn: pod_execution_role_arn.into(),
            selectors: vec![FargateSelector {
                namespace: namespace.into(),
                labels: BTreeMap::new(),
            }],
        });
        self
    }

    pub fn access_entry(mut self, entry: AccessEntrySpec) -> Self {
        self.access_entries.push(entry);
        self
    }

    pub fn cluster_role(mut self, r: ClusterRole) -> Self {
        self.cluster_roles.push(r);
        self
    }

    pub fn cluster_role_binding(mut self, b: ClusterRoleBinding) -> Self {
        self.cluster_role_bindings.push(b);
        self
    }

    pub fn role(mut self, r: Role) -> Self {
        self.roles.push(r);
        self
    }

    pub fn role_binding(mut self, b: RoleBinding) -> Self {
        self.role_bindings.push(b);
        self
    }

    pub fn config_map(mut self, cm: ConfigMap) -> Self {
        self.config_maps.push(cm);
        self
    }

    pub fn tag(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.tags.insert(k.into(), v.into());
        self
    }

    /// Seeds a Lease (namespace `kube-system` when the object names none).
    pub fn lease(mut self, lease: Lease) -> Self {
        self.leases.push(lease);
        self
    }
}

/// A Kubernetes node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A managed node group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodegroupSpec {
    pub name: String,
    pub node_role_arn: String,
    /// e.g. `AL2023_x86_64_STANDARD`, `WINDOWS_CORE_2022_x86_64` (Windows → `EC2_WINDOWS` entry).
    #[serde(default = "default_ami_type")]
    pub ami_type: String,
}

fn default_ami_type() -> String {
    "AL2023_x86_64_STANDARD".to_string()
}

/// A Fargate profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargateProfileSpec {
    pub name: String,
    pub pod_execution_role_arn: String,
    #[serde(default)]
    pub selectors: Vec<FargateSelector>,
}

/// A Fargate profile selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargateSelector {
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A pre-existing access entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntrySpec {
    pub principal_arn: String,
    #[serde(rename = "type", default)]
    pub entry_type: AccessEntryType,
    /// Default as EKS generates it (docs/access-entries.md#default-usernames) when absent.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub access_policies: Vec<AccessPolicySpec>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl AccessEntrySpec {
    pub fn standard(principal_arn: impl Into<String>) -> Self {
        Self {
            principal_arn: principal_arn.into(),
            entry_type: AccessEntryType::Standard,
            username: None,
            kubernetes_groups: Vec::new(),
            access_policies: Vec::new(),
            tags: BTreeMap::new(),
        }
    }

    pub fn typed(principal_arn: impl Into<String>, entry_type: AccessEntryType) -> Self {
        Self {
            entry_type,
            ..Self::standard(principal_arn)
        }
    }

    pub fn username(mut self, u: impl Into<String>) -> Self {
        self.username = Some(u.into());
        self
    }

    pub fn group(mut self, g: impl Into<String>) -> Self {
        self.kubernetes_groups.push(g.into());
        self
    }

    /// `policy` is a full ARN or a bare name such as `AmazonEKSViewPolicy`.
    pub fn policy(mut self, policy: impl Into<String>, scope: AccessScope) -> Self {
        self.access_policies.push(AccessPolicySpec {
            policy_arn: policy.into(),
            access_scope: scope,
        });
        self
    }

    pub fn tag(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.tags.insert(k.into(), v.into());
        self
    }
}

/// An associated access policy of a pre-existing entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicySpec {
    /// Full ARN, or a bare policy name resolved in the cluster's partition.
    pub policy_arn: String,
    #[serde(default)]
    pub access_scope: AccessScope,
}

impl WorldSpec {
    /// Parses a YAML fixture (see `sim/testdata/` for examples).
    pub fn from_yaml(text: &str) -> Result<Self, WorldError> {
        serde_saphyr::from_str(text).map_err(|e| WorldError::Parse(e.to_string()))
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }
}

/// Builds a world in code. Every method appends to a [`WorldSpec`]; [`WorldBuilder::build`] turns
/// it into a running [`Sim`].
#[derive(Debug, Default, Clone)]
pub struct WorldBuilder {
    spec: WorldSpec,
    seed: u64,
}

impl WorldBuilder {
    /// Adds an account in the `aws` partition (no-op if it exists).
    pub fn account(self, id: impl Into<String>) -> Self {
        self.account_in(id, "aws")
    }

    pub fn account_in(mut self, id: impl Into<String>, partition: impl Into<String>) -> Self {
        let id = id.into();
        if !self.spec.accounts.iter().any(|a| a.id == id) {
            self.spec.accounts.push(AccountSpec {
                id,
                partition: partition.into(),
                roles: Vec::new(),
                users: Vec::new(),
            });
        }
        self
    }

    fn account_mut(&mut self, id: &str) -> &mut AccountSpec {
        if !self.spec.accounts.iter().any(|a| a.id == id) {
            self.spec.accounts.push(AccountSpec {
                id: id.to_string(),
                partition: default_partition(),
                roles: Vec::new(),
                users: Vec::new(),
            });
        }
        self.spec
            .accounts
            .iter_mut()
            .find(|a| a.id == id)
            .expect("account just ensured")
    }

    /// Adds a role (creating the account in `aws` if needed). `path` like `/` or `/team/`.
    pub fn role(mut self, account: &str, path: &str, name: &str) -> Self {
        self.account_mut(account).roles.push(RoleSpec {
            name: name.to_string(),
            path: path.to_string(),
            unique_id: None,
            trust: Vec::new(),
        });
        self
    }

    /// Adds a role that `trusted` (principal ARNs or account ids) may assume.
    pub fn role_trusting(
        mut self,
        account: &str,
        path: &str,
        name: &str,
        trusted: &[&str],
    ) -> Self {
        self.account_mut(account).roles.push(RoleSpec {
            name: name.to_string(),
            path: path.to_string(),
            unique_id: None,
            trust: trusted.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// Adds a user with one access key.
    pub fn user(
        mut self,
        account: &str,
        path: &str,
        name: &str,
        key_id: &str,
        secret: &str,
    ) -> Self {
        self.account_mut(account).users.push(UserSpec {
            name: name.to_string(),
            path: path.to_string(),
            unique_id: None,
            access_keys: vec![AccessKeySpec {
                id: key_id.to_string(),
                secret: secret.to_string(),
            }],
        });
        self
    }

    pub fn role_spec(mut self, account: &str, role: RoleSpec) -> Self {
        self.account_mut(account).roles.push(role);
        self
    }

    pub fn user_spec(mut self, account: &str, user: UserSpec) -> Self {
        self.account_mut(account).users.push(user);
        self
    }

    pub fn cluster(mut self, cluster: ClusterSpec) -> Self {
        self.account_mut(&cluster.account.clone());
        self.spec.clusters.push(cluster);
        self
    }

    pub fn caller(mut self, access_key_id: impl Into<String>) -> Self {
        self.spec.caller = Some(access_key_id.into());
        self
    }

    pub fn update_duration(mut self, d: Duration) -> Self {
        self.spec.update_duration_ms = Some(d.as_millis() as u64);
        self
    }

    /// Seed of every generated id and fault decision.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }

    pub fn build(self) -> Result<Sim, WorldError> {
        Sim::from_spec(self.spec, self.seed)
    }
}

// ------------------------------------------------------------------------------------------------
// Runtime: IAM
// ------------------------------------------------------------------------------------------------

/// An account known to the simulator.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub partition: String,
}

/// An IAM role at runtime.
#[derive(Debug, Clone)]
pub struct IamRole {
    pub account: String,
    pub partition: String,
    pub name: String,
    pub path: String,
    pub unique_id: String,
    pub trust: Vec<String>,
    pub created_at: Epoch,
}

impl IamRole {
    /// `arn:P:iam::A:role/PATH/NAME` (the real, path-ful ARN).
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

/// An IAM user at runtime.
#[derive(Debug, Clone)]
pub struct IamUser {
    pub account: String,
    pub partition: String,
    pub name: String,
    pub path: String,
    pub unique_id: String,
    pub created_at: Epoch,
}

impl IamUser {
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:user{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

/// Who signs with an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// Long-term key of an IAM user (`AKIA…`).
    User { account: String, name: String },
    /// Temporary credentials from `AssumeRole` (`ASIA…`).
    AssumedRole {
        account: String,
        role_name: String,
        session_name: String,
    },
}

/// Credentials the simulator knows.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub session_token: Option<String>,
    pub owner: KeyOwner,
    /// Temporary credentials expire; `None` for long-term keys.
    pub expires_at: Option<Epoch>,
}

/// The identity STS reports for a caller, plus the authenticator's derived fields
/// (docs/aws-auth.md#caller-identity-and-canonical-arns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerIdentity {
    /// Raw STS ARN: `arn:P:sts::A:assumed-role/NAME/SESSION` or `arn:P:iam::A:user/PATH/NAME`.
    pub arn: String,
    /// Canonical ARN: `arn:P:iam::A:role/NAME` (no path) or the user ARN unchanged.
    pub canonical_arn: String,
    pub account: String,
    pub partition: String,
    /// STS `UserId`: `AROA…:SESSION` for roles, `AIDA…` for users.
    pub user_id: String,
    /// The unique id alone (`AROA…` / `AIDA…`): what an access entry is bound to.
    pub principal_id: String,
    /// Session name for roles, empty for users.
    pub session_name: String,
    pub access_key_id: String,
    /// The IAM principal's full ARN with its path (what an access entry is keyed on).
    pub principal_arn: String,
}

/// All IAM state (every account).
#[derive(Debug, Default)]
pub struct Iam {
    pub accounts: BTreeMap<String, Account>,
    /// Keyed by (account, lower-cased name): IAM role names are unique case-insensitively.
    pub roles: HashMap<(String, String), IamRole>,
    pub users: HashMap<(String, String), IamUser>,
    pub access_keys: HashMap<String, AccessKey>,
}

/// A role or user named by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamPrincipal {
    Role(IamRole),
    User(IamUser),
}

impl IamPrincipal {
    pub fn arn(&self) -> String {
        match self {
            Self::Role(r) => r.arn(),
            Self::User(u) => u.arn(),
        }
    }

    pub fn unique_id(&self) -> &str {
        match self {
            Self::Role(r) => &r.unique_id,
            Self::User(u) => &u.unique_id,
        }
    }

    pub fn account(&self) -> &str {
        match self {
            Self::Role(r) => &r.account,
            Self::User(u) => &u.account,
        }
    }
}

impl PartialEq for IamRole {
    fn eq(&self, o: &Self) -> bool {
        self.unique_id == o.unique_id
    }
}
impl Eq for IamRole {}
impl PartialEq for IamUser {
    fn eq(&self, o: &Self) -> bool {
        self.unique_id == o.unique_id
    }
}
impl Eq for IamUser {}

/// The parts of an IAM ARN `arn:P:iam::A:role|user/PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamArn<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    /// `role`, `user`, `root`, …
    pub resource_type: &'a str,
    /// `/` or `/a/b/`.
    pub path: &'a str,
    pub name: &'a str,
}

/// Splits an IAM ARN; `None` for anything that is not `arn:P:iam::ACCOUNT:TYPE[/PATH]/NAME`.
pub fn parse_iam_arn(arn: &str) -> Option<IamArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let partition = parts.next()?;
    if parts.next()? != "iam" || !parts.next()?.is_empty() {
        return None;
    }
    let account = parts.next()?;
    let resource = parts.next()?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || partition.is_empty() {
        return None;
    }
    if resource == "root" {
        return Some(IamArn {
            partition,
            account,
            resource_type: "root",
            path: "/",
            name: "",
        });
    }
    let slash = resource.find('/')?;
    let (resource_type, rest) = (&resource[..slash], &resource[slash..]);
    let last = rest.rfind('/')?;
    let (path, name) = (&rest[..=last], &rest[last + 1..]);
    if name.is_empty() {
        return None;
    }
    Some(IamArn {
        partition,
        account,
        resource_type,
        path,
        name,
    })
}

impl Iam {
    pub fn role(&self, account: &str, name: &str) -> Option<&IamRole> {
        self.roles
            .get(&(account.to_string(), name.to_ascii_lowercase()))
    }

    pub fn user(&self, account: &str, name: &str) -> Option<&IamUser> {
        self.users.get(&(account.to_string(), name.to_string()))
    }

    /// The principal whose real ARN is exactly `arn` (path included). A path-stripped role ARN
    /// of a role that has a path does not resolve — that is EKS's "invalid principal".
    pub fn principal_by_arn(&self, arn: &str) -> Option<IamPrincipal> {
        let p = parse_iam_arn(arn)?;
        match p.resource_type {
            "role" => {
                let r = self.role(p.account, p.name)?;
                (r.arn() == arn).then(|| IamPrincipal::Role(r.clone()))
            }
            "user" => {
                let u = self.user(p.account, p.name)?;
                (u.arn() == arn).then(|| IamPrincipal::User(u.clone()))
            }
            _ => None,
        }
    }

    /// The unique id (`AROA…`/`AIDA…`) of the principal with this exact ARN. Compares the
    /// parts instead of formatting ARNs: fleet builds call this once per access entry.
    pub fn unique_id_of(&self, arn: &str) -> Option<String> {
        let p = parse_iam_arn(arn)?;
        let same = |partition: &str, path: &str, name: &str| {
            partition == p.partition && path == p.path && name == p.name
        };
        match p.resource_type {
            "role" => self
                .role(p.account, p.name)
                .filter(|r| same(&r.partition, &r.path, &r.name))
                .map(|r| r.unique_id.clone()),
            "user" => self
                .user(p.account, p.name)
                .filter(|u| same(&u.partition, &u.path, &u.name))
                .map(|u| u.unique_id.clone()),
            _ => None,
        }
    }

    /// The caller identity behind an access key, as STS `GetCallerIdentity` would report it.
    pub fn identity_for_key(&self, access_key_id: &str) -> Option<CallerIdentity> {
        let key = self.access_keys.get(access_key_id)?;
        match &key.owner {
            KeyOwner::User { account, name } => {
                let u = self.user(account, name)?;
                let arn = u.arn();
                Some(CallerIdentity {
                    canonical_arn: arn.clone(),
                    principal_arn: arn.clone(),
                    arn,
                    account: account.clone(),
                    partition: u.partition.clone(),
                    user_id: u.unique_id.clone(),
                    principal_id: u.unique_id.clone(),
                    session_name: String::new(),
                    access_key_id: access_key_id.to_string(),
                })
            }
            KeyOwner::AssumedRole {
                account,
                role_name,
                session_name,
            } => {
                let r = self.role(account, role_name)?;
                Some(CallerIdentity {
                    arn: format!(
                        "arn:{}:sts::{}:assumed-role/{}/{}",
                        r.partition, account, r.name, session_name
                    ),
                    canonical_arn: format!("arn:{}:iam::{}:role/{}", r.partition, account, r.name),
                    principal_arn: r.arn(),
                    account: account.clone(),
                    partition: r.partition.clone(),
                    user_id: format!("{}:{}", r.unique_id, session_name),
                    principal_id: r.unique_id.clone(),
                    session_name: session_name.clone(),
                    access_key_id: access_key_id.to_string(),
                })
            }
        }
    }

    /// Whether `caller` may assume `role` under the role's trust list.
    pub fn trusts(&self, role: &IamRole, caller: &CallerIdentity) -> bool {
        let root = format!("arn:{}:iam::{}:root", caller.partition, caller.account);
        role.trust.iter().any(|t| {
            t == &caller.account
                || t == &root
                || t == &caller.principal_arn
                || t == &caller.canonical_arn
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Runtime: clusters
// ------------------------------------------------------------------------------------------------

/// Identifies a cluster: (account, region, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ClusterKey {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl ClusterKey {
    pub fn new(
        account: impl Into<String>,
        region: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.account, self.region, self.name)
    }
}

/// An associated access policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedAccessPolicy {
    pub policy_arn: String,
    pub access_scope: AccessScope,
    pub associated_at: Epoch,
    pub modified_at: Epoch,
}

/// An access entry as EKS stores it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: AccessEntryType,
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    /// Keyed by policy ARN (each policy once per entry; re-associating replaces the scope).
    pub access_policies: BTreeMap<String, AssociatedAccessPolicy>,
    pub tags: BTreeMap<String, String>,
    pub created_at: Epoch,
    pub modified_at: Epoch,
    /// The principal's IAM unique id when the entry was created (`None`: principal did not
    /// exist). The authenticator must match the caller's unique id against it: a deleted and
    /// recreated principal has a new id and the entry no longer authenticates it.
    pub principal_unique_id: Option<String>,
    /// Random suffix of `accessEntryArn`; a recreated entry gets a new one.
    pub arn_suffix: u128,
    /// Eventual consistency: AssociateAccessPolicy 404s until this time…
    #[serde(skip)]
    pub not_found_until: Epoch,
    /// …and for this many more calls.
    #[serde(skip)]
    pub not_found_calls: u32,
}

impl AccessEntry {
    /// `arn:P:eks:REGION:ACCOUNT:access-entry/CLUSTER/role|user/PRINCIPAL_ACCOUNT/NAME/UUID`.
    pub fn access_entry_arn(&self, cluster: &ClusterState) -> String {
        let (kind, acct, name) = match parse_iam_arn(&self.principal_arn) {
            Some(p) => (p.resource_type, p.account, p.name),
            None => ("unknown", "", ""),
        };
        format!(
            "arn:{}:eks:{}:{}:access-entry/{}/{}/{}/{}/{}",
            cluster.partition,
            cluster.key.region,
            cluster.key.account,
            cluster.key.name,
            kind,
            acct,
            name,
            format_uuid(self.arn_suffix)
        )
    }
}

/// One error of a failed update (`ErrorDetail`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateError {
    pub error_code: String,
    pub error_message: String,
    pub resource_ids: Vec<String>,
}

/// A cluster update (`Update`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterUpdate {
    pub id: String,
    /// e.g. `AccessConfigUpdate`, `VersionUpdate`.
    pub update_type: String,
    pub status: UpdateStatus,
    /// `(type, value)` pairs, e.g. `("AuthenticationMode", "\"API\"")`.
    pub params: Vec<(String, String)>,
    pub created_at: Epoch,
    /// When it leaves `InProgress`.
    pub completes_at: Epoch,
    /// Decided when the update starts (fault injection): end `Failed` with these errors.
    pub planned_failure: Option<Vec<UpdateError>>,
    pub errors: Vec<UpdateError>,
    /// The mode the cluster moves to on success (access-config updates).
    pub target_mode: Option<AuthenticationMode>,
}

/// A managed node group at runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Nodegroup {
    pub name: String,
    pub node_role_arn: String,
    pub ami_type: String,
    pub created_at: Epoch,
    pub arn_suffix: u128,
}

impl Nodegroup {
    /// Windows AMIs get `EC2_WINDOWS` entries, everything else `EC2_LINUX`.
    pub fn access_entry_type(&self) -> AccessEntryType {
        if self.ami_type.to_ascii_uppercase().starts_with("WINDOWS") {
            AccessEntryType::Ec2Windows
        } else {
            AccessEntryType::Ec2Linux
        }
    }
}

/// A Fargate profile at runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct FargateProfile {
    pub name: String,
    pub pod_execution_role_arn: String,
    pub selectors: Vec<FargateSelector>,
    pub created_at: Epoch,
    pub arn_suffix: u128,
}

/// One cluster's complete state: the EKS side and the Kubernetes objects the simulator serves.
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub key: ClusterKey,
    pub partition: String,
    pub authentication_mode: AuthenticationMode,
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    pub kubernetes_version: String,
    pub platform_version: String,
    pub status: ClusterStatus,
    pub creator_arn: Option<String>,
    /// Unique id of the creator when the cluster was created (the hidden `CONFIG_MAP` admin).
    pub creator_unique_id: Option<String>,
    pub created_at: Epoch,
    pub tags: BTreeMap<String, String>,
    /// Access entries keyed by principal ARN (sorted: listing and paging are stable).
    pub access_entries: BTreeMap<String, AccessEntry>,
    /// Updates in creation order.
    pub updates: Vec<ClusterUpdate>,
    pub nodegroups: BTreeMap<String, Nodegroup>,
    pub fargate_profiles: BTreeMap<String, FargateProfile>,
    /// ConfigMaps keyed by (namespace, name), metadata (uid, resourceVersion) filled in.
    pub config_maps: BTreeMap<(String, String), ConfigMap>,
    pub cluster_roles: BTreeMap<String, ClusterRole>,
    pub cluster_role_bindings: BTreeMap<String, ClusterRoleBinding>,
    /// Keyed by (namespace, name).
    pub roles: BTreeMap<(String, String), Role>,
    pub role_bindings: BTreeMap<(String, String), RoleBinding>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub nodes: BTreeMap<String, Node>,
    /// `coordination.k8s.io` Leases keyed by (namespace, name).
    pub leases: BTreeMap<(String, String), Lease>,
    /// Last resourceVersion handed out (cluster-wide, like etcd's revision).
    pub resource_version: u64,
    /// Successful replies of mutating EKS calls, by their `clientRequestToken`.
    pub idempotent_replies: HashMap<String, IdempotentReply>,
    /// Seed for ids generated on this cluster.
    id_state: u64,
}

/// What a mutating call with a `clientRequestToken` answered: a retry with the same token and
/// the same request gets this reply again instead of acting twice.
#[derive(Debug, Clone)]
pub struct IdempotentReply {
    /// Operation and path (the path names the access entry for UpdateAccessEntry).
    pub request: String,
    /// The request body without the token.
    pub params: serde_json::Value,
    pub reply: crate::server::Reply,
}

impl ClusterState {
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:eks:{}:{}:cluster/{}",
            self.partition, self.key.region, self.key.account, self.key.name
        )
    }

    /// Next resourceVersion as Kubernetes writes it (a decimal string).
    pub fn next_resource_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// A fresh object uid (deterministic per cluster and seed).
    pub fn new_uid(&mut self) -> String {
        format_uuid(self.next_id())
    }

    fn next_id(&mut self) -> u128 {
        let hi = splitmix64(&mut self.id_state);
        let lo = splitmix64(&mut self.id_state);
        (u128::from(hi) << 64) | u128::from(lo)
    }

    /// `kube-system/aws-auth`, if it exists.
    pub fn aws_auth(&self) -> Option<&ConfigMap> {
        self.config_maps
            .get(&(KUBE_SYSTEM.to_string(), AWS_AUTH.to_string()))
    }

    pub fn aws_auth_mut(&mut self) -> Option<&mut ConfigMap> {
        self.config_maps
            .get_mut(&(KUBE_SYSTEM.to_string(), AWS_AUTH.to_string()))
    }

    /// Stores a ConfigMap, stamping uid (if new), resourceVersion and creationTimestamp.
    pub fn put_config_map(&mut self, mut cm: ConfigMap) -> &ConfigMap {
        let ns = cm
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| KUBE_SYSTEM.to_string());
        let name = cm.metadata.name.clone().unwrap_or_default();
        let key = (ns.clone(), name);
        let existing_uid = self
            .config_maps
            .get(&key)
            .and_then(|c| c.metadata.uid.clone());
        let existing_created = self
            .config_maps
            .get(&key)
            .and_then(|c| c.metadata.creation_timestamp.clone());
        cm.metadata.namespace = Some(ns);
        cm.metadata.uid = Some(match existing_uid {
            Some(u) => u,
            None => cm.metadata.uid.clone().unwrap_or_else(|| self.new_uid()),
        });
        cm.metadata.creation_timestamp = existing_created
            .or(cm.metadata.creation_timestamp.clone())
            .or_else(|| Some(k8s_time(self.created_at)));
        cm.metadata.resource_version = Some(self.next_resource_version());
        self.config_maps.insert(key.clone(), cm);
        &self.config_maps[&key]
    }

    /// The concurrent-writer fault: another actor edits `aws-auth` (an annotation, so the
    /// authenticator's view is unchanged) and bumps its resourceVersion. Returns `false` when
    /// there is no `aws-auth`.
    pub fn apply_concurrent_aws_auth_edit(&mut self) -> bool {
        let Some(mut cm) = self.aws_auth().cloned() else {
            return false;
        };
        let n = self.resource_version + 1;
        cm.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("eks-sim/concurrent-writer".to_string(), n.to_string());
        self.put_config_map(cm);
        true
    }

    /// Starts an update (`InProgress`, cluster `UPDATING`) that completes after `duration`;
    /// returns its id. Also usable by tests to simulate an update the tool did not start.
    pub fn start_update(
        &mut self,
        update_type: &str,
        params: Vec<(String, String)>,
        target_mode: Option<AuthenticationMode>,
        now: f64,
        duration: std::time::Duration,
        planned_failure: Option<Vec<UpdateError>>,
    ) -> String {
        let id = self.new_uid();
        self.updates.push(ClusterUpdate {
            id: id.clone(),
            update_type: update_type.to_string(),
            status: UpdateStatus::InProgress,
            params,
            created_at: now,
            completes_at: now + duration.as_secs_f64(),
            planned_failure,
            errors: Vec::new(),
            target_mode,
        });
        self.status = ClusterStatus::Updating;
        id
    }

    /// The update currently `InProgress`, if any.
    pub fn update_in_progress(&self) -> Option<&ClusterUpdate> {
        self.updates
            .iter()
            .find(|u| u.status == UpdateStatus::InProgress)
    }

    /// Completes every update whose time has come, applying successful mode switches.
    pub fn settle(&mut self, now: Epoch, iam: &Iam) {
        let mut i = 0;
        while i < self.updates.len() {
            if self.updates[i].status == UpdateStatus::InProgress
                && now >= self.updates[i].completes_at
            {
                let at = self.updates[i].completes_at;
                if let Some(errors) = self.updates[i].planned_failure.take() {
                    self.updates[i].status = UpdateStatus::Failed;
                    self.updates[i].errors = errors;
                } else {
                    self.updates[i].status = UpdateStatus::Successful;
                    if let Some(to) = self.updates[i].target_mode {
                        self.switch_mode(to, at, iam);
                    }
                }
            }
            i += 1;
        }
        if self.status == ClusterStatus::Updating && self.update_in_progress().is_none() {
            self.status = ClusterStatus::Active;
        }
    }

    /// Applies a mode change as EKS does (docs/authentication-modes.md#the-first-switch): on the
    /// first switch to an API mode, node-group roles, Fargate pod execution roles and (if
    /// bootstrapped) the creator get entries.
    pub fn switch_mode(&mut self, to: AuthenticationMode, at: Epoch, iam: &Iam) {
        let from = self.authentication_mode;
        self.authentication_mode = to;
        if from != AuthenticationMode::ConfigMap || !to.uses_access_entries() {
            return;
        }
        let mut wanted: Vec<(String, AccessEntryType)> = Vec::new();
        for ng in self.nodegroups.values() {
            wanted.push((ng.node_role_arn.clone(), ng.access_entry_type()));
        }
        for fp in self.fargate_profiles.values() {
            wanted.push((
                fp.pod_execution_role_arn.clone(),
                AccessEntryType::FargateLinux,
            ));
        }
        for (arn, t) in wanted {
            if !self.access_entries.contains_key(&arn) {
                let uid = iam.unique_id_of(&arn);
                let e = self.new_entry(arn, t, None, Vec::new(), BTreeMap::new(), uid, at);
                self.access_entries.insert(e.principal_arn.clone(), e);
            }
        }
        if self.bootstrap_cluster_creator_admin_permissions == Some(true)
            && let Some(creator) = self.creator_arn.clone()
            && !self.access_entries.contains_key(&creator)
        {
            let uid = self
                .creator_unique_id
                .clone()
                .or_else(|| iam.unique_id_of(&creator));
            let mut e = self.new_entry(
                creator,
                AccessEntryType::Standard,
                None,
                Vec::new(),
                BTreeMap::new(),
                uid,
                at,
            );
            let policy = policy_arn(&self.partition, "AmazonEKSClusterAdminPolicy");
            e.access_policies.insert(
                policy.clone(),
                AssociatedAccessPolicy {
                    policy_arn: policy,
                    access_scope: AccessScope::cluster(),
                    associated_at: at,
                    modified_at: at,
                },
            );
            self.access_entries.insert(e.principal_arn.clone(), e);
        }
    }

    /// Builds an entry with EKS's defaults for username/groups (does not insert it).
    #[allow(clippy::too_many_arguments)]
    pub fn new_entry(
        &mut self,
        principal_arn: String,
        entry_type: AccessEntryType,
        username: Option<String>,
        kubernetes_groups: Vec<String>,
        tags: BTreeMap<String, String>,
        principal_unique_id: Option<String>,
        at: Epoch,
    ) -> AccessEntry {
        let username = match entry_type.node_username() {
            Some(u) => u.to_string(),
            None => username.unwrap_or_else(|| default_username(&principal_arn)),
        };
        let kubernetes_groups = if entry_type.is_node() {
            entry_type.node_groups()
        } else {
            kubernetes_groups
        };
        AccessEntry {
            principal_arn,
            entry_type,
            username,
            kubernetes_groups,
            access_policies: BTreeMap::new(),
            tags,
            created_at: at,
            modified_at: at,
            principal_unique_id,
            arn_suffix: self.next_id(),
            not_found_until: 0.0,
            not_found_calls: 0,
        }
    }

    /// The entry whose `accessEntryArn` is `arn`.
    pub fn entry_by_arn(&self, arn: &str) -> Option<&AccessEntry> {
        self.access_entries
            .values()
            .find(|e| e.access_entry_arn(self) == arn)
    }
}

/// EKS's default username (docs/access-entries.md#default-usernames): a user's ARN, or the STS form
/// of a role without its path and with `{{SessionName}}`.
pub fn default_username(principal_arn: &str) -> String {
    match parse_iam_arn(principal_arn) {
        Some(p) if p.resource_type == "role" => format!(
            "arn:{}:sts::{}:assumed-role/{}/{{{{SessionName}}}}",
            p.partition, p.account, p.name
        ),
        _ => principal_arn.to_string(),
    }
}

/// `arn:P:eks::aws:cluster-access-policy/NAME`.
pub fn policy_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:eks::aws:cluster-access-policy/{name}")
}

fn k8s_time(epoch: Epoch) -> Time {
    let secs = epoch.max(0.0) as i64;
    Time(
        k8s_openapi::jiff::Timestamp::from_second(secs)
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

/// A handle on one cluster's state.
#[derive(Clone)]
pub struct Cluster {
    state: Arc<Mutex<ClusterState>>,
    sim: Sim,
}

impl Cluster {
    /// Locks the cluster after completing due updates. Do not hold the guard across `.await`.
    pub fn lock(&self) -> MutexGuard<'_, ClusterState> {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.sim.now();
        let iam = self.sim.iam();
        g.settle(now, &iam);
        g
    }
}

// ------------------------------------------------------------------------------------------------
// Runtime: the world and the Sim handle
// ------------------------------------------------------------------------------------------------

/// All mutable simulator state.
#[derive(Debug, Default)]
pub struct World {
    pub iam: RwLock<Iam>,
    pub clusters: RwLock<HashMap<ClusterKey, Arc<Mutex<ClusterState>>>>,
}

impl World {
    /// Starts a world in code: `World::builder().account(..).role(..).cluster(..).build()`.
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }
}

/// Where the simulator's servers listen (set by [`crate::server`] once bound).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT` — EKS, IAM and STS.
    pub aws: Option<String>,
    /// `https://127.0.0.1:PORT` — Kubernetes API; clusters live under `/clusters/ACCOUNT/REGION/NAME`.
    pub kube_base: Option<String>,
    /// PEM of the CA that signed the Kubernetes server certificate.
    pub ca_pem: Option<String>,
}

struct SimInner {
    world: World,
    faults: Faults,
    counters: Counters,
    endpoints: RwLock<Endpoints>,
    clock_offset_ms: AtomicU64,
    update_duration_ms: AtomicU64,
    id_state: Mutex<u64>,
    seed: u64,
    caller: Option<String>,
}

/// The simulator: a cheap, clonable handle on the world, faults and counters.
#[derive(Clone)]
pub struct Sim(Arc<SimInner>);

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.0.seed)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Reads a YAML fixture file.
    pub fn from_yaml_file(path: &std::path::Path, seed: u64) -> Result<Self, WorldError> {
        Self::from_spec(WorldSpec::from_file(path)?, seed)
    }

    pub fn from_yaml(text: &str, seed: u64) -> Result<Self, WorldError> {
        Self::from_spec(WorldSpec::from_yaml(text)?, seed)
    }

    /// Builds the runtime world; consumes the spec so large fleets move their strings instead of
    /// copying them, and builds clusters on all cores.
    pub fn from_spec(spec: WorldSpec, seed: u64) -> Result<Self, WorldError> {
        let now = wall_now();
        let mut id_state = seed ^ 0x0005_EED0_FE45_u64;
        let iam = build_iam(&spec.accounts, now, &mut id_state)?;
        let mut seen = std::collections::HashSet::new();
        for c in &spec.clusters {
            let acct = iam.accounts.get(&c.account).ok_or_else(|| {
                invalid(format!(
                    "cluster {} names unknown account {}",
                    c.name, c.account
                ))
            })?;
            let _ = acct;
            if !seen.insert((c.account.clone(), c.region.clone(), c.name.clone())) {
                return Err(invalid(format!(
                    "cluster {} is defined twice in {}/{}",
                    c.name, c.account, c.region
                )));
            }
        }
        let clusters = build_clusters(spec.clusters, &iam, now, seed)?;
        let update_ms = spec
            .update_duration_ms
            .unwrap_or(DEFAULT_UPDATE_DURATION.as_millis() as u64);
        let caller = spec.caller.or_else(|| {
            spec.accounts
                .iter()
                .flat_map(|a| a.users.iter())
                .flat_map(|u| u.access_keys.iter())
                .map(|k| k.id.clone())
                .next()
        });
        Ok(Sim(Arc::new(SimInner {
            world: World {
                iam: RwLock::new(iam),
                clusters: RwLock::new(clusters),
            },
            faults: Faults::new(seed),
            counters: Counters::default(),
            endpoints: RwLock::new(Endpoints::default()),
            clock_offset_ms: AtomicU64::new(0),
            update_duration_ms: AtomicU64::new(update_ms),
            id_state: Mutex::new(id_state),
            seed,
            caller,
        })))
    }

    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// Now, as epoch seconds (wall clock + [`Sim::advance_clock`] offset).
    pub fn now(&self) -> Epoch {
        wall_now() + self.0.clock_offset_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Moves the simulator's clock forward (updates complete, tokens expire, windows close).
    pub fn advance_clock(&self, by: Duration) {
        self.0
            .clock_offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    /// How long `UpdateClusterConfig` stays `InProgress`.
    pub fn update_duration(&self) -> Duration {
        Duration::from_millis(self.0.update_duration_ms.load(Ordering::Relaxed))
    }

    pub fn set_update_duration(&self, d: Duration) {
        self.0
            .update_duration_ms
            .store(d.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn world(&self) -> &World {
        &self.0.world
    }

    /// IAM, read-only. Do not hold across `.await` or while locking a cluster… after this guard.
    pub fn iam(&self) -> RwLockReadGuard<'_, Iam> {
        self.0.world.iam.read().unwrap_or_else(|e| e.into_inner())
    }

    /// IAM, writable (tests: recreate principals, add keys). Never lock a cluster while holding it.
    pub fn iam_mut(&self) -> RwLockWriteGuard<'_, Iam> {
        self.0.world.iam.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> &Faults {
        &self.0.faults
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, config: FaultConfig) {
        self.0.faults.configure(config);
    }

    pub fn counters(&self) -> &Counters {
        &self.0.counters
    }

    pub fn endpoints(&self) -> Endpoints {
        self.0
            .endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_endpoints(&self, e: Endpoints) {
        *self.0.endpoints.write().unwrap_or_else(|e| e.into_inner()) = e;
    }

    /// The Kubernetes API URL of a cluster (what DescribeCluster returns as `endpoint`).
    pub fn kube_endpoint(&self, key: &ClusterKey) -> Option<String> {
        let base = self.endpoints().kube_base?;
        Some(format!(
            "{}/clusters/{}/{}/{}",
            base.trim_end_matches('/'),
            key.account,
            key.region,
            key.name
        ))
    }

    /// Access key id of the default caller (printed by `eks-sim serve`).
    pub fn default_caller(&self) -> Option<String> {
        self.0.caller.clone()
    }

    pub fn cluster(&self, key: &ClusterKey) -> Option<Cluster> {
        let map = self
            .0
            .world
            .clusters
            .read()
            .unwrap_or_else(|e| e.into_inner());
        map.get(key).map(|state| Cluster {
            state: state.clone(),
            sim: self.clone(),
        })
    }

    /// Every cluster key, sorted.
    pub fn cluster_keys(&self) -> Vec<ClusterKey> {
        let map = self
            .0
            .world
            .clusters
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Adds a cluster at runtime.
    pub fn add_cluster(&self, spec: ClusterSpec) -> Result<ClusterKey, WorldError> {
        let now = self.now();
        let seed = self.next_seed();
        let state = {
            let iam = self.iam();
            build_cluster(spec, &iam, now, seed)?
        };
        let key = state.key.clone();
        self.0
            .world
            .clusters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), Arc::new(Mutex::new(state)));
        Ok(key)
    }

    /// The caller behind an access key (STS form + canonical ARN + unique id).
    pub fn identity_for_key(&self, access_key_id: &str) -> Option<CallerIdentity> {
        self.iam().identity_for_key(access_key_id)
    }

    /// The secret (and session token) of an access key the simulator issued or was given.
    pub fn access_key(&self, access_key_id: &str) -> Option<AccessKey> {
        self.iam().access_keys.get(access_key_id).cloned()
    }

    /// Unique id of the principal with exactly this ARN.
    pub fn unique_id_of(&self, principal_arn: &str) -> Option<String> {
        self.iam().unique_id_of(principal_arn)
    }

    /// Deletes and recreates an IAM role or user with the same ARN: it gets a new unique id, so
    /// access entries created before no longer authenticate it
    /// (docs/access-entries.md#bound-to-the-iam-unique-id).
    pub fn recreate_principal(&self, principal_arn: &str) -> Option<String> {
        let new_id = self.next_seed();
        let mut iam = self.iam_mut();
        let p = parse_iam_arn(principal_arn)?;
        let key_acct = p.account.to_string();
        match p.resource_type {
            "role" => {
                let k = (key_acct, p.name.to_ascii_lowercase());
                let r = iam.roles.get_mut(&k)?;
                r.unique_id = make_unique_id("AROA", new_id);
                Some(r.unique_id.clone())
            }
            "user" => {
                let k = (key_acct, p.name.to_string());
                let u = iam.users.get_mut(&k)?;
                u.unique_id = make_unique_id("AIDA", new_id);
                Some(u.unique_id.clone())
            }
            _ => None,
        }
    }

    /// Adds (or replaces) an IAM role at runtime; returns its ARN.
    pub fn put_role(&self, account: &str, spec: RoleSpec) -> Result<String, WorldError> {
        let seed = self.next_seed();
        let now = self.now();
        let mut iam = self.iam_mut();
        let partition = iam
            .accounts
            .get(account)
            .map(|a| a.partition.clone())
            .ok_or_else(|| invalid(format!("unknown account {account}")))?;
        let role = make_role(account, &partition, spec, now, seed)?;
        let arn = role.arn();
        iam.roles
            .insert((account.to_string(), role.name.to_ascii_lowercase()), role);
        Ok(arn)
    }

    /// Issues temporary credentials for a role session (what AssumeRole does after its checks).
    pub fn issue_session_credentials(
        &self,
        account: &str,
        role_name: &str,
        session_name: &str,
        duration: Duration,
    ) -> AccessKey {
        let a = self.next_seed();
        let b = self.next_seed();
        let key = AccessKey {
            id: format!("ASIA{}", base32ish(a, 16)),
            secret: format!("{}{}", base32ish(a ^ b, 20), base32ish(b, 20)),
            session_token: Some(format!("FwoGZXIvYXdzE{}", base32ish(b.rotate_left(17), 40))),
            owner: KeyOwner::AssumedRole {
                account: account.to_string(),
                role_name: role_name.to_string(),
                session_name: session_name.to_string(),
            },
            expires_at: Some(self.now() + duration.as_secs_f64()),
        };
        self.iam_mut()
            .access_keys
            .insert(key.id.clone(), key.clone());
        key
    }

    /// A fresh pseudo-random value from the world's seeded sequence.
    pub fn next_seed(&self) -> u64 {
        let mut s = self.0.id_state.lock().unwrap_or_else(|e| e.into_inner());
        splitmix64(&mut s)
    }
}

fn wall_now() -> Epoch {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// SplitMix64: tiny, fast, good enough for ids and reproducible fault decisions.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Lower-case 8-4-4-4-12 rendering of a 128-bit id (version-4 shape).
pub fn format_uuid(v: u128) -> String {
    let v = (v & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Upper-case alphanumerics derived from a seed (IAM-style ids).
fn base32ish(mut seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(len);
    let mut bits = splitmix64(&mut seed);
    let mut left = 12;
    for _ in 0..len {
        if left == 0 {
            bits = splitmix64(&mut seed);
            left = 12;
        }
        out.push(ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
        left -= 1;
    }
    out
}

fn make_unique_id(prefix: &str, seed: u64) -> String {
    format!("{prefix}{}", base32ish(seed, 17))
}

fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h = seed ^ 0xCBF2_9CE4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    splitmix64(&mut h)
}

fn check_path(path: &str, what: &str) -> Result<(), WorldError> {
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(invalid(format!(
            "{what}: path {path:?} must start and end with '/'"
        )));
    }
    Ok(())
}

fn make_role(
    account: &str,
    partition: &str,
    spec: RoleSpec,
    now: Epoch,
    seed: u64,
) -> Result<IamRole, WorldError> {
    check_path(&spec.path, &format!("role {}", spec.name))?;
    let unique_id = spec.unique_id.unwrap_or_else(|| {
        make_unique_id(
            "AROA",
            hash_str(seed, &format!("role/{account}/{}", spec.name)),
        )
    });
    Ok(IamRole {
        account: account.to_string(),
        partition: partition.to_string(),
        name: spec.name,
        path: spec.path,
        unique_id,
        trust: spec.trust,
        created_at: now,
    })
}

fn build_iam(accounts: &[AccountSpec], now: Epoch, id_state: &mut u64) -> Result<Iam, WorldError> {
    let mut iam = Iam::default();
    let seed = splitmix64(id_state);
    for a in accounts {
        if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("account id {:?} must be 12 digits", a.id)));
        }
        if iam.accounts.contains_key(&a.id) {
            return Err(invalid(format!("account {} is defined twice", a.id)));
        }
        iam.accounts.insert(
            a.id.clone(),
            Account {
                id: a.id.clone(),
                partition: a.partition.clone(),
            },
        );
        for r in &a.roles {
            let role = make_role(&a.id, &a.partition, r.clone(), now, seed)?;
            let k = (a.id.clone(), role.name.to_ascii_lowercase());
            if iam.roles.insert(k, role).is_some() {
                return Err(invalid(format!(
                    "role {} is defined twice in {}",
                    r.name, a.id
                )));
            }
        }
        for u in &a.users {
            check_path(&u.path, &format!("user {}", u.name))?;
            let unique_id = u.unique_id.clone().unwrap_or_else(|| {
                make_unique_id("AIDA", hash_str(seed, &format!("user/{}/{}", a.id, u.name)))
            });
            let user = IamUser {
                account: a.id.clone(),
                partition: a.partition.clone(),
                name: u.name.clone(),
                path: u.path.clone(),
                unique_id,
                created_at: now,
            };
            if iam
                .users
                .insert((a.id.clone(), u.name.clone()), user)
                .is_some()
            {
                return Err(invalid(format!(
                    "user {} is defined twice in {}",
                    u.name, a.id
                )));
            }
            for k in &u.access_keys {
                let key = AccessKey {
                    id: k.id.clone(),
                    secret: k.secret.clone(),
                    session_token: None,
                    owner: KeyOwner::User {
                        account: a.id.clone(),
                        name: u.name.clone(),
                    },
                    expires_at: None,
                };
                if iam.access_keys.insert(k.id.clone(), key).is_some() {
                    return Err(invalid(format!("access key {} is defined twice", k.id)));
                }
            }
        }
    }
    Ok(iam)
}

type ClusterMap = HashMap<ClusterKey, Arc<Mutex<ClusterState>>>;

fn build_clusters(
    specs: Vec<ClusterSpec>,
    iam: &Iam,
    now: Epoch,
    seed: u64,
) -> Result<ClusterMap, WorldError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(specs.len().max(1));
    let seeds: Vec<u64> = specs
        .iter()
        .map(|c| hash_str(seed, &format!("{}/{}/{}", c.account, c.region, c.name)))
        .collect();
    let mut work: Vec<Vec<(ClusterSpec, u64)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, (spec, s)) in specs.into_iter().zip(seeds).enumerate() {
        work[i % threads].push((spec, s));
    }
    let results: Vec<Result<Vec<ClusterState>, WorldError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map({
                            // Fleets repeat the same principals on every cluster: resolve each once.
                            let mut ids = UniqueIdCache::default();
                            move |(spec, s)| build_cluster_cached(spec, iam, now, s, &mut ids)
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(invalid("cluster build panicked")))
            })
            .collect()
    });
    let mut map = HashMap::new();
    for r in results {
        for c in r? {
            map.insert(c.key.clone(), Arc::new(Mutex::new(c)));
        }
    }
    Ok(map)
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..ObjectMeta::default()
    }
}

/// Stamps uid/resourceVersion/creationTimestamp on a fixture object's metadata.
fn stamp(state: &mut ClusterState, m: &mut ObjectMeta) {
    if m.uid.is_none() {
        m.uid = Some(state.new_uid());
    }
    m.resource_version = Some(state.next_resource_version());
    if m.creation_timestamp.is_none() {
        m.creation_timestamp = Some(k8s_time(state.created_at));
    }
}

/// Principal ARN → unique id, memoised while building clusters.
type UniqueIdCache = HashMap<String, Option<String>>;

fn build_cluster(
    spec: ClusterSpec,
    iam: &Iam,
    now: Epoch,
    seed: u64,
) -> Result<ClusterState, WorldError> {
    build_cluster_cached(spec, iam, now, seed, &mut UniqueIdCache::default())
}

fn build_cluster_cached(
    spec: ClusterSpec,
    iam: &Iam,
    now: Epoch,
    seed: u64,
    ids: &mut UniqueIdCache,
) -> Result<ClusterState, WorldError> {
    let account = iam.accounts.get(&spec.account).ok_or_else(|| {
        invalid(format!(
            "cluster {} names unknown account {}",
            spec.name, spec.account
        ))
    })?;
    if spec.authentication_mode == AuthenticationMode::ConfigMap {
        if spec.bootstrap_cluster_creator_admin_permissions == Some(false) {
            return Err(invalid(format!(
                "cluster {}: bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP",
                spec.name
            )));
        }
        if !spec.access_entries.is_empty() {
            return Err(invalid(format!(
                "cluster {}: a CONFIG_MAP cluster cannot have access entries",
                spec.name
            )));
        }
    }
    if spec.access_entries.len() > MAX_ACCESS_ENTRIES {
        return Err(invalid(format!(
            "cluster {}: more than {MAX_ACCESS_ENTRIES} access entries",
            spec.name
        )));
    }
    let partition = account.partition.clone();
    let creator_unique_id = spec
        .creator_arn
        .as_deref()
        .and_then(|a| iam.unique_id_of(a));
    let mut state = ClusterState {
        key: ClusterKey::new(spec.account, spec.region, spec.name),
        partition,
        authentication_mode: spec.authentication_mode,
        bootstrap_cluster_creator_admin_permissions: spec
            .bootstrap_cluster_creator_admin_permissions,
        kubernetes_version: spec.kubernetes_version,
        platform_version: spec.platform_version,
        status: spec.status,
        creator_arn: spec.creator_arn,
        creator_unique_id,
        created_at: now,
        tags: spec.tags,
        access_entries: BTreeMap::new(),
        updates: Vec::new(),
        nodegroups: BTreeMap::new(),
        fargate_profiles: BTreeMap::new(),
        config_maps: BTreeMap::new(),
        cluster_roles: BTreeMap::new(),
        cluster_role_bindings: BTreeMap::new(),
        roles: BTreeMap::new(),
        role_bindings: BTreeMap::new(),
        namespaces: BTreeMap::new(),
        nodes: BTreeMap::new(),
        leases: BTreeMap::new(),
        resource_version: 0,
        idempotent_replies: HashMap::new(),
        id_state: seed,
    };
    let name = state.key.name.clone();

    for ng in spec.nodegroups {
        let suffix = state.next_id();
        state.nodegroups.insert(
            ng.name.clone(),
            Nodegroup {
                name: ng.name,
                node_role_arn: ng.node_role_arn,
                ami_type: ng.ami_type,
                created_at: now,
                arn_suffix: suffix,
            },
        );
    }
    for fp in spec.fargate_profiles {
        let suffix = state.next_id();
        state.fargate_profiles.insert(
            fp.name.clone(),
            FargateProfile {
                name: fp.name,
                pod_execution_role_arn: fp.pod_execution_role_arn,
                selectors: fp.selectors,
                created_at: now,
                arn_suffix: suffix,
            },
        );
    }

    for e in spec.access_entries {
        if state.access_entries.contains_key(&e.principal_arn) {
            return Err(invalid(format!(
                "cluster {name}: access entry {} is defined twice",
                e.principal_arn
            )));
        }
        let uid = match ids.get(e.principal_arn.as_str()) {
            Some(id) => id.clone(),
            None => {
                let id = iam.unique_id_of(&e.principal_arn);
                ids.insert(e.principal_arn.clone(), id.clone());
                id
            }
        };
        let policies = e.access_policies;
        let mut entry = state.new_entry(
            e.principal_arn,
            e.entry_type,
            e.username,
            e.kubernetes_groups,
            e.tags,
            uid,
            now,
        );
        for p in policies {
            let arn = if p.policy_arn.starts_with("arn:") {
                p.policy_arn
            } else {
                policy_arn(&state.partition, &p.policy_arn)
            };
            entry.access_policies.insert(
                arn.clone(),
                AssociatedAccessPolicy {
                    policy_arn: arn,
                    access_scope: p.access_scope,
                    associated_at: now,
                    modified_at: now,
                },
            );
        }
        state
            .access_entries
            .insert(entry.principal_arn.clone(), entry);
    }

    // Kubernetes objects.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"]
        .into_iter()
        .map(str::to_string)
        .chain(spec.namespaces)
    {
        if state.namespaces.contains_key(&ns) {
            continue;
        }
        let mut obj = Namespace {
            metadata: meta(&ns, None),
            ..Namespace::default()
        };
        stamp(&mut state, &mut obj.metadata);
        state.namespaces.insert(ns, obj);
    }
    for n in spec.nodes {
        let mut obj = Node {
            metadata: meta(&n.name, None),
            ..Node::default()
        };
        if !n.labels.is_empty() {
            obj.metadata.labels = Some(n.labels);
        }
        stamp(&mut state, &mut obj.metadata);
        state.nodes.insert(n.name, obj);
    }
    if let Some(data) = spec.aws_auth {
        let cm = ConfigMap {
            metadata: meta(AWS_AUTH, Some(KUBE_SYSTEM)),
            data: Some(data),
            ..ConfigMap::default()
        };
        state.put_config_map(cm);
    }
    for cm in spec.config_maps {
        if cm.metadata.name.is_none() {
            return Err(invalid(format!("cluster {name}: a ConfigMap has no name")));
        }
        state.put_config_map(cm);
    }
    for mut r in spec.cluster_roles {
        let n = r
            .metadata
            .name
            .clone()
            .ok_or_else(|| invalid(format!("cluster {name}: a ClusterRole has no name")))?;
        stamp(&mut state, &mut r.metadata);
        state.cluster_roles.insert(n, r);
    }
    for mut b in spec.cluster_role_bindings {
        let n =
            b.metadata.name.clone().ok_or_else(|| {
                invalid(format!("cluster {name}: a ClusterRoleBinding has no name"))
            })?;
        stamp(&mut state, &mut b.metadata);
        state.cluster_role_bindings.insert(n, b);
    }
    for mut r in spec.roles {
        let n = r
            .metadata
            .name
            .clone()
            .ok_or_else(|| invalid(format!("cluster {name}: a Role has no name")))?;
        let ns = r
            .metadata
            .namespace
            .get_or_insert_with(|| "default".to_string())
            .clone();
        stamp(&mut state, &mut r.metadata);
        state.roles.insert((ns, n), r);
    }
    for mut b in spec.role_bindings {
        let n = b
            .metadata
            .name
            .clone()
            .ok_or_else(|| invalid(format!("cluster {name}: a RoleBinding has no name")))?;
        let ns = b
            .metadata
            .namespace
            .get_or_insert_with(|| "default".to_string())
            .clone();
        stamp(&mut state, &mut b.metadata);
        state.role_bindings.insert((ns, n), b);
    }
    for mut lease in spec.leases {
        let n = lease
            .metadata
            .name
            .clone()
            .ok_or_else(|| invalid(format!("cluster {name}: a Lease has no name")))?;
        let ns = lease
            .metadata
            .namespace
            .get_or_insert_with(|| KUBE_SYSTEM.to_string())
            .clone();
        if !state.namespaces.contains_key(&ns) {
            return Err(invalid(format!(
                "cluster {name}: Lease {ns}/{n} is in namespace {ns}, which the cluster does not have"
            )));
        }
        if let Err(problems) = crate::kube::leases::validate(&lease) {
            return Err(invalid(format!(
                "cluster {name}: Lease {ns}/{n}: {problems}"
            )));
        }
        if state.leases.contains_key(&(ns.clone(), n.clone())) {
            return Err(invalid(format!(
                "cluster {name}: Lease {ns}/{n} is defined twice"
            )));
        }
        stamp(&mut state, &mut lease.metadata);
        state.leases.insert((ns, n), lease);
    }
    Ok(state)
}
