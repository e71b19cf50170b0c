//! Access policies through aws-sdk-eks: the catalogue (docs/access-entries.md#the-catalogue,
//! partition-aware) and associations with their scope rules and upsert
//! (docs/access-entries.md#associations-and-scopes).

mod eks_support;

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use eks_sim::world::{AccessEntrySpec, AccessEntryType, AuthenticationMode as Mode, ClusterSpec};
use eks_support::*;

const NOT_FOUND_MSG: &str = "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.";
const STANDARD_ONLY: &str =
    "This operation can only be performed on Access Entries with a type of \"STANDARD\".";

fn cluster_scope() -> AccessScope {
    AccessScope::builder()
        .r#type(AccessScopeType::Cluster)
        .build()
}

fn ns_scope(ns: &[&str]) -> AccessScope {
    let mut b = AccessScope::builder().r#type(AccessScopeType::Namespace);
    for n in ns {
        b = b.namespaces(*n);
    }
    b.build()
}

#[tokio::test]
async fn list_access_policies_returns_the_catalogue_in_pages() {
    let server = start(base()).await;
    let eks = eks(&server).await;
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let out = eks
            .list_access_policies()
            .max_results(10)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(out.access_policies().len() <= 10);
        all.extend(out.access_policies().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), eks_sim::eks::ACCESS_POLICY_NAMES.len());
    let names: Vec<&str> = all.iter().filter_map(|p| p.name()).collect();
    for user_facing in [
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSViewPolicy",
        "AmazonEKSAdminViewPolicy",
        "AmazonEKSSecretReaderPolicy",
        "AmazonEKSAutoNodePolicy",
    ] {
        assert!(names.contains(&user_facing), "{user_facing}");
    }
    for p in &all {
        assert_eq!(p.arn().unwrap(), policy(p.name().unwrap()));
    }
}

#[tokio::test]
async fn policy_arns_follow_the_partition() {
    let cn = "210987654321";
    let b = base()
        .account_in(cn, "aws-cn")
        .user(cn, "/", "cn-admin", "AKIACNADMIN000000001", "cn-secret")
        .role(cn, "/", "Ops")
        .cluster(ClusterSpec::new("beijing", cn, REGION).mode(Mode::Api));
    let server = start(b).await;
    let eks = eks_as(&server, "AKIACNADMIN000000001", "cn-secret").await;
    let out = eks.list_access_policies().send().await.unwrap();
    assert!(out.access_policies().iter().all(|p| {
        p.arn()
            .unwrap()
            .starts_with("arn:aws-cn:eks::aws:cluster-access-policy/")
    }));
    let ops = format!("arn:aws-cn:iam::{cn}:role/Ops");
    create_entry(&eks, "beijing", &ops).send().await.unwrap();
    // The aws-partition ARN is not a policy in aws-cn.
    let r = associate(&eks, "beijing", &ops, policy("AmazonEKSViewPolicy"))
        .access_scope(cluster_scope())
        .send()
        .await;
    assert_eq!(service_error(r).0, "InvalidParameterException");
    associate(
        &eks,
        "beijing",
        &ops,
        "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
    )
    .access_scope(cluster_scope())
    .send()
    .await
    .unwrap();
    let d = describe_entry(&eks, "beijing", &ops).send().await.unwrap();
    assert_eq!(
        d.access_entry().unwrap().username(),
        Some("arn:aws-cn:sts::210987654321:assumed-role/Ops/{{SessionName}}")
    );
}

