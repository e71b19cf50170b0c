//! Fleet migration wall time against its lower bound: `migrate --fleet --to entries` over a
//! fleet in eks-sim with a fixed latency on every call, compared with what the latency and the
//! concurrency limits allow at best.
//!
//! Run with `cargo bench --bench fleet` (release build). Environment:
//! `FLEET_CLUSTERS` (default 200), `FLEET_LATENCY_MS` (50), `FLEET_CONCURRENCY` (16),
//! `FLEET_PER_ACCOUNT_REGION` (8). Figures are recorded in BENCHMARKS.md.
//!
//! The lower bound: one cluster's run is a chain of calls, each waiting for the one before
//! (DescribeCluster, the reads of the plan, the mode switch and its polls, the entries), so a
//! cluster takes at least (its calls × latency). Clusters run at most `concurrency` at a time
//! overall and `per-account-region` at a time in one account and region, so the fleet takes at
//! least the larger of (sum of the clusters' chains / concurrency) and, per account and region,
//! (sum of its clusters' chains / per-account-region).

#[path = "../tests/fleet_support/mod.rs"]
mod fleet_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eks_sim::faults::{FaultConfig, Latency};
use fleet_support::*;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful either.
    let clusters = env("FLEET_CLUSTERS", 200) as usize;
    let latency_ms = env("FLEET_LATENCY_MS", 50);
    let concurrency = env("FLEET_CONCURRENCY", 16);
    let per_budget = env("FLEET_PER_ACCOUNT_REGION", 8);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let sim = world(clusters)
            .update_duration(Duration::from_millis(200))
            .build()
            .expect("a valid world");
        let server = eks_sim::start(sim.clone()).await.expect("the simulator starts");
        sim.set_faults(FaultConfig {
            latency: Some(Latency {
                fixed_ms: latency_ms,
                jitter_ms: 0,
            }),
            ..FaultConfig::default()
        });
        let dir = tempfile::tempdir().expect("a temporary folder");
        let fleet = fleet_file(dir.path(), clusters, clusters, &[]);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aws-auth-migrate"));
        cmd.args(["migrate", "--fleet"])
            .arg(&fleet)
            .args(["--to", "entries", "--yes", "-o", "json"])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--per-account-region", &per_budget.to_string()])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .env_clear()
            .env("AWS_ENDPOINT_URL", server.aws_url())
            .env("AWS_REGION", FLEET_REGION)
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_AUTH_MIGRATE_POLL_MS", "50")
            .env("CI", "1");
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("the runner thread")
            .expect("the binary runs");
        let wall = started.elapsed();
        assert!(
            out.status.success(),
            "the fleet run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // Calls per cluster: those the simulator counts against the cluster, plus the
        // account-level ones (AssumeRole, GetCallerIdentity, GetRole) shared out evenly.
        let counters = sim.counters().snapshot();
        let per_cluster: BTreeMap<String, u64> = counters
            .by_cluster
            .iter()
            .map(|(k, ops)| (k.clone(), ops.values().sum()))
            .collect();
        let attributed: u64 = per_cluster.values().sum();
        let shared = (counters.total() - attributed) as f64 / clusters as f64;
        let latency = latency_ms as f64 / 1000.0;
        let chain = |calls: u64| (calls as f64 + shared) * latency;
        let mut by_account: BTreeMap<String, f64> = BTreeMap::new();
        let mut total = 0.0;
        for (key, calls) in &per_cluster {
            let account = key.split('/').next().unwrap_or_default().to_string();
            *by_account.entry(account).or_default() += chain(*calls);
            total += chain(*calls);
        }
        let bound = by_account
            .values()
            .map(|s| s / per_budget as f64)
            .fold(total / concurrency as f64, f64::max);
        println!(
            "fleet of {clusters} clusters in {} accounts, {latency_ms} ms per call, concurrency {concurrency}, {per_budget} per account and region",
            by_account.len()
        );
        println!(
            "calls: {} ({:.1} per cluster on average)",
            counters.total(),
            counters.total() as f64 / clusters as f64
        );
        println!("lower bound: {bound:.2} s");
        println!("wall time:   {:.2} s", wall.as_secs_f64());
        println!("ratio:       {:.2}", wall.as_secs_f64() / bound);
    });
}
