//! Authorization through kube-rs: RBAC, `system:masters`, access policies
//! (docs/access-entries.md#what-the-user-facing-policies-allow) with their scopes,
//! SubjectAccessReview vs SelfSubjectAccessReview (docs/access-entries.md#authorization), and a
//! lockout after a bad access entry.

mod kube_support;

use std::collections::BTreeMap;

use eks_sim::kube::{SELF_SUBJECT_ACCESS_REVIEW_OP, SUBJECT_ACCESS_REVIEW_OP};
use eks_sim::world::{
    AccessEntrySpec, AccessEntryType, AccessScope, AssociatedAccessPolicy, AuthenticationMode,
    ClusterSpec, Sim, policy_arn,
};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SubjectAccessReview,
    SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, ListParams, PostParams};
use kube_support::*;

/// (verb, group, resource, namespace)
type Probe<'a> = (&'a str, &'a str, &'a str, &'a str);

fn attributes((verb, group, resource, namespace): Probe<'_>) -> ResourceAttributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    ResourceAttributes {
        verb: Some(verb.into()),
        group: Some(group.into()),
        resource: Some(resource.into()),
        subresource: (!subresource.is_empty()).then(|| subresource.into()),
        namespace: (!namespace.is_empty()).then(|| namespace.into()),
        ..ResourceAttributes::default()
    }
}

/// `kubectl auth can-i` as the caller.
async fn can_i(client: &kube::Client, probe: Probe<'_>) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attributes(probe)),
            non_resource_attributes: None,
        },
        ..SelfSubjectAccessReview::default()
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap()
        .allowed
}

/// A SubjectAccessReview about `user`/`groups`, asked by `client`.
async fn can_they(
    client: &kube::Client,
    user: &str,
    groups: &[&str],
    probe: Probe<'_>,
) -> Result<bool, kube::Error> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: (!user.is_empty()).then(|| user.into()),
            groups: Some(groups.iter().map(|g| g.to_string()).collect()),
            resource_attributes: Some(attributes(probe)),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    Ok(Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?
        .status
        .unwrap()
        .allowed)
}

const AWS_AUTH_DUAL: &str = "- userarn: arn:aws:iam::111122223333:user/admin\n  username: admin\n  groups: [system:masters]\n\
- userarn: arn:aws:iam::111122223333:user/people/alice\n  username: alice\n  groups: [reader]\n";

fn sim(mode: AuthenticationMode, entries: Vec<AccessEntrySpec>) -> Sim {
    let mut spec = ClusterSpec::new("prod", ACCOUNT, REGION)
        .mode(mode)
        .aws_auth_key("mapUsers", AWS_AUTH_DUAL)
        .namespace("dev-1")
        .namespace("prod")
        .cluster_role(view_like())
        .cluster_role_binding(cluster_role_binding(
            "readers",
            "view",
            vec![subject("Group", "reader")],
        ));
    for entry in entries {
        spec = spec.access_entry(entry);
    }
    world().cluster(spec).build().unwrap()
}

#[tokio::test]
async fn a_reader_group_bound_to_view_reads_and_cannot_write() {
    let sim = sim(AuthenticationMode::ConfigMap, Vec::new());
    let _server = serve(&sim).await;
    let key = cluster_key("prod");
    let alice = client(&sim, &key, ALICE_KEY);
    assert!(can_i(&alice, ("get", "", "pods", "default")).await);
    assert!(can_i(&alice, ("list", "", "pods", "")).await);
    assert!(can_i(&alice, ("get", "", "pods/log", "default")).await);
    assert!(!can_i(&alice, ("create", "", "pods", "default")).await);
    assert!(!can_i(&alice, ("get", "", "secrets", "default")).await);
    // Real requests are authorized the same way.
    Api::<Namespace>::all(alice.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(alice.clone(), "kube-system")
        .get("aws-auth")
        .await
        .unwrap();
    let err = Api::<ClusterRole>::all(alice.clone())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 403);
            assert_eq!(status.reason, "Forbidden");
            assert_eq!(
                status.message,
                "clusterroles.rbac.authorization.k8s.io is forbidden: User \"alice\" cannot list resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
            );
        }
        other => panic!("{other:?}"),
    }
    // A reader may not ask about others.
    let err = can_they(&alice, "bob", &[], ("get", "", "pods", "x"))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 403);
}

