//! `coordination.k8s.io/v1` Leases through an unmodified kube-rs `Api<Lease>`: create,
//! optimistic concurrency, patches, delete, list, authorization, discovery, and Leases seeded by
//! the world.

mod kube_support;

use eks_sim::world::{
    AccessEntrySpec, AccessScope, AuthenticationMode, ClusterSpec, Sim, WorldSpec,
};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube_support::*;
use serde_json::json;

const MAP_USERS: &str = "\
- userarn: arn:aws:iam::111122223333:user/admin
  username: admin
  groups:
    - system:masters
- userarn: arn:aws:iam::111122223333:user/people/alice
  username: alice
  groups:
    - lease-readers
";

fn sim() -> Sim {
    world()
        .cluster(
            ClusterSpec::new("prod", ACCOUNT, REGION)
                .aws_auth_key("mapUsers", MAP_USERS)
                .namespace("apps")
                .cluster_role(cluster_role(
                    "lease-reader",
                    vec![rule(
                        &["get", "list", "watch"],
                        &["coordination.k8s.io"],
                        &["leases"],
                    )],
                ))
                .cluster_role_binding(cluster_role_binding(
                    "lease-readers",
                    "lease-reader",
                    vec![subject("Group", "lease-readers")],
                ))
                .lease(held_lock()),
        )
        .cluster(
            ClusterSpec::new("dual", ACCOUNT, REGION)
                .mode(AuthenticationMode::ApiAndConfigMap)
                .access_entry(
                    AccessEntrySpec::standard(admin_arn())
                        .policy("AmazonEKSClusterAdminPolicy", AccessScope::cluster()),
                )
                .access_entry(
                    AccessEntrySpec::standard(bob_arn())
                        .policy("AmazonEKSAdminViewPolicy", AccessScope::cluster()),
                )
                .lease(held_lock()),
        )
        .build()
        .expect("world")
}

fn micro(text: &str) -> MicroTime {
    MicroTime(text.parse().expect("an RFC 3339 time"))
}

/// The lock a fleet migration holds, as a world seeds it.
fn held_lock() -> Lease {
    Lease {
        metadata: meta("aws-auth-migrate", None),
        spec: Some(LeaseSpec {
            holder_identity: Some("wave-1/runner-a".into()),
            lease_duration_seconds: Some(300),
            acquire_time: Some(micro("2025-05-01T10:00:00.123456Z")),
            renew_time: Some(micro("2025-05-01T10:04:00.5Z")),
            lease_transitions: Some(2),
            ..LeaseSpec::default()
        }),
    }
}

fn lock(name: &str, holder: &str) -> Lease {
    Lease {
        metadata: meta(name, None),
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(60),
            acquire_time: Some(micro("2025-06-01T12:00:00.000001Z")),
            renew_time: Some(micro("2025-06-01T12:00:00.000001Z")),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

fn leases(sim: &Sim, key: &str, namespace: &str) -> Api<Lease> {
    Api::namespaced(client(sim, &cluster_key("prod"), key), namespace)
}

fn status(error: kube::Error) -> (u16, String, String) {
    match error {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_get_and_conflicting_create() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = leases(&sim, ADMIN_KEY, "kube-system");
    let created = api
        .create(&PostParams::default(), &lock("wave-lock", "runner-b"))
        .await
        .unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("kube-system"));
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let rv = created.metadata.resource_version.clone().unwrap();
    assert!(rv.parse::<u64>().is_ok(), "{rv}");
    // What the client sent is stored, microseconds included.
    let got = api.get("wave-lock").await.unwrap();
    let spec = got.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("runner-b"));
    assert_eq!(spec.lease_duration_seconds, Some(60));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(
        spec.acquire_time,
        Some(micro("2025-06-01T12:00:00.000001Z"))
    );
    assert_eq!(got.metadata.resource_version.as_deref(), Some(rv.as_str()));

    let (code, reason, message) = status(
        api.create(&PostParams::default(), &lock("wave-lock", "runner-c"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        message,
        "leases.coordination.k8s.io \"wave-lock\" already exists"
    );
    // The loser changed nothing.
    let after = api.get("wave-lock").await.unwrap();
    assert_eq!(
        after.spec.unwrap().holder_identity.as_deref(),
        Some("runner-b")
    );
}

#[tokio::test]
async fn replace_needs_the_current_resource_version() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = leases(&sim, ADMIN_KEY, "kube-system");
    let read = api.get("aws-auth-migrate").await.unwrap();

    // Another runner takes the lock over first.
    let mut theirs = read.clone();
    theirs.spec.as_mut().unwrap().holder_identity = Some("runner-x".into());
    let taken = api
        .replace("aws-auth-migrate", &PostParams::default(), &theirs)
        .await
        .unwrap();
    assert_ne!(
        taken.metadata.resource_version,
        read.metadata.resource_version
    );
    assert_eq!(taken.metadata.uid, read.metadata.uid);
    assert_eq!(
        taken.metadata.creation_timestamp,
        read.metadata.creation_timestamp
    );

    // Ours carries the stale resourceVersion: 409 Conflict, as kube-rs parses it.
    let mut ours = read.clone();
    ours.spec.as_mut().unwrap().holder_identity = Some("runner-y".into());
    let (code, reason, message) = status(
        api.replace("aws-auth-migrate", &PostParams::default(), &ours)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message.starts_with(
            "Operation cannot be fulfilled on leases.coordination.k8s.io \"aws-auth-migrate\""
        ),
        "{message}"
    );
    // Leases allow no unconditional update: no resourceVersion at all is refused too.
    let mut blind = ours.clone();
    blind.metadata.resource_version = None;
    let (code, reason, _) = status(
        api.replace("aws-auth-migrate", &PostParams::default(), &blind)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));

    // With the current one it goes through.
    let mut retry = taken.clone();
    retry.spec.as_mut().unwrap().holder_identity = Some("runner-y".into());
    retry.spec.as_mut().unwrap().lease_transitions = Some(3);
    let won = api
        .replace("aws-auth-migrate", &PostParams::default(), &retry)
        .await
        .unwrap();
    let spec = won.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("runner-y"));
    assert_eq!(spec.lease_transitions, Some(3));

    // A PUT of a Lease that does not exist creates it (the lease strategy allows it).
    let fresh = lock("put-created", "runner-z");
    let (code, created) = put_raw(&sim, "put-created", &fresh).await;
    assert_eq!(code, 201, "{created}");
    assert!(api.get("put-created").await.is_ok());
}

