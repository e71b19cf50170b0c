//! Setup of the parity-verification tests (issue 5): small worlds with RBAC that depends on the
//! identities aws-auth gives, the real binary run against the simulator, and what a principal's
//! own EKS token gets from the cluster (SelfSubjectAccessReview, the full authorizer chain).
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use eks_sim::rbac::rule;
use eks_sim::world::{ClusterSpec, Sim, WorldBuilder};
use eks_sim::{SimServer, World};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role, RoleBinding};
use serde_json::Value;

pub use crate::common::*;

pub const ADMIN_KEY: &str = "AKIAADMINPARITY00001";
pub const ADMIN_SECRET: &str = "admin/parity/secret+0001";
pub const ALICE_KEY: &str = "AKIAALICEPARITY00002";
pub const CAROL_KEY: &str = "AKIACAROLPARITY00003";

pub const VIEW_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
pub const SECRET_READER_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretReaderPolicy";

pub fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{A}:role/{name}")
}

pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{A}:user/{name}")
}

/// The tool's caller: the admin user assuming the cluster creator role (`--role-arn`).
pub fn creator_arn() -> String {
    role_arn("ClusterCreator")
}

/// Accounts and principals shared by every world: the admin (caller), the creator role it
/// assumes, and two IAM users with keys.
pub fn base() -> WorldBuilder {
    World::builder()
        .seed(5)
        .account(A)
        .user(A, "/", "admin", ADMIN_KEY, ADMIN_SECRET)
        .user(A, "/", "alice", ALICE_KEY, "alice-parity-secret")
        .user(A, "/", "carol", CAROL_KEY, "carol-parity-secret")
        .role_trusting(A, "/", "ClusterCreator", &[&user_arn("admin")])
        .caller(ADMIN_KEY)
        .update_duration(Duration::from_millis(100))
}

/// A CONFIG_MAP cluster created by the creator role, with an `apps` namespace.
pub fn cluster() -> ClusterSpec {
    ClusterSpec::new(CLUSTER, A, REGION)
        .creator(creator_arn())
        .namespace("apps")
}

/// A namespaced Role.
pub fn ns_role(name: &str, namespace: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(name, Some(namespace)),
        rules: Some(rules),
    }
}

/// A RoleBinding of Role `role` in `namespace` to one subject.
pub fn role_binding(
    name: &str,
    namespace: &str,
    role: &str,
    kind: &str,
    subject_name: &str,
) -> RoleBinding {
    RoleBinding {
        metadata: meta(name, Some(namespace)),
        role_ref: role_ref("Role", role),
        subjects: Some(vec![subject(kind, subject_name)]),
    }
}

/// The read-only ClusterRole the `reader` group is bound to.
pub fn pod_reader() -> ClusterRole {
    cluster_role(
        "pod-reader",
        vec![rule(&["get", "list", "watch"], &[""], &["pods"])],
    )
}

/// The Role carol's `kind: User` RoleBinding grants in `apps`.
pub fn deployer_role() -> Role {
    ns_role(
        "deployer",
        "apps",
        vec![
            rule(&["get", "list", "create"], &["apps"], &["deployments"]),
            rule(&["create", "delete"], &[""], &["pods"]),
        ],
    )
}

// ------------------------------------------------------------------------------------------------
// The binary
// ------------------------------------------------------------------------------------------------

/// Runs the tool as the admin user assuming the creator role, with state directory `state`.
pub async fn run(server: &SimServer, state: &Path, args: &[&str]) -> Output {
    run_at(server.aws_url(), state.to_path_buf(), args).await
}

/// [`run`] with owned arguments, for a run spawned as a task.
pub async fn run_at(aws_url: String, state: std::path::PathBuf, args: &[&str]) -> Output {
    let creator = creator_arn();
    let admin = (ADMIN_KEY, ADMIN_SECRET);
    crate::common::run_binary(aws_url, admin, args, Some(&state), Some(&creator), &[]).await
}

