//! Planning throughput: one aws-auth with 3,000 mappings (EKS's per-cluster entry limit) and a
//! folder of 1,000 cluster files. Run with `cargo bench --bench plan`; figures are recorded in
//! BENCHMARKS.md with the machine they were taken on.

use std::path::PathBuf;
use std::sync::OnceLock;

use aws_auth_migrate::plan::translate::Options;
use aws_auth_migrate::plan::{FleetPlan, SCHEMA, plan_files, plan_source};
use aws_auth_migrate::report::{Format, render};
use aws_auth_migrate::source::SourceFile;

fn main() {
    divan::main();
}

/// An aws-auth ConfigMap with `roles` role mappings and `users` user mappings, in the shapes
/// real clusters have: node roles, admins, team roles with templates and custom groups.
fn configmap(roles: usize, users: usize) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n  mapRoles: |\n",
    );
    for i in 0..roles {
        match i % 10 {
            0 => s.push_str(&format!(
                "    - rolearn: arn:aws:iam::111122223333:role/nodes-{i}\n      username: system:node:{{{{EC2PrivateDNSName}}}}\n      groups:\n        - system:bootstrappers\n        - system:nodes\n"
            )),
            1 => s.push_str(&format!(
                "    - rolearn: arn:aws:iam::111122223333:role/admin-{i}\n      username: admin-{i}:{{{{SessionName}}}}\n      groups:\n        - system:masters\n        - ops\n"
            )),
            _ => s.push_str(&format!(
                "    - rolearn: arn:aws:iam::444455556666:role/team-{i}\n      username: team-{i}:{{{{SessionName}}}}\n      groups:\n        - team-{i}\n        - readers\n"
            )),
        }
    }
    s.push_str("  mapUsers: |\n");
    for i in 0..users {
        s.push_str(&format!(
            "    - userarn: arn:aws:iam::111122223333:user/people/user-{i}\n      username: user-{i}\n      groups:\n        - developers\n"
        ));
    }
    s
}

#[divan::bench]
fn plan_3000_mappings(bencher: divan::Bencher) {
    let source = SourceFile::new("aws-auth.yaml", configmap(2500, 500));
    bencher.bench(|| {
        let (plan, errors) = plan_source("bench", divan::black_box(&source), Options::default());
        assert!(errors.is_empty());
        plan
    });
}

#[divan::bench]
fn plan_and_render_json_3000_mappings(bencher: divan::Bencher) {
    let source = SourceFile::new("aws-auth.yaml", configmap(2500, 500));
    bencher.bench(|| {
        let (plan, _) = plan_source("bench", divan::black_box(&source), Options::default());
        let fleet = FleetPlan {
            schema: SCHEMA,
            clusters: plan.into_iter().collect(),
            errors: Vec::new(),
        };
        render(&fleet, Format::Json)
    });
}

/// 1,000 cluster files of 25 mappings each, written once.
fn fleet_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("aws-auth-migrate-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = configmap(20, 5);
        for i in 0..1000 {
            std::fs::write(dir.join(format!("cluster-{i:04}.yaml")), &text).unwrap();
        }
        dir
    })
}

#[divan::bench(sample_count = 10)]
fn plan_folder_1000_files(bencher: divan::Bencher) {
    let dir = fleet_dir();
    bencher.bench(|| {
        let fleet = plan_files(std::slice::from_ref(dir), Options::default());
        assert_eq!(fleet.clusters.len(), 1000);
        render(&fleet, Format::Table)
    });
}
