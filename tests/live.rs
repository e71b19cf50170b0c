//! End to end: the real binary, through aws-sdk and kube-rs, against the simulator (issue 4).
//! Each test checks the binary's output and exit status, the simulator's state, and — the point
//! of the migration — what every principal's own EKS token gets from the cluster.

mod common;
mod live_support;

use std::collections::BTreeMap;
use std::time::Duration;

use eks_sim::faults::{EventualConsistency, FaultConfig, Throttle};
use eks_sim::world::{AccessEntrySpec, AccessScope, AuthenticationMode};
use eks_sim::{Sim, SimServer};
use live_support::*;
use tempfile::TempDir;

const FAULT_SEED: u64 = 3;
const MIGRATE: [&str; 4] = ["migrate", "--cluster", CLUSTER, "--to"];

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_scenarios_keep_every_principals_access_after_entries() {
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    let people = tutorial_people(&sim);
    let before = observe_all(&sim, &people).await;
    // The world is what the tutorials describe (checked once, so the comparison means something).
    let seen = |name: &str| &before[people.iter().position(|p| p.name == name).unwrap()];
    let reader = seen("reader user").allowed().expect("alice authenticates");
    assert_eq!(
        &reader[..2],
        &[true, false],
        "reader: get pods yes, create pods no"
    );
    let masters = seen("cross-account system:masters role").allowed().unwrap();
    assert!(masters.iter().all(|a| *a), "system:masters may do anything");
    assert_eq!(seen("unmapped user"), &Seen::Rejected(401));

    let out = run(&sim, &server, state.path(), &TO_ENTRIES, &[]).await;
    out.expect_code(0);
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");

    let entries = entries(&sim);
    let get = |arn: &str| {
        entries
            .get(arn)
            .unwrap_or_else(|| panic!("no entry for {arn}: {entries:#?}"))
    };
    let admin = get(&role(B, "PlatformAdmin"));
    assert_eq!(admin.username, "platform-admin");
    assert!(admin.groups.is_empty());
    assert_eq!(
        admin.policies.keys().collect::<Vec<_>>(),
        ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"]
    );
    assert_eq!(
        get(&role(A, "team/dev/Developer")).username,
        "dev:{{SessionName}}"
    );
    assert_eq!(get(&role(A, "NodeRole")).entry_type, "EC2_LINUX");
    assert_eq!(get(&role(A, "WinNodeRole")).entry_type, "EC2_WINDOWS");
    assert_eq!(get(&role(A, "FargatePodRole")).entry_type, "FARGATE_LINUX");
    assert_eq!(get(&user(A, "people/alice")).groups, ["reader"]);
    assert_eq!(get(&user(A, "carol")).groups, ["deployers"]);
    // EKS made the creator's entry at the switch; the tool created exactly the four others.
    assert_eq!(get(&creator_arn()).created_by, None);
    assert_eq!(
        entries.values().filter(|e| e.created_by.is_some()).count(),
        4,
        "{entries:#?}"
    );
    assert_eq!(entries.len(), 8, "{entries:#?}");

    let after = observe_all(&sim, &people).await;
    assert_same_access(&people, &before, &after, "after --to entries");
    // Idempotent: the same command again changes nothing.
    let mutations = mutation_counts(&sim);
    let again = run(&sim, &server, state.path(), &TO_ENTRIES, &[]).await;
    again.expect_code(0);
    assert_eq!(mutation_counts(&sim), mutations);
    assert_eq!(live_support::entries(&sim), entries);
    assert_state_dir_clean(&sim, state.path());
}

/// The access entries an uninterrupted, fault-free `--to entries` leaves on the tutorial world.
async fn reference_entries() -> BTreeMap<String, EntryView> {
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    live_support::entries(&sim)
}

