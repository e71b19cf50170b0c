//! Shared by the end-to-end test crates (`live`, `parity`): the simulator serving a world, the
//! real binary run against it, RBAC objects, the cluster's state and SelfSubjectAccessReview.
#![allow(dead_code)]

use std::path::Path;

use eks_sim::SimServer;
use eks_sim::world::{ClusterKey, Sim, WorldBuilder};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use serde_json::Value;

pub const A: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const CLUSTER: &str = "prod";

/// `migrate --cluster prod --to entries --yes`.
pub const TO_ENTRIES: [&str; 6] = ["migrate", "--cluster", CLUSTER, "--to", "entries", "--yes"];
/// `migrate --cluster prod --to api --confirm prod --yes`.
pub const TO_API: [&str; 8] = [
    "migrate",
    "--cluster",
    CLUSTER,
    "--to",
    "api",
    "--confirm",
    CLUSTER,
    "--yes",
];

pub fn key() -> ClusterKey {
    ClusterKey::new(A, REGION, CLUSTER)
}

pub async fn serve(builder: WorldBuilder) -> (Sim, SimServer) {
    let sim = builder.build().expect("valid world");
    let server = eks_sim::start(sim.clone())
        .await
        .expect("simulator starts on 127.0.0.1");
    (sim, server)
}

/// [`serve`], and a fresh state directory for the tool.
pub async fn serve_with_state(builder: WorldBuilder) -> (Sim, SimServer, tempfile::TempDir) {
    let (sim, server) = serve(builder).await;
    (sim, server, tempfile::tempdir().unwrap())
}

// ------------------------------------------------------------------------------------------------
// The binary
// ------------------------------------------------------------------------------------------------

/// One run of the binary.
#[derive(Debug)]
pub struct Output {
    /// `None` when the process was killed by a signal (a failpoint aborts).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn text(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{}", self.text());
        self
    }

    /// stdout as JSON (the report of `verify -o json`).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.text()))
    }
}

/// Runs the tool against the simulator at `aws_url` with the access key `(key_id, secret)`,
/// `args`, the state directory `state` (if any), the role to assume `role_arn` (if any) and
/// extra environment `env`, in a fresh working directory.
pub async fn run_binary(
    aws_url: String,
    (key_id, secret): (&str, &str),
    args: &[&str],
    state: Option<&Path>,
    role_arn: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aws-auth-migrate"));
    cmd.args(args);
    if let Some(s) = state {
        cmd.arg("--state-dir").arg(s);
    }
    if let Some(r) = role_arn {
        cmd.arg("--role-arn").arg(r);
    }
    cmd.env_clear()
        .env("AWS_ENDPOINT_URL", aws_url)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_AUTH_MIGRATE_POLL_MS", "50")
        .env("AWS_AUTH_MIGRATE_INITIAL_BACKOFF_MS", "20")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // A failpoint aborts the process: should the system keep a core file, it lands here.
    let cwd = tempfile::tempdir().expect("a working directory");
    cmd.current_dir(cwd.path());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the runner thread")
        .expect("the binary runs");
    drop(cwd);
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The cluster's journal records as JSON values.
pub fn journal(state: &Path) -> Vec<Value> {
    let path = state
        .join("clusters")
        .join(A)
        .join(REGION)
        .join(CLUSTER)
        .join("journal.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ------------------------------------------------------------------------------------------------
// RBAC objects
// ------------------------------------------------------------------------------------------------

pub fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        ..ObjectMeta::default()
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

pub fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: meta(name, None),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// A ClusterRoleBinding of ClusterRole `role` to group `group`.
pub fn group_binding(name: &str, role: &str, group: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name, None),
        role_ref: role_ref("ClusterRole", role),
        subjects: Some(vec![subject("Group", group)]),
    }
}

// ------------------------------------------------------------------------------------------------
// The cluster
// ------------------------------------------------------------------------------------------------

pub fn mode(sim: &Sim) -> &'static str {
    sim.cluster(&key())
        .expect("cluster exists")
        .lock()
        .authentication_mode
        .as_str()
}

/// Asks the cluster through `client` (a principal's own EKS token) whether it may `verb`
/// `resource` (`group`) in `namespace` (`""` = cluster-wide).
pub async fn self_allowed(
    client: kube::Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: (!namespace.is_empty()).then(|| namespace.into()),
                ..ResourceAttributes::default()
            }),
            non_resource_attributes: None,
        },
        ..SelfSubjectAccessReview::default()
    };
    Api::<SelfSubjectAccessReview>::all(client)
        .create(&PostParams::default(), &review)
        .await
        .expect("SelfSubjectAccessReview")
        .status
        .expect("a review status")
        .allowed
}

// ------------------------------------------------------------------------------------------------
// Validators written by others (Python, installed by .ci/run)
// ------------------------------------------------------------------------------------------------

/// The Python interpreter that can import every module in `modules`: `AAM_PYTHON` (set by
/// `.ci/run` to its virtual environment) or `python3`. `None` outside CI when they are missing,
/// with the reason on stderr so a skipped check is visible; in CI (`CI` set) a missing validator
/// fails the test instead, because a check that silently does not run is no check.
pub fn python_with(modules: &[&str]) -> Option<std::path::PathBuf> {
    let python = std::env::var_os("AAM_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let imports = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = std::process::Command::new(&python)
        .args(["-c", &imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let why = format!(
        "{} cannot import {} (run .ci/run once, or set AAM_PYTHON to a Python that has them: \
         pip install -r .ci/requirements.txt)",
        python.display(),
        modules.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}