/// `migrate --cluster prod --to entries --yes` (plus `extra`), which must succeed.
pub async fn to_entries(server: &SimServer, state: &Path, extra: &[&str]) {
    let mut args = TO_ENTRIES.to_vec();
    args.extend_from_slice(extra);
    run(server, state, &args).await.expect_code(0);
}

/// `verify --cluster prod -o json` (plus `extra`).
pub async fn verify(server: &SimServer, state: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", "--cluster", CLUSTER, "-o", "json"];
    args.extend_from_slice(extra);
    run(server, state, &args).await
}

/// Writes a policy map into `dir` and returns its path.
pub fn policy_map(dir: &Path, yaml: &str) -> String {
    let path = dir.join("policy-map.yaml");
    std::fs::write(&path, yaml).expect("writable temp dir");
    path.display().to_string()
}

// ------------------------------------------------------------------------------------------------
// Reports
// ------------------------------------------------------------------------------------------------

/// The report's verdict for the principal whose ARN is `arn`.
#[track_caller]
pub fn principal<'a>(report: &'a Value, arn: &str) -> &'a Value {
    report["principals"]
        .as_array()
        .expect("principals")
        .iter()
        .find(|p| p["principalArn"].as_str() == Some(arn))
        .unwrap_or_else(|| panic!("no verdict for {arn}: {report:#}"))
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn lost(p: &Value) -> Vec<String> {
    strings(&p["lost"])
}

pub fn gained(p: &Value) -> Vec<String> {
    strings(&p["gained"])
}

/// Total lost probes over the report.
pub fn total_lost(report: &Value) -> usize {
    report["principals"]
        .as_array()
        .expect("principals")
        .iter()
        .map(|p| lost(p).len())
        .sum()
}

// ------------------------------------------------------------------------------------------------
// The simulator's state
// ------------------------------------------------------------------------------------------------

/// Changes the access entry of `arn` in the simulator, as someone with EKS access could.
pub fn edit_entry(sim: &Sim, arn: &str, f: impl FnOnce(&mut eks_sim::world::AccessEntry)) {
    let cluster = sim.cluster(&key()).expect("cluster exists");
    let mut state = cluster.lock();
    let entry = state
        .access_entries
        .get_mut(arn)
        .unwrap_or_else(|| panic!("no access entry for {arn}"));
    f(entry);
}

/// A copy of the access entry of `arn`.
pub fn entry(sim: &Sim, arn: &str) -> eks_sim::world::AccessEntry {
    let cluster = sim.cluster(&key()).expect("cluster exists");
    let state = cluster.lock();
    state
        .access_entries
        .get(arn)
        .cloned()
        .unwrap_or_else(|| panic!("no access entry for {arn}"))
}

/// Replaces one key of `aws-auth`'s data, as someone editing the ConfigMap would.
pub fn set_aws_auth_key(sim: &Sim, name: &str, value: &str) {
    let cluster = sim.cluster(&key()).expect("cluster exists");
    let mut state = cluster.lock();
    let mut cm = state.aws_auth().cloned().expect("aws-auth exists");
    cm.data
        .get_or_insert_with(Default::default)
        .insert(name.to_string(), value.to_string());
    state.put_config_map(cm);
}

pub fn sar_count(sim: &Sim) -> u64 {
    sim.counters()
        .snapshot()
        .cluster_operation(&key(), eks_sim::kube::SUBJECT_ACCESS_REVIEW_OP)
}

/// Session credentials of a role (what AssumeRole returns), by access key id.
pub fn role_session(sim: &Sim, role: &str, session: &str) -> String {
    sim.issue_session_credentials(A, role, session, Duration::from_secs(3600))
        .id
}

// ------------------------------------------------------------------------------------------------
// The principal's own view
// ------------------------------------------------------------------------------------------------

/// Asks the cluster with the principal's own EKS token whether it may `verb` `resource`
/// (`group`) in `namespace` (`""` = cluster-wide): the full authorizer chain, access policies
/// included.
pub async fn can(
    sim: &Sim,
    access_key_id: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> bool {
    let client = eks_sim::kube::client::client_for(sim, &key(), access_key_id).expect("client");
    crate::common::self_allowed(client, verb, group, resource, namespace).await
}
