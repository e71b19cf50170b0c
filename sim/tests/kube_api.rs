//! The Kubernetes API slice through an unmodified kube-rs client: path prefix, ConfigMap
//! read/write semantics, RBAC and cluster-object lists, discovery, faults and counters.

mod kube_support;

use std::collections::BTreeMap;

use eks_sim::faults::FaultConfig;
use eks_sim::world::{ClusterSpec, Sim};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube_support::*;
use serde_json::json;

const MAP_USERS: &str = "- userarn: arn:aws:iam::111122223333:user/admin\n  username: admin\n  groups:\n    - system:masters\n";

fn sim() -> Sim {
    world()
        .cluster(
            ClusterSpec::new("prod", ACCOUNT, REGION)
                .aws_auth_key("mapUsers", MAP_USERS)
                .namespace("dev")
                .namespace("team-a")
                .node("ip-10-0-0-1.eu-west-1.compute.internal")
                .node("ip-10-0-0-2.eu-west-1.compute.internal")
                .cluster_role(view_like())
                .cluster_role_binding(cluster_role_binding(
                    "readers",
                    "view",
                    vec![subject("Group", "reader")],
                ))
                .role(role(
                    "dev",
                    "deployer",
                    vec![rule(&["create"], &["apps"], &["deployments"])],
                ))
                .role_binding(role_binding(
                    "dev",
                    "deployers",
                    "Role",
                    "deployer",
                    vec![subject("User", "dana")],
                ))
                .role_binding(role_binding(
                    "team-a",
                    "viewers",
                    "ClusterRole",
                    "view",
                    vec![subject("Group", "team-a")],
                )),
        )
        .cluster(ClusterSpec::new("staging", ACCOUNT, REGION).aws_auth_key("mapUsers", MAP_USERS))
        .build()
        .expect("world")
}

fn aws_auth_api(client: kube::Client) -> Api<ConfigMap> {
    Api::namespaced(client, "kube-system")
}

#[tokio::test]
async fn kube_rs_keeps_the_cluster_path_prefix() {
    let sim = sim();
    let server = serve(&sim).await;
    let prod = cluster_key("prod");
    let url = server.kube_endpoint(&prod);
    assert!(
        url.ends_with("/clusters/111122223333/eu-west-1/prod"),
        "{url}"
    );
    let client = client(&sim, &prod, ADMIN_KEY);
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    assert!(
        version.git_version.contains("-eks-"),
        "{}",
        version.git_version
    );
    let cm = aws_auth_api(client).get("aws-auth").await.unwrap();
    assert!(cm.data.unwrap()["mapUsers"].contains("system:masters"));
    // Requests were counted against the cluster the prefix named.
    let counters = sim.counters().snapshot();
    assert_eq!(counters.cluster_operation(&prod, "kube:get configmaps"), 1);
    assert_eq!(counters.cluster_operation(&prod, "kube:get /version"), 1);
    assert_eq!(
        counters.cluster_operation(&cluster_key("staging"), "kube:get configmaps"),
        0
    );
}

#[tokio::test]
async fn clusters_are_separate() {
    let sim = sim();
    let _server = serve(&sim).await;
    let staging = aws_auth_api(client(&sim, &cluster_key("staging"), ADMIN_KEY));
    staging
        .delete("aws-auth", &DeleteParams::default())
        .await
        .unwrap();
    // prod's aws-auth is untouched, and the admin still gets in there.
    let prod = aws_auth_api(client(&sim, &cluster_key("prod"), ADMIN_KEY));
    prod.get("aws-auth").await.unwrap();
    // A cluster that does not exist answers 404.
    let nowhere = client(&sim, &cluster_key("nowhere"), ADMIN_KEY);
    let err = aws_auth_api(nowhere).get("aws-auth").await.unwrap_err();
    assert_eq!(api_code(err), 404);
}

#[tokio::test]
async fn replace_checks_the_resource_version() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = aws_auth_api(client(&sim, &cluster_key("prod"), ADMIN_KEY));
    let original = api.get("aws-auth").await.unwrap();
    let uid = original.metadata.uid.clone();

    let mut edited = original.clone();
    edited
        .data
        .as_mut()
        .unwrap()
        .insert("mapAccounts".into(), "- \"444455556666\"\n".into());
    let replaced = api
        .replace("aws-auth", &PostParams::default(), &edited)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        original.metadata.resource_version
    );
    assert_eq!(replaced.metadata.uid, uid);
    assert!(replaced.data.unwrap().contains_key("mapAccounts"));

    // The stale copy (old resourceVersion) is refused with 409 Conflict.
    let err = api
        .replace("aws-auth", &PostParams::default(), &original)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.reason, "Conflict");
            assert!(status.message.contains("the object has been modified"));
        }
        other => panic!("{other:?}"),
    }
    // Without a resourceVersion the update is unconditional.
    let mut unconditional = original.clone();
    unconditional.metadata.resource_version = None;
    api.replace("aws-auth", &PostParams::default(), &unconditional)
        .await
        .unwrap();
    let now = api.get("aws-auth").await.unwrap();
    assert!(!now.data.unwrap().contains_key("mapAccounts"));
}

