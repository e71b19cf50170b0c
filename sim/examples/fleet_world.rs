//! Builds the fleet-benchmark world through the library API — 500 clusters × 3,000 access entries,
//! every entry bound to a real IAM role — starts the simulator and serves signed requests, printing
//! how long each step took. Performance is measured here, never asserted.
//!
//!     cargo run --release -p eks-sim --example fleet_world [CLUSTERS] [ENTRIES]

use std::time::{Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use eks_sim::world::{AccessEntrySpec, AccessScope, AuthenticationMode, ClusterSpec, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "111122223333";
const KEY: &str = "AKIAFLEETADMIN000001";
const SECRET: &str = "fleet-secret";

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("numbers"));
    let clusters = args.next().unwrap_or(500);
    let entries = args.next().unwrap_or(3000);

    let t = Instant::now();
    let mut b = World::builder()
        .account(ACCOUNT)
        .user(ACCOUNT, "/", "admin", KEY, SECRET);
    for e in 0..entries {
        b = b.role(ACCOUNT, "/team/", &format!("role-{e:04}"));
    }
    let regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
    for c in 0..clusters {
        let mut spec = ClusterSpec::new(
            format!("cluster-{c:03}"),
            ACCOUNT,
            regions[c % regions.len()],
        )
        .mode(AuthenticationMode::ApiAndConfigMap);
        spec.access_entries.reserve(entries);
        for e in 0..entries {
            let mut entry =
                AccessEntrySpec::standard(format!("arn:aws:iam::{ACCOUNT}:role/team/role-{e:04}"))
                    .group("developers");
            if e % 10 == 0 {
                entry = entry.policy("AmazonEKSViewPolicy", AccessScope::cluster());
            }
            spec.access_entries.push(entry);
        }
        b = b.cluster(spec);
    }
    let assembled = t.elapsed();
    let t = Instant::now();
    let sim = b.build().expect("valid world");
    let built = t.elapsed();
    let t = Instant::now();
    let server = eks_sim::start(sim.clone())
        .await
        .expect("starts on 127.0.0.1");
    let started = t.elapsed();
    println!("spec assembled in {assembled:?}");
    println!("world of {clusters} clusters x {entries} entries built in {built:?}");
    println!("server started in {started:?} at {}", server.aws_url());

    let t = Instant::now();
    let body = signed_get(
        &server.aws_url(),
        "us-west-2",
        "/clusters/cluster-001/access-entries?maxResults=100",
    )
    .await;
    println!("first ListAccessEntries answered in {:?}", t.elapsed());
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        v["accessEntries"].as_array().map(Vec::len),
        Some(100.min(entries))
    );
    let t = Instant::now();
    for c in 0..100.min(clusters) {
        let region = regions[c % regions.len()];
        signed_get(
            &server.aws_url(),
            region,
            &format!("/clusters/cluster-{c:03}"),
        )
        .await;
    }
    println!("100 DescribeCluster calls in {:?}", t.elapsed());
    println!("counters: {}", sim.counters().snapshot().total());
}

/// A GET signed like the SDK signs it, over a plain TCP connection.
async fn signed_get(base: &str, region: &str, path_and_query: &str) -> String {
    let host = base.trim_start_matches("http://");
    let url = format!("{base}{path_and_query}");
    let identity = Credentials::new(KEY, SECRET, None, None, "example").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("eks")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", host)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
    let mut req = http::Request::builder()
        .uri(&url)
        .header("host", host)
        .body(())
        .expect("request");
    instructions.apply_to_request_http1x(&mut req);
    let mut raw = format!("GET {path_and_query} HTTP/1.1\r\nconnection: close\r\n");
    for (k, v) in req.headers() {
        raw.push_str(&format!("{}: {}\r\n", k, v.to_str().expect("ascii")));
    }
    raw.push_str("\r\n");
    let mut s = tokio::net::TcpStream::connect(host)
        .await
        .expect("connects");
    s.write_all(raw.as_bytes()).await.expect("writes");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("reads");
    let (head, body) = out.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    body.to_string()
}