#[tokio::test]
async fn subject_access_reviews_use_rbac_and_system_masters_and_are_counted() {
    let sim = sim(AuthenticationMode::ConfigMap, Vec::new());
    let _server = serve(&sim).await;
    let key = cluster_key("prod");
    let admin = client(&sim, &key, ADMIN_KEY);
    assert!(
        can_they(
            &admin,
            "someone",
            &["reader"],
            ("watch", "apps", "deployments", "x")
        )
        .await
        .unwrap()
    );
    assert!(
        !can_they(
            &admin,
            "someone",
            &["reader"],
            ("delete", "apps", "deployments", "x")
        )
        .await
        .unwrap()
    );
    assert!(
        can_they(
            &admin,
            "root",
            &["system:masters"],
            ("delete", "", "nodes", "")
        )
        .await
        .unwrap()
    );
    // The spec's groups are taken as written: no implicit system:authenticated.
    assert!(
        !can_they(&admin, "someone", &[], ("get", "", "pods", "x"))
            .await
            .unwrap()
    );
    // Neither user nor groups: invalid.
    let err = can_they(&admin, "", &[], ("get", "", "pods", "x"))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 422);
    can_i(&admin, ("get", "", "pods", "x")).await;

    let counters = sim.counters().snapshot();
    assert_eq!(
        counters.cluster_operation(&key, SUBJECT_ACCESS_REVIEW_OP),
        5
    );
    assert_eq!(
        counters.cluster_operation(&key, SELF_SUBJECT_ACCESS_REVIEW_OP),
        1
    );
}

#[tokio::test]
async fn view_policy_allows_what_the_policy_lists_and_nothing_more() {
    let sim = sim(
        AuthenticationMode::ApiAndConfigMap,
        vec![
            AccessEntrySpec::standard(bob_arn())
                .policy("AmazonEKSViewPolicy", AccessScope::cluster()),
        ],
    );
    let _server = serve(&sim).await;
    let key = cluster_key("prod");
    let bob = client(&sim, &key, BOB_KEY);
    for allowed in [
        ("get", "", "pods", "default"),
        ("list", "", "pods", ""),
        ("get", "", "pods/log", "x"),
        ("list", "", "namespaces", ""),
        ("watch", "apps", "deployments", "x"),
        ("get", "apps", "deployments/scale", "x"),
        ("list", "batch", "cronjobs", "x"),
        ("get", "networking.k8s.io", "ingresses", "x"),
        ("get", "", "configmaps", "kube-system"),
    ] {
        assert!(can_i(&bob, allowed).await, "{allowed:?}");
    }
    for denied in [
        ("get", "", "secrets", "default"),
        ("create", "", "pods", "default"),
        ("update", "", "configmaps", "kube-system"),
        ("list", "", "nodes", ""),
        ("get", "", "pods/exec", "x"),
        ("list", "rbac.authorization.k8s.io", "roles", "x"),
        ("get", "example.com", "widgets", "x"),
    ] {
        assert!(!can_i(&bob, denied).await, "{denied:?}");
    }
    // Real requests agree: read aws-auth, cannot replace it.
    let api = Api::<ConfigMap>::namespaced(bob.clone(), "kube-system");
    let cm = api.get("aws-auth").await.unwrap();
    let err = api
        .replace("aws-auth", &PostParams::default(), &cm)
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 403);

    // A SubjectAccessReview about bob's username does not see his access policies
    // (docs/access-entries.md#authorization).
    let admin = client(&sim, &key, ADMIN_KEY);
    assert!(
        !can_they(
            &admin,
            &bob_arn(),
            &["system:authenticated"],
            ("get", "", "pods", "default")
        )
        .await
        .unwrap()
    );
}

