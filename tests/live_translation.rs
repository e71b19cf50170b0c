//! The translation rules that need the live cluster (issue 8): role ARNs written with a path
//! migrated only on request and then with IAM's real path, and usernames EKS refuses left to
//! EKS's default unless a `kind: User` binding names them.

mod common;
mod live_support;

use live_support::*;

const MAP_ROLES: &str = "\
- rolearn: arn:aws:iam::111122223333:role/team/dev/Developer
  username: dev:{{SessionName}}
  groups:
  - developers
- rolearn: arn:aws:iam::111122223333:role/NodeRole
  username: system:node:{{EC2PrivateDNSName}}
  groups:
  - system:bootstrappers
  - system:nodes
  - log-shippers
";

fn cluster() -> eks_sim::world::ClusterSpec {
    tutorial_cluster().aws_auth_key("mapRoles", MAP_ROLES)
}

fn mapping<'a>(plan: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    plan["clusters"][0]["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {plan:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_arn_with_a_path_is_migrated_only_with_include_ineffective() {
    let (sim, server, state) = serve_with_state(base().cluster(cluster())).await;
    let (_, plan) = plan_json(&sim, &server, state.path()).await;
    assert_eq!(mapping(&plan, "mapRoles[0]")["action"], "skip", "{plan:#}");
    // A node role with an extra group is a node entry that drops the group.
    let node = mapping(&plan, "mapRoles[1]");
    assert_eq!(node["action"], "create");
    assert_eq!(node["accessEntry"]["type"], "EC2_LINUX");

    let out = run(
        &sim,
        &server,
        state.path(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "-o",
            "json",
            "--include-ineffective",
        ],
        &[],
    )
    .await;
    out.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let dev = mapping(&plan, "mapRoles[0]");
    assert_eq!(dev["action"], "create", "{plan:#}");
    assert_eq!(
        dev["accessEntry"]["principalArn"],
        role(A, "team/dev/Developer")
    );
    let codes: Vec<&str> = plan["clusters"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"ineffective-included"), "{codes:?}");
    assert!(codes.contains(&"node-role-group-dropped"), "{codes:?}");

    // Migrating with the flag creates it; without it, the entry is not there.
    let out = run(
        &sim,
        &server,
        state.path(),
        &[&TO_ENTRIES[..], &["--include-ineffective"]].concat(),
        &[],
    )
    .await;
    out.expect_code(0);
    let entries = entries(&sim);
    let dev = entries
        .get(&role(A, "team/dev/Developer"))
        .unwrap_or_else(|| panic!("{entries:#?}"));
    assert_eq!(dev.username, "dev:{{SessionName}}");
    assert_eq!(dev.groups, ["developers"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_username_gets_the_default_unless_a_user_binding_names_it() {
    let map_roles = "\
- rolearn: arn:aws:iam::111122223333:role/Developer
  username: eks:developer
  groups:
  - developers
- rolearn: arn:aws:iam::111122223333:role/Ops
  username: system:ops
";
    let world = base().role(A, "/", "Ops").cluster(
        tutorial_cluster()
            .aws_auth_key("mapRoles", map_roles)
            .role_binding(k8s_openapi::api::rbac::v1::RoleBinding {
                metadata: meta("ops", Some("apps")),
                role_ref: role_ref("Role", "deployer"),
                subjects: Some(vec![subject("User", "system:ops")]),
            }),
    );
    let (sim, server, state) = serve_with_state(world).await;
    let out = run(
        &sim,
        &server,
        state.path(),
        &["plan", "--cluster", CLUSTER, "-o", "json"],
        &[],
    )
    .await;
    // The orphaned binding is a blocker.
    out.expect_code(3);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let dev = mapping(&plan, "mapRoles[0]");
    assert_eq!(dev["action"], "create", "{plan:#}");
    assert!(dev["accessEntry"].get("username").is_none(), "{dev:#}");
    let ops = mapping(&plan, "mapRoles[1]");
    assert_eq!(ops["action"], "keep", "{plan:#}");
    let findings = plan["clusters"][0]["findings"].as_array().unwrap();
    let of = |id: &str| -> Vec<(&str, &str)> {
        findings
            .iter()
            .filter(|f| f["mapping"] == id)
            .map(|f| (f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
            .collect()
    };
    assert!(
        of("mapRoles[0]").contains(&("username-reserved-prefix", "warning")),
        "{findings:#?}"
    );
    assert!(
        of("mapRoles[1]").contains(&("rbac-user-orphaned", "blocker")),
        "{findings:#?}"
    );

    // The entries stage creates the first with EKS's default username and leaves the second
    // in aws-auth, so `system:ops` keeps what its binding grants.
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    let entries = entries(&sim);
    assert_eq!(
        entries[&role(A, "team/dev/Developer")].username,
        "arn:aws:sts::111122223333:assumed-role/Developer/{{SessionName}}"
    );
    assert!(!entries.contains_key(&role(A, "Ops")), "{entries:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_name_iam_refuses_is_a_finding_of_its_mapping_not_a_failed_cluster() {
    // IAM answers GetRole with 400 ValidationError for a name outside 1-64 characters of
    // [\w+=,.@-]; the other mappings are still planned.
    let long = "r".repeat(65);
    let map_roles = format!(
        "\
- rolearn: arn:aws:iam::111122223333:role/NodeRole
  username: system:node:{{{{EC2PrivateDNSName}}}}
  groups:
  - system:bootstrappers
  - system:nodes
- rolearn: arn:aws:iam::111122223333:role/ops team
  username: ops
- rolearn: arn:aws:iam::111122223333:role/{long}
  username: long
"
    );
    let world = base().cluster(tutorial_cluster().aws_auth_key("mapRoles", &map_roles));
    let (sim, server, state) = serve_with_state(world).await;
    let (_, plan) = plan_json(&sim, &server, state.path()).await;
    assert_eq!(
        mapping(&plan, "mapRoles[0]")["action"],
        "create",
        "{plan:#}"
    );
    for id in ["mapRoles[1]", "mapRoles[2]"] {
        assert_eq!(mapping(&plan, id)["action"], "skip", "{plan:#}");
        let codes: Vec<&str> = plan["clusters"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["mapping"] == id)
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["role-name-invalid"], "{id}: {plan:#}");
    }
}
