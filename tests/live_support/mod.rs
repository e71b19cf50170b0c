//! Shared setup of the end-to-end tests: worlds built from the field tutorials' situations, the
//! real binary run against a running simulator, and what each principal sees through the real
//! token path (SelfSubjectReview and SelfSubjectAccessReview with its own EKS token).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use eks_sim::rbac::rule;
use eks_sim::world::{ClusterSpec, Sim, WorldBuilder};
use eks_sim::{SimServer, World};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;

pub use crate::common::*;

pub const B: &str = "444455556666";

pub const ADMIN_KEY: &str = "AKIAADMINEXAMPLE0001";
pub const ADMIN_SECRET: &str = "admin/secret/KEY/EXAMPLE+0001";
pub const ALICE_KEY: &str = "AKIAALICEEXAMPLE0003";
pub const ALICE_SECRET: &str = "alice-secret-0003/XYZ";
pub const CAROL_KEY: &str = "AKIACAROLEXAMPLE0004";
pub const CAROL_SECRET: &str = "carol-secret-0004/XYZ";
pub const OPS_KEY: &str = "AKIAOPSEXAMPLE000005";
pub const OPS_SECRET: &str = "ops-secret-0005/XYZ";

pub fn role(account: &str, path_and_name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{path_and_name}")
}

pub fn user(account: &str, path_and_name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{path_and_name}")
}

/// The caller of the tool: the admin user, assuming the cluster creator role (`--role-arn`).
pub fn creator_arn() -> String {
    role(A, "ClusterCreator")
}

/// Accounts, users and roles of every test world.
pub fn base() -> WorldBuilder {
    World::builder()
        .seed(11)
        .account(A)
        .account(B)
        .user(A, "/", "admin", ADMIN_KEY, ADMIN_SECRET)
        .user(A, "/people/", "alice", ALICE_KEY, ALICE_SECRET)
        .user(A, "/", "carol", CAROL_KEY, CAROL_SECRET)
        .user(A, "/", "ops", OPS_KEY, OPS_SECRET)
        .role_trusting(A, "/", "ClusterCreator", &[&user(A, "admin")])
        .role(A, "/", "NodeRole")
        .role(A, "/", "WinNodeRole")
        .role(A, "/", "FargatePodRole")
        .role(A, "/team/dev/", "Developer")
        .role(
            A,
            "/aws-service-role/eks.amazonaws.com/",
            "AWSServiceRoleForAmazonEKS",
        )
        .role(B, "/", "PlatformAdmin")
        .caller(ADMIN_KEY)
        .update_duration(Duration::from_millis(100))
}

/// `aws-auth` of the tutorials: another account's role as `system:masters`, a pathed role with
/// a session-name username, Linux, Windows and Fargate node roles, an IAM user in a `reader`
/// group bound to a read-only ClusterRole and one in a custom `deployers` group.
pub const MAP_ROLES: &str = "\
- rolearn: arn:aws:iam::444455556666:role/PlatformAdmin
  username: platform-admin
  groups:
  - system:masters
- rolearn: arn:aws:iam::111122223333:role/Developer
  username: dev:{{SessionName}}
  groups:
  - developers
- rolearn: arn:aws:iam::111122223333:role/NodeRole
  username: system:node:{{EC2PrivateDNSName}}
  groups:
  - system:bootstrappers
  - system:nodes
- rolearn: arn:aws:iam::111122223333:role/WinNodeRole
  username: system:node:{{EC2PrivateDNSName}}
  groups:
  - system:bootstrappers
  - system:nodes
  - eks:kube-proxy-windows
- rolearn: arn:aws:iam::111122223333:role/FargatePodRole
  username: system:node:{{SessionName}}
  groups:
  - system:bootstrappers
  - system:nodes
  - system:node-proxier
";

pub const MAP_USERS: &str = "\
- userarn: arn:aws:iam::111122223333:user/people/alice
  username: alice
  groups:
  - reader
- userarn: arn:aws:iam::111122223333:user/carol
  username: carol
  groups:
  - deployers
";

/// A CONFIG_MAP cluster with the tutorials' node groups, Fargate profile, RBAC and `aws-auth`.
pub fn tutorial_cluster() -> ClusterSpec {
    ClusterSpec::new(CLUSTER, A, REGION)
        .creator(creator_arn())
        .namespace("apps")
        .nodegroup("linux", role(A, "NodeRole"), "AL2023_x86_64_STANDARD")
        .nodegroup(
            "windows",
            role(A, "WinNodeRole"),
            "WINDOWS_CORE_2022_x86_64",
        )
        .fargate_profile("fp-default", role(A, "FargatePodRole"), "default")
        .aws_auth_key("mapRoles", MAP_ROLES)
        .aws_auth_key("mapUsers", MAP_USERS)
        .cluster_role(cluster_role(
            "pod-reader",
            vec![rule(&["get", "list", "watch"], &[""], &["pods"])],
        ))
        .cluster_role_binding(group_binding("reader", "pod-reader", "reader"))
        .cluster_role(cluster_role(
            "dev-view",
            vec![rule(&["get", "list"], &[""], &["pods", "services"])],
        ))
        .cluster_role_binding(group_binding("developers", "dev-view", "developers"))
        .role(Role {
            metadata: meta("deployer", Some("apps")),
            rules: Some(vec![
                rule(&["get", "list", "create", "delete"], &[""], &["pods"]),
                rule(&["get", "list", "create"], &["apps"], &["deployments"]),
            ]),
        })
        .role_binding(RoleBinding {
            metadata: meta("deployers", Some("apps")),
            role_ref: role_ref("Role", "deployer"),
            subjects: Some(vec![subject("Group", "deployers")]),
        })
}

