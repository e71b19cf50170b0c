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

#[tokio::test]
async fn a_request_token_replays_the_original_reply_instead_of_acting_twice() {
    let server = start(
        base()
            .cluster(dual_cluster("dual"))
            .cluster(config_map_cluster("cm")),
    )
    .await;
    let eks = eks(&server).await;
    let dev = role(A, "team/dev/Developer");
    let first = create_entry(&eks, "dual", &dev)
        .username("dev")
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    let again = create_entry(&eks, "dual", &dev)
        .username("dev")
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    let arn = |o: &aws_sdk_eks::operation::create_access_entry::CreateAccessEntryOutput| {
        o.access_entry()
            .and_then(|e| e.access_entry_arn())
            .map(str::to_string)
    };
    assert!(arn(&first).is_some());
    assert_eq!(arn(&first), arn(&again), "the same entry, not a second one");
    // The same token with another request is refused; another token meets the entry.
    let (code, _) = service_error(
        create_entry(&eks, "dual", &dev)
            .username("someone-else")
            .client_request_token("token-1")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterException");
    let r = create_entry(&eks, "dual", &dev)
        .username("dev")
        .client_request_token("token-2")
        .send()
        .await;
    assert_eq!(status_of(&r), 409);

    // UpdateClusterConfig: one update, whatever the number of retries with its token.
    let switch = || {
        eks.update_cluster_config()
            .name("cm")
            .access_config(
                aws_sdk_eks::types::UpdateAccessConfigRequest::builder()
                    .authentication_mode(aws_sdk_eks::types::AuthenticationMode::ApiAndConfigMap)
                    .build(),
            )
            .client_request_token("switch-1")
            .send()
    };
    let a = switch().await.unwrap();
    let b = switch().await.unwrap();
    let id = |o: &aws_sdk_eks::operation::update_cluster_config::UpdateClusterConfigOutput| {
        o.update().and_then(|u| u.id()).map(str::to_string)
    };
    assert_eq!(id(&a), id(&b));
    let updates = eks.list_updates().name("cm").send().await.unwrap();
    assert_eq!(updates.update_ids().len(), 1, "{updates:?}");
}

#[tokio::test]
async fn a_lost_response_still_acts_and_its_token_gets_the_reply_on_retry() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let sim = server.sim().clone();
    sim.set_faults(FaultConfig {
        drop_response_rate: 1.0,
        operations: vec!["eks:CreateAccessEntry".into()],
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    let dev = role(A, "team/dev/Developer");
    let lost = create_entry(&eks, "dual", &dev)
        .client_request_token("lost-1")
        .send()
        .await;
    let e = lost.expect_err("the response is dropped");
    assert!(e.raw_response().is_none(), "{e:?}");
    // The entry was made all the same.
    describe_entry(&eks, "dual", &dev).send().await.unwrap();
    assert_eq!(
        sim.counters()
            .snapshot()
            .by_outcome
            .get("DroppedResponse")
            .copied(),
        Some(1)
    );
    sim.set_faults(FaultConfig::default());
    // The retry with the same token is answered as the first call would have been…
    create_entry(&eks, "dual", &dev)
        .client_request_token("lost-1")
        .send()
        .await
        .unwrap();
    // …while a retry without it meets its own entry.
    let r = create_entry(&eks, "dual", &dev).send().await;
    assert_eq!(status_of(&r), 409);
}
