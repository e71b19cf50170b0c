//! Access entries through aws-sdk-eks: every rule of docs/access-entries.md and its
//! error texts (docs/access-entries.md#error-texts), with ARNs that carry paths
//! (percent-encoded single path segments).

mod eks_support;

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use eks_sim::world::{AccessEntrySpec, AccessEntryType, AuthenticationMode as Mode, ClusterSpec};
use eks_support::*;

const MODE_MSG: &str = "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.";
const NOT_FOUND_MSG: &str = "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.";
const INVALID_PRINCIPAL: &str = "The specified principalArn is invalid: invalid principal.";
const SLR_MSG: &str = "The caller is not allowed to modify access entries with a principalArn value of a Service Linked Role";
const STANDARD_ONLY: &str =
    "This operation can only be performed on Access Entries with a type of \"STANDARD\".";

fn sso_arn() -> String {
    format!("arn:aws:iam::{A}:role{SSO_PATH}{SSO_ROLE}")
}

fn slr_arn() -> String {
    role(
        A,
        "aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
    )
}

#[tokio::test]
async fn every_access_entry_operation_is_refused_in_config_map_mode() {
    let server = start(base().cluster(config_map_cluster("cm"))).await;
    let eks = eks(&server).await;
    let viewer = role(A, "Viewer");
    let scope = AccessScope::builder()
        .r#type(AccessScopeType::Cluster)
        .build();
    let results = vec![
        service_error(create_entry(&eks, "cm", &viewer).send().await),
        service_error(describe_entry(&eks, "cm", &viewer).send().await),
        service_error(eks.list_access_entries().cluster_name("cm").send().await),
        service_error(update_entry(&eks, "cm", &viewer).send().await),
        service_error(delete_entry(&eks, "cm", &viewer).send().await),
        service_error(
            associate(&eks, "cm", &viewer, policy("AmazonEKSViewPolicy"))
                .access_scope(scope)
                .send()
                .await,
        ),
        service_error(
            disassociate(&eks, "cm", &viewer, policy("AmazonEKSViewPolicy"))
                .send()
                .await,
        ),
        service_error(list_associated(&eks, "cm", &viewer).send().await),
    ];
    for (code, msg) in results {
        assert_eq!(code, "InvalidRequestException");
        assert_eq!(msg, MODE_MSG);
    }
}

#[tokio::test]
async fn create_fills_eks_defaults_and_describe_round_trips_pathed_arns() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;

    // A role with a path: the default username drops the path and keeps the partition.
    let dev = role(A, "team/dev/Developer");
    let out = create_entry(&eks, "dual", &dev).send().await.unwrap();
    let e = out.access_entry().unwrap();
    assert_eq!(e.principal_arn(), Some(dev.as_str()));
    assert_eq!(e.r#type(), Some("STANDARD"));
    assert_eq!(
        e.username(),
        Some("arn:aws:sts::111122223333:assumed-role/Developer/{{SessionName}}")
    );
    assert!(e.kubernetes_groups().is_empty());
    let arn = e.access_entry_arn().unwrap();
    assert!(
        arn.starts_with(
            "arn:aws:eks:us-east-1:111122223333:access-entry/dual/role/111122223333/Developer/"
        ),
        "{arn}"
    );
    assert!(e.created_at().is_some() && e.modified_at().is_some());

    // The SSO role, fully qualified, path label percent-encoded by the SDK as one segment.
    let sso = sso_arn();
    create_entry(&eks, "dual", &sso)
        .username("sso-admin:{{SessionName}}")
        .kubernetes_groups("platform-admins")
        .send()
        .await
        .unwrap();
    let d = describe_entry(&eks, "dual", &sso).send().await.unwrap();
    let d = d.access_entry().unwrap();
    assert_eq!(d.principal_arn(), Some(sso.as_str()));
    assert_eq!(d.username(), Some("sso-admin:{{SessionName}}"));
    assert_eq!(d.kubernetes_groups(), ["platform-admins"]);

    // A user with a path: the default username is the user ARN.
    let alice = user(A, "people/alice");
    let out = create_entry(&eks, "dual", &alice).send().await.unwrap();
    assert_eq!(out.access_entry().unwrap().username(), Some(alice.as_str()));

    // Cross-account STANDARD principals are allowed.
    let auditor = role(B, "Auditor");
    create_entry(&eks, "dual", &auditor).send().await.unwrap();

    let r = describe_entry(&eks, "dual", role(A, "Nobody")).send().await;
    assert_eq!(status_of(&r), 404);
    assert_service_error(r, "ResourceNotFoundException", NOT_FOUND_MSG);
}