// ------------------------------------------------------------------------------------------------
// The binary
// ------------------------------------------------------------------------------------------------

/// `rollback --cluster prod --yes`.
pub const ROLLBACK: [&str; 4] = ["rollback", "--cluster", CLUSTER, "--yes"];

/// Runs the tool against the simulator as the admin user assuming the creator role, with the
/// state directory `state` and extra environment `env`; checks that nothing secret was printed.
pub async fn run(
    sim: &Sim,
    server: &SimServer,
    state: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    run_as(
        sim,
        server,
        state,
        (ADMIN_KEY, ADMIN_SECRET),
        Some(&creator_arn()),
        args,
        env,
    )
    .await
}

pub async fn run_as(
    sim: &Sim,
    server: &SimServer,
    state: &Path,
    (key_id, secret): (&str, &str),
    role_arn: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    // `plan` has no state directory.
    let state = (args.first() != Some(&"plan")).then_some(state);
    let output = crate::common::run_binary(
        server.aws_url(),
        (key_id, secret),
        args,
        state,
        role_arn,
        env,
    )
    .await;
    assert_no_secret_in(sim, &output.stdout, "stdout");
    assert_no_secret_in(sim, &output.stderr, "stderr");
    output
}

/// `plan --cluster prod -o json`, which must succeed, and the plan document it prints.
pub async fn plan_json(sim: &Sim, server: &SimServer, state: &Path) -> (Output, serde_json::Value) {
    let out = run(
        sim,
        server,
        state,
        &["plan", "--cluster", CLUSTER, "-o", "json"],
        &[],
    )
    .await;
    out.expect_code(0);
    let doc = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.text()));
    (out, doc)
}

/// Every secret the simulator knows: long-term secrets, issued session secrets and tokens.
pub fn secrets(sim: &Sim) -> Vec<String> {
    let iam = sim.iam();
    let mut out: Vec<String> = Vec::new();
    for k in iam.access_keys.values() {
        out.push(k.secret.clone());
        if let Some(t) = &k.session_token {
            out.push(t.clone());
        }
    }
    out.push("k8s-aws-v1.".into());
    out
}

#[track_caller]
pub fn assert_no_secret_in(sim: &Sim, text: &str, what: &str) {
    for s in secrets(sim) {
        assert!(!text.contains(&s), "{what} contains a secret ({s:.6}…)");
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable state dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Nothing in the state directory holds a credential or a token.
#[track_caller]
pub fn assert_state_dir_clean(sim: &Sim, dir: &Path) {
    let files = files_under(dir);
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).expect("readable")).into_owned();
        assert_no_secret_in(sim, &text, &f.display().to_string());
    }
}

// ------------------------------------------------------------------------------------------------
// The simulator's state
// ------------------------------------------------------------------------------------------------

/// An access entry as compared across runs (no timestamps, ids or run-id tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryView {
    pub entry_type: String,
    pub username: String,
    pub groups: Vec<String>,
    /// Policy ARN → scope.
    pub policies: BTreeMap<String, String>,
    /// The tool's `created-by` tag, if any.
    pub created_by: Option<String>,
}

pub fn entries(sim: &Sim) -> BTreeMap<String, EntryView> {
    let cluster = sim.cluster(&key()).expect("cluster exists");
    let state = cluster.lock();
    state
        .access_entries
        .values()
        .map(|e| {
            let mut groups = e.kubernetes_groups.clone();
            groups.sort();
            (
                e.principal_arn.clone(),
                EntryView {
                    entry_type: e.entry_type.as_str().to_string(),
                    username: e.username.clone(),
                    groups,
                    policies: e
                        .access_policies
                        .values()
                        .map(|p| (p.policy_arn.clone(), format!("{:?}", p.access_scope)))
                        .collect(),
                    created_by: e.tags.get("aws-auth-migrate/created-by").cloned(),
                },
            )
        })
        .collect()
}

/// Calls of every EKS operation that changes a cluster.
pub fn mutation_counts(sim: &Sim) -> [u64; 6] {
    let c = sim.counters().snapshot();
    [
        "eks:CreateAccessEntry",
        "eks:DeleteAccessEntry",
        "eks:UpdateAccessEntry",
        "eks:AssociateAccessPolicy",
        "eks:DisassociateAccessPolicy",
        "eks:UpdateClusterConfig",
    ]
    .map(|op| c.operation(op))
}

