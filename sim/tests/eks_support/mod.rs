//! Shared by the EKS/IAM/STS/world test crates: a standard world and SDK clients pointed at a
//! running simulator on 127.0.0.1, with retries disabled so every error surfaces once.
#![allow(dead_code)]

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::operation::associate_access_policy::builders::AssociateAccessPolicyFluentBuilder;
use aws_sdk_eks::operation::create_access_entry::builders::CreateAccessEntryFluentBuilder;
use aws_sdk_eks::operation::delete_access_entry::builders::DeleteAccessEntryFluentBuilder;
use aws_sdk_eks::operation::describe_access_entry::builders::DescribeAccessEntryFluentBuilder;
use aws_sdk_eks::operation::disassociate_access_policy::builders::DisassociateAccessPolicyFluentBuilder;
use aws_sdk_eks::operation::list_associated_access_policies::builders::ListAssociatedAccessPoliciesFluentBuilder;
use aws_sdk_eks::operation::update_access_entry::builders::UpdateAccessEntryFluentBuilder;
use eks_sim::world::{AccessEntrySpec, AccessEntryType, AccessScope, ClusterSpec, WorldBuilder};
use eks_sim::{SimServer, World};

pub const A: &str = "111122223333";
pub const B: &str = "444455556666";
pub const REGION: &str = "us-east-1";

pub const ADMIN_KEY: &str = "AKIAADMINEXAMPLE0001";
pub const ADMIN_SECRET: &str = "admin/secret/KEY/EXAMPLE+0001";
pub const BOB_KEY: &str = "AKIABOBEXAMPLE000002";
pub const BOB_SECRET: &str = "bob-secret-0002";
pub const ALICE_KEY: &str = "AKIAALICEEXAMPLE0003";
pub const ALICE_SECRET: &str = "alice-secret-0003";

pub fn role(account: &str, path_and_name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{path_and_name}")
}

pub fn user(account: &str, path_and_name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{path_and_name}")
}

pub fn policy(name: &str) -> String {
    format!("arn:aws:eks::aws:cluster-access-policy/{name}")
}

pub const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/";
pub const SSO_ROLE: &str = "AWSReservedSSO_Admin_0123456789abcdef";

/// Accounts A and B with users, roles (plain, pathed, SSO, service-linked, node, Fargate,
/// creator) and trust, and no clusters.
pub fn base() -> WorldBuilder {
    World::builder()
        .seed(7)
        .account(A)
        .account(B)
        .user(A, "/", "admin", ADMIN_KEY, ADMIN_SECRET)
        .user(A, "/people/", "alice", ALICE_KEY, ALICE_SECRET)
        .user(B, "/", "bob", BOB_KEY, BOB_SECRET)
        .role(A, "/", "NodeRole")
        .role(A, "/", "WinNodeRole")
        .role(A, "/", "FargatePodRole")
        .role(A, "/", "ClusterCreator")
        .role(A, "/", "Viewer")
        .role(A, "/team/dev/", "Developer")
        .role(A, SSO_PATH, SSO_ROLE)
        .role(
            A,
            "/aws-service-role/eks.amazonaws.com/",
            "AWSServiceRoleForAmazonEKS",
        )
        .role(B, "/", "Auditor")
        .role_trusting(B, "/", "CrossAccountAdmin", &[&user(A, "admin")])
        .role_trusting(B, "/", "AccountTrusted", &[A])
        .role_trusting(A, "/", "Deployer", &[&user(A, "admin")])
        .role(A, "/", "Untrusting")
        .caller(ADMIN_KEY)
}

/// A `CONFIG_MAP` cluster with Linux + Windows node groups, a Fargate profile and a creator.
pub fn config_map_cluster(name: &str) -> ClusterSpec {
    ClusterSpec::new(name, A, REGION)
        .creator(role(A, "ClusterCreator"))
        .nodegroup("linux", role(A, "NodeRole"), "AL2023_x86_64_STANDARD")
        .nodegroup("windows", role(A, "WinNodeRole"), "WINDOWS_CORE_2022_x86_64")
        .fargate_profile("fp-default", role(A, "FargatePodRole"), "default")
        .aws_auth_key("mapRoles", "- rolearn: arn:aws:iam::111122223333:role/NodeRole\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n")
}

