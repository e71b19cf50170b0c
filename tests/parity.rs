//! Parity verification end to end (issue 5): the real binary's `verify` and the `api` gate against
//! the simulator, whose SubjectAccessReview answers for RBAC and whose SelfSubjectAccessReview,
//! asked with a principal's own token, is the independent check of what the principal can do.

mod common;
mod parity_support;

use parity_support::*;

const READER_MAP_USERS: &str = "\
- userarn: arn:aws:iam::111122223333:user/alice
  username: alice
  groups:
  - reader
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_and_masters_with_custom_groups_are_unchanged() {
    let map_roles = "\
- rolearn: arn:aws:iam::111122223333:role/PlatformAdmin
  username: platform-admin
  groups:
  - system:masters
  - platform-ops
  - auditors
";
    let world = base().role(A, "/", "PlatformAdmin").cluster(
        cluster()
            .aws_auth_key("mapUsers", READER_MAP_USERS)
            .aws_auth_key("mapRoles", map_roles)
            .cluster_role(pod_reader())
            .cluster_role_binding(group_binding("reader", "pod-reader", "reader"))
            .cluster_role(cluster_role(
                "auditor",
                vec![eks_sim::rbac::rule(
                    &["get", "list"],
                    &["", "apps"],
                    &["pods", "configmaps", "deployments"],
                )],
            ))
            .cluster_role_binding(group_binding("auditors", "auditor", "auditors"))
            .role(ns_role(
                "ops",
                "apps",
                vec![eks_sim::rbac::rule(&["*"], &["*"], &["*"])],
            ))
            .role_binding(role_binding(
                "platform-ops",
                "apps",
                "ops",
                "Group",
                "platform-ops",
            )),
    );
    let (sim, server, state) = serve_with_state(world).await;
    let admin_key = role_session(&sim, "PlatformAdmin", "oncall");

    // What the principals' own tokens get while aws-auth alone decides.
    assert!(can(&sim, ALICE_KEY, "get", "", "pods", "default").await);
    assert!(!can(&sim, ALICE_KEY, "create", "", "pods", "default").await);
    assert!(can(&sim, &admin_key, "create", "", "secrets", "kube-system").await);
    assert!(can(&sim, &admin_key, "delete", "", "namespaces", "").await);

    to_entries(&server, state.path(), &[]).await;
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
    let out = verify(&server, state.path(), &[]).await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(total_lost(&report), 0, "{report:#}");

    let alice = principal(&report, &user_arn("alice"));
    assert_eq!(alice["before"]["username"], "alice");
    assert_eq!(
        strings(&alice["before"]["groups"]),
        ["reader", "system:authenticated"]
    );
    assert_eq!(alice["after"], alice["before"], "{alice:#}");
    assert!(
        lost(alice).is_empty() && gained(alice).is_empty(),
        "{alice:#}"
    );
    assert!(alice["unchanged"].as_u64().unwrap() > 0);

    let admin = principal(&report, &role_arn("PlatformAdmin"));
    assert_eq!(admin["after"]["username"], "platform-admin");
    assert_eq!(
        strings(&admin["after"]["groups"]),
        ["auditors", "platform-ops", "system:authenticated"],
        "system:masters becomes a policy, the custom groups stay groups"
    );
    assert_eq!(
        strings(&admin["policies"]),
        ["AmazonEKSClusterAdminPolicy (cluster)"]
    );
    assert!(
        lost(admin).is_empty() && gained(admin).is_empty(),
        "{admin:#}"
    );

    // The same answers through the real token path, now that the entries decide.
    assert!(can(&sim, ALICE_KEY, "get", "", "pods", "default").await);
    assert!(!can(&sim, ALICE_KEY, "create", "", "pods", "default").await);
    assert!(can(&sim, &admin_key, "create", "", "secrets", "kube-system").await);
    assert!(can(&sim, &admin_key, "delete", "", "namespaces", "").await);
}

const CAROL_MAP_USERS: &str = "\
- userarn: arn:aws:iam::111122223333:user/alice
  username: alice
  groups:
  - reader
- userarn: arn:aws:iam::111122223333:user/carol
  username: carol
";