#[tokio::test]
async fn duplicate_entry_is_resource_in_use() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let r = create_entry(&eks, "dual", role(A, "Viewer")).send().await;
    assert_eq!(status_of(&r), 409);
    assert_service_error(
        r,
        "ResourceInUseException",
        "The specified access entry resource is already in use on this cluster.",
    );
}

#[tokio::test]
async fn invalid_principals_are_refused() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let invalid = [
        // Path-stripped SSO role (what aws-auth needs, what access entries refuse).
        role(A, SSO_ROLE),
        // Path-stripped pathed role.
        role(A, "Developer"),
        // Does not exist.
        role(A, "Ghost"),
        user(A, "ghost"),
        // STS session ARN.
        format!("arn:aws:sts::{A}:assumed-role/Viewer/session"),
        // Root.
        format!("arn:aws:iam::{A}:root"),
        "not-an-arn".to_string(),
    ];
    for arn in invalid {
        let r = create_entry(&eks, "dual", &arn).send().await;
        assert_eq!(status_of(&r), 400, "{arn}");
        assert_eq!(
            service_error(r),
            ("InvalidParameterException".into(), INVALID_PRINCIPAL.into()),
            "{arn}"
        );
    }
}

#[tokio::test]
async fn service_linked_roles_cannot_be_created_updated_or_deleted() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let slr = slr_arn();
    // The fixture's EKS-created entry for the SLR already exists, yet creation is refused first.
    let r = create_entry(&eks, "dual", &slr).send().await;
    assert_service_error(r, "InvalidParameterException", SLR_MSG);
    let r = update_entry(&eks, "dual", &slr)
        .kubernetes_groups("x")
        .send()
        .await;
    assert_service_error(r, "InvalidParameterException", SLR_MSG);
    let r = delete_entry(&eks, "dual", &slr).send().await;
    assert_service_error(r, "InvalidParameterException", SLR_MSG);
    // Still there, and visible.
    describe_entry(&eks, "dual", &slr).send().await.unwrap();
}

#[tokio::test]
async fn system_groups_are_refused() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let r = create_entry(&eks, "dual", role(A, "Deployer"))
        .kubernetes_groups("deployers")
        .kubernetes_groups("system:masters")
        .send()
        .await;
    assert_service_error(
        r,
        "InvalidParameterException",
        "The kubernetes group name system:masters is invalid, it cannot start with system:",
    );
    let r = update_entry(&eks, "dual", role(A, "Viewer"))
        .kubernetes_groups("system:monitoring")
        .send()
        .await;
    assert_eq!(
        service_error(r).1,
        "The kubernetes group name system:monitoring is invalid, it cannot start with system:"
    );
}

#[tokio::test]
async fn reserved_username_prefixes_are_refused() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    for prefix in ["system:", "eks:", "aws:", "amazon:", "iam:"] {
        let r = create_entry(&eks, "dual", role(A, "Deployer"))
            .username(format!("{prefix}deployer"))
            .send()
            .await;
        assert_service_error(
            r,
            "InvalidParameterException",
            format!("The username must not begin with {prefix}"),
        );
    }
}

