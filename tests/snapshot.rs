//! `snapshot`: a fleet of live clusters copied into an eks-sim world. The copy must load in the
//! simulator, give the same `plan --fleet` as the original, and hold no secret of the original.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use eks_sim::world::{AccessEntrySpec, AccessScope, AuthenticationMode, ClusterSpec, WorldSpec};
use eks_sim::{Sim, SimServer, World};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde_json::Value;

const B: &str = "444455556666";
const ADMIN_KEY: &str = "AKIAADMINEXAMPLE0001";
const ADMIN_SECRET: &str = "admin/secret/KEY/EXAMPLE+0001";

fn arn(account: &str, kind: &str, path_and_name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}/{path_and_name}")
}

fn migrator(account: &str) -> String {
    arn(account, "role", "ops/Migrator")
}

/// aws-auth of `prod`, spelt the ways people write it: comments, `roleARN` and `Groups`,
/// quoted and flow-style values, trailing blanks, a pathed role ARN that never matches, a role
/// of an account outside the fleet, a role IAM no longer has, and a mapAccounts of the other
/// account.
const PROD_MAP_ROLES: &str = "\
# platform team, do not edit by hand  
- roleARN: arn:aws:iam::444455556666:role/PlatformAdmin
  username: platform-admin
  Groups:
    - system:masters
- rolearn: \"arn:aws:iam::111122223333:role/Developer\"
  username: 'dev:{{SessionName}}'
  groups: [developers, reader]
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
  groups: [system:bootstrappers, system:nodes, system:node-proxier]
- rolearn: arn:aws:iam::111122223333:role/team/dev/Developer
  username: never-matches
- rolearn: arn:aws:iam::999988887777:role/Auditor
  username: auditor
  groups: [reader]
- rolearn: arn:aws:iam::111122223333:role/DeletedLastYear
  username: gone
";

const PROD_MAP_USERS: &str = "- userarn: arn:aws:iam::111122223333:user/people/alice\n  username: alice\n  groups:\n  - reader\n- userARN: arn:aws:iam::111122223333:user/carol\n  username: carol\n  groups: [deployers]\n";

fn users() -> [(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
); 4] {
    [
        (common::A, "/", "admin", ADMIN_KEY, ADMIN_SECRET),
        (
            common::A,
            "/people/",
            "alice",
            "AKIAALICEEXAMPLE0003",
            "alice-secret-0003/XYZ",
        ),
        (
            common::A,
            "/",
            "carol",
            "AKIACAROLEXAMPLE0004",
            "carol-secret-0004/XYZ",
        ),
        (
            B,
            "/",
            "bob",
            "AKIABOBEXAMPLE000005",
            "bob-secret-0005/in-account-b",
        ),
    ]
}

/// Three clusters in two accounts: `prod` (CONFIG_MAP, read as its creator), `dev` (CONFIG_MAP,
/// another region, read through an aws-auth mapping) and `staging` (API_AND_CONFIG_MAP in the
/// other account, read through an access entry).
fn original() -> eks_sim::world::WorldBuilder {
    let mut builder = World::builder().seed(23);
    for (account, path, name, key, secret) in users() {
        builder = builder.user(account, path, name, key, secret);
    }
    let admin = arn(A, "user", "admin");
    builder
        .role_trusting(A, "/ops/", "Migrator", &[&admin])
        .role_trusting(B, "/ops/", "Migrator", &[&admin, "111122223333"])
        .role(A, "/ci/", "Terraform")
        .role(A, "/", "NodeRole")
        .role(A, "/", "WinNodeRole")
        .role(A, "/eks/", "FargatePodRole")
        .role(A, "/team/dev/", "Developer")
        .role(B, "/", "PlatformAdmin")
        .role(B, "/", "NodeRole")
        .role(B, "/team/", "Developer")
        .caller(ADMIN_KEY)
        .cluster(prod())
        .cluster(dev())
        .cluster(staging())
}

fn aws_auth_object(data: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap {
        metadata: meta("aws-auth", Some("kube-system")),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..ConfigMap::default()
    };
    cm.metadata.labels = Some(BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "terraform".to_string(),
    )]));
    cm.metadata.annotations = Some(BTreeMap::from([(
        "kubectl.kubernetes.io/last-applied-configuration".to_string(),
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}\n".to_string(),
    )]));
    cm
}