#[tokio::test]
async fn associate_upserts_the_scope_and_disassociate_removes_it() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let dev = role(A, "team/dev/Developer");
    create_entry(&eks, "dual", &dev).send().await.unwrap();

    let first = associate(&eks, "dual", &dev, policy("AmazonEKSEditPolicy"))
        .access_scope(ns_scope(&["dev", "dev-*"]))
        .send()
        .await
        .unwrap();
    assert_eq!(first.cluster_name(), Some("dual"));
    assert_eq!(first.principal_arn(), Some(dev.as_str()));
    let a = first.associated_access_policy().unwrap();
    assert_eq!(a.access_scope().unwrap().namespaces(), ["dev", "dev-*"]);
    let associated_at = a.associated_at().cloned();

    let second = associate(&eks, "dual", &dev, policy("AmazonEKSEditPolicy"))
        .access_scope(cluster_scope())
        .send()
        .await
        .unwrap();
    let a = second.associated_access_policy().unwrap();
    assert_eq!(
        a.access_scope().unwrap().r#type(),
        Some(&AccessScopeType::Cluster)
    );
    assert!(a.access_scope().unwrap().namespaces().is_empty());
    assert_eq!(a.associated_at().cloned(), associated_at);

    associate(&eks, "dual", &dev, policy("AmazonEKSViewPolicy"))
        .access_scope(ns_scope(&["prod"]))
        .send()
        .await
        .unwrap();
    let list = list_associated(&eks, "dual", &dev).send().await.unwrap();
    assert_eq!(list.cluster_name(), Some("dual"));
    assert_eq!(list.associated_access_policies().len(), 2);
    let page = list_associated(&eks, "dual", &dev)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.associated_access_policies().len(), 1);
    assert!(page.next_token().is_some());

    // The policy ARN is a percent-encoded path label too.
    disassociate(&eks, "dual", &dev, policy("AmazonEKSEditPolicy"))
        .send()
        .await
        .unwrap();
    let list = list_associated(&eks, "dual", &dev).send().await.unwrap();
    let arns: Vec<&str> = list
        .associated_access_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, [policy("AmazonEKSViewPolicy")]);
    let r = disassociate(&eks, "dual", &dev, policy("AmazonEKSEditPolicy"))
        .send()
        .await;
    assert_eq!(status_of(&r), 404);
    assert_eq!(service_error(r).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn scope_rules_are_enforced() {
    let server = start(base().cluster(dual_cluster("dual"))).await;
    let eks = eks(&server).await;
    let viewer = role(A, "Viewer");
    let cluster_with_ns = AccessScope::builder()
        .r#type(AccessScopeType::Cluster)
        .namespaces("default")
        .build();
    let r = associate(&eks, "dual", &viewer, policy("AmazonEKSViewPolicy"))
        .access_scope(cluster_with_ns)
        .send()
        .await;
    assert_eq!(service_error(r).0, "InvalidParameterException");
    let r = associate(&eks, "dual", &viewer, policy("AmazonEKSViewPolicy"))
        .access_scope(ns_scope(&[]))
        .send()
        .await;
    let (code, msg) = service_error(r);
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("namespace"), "{msg}");
    let r = associate(&eks, "dual", &viewer, policy("AmazonEKSMadeUpPolicy"))
        .access_scope(cluster_scope())
        .send()
        .await;
    assert_eq!(service_error(r).0, "InvalidParameterException");
}

#[tokio::test]
async fn associate_needs_an_existing_standard_entry() {
    let spec = dual_cluster("dual").access_entry(AccessEntrySpec::typed(
        role(A, "Deployer"),
        AccessEntryType::Ec2,
    ));
    let server = start(base().cluster(spec)).await;
    let eks = eks(&server).await;
    let r = associate(
        &eks,
        "dual",
        role(A, "Ghost"),
        policy("AmazonEKSViewPolicy"),
    )
    .access_scope(cluster_scope())
    .send()
    .await;
    assert_eq!(status_of(&r), 404);
    assert_service_error(r, "ResourceNotFoundException", NOT_FOUND_MSG);
    let r = associate(
        &eks,
        "dual",
        role(A, "NodeRole"),
        policy("AmazonEKSViewPolicy"),
    )
    .access_scope(cluster_scope())
    .send()
    .await;
    assert_service_error(r, "InvalidParameterException", STANDARD_ONLY);
    // EC2 (Auto Mode) takes AmazonEKSAutoNodePolicy, and only that.
    associate(
        &eks,
        "dual",
        role(A, "Deployer"),
        policy("AmazonEKSAutoNodePolicy"),
    )
    .access_scope(cluster_scope())
    .send()
    .await
    .unwrap();
    let r = associate(
        &eks,
        "dual",
        role(A, "Deployer"),
        policy("AmazonEKSViewPolicy"),
    )
    .access_scope(cluster_scope())
    .send()
    .await;
    assert_eq!(service_error(r).1, STANDARD_ONLY);
}
