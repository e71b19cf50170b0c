//! Fault injection and counters through the real SDK: throttling, 5xx and dropped connections
//! reproducible by seed, the eventual-consistency window after CreateAccessEntry, latency, and
//! the counters endpoint.

mod eks_support;

use std::time::{Duration, Instant};

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use eks_sim::faults::{EventualConsistency, FaultConfig, Latency, Throttle};
use eks_sim::world::{ClusterKey, ClusterSpec};
use eks_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NOT_FOUND_MSG: &str = "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.";

#[tokio::test]
async fn throttling_answers_429_once_the_bucket_is_empty() {
    let server = start(base().cluster(ClusterSpec::new("prod", A, REGION))).await;
    server.sim().set_faults(FaultConfig {
        throttle: Some(Throttle {
            rate_per_sec: 0.0,
            burst: 3,
        }),
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    for _ in 0..3 {
        eks.describe_cluster().name("prod").send().await.unwrap();
    }
    let r = eks.describe_cluster().name("prod").send().await;
    assert_eq!(status_of(&r), 429);
    assert_service_error(r, "ThrottlingException", "Rate exceeded");
    // The bucket is per account and region: Bob (another account) is not throttled.
    let bob = eks_as(&server, BOB_KEY, BOB_SECRET).await;
    bob.list_clusters().send().await.unwrap();
}

/// Which of `n` DescribeCluster calls failed with a 5xx, for a given seed.
async fn server_error_pattern(seed: u64, n: usize) -> Vec<bool> {
    let server = start(
        base()
            .seed(seed)
            .cluster(ClusterSpec::new("prod", A, REGION)),
    )
    .await;
    server.sim().set_faults(FaultConfig {
        server_error_rate: 0.5,
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    let mut pattern = Vec::new();
    for _ in 0..n {
        let r = eks.describe_cluster().name("prod").send().await;
        let status = status_of(&r);
        if let Err(e) = &r {
            let code = e
                .as_service_error()
                .and_then(|s| aws_sdk_eks::error::ProvideErrorMetadata::code(s))
                .unwrap_or_default()
                .to_string();
            assert!(
                (status == 500 && code == "ServerException")
                    || (status == 503 && code == "ServiceUnavailableException"),
                "{status} {code}"
            );
        }
        pattern.push(status >= 500);
    }
    pattern
}

#[tokio::test]
async fn server_errors_are_reproducible_by_seed() {
    let a = server_error_pattern(42, 40).await;
    let b = server_error_pattern(42, 40).await;
    assert_eq!(a, b);
    assert!(a.iter().any(|f| *f) && a.iter().any(|f| !*f), "{a:?}");
    let c = server_error_pattern(43, 40).await;
    assert_ne!(a, c);
}

#[tokio::test]
async fn dropped_connections_reach_the_client_as_transport_errors() {
    let server = start(base().cluster(ClusterSpec::new("prod", A, REGION))).await;
    server.sim().set_faults(FaultConfig {
        drop_connection_rate: 1.0,
        operations: vec!["eks:DescribeCluster".into()],
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    let r = eks.describe_cluster().name("prod").send().await;
    let e = r.expect_err("the connection is dropped");
    assert!(e.as_service_error().is_none(), "{e:?}");
    assert!(e.raw_response().is_none(), "{e:?}");
    // Faults restricted to one operation leave the others alone.
    eks.list_clusters().send().await.unwrap();
}

#[tokio::test]
async fn associate_right_after_create_sees_the_consistency_window() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let sim = server.sim().clone();
    sim.set_faults(FaultConfig {
        eventual_consistency: Some(EventualConsistency {
            window_ms: 0,
            calls: 2,
        }),
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    let dev = role(A, "team/dev/Developer");
    create_entry(&eks, "dual", &dev).send().await.unwrap();
    let scope = AccessScope::builder()
        .r#type(AccessScopeType::Cluster)
        .build();
    let view = |principal: &str| {
        associate(&eks, "dual", principal, policy("AmazonEKSViewPolicy"))
            .access_scope(scope.clone())
            .send()
    };
    for _ in 0..2 {
        let r = view(&dev).await;
        assert_eq!(status_of(&r), 404);
        assert_service_error(r, "ResourceNotFoundException", NOT_FOUND_MSG);
    }
    view(&dev).await.unwrap();

    // A time window instead: closed by the simulator clock.
    sim.set_faults(FaultConfig {
        eventual_consistency: Some(EventualConsistency {
            window_ms: 5_000,
            calls: 0,
        }),
        ..FaultConfig::default()
    });
    let deployer = role(A, "Deployer");
    create_entry(&eks, "dual", &deployer).send().await.unwrap();
    assert_eq!(
        service_error(view(&deployer).await).0,
        "ResourceNotFoundException"
    );
    sim.advance_clock(Duration::from_secs(6));
    view(&deployer).await.unwrap();
}

#[tokio::test]
async fn latency_is_added_to_every_call() {
    let server = start(base().cluster(ClusterSpec::new("prod", A, REGION))).await;
    server.sim().set_faults(FaultConfig {
        latency: Some(Latency {
            fixed_ms: 150,
            jitter_ms: 0,
        }),
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    let t = Instant::now();
    eks.describe_cluster().name("prod").send().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn fault_decisions_for_updates_and_writers_are_seeded() {
    let decide = |seed: u64| {
        let sim = base()
            .seed(seed)
            .cluster(ClusterSpec::new("prod", A, REGION))
            .build()
            .unwrap();
        sim.set_faults(FaultConfig {
            update_failure_rate: 0.5,
            concurrent_writer_rate: 0.5,
            ..FaultConfig::default()
        });
        let key = ClusterKey::new(A, REGION, "prod");
        (0..32)
            .map(|_| {
                (
                    sim.faults().update_fails(&key),
                    sim.faults().concurrent_writer(&key),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(decide(9), decide(9));
    assert_ne!(decide(9), decide(10));
}

async fn http_get(addr: &str, path: &str) -> String {
    let hostport = addr.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(hostport).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn counters_count_calls_per_operation_and_cluster() {
    let server = start(
        base()
            .cluster(dual_cluster("dual"))
            .cluster(ClusterSpec::new("other", A, REGION)),
    )
    .await;
    let eks = eks(&server).await;
    for _ in 0..3 {
        eks.describe_cluster().name("dual").send().await.unwrap();
    }
    eks.describe_cluster().name("other").send().await.unwrap();
    eks.list_access_entries()
        .cluster_name("dual")
        .send()
        .await
        .unwrap();
    let _ = eks.describe_cluster().name("ghost").send().await;

    let snap = server.sim().counters().snapshot();
    assert_eq!(snap.operation("eks:DescribeCluster"), 5);
    assert_eq!(snap.operation("eks:ListAccessEntries"), 1);
    let dual = ClusterKey::new(A, REGION, "dual");
    assert_eq!(snap.cluster_operation(&dual, "eks:DescribeCluster"), 3);
    assert_eq!(snap.by_outcome.get("ResourceNotFoundException"), Some(&1));

    let body = http_get(&server.aws_url(), "/_sim/counters").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["byOperation"]["eks:DescribeCluster"], 5);
    assert_eq!(
        v["byCluster"]["111122223333/us-east-1/dual"]["eks:ListAccessEntries"],
        1
    );
}