#[tokio::test]
async fn merge_and_strategic_patches_edit_data() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = aws_auth_api(client(&sim, &cluster_key("prod"), ADMIN_KEY));
    let merge = json!({ "data": { "mapRoles": "- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: dev\n" } });
    let patched = api
        .patch("aws-auth", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .unwrap();
    let data = patched.data.unwrap();
    assert!(data.contains_key("mapRoles") && data.contains_key("mapUsers"));

    let strategic =
        json!({ "data": { "mapRoles": null }, "metadata": { "labels": { "owner": "platform" } } });
    let patched = api
        .patch(
            "aws-auth",
            &PatchParams::default(),
            &Patch::Strategic(&strategic),
        )
        .await
        .unwrap();
    assert!(!patched.data.unwrap().contains_key("mapRoles"));
    assert_eq!(patched.metadata.labels.unwrap()["owner"], "platform");

    // A resourceVersion in the patch is a precondition.
    let stale = json!({ "metadata": { "resourceVersion": "1" }, "data": { "x": "y" } });
    let err = api
        .patch("aws-auth", &PatchParams::default(), &Patch::Merge(&stale))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 409);
    // Values must be strings, as the API server requires (a `mapRoles:` without `|`).
    let bad = json!({ "data": { "mapRoles": [ { "rolearn": "x" } ] } });
    let err = api
        .patch("aws-auth", &PatchParams::default(), &Patch::Merge(&bad))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 400);
}

