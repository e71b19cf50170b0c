//! Inputs that change the translation: `--policy-map` and `--role-paths` files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::model::{AccessScope, USER_FACING_POLICIES};

/// `--policy-map FILE`: Kubernetes groups that become access policies instead of groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyMap {
    pub groups: BTreeMap<String, GroupPolicy>,
}

/// What one group becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPolicy {
    /// Policy name, e.g. `AmazonEKSViewPolicy`.
    pub policy: String,
    pub scope: AccessScope,
    /// Keep the group on the entry as well (RBAC bindings keep working).
    pub keep_group: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyMapFile {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    groups: BTreeMap<String, GroupPolicyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupPolicyFile {
    policy: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    keep_group: bool,
}

/// `--role-paths FILE`: IAM paths of roles, since aws-auth role ARNs carry none.
#[derive(Debug, Clone, PartialEq)]
pub struct RolePaths {
    /// Keyed by `ACCOUNT:NAME` or by `NAME` (any account), lower-cased: IAM role names are
    /// unique regardless of case within an account.
    paths: BTreeMap<String, String>,
    /// `ACCOUNT:NAME` of roles IAM says do not exist.
    missing: std::collections::BTreeSet<String>,
    /// `ACCOUNT:NAME` → IAM's message, for names IAM refuses as role names (ValidationError).
    invalid: BTreeMap<String, String>,
    /// Where the paths came from, for messages: `--role-paths` or `IAM`.
    pub origin: &'static str,
    /// `ACCOUNT:name` → (IAM's spelling of the name, the role's unique id), from IAM.
    iam: BTreeMap<String, (String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolePathsFile {
    roles: BTreeMap<String, String>,
}

impl Default for RolePaths {
    fn default() -> Self {
        RolePaths {
            paths: BTreeMap::new(),
            missing: Default::default(),
            invalid: BTreeMap::new(),
            origin: "--role-paths",
            iam: BTreeMap::new(),
        }
    }
}

impl RolePaths {
    /// The path of role `name` in `account`: an account-specific line wins over a bare name.
    pub fn path(&self, account: &str, name: &str) -> Option<&str> {
        let name = name.to_lowercase();
        self.paths
            .get(&format!("{account}:{name}"))
            .or_else(|| self.paths.get(&name))
            .map(String::as_str)
    }

    /// Records the path IAM reported for a role of `account`.
    pub fn insert(&mut self, account: &str, name: &str, path: &str) {
        self.paths.insert(
            format!("{account}:{}", name.to_lowercase()),
            path.to_string(),
        );
    }

    /// Records what IAM says of a role: its name as IAM spells it and its unique id.
    pub fn insert_iam(&mut self, account: &str, name: &str, canonical: &str, role_id: &str) {
        self.iam.insert(
            format!("{account}:{}", name.to_lowercase()),
            (canonical.to_string(), role_id.to_string()),
        );
    }

    /// IAM's spelling and unique id of a role, when IAM was asked.
    pub fn iam_role(&self, account: &str, name: &str) -> Option<(&str, &str)> {
        self.iam
            .get(&format!("{account}:{}", name.to_lowercase()))
            .map(|(n, id)| (n.as_str(), id.as_str()))
    }

    /// Records that IAM has no role `name` in `account`.
    pub fn insert_missing(&mut self, account: &str, name: &str) {
        self.missing
            .insert(format!("{account}:{}", name.to_lowercase()));
    }

    /// Records that IAM refuses `name` as a role name, with IAM's message.
    pub fn insert_invalid(&mut self, account: &str, name: &str, message: &str) {
        self.invalid.insert(
            format!("{account}:{}", name.to_lowercase()),
            message.to_string(),
        );
    }

    /// IAM's message when it refused `name` as a role name.
    pub fn invalid(&self, account: &str, name: &str) -> Option<&str> {
        self.invalid
            .get(&format!("{account}:{}", name.to_lowercase()))
            .map(String::as_str)
    }

    pub fn is_missing(&self, account: &str, name: &str) -> bool {
        self.missing
            .contains(&format!("{account}:{}", name.to_lowercase()))
    }
}

/// An unreadable or invalid options file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct OptionsError {
    pub path: String,
    pub message: String,
}

fn read(path: &Path) -> Result<String, OptionsError> {
    std::fs::read_to_string(path).map_err(|e| OptionsError {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl PolicyMap {
    pub fn load(path: &Path) -> Result<Self, OptionsError> {
        Self::parse(&path.display().to_string(), &read(path)?)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, OptionsError> {
        let err = |message: String| OptionsError {
            path: name.to_string(),
            message,
        };
        let file: PolicyMapFile = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        if let Some(v) = &file.api_version
            && v != "aws-auth-migrate/v1"
        {
            return Err(err(format!(
                "apiVersion `{v}` is not supported; use aws-auth-migrate/v1"
            )));
        }
        let mut groups = BTreeMap::new();
        for (group, g) in file.groups {
            if group.starts_with("system:") {
                return Err(err(format!(
                    "group `{group}`: system: groups cannot be mapped (system:masters always becomes AmazonEKSClusterAdminPolicy)"
                )));
            }
            let policy = g.policy.rsplit('/').next().unwrap_or_default().to_string();
            if !USER_FACING_POLICIES.contains(&policy.as_str()) {
                return Err(err(format!(
                    "group `{group}`: `{}` is not an access policy for people; use one of {}",
                    g.policy,
                    USER_FACING_POLICIES.join(", ")
                )));
            }
            let scope = match (g.scope.as_deref(), g.namespaces.is_empty()) {
                (None | Some("cluster"), true) => AccessScope::Cluster,
                (None | Some("namespace"), false) => {
                    if let Some(bad) = g.namespaces.iter().find(|n| !valid_namespace_pattern(n)) {
                        return Err(err(format!(
                            "group `{group}`: `{bad}` is not a namespace name or pattern"
                        )));
                    }
                    AccessScope::Namespace {
                        namespaces: g.namespaces,
                    }
                }
                (Some("cluster"), false) => {
                    return Err(err(format!(
                        "group `{group}`: a cluster scope takes no namespaces"
                    )));
                }
                (Some("namespace"), true) => {
                    return Err(err(format!(
                        "group `{group}`: a namespace scope needs at least one namespace"
                    )));
                }
                (Some(other), _) => {
                    return Err(err(format!(
                        "group `{group}`: scope `{other}` is neither `cluster` nor `namespace`"
                    )));
                }
            };
            groups.insert(
                group,
                GroupPolicy {
                    policy,
                    scope,
                    keep_group: g.keep_group,
                },
            );
        }
        Ok(PolicyMap { groups })
    }
}

/// A DNS-1123 label, optionally with `*` wildcards as EKS allows (`dev-*`).
fn valid_namespace_pattern(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 63
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*')
}

impl RolePaths {
    pub fn load(path: &Path) -> Result<Self, OptionsError> {
        Self::parse(&path.display().to_string(), &read(path)?)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, OptionsError> {
        let err = |message: String| OptionsError {
            path: name.to_string(),
            message,
        };
        let file: RolePathsFile = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut paths = BTreeMap::new();
        for (key, path) in file.roles {
            if !path.starts_with('/') || !path.ends_with('/') {
                return Err(err(format!(
                    "role `{key}`: the path `{path}` must start and end with `/`"
                )));
            }
            if let Some((account, _)) = key.split_once(':')
                && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(err(format!(
                    "role `{key}`: `{account}` is not a 12-digit account id"
                )));
            }
            paths.insert(key.to_lowercase(), path);
        }
        Ok(RolePaths {
            paths,
            missing: Default::default(),
            invalid: BTreeMap::new(),
            origin: "--role-paths",
            iam: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_map_parses_and_validates() {
        let map = PolicyMap::parse(
            "p",
            "groups:\n  reader: {policy: AmazonEKSViewPolicy}\n  devs: {policy: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy', namespaces: [dev-*], keepGroup: true}\n",
        )
        .unwrap();
        assert_eq!(map.groups["reader"].scope, AccessScope::Cluster);
        assert_eq!(map.groups["devs"].policy, "AmazonEKSEditPolicy");
        assert!(map.groups["devs"].keep_group);
        for bad in [
            "groups:\n  x: {policy: AmazonEKSAutoNodePolicy}\n",
            "groups:\n  x: {policy: AmazonEKSViewPolicy, scope: namespace}\n",
            "groups:\n  x: {policy: AmazonEKSViewPolicy, scope: cluster, namespaces: [a]}\n",
            "groups:\n  system:masters: {policy: AmazonEKSViewPolicy}\n",
            "groups:\n  x: {policy: AmazonEKSViewPolicy, namespaces: [Bad_NS]}\n",
            "groups:\n  x: {polcy: AmazonEKSViewPolicy}\n",
        ] {
            assert!(PolicyMap::parse("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn role_paths_prefer_the_account_line() {
        let paths = RolePaths::parse(
            "r",
            "roles:\n  deploy: /ci/\n  '111122223333:Deploy': /team/\n",
        )
        .unwrap();
        assert_eq!(paths.path("111122223333", "deploy"), Some("/team/"));
        assert_eq!(paths.path("444455556666", "DEPLOY"), Some("/ci/"));
        assert_eq!(paths.path("444455556666", "other"), None);
        assert!(RolePaths::parse("r", "roles:\n  x: ci\n").is_err());
    }
}
