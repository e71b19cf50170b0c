//! The world model: YAML fixtures, the builder, validation of impossible worlds, the runtime
//! state the Kubernetes half reads, and a medium-size build (the 500 × 3,000 one is
//! `examples/fleet_world.rs`, run in release).

use std::path::Path;
use std::time::{Duration, Instant};

use eks_sim::Sim;
use eks_sim::world::{
    AccessEntrySpec, AccessEntryType, AccessScope, AccessScopeType, AuthenticationMode, ClusterKey,
    ClusterSpec, World, WorldSpec,
};

const A: &str = "111122223333";

fn fixture() -> Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/world.yaml");
    Sim::from_yaml_file(&path, 1).expect("testdata/world.yaml is a valid world")
}

#[test]
fn yaml_fixture_builds_iam_and_clusters() {
    let sim = fixture();
    assert_eq!(
        sim.default_caller().as_deref(),
        Some("AKIAPLATFORMADMIN001")
    );
    assert_eq!(sim.update_duration(), Duration::from_millis(2000));
    assert_eq!(
        sim.cluster_keys(),
        [
            ClusterKey::new(A, "eu-west-1", "sandbox"),
            ClusterKey::new(A, "us-east-1", "prod"),
            ClusterKey::new(A, "us-east-1", "staging"),
        ]
    );
    {
        let iam = sim.iam();
        let dev = iam.role(A, "developers").unwrap();
        assert_eq!(
            dev.arn(),
            "arn:aws:iam::111122223333:role/team/dev/developers"
        );
        assert!(dev.unique_id.starts_with("AROA") && dev.unique_id.len() == 21);
        assert_eq!(
            iam.user(A, "alice").unwrap().unique_id,
            "AIDAALICE0000000000X"
        );
        let who = iam.identity_for_key("AKIAALICE00000000001").unwrap();
        assert_eq!(who.arn, "arn:aws:iam::111122223333:user/people/alice");
        assert_eq!(who.principal_id, "AIDAALICE0000000000X");
    }

    let prod = sim
        .cluster(&ClusterKey::new(A, "us-east-1", "prod"))
        .unwrap();
    let s = prod.lock();
    assert_eq!(s.authentication_mode, AuthenticationMode::ConfigMap);
    assert_eq!(s.kubernetes_version, "1.30");
    assert_eq!(
        s.nodegroups["windows"].access_entry_type(),
        AccessEntryType::Ec2Windows
    );
    assert_eq!(
        s.nodegroups["general"].access_entry_type(),
        AccessEntryType::Ec2Linux
    );
    let aws_auth = s.aws_auth().unwrap();
    let data = aws_auth.data.as_ref().unwrap();
    assert!(data["mapRoles"].contains("role/developers"));
    assert!(data["mapUsers"].contains("user/people/alice"));
    assert!(aws_auth.metadata.uid.is_some());
    assert!(aws_auth.metadata.resource_version.is_some());
    assert_eq!(aws_auth.metadata.namespace.as_deref(), Some("kube-system"));
    assert!(
        s.config_maps
            .contains_key(&("kube-system".to_string(), "coredns".to_string()))
    );
    assert!(s.namespaces.contains_key("apps") && s.namespaces.contains_key("kube-system"));
    assert!(s.nodes.contains_key("ip-10-0-1-10.ec2.internal"));
    assert_eq!(
        s.cluster_roles["view-apps"].rules.as_ref().unwrap()[0].verbs,
        ["get", "list", "watch"]
    );
    assert_eq!(
        s.cluster_role_bindings["developers-edit"].role_ref.name,
        "edit"
    );
    assert!(
        s.roles
            .contains_key(&("apps".to_string(), "config-reader".to_string()))
    );
    assert!(
        s.role_bindings
            .contains_key(&("apps".to_string(), "viewers-read".to_string()))
    );
    assert_eq!(s.tags["env"], "prod");
    drop(s);

    let sandbox = sim
        .cluster(&ClusterKey::new(A, "eu-west-1", "sandbox"))
        .unwrap();
    let s = sandbox.lock();
    let e = &s.access_entries["arn:aws:iam::111122223333:role/team/dev/developers"];
    assert_eq!(e.username, "dev:{{SessionName}}");
    assert_eq!(e.kubernetes_groups, ["developers"]);
    assert_eq!(e.tags["owner"], "platform");
    let p = &e.access_policies["arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"];
    assert_eq!(p.access_scope.scope_type, AccessScopeType::Namespace);
    assert_eq!(p.access_scope.namespaces, ["sandbox"]);
    assert_eq!(e.principal_unique_id, sim.unique_id_of(&e.principal_arn));

    let staging = sim
        .cluster(&ClusterKey::new(A, "us-east-1", "staging"))
        .unwrap();
    let s = staging.lock();
    let creator = &s.access_entries["arn:aws:iam::111122223333:role/cluster-creator"];
    assert!(
        creator
            .access_policies
            .contains_key("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    );
    assert_eq!(
        creator.username,
        "arn:aws:sts::111122223333:assumed-role/cluster-creator/{{SessionName}}"
    );
}

#[test]
fn ids_are_reproducible_by_seed() {
    let a = fixture();
    let b = fixture();
    let id = |s: &Sim| s.iam().role(A, "developers").unwrap().unique_id.clone();
    assert_eq!(id(&a), id(&b));
    let uid = |s: &Sim| {
        s.cluster(&ClusterKey::new(A, "us-east-1", "prod"))
            .unwrap()
            .lock()
            .aws_auth()
            .unwrap()
            .metadata
            .uid
            .clone()
    };
    assert_eq!(uid(&a), uid(&b));
}

#[test]
fn impossible_worlds_are_refused() {
    let cases = [
        ("accounts: [{id: '12'}]", "12 digits"),
        (
            "clusters: [{name: c, account: '111122223333', region: us-east-1}]",
            "unknown account",
        ),
        (
            "accounts: [{id: '111122223333'}]\nclusters: [{name: c, account: '111122223333', region: us-east-1, bootstrapClusterCreatorAdminPermissions: false}]",
            "must be true",
        ),
        (
            "accounts: [{id: '111122223333'}]\nclusters: [{name: c, account: '111122223333', region: us-east-1, accessEntries: [{principalArn: 'arn:aws:iam::111122223333:role/x'}]}]",
            "CONFIG_MAP cluster cannot have access entries",
        ),
        (
            "accounts: [{id: '111122223333', roles: [{name: r, path: team}]}]",
            "must start and end",
        ),
        (
            "accounts: [{id: '111122223333', roles: [{name: r}, {name: R}]}]",
            "defined twice",
        ),
        ("colour: blue", "unknown field"),
    ];
    for (yaml, expect) in cases {
        let err = Sim::from_yaml(yaml, 0).expect_err(yaml).to_string();
        assert!(err.contains(expect), "{yaml}: {err}");
    }
}

#[test]
fn builder_and_runtime_mutations() {
    let sim = World::builder()
        .account(A)
        .role(A, "/", "ops")
        .cluster(
            ClusterSpec::new("c", A, "us-west-2")
                .mode(AuthenticationMode::Api)
                .access_entry(
                    AccessEntrySpec::standard("arn:aws:iam::111122223333:role/ops")
                        .policy("AmazonEKSViewPolicy", AccessScope::cluster()),
                ),
        )
        .build()
        .unwrap();
    let key = ClusterKey::new(A, "us-west-2", "c");
    let ops = "arn:aws:iam::111122223333:role/ops";
    let old = sim.unique_id_of(ops).unwrap();
    let new = sim.recreate_principal(ops).unwrap();
    assert_ne!(old, new);
    assert_eq!(
        sim.cluster(&key).unwrap().lock().access_entries[ops].principal_unique_id,
        Some(old)
    );

    // Runtime additions.
    let arn = sim
        .put_role(
            A,
            eks_sim::world::RoleSpec {
                name: "late".into(),
                path: "/x/".into(),
                unique_id: None,
                trust: vec![],
            },
        )
        .unwrap();
    assert_eq!(arn, "arn:aws:iam::111122223333:role/x/late");
    let k2 = sim
        .add_cluster(ClusterSpec::new("d", A, "us-west-2"))
        .unwrap();
    assert!(sim.cluster(&k2).is_some());

    // The concurrent-writer edit bumps aws-auth's resourceVersion only when it exists.
    let c = sim.cluster(&k2).unwrap();
    assert!(!c.lock().apply_concurrent_aws_auth_edit());
    let k3 = sim
        .add_cluster(ClusterSpec::new("e", A, "us-west-2").aws_auth_key("mapRoles", ""))
        .unwrap();
    let c = sim.cluster(&k3).unwrap();
    let before = c
        .lock()
        .aws_auth()
        .unwrap()
        .metadata
        .resource_version
        .clone();
    assert!(c.lock().apply_concurrent_aws_auth_edit());
    let after = c
        .lock()
        .aws_auth()
        .unwrap()
        .metadata
        .resource_version
        .clone();
    assert_ne!(before, after);
}

#[test]
fn yaml_round_trips_through_the_spec() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/world.yaml");
    let spec = WorldSpec::from_file(&path).unwrap();
    let text = serde_saphyr::to_string(&spec).unwrap();
    let again = WorldSpec::from_yaml(&text).unwrap();
    assert_eq!(again.clusters.len(), spec.clusters.len());
    assert_eq!(again.clusters[0].aws_auth, spec.clusters[0].aws_auth);
}

/// Builds 50 clusters × 3,000 entries (a tenth of the fleet benchmark) and prints the time.
/// Measured, not asserted: debug builds are slow; the release figure comes from the example.
#[test]
fn medium_fleet_builds() {
    let mut b = World::builder().account(A);
    for c in 0..50 {
        let mut spec =
            ClusterSpec::new(format!("c{c:03}"), A, "us-east-1").mode(AuthenticationMode::Api);
        for e in 0..3000 {
            spec = spec.access_entry(
                AccessEntrySpec::standard(format!("arn:aws:iam::111122223333:role/r{e:04}"))
                    .group("g"),
            );
        }
        b = b.cluster(spec);
    }
    let t = Instant::now();
    let sim = b.build().unwrap();
    eprintln!(
        "50 clusters x 3000 entries built in {:?} (debug build)",
        t.elapsed()
    );
    let k = ClusterKey::new(A, "us-east-1", "c049");
    assert_eq!(sim.cluster(&k).unwrap().lock().access_entries.len(), 3000);
}
