//! Shared setup of the Kubernetes-API tests: a small world, the running simulator, and kube-rs
//! clients for its principals.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use eks_sim::kube::client::{client_for, client_with_token, token_for};
use eks_sim::server::{SimServer, start};
use eks_sim::world::{AccessKey, ClusterKey, Sim};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub const ACCOUNT: &str = "111122223333";
pub const OTHER_ACCOUNT: &str = "444455556666";
pub const REGION: &str = "eu-west-1";

/// An IAM user with a long-term key (the key id doubles as a handle in tests).
pub const ADMIN_KEY: &str = "AKIAADMIN00000000001";
pub const ALICE_KEY: &str = "AKIAALICE00000000001";
pub const BOB_KEY: &str = "AKIABOB0000000000001";

pub fn admin_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/admin")
}

pub fn alice_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/people/alice")
}

pub fn bob_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/bob")
}

/// The role `Dev` lives under a path; `aws-auth` must name it path-less.
pub fn dev_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/team/Dev")
}

pub fn dev_role_aws_auth_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/Dev")
}

pub fn node_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/NodeRole")
}

pub fn cluster_key(name: &str) -> ClusterKey {
    ClusterKey::new(ACCOUNT, REGION, name)
}

/// A world builder with the usual principals of these tests.
pub fn world() -> eks_sim::world::WorldBuilder {
    eks_sim::World::builder()
        .account(ACCOUNT)
        .account(OTHER_ACCOUNT)
        .user(ACCOUNT, "/", "admin", ADMIN_KEY, "admin-secret")
        .user(ACCOUNT, "/people/", "alice", ALICE_KEY, "alice-secret")
        .user(ACCOUNT, "/", "bob", BOB_KEY, "bob-secret")
        .role(ACCOUNT, "/team/", "Dev")
        .role(ACCOUNT, "/", "NodeRole")
}

/// Starts the simulator serving `sim`.
pub async fn serve(sim: &Sim) -> SimServer {
    start(sim.clone()).await.expect("simulator starts")
}

/// A kube-rs client for the principal behind an access key.
pub fn client(sim: &Sim, key: &ClusterKey, access_key_id: &str) -> kube::Client {
    client_for(sim, key, access_key_id).expect("kube client")
}

/// Session credentials for a role (what AssumeRole would return).
pub fn role_session(sim: &Sim, role: &str, session: &str) -> AccessKey {
    sim.issue_session_credentials(ACCOUNT, role, session, Duration::from_secs(3600))
}

/// A client whose token was signed for another cluster.
pub fn client_with_token_for(
    sim: &Sim,
    key: &ClusterKey,
    signed_for: &ClusterKey,
    access_key_id: &str,
) -> kube::Client {
    let token = token_for(sim, signed_for, access_key_id).expect("token");
    client_with_token(sim, key, &token).expect("kube client")
}

/// The HTTP status of a kube-rs error (panics on other errors).
pub fn api_code(error: kube::Error) -> u16 {
    match error {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..ObjectMeta::default()
    }
}

pub fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    eks_sim::rbac::rule(verbs, groups, resources)
}

pub fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: meta(name, None),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

pub fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
        namespace: None,
    }
}

pub fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
    }
}

pub fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name, None),
        role_ref: role_ref("ClusterRole", role),
        subjects: Some(subjects),
    }
}

pub fn role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(name, Some(namespace)),
        rules: Some(rules),
    }
}

pub fn role_binding(
    namespace: &str,
    name: &str,
    ref_kind: &str,
    ref_name: &str,
    subjects: Vec<Subject>,
) -> RoleBinding {
    RoleBinding {
        metadata: meta(name, Some(namespace)),
        role_ref: role_ref(ref_kind, ref_name),
        subjects: Some(subjects),
    }
}

/// A `view`-like ClusterRole (reads workloads, no secrets, no writes).
pub fn view_like() -> ClusterRole {
    cluster_role(
        "view",
        vec![
            rule(
                &["get", "list", "watch"],
                &[""],
                &["pods", "pods/log", "configmaps", "services", "namespaces"],
            ),
            rule(&["get", "list", "watch"], &["apps"], &["deployments"]),
        ],
    )
}

/// `aws-auth` data from `(key, yaml)` pairs.
pub fn aws_auth(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
