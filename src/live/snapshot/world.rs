//! The eks-sim world file, written from the tool's own types: the tool never links the
//! simulator, so these structs mirror the format of `sim/src/world.rs` (`WorldSpec`) and
//! `sim/README.md` field for field. Kubernetes objects travel as JSON values, already cleaned of
//! server-set metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `WorldSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    /// Access key id of the principal `eks-sim serve` prints the environment of.
    pub caller: String,
    pub accounts: Vec<Account>,
    pub clusters: Vec<Cluster>,
}

/// `AccountSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub partition: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
}

/// `RoleSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    pub path: String,
    /// `None`: IAM could not be asked; the simulator generates one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Principal ARNs and account ids that may assume the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<String>,
}

/// `UserSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_keys: Vec<AccessKey>,
}

/// `AccessKeySpec`: in a snapshot, only generated placeholders valid in the simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// `ClusterSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    pub account: String,
    pub region: String,
    pub authentication_mode: String,
    pub kubernetes_version: String,
    pub platform_version: String,
    pub status: String,
    /// Written even when absent (`null`): the simulator's default is `true`.
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_arn: Option<String>,
    /// `aws-auth` travels here as the whole ConfigMap object (labels and annotations too), so
    /// the rehearsal plans the same text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_roles: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_role_bindings: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_bindings: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodegroups: Vec<Nodegroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fargate_profiles: Vec<FargateProfile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_entries: Vec<AccessEntry>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// `NodegroupSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nodegroup {
    pub name: String,
    pub node_role_arn: String,
    pub ami_type: String,
}

/// `FargateProfileSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FargateProfile {
    pub name: String,
    pub pod_execution_role_arn: String,
    pub selectors: Vec<FargateSelector>,
}

/// `FargateSelector`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FargateSelector {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `AccessEntrySpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Node types leave it to EKS, which generates their username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_policies: Vec<AccessPolicy>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// `AccessPolicySpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicy {
    pub policy_arn: String,
    pub access_scope: AccessScope,
}

/// `AccessScope`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessScope {
    #[serde(rename = "type")]
    pub scope_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

/// Access entry types the simulator knows (its `AccessEntryType`).
pub const ENTRY_TYPES: &[&str] = &[
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "HYBRID_LINUX",
    "EC2",
    "HYPERPOD_LINUX",
];

/// Cluster statuses the simulator knows (its `ClusterStatus`).
pub const STATUSES: &[&str] = &[
    "CREATING", "ACTIVE", "DELETING", "FAILED", "UPDATING", "PENDING",
];

/// Metadata the API server sets: a copy must not carry them (the simulator stamps its own).
const SERVER_SET: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// A Kubernetes object as JSON, without server-set metadata.
pub fn clean_object<T: Serialize>(object: &T) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_SET {
            meta.remove(*key);
        }
    }
    if let Some(obj) = value.as_object_mut() {
        obj.remove("status");
    }
    value
}

/// The world as YAML, after `header` (comment lines). The text is read back and compared with
/// what was meant: a string the YAML writer could not carry exactly (aws-auth's bytes matter)
/// is an error, never a silently different world.
pub fn to_yaml(world: &World, header: &str) -> Result<String, String> {
    let body = serde_saphyr::to_string(world).map_err(|e| format!("writing YAML: {e}"))?;
    let read: World = serde_saphyr::from_str(&body)
        .map_err(|e| format!("the world file does not read back: {e}"))?;
    if &read != world {
        return Err("the world file does not read back as written".into());
    }
    Ok(format!("{header}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_set_metadata_is_dropped() {
        let object = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system", "uid": "u",
                         "resourceVersion": "7", "managedFields": [], "labels": {"a": "b"},
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "data": {"mapRoles": "x"},
        });
        let clean = clean_object(&object);
        assert_eq!(
            clean["metadata"],
            serde_json::json!({"name": "aws-auth", "namespace": "kube-system", "labels": {"a": "b"}})
        );
        assert_eq!(clean["data"]["mapRoles"], "x");
    }

    #[test]
    fn strings_survive_the_yaml_writer_byte_for_byte() {
        let odd = [
            "- rolearn: arn:aws:iam::111122223333:role/A\n  username: a\n",
            "  leading spaces\n\ttab\n",
            "trailing space \nno newline at the end",
            "two newlines at the end\n\n",
            "\n",
            "",
            "crlf\r\nline\r\n",
            "yes",
            "0777",
            "111122223333",
            "null",
            "~",
            "- \"444455556666\"\n",
            "# not a comment\nkey: value # nor this\n",
            "unicode é ✓ \u{1F600}\n",
            "'quoted' and \"double\"\\backslash",
            "ends with a colon:",
            " ",
        ];
        let data: BTreeMap<String, String> = odd
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("k{i}"), s.to_string()))
            .collect();
        let world = World {
            caller: "EKSSIMREHEARSAL00001".into(),
            accounts: vec![Account {
                id: "011122223333".into(),
                partition: "aws".into(),
                roles: Vec::new(),
                users: Vec::new(),
            }],
            clusters: vec![Cluster {
                name: "prod".into(),
                account: "011122223333".into(),
                region: "us-east-1".into(),
                authentication_mode: "CONFIG_MAP".into(),
                kubernetes_version: "1.30".into(),
                platform_version: "eks.7".into(),
                status: "ACTIVE".into(),
                bootstrap_cluster_creator_admin_permissions: None,
                creator_arn: None,
                config_maps: vec![
                    serde_json::json!({"metadata": {"name": "aws-auth"}, "data": data}),
                ],
                cluster_roles: Vec::new(),
                cluster_role_bindings: Vec::new(),
                roles: Vec::new(),
                role_bindings: Vec::new(),
                namespaces: Vec::new(),
                nodegroups: Vec::new(),
                fargate_profiles: Vec::new(),
                access_entries: Vec::new(),
                tags: BTreeMap::from([("n".to_string(), "1.0".to_string())]),
            }],
        };
        let yaml = to_yaml(&world, "# header\n").unwrap();
        assert!(yaml.starts_with("# header\n"));
        let read: World = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(read, world);
        assert!(
            yaml.contains("bootstrapClusterCreatorAdminPermissions: null"),
            "{yaml}"
        );
    }
}