#[tokio::test]
async fn session_name_needs_a_colon_before_it() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    for bad in [
        "{{SessionName}}",
        "john{{SessionName}}",
        "user-{{SessionName}}",
        "x{{SessionNameRaw}}",
    ] {
        let r = create_entry(&eks, "dual", role(A, "Deployer"))
            .username(bad)
            .send()
            .await;
        let (code, msg) = service_error(r);
        assert_eq!(code, "InvalidParameterException", "{bad}");
        assert!(msg.contains("colon"), "{bad}: {msg}");
    }
    let ok = create_entry(&eks, "dual", role(A, "Deployer"))
        .username("deployer:{{SessionName}}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.access_entry().unwrap().username(),
        Some("deployer:{{SessionName}}")
    );
}

#[tokio::test]
async fn node_types_are_same_account_roles_without_username_groups_or_policies() {
    let server = start(base().cluster(ClusterSpec::new("api", A, REGION).mode(Mode::Api))).await;
    let eks = eks(&server).await;
    let out = create_entry(&eks, "api", role(A, "NodeRole"))
        .r#type("EC2_LINUX")
        .send()
        .await
        .unwrap();
    let e = out.access_entry().unwrap();
    assert_eq!(e.username(), Some("system:node:{{EC2PrivateDNSName}}"));
    assert_eq!(e.kubernetes_groups(), ["system:nodes"]);
    let out = create_entry(&eks, "api", role(A, "FargatePodRole"))
        .r#type("FARGATE_LINUX")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.access_entry().unwrap().username(),
        Some("system:node:{{SessionName}}")
    );

    // Another account's role, a user, username or groups: all refused.
    let cross = create_entry(&eks, "api", role(B, "Auditor"))
        .r#type("EC2_LINUX")
        .send()
        .await;
    assert_eq!(service_error(cross).0, "InvalidParameterException");
    let user_node = create_entry(&eks, "api", user(A, "admin"))
        .r#type("EC2_WINDOWS")
        .send()
        .await;
    assert_eq!(service_error(user_node).0, "InvalidParameterException");
    let with_groups = create_entry(&eks, "api", role(A, "WinNodeRole"))
        .r#type("EC2_WINDOWS")
        .kubernetes_groups("windows")
        .send()
        .await;
    assert_eq!(service_error(with_groups).0, "InvalidParameterException");
    let with_username = create_entry(&eks, "api", role(A, "WinNodeRole"))
        .r#type("EC2_WINDOWS")
        .username("node")
        .send()
        .await;
    assert_eq!(service_error(with_username).0, "InvalidParameterException");
    // Types are case-sensitive.
    let lower = create_entry(&eks, "api", role(A, "WinNodeRole"))
        .r#type("EC2_Windows")
        .send()
        .await;
    assert_eq!(service_error(lower).0, "InvalidParameterException");

    // Updating a node entry: re-sending the generated username trips the prefix rule first;
    // plain groups trip the STANDARD-only rule.
    let r = update_entry(&eks, "api", role(A, "NodeRole"))
        .username("system:node:{{EC2PrivateDNSName}}")
        .send()
        .await;
    assert_service_error(
        r,
        "InvalidParameterException",
        "The username must not begin with system:",
    );
    let r = update_entry(&eks, "api", role(A, "NodeRole"))
        .kubernetes_groups("nodes")
        .send()
        .await;
    assert_service_error(r, "InvalidParameterException", STANDARD_ONLY);
}