fn prod() -> ClusterSpec {
    let deployer = Role {
        metadata: meta("deployer", Some("apps")),
        rules: Some(vec![eks_sim::rbac::rule(
            &["create", "update"],
            &["apps"],
            &["deployments"],
        )]),
    };
    let carol = RoleBinding {
        metadata: meta("carol-deploys", Some("apps")),
        role_ref: role_ref("Role", "deployer"),
        subjects: Some(vec![subject("User", "carol")]),
    };
    ClusterSpec::new(CLUSTER, A, REGION)
        .creator(migrator(A))
        .kubernetes_version("1.30")
        .config_map(aws_auth_object(&[
            ("mapRoles", PROD_MAP_ROLES),
            ("mapUsers", PROD_MAP_USERS),
            ("mapAccounts", "- \"444455556666\"\n"),
        ]))
        .namespace("apps")
        .nodegroup(
            "linux",
            arn(A, "role", "NodeRole"),
            "AL2023_x86_64_STANDARD",
        )
        .nodegroup(
            "windows",
            arn(A, "role", "WinNodeRole"),
            "WINDOWS_CORE_2022_x86_64",
        )
        .fargate_profile("apps", arn(A, "role", "eks/FargatePodRole"), "apps")
        .cluster_role(cluster_role(
            "reader",
            vec![eks_sim::rbac::rule(&["get", "list"], &[""], &["pods"])],
        ))
        .cluster_role_binding(group_binding("readers", "reader", "reader"))
        .role(deployer)
        .role_binding(carol)
        .tag("env", "prod")
        .tag("cost-center", "0042")
}

fn dev() -> ClusterSpec {
    ClusterSpec::new("dev", A, "eu-west-1")
        .creator(arn(A, "role", "ci/Terraform"))
        .bootstrap_admin(None)
        .kubernetes_version("1.29")
        .aws_auth_key(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/Migrator\n  username: migrator\n  groups:\n  - system:masters\n- rolearn: arn:aws:iam::111122223333:role/Developer\n  username: dev:{{SessionName}}\n  groups:\n  - developers\n",
        )
        .aws_auth_key(
            "mapUsers",
            "- userarn: arn:aws:iam::111122223333:user/admin\n  username: admin\n  groups:\n  - system:masters\n",
        )
}

fn staging() -> ClusterSpec {
    ClusterSpec::new("staging", B, REGION)
        .mode(AuthenticationMode::ApiAndConfigMap)
        .bootstrap_admin(Some(false))
        .namespace("apps")
        .nodegroup("general", arn(B, "role", "NodeRole"), "AL2023_ARM_64_STANDARD")
        .aws_auth_key(
            "mapRoles",
            "- rolearn: arn:aws:iam::444455556666:role/Developer\n  username: dev:{{SessionName}}\n  groups:\n  - developers\n- rolearn: arn:aws:iam::444455556666:role/PlatformAdmin\n  username: admin\n  groups:\n  - system:masters\n",
        )
        .access_entry(
            AccessEntrySpec::standard(migrator(B))
                .policy("AmazonEKSClusterAdminPolicy", AccessScope::cluster()),
        )
        .access_entry(
            AccessEntrySpec::standard(arn(B, "role", "team/Developer"))
                .username("dev:{{SessionName}}")
                .group("developers")
                .policy(
                    "AmazonEKSViewPolicy",
                    AccessScope::namespaces(["apps", "web-*"]),
                )
                .tag("owner", "platform"),
        )
        .access_entry(AccessEntrySpec::typed(
            arn(B, "role", "NodeRole"),
            eks_sim::world::AccessEntryType::Ec2Linux,
        ))
        .tag("env", "staging")
}

const FLEET: &str = "\
clusters:
  - name: prod
    region: us-east-1
    roleArn: arn:aws:iam::111122223333:role/ops/Migrator
  - name: dev
    region: eu-west-1
    roleArn: arn:aws:iam::111122223333:role/ops/Migrator
  - name: staging
    roleArn: arn:aws:iam::444455556666:role/ops/Migrator
";

async fn tool(server: &SimServer, key: (&str, &str), args: &[&str]) -> Output {
    run_binary(server.aws_url(), key, args, None, None, &[]).await
}

/// The plan's JSON without what a copy legitimately changes: access-entry ARNs end in an id EKS
/// generates when an entry is created.
fn comparable(plan: &Value) -> Value {
    let mut plan = plan.clone();
    for cluster in plan["clusters"].as_array_mut().into_iter().flatten() {
        for entry in cluster["existingEntries"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            entry
                .as_object_mut()
                .expect("an entry object")
                .remove("accessEntryArn");
        }
    }
    plan
}