#[tokio::test]
async fn each_user_facing_policy_grants_its_documented_rules() {
    let sim = sim(
        AuthenticationMode::Api,
        vec![
            AccessEntrySpec::standard(alice_arn())
                .policy("AmazonEKSEditPolicy", AccessScope::cluster()),
            AccessEntrySpec::standard(bob_arn())
                .policy("AmazonEKSAdminPolicy", AccessScope::cluster()),
            AccessEntrySpec::standard(admin_arn())
                .policy("AmazonEKSAdminViewPolicy", AccessScope::cluster())
                .policy("AmazonEKSSecretReaderPolicy", AccessScope::cluster()),
        ],
    );
    let _server = serve(&sim).await;
    let key = cluster_key("prod");

    let edit = client(&sim, &key, ALICE_KEY);
    assert!(can_i(&edit, ("create", "", "pods", "x")).await);
    assert!(can_i(&edit, ("get", "", "secrets", "x")).await);
    assert!(can_i(&edit, ("impersonate", "", "serviceaccounts", "x")).await);
    assert!(!can_i(&edit, ("create", "", "pods/eviction", "x")).await);
    assert!(!can_i(&edit, ("create", "", "serviceaccounts/token", "x")).await);
    assert!(
        !can_i(
            &edit,
            ("create", "rbac.authorization.k8s.io", "rolebindings", "x")
        )
        .await
    );

    let admin_policy = client(&sim, &key, BOB_KEY);
    assert!(
        can_i(
            &admin_policy,
            ("create", "rbac.authorization.k8s.io", "rolebindings", "x")
        )
        .await
    );
    assert!(
        can_i(
            &admin_policy,
            (
                "create",
                "authorization.k8s.io",
                "localsubjectaccessreviews",
                "x"
            )
        )
        .await
    );
    assert!(
        !can_i(
            &admin_policy,
            (
                "create",
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                ""
            )
        )
        .await
    );
    assert!(!can_i(&admin_policy, ("delete", "", "nodes", "")).await);

    let admin_view = client(&sim, &key, ADMIN_KEY);
    assert!(can_i(&admin_view, ("list", "", "nodes", "")).await);
    assert!(can_i(&admin_view, ("get", "", "secrets", "x")).await);
    assert!(can_i(&admin_view, ("list", "example.com", "widgets", "")).await);
    assert!(!can_i(&admin_view, ("delete", "", "pods", "x")).await);
}

#[tokio::test]
async fn namespace_scoped_policies_apply_only_in_matching_namespaces() {
    let sim = sim(
        AuthenticationMode::Api,
        vec![
            AccessEntrySpec::standard(bob_arn())
                .policy("AmazonEKSEditPolicy", AccessScope::namespaces(["dev-*"])),
        ],
    );
    let _server = serve(&sim).await;
    let key = cluster_key("prod");
    let bob = client(&sim, &key, BOB_KEY);
    assert!(can_i(&bob, ("create", "", "pods", "dev-1")).await);
    assert!(can_i(&bob, ("get", "", "configmaps", "dev-anything")).await);
    assert!(!can_i(&bob, ("create", "", "pods", "prod")).await);
    assert!(!can_i(&bob, ("list", "", "pods", "")).await);
    assert!(!can_i(&bob, ("list", "", "namespaces", "")).await);
    let err = Api::<ConfigMap>::namespaced(bob.clone(), "kube-system")
        .get("aws-auth")
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 403);
    Api::<ConfigMap>::namespaced(bob, "dev-1")
        .list(&ListParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bad_entry_locks_out_a_working_principal() {
    let sim = sim(
        AuthenticationMode::ApiAndConfigMap,
        vec![AccessEntrySpec::typed(
            node_role_arn(),
            AccessEntryType::Ec2Linux,
        )],
    );
    let _server = serve(&sim).await;
    let key = cluster_key("prod");
    let admin = client(&sim, &key, ADMIN_KEY);
    let api = Api::<ConfigMap>::namespaced(admin.clone(), "kube-system");
    api.get("aws-auth").await.unwrap();

    // A migration creates admin's entry without carrying system:masters over (no policy).
    {
        let cluster = sim.cluster(&key).unwrap();
        let mut state = cluster.lock();
        let entry = state.new_entry(
            admin_arn(),
            AccessEntryType::Standard,
            Some("admin".into()),
            Vec::new(),
            BTreeMap::new(),
            sim.unique_id_of(&admin_arn()),
            sim.now(),
        );
        state.access_entries.insert(admin_arn(), entry);
    }
    // The same real token is now forbidden: the entry replaced the aws-auth mapping.
    let err = api.get("aws-auth").await.unwrap_err();
    assert_eq!(api_code(err), 403);
    assert!(!can_i(&admin, ("get", "", "configmaps", "kube-system")).await);

    // Associating the cluster-admin policy restores access.
    {
        let cluster = sim.cluster(&key).unwrap();
        let mut state = cluster.lock();
        let policy = policy_arn("aws", "AmazonEKSClusterAdminPolicy");
        let now = sim.now();
        state
            .access_entries
            .get_mut(&admin_arn())
            .unwrap()
            .access_policies
            .insert(
                policy.clone(),
                AssociatedAccessPolicy {
                    policy_arn: policy,
                    access_scope: AccessScope::cluster(),
                    associated_at: now,
                    modified_at: now,
                },
            );
    }
    api.get("aws-auth").await.unwrap();
}
