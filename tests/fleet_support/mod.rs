//! A fleet for tests and benchmarks: clusters spread over three accounts, each reached by
//! assuming the account's `migrator` role (also the clusters' creator), and a fleet file for
//! them in waves.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use eks_sim::world::{ClusterSpec, World, WorldBuilder};

/// The fleet's region (the same as the other tests').
pub const FLEET_REGION: &str = "us-east-1";

pub const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
pub const KEY: &str = "AKIAFLEETADMIN000001";
pub const SECRET: &str = "fleet/admin/SECRET/0001";

pub fn admin() -> String {
    format!("arn:aws:iam::{}:user/admin", ACCOUNTS[0])
}

pub fn migrator(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/migrator")
}

/// A cluster as a team runs it: a node group, an admin role, a read-only group; created by the
/// account's migrator role (which thereby has the creator's admin access in CONFIG_MAP).
pub fn cluster(name: &str, account: &str) -> ClusterSpec {
    ClusterSpec::new(name, account, FLEET_REGION)
        .creator(migrator(account))
        .nodegroup("general", format!("arn:aws:iam::{account}:role/NodeRole"), "AL2023_x86_64_STANDARD")
        .aws_auth_key(
            "mapRoles",
            format!(
                "- rolearn: arn:aws:iam::{account}:role/NodeRole\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n\
                 - rolearn: arn:aws:iam::{account}:role/admin\n  username: admin\n  groups:\n  - system:masters\n\
                 - rolearn: arn:aws:iam::{account}:role/reader\n  username: reader:{{{{SessionName}}}}\n  groups:\n  - readers\n"
            ),
        )
}

/// `n` clusters spread over the three accounts (cluster i in account i % 3).
pub fn world(n: usize) -> WorldBuilder {
    let mut w = World::builder()
        .seed(5)
        .update_duration(Duration::from_millis(100))
        .caller(KEY);
    for a in ACCOUNTS {
        w = w.account(a);
    }
    w = w.user(ACCOUNTS[0], "/", "admin", KEY, SECRET);
    for a in ACCOUNTS {
        w = w
            .role_trusting(a, "/", "migrator", &[&admin()])
            .role(a, "/", "untrusting")
            .role(a, "/", "NodeRole")
            .role(a, "/", "admin")
            .role(a, "/", "reader");
    }
    for i in 0..n {
        w = w.cluster(cluster(&name(i), ACCOUNTS[i % 3]));
    }
    w
}

pub fn name(i: usize) -> String {
    format!("c{i:02}")
}

/// A fleet file for clusters `0..n`, in waves of `wave_size`; `broken` clusters are reached
/// through a role that does not trust the caller, so they fail.
pub fn fleet_file(dir: &Path, n: usize, wave_size: usize, broken: &[usize]) -> std::path::PathBuf {
    let mut text = String::from("clusters:\n");
    for i in 0..n {
        let account = ACCOUNTS[i % 3];
        let role = if broken.contains(&i) {
            format!("arn:aws:iam::{account}:role/untrusting")
        } else {
            migrator(account)
        };
        text.push_str(&format!(
            "  - name: {}\n    region: {FLEET_REGION}\n    roleArn: {role}\n    wave: {}\n",
            name(i),
            i / wave_size + 1
        ));
    }
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, text).unwrap();
    path
}