/// The world's caller key and its secret, as `eks-sim serve` would print them.
fn caller_of(spec: &WorldSpec) -> (String, String) {
    let id = spec.caller.clone().expect("the snapshot names a caller");
    let secret = spec
        .accounts
        .iter()
        .flat_map(|a| &a.users)
        .flat_map(|u| &u.access_keys)
        .find(|k| k.id == id)
        .map(|k| k.secret.clone())
        .expect("the caller's key is in the world");
    (id, secret)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_rehearses_the_same_plan_and_holds_no_secret() {
    let (sim, server) = serve(original()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "fleet.yaml", FLEET);
    let world_path = dir.path().join("world.yaml");
    let rehearsal_fleet = dir.path().join("rehearsal-fleet.yaml");
    let admin = (ADMIN_KEY, ADMIN_SECRET);

    let before = tool(&server, admin, &["plan", "--fleet", &fleet, "-o", "json"]).await;
    let expected = comparable(&before.json());
    assert_eq!(
        expected["clusters"].as_array().unwrap().len(),
        3,
        "{}",
        before.text()
    );

    let out = tool(
        &server,
        admin,
        &[
            "snapshot",
            "--fleet",
            &fleet,
            "-o",
            world_path.to_str().unwrap(),
            "--rehearsal-fleet",
            rehearsal_fleet.to_str().unwrap(),
        ],
    )
    .await;
    out.expect_code(0);
    assert!(
        out.stderr.contains("3 of 3 clusters written"),
        "{}",
        out.text()
    );
    let yaml = std::fs::read_to_string(&world_path).unwrap();
    // What could not be copied exactly is said, on stderr and in the file.
    for warning in [
        "arn:aws:iam::999988887777:role/Auditor (referred to by cluster prod aws-auth mapRoles[6]): not read, no cluster of account 999988887777 was read",
        "arn:aws:iam::111122223333:role/DeletedLastYear (referred to by cluster prod aws-auth mapRoles[7]): IAM has no such principal; not written",
    ] {
        assert!(out.stderr.contains(warning), "{}", out.text());
        assert!(yaml.contains(warning), "{yaml}");
    }

    // No secret of the original world: user keys, and the session credentials the tool got.
    for (_, _, _, key, secret) in users() {
        assert!(!yaml.contains(secret), "{secret} leaked");
        assert!(!yaml.contains(key), "{key} leaked");
    }
    for issued in sim.iam().access_keys.values() {
        assert!(!yaml.contains(&issued.secret), "a session secret leaked");
        if let Some(token) = &issued.session_token {
            assert!(!yaml.contains(token.as_str()), "a session token leaked");
        }
    }
    assert!(!yaml.to_lowercase().contains("kind: secret"));

    // The file loads in the simulator.
    let spec = WorldSpec::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let copy = Sim::from_spec(spec.clone(), 5).unwrap_or_else(|e| panic!("{e}\n{yaml}"));

    // Exactly what the clusters hold: aws-auth's bytes and metadata, IAM paths and unique ids.
    let prod_key = key();
    let original_cm = sim
        .cluster(&prod_key)
        .unwrap()
        .lock()
        .aws_auth()
        .cloned()
        .unwrap();
    let copied_cm = copy
        .cluster(&prod_key)
        .unwrap()
        .lock()
        .aws_auth()
        .cloned()
        .unwrap();
    assert_eq!(copied_cm.data, original_cm.data);
    assert_eq!(copied_cm.metadata.labels, original_cm.metadata.labels);
    assert_eq!(
        copied_cm.metadata.annotations,
        original_cm.metadata.annotations
    );
    for role in [
        arn(A, "role", "team/dev/Developer"),
        arn(A, "role", "eks/FargatePodRole"),
        migrator(B),
        arn(B, "role", "team/Developer"),
    ] {
        assert_eq!(copy.unique_id_of(&role), sim.unique_id_of(&role), "{role}");
        assert!(copy.unique_id_of(&role).is_some(), "{role}");
    }
    // The role of the account outside the fleet exists with what aws-auth says of it; the
    // deleted one does not.
    assert!(
        copy.unique_id_of("arn:aws:iam::999988887777:role/Auditor")
            .is_some()
    );
    assert!(
        copy.unique_id_of(&arn(A, "role", "DeletedLastYear"))
            .is_none()
    );
    let staging_key = eks_sim::world::ClusterKey::new(B, REGION, "staging");
    {
        let copied = copy.cluster(&staging_key).unwrap();
        let copied = copied.lock();
        assert_eq!(
            copied.bootstrap_cluster_creator_admin_permissions,
            Some(false)
        );
        let dev = &copied.access_entries[&arn(B, "role", "team/Developer")];
        assert_eq!(dev.username, "dev:{{SessionName}}");
        assert_eq!(dev.tags["owner"], "platform");
        assert_eq!(dev.access_policies.len(), 1);
        let dev_cluster = copy
            .cluster(&eks_sim::world::ClusterKey::new(A, "eu-west-1", "dev"))
            .unwrap();
        let dev_cluster = dev_cluster.lock();
        assert_eq!(
            dev_cluster.bootstrap_cluster_creator_admin_permissions,
            None
        );
        assert_eq!(dev_cluster.kubernetes_version, "1.29");
        // Read through its aws-auth mapping, the migrator is not made dev's creator.
        assert_eq!(dev_cluster.creator_arn, None);
    }
    assert_eq!(
        copy.cluster(&prod_key)
            .unwrap()
            .lock()
            .creator_arn
            .as_deref(),
        Some(migrator(A).as_str()),
        "prod was read by its creator, outside aws-auth"
    );

    // The rehearsal: the same fleet file, the world's placeholder caller, the same plan.
    let copy_server = eks_sim::start(copy.clone()).await.unwrap();
    let (id, secret) = caller_of(&spec);
    let after = tool(
        &copy_server,
        (&id, &secret),
        &["plan", "--fleet", &fleet, "-o", "json"],
    )
    .await;
    assert_eq!(after.code, before.code, "{}", after.text());
    assert_eq!(comparable(&after.json()), expected);
    assert_eq!(after.stderr, before.stderr);

    // The rehearsal fleet names the roles the clusters were read as.
    let rehearsal = std::fs::read_to_string(&rehearsal_fleet).unwrap();
    let again = tool(
        &copy_server,
        (&id, &secret),
        &[
            "plan",
            "--fleet",
            rehearsal_fleet.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(comparable(&again.json()), expected, "{rehearsal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_cannot_be_read_is_reported_at_its_line_and_the_others_are_written() {
    let (_sim, server) = serve(original()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(
        dir.path(),
        "fleet.yaml",
        "clusters:\n  - name: prod\n    roleArn: arn:aws:iam::111122223333:role/ops/Migrator\n  - name: ghost\n  - name: dev\n    region: eu-west-1\n",
    );
    let world_path = dir.path().join("world.yaml");
    let out = tool(
        &server,
        (ADMIN_KEY, ADMIN_SECRET),
        &[
            "snapshot",
            "--fleet",
            &fleet,
            "-o",
            world_path.to_str().unwrap(),
        ],
    )
    .await;
    out.expect_code(1);
    assert!(
        out.stderr
            .contains(&format!("error: {fleet}:4:1: cluster ghost:")),
        "{}",
        out.text()
    );
    let spec = WorldSpec::from_yaml(&std::fs::read_to_string(&world_path).unwrap()).unwrap();
    let names: Vec<&str> = spec.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prod", "dev"]);
    // dev was read as the admin user itself: the rehearsal user cannot be it, and says so.
    assert!(
        out.stderr
            .contains("was read as the IAM user arn:aws:iam::111122223333:user/admin"),
        "{}",
        out.text()
    );
    let admin = spec
        .accounts
        .iter()
        .flat_map(|a| &a.users)
        .find(|u| u.name == "admin")
        .expect("the user dev was read as");
    assert_eq!(admin.access_keys.len(), 1);
    assert_ne!(admin.access_keys[0].secret, ADMIN_SECRET);
    Sim::from_spec(spec, 1).expect("the partial world loads");

    // One cluster by name, to stdout; nothing is written when it cannot be read.
    let out = tool(
        &server,
        (ADMIN_KEY, ADMIN_SECRET),
        &[
            "snapshot",
            "--cluster",
            "prod",
            "--role-arn",
            &migrator(A),
            "-o",
            "-",
        ],
    )
    .await;
    out.expect_code(0);
    let spec = WorldSpec::from_yaml(&out.stdout).unwrap();
    assert_eq!(spec.clusters.len(), 1);
    assert!(out.stdout.starts_with("# eks-sim world"), "{}", out.stdout);
    let missing = dir.path().join("missing.yaml");
    let out = tool(
        &server,
        (ADMIN_KEY, ADMIN_SECRET),
        &[
            "snapshot",
            "--cluster",
            "ghost",
            "-o",
            missing.to_str().unwrap(),
        ],
    )
    .await;
    out.expect_code(1);
    assert!(
        out.stderr.contains("error: cluster ghost: "),
        "{}",
        out.text()
    );
    assert!(!missing.exists());
}
