//! Fleet migration and the cluster lock against eks-sim, through the real binary: waves over
//! many clusters in several accounts with faults and a failing cluster, the failure threshold,
//! a crashed fleet run resumed, two runs on one cluster, stale and dead-process locks.

mod common;
mod fleet_support;

use std::path::Path;
use std::time::Duration;

use common::*;
use eks_sim::faults::{FaultConfig, Throttle};
use eks_sim::world::{ClusterKey, World};
use eks_sim::{Sim, SimServer};
use fleet_support::*;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

async fn fleet_run(
    server: &SimServer,
    state: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    run_binary(
        server.aws_url(),
        (KEY, SECRET),
        args,
        Some(state),
        None,
        env,
    )
    .await
}

fn mode_of(sim: &Sim, i: usize) -> &'static str {
    let key = ClusterKey::new(ACCOUNTS[i % 3], REGION, name(i));
    sim.cluster(&key)
        .unwrap()
        .lock()
        .authentication_mode
        .as_str()
}

fn entries_of(sim: &Sim, i: usize) -> usize {
    let key = ClusterKey::new(ACCOUNTS[i % 3], REGION, name(i));
    sim.cluster(&key).unwrap().lock().access_entries.len()
}

fn outcomes(report: &serde_json::Value) -> Vec<(String, String, u64)> {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
                c["wave"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clusters_in_three_accounts_migrate_in_waves_despite_faults_and_a_failure() {
    let sim = world(50).build().unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    sim.set_faults(FaultConfig {
        server_error_rate: 0.01,
        drop_response_rate: 0.02,
        throttle: Some(Throttle {
            rate_per_sec: 400.0,
            burst: 40,
        }),
        operations: vec![
            "eks:CreateAccessEntry".into(),
            "eks:AssociateAccessPolicy".into(),
            "eks:UpdateClusterConfig".into(),
            "eks:DescribeCluster".into(),
            "eks:ListAccessEntries".into(),
        ],
        ..FaultConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let fleet = fleet_file(dir.path(), 50, 20, &[7]);
    let fleet = fleet.to_str().unwrap();
    let out = fleet_run(
        &server,
        &state,
        &[
            "migrate",
            "--fleet",
            fleet,
            "--to",
            "entries",
            "--yes",
            "--concurrency",
            "6",
            "--per-account-region",
            "2",
            "--max-failures",
            "3",
            "-o",
            "json",
        ],
        &[],
    )
    .await;
    println!("{:?}", sim.counters().snapshot().by_outcome);
    out.expect_code(1);
    let report = out.json();
    let got = outcomes(&report);
    assert_eq!(got.len(), 50);
    for (i, (n, outcome, wave)) in got.iter().enumerate() {
        assert_eq!(n, &name(i));
        assert_eq!(*wave, (i / 20 + 1) as u64);
        if i == 7 {
            assert_eq!(outcome, "failed", "{report}");
            assert_eq!(mode_of(&sim, i), "CONFIG_MAP");
        } else {
            assert_eq!(outcome, "done", "{}: {report}", n);
            assert_eq!(mode_of(&sim, i), "API_AND_CONFIG_MAP", "{n}");
            // NodeRole (made by EKS, adopted), the creator's entry, admin, reader.
            assert_eq!(entries_of(&sim, i), 4, "{n}");
        }
    }
    let failed = &report["clusters"][7];
    assert!(
        failed["detail"].as_str().unwrap().contains("AssumeRole")
            || failed["detail"]
                .as_str()
                .unwrap()
                .contains("not authorized"),
        "{failed}"
    );
    // Waves in order: the second starts after every cluster of the first has finished.
    let log = &out.stderr;
    let wave2 = log.find("== wave 2").expect("wave 2 announced");
    for i in 0..20 {
        let end = log
            .find(&format!(
                "{}: {}",
                name(i),
                if i == 7 { "failed" } else { "done" }
            ))
            .unwrap_or_else(|| panic!("{} finished: {log}", name(i)));
        assert!(end < wave2, "{} ended after wave 2 began", name(i));
    }
    assert!(log.find("c20: started").unwrap() > wave2);
    // A failure threshold of 3 was not reached: later waves ran. Running it again does
    // nothing new for the clusters that are done.
    let before = sim.counters().snapshot().operation("eks:CreateAccessEntry");
    sim.set_faults(FaultConfig::default());
    let again = fleet_run(
        &server,
        &state,
        &[
            "migrate", "--fleet", fleet, "--to", "entries", "--yes", "-o", "json",
        ],
        &[],
    )
    .await;
    again.expect_code(1);
    let got = outcomes(&again.json());
    assert_eq!(
        got.iter().filter(|(_, o, _)| o == "already-done").count(),
        49
    );
    assert_eq!(got[7].1, "failed");
    assert_eq!(
        sim.counters().snapshot().operation("eks:CreateAccessEntry"),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_threshold_stops_new_clusters_and_a_rerun_resumes_them() {
    let sim = world(6).build().unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // The canary (the first two clusters) holds the broken one: nothing else starts.
    let fleet = fleet_file(dir.path(), 6, 6, &[1]);
    let fleet_s = fleet.to_str().unwrap();
    let args = [
        "migrate",
        "--fleet",
        fleet_s,
        "--to",
        "entries",
        "--yes",
        "--canary",
        "2",
        "-o",
        "json",
        "--concurrency",
        "1",
    ];
    let out = fleet_run(&server, &state, &args, &[]).await;
    out.expect_code(1);
    let got = outcomes(&out.json());
    assert_eq!(
        got.iter()
            .map(|(_, o, w)| (o.as_str(), *w))
            .collect::<Vec<_>>(),
        [
            ("done", 0),
            ("failed", 0),
            ("not-started", 1),
            ("not-started", 1),
            ("not-started", 1),
            ("not-started", 1)
        ]
    );
    for i in 2..6 {
        assert_eq!(mode_of(&sim, i), "CONFIG_MAP", "untouched");
    }

    // The role is fixed: the same command skips the done cluster and does the rest.
    let fixed = fleet_file(dir.path(), 6, 6, &[]);
    assert_eq!(fixed, fleet);
    let out = fleet_run(&server, &state, &args, &[]).await;
    out.expect_code(0);
    let got = outcomes(&out.json());
    assert_eq!(got[0].1, "already-done");
    assert!(got[1..].iter().all(|(_, o, _)| o == "done"), "{got:?}");

    // status --fleet shows every cluster's mode, stage, lock and last result.
    let status = fleet_run(&server, &state, &["status", "--fleet", fleet_s], &[]).await;
    status.expect_code(0);
    for i in 0..6 {
        let line = status
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&name(i)))
            .unwrap_or_else(|| panic!("{}", status.text()));
        assert!(line.contains("API_AND_CONFIG_MAP"), "{line}");
        assert!(
            line.contains("entries: access entries reconciled"),
            "{line}"
        );
        assert!(line.contains("free"), "{line}");
        assert!(line.contains("entries done"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_fleet_run_is_resumed_by_running_it_again() {
    let sim = world(4).build().unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let fleet = fleet_file(dir.path(), 4, 4, &[]);
    let fleet = fleet.to_str().unwrap();
    let args = [
        "migrate",
        "--fleet",
        fleet,
        "--to",
        "entries",
        "--yes",
        "--concurrency",
        "1",
    ];
    // The process dies in the middle of the second create of the first cluster it reaches.
    let crashed = fleet_run(
        &server,
        &state,
        &args,
        &[("AWS_AUTH_MIGRATE_FAILPOINT", "entries:before-send:2")],
    )
    .await;
    assert_eq!(crashed.code, None, "{}", crashed.text());
    let out = fleet_run(&server, &state, &args, &[]).await;
    out.expect_code(0);
    // The dead run's lock was left behind on this machine: taken over, and said so.
    assert!(
        out.stderr.contains("no longer runs on this machine"),
        "{}",
        out.text()
    );
    for i in 0..4 {
        assert_eq!(mode_of(&sim, i), "API_AND_CONFIG_MAP");
        assert_eq!(entries_of(&sim, i), 4);
    }
    // Each planned entry created once: 2 per cluster (admin, reader); NodeRole and the
    // creator's entry are made by EKS.
    assert_eq!(
        sim.counters().snapshot().operation("eks:CreateAccessEntry"),
        8
    );
}

/// `migrate --cluster c00 --to entries --yes` as the first account's migrator, plus `extra`.
async fn run_single(
    server: &SimServer,
    state: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let role = migrator(ACCOUNTS[0]);
    let mut args = vec![
        "migrate",
        "--cluster",
        "c00",
        "--to",
        "entries",
        "--yes",
        "--role-arn",
        &role,
    ];
    args.extend_from_slice(extra);
    fleet_run(server, state, &args, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_on_one_cluster_the_second_is_refused_with_the_holder() {
    let sim = world(1)
        .update_duration(Duration::from_millis(4000))
        .build()
        .unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state_a = dir.path().join("a");
    let state_b = dir.path().join("b"); // another machine: its own state directory
    let key = ClusterKey::new(ACCOUNTS[0], REGION, "c00");
    let held = || {
        sim.cluster(&key).unwrap().lock().leases.values().any(|l| {
            l.spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_ref())
                .is_some()
        })
    };
    let (first, second) = tokio::join!(run_single(&server, &state_a, &[], &[]), async {
        // Once the first holds the lock (it then waits for its 4 s mode switch), however
        // slowly it got there on a loaded machine.
        let started = std::time::Instant::now();
        while !held() && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(held(), "the first run takes the lock");
        run_single(&server, &state_b, &[], &[]).await
    });
    first.expect_code(0);
    second.expect_code(4);
    assert!(
        second.stderr.contains("cluster c00 is locked by")
            && second.stderr.contains("running `migrate --to entries`")
            && second.stderr.contains("since "),
        "{}",
        second.text()
    );
    // Nothing of the second run reached the cluster or its journal.
    assert!(
        !state_b
            .join("clusters")
            .join(ACCOUNTS[0])
            .join(REGION)
            .join("c00")
            .join("journal.jsonl")
            .exists()
    );
    // Released at the end: a third run goes through (and has nothing to do).
    run_single(&server, &state_a, &[], &[]).await.expect_code(0);
}

fn lease(holder: &str, renewed_secs_ago: i64) -> Lease {
    let t = k8s_openapi::jiff::Timestamp::now()
        .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(
            renewed_secs_ago,
        ))
        .unwrap();
    Lease {
        metadata: ObjectMeta {
            name: Some("aws-auth-migrate".into()),
            namespace: Some("kube-system".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(60),
            acquire_time: Some(MicroTime(t)),
            renew_time: Some(MicroTime(t)),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

async fn with_lease(l: Lease) -> (Sim, SimServer) {
    let sim = World::builder()
        .seed(5)
        .update_duration(Duration::from_millis(100))
        .caller(KEY)
        .account(ACCOUNTS[0])
        .user(ACCOUNTS[0], "/", "admin", KEY, SECRET)
        .role_trusting(ACCOUNTS[0], "/", "migrator", &[&admin()])
        .role(ACCOUNTS[0], "/", "NodeRole")
        .role(ACCOUNTS[0], "/", "admin")
        .role(ACCOUNTS[0], "/", "reader")
        .cluster(cluster("c00", ACCOUNTS[0]).lease(l))
        .build()
        .unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    (sim, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lock_is_taken_over_only_when_asked_and_a_live_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");

    // Held from another machine, renewed 10 minutes ago: stale.
    let (sim, server) = with_lease(lease(
        "bob@ci-runner-7 pid 4242 run 20261201T000000Z-1",
        600,
    ))
    .await;
    let refused = run_single(&server, &state, &[], &[]).await;
    refused.expect_code(4);
    assert!(
        refused.stderr.contains("bob@ci-runner-7")
            && refused.stderr.contains("stale")
            && refused.stderr.contains("--take-over-lock"),
        "{}",
        refused.text()
    );
    assert_eq!(
        sim.cluster(&ClusterKey::new(ACCOUNTS[0], REGION, "c00"))
            .unwrap()
            .lock()
            .authentication_mode
            .as_str(),
        "CONFIG_MAP"
    );
    let taken = run_single(&server, &state, &["--take-over-lock"], &[]).await;
    taken.expect_code(0);
    assert!(
        taken.stderr.contains("the stale lock is taken over"),
        "{}",
        taken.text()
    );

    // Held from another machine and renewed just now: never taken, even when asked.
    let (_sim, server) =
        with_lease(lease("bob@ci-runner-7 pid 4242 run 20261201T000000Z-2", 1)).await;
    let refused = run_single(&server, &state, &["--take-over-lock"], &[]).await;
    refused.expect_code(4);
    assert!(
        refused.stderr.contains("wait for that run to finish"),
        "{}",
        refused.text()
    );
}

/// Chromium from Debian's packages, if installed.
fn chromium() -> Option<std::path::PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_opens_in_a_real_browser() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: Chromium is not installed (apt-get install chromium); the HTML report was not opened in a browser"
        );
        return;
    };
    let sim = world(3).build().unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let fleet = fleet_file(dir.path(), 3, 3, &[2]);
    let html = dir.path().join("report.html");
    let out = fleet_run(
        &server,
        &state,
        &[
            "migrate",
            "--fleet",
            fleet.to_str().unwrap(),
            "--to",
            "entries",
            "--yes",
            "--max-failures",
            "2",
            "--report-html",
            html.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    out.expect_code(1);
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for outside in ["src=", "href=", "<link", "@import", "url(", "<script"] {
        assert!(!page.contains(outside), "{outside} in the page");
    }
    let profile = tempfile::tempdir().unwrap();
    let shot = dir.path().join("report.png");
    let browse = |extra: &[String]| {
        let mut cmd = std::process::Command::new(&browser);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", html.display()));
        cmd.output().expect("chromium runs")
    };
    // The DOM the browser built: the table with one row per cluster, results as classes.
    let dom = browse(&["--dump-dom".to_string()]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for (cluster, result) in [("c00", "done"), ("c01", "done"), ("c02", "failed")] {
        assert!(
            dom.contains(&format!(
                "<tr class=\"{result}\" data-cluster=\"{cluster}\">"
            )),
            "{cluster} {result}:\n{dom}"
        );
    }
    assert!(dom.contains("2 done") && dom.contains("1 failed"), "{dom}");
    // And it paints: a screenshot of the page.
    browse(&[format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_to_api_needs_the_fleet_confirmed_and_each_clusters_gate() {
    let sim = world(2).build().unwrap();
    let server = eks_sim::start(sim.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let fleet = fleet_file(dir.path(), 2, 2, &[]);
    let fleet = fleet.to_str().unwrap();
    let to_api = [
        "migrate", "--fleet", fleet, "--to", "api", "--yes", "-o", "json",
    ];
    let refused = fleet_run(&server, &state, &to_api, &[]).await;
    refused.expect_code(4);
    assert!(
        refused.stderr.contains("--confirm-fleet 2"),
        "{}",
        refused.text()
    );
    assert_eq!(
        (mode_of(&sim, 0), mode_of(&sim, 1)),
        ("CONFIG_MAP", "CONFIG_MAP")
    );
    // A wrong count is no confirmation either.
    let mut wrong = to_api.to_vec();
    wrong.extend(["--confirm-fleet", "3"]);
    fleet_run(&server, &state, &wrong, &[]).await.expect_code(4);

    let mut confirmed = to_api.to_vec();
    confirmed.extend(["--confirm-fleet", "2"]);
    let out = fleet_run(&server, &state, &confirmed, &[]).await;
    out.expect_code(0);
    let report = out.json();
    for c in report["clusters"].as_array().unwrap() {
        assert_eq!(c["outcome"], "done", "{c}");
        assert_eq!(c["modeAfter"], "API", "{c}");
        // Each cluster went through its own verification on the way.
        assert_eq!(c["verification"][0], true, "{c}");
    }
    assert_eq!((mode_of(&sim, 0), mode_of(&sim, 1)), ("API", "API"));
}