#[tokio::test]
async fn create_get_and_delete_with_preconditions() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = aws_auth_api(client(&sim, &cluster_key("prod"), ADMIN_KEY));
    let backup = ConfigMap {
        metadata: meta("aws-auth-backup", None),
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..ConfigMap::default()
    };
    let created = api.create(&PostParams::default(), &backup).await.unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("kube-system"));
    assert!(created.metadata.uid.is_some());
    let err = api
        .create(&PostParams::default(), &backup)
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 409);

    let listed = api
        .list(&ListParams::default().fields("metadata.name=aws-auth-backup"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    let stale = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            resource_version: Some("1".into()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let err = api.delete("aws-auth-backup", &stale).await.unwrap_err();
    assert_eq!(api_code(err), 409);
    api.delete("aws-auth-backup", &DeleteParams::default())
        .await
        .unwrap();
    let err = api.get("aws-auth-backup").await.unwrap_err();
    assert_eq!(api_code(err), 404);
    let err = api
        .delete("aws-auth-backup", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 404);
}

#[tokio::test]
async fn rbac_objects_namespaces_and_nodes_are_listed() {
    let sim = sim();
    let _server = serve(&sim).await;
    let client = client(&sim, &cluster_key("prod"), ADMIN_KEY);

    let cluster_roles = Api::<ClusterRole>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let names: Vec<_> = cluster_roles
        .items
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    // The fixture's roles plus the bootstrap policy every cluster has.
    assert!(names.contains(&"view".to_string()));
    assert!(names.contains(&"cluster-admin".to_string()));

    let bindings = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let readers = bindings
        .items
        .iter()
        .find(|b| b.metadata.name.as_deref() == Some("readers"))
        .unwrap();
    assert_eq!(readers.subjects.as_ref().unwrap()[0].name, "reader");

    let all_rb = Api::<RoleBinding>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(all_rb.items.len(), 2);
    let dev_rb = Api::<RoleBinding>::namespaced(client.clone(), "dev")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(dev_rb.items.len(), 1);
    assert_eq!(dev_rb.items[0].metadata.name.as_deref(), Some("deployers"));
    let roles = Api::<Role>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(roles.items.len(), 1);
    let team_roles = Api::<Role>::namespaced(client.clone(), "team-a")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(team_roles.items.is_empty());

    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let ns: Vec<_> = namespaces
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    for expected in ["default", "kube-system", "dev", "team-a"] {
        assert!(ns.contains(&expected.to_string()), "{ns:?}");
    }
    Api::<Namespace>::all(client.clone())
        .get("dev")
        .await
        .unwrap();

    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default().limit(1))
        .await
        .unwrap();
    assert_eq!(nodes.items.len(), 1);
    let rest = Api::<Node>::all(client.clone())
        .list(
            &ListParams::default()
                .limit(1)
                .continue_token(nodes.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_ne!(rest.items[0].metadata.name, nodes.items[0].metadata.name);
}

#[tokio::test]
async fn discovery_documents() {
    let sim = sim();
    let _server = serve(&sim).await;
    let client = client(&sim, &cluster_key("prod"), ADMIN_KEY);
    let core = client.list_core_api_versions().await.unwrap();
    assert_eq!(core.versions, vec!["v1"]);
    let resources = client.list_core_api_resources("v1").await.unwrap();
    assert!(resources.resources.iter().any(|r| r.name == "configmaps"));
    let groups = client.list_api_groups().await.unwrap();
    let names: Vec<_> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    assert!(names.contains(&"rbac.authorization.k8s.io"));
    assert!(names.contains(&"authorization.k8s.io"));
    let rbac = client
        .list_api_group_resources("rbac.authorization.k8s.io/v1")
        .await
        .unwrap();
    assert!(
        rbac.resources
            .iter()
            .any(|r| r.name == "clusterrolebindings")
    );
    let authz = client
        .list_api_group_resources("authorization.k8s.io/v1")
        .await
        .unwrap();
    assert!(
        authz
            .resources
            .iter()
            .any(|r| r.name == "subjectaccessreviews")
    );
}

#[tokio::test]
async fn a_concurrent_writer_makes_the_put_conflict() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api = aws_auth_api(client(&sim, &cluster_key("prod"), ADMIN_KEY));
    let read = api.get("aws-auth").await.unwrap();
    sim.set_faults(FaultConfig {
        concurrent_writer_rate: 1.0,
        ..FaultConfig::default()
    });
    let err = api
        .replace("aws-auth", &PostParams::default(), &read)
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 409);
    // The other writer's edit is visible and leaves the mappings alone.
    let now = api.get("aws-auth").await.unwrap();
    assert!(now.metadata.annotations.is_some());
    assert_eq!(now.data, read.data);
    // A client that re-reads and retries gets through once the writer is gone.
    sim.set_faults(FaultConfig::default());
    api.replace("aws-auth", &PostParams::default(), &now)
        .await
        .unwrap();
}

#[tokio::test]
async fn random_faults_reach_kube_requests_of_the_named_operation() {
    let sim = sim();
    let _server = serve(&sim).await;
    let client = client(&sim, &cluster_key("prod"), ADMIN_KEY);
    let api = aws_auth_api(client.clone());
    sim.set_faults(FaultConfig {
        server_error_rate: 1.0,
        operations: vec!["kube:get configmaps".into()],
        ..FaultConfig::default()
    });
    let code = api_code(api.get("aws-auth").await.unwrap_err());
    assert!(code == 500 || code == 503, "{code}");
    // Other operations are untouched.
    Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    sim.set_faults(FaultConfig {
        drop_connection_rate: 1.0,
        operations: vec!["kube:get configmaps".into()],
        ..FaultConfig::default()
    });
    let err = api.get("aws-auth").await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    sim.set_faults(FaultConfig::default());
    api.get("aws-auth").await.unwrap();
    // Every call was counted, faulted or not.
    assert_eq!(
        sim.counters()
            .snapshot()
            .cluster_operation(&cluster_key("prod"), "kube:get configmaps"),
        3
    );
}

/// The API server reads at most 3 MiB of a request body; beyond that it answers 413 before
/// looking at the request.
#[tokio::test]
async fn request_bodies_over_the_limit_are_refused() {
    let sim = sim();
    let _server = serve(&sim).await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sim, &cluster_key("prod"), ADMIN_KEY), "dev");
    let config_map = |name: &str, bytes: usize| ConfigMap {
        metadata: meta(name, Some("dev")),
        data: Some(BTreeMap::from([("blob".to_string(), "x".repeat(bytes))])),
        ..ConfigMap::default()
    };
    let err = api
        .create(&PostParams::default(), &config_map("huge", 3 * 1024 * 1024))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 413, "{status:?}");
            assert_eq!(status.reason, "RequestEntityTooLarge");
            assert_eq!(status.message, "Request entity too large: limit is 3145728");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(api_code(api.get("huge").await.unwrap_err()), 404);
    // Under the limit, the same request goes through.
    api.create(&PostParams::default(), &config_map("large", 512 * 1024))
        .await
        .unwrap();
    assert_eq!(
        api.get("large").await.unwrap().data.unwrap()["blob"].len(),
        512 * 1024
    );
}
