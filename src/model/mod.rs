//! Domain types: what `aws-auth` says, and what EKS access entries are.
//!
//! Names follow the EKS API and the pages of docs/ so a reader can check each type against the
//! documentation: [`Mapping`], [`Principal`], [`AccessEntry`], [`EntryType`],
//! [`PolicyAssociation`], [`AccessScope`], [`Finding`].

pub mod access_policy;
pub mod arn;
pub mod findings;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::source::Location;

/// The three `aws-auth` keys the authenticator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Section {
    #[serde(rename = "mapRoles")]
    MapRoles,
    #[serde(rename = "mapUsers")]
    MapUsers,
    #[serde(rename = "mapAccounts")]
    MapAccounts,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::MapRoles, Section::MapUsers, Section::MapAccounts];

    pub fn key(self) -> &'static str {
        match self {
            Section::MapRoles => "mapRoles",
            Section::MapUsers => "mapUsers",
            Section::MapAccounts => "mapAccounts",
        }
    }

    /// The ARN field of an entry in this section.
    pub fn arn_field(self) -> &'static str {
        match self {
            Section::MapRoles => "rolearn",
            Section::MapUsers => "userarn",
            Section::MapAccounts => "account",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Which entry of `aws-auth` something is about: `mapRoles[3]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MappingId {
    pub section: Section,
    pub index: usize,
}

impl fmt::Display for MappingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.section, self.index)
    }
}

impl Serialize for MappingId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The `sso` matcher of a `mapRoles` entry (alpha feature gate `SSORoleMatch`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoMatcher {
    pub permission_set_name: String,
    #[serde(rename = "accountID")]
    pub account_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

/// One entry of `aws-auth` as the authenticator decoded it, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    pub id: MappingId,
    pub location: Location,
    /// `rolearn`/`userarn` as decoded (empty when missing), or the account id for mapAccounts.
    pub arn: String,
    /// `None` when the field was absent, null or not a string: the authenticator then
    /// renders an empty username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoMatcher>,
    pub status: MappingStatus,
}

/// Whether the authenticator acts on an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum MappingStatus {
    /// The authenticator uses this entry for matching callers.
    Effective,
    /// Dropped at load time (validation failed).
    Invalid { reason: String },
    /// Loaded, but another entry for the same principal wins.
    Superseded { by: MappingId },
    /// Loaded, but no caller can ever match it.
    NeverMatches { reason: String },
}

/// Severity of a finding. `Blocker` means the switch to `API` would drop access that exists
/// today, so the later stages refuse it until the finding is resolved or explicitly allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Blocker,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Blocker => "blocker",
        })
    }
}

/// Something the operator should know about the input or its translation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Other places involved (e.g. the other half of a duplicate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Location>,
}

impl Finding {
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity,
            code,
            message: message.into(),
            mapping: None,
            location: None,
            related: Vec::new(),
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn about(mut self, mapping: MappingId) -> Self {
        self.mapping = Some(mapping);
        self
    }

    pub fn related(mut self, location: Location) -> Self {
        self.related.push(location);
        self
    }
}

/// The type of an access entry (`type` in the EKS API, case-sensitive upper case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryType {
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
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Standard => "STANDARD",
            EntryType::Ec2Linux => "EC2_LINUX",
            EntryType::Ec2Windows => "EC2_WINDOWS",
            EntryType::FargateLinux => "FARGATE_LINUX",
            EntryType::HybridLinux => "HYBRID_LINUX",
        }
    }

    pub fn is_node(self) -> bool {
        self != EntryType::Standard
    }
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an access policy applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum AccessScope {
    #[serde(rename = "cluster")]
    Cluster,
    #[serde(rename = "namespace")]
    Namespace { namespaces: Vec<String> },
}

impl fmt::Display for AccessScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessScope::Cluster => f.write_str("cluster"),
            AccessScope::Namespace { namespaces } => {
                write!(f, "namespace: {}", namespaces.join(","))
            }
        }
    }
}

/// An access policy associated with an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAssociation {
    pub policy_arn: String,
    pub access_scope: AccessScope,
}

impl PolicyAssociation {
    /// The policy's name, the last segment of its ARN.
    pub fn policy_name(&self) -> &str {
        self.policy_arn
            .rsplit('/')
            .next()
            .unwrap_or(&self.policy_arn)
    }
}

/// A desired EKS access entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    /// `None`: let EKS choose (node types always; STANDARD when aws-auth had no username).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub kubernetes_groups: Vec<String>,
    pub access_policies: Vec<PolicyAssociation>,
    /// The IAM unique id (`AROA…`) of the principal when the live plan read it: EKS binds an
    /// entry to it, so an entry outlives a deleted and recreated principal only as a dead one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}

/// The partition-specific ARN of an EKS access policy.
pub fn access_policy_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:eks::aws:cluster-access-policy/{name}")
}

/// Access policies meant for people and workloads (docs/access-entries.md#the-catalogue); the
/// others are reserved for AWS services and a migration never emits them.
pub const USER_FACING_POLICIES: [&str; 6] = [
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSSecretReaderPolicy",
];

pub const CLUSTER_ADMIN_POLICY: &str = "AmazonEKSClusterAdminPolicy";