#[tokio::test]
async fn update_replaces_groups_and_username_declaratively() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let viewer = role(A, "Viewer");
    let before = describe_entry(&eks, "dual", &viewer).send().await.unwrap();
    let created = before.access_entry().unwrap().created_at().cloned();
    let out = update_entry(&eks, "dual", &viewer)
        .kubernetes_groups("readers")
        .kubernetes_groups("auditors")
        .username("viewer:{{SessionName}}")
        .send()
        .await
        .unwrap();
    let e = out.access_entry().unwrap();
    assert_eq!(e.kubernetes_groups(), ["readers", "auditors"]);
    assert_eq!(e.username(), Some("viewer:{{SessionName}}"));
    assert_eq!(e.created_at().cloned(), created);
    // An explicit empty list clears the groups; omitting it leaves them.
    let out = update_entry(&eks, "dual", &viewer)
        .set_kubernetes_groups(Some(Vec::new()))
        .send()
        .await
        .unwrap();
    assert!(out.access_entry().unwrap().kubernetes_groups().is_empty());
    assert_eq!(
        out.access_entry().unwrap().username(),
        Some("viewer:{{SessionName}}")
    );
    let r = update_entry(&eks, "dual", role(A, "Ghost"))
        .username("x:y")
        .send()
        .await;
    assert_service_error(r, "ResourceNotFoundException", NOT_FOUND_MSG);
}

#[tokio::test]
async fn delete_removes_the_entry_and_its_associations() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let viewer = role(A, "Viewer");
    delete_entry(&eks, "dual", &viewer).send().await.unwrap();
    let r = describe_entry(&eks, "dual", &viewer).send().await;
    assert_eq!(service_error(r).0, "ResourceNotFoundException");
    let r = list_associated(&eks, "dual", &viewer).send().await;
    assert_eq!(service_error(r).0, "ResourceNotFoundException");
    let r = delete_entry(&eks, "dual", &viewer).send().await;
    assert_service_error(r, "ResourceNotFoundException", NOT_FOUND_MSG);
    // Recreated: a new accessEntryArn suffix, no associations.
    let again = create_entry(&eks, "dual", &viewer).send().await.unwrap();
    assert!(again.access_entry().unwrap().access_entry_arn().is_some());
    let p = list_associated(&eks, "dual", &viewer).send().await.unwrap();
    assert!(p.associated_access_policies().is_empty());
}

#[tokio::test]
async fn list_pages_by_max_results_and_filters_by_policy() {
    let mut spec = ClusterSpec::new("big", A, REGION).mode(Mode::Api);
    for i in 0..250 {
        let mut e = AccessEntrySpec::standard(role(A, &format!("r{i:03}")));
        if i % 10 == 0 {
            e = e.policy(
                "AmazonEKSEditPolicy",
                eks_sim::world::AccessScope::namespaces(["apps"]),
            );
        }
        spec = spec.access_entry(e);
    }
    let server = start(base().cluster(spec)).await;
    let eks = eks(&server).await;
    let mut all = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = eks
            .list_access_entries()
            .cluster_name("big")
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        all.extend(out.access_entries().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 250);
    let mut sorted = all.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 250);

    // The SDK paginator agrees.
    let items: Vec<String> = eks
        .list_access_entries()
        .cluster_name("big")
        .max_results(7)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(items, all);

    let edit = eks
        .list_access_entries()
        .cluster_name("big")
        .associated_policy_arn(policy("AmazonEKSEditPolicy"))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.access_entries().len(), 25);
    let r = eks
        .list_access_entries()
        .cluster_name("big")
        .max_results(101)
        .send()
        .await;
    assert_eq!(service_error(r).0, "InvalidParameterException");
}