/// The tutorial world after an uninterrupted `--to entries`: the simulator, the state directory,
/// the principals and what they got before it.
async fn tutorial_after_entries() -> (Sim, SimServer, TempDir, Vec<Person>, Vec<Seen>) {
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    let people = tutorial_people(&sim);
    let before = observe_all(&sim, &people).await;
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    (sim, server, state, people, before)
}

/// The entries EKS itself makes at the first switch on the tutorial world.
fn eks_made() -> Vec<String> {
    vec![
        creator_arn(),
        role(A, "FargatePodRole"),
        role(A, "NodeRole"),
        role(A, "WinNodeRole"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_anywhere_in_entries_is_resumed_by_running_the_same_command() {
    let reference = reference_entries().await;
    assert_eq!(reference.len(), 8);
    // Mutations of the entries stage, in order: create PlatformAdmin (1), associate its admin
    // policy (2), create Developer (3), create alice (4), create carol (5).
    let points = [
        ("entries:before-send:1", "intent"),
        ("entries:after-send:1", "done"), // between a create and its associate
        ("entries:before-send:2", "intent"),
        ("entries:after-send:4", "done"),
        ("entries:before-send:5", "intent"),
        ("dual:after-send", "modeUpdateRequested"),
    ];
    for (failpoint, last_event) in points {
        let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
        let command = TO_ENTRIES;
        let crashed = run(
            &sim,
            &server,
            state.path(),
            &command,
            &[("AWS_AUTH_MIGRATE_FAILPOINT", failpoint)],
        )
        .await;
        assert_eq!(crashed.code, None, "{failpoint}: {}", crashed.text());
        let journal = journal(state.path());
        let last = journal.last().expect("a journal");
        assert_eq!(last["event"]["kind"], last_event, "{failpoint}: {last}");

        let resumed = run(&sim, &server, state.path(), &command, &[]).await;
        resumed.expect_code(0);
        assert_eq!(
            live_support::entries(&sim),
            reference,
            "{failpoint}: the resumed run ends elsewhere"
        );
        let counters = sim.counters().snapshot();
        assert_eq!(
            counters.operation("eks:CreateAccessEntry"),
            4,
            "{failpoint}: every entry is created exactly once"
        );
        assert_eq!(
            counters.operation("eks:UpdateClusterConfig"),
            1,
            "{failpoint}"
        );

        // What the crashed run created is the tool's too: rollback removes all of it.
        run(&sim, &server, state.path(), &ROLLBACK, &[])
            .await
            .expect_code(0);
        assert_eq!(
            live_support::entries(&sim).into_keys().collect::<Vec<_>>(),
            eks_made(),
            "{failpoint}"
        );
        assert_state_dir_clean(&sim, state.path());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_still_converge() {
    let reference = reference_entries().await;
    let faults = [
        // Seeded: the same calls fail in every run. Each new entry also answers
        // AssociateAccessPolicy with the eventual-consistency 404 once.
        FaultConfig {
            server_error_rate: 0.02,
            eventual_consistency: Some(EventualConsistency {
                window_ms: 0,
                calls: 1,
            }),
            ..FaultConfig::default()
        },
        // A token bucket per account and region refilling more slowly than the tool calls:
        // about one call in ten is throttled on the development machine (it depends on speed,
        // so the share is printed, not asserted).
        FaultConfig {
            throttle: Some(Throttle {
                rate_per_sec: 100.0,
                burst: 10,
            }),
            server_error_rate: 0.02,
            ..FaultConfig::default()
        },
    ];
    for (i, config) in faults.into_iter().enumerate() {
        // A seed whose 2% draws hit a few of the run's ~50 AWS calls.
        let (sim, server) = serve(base().seed(FAULT_SEED).cluster(tutorial_cluster())).await;
        sim.set_faults(config);
        let state = tempfile::tempdir().unwrap();
        let out = run(&sim, &server, state.path(), &TO_ENTRIES, &[]).await;
        let outcomes = sim.counters().snapshot().by_outcome;
        println!("faults #{i}: {outcomes:?}");
        out.expect_code(0);
        assert_eq!(live_support::entries(&sim), reference, "faults #{i}");
        assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
        if i == 0 {
            let server_errors: u64 = outcomes
                .iter()
                .filter(|(code, _)| code.as_str() != "ok" && !code.starts_with("Throttling"))
                .map(|(_, n)| n)
                .sum();
            assert!(server_errors >= 2, "the seed injects 5xx: {outcomes:?}");
            assert!(
                outcomes
                    .get("ResourceNotFoundException")
                    .copied()
                    .unwrap_or(0)
                    >= 1,
                "{outcomes:?}"
            );
        }
    }
}

/// The `clientRequestToken`s of the journal's intents, by operation kind.
fn journaled_tokens(journal: &[serde_json::Value]) -> Vec<(String, String)> {
    journal
        .iter()
        .filter(|r| r["event"]["kind"] == "intent")
        .filter_map(|r| {
            let op = &r["event"]["op"];
            let token = r["event"]["token"].as_str()?;
            Some((
                op["op"].as_str().unwrap_or_default().to_string(),
                token.to_string(),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_to_mutations_are_resent_with_their_token_and_act_once() {
    let reference = reference_entries().await;
    let (sim, server) = serve(base().seed(FAULT_SEED).cluster(tutorial_cluster())).await;
    // Half the mode switches and entry creations are carried out but their response is lost:
    // the SDK resends them, and only the request token keeps a resend from acting twice (a
    // second update, or a 409 that would pass the tool's own entry off as adopted).
    sim.set_faults(FaultConfig {
        drop_response_rate: 0.5,
        operations: vec![
            "eks:CreateAccessEntry".into(),
            "eks:UpdateClusterConfig".into(),
        ],
        ..FaultConfig::default()
    });
    let state = tempfile::tempdir().unwrap();
    let out = run(&sim, &server, state.path(), &TO_ENTRIES, &[]).await;
    let counters = sim.counters().snapshot();
    out.expect_code(0);
    assert!(
        counters
            .by_outcome
            .get("DroppedResponse")
            .copied()
            .unwrap_or(0)
            >= 2,
        "the seed drops responses: {:?}",
        counters.by_outcome
    );
    assert!(
        counters.operation("eks:CreateAccessEntry") > 4
            && counters.operation("eks:UpdateClusterConfig") > 1,
        "resends happened: {:?}",
        counters.by_operation
    );
    assert!(
        !counters.by_outcome.contains_key("ResourceInUseException"),
        "{:?}",
        counters.by_outcome
    );
    assert_eq!(live_support::entries(&sim), reference);
    let updates = sim.cluster(&key()).unwrap().lock().updates.len();
    assert_eq!(updates, 1, "one mode update, however many sends");
    assert!(
        // The 3 adopted are the entries EKS made at the switch, as in an undisturbed run.
        out.stdout.contains("entries  3 adopted, 4 created,"),
        "{}",
        out.text()
    );

    // The tokens the cluster saw are the ones journaled with the intents.
    let journal = journal(state.path());
    let tokens = journaled_tokens(&journal);
    assert_eq!(
        tokens.iter().map(|(op, _)| op.as_str()).collect::<Vec<_>>(),
        [
            "UpdateClusterConfig",
            "create",
            "create",
            "create",
            "create"
        ],
        "{tokens:?}"
    );
    let seen: std::collections::BTreeSet<String> = sim
        .cluster(&key())
        .unwrap()
        .lock()
        .idempotent_replies
        .keys()
        .cloned()
        .collect();
    let sent: std::collections::BTreeSet<String> =
        tokens.into_iter().map(|(_, token)| token).collect();
    assert_eq!(sent, seen);

    // Everything made through a lost response is the tool's: rollback removes all of it.
    run(&sim, &server, state.path(), &ROLLBACK, &[])
        .await
        .expect_code(0);
    assert_eq!(
        live_support::entries(&sim).into_keys().collect::<Vec<_>>(),
        eks_made()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_resends_an_unfinished_mutation_with_the_same_token() {
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    let crashed = run(
        &sim,
        &server,
        state.path(),
        &TO_ENTRIES,
        &[("AWS_AUTH_MIGRATE_FAILPOINT", "entries:before-send:1")],
    )
    .await;
    assert_eq!(crashed.code, None, "{}", crashed.text());
    let before = journaled_tokens(&journal(state.path()));
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    let after = journaled_tokens(&journal(state.path()));
    // The crashed run's last intent (the first create) is resent by the next run with its token.
    let unfinished = before.last().expect("an intent").clone();
    assert_eq!(unfinished.0, "create");
    assert_eq!(
        after.iter().filter(|t| **t == unfinished).count(),
        2,
        "{after:?}"
    );
    // A done operation done again later (after a rollback) gets a new token: it must act.
    run(&sim, &server, state.path(), &ROLLBACK, &[])
        .await
        .expect_code(0);
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    let again = journaled_tokens(&journal(state.path()));
    assert_eq!(again.iter().filter(|t| **t == unfinished).count(), 2);
    assert_eq!(live_support::entries(&sim), reference_entries().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_mode_update_stops_clearly_and_the_next_run_resumes() {
    let reference = reference_entries().await;
    let (sim, server) = serve(base().cluster(tutorial_cluster())).await;
    sim.set_faults(FaultConfig {
        update_failure_rate: 1.0,
        ..FaultConfig::default()
    });
    let state = tempfile::tempdir().unwrap();
    let command = TO_ENTRIES;
    let failed = run(&sim, &server, state.path(), &command, &[]).await;
    failed.expect_code(1);
    assert!(
        failed.stderr.contains("the switch to API_AND_CONFIG_MAP")
            && failed.stderr.contains("ended Failed")
            && failed.stderr.contains("the same command retries it"),
        "{}",
        failed.text()
    );
    assert_eq!(mode(&sim), "CONFIG_MAP");
    assert!(live_support::entries(&sim).is_empty());
    let status = journal(state.path())
        .iter()
        .find(|r| r["event"]["kind"] == "modeUpdateFinished")
        .map(|r| r["event"]["status"].clone());
    assert_eq!(status, Some("Failed".into()));

    sim.set_faults(FaultConfig::default());
    run(&sim, &server, state.path(), &command, &[])
        .await
        .expect_code(0);
    assert_eq!(live_support::entries(&sim), reference);
    assert_state_dir_clean(&sim, state.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_already_in_progress_is_waited_for() {
    let (sim, server) = serve(base().cluster(tutorial_cluster())).await;
    let other = {
        let cluster = sim.cluster(&key()).unwrap();
        let mut state = cluster.lock();
        state.start_update(
            "VersionUpdate",
            vec![],
            None,
            sim.now(),
            // Long enough to still run when the binary starts on a loaded machine.
            Duration::from_millis(3000),
            None,
        )
    };
    let state = tempfile::tempdir().unwrap();
    let out = run(
        &sim,
        &server,
        state.path(),
        &args(&MIGRATE, &["dual", "--yes"]),
        &[],
    )
    .await;
    out.expect_code(0);
    assert!(
        out.stdout
            .contains(&format!("another update ({other}) is in progress")),
        "{}",
        out.text()
    );
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
    let counters = sim.counters().snapshot();
    assert_eq!(counters.operation("eks:UpdateClusterConfig"), 1);
    assert_eq!(
        counters.by_outcome.get("ResourceInUseException"),
        None,
        "the switch never raced the other update"
    );
    let cluster = sim.cluster(&key()).unwrap();
    let updates = &cluster.lock().updates;
    assert!(
        updates
            .iter()
            .all(|u| u.status == eks_sim::world::UpdateStatus::Successful),
        "{updates:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_everyones_access_and_is_idempotent() {
    let (sim, server, state, people, before) = tutorial_after_entries().await;
    let out = run(&sim, &server, state.path(), &ROLLBACK, &[]).await;
    out.expect_code(0);
    assert!(
        out.stdout.contains("the mode stays API_AND_CONFIG_MAP"),
        "{}",
        out.text()
    );
    assert_eq!(
        live_support::entries(&sim).into_keys().collect::<Vec<_>>(),
        eks_made()
    );
    let after = observe_all(&sim, &people).await;
    assert_same_access(&people, &before, &after, "after rollback");

    // A second rollback finds nothing to undo and changes nothing.
    let entries = live_support::entries(&sim);
    let counted = mutation_counts(&sim);
    let again = run(&sim, &server, state.path(), &ROLLBACK, &[]).await;
    again.expect_code(0);
    assert!(
        again
            .stdout
            .contains("0 entries the tool created to delete, 0 changed entries to restore"),
        "{}",
        again.text()
    );
    assert_eq!(mutation_counts(&sim), counted);
    assert_eq!(live_support::entries(&sim), entries);
    assert_state_dir_clean(&sim, state.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_puts_back_what_the_tool_changed_on_entries_it_adopted() {
    // Already in API_AND_CONFIG_MAP with entries someone made by hand: alice's with other
    // groups, the cross-account admin role's without its policy, the creator's break-glass one.
    let cluster = tutorial_cluster()
        .mode(AuthenticationMode::ApiAndConfigMap)
        .access_entry(
            AccessEntrySpec::standard(creator_arn())
                .policy("AmazonEKSClusterAdminPolicy", AccessScope::cluster()),
        )
        .access_entry(
            AccessEntrySpec::standard(user(A, "people/alice"))
                .username("alice-old")
                .group("old-readers"),
        )
        .access_entry(
            AccessEntrySpec::standard(role(B, "PlatformAdmin")).username("platform-admin"),
        );
    let (sim, server, state) = serve_with_state(base().cluster(cluster)).await;
    let people = tutorial_people(&sim);
    let entries_before = live_support::entries(&sim);
    let before = observe_all(&sim, &people).await;

    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    let migrated = live_support::entries(&sim);
    let alice = &migrated[&user(A, "people/alice")];
    assert_eq!(
        (alice.username.as_str(), &alice.groups[..]),
        ("alice", &["reader".to_string()][..])
    );
    assert_eq!(alice.created_by, None, "adopted, not recreated");
    assert_eq!(
        migrated[&role(B, "PlatformAdmin")].policies.len(),
        1,
        "{migrated:#?}"
    );

    let out = run(&sim, &server, state.path(), &ROLLBACK, &[]).await;
    out.expect_code(0);
    assert_eq!(
        live_support::entries(&sim),
        entries_before,
        "{}",
        out.text()
    );
    let after = observe_all(&sim, &people).await;
    assert_same_access(
        &people,
        &before,
        &after,
        "after rollback of adopted entries",
    );
    assert_state_dir_clean(&sim, state.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_to_api_needs_the_typed_name_and_then_keeps_everyones_access() {
    let (sim, server, state, people, before) = tutorial_after_entries().await;
    for confirm in [&[][..], &["--confirm", "staging"][..]] {
        let refused = run(
            &sim,
            &server,
            state.path(),
            &args(&args(&MIGRATE, &["api", "--yes"]), confirm),
            &[],
        )
        .await;
        refused.expect_code(4);
        assert!(
            refused
                .stderr
                .contains("type the cluster name to confirm: --confirm prod"),
            "{}",
            refused.text()
        );
        assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
    }
    let out = run(&sim, &server, state.path(), &TO_API, &[]).await;
    out.expect_code(0);
    assert_eq!(mode(&sim), "API");
    let after = observe_all(&sim, &people).await;
    assert_same_access(&people, &before, &after, "in API mode");

    // In API mode rollback is refused and changes nothing.
    let entries = live_support::entries(&sim);
    let refused = run(&sim, &server, state.path(), &ROLLBACK, &[]).await;
    refused.expect_code(4);
    assert!(
        refused.stderr.contains("the cluster is in API mode"),
        "{}",
        refused.text()
    );
    assert_eq!(live_support::entries(&sim), entries);
    assert_eq!(mode(&sim), "API");
    assert_state_dir_clean(&sim, state.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_refuses_mappings_that_would_be_dropped_unless_allowed() {
    let slr = "- rolearn: arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEKS\n  username: eks-service\n  groups:\n  - reader\n";
    let cluster = tutorial_cluster()
        .aws_auth_key("mapRoles", format!("{MAP_ROLES}{slr}"))
        .aws_auth_key("mapAccounts", "- \"444455556666\"\n");
    let (sim, server, state) = serve_with_state(base().cluster(cluster)).await;
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    let api = TO_API;
    let refused = run(&sim, &server, state.path(), &api, &[]).await;
    refused.expect_code(4);
    for reason in [
        "the switch to API is refused; nothing was changed",
        "the last verification failed",
        "mapAccounts[0] (444455556666) would be dropped",
        "mapRoles[5] (arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEKS) would be dropped",
    ] {
        assert!(refused.stderr.contains(reason), "{}", refused.text());
    }
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");

    // Allowing one is not allowing the other.
    let refused = run(
        &sim,
        &server,
        state.path(),
        &args(&api[..], &["--allow-drop", "mapAccounts[0]"]),
        &[],
    )
    .await;
    refused.expect_code(4);
    assert!(
        !refused.stderr.contains("mapAccounts[0]"),
        "{}",
        refused.text()
    );
    assert!(refused.stderr.contains("mapRoles[5]"), "{}", refused.text());
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");

    run(
        &sim,
        &server,
        state.path(),
        &args(
            &api,
            &[
                "--allow-drop",
                "mapAccounts[0]",
                "--allow-drop",
                "arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEKS",
            ],
        ),
        &[],
    )
    .await
    .expect_code(0);
    assert_eq!(mode(&sim), "API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_refuses_without_a_cluster_admin_and_when_the_caller_would_lose_admin() {
    // Bootstrap admin off: EKS makes no creator entry, so only aws-auth can give admin. The
    // caller (the creator role) reads aws-auth and RBAC through an `auditors` group.
    let auditors = "- rolearn: arn:aws:iam::111122223333:role/ClusterCreator\n  username: auditor\n  groups:\n  - auditors\n- rolearn: arn:aws:iam::111122223333:role/NodeRole\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n";
    let cluster = tutorial_cluster()
        .mode(eks_sim::world::AuthenticationMode::ApiAndConfigMap)
        .bootstrap_admin(Some(false))
        .aws_auth_key("mapRoles", auditors)
        .cluster_role(k8s_openapi::api::rbac::v1::ClusterRole {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("config-reader".into()),
                ..Default::default()
            },
            // What the tool needs to read aws-auth and verify parity, and no more.
            rules: Some(vec![
                eks_sim::rbac::rule(&["get", "list"], &[""], &["configmaps"]),
                eks_sim::rbac::rule(
                    &["list"],
                    &["rbac.authorization.k8s.io"],
                    &[
                        "clusterroles",
                        "clusterrolebindings",
                        "roles",
                        "rolebindings",
                    ],
                ),
                eks_sim::rbac::rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                ),
                // The cluster lock.
                eks_sim::rbac::rule(
                    &["get", "create", "update"],
                    &["coordination.k8s.io"],
                    &["leases"],
                ),
            ]),
            aggregation_rule: None,
        })
        .cluster_role_binding(k8s_openapi::api::rbac::v1::ClusterRoleBinding {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("auditors".into()),
                ..Default::default()
            },
            role_ref: k8s_openapi::api::rbac::v1::RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: "config-reader".into(),
            },
            subjects: Some(vec![k8s_openapi::api::rbac::v1::Subject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Group".into(),
                name: "auditors".into(),
                namespace: None,
            }]),
        });
    let (sim, server, state) = serve_with_state(base().cluster(cluster)).await;
    let entries = TO_ENTRIES;
    let api = TO_API;
    run(&sim, &server, state.path(), &entries, &[])
        .await
        .expect_code(0);
    let refused = run(&sim, &server, state.path(), &api, &[]).await;
    refused.expect_code(4);
    for reason in [
        "no access entry has AmazonEKSClusterAdminPolicy at cluster scope",
        "has no cluster-admin access entry",
    ] {
        assert!(refused.stderr.contains(reason), "{}", refused.text());
    }
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");

    // Someone else becomes admin: the gate still refuses, because the caller would not be.
    {
        let cluster = sim.cluster(&key()).unwrap();
        let mut state = cluster.lock();
        let mut cm = state.aws_auth().unwrap().clone();
        cm.data.as_mut().unwrap().insert(
            "mapRoles".into(),
            format!("{auditors}- rolearn: arn:aws:iam::444455556666:role/PlatformAdmin\n  username: platform-admin\n  groups:\n  - system:masters\n"),
        );
        state.put_config_map(cm);
    }
    run(&sim, &server, state.path(), &entries, &[])
        .await
        .expect_code(0);
    let refused = run(&sim, &server, state.path(), &api, &[]).await;
    refused.expect_code(4);
    assert!(
        refused.stderr.contains(&format!(
            "your own principal (arn:aws:sts::{A}:assumed-role/ClusterCreator/aws-auth-migrate) has no cluster-admin access entry"
        )),
        "{}",
        refused.text()
    );
    assert!(
        !refused
            .stderr
            .contains("no access entry has AmazonEKSClusterAdminPolicy"),
        "{}",
        refused.text()
    );
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
    assert_state_dir_clean(&sim, state.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_plan_reports_a_role_iam_does_not_have() {
    let cluster = tutorial_cluster().aws_auth_key(
        "mapRoles",
        format!(
            "{MAP_ROLES}- rolearn: arn:aws:iam::111122223333:role/Ghost\n  username: ghost\n  groups:\n  - reader\n"
        ),
    );
    let (sim, server, state) = serve_with_state(base().cluster(cluster)).await;
    let (out, doc) = plan_json(&sim, &server, state.path()).await;
    let plan = &doc["clusters"][0];
    let ghost: Vec<&serde_json::Value> = plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "role-not-found")
        .collect();
    assert_eq!(ghost.len(), 1, "{}", out.stdout);
    assert_eq!(ghost[0]["mapping"], "mapRoles[5]");
    assert!(
        ghost[0]["message"]
            .as_str()
            .unwrap()
            .contains("IAM has no role `Ghost` in account 111122223333"),
        "{}",
        ghost[0]
    );
    // Nothing is planned for it, and the other roles got their paths from IAM.
    let ops = plan["operations"].as_array().expect("operations");
    assert!(
        ops.iter()
            .all(|o| !o.to_string().to_lowercase().contains("role/ghost")),
        "{ops:?}"
    );
    assert!(
        ops.iter()
            .any(|o| o.to_string().contains("role/team/dev/Developer")),
        "{ops:?}"
    );
    assert!(
        plan["findings"].as_array().unwrap().iter().any(|f| {
            f["code"] == "role-path-from-file"
                && f["mapping"] == "mapRoles[1]"
                && f["message"] == "role `Developer` uses the path `/team/dev/` from IAM"
        }),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_reaches_the_state_directory_or_the_output() {
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    let verbose = [("RUST_LOG", "trace")];
    for command in [
        &["plan", "--cluster", CLUSTER, "-o", "yaml"][..],
        &TO_ENTRIES,
        &["status", "--cluster", CLUSTER],
        &ROLLBACK,
    ] {
        // `run` checks stdout and stderr of every run for every secret the simulator knows.
        let out = run(&sim, &server, state.path(), command, &verbose).await;
        out.expect_code(0);
        if command[0] == "status" {
            assert!(
                out.stdout.contains("mode   API_AND_CONFIG_MAP")
                    && out.stdout.contains("backups (1)"),
                "{}",
                out.text()
            );
        }
    }
    let files = files_under(state.path());
    assert!(
        files.iter().any(|f| f.ends_with("journal.jsonl"))
            && files.iter().any(|f| f.ends_with("aws-auth.json")),
        "{files:?}"
    );
    assert_state_dir_clean(&sim, state.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_plan_takes_node_types_from_managed_node_groups() {
    // The Windows node group's role is mapped without eks:kube-proxy-windows (a common slip):
    // aws-auth alone says EC2_LINUX, but EKS creates EC2_WINDOWS from the AMI type, and the
    // live plan follows the node group instead of planning a conflict.
    let map_roles = MAP_ROLES.replace("  - eks:kube-proxy-windows\n", "");
    let cluster = tutorial_cluster().aws_auth_key("mapRoles", map_roles);
    let (sim, server, state) = serve_with_state(base().cluster(cluster)).await;
    let (out, doc) = plan_json(&sim, &server, state.path()).await;
    let plan = &doc["clusters"][0];
    let win = plan["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["arn"].as_str().unwrap().ends_with("role/WinNodeRole"))
        .expect("the Windows node role");
    assert_eq!(win["accessEntry"]["type"], "EC2_WINDOWS", "{win}");
    let notes: Vec<&serde_json::Value> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "node-type-from-nodegroup")
        .collect();
    assert_eq!(notes.len(), 1, "{}", out.stdout);
    assert_eq!(notes[0]["mapping"], win["id"]);
    // After the switch EKS's own entry for that role is adopted, not a conflict.
    run(&sim, &server, state.path(), &TO_ENTRIES, &[])
        .await
        .expect_code(0);
    assert_eq!(
        entries(&sim)["arn:aws:iam::111122223333:role/WinNodeRole"].entry_type,
        "EC2_WINDOWS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_file_plans_every_cluster_and_reports_the_one_it_cannot_read() {
    let dev = eks_sim::world::ClusterSpec::new("dev", A, REGION)
        .creator(creator_arn())
        .aws_auth_key(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/Developer\n  username: dev:{{SessionName}}\n  groups:\n  - developers\n",
        );
    let (sim, server, state) =
        common::serve_with_state(base().cluster(tutorial_cluster()).cluster(dev)).await;
    let fleet = state.path().join("fleet.yaml");
    std::fs::write(
        &fleet,
        format!(
            "clusters:\n  - name: {CLUSTER}\n    region: {REGION}\n  - name: dev\n  - name: ghost\n"
        ),
    )
    .unwrap();
    let fleet = fleet.to_str().unwrap();
    let out = run(
        &sim,
        &server,
        state.path(),
        &["plan", "--fleet", fleet, "-o", "json"],
        &[],
    )
    .await;
    out.expect_code(1);
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.text()));
    let names: Vec<&str> = doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(names, [CLUSTER, "dev"], "in the file's order");
    assert!(
        doc["clusters"][1]["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["op"] == "create")
    );
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("cluster ghost:"),
        "{}",
        errors[0]
    );
    assert_eq!(
        errors[0]["location"]["line"], 5,
        "the ghost's line in the fleet file"
    );
    assert!(out.stderr.contains("cluster ghost:"), "{}", out.text());

    // The table starts with the fleet summary.
    let out = run(
        &sim,
        &server,
        state.path(),
        &["plan", "--fleet", fleet],
        &[],
    )
    .await;
    out.expect_code(1);
    assert!(out.stdout.starts_with(" CLUSTER"), "{}", out.stdout);
    assert!(out.stdout.contains("total (2 clusters)"), "{}", out.stdout);
    // Read-only: nothing changed.
    assert_eq!(mode(&sim), "CONFIG_MAP");
}