// ------------------------------------------------------------------------------------------------
// Principals through the real token path
// ------------------------------------------------------------------------------------------------

/// Someone who uses the cluster, with the access key that identifies them.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: &'static str,
    pub access_key_id: String,
    /// Whether the Kubernetes username must stay the same (EKS renames the creator at the
    /// first switch; every mapping the tool carries over keeps its username).
    pub same_username: bool,
}

/// The principals of the tutorial world: IAM users by key, roles by fresh session credentials.
pub fn tutorial_people(sim: &Sim) -> Vec<Person> {
    let session = |account: &str, role: &str, session: &str| {
        sim.issue_session_credentials(account, role, session, Duration::from_secs(3600))
            .id
    };
    vec![
        Person {
            name: "cross-account system:masters role",
            access_key_id: session(B, "PlatformAdmin", "oncall"),
            same_username: true,
        },
        Person {
            name: "pathed developer role",
            access_key_id: session(A, "Developer", "dana"),
            same_username: true,
        },
        Person {
            name: "linux node",
            access_key_id: session(A, "NodeRole", "i-0123456789abcdef0"),
            same_username: true,
        },
        Person {
            name: "windows node",
            access_key_id: session(A, "WinNodeRole", "i-0fedcba9876543210"),
            same_username: true,
        },
        Person {
            name: "fargate pod",
            access_key_id: session(A, "FargatePodRole", "fargate-ip-10-0-9-9"),
            same_username: true,
        },
        Person {
            name: "reader user",
            access_key_id: ALICE_KEY.into(),
            same_username: true,
        },
        Person {
            name: "deployer user",
            access_key_id: CAROL_KEY.into(),
            same_username: true,
        },
        Person {
            name: "cluster creator",
            access_key_id: session(A, "ClusterCreator", "creator"),
            same_username: false,
        },
        Person {
            name: "unmapped user",
            access_key_id: OPS_KEY.into(),
            same_username: true,
        },
    ]
}

/// (verb, API group, resource, namespace) asked with SelfSubjectAccessReview.
pub const PROBES: [(&str, &str, &str, &str); 10] = [
    ("get", "", "pods", "default"),
    ("create", "", "pods", "default"),
    ("list", "", "pods", "apps"),
    ("create", "", "pods", "apps"),
    ("create", "apps", "deployments", "apps"),
    ("list", "", "services", "default"),
    ("get", "", "secrets", "kube-system"),
    ("get", "", "nodes", ""),
    (
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "",
    ),
    ("delete", "", "namespaces", ""),
];

/// What one principal gets from the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The API server did not authenticate the token (the HTTP status).
    Rejected(u16),
    Authenticated {
        username: String,
        /// One answer per [`PROBES`] entry.
        allowed: Vec<bool>,
    },
}

impl Seen {
    pub fn allowed(&self) -> Option<&[bool]> {
        match self {
            Seen::Authenticated { allowed, .. } => Some(allowed),
            Seen::Rejected(_) => None,
        }
    }
}

/// Asks the cluster, with `person`'s own EKS token, who they are and what they may do.
pub async fn observe(sim: &Sim, access_key_id: &str) -> Seen {
    let client = eks_sim::kube::client::client_for(sim, &key(), access_key_id).expect("client");
    let whoami = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await;
    let username = match whoami {
        Ok(r) => r
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .unwrap_or_default(),
        Err(kube::Error::Api(status)) => return Seen::Rejected(status.code),
        Err(e) => panic!("SelfSubjectReview failed: {e}"),
    };
    let mut allowed = Vec::new();
    for (verb, group, resource, namespace) in PROBES {
        let answer =
            crate::common::self_allowed(client.clone(), verb, group, resource, namespace).await;
        allowed.push(answer);
    }
    Seen::Authenticated { username, allowed }
}

pub async fn observe_all(sim: &Sim, people: &[Person]) -> Vec<Seen> {
    let mut out = Vec::new();
    for p in people {
        out.push(observe(sim, &p.access_key_id).await);
    }
    out
}

/// Every principal authenticates (or is rejected) and is authorized exactly as in `before`.
#[track_caller]
pub fn assert_same_access(people: &[Person], before: &[Seen], after: &[Seen], when: &str) {
    for ((p, b), a) in people.iter().zip(before).zip(after) {
        match (b, a) {
            (
                Seen::Authenticated {
                    username: ub,
                    allowed: ab,
                },
                Seen::Authenticated {
                    username: ua,
                    allowed: aa,
                },
            ) => {
                assert_eq!(ab, aa, "{when}: {} is authorized differently", p.name);
                if p.same_username {
                    assert_eq!(ub, ua, "{when}: {} has another username", p.name);
                }
            }
            _ => assert_eq!(b, a, "{when}: {} authenticates differently", p.name),
        }
    }
}