/// alice in `reader`, carol with a `kind: User` RoleBinding in `apps`.
fn username_world() -> eks_sim::world::ClusterSpec {
    cluster()
        .aws_auth_key("mapUsers", CAROL_MAP_USERS)
        .cluster_role(pod_reader())
        .cluster_role_binding(group_binding("reader", "pod-reader", "reader"))
        .role(deployer_role())
        .role_binding(role_binding("carol", "apps", "deployer", "User", "carol"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_username_breaks_a_user_binding_and_is_reported_lost() {
    let (sim, server, state) = serve_with_state(base().cluster(username_world())).await;
    assert!(can(&sim, CAROL_KEY, "create", "apps", "deployments", "apps").await);
    to_entries(&server, state.path(), &[]).await;
    verify(&server, state.path(), &[]).await.expect_code(0);
    assert!(can(&sim, CAROL_KEY, "create", "apps", "deployments", "apps").await);

    // Someone renames carol's entry: the RoleBinding naming `carol` no longer applies to her.
    edit_entry(&sim, &user_arn("carol"), |e| {
        e.username = "carol-renamed".into()
    });
    assert!(!can(&sim, CAROL_KEY, "create", "apps", "deployments", "apps").await);
    let out = verify(&server, state.path(), &[]).await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(report["passed"], false);
    let carol = principal(&report, &user_arn("carol"));
    assert_eq!(carol["before"]["username"], "carol");
    assert_eq!(carol["after"]["username"], "carol-renamed");
    let carol_lost = lost(carol);
    for probe in [
        "create deployments.apps in apps",
        "get deployments.apps in apps",
        "create pods in apps",
    ] {
        assert!(carol_lost.contains(&probe.to_string()), "{carol_lost:?}");
    }
    assert!(lost(principal(&report, &user_arn("alice"))).is_empty());
    // The table says the same for people.
    let table = run(&server, state.path(), &["verify", "--cluster", CLUSTER]).await;
    table.expect_code(3);
    assert!(table.stdout.contains("FAILED"), "{}", table.text());
    assert!(
        table
            .stdout
            .contains("lost:   create deployments.apps in apps"),
        "{}",
        table.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_that_cannot_be_carried_loses_its_user_binding_and_api_is_refused() {
    // EKS rejects `system:` usernames, so the entry would get the default username, and a User
    // binding names the old one: the mapping stays in aws-auth, and the switch to API would lose it.
    let map_roles = "\
- rolearn: arn:aws:iam::111122223333:role/CiDeployer
  username: system:ci-deployer
";
    let world = base().role(A, "/", "CiDeployer").cluster(
        username_world()
            .aws_auth_key("mapRoles", map_roles)
            .role_binding(role_binding(
                "ci",
                "apps",
                "deployer",
                "User",
                "system:ci-deployer",
            )),
    );
    let (sim, server, state) = serve_with_state(world).await;
    let ci_key = role_session(&sim, "CiDeployer", "build-17");
    assert!(can(&sim, &ci_key, "create", "apps", "deployments", "apps").await);
    to_entries(&server, state.path(), &[]).await;

    let out = verify(&server, state.path(), &[]).await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(report["passed"], false);
    let ci = principal(&report, &role_arn("CiDeployer"));
    assert!(ci["after"].is_null(), "{ci:#}");
    assert!(
        lost(ci).contains(&"create deployments.apps in apps".to_string()),
        "{ci:#}"
    );
    assert!(lost(principal(&report, &user_arn("alice"))).is_empty());
    assert!(lost(principal(&report, &user_arn("carol"))).is_empty());
    // `migrate --to verify` fails the same way, with the same status.
    let staged = run(
        &server,
        state.path(),
        &["migrate", "--cluster", CLUSTER, "--to", "verify", "--yes"],
    )
    .await;
    staged.expect_code(3);
    assert!(
        staged.stderr.contains("verification failed"),
        "{}",
        staged.text()
    );

    let api = run(&server, state.path(), &TO_API).await;
    api.expect_code(4);
    assert!(
        api.stderr.contains("the last verification failed"),
        "{}",
        api.text()
    );
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
    // aws-auth still serves it while the cluster is not in API.
    assert!(can(&sim, &ci_key, "create", "apps", "deployments", "apps").await);

    // Named as an accepted drop, the verification passes and says so.
    let out = verify(&server, state.path(), &["--allow-drop", "mapRoles[0]"]).await;
    out.expect_code(0);
    let report = out.json();
    let ci = principal(&report, &role_arn("CiDeployer"));
    assert!(lost(ci).is_empty(), "{ci:#}");
    assert!(
        ci["note"].as_str().unwrap().contains("--allow-drop"),
        "{ci:#}"
    );
}

const VIEWER_MAP_ROLES: &str = "\
- rolearn: arn:aws:iam::111122223333:role/Viewer
  username: viewer:{{SessionName}}
  groups:
  - viewers
";

const VIEW_POLICY_MAP: &str = "\
apiVersion: aws-auth-migrate/v1
groups:
  viewers:
    policy: AmazonEKSViewPolicy
";

/// The reader and username world, plus a `Viewer` role whose `viewers` group a policy map turns
/// into AmazonEKSViewPolicy at cluster scope (the group is not kept).
fn mutation_world() -> eks_sim::world::WorldBuilder {
    base().role(A, "/", "Viewer").cluster(
        username_world()
            .aws_auth_key("mapRoles", VIEWER_MAP_ROLES)
            .cluster_role(cluster_role(
                "viewer",
                vec![
                    eks_sim::rbac::rule(
                        &["get", "list", "watch"],
                        &[""],
                        &["pods", "services", "configmaps"],
                    ),
                    eks_sim::rbac::rule(&["get", "list", "watch"], &["apps"], &["deployments"]),
                ],
            ))
            .cluster_role_binding(group_binding("viewers", "viewer", "viewers")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_each_broken_translation_and_passes_once_restored() {
    let (sim, server, state) = serve_with_state(mutation_world()).await;
    let pm = policy_map(state.path(), VIEW_POLICY_MAP);
    let viewer_key = role_session(&sim, "Viewer", "vic");
    to_entries(&server, state.path(), &["--policy-map", &pm]).await;
    let out = verify(&server, state.path(), &["--policy-map", &pm]).await;
    out.expect_code(0);
    let report = out.json();
    let viewer = principal(&report, &role_arn("Viewer"));
    assert_eq!(
        strings(&viewer["policies"]),
        ["AmazonEKSViewPolicy (cluster)"]
    );
    assert_eq!(
        strings(&viewer["after"]["groups"]),
        ["system:authenticated"]
    );
    assert!(lost(viewer).is_empty(), "{viewer:#}");

    struct Mutation {
        name: &'static str,
        arn: String,
        apply: fn(&mut eks_sim::world::AccessEntry),
        /// Probes the verification must name as lost.
        lost: &'static [&'static str],
        /// What the principal's own token can no longer do (verb, group, resource, namespace).
        token: (&'static str, &'static str, &'static str, &'static str),
        key: String,
    }
    let mutations = [
        Mutation {
            name: "drop a group",
            arn: user_arn("alice"),
            apply: |e| e.kubernetes_groups.retain(|g| g != "reader"),
            lost: &["get pods (cluster-wide)", "list pods in default"],
            token: ("get", "", "pods", "default"),
            key: ALICE_KEY.into(),
        },
        Mutation {
            name: "change a username",
            arn: user_arn("carol"),
            apply: |e| e.username = "carol:renamed".into(),
            lost: &["create deployments.apps in apps", "create pods in apps"],
            token: ("create", "apps", "deployments", "apps"),
            key: CAROL_KEY.into(),
        },
        Mutation {
            name: "narrow a policy scope",
            arn: role_arn("Viewer"),
            apply: |e| {
                e.access_policies
                    .get_mut(VIEW_POLICY)
                    .expect("the View policy is associated")
                    .access_scope = eks_sim::world::AccessScope::namespaces(["apps"]);
            },
            lost: &[
                "list pods (cluster-wide)",
                "get pods in default",
                "get configmaps in kube-system",
            ],
            token: ("get", "", "pods", "default"),
            key: viewer_key.clone(),
        },
    ];
    for m in &mutations {
        let original = entry(&sim, &m.arn);
        let (verb, group, resource, ns) = m.token;
        assert!(
            can(&sim, &m.key, verb, group, resource, ns).await,
            "{}",
            m.name
        );
        edit_entry(&sim, &m.arn, m.apply);
        assert!(
            !can(&sim, &m.key, verb, group, resource, ns).await,
            "{}: the mutation really breaks access",
            m.name
        );

        let out = verify(&server, state.path(), &["--policy-map", &pm]).await;
        out.expect_code(3);
        let report = out.json();
        assert_eq!(report["passed"], false, "{}", m.name);
        let p = principal(&report, &m.arn);
        let p_lost = lost(p);
        for probe in m.lost {
            assert!(
                p_lost.contains(&probe.to_string()),
                "{}: {probe} not among {p_lost:?}",
                m.name
            );
        }
        assert_eq!(
            total_lost(&report),
            p_lost.len(),
            "{}: only the mutated principal loses",
            m.name
        );

        edit_entry(&sim, &m.arn, |e| *e = original);
        let out = verify(&server, state.path(), &["--policy-map", &pm]).await;
        out.expect_code(0);
        assert_eq!(total_lost(&out.json()), 0, "{}: restored", m.name);
        assert!(
            can(&sim, &m.key, verb, group, resource, ns).await,
            "{}",
            m.name
        );
    }
    // The narrowed scope keeps what lies inside it: only the namespaces outside are lost.
    edit_entry(&sim, &role_arn("Viewer"), mutations[2].apply);
    let report = verify(&server, state.path(), &["--policy-map", &pm])
        .await
        .json();
    let p_lost = lost(principal(&report, &role_arn("Viewer")));
    assert!(
        p_lost.iter().all(|l| !l.ends_with(" in apps")),
        "{p_lost:?}"
    );
}

/// `principals` roles mapped to 20 distinct identities (`team-N:{{SessionName}}` in group
/// `team-N`), every team bound to a read-only ClusterRole, even teams also to the deployer Role.
fn teams_world(principals: usize) -> eks_sim::world::WorldBuilder {
    let mut builder = base();
    let mut map_roles = String::new();
    for i in 0..principals {
        let name = format!("svc-{i:03}");
        builder = builder.role(A, "/", &name);
        map_roles.push_str(&format!(
            "- rolearn: arn:aws:iam::{A}:role/{name}\n  username: team-{t}:{{{{SessionName}}}}\n  groups:\n  - team-{t}\n",
            t = i % 20
        ));
    }
    let mut spec = cluster()
        .aws_auth_key("mapRoles", map_roles)
        .cluster_role(pod_reader())
        .role(deployer_role());
    for t in 0..20 {
        let team = format!("team-{t}");
        spec = spec.cluster_role_binding(group_binding(&team, "pod-reader", &team));
        if t % 2 == 0 {
            spec = spec.role_binding(role_binding(&team, "apps", "deployer", "Group", &team));
        }
    }
    builder.cluster(spec)
}

/// (SubjectAccessReviews the simulator served for one `verify`, the report).
async fn verify_cost(principals: usize) -> (u64, serde_json::Value) {
    let (sim, server, state) = serve_with_state(teams_world(principals)).await;
    to_entries(&server, state.path(), &[]).await;
    let before = sar_count(&sim);
    let out = verify(&server, state.path(), &[]).await;
    out.expect_code(0);
    (sar_count(&sim) - before, out.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_cost_follows_distinct_identities_not_principals() {
    let (few_reviews, few) = verify_cost(20).await;
    let (many_reviews, many) = verify_cost(500).await;
    assert_eq!(few["principals"].as_array().unwrap().len(), 20);
    assert_eq!(many["principals"].as_array().unwrap().len(), 500);
    assert_eq!(few["identities"], 20, "{few:#}");
    assert_eq!(many["identities"], 20);
    assert!(few_reviews > 0);
    assert_eq!(
        many_reviews, few_reviews,
        "500 principals sharing 20 identities cost what 20 principals do"
    );
    assert_eq!(
        many["reviews"], many_reviews,
        "the report counts what was sent"
    );
    assert_eq!(few["reviews"], few_reviews);
    assert_eq!(total_lost(&many), 0);
    // Every principal of a team got the team's verdict.
    let p = principal(&many, &role_arn("svc-487"));
    assert_eq!(p["after"]["username"], "team-7:aws-auth-migrate-probe");
    assert_eq!(
        p["unchanged"],
        principal(&few, &role_arn("svc-007"))["unchanged"]
    );
}

const GAINS_POLICY_MAP: &str = "\
apiVersion: aws-auth-migrate/v1
groups:
  reader:
    policy: AmazonEKSViewPolicy
    keepGroup: true
  platform:
    policy: AmazonEKSClusterAdminPolicy
";

fn associate(sim: &eks_sim::Sim, arn: &str, policy: &str) {
    let now = sim.now();
    edit_entry(sim, arn, |e| {
        e.access_policies.insert(
            policy.to_string(),
            eks_sim::world::AssociatedAccessPolicy {
                policy_arn: policy.to_string(),
                access_scope: eks_sim::world::AccessScope::cluster(),
                associated_at: now,
                modified_at: now,
            },
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gains_are_reported_declared_or_not_and_never_fail_verification() {
    let map_roles = "\
- rolearn: arn:aws:iam::111122223333:role/Platform
  username: platform:{{SessionName}}
  groups:
  - platform
";
    let world = base().role(A, "/", "Platform").cluster(
        username_world()
            .aws_auth_key("mapRoles", map_roles)
            .cluster_role_binding(group_binding("platform", "pod-reader", "platform")),
    );
    let (sim, server, state) = serve_with_state(world).await;
    let pm = policy_map(state.path(), GAINS_POLICY_MAP);
    to_entries(&server, state.path(), &["--policy-map", &pm]).await;

    // The policy map asked for broader policies: the gains are expected.
    let out = verify(&server, state.path(), &["--policy-map", &pm]).await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["passed"], true);
    let alice = principal(&report, &user_arn("alice"));
    assert_eq!(
        strings(&alice["policies"]),
        ["AmazonEKSViewPolicy (cluster)"]
    );
    for probe in [
        "get configmaps in default",
        "list namespaces (cluster-wide)",
        "get deployments.apps in kube-system",
    ] {
        assert!(gained(alice).contains(&probe.to_string()), "{alice:#}");
    }
    assert!(lost(alice).is_empty());
    assert_eq!(alice["gainedDeclared"], true, "{alice:#}");
    let platform = principal(&report, &role_arn("Platform"));
    assert!(
        gained(platform).contains(&"create namespaces (cluster-wide)".to_string()),
        "{platform:#}"
    );
    assert_eq!(platform["gainedDeclared"], true, "{platform:#}");
    let carol = principal(&report, &user_arn("carol"));
    assert!(gained(carol).is_empty(), "{carol:#}");
    let table = run(
        &server,
        state.path(),
        &["verify", "--cluster", CLUSTER, "--policy-map", &pm],
    )
    .await;
    table.expect_code(0);
    assert!(
        table.stdout.contains("gained (declared) mapUsers[0]"),
        "{}",
        table.text()
    );

    // Gains nobody declared: a warning, not a loss.
    associate(&sim, &user_arn("carol"), SECRET_READER_POLICY);
    associate(&sim, &user_arn("alice"), SECRET_READER_POLICY);
    let out = verify(&server, state.path(), &["--policy-map", &pm]).await;
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["passed"], true);
    assert_eq!(total_lost(&report), 0);
    let carol = principal(&report, &user_arn("carol"));
    assert!(
        gained(carol).contains(&"get secrets in default".to_string()),
        "{carol:#}"
    );
    assert_eq!(carol["gainedDeclared"], false, "{carol:#}");
    let alice = principal(&report, &user_arn("alice"));
    assert!(
        gained(alice).contains(&"list secrets in kube-system".to_string()),
        "{alice:#}"
    );
    assert_eq!(
        alice["gainedDeclared"], false,
        "secrets come from a policy the map did not declare: {alice:#}"
    );
    let table = run(
        &server,
        state.path(),
        &["verify", "--cluster", CLUSTER, "--policy-map", &pm],
    )
    .await;
    table.expect_code(0);
    assert!(table.stdout.contains("PASSED"), "{}", table.text());
    assert!(
        table.stdout.contains("gained            mapUsers[1]"),
        "{}",
        table.text()
    );
}

const AUDITOR_MAP_ROLES: &str = "\
- rolearn: arn:aws:iam::111122223333:role/Auditor
  username: auditor:{{SessionName}}
  groups:
  - reader
";

/// (plan hash, passed) of every verification in the journal, in order.
fn verifications(state: &std::path::Path) -> Vec<(String, bool)> {
    journal(state)
        .iter()
        .filter(|r| r["event"]["kind"] == "verified")
        .map(|r| {
            (
                r["event"]["planHash"]
                    .as_str()
                    .expect("a plan hash")
                    .to_string(),
                r["event"]["passed"].as_bool().expect("an outcome"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_after_a_plan_change_verifies_the_new_plan_before_switching() {
    let world = base().role(A, "/", "Auditor").cluster(username_world());
    let (sim, server, state) = serve_with_state(world).await;
    to_entries(&server, state.path(), &[]).await;
    let out = verify(&server, state.path(), &[]).await;
    out.expect_code(0);
    let first = out.json()["planHash"].as_str().unwrap().to_string();
    assert_eq!(verifications(state.path()), [(first.clone(), true)]);

    // The plan changes after the verification: a new mapping in aws-auth.
    set_aws_auth_key(&sim, "mapRoles", AUDITOR_MAP_ROLES);
    let status = run(&server, state.path(), &["status", "--cluster", CLUSTER]).await;
    status.expect_code(0);
    assert!(
        status
            .stdout
            .contains(&format!("last verification: passed for plan {first}")),
        "{}",
        status.text()
    );

    // `--to api` reconciles the new mapping's entry and verifies the new plan before the switch;
    // the old verification is not what lets it through.
    let out = run(&server, state.path(), &TO_API).await;
    out.expect_code(0);
    assert_eq!(mode(&sim), "API");
    let records = journal(state.path());
    let verified: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r["event"]["kind"] == "verified")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(verified.len(), 2, "{records:#?}");
    let second = records[verified[1]]["event"]["planHash"].as_str().unwrap();
    assert_ne!(second, first, "the new mapping changed the plan");
    assert_eq!(records[verified[1]]["event"]["passed"], true);
    let switch = records
        .iter()
        .position(|r| r["event"]["target"] == "API")
        .expect("the switch is journaled");
    assert!(verified[1] < switch, "verified before the switch");
    assert_eq!(
        entry(&sim, &role_arn("Auditor")).kubernetes_groups,
        ["reader"]
    );
}

const VIEWER_READER_MAP_ROLES: &str = "\
- rolearn: arn:aws:iam::111122223333:role/Viewer
  username: viewer:{{SessionName}}
  groups:
  - reader
";

/// The `Viewer` role mapped into the `reader` group, which is bound to the pod reader.
fn viewer_reader_cluster() -> eks_sim::world::ClusterSpec {
    cluster()
        .aws_auth_key("mapRoles", VIEWER_READER_MAP_ROLES)
        .cluster_role(pod_reader())
        .cluster_role_binding(group_binding("reader", "pod-reader", "reader"))
}

/// The report's row of the `Viewer` role.
#[track_caller]
fn viewer_row(report: &serde_json::Value) -> &serde_json::Value {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principalArn"].as_str().unwrap().ends_with("role/Viewer"))
        .expect("the viewer's row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probing_as_the_real_principal_catches_a_recreated_role() {
    let world = base()
        // The tool runs as the creator role (--role-arn), which chains into the viewer.
        .role_trusting(A, "/", "Viewer", &[&creator_arn()])
        .cluster(viewer_reader_cluster());
    let (sim, server, state) = serve_with_state(world).await;
    to_entries(&server, state.path(), &[]).await;
    let viewer = role_arn("Viewer");

    // The real principal gets exactly what the verification predicts.
    let out = verify(&server, state.path(), &["--probe-as", &viewer]).await;
    out.expect_code(0);
    let report = out.json();
    let probed = &report["probedAs"][0];
    assert!(probed["checked"].as_u64().unwrap() > 10, "{probed}");
    assert_eq!(
        probed["mismatches"].as_array().unwrap().len(),
        0,
        "{probed}"
    );

    // Deleting and recreating the IAM role breaks its access entry (bound to the old unique id,
    // docs/pitfalls.md#recreated-iam-principals). While aws-auth still applies the role falls back
    // to it, so the break shows once only entries count: after the switch to API. No model sees it;
    // the real token does.
    run(&server, state.path(), &TO_API).await.expect_code(0);
    sim.recreate_principal(&viewer).expect("the role exists");
    let out = verify(&server, state.path(), &["--probe-as", &viewer]).await;
    out.expect_code(3);
    let report = out.json();
    assert_eq!(report["passed"], false);
    let probed = &report["probedAs"][0];
    assert!(
        !probed["mismatches"].as_array().unwrap().is_empty(),
        "{probed}"
    );
    let viewer_row = viewer_row(&report);
    assert!(
        viewer_row["lost"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .contains("get pods")
            && l.as_str().unwrap().contains("as the real principal")),
        "{viewer_row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_a_role_recreated_since_its_entry_was_created() {
    let world = base()
        .role(A, "/", "Viewer")
        .cluster(viewer_reader_cluster());
    let (sim, server, state) = serve_with_state(world).await;
    to_entries(&server, state.path(), &[]).await;
    verify(&server, state.path(), &[]).await.expect_code(0);

    // The entry is bound to the role's old unique id; the tool journaled that id at creation
    // and compares it with what IAM says now.
    sim.recreate_principal(&role_arn("Viewer"))
        .expect("the role exists");
    let out = verify(&server, state.path(), &[]).await;
    out.expect_code(3);
    let report = out.json();
    let viewer = viewer_row(&report);
    assert!(
        viewer["lost"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("the IAM role was recreated")),
        "{viewer}"
    );
}