/// An `API_AND_CONFIG_MAP` cluster with a viewer entry and an EKS-created SLR entry.
pub fn dual_cluster(name: &str) -> ClusterSpec {
    ClusterSpec::new(name, A, REGION)
        .mode(eks_sim::world::AuthenticationMode::ApiAndConfigMap)
        .creator(role(A, "ClusterCreator"))
        .access_entry(
            AccessEntrySpec::standard(role(A, "Viewer"))
                .group("viewers")
                .policy("AmazonEKSViewPolicy", AccessScope::namespaces(["default"])),
        )
        .access_entry(AccessEntrySpec::standard(role(
            A,
            "aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
        )))
        .access_entry(AccessEntrySpec::typed(
            role(A, "NodeRole"),
            AccessEntryType::Ec2Linux,
        ))
}

pub async fn start(builder: WorldBuilder) -> SimServer {
    let sim = builder.build().expect("valid world");
    eks_sim::start(sim)
        .await
        .expect("simulator starts on 127.0.0.1")
}

pub async fn sdk_config(
    server: &SimServer,
    key: &str,
    secret: &str,
    token: Option<String>,
) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(server.aws_url())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(Credentials::new(key, secret, token, None, "eks-sim-tests"))
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

pub async fn eks_as(server: &SimServer, key: &str, secret: &str) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&sdk_config(server, key, secret, None).await)
}

/// EKS client signed by account A's admin user.
pub async fn eks(server: &SimServer) -> aws_sdk_eks::Client {
    eks_as(server, ADMIN_KEY, ADMIN_SECRET).await
}

pub async fn iam(server: &SimServer) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config(server, ADMIN_KEY, ADMIN_SECRET, None).await)
}

pub async fn sts_as(server: &SimServer, key: &str, secret: &str) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&sdk_config(server, key, secret, None).await)
}

/// The service error's code and message, or a panic naming what came back instead.
pub fn service_error<E, R>(
    result: Result<impl std::fmt::Debug, aws_sdk_eks::error::SdkError<E, R>>,
) -> (String, String)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(v) => panic!("expected a service error, got {v:?}"),
        Err(e) => match e.as_service_error() {
            Some(se) => (
                se.code().unwrap_or_default().to_string(),
                se.message().unwrap_or_default().to_string(),
            ),
            None => panic!("expected a service error, got {e:?}"),
        },
    }
}

/// HTTP status of a response (200 for success, 0 when none arrived).
pub fn status_of<T, E>(
    result: &Result<T, aws_sdk_eks::error::SdkError<E, aws_sdk_eks::config::http::HttpResponse>>,
) -> u16 {
    match result {
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
        Ok(_) => 200,
    }
}

/// Asserts that `result` is the service error `code` with exactly `message`.
#[track_caller]
pub fn assert_service_error<E, R>(
    result: Result<impl std::fmt::Debug, aws_sdk_eks::error::SdkError<E, R>>,
    code: &str,
    message: impl AsRef<str>,
) where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    assert_eq!(
        service_error(result),
        (code.to_string(), message.as_ref().to_string())
    );
}

/// Request builders for one access entry (or one of its policies) of `cluster`, addressed by
/// principal ARN; the caller adds the rest of the request and sends it.
macro_rules! entry_requests {
    ($($name:ident: $op:ident -> $builder:ident $(, $policy:ident)?;)*) => {$(
        pub fn $name(
            eks: &aws_sdk_eks::Client,
            cluster: &str,
            principal_arn: impl Into<String>,
            $($policy: impl Into<String>,)?
        ) -> $builder {
            eks.$op()
                .cluster_name(cluster)
                .principal_arn(principal_arn)
                $(.policy_arn($policy))?
        }
    )*};
}

entry_requests! {
    create_entry: create_access_entry -> CreateAccessEntryFluentBuilder;
    describe_entry: describe_access_entry -> DescribeAccessEntryFluentBuilder;
    update_entry: update_access_entry -> UpdateAccessEntryFluentBuilder;
    delete_entry: delete_access_entry -> DeleteAccessEntryFluentBuilder;
    list_associated: list_associated_access_policies -> ListAssociatedAccessPoliciesFluentBuilder;
    associate: associate_access_policy -> AssociateAccessPolicyFluentBuilder, policy_arn;
    disassociate: disassociate_access_policy -> DisassociateAccessPolicyFluentBuilder, policy_arn;
}