#[tokio::test]
async fn the_3000_entry_quota_is_enforced() {
    let mut spec = ClusterSpec::new("full", A, REGION).mode(Mode::Api);
    for i in 0..3000 {
        spec = spec.access_entry(AccessEntrySpec::standard(role(
            A,
            &format!("filler-{i:04}"),
        )));
    }
    let server = start(base().cluster(spec)).await;
    let eks = eks(&server).await;
    let r = create_entry(&eks, "full", role(A, "Viewer")).send().await;
    assert_eq!(status_of(&r), 400);
    assert_eq!(service_error(r).0, "ResourceLimitExceededException");
    delete_entry(&eks, "full", role(A, "filler-0000"))
        .send()
        .await
        .unwrap();
    create_entry(&eks, "full", role(A, "Viewer"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn tags_are_limited_to_50_and_managed_on_the_entry_arn() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let mut too_many = create_entry(&eks, "dual", role(A, "Deployer"));
    for i in 0..51 {
        too_many = too_many.tags(format!("k{i}"), "v");
    }
    assert_eq!(
        service_error(too_many.send().await).0,
        "InvalidParameterException"
    );
    let reserved = create_entry(&eks, "dual", role(A, "Deployer"))
        .tags("aws:owner", "x")
        .send()
        .await;
    assert_eq!(service_error(reserved).0, "InvalidParameterException");

    let out = create_entry(&eks, "dual", role(A, "Deployer"))
        .tags("managed-by", "aws-auth-migrate")
        .send()
        .await
        .unwrap();
    let arn = out
        .access_entry()
        .unwrap()
        .access_entry_arn()
        .unwrap()
        .to_string();
    assert_eq!(
        out.access_entry().unwrap().tags().unwrap()["managed-by"],
        "aws-auth-migrate"
    );
    eks.tag_resource()
        .resource_arn(&arn)
        .tags("stage", "entries")
        .send()
        .await
        .unwrap();
    let tags = eks
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap().len(), 2);
    eks.untag_resource()
        .resource_arn(&arn)
        .tag_keys("stage")
        .send()
        .await
        .unwrap();
    let tags = eks
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().keys().collect::<Vec<_>>(),
        ["managed-by"]
    );

    // 49 more would make 50: fine; one more: refused.
    let mut fill = eks.tag_resource().resource_arn(&arn);
    for i in 0..49 {
        fill = fill.tags(format!("t{i}"), "v");
    }
    fill.send().await.unwrap();
    let r = eks
        .tag_resource()
        .resource_arn(&arn)
        .tags("one-more", "v")
        .send()
        .await;
    assert_eq!(service_error(r).0, "BadRequestException");

    // Cluster ARNs are taggable too; unknown ARNs are not found; other accounts are denied.
    let cluster_arn = "arn:aws:eks:us-east-1:111122223333:cluster/dual";
    eks.tag_resource()
        .resource_arn(cluster_arn)
        .tags("team", "platform")
        .send()
        .await
        .unwrap();
    let t = eks
        .list_tags_for_resource()
        .resource_arn(cluster_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags().unwrap()["team"], "platform");
    let r = eks
        .list_tags_for_resource()
        .resource_arn("arn:aws:eks:us-east-1:111122223333:cluster/ghost")
        .send()
        .await;
    assert_eq!(service_error(r).0, "NotFoundException");
    let r = eks
        .list_tags_for_resource()
        .resource_arn("arn:aws:eks:us-east-1:444455556666:cluster/dual")
        .send()
        .await;
    assert_eq!(service_error(r).0, "AccessDeniedException");
}

#[tokio::test]
async fn entries_remember_the_principal_unique_id() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let sim = server.sim().clone();
    let viewer = role(A, "Viewer");
    let original = sim.unique_id_of(&viewer).unwrap();
    assert!(original.starts_with("AROA"));
    let key = eks_sim::world::ClusterKey::new(A, REGION, "dual");
    let stored = |sim: &eks_sim::Sim| {
        sim.cluster(&key).unwrap().lock().access_entries[&viewer]
            .principal_unique_id
            .clone()
    };
    assert_eq!(stored(&sim), Some(original.clone()));
    let new_id = sim.recreate_principal(&viewer).unwrap();
    assert_ne!(new_id, original);
    // The entry still points at the old principal, as on EKS.
    assert_eq!(stored(&sim), Some(original));
    assert_eq!(
        sim.cluster(&key).unwrap().lock().access_entries[&role(A, "NodeRole")].entry_type,
        AccessEntryType::Ec2Linux
    );
}