/// A request through kube-rs' raw API, to see the status code and body as the server sent them.
async fn raw(
    sim: &Sim,
    method: http::Method,
    name: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let client = client(sim, &cluster_key("prod"), ADMIN_KEY);
    let request = http::Request::builder()
        .method(method)
        .uri(format!(
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}"
        ))
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    let response = client.send(request.map(Into::into)).await.unwrap();
    let code = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, serde_json::from_slice(&body).unwrap())
}

async fn put_raw(sim: &Sim, name: &str, lease: &Lease) -> (u16, serde_json::Value) {
    let body = serde_json::to_vec(lease).unwrap();
    raw(sim, http::Method::PUT, name, "application/json", body).await
}

async fn json_patch(sim: &Sim, name: &str, patch: serde_json::Value) -> (u16, serde_json::Value) {
    let body = serde_json::to_vec(&patch).unwrap();
    raw(
        sim,
        http::Method::PATCH,
        name,
        "application/json-patch+json",
        body,
    )
    .await
}

#[tokio::test]
async fn patches_and_their_preconditions() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = leases(&sim, ADMIN_KEY, "kube-system");
    let read = api.get("aws-auth-migrate").await.unwrap();
    let renew = json!({ "spec": { "renewTime": "2025-05-01T10:05:00.250000Z" } });
    let patched = api
        .patch(
            "aws-auth-migrate",
            &PatchParams::default(),
            &Patch::Merge(&renew),
        )
        .await
        .unwrap();
    let spec = patched.spec.clone().unwrap();
    assert_eq!(spec.renew_time, Some(micro("2025-05-01T10:05:00.25Z")));
    assert_eq!(spec.holder_identity.as_deref(), Some("wave-1/runner-a"));
    assert_ne!(
        patched.metadata.resource_version,
        read.metadata.resource_version
    );

    // A resourceVersion in a merge patch is a precondition.
    let stale = json!({
        "metadata": { "resourceVersion": read.metadata.resource_version },
        "spec": { "holderIdentity": "thief" },
    });
    let (code, reason, _) = status(
        api.patch(
            "aws-auth-migrate",
            &PatchParams::default(),
            &Patch::Merge(&stale),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));

    // A JSON patch whose `test` fails changes nothing.
    let (code, body) = json_patch(
        &sim,
        "aws-auth-migrate",
        json!([
            { "op": "test", "path": "/spec/holderIdentity", "value": "nobody" },
            { "op": "replace", "path": "/spec/holderIdentity", "value": "thief" },
        ]),
    )
    .await;
    assert_eq!((code, &body["reason"]), (422, &json!("Invalid")), "{body}");
    let (code, body) = json_patch(
        &sim,
        "aws-auth-migrate",
        json!([
            { "op": "test", "path": "/spec/holderIdentity", "value": "wave-1/runner-a" },
            { "op": "replace", "path": "/spec/holderIdentity", "value": "runner-b" },
        ]),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["holderIdentity"], "runner-b");
    assert_eq!(
        api.get("aws-auth-migrate")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("runner-b")
    );

    // Types are the API's: a duration that is not a number, a time that is not a time.
    for bad in [
        json!({ "spec": { "leaseDurationSeconds": "sixty" } }),
        json!({ "spec": { "renewTime": "yesterday" } }),
    ] {
        let (code, _, _) = status(
            api.patch(
                "aws-auth-migrate",
                &PatchParams::default(),
                &Patch::Merge(&bad),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(code, 400, "{bad}");
    }
    // Values are validated as the API server does.
    let zero = json!({ "spec": { "leaseDurationSeconds": 0 } });
    let (code, reason, message) = status(
        api.patch(
            "aws-auth-migrate",
            &PatchParams::default(),
            &Patch::Merge(&zero),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.contains("spec.leaseDurationSeconds"), "{message}");
    // A patch of a missing Lease is 404.
    let (code, reason, _) = status(
        api.patch("missing", &PatchParams::default(), &Patch::Merge(&renew))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
}

#[tokio::test]
async fn delete_list_and_namespaces() {
    let sim = sim();
    let _server = serve(&sim).await;
    let system = leases(&sim, ADMIN_KEY, "kube-system");
    let apps = leases(&sim, ADMIN_KEY, "apps");
    apps.create(&PostParams::default(), &lock("app-lock", "x"))
        .await
        .unwrap();
    let all: Api<Lease> = Api::all(client(&sim, &cluster_key("prod"), ADMIN_KEY));
    let names = |l: kube::core::ObjectList<Lease>| -> Vec<String> {
        l.items
            .into_iter()
            .map(|l| {
                format!(
                    "{}/{}",
                    l.metadata.namespace.unwrap(),
                    l.metadata.name.unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        names(all.list(&ListParams::default()).await.unwrap()),
        ["apps/app-lock", "kube-system/aws-auth-migrate"]
    );
    assert_eq!(
        names(system.list(&ListParams::default()).await.unwrap()),
        ["kube-system/aws-auth-migrate"]
    );

    // A namespace that does not exist: nothing to list, nothing can be created there.
    let nowhere = leases(&sim, ADMIN_KEY, "nowhere");
    assert!(
        nowhere
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let (code, _, message) = status(
        nowhere
            .create(&PostParams::default(), &lock("l", "x"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 404);
    assert_eq!(message, "namespaces \"nowhere\" not found");
    // The same name in another namespace is another Lease.
    let (code, _, _) = status(apps.get("aws-auth-migrate").await.unwrap_err());
    assert_eq!(code, 404);

    // Delete: a stale precondition is a conflict, then 200 and gone.
    let stale = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            resource_version: Some("1".into()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let (code, reason, _) = status(system.delete("aws-auth-migrate", &stale).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    let uid = system
        .get("aws-auth-migrate")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let deleted = system
        .delete("aws-auth-migrate", &DeleteParams::default())
        .await
        .unwrap();
    let gone = deleted.right().expect("a Status for a deleted Lease");
    let details = gone.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.uid.as_str()
        ),
        ("aws-auth-migrate", "coordination.k8s.io", uid.as_str())
    );
    let (code, reason, message) = status(system.get("aws-auth-migrate").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(
        message,
        "leases.coordination.k8s.io \"aws-auth-migrate\" not found"
    );
    let (code, _, _) = status(
        system
            .delete("aws-auth-migrate", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 404);
}

#[tokio::test]
async fn a_viewer_reads_leases_but_cannot_take_one() {
    let sim = sim();
    let _server = serve(&sim).await;
    let alice = leases(&sim, ALICE_KEY, "kube-system");
    let held = alice.get("aws-auth-migrate").await.unwrap();
    assert_eq!(
        held.spec.unwrap().holder_identity.as_deref(),
        Some("wave-1/runner-a")
    );
    assert_eq!(
        alice
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let (code, reason, message) = status(
        alice
            .create(&PostParams::default(), &lock("mine", "alice"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(
        message.contains("cannot create resource \"leases\" in API group \"coordination.k8s.io\""),
        "{message}"
    );
    let (code, _, _) = status(
        alice
            .delete("aws-auth-migrate", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    // bob is not mapped at all.
    let (code, _, _) = status(
        leases(&sim, BOB_KEY, "kube-system")
            .get("aws-auth-migrate")
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 401);
    // Every call was counted under the Lease operation names.
    let counters = sim.counters().snapshot();
    assert_eq!(
        counters.cluster_operation(&cluster_key("prod"), "kube:create leases"),
        1
    );
}

#[tokio::test]
async fn access_policies_authorize_leases_like_any_resource() {
    let sim = sim();
    let _server = serve(&sim).await;
    let dual = cluster_key("dual");
    let bob: Api<Lease> = Api::namespaced(client(&sim, &dual, BOB_KEY), "kube-system");
    bob.get("aws-auth-migrate").await.unwrap();
    assert_eq!(
        bob.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    let (code, _, _) = status(
        bob.create(&PostParams::default(), &lock("bobs", "bob"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403, "AmazonEKSAdminViewPolicy reads, never writes");
    let admin: Api<Lease> = Api::namespaced(client(&sim, &dual, ADMIN_KEY), "kube-system");
    admin
        .create(&PostParams::default(), &lock("admins", "admin"))
        .await
        .unwrap();
}

#[tokio::test]
async fn discovery_lists_leases() {
    let sim = sim();
    let _server = serve(&sim).await;
    let client = client(&sim, &cluster_key("prod"), ADMIN_KEY);
    let groups = client.list_api_groups().await.unwrap();
    let coordination = groups
        .groups
        .iter()
        .find(|g| g.name == "coordination.k8s.io")
        .expect("the coordination group");
    assert_eq!(
        coordination
            .preferred_version
            .as_ref()
            .unwrap()
            .group_version,
        "coordination.k8s.io/v1"
    );
    let resources = client
        .list_api_group_resources("coordination.k8s.io/v1")
        .await
        .unwrap();
    let lease = resources
        .resources
        .iter()
        .find(|r| r.name == "leases")
        .expect("leases");
    assert!(lease.namespaced);
    assert_eq!(lease.kind, "Lease");
    for verb in ["create", "delete", "get", "list", "patch", "update"] {
        assert!(lease.verbs.iter().any(|v| v == verb), "{verb}");
    }
    // kube-rs' own discovery resolves the kind.
    let discovery = kube::discovery::Discovery::new(client).run().await.unwrap();
    assert!(discovery.has_group("coordination.k8s.io"));
}

#[test]
fn a_world_file_seeds_leases_and_refuses_impossible_ones() {
    let world = |leases: &str| {
        format!(
            "accounts: [{{id: \"{ACCOUNT}\"}}]\nclusters:\n  - name: prod\n    account: \"{ACCOUNT}\"\n    region: {REGION}\n    namespaces: [apps]\n    leases:\n{leases}"
        )
    };
    let good = world(
        "      - metadata: {name: aws-auth-migrate}\n        spec: {holderIdentity: runner-a, leaseDurationSeconds: 300, renewTime: \"2025-05-01T10:04:00.123456Z\"}\n      - metadata: {name: app-lock, namespace: apps}\n",
    );
    let sim = Sim::from_spec(WorldSpec::from_yaml(&good).unwrap(), 1).unwrap();
    let cluster = sim.cluster(&cluster_key("prod")).unwrap();
    let state = cluster.lock();
    let held = &state.leases[&("kube-system".to_string(), "aws-auth-migrate".to_string())];
    assert_eq!(
        held.spec.as_ref().unwrap().renew_time,
        Some(micro("2025-05-01T10:04:00.123456Z"))
    );
    assert!(held.metadata.resource_version.is_some() && held.metadata.uid.is_some());
    assert!(
        state
            .leases
            .contains_key(&("apps".to_string(), "app-lock".to_string()))
    );
    drop(state);

    for (bad, why) in [
        (
            "      - metadata: {name: l, namespace: nowhere}\n",
            "namespace nowhere",
        ),
        (
            "      - metadata: {name: l}\n        spec: {leaseDurationSeconds: 0}\n",
            "must be greater than 0",
        ),
        (
            "      - metadata: {name: l}\n      - metadata: {name: l}\n",
            "defined twice",
        ),
        ("      - metadata: {}\n", "has no name"),
    ] {
        let err = WorldSpec::from_yaml(&world(bad))
            .and_then(|spec| Sim::from_spec(spec, 1))
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    // A time that is not a MicroTime does not parse.
    let err = WorldSpec::from_yaml(&world(
        "      - metadata: {name: l}\n        spec: {renewTime: soon}\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("parse"), "{err}");
}
