//! Cluster-level EKS operations through aws-sdk-eks: listing, describing, the authentication-mode
//! switch and its update lifecycle (docs/authentication-modes.md), node groups and Fargate
//! profiles.

mod eks_support;

use std::time::Duration;

use aws_sdk_eks::operation::update_cluster_config::builders::UpdateClusterConfigFluentBuilder;
use aws_sdk_eks::types::{
    AccessScopeType, AuthenticationMode, LogSetup, LogType, Logging, UpdateAccessConfigRequest,
    UpdateStatus,
};
use base64::Engine;
use eks_sim::faults::FaultConfig;
use eks_sim::world::{AuthenticationMode as Mode, ClusterKey, ClusterSpec};
use eks_support::*;

fn access(mode: AuthenticationMode) -> UpdateAccessConfigRequest {
    UpdateAccessConfigRequest::builder()
        .authentication_mode(mode)
        .build()
}

/// `update_cluster_config` of `cluster` switching to `mode`, ready to send.
fn switch(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    mode: AuthenticationMode,
) -> UpdateClusterConfigFluentBuilder {
    eks.update_cluster_config()
        .name(cluster)
        .access_config(access(mode))
}

/// The status DescribeUpdate reports for update `id` of `cluster`.
async fn update_status(eks: &aws_sdk_eks::Client, cluster: &str, id: &str) -> Option<UpdateStatus> {
    let d = eks
        .describe_update()
        .name(cluster)
        .update_id(id)
        .send()
        .await
        .unwrap();
    d.update().unwrap().status().cloned()
}

/// Logging of one log type, enabled.
fn logging(log_type: LogType) -> Logging {
    Logging::builder()
        .cluster_logging(LogSetup::builder().types(log_type).enabled(true).build())
        .build()
}

#[tokio::test]
async fn list_clusters_pages_by_max_results_and_ends_without_token() {
    let mut b = base();
    for i in 0..5 {
        b = b.cluster(ClusterSpec::new(format!("c{i}"), A, REGION));
    }
    // Other regions and accounts are not listed.
    b = b
        .cluster(ClusterSpec::new("elsewhere", A, "eu-west-1"))
        .cluster(ClusterSpec::new("theirs", B, REGION));
    let server = start(b).await;
    let eks = eks(&server).await;

    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = eks
            .list_clusters()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.clusters().len() <= 2);
        names.extend(out.clusters().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);

    let all = eks.list_clusters().send().await.unwrap();
    assert_eq!(all.clusters().len(), 5);
    assert_eq!(all.next_token(), None);

    for bad in [0, 101] {
        let (code, msg) = service_error(eks.list_clusters().max_results(bad).send().await);
        assert_eq!(code, "InvalidParameterException");
        assert!(msg.contains("maxResults"), "{msg}");
    }
    let (code, _) = service_error(eks.list_clusters().next_token("not-a-token").send().await);
    assert_eq!(code, "InvalidParameterException");
}

#[tokio::test]
async fn describe_cluster_reports_access_config_endpoint_and_ca() {
    let server = start(base().cluster(config_map_cluster("prod"))).await;
    let eks = eks(&server).await;
    let out = eks.describe_cluster().name("prod").send().await.unwrap();
    let c = out.cluster().unwrap();
    assert_eq!(c.name(), Some("prod"));
    assert_eq!(
        c.arn(),
        Some("arn:aws:eks:us-east-1:111122223333:cluster/prod")
    );
    assert_eq!(c.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(c.version(), Some("1.31"));
    assert!(c.platform_version().is_some());
    let ac = c.access_config().unwrap();
    assert_eq!(
        ac.authentication_mode(),
        Some(&AuthenticationMode::ConfigMap)
    );
    assert_eq!(ac.bootstrap_cluster_creator_admin_permissions(), Some(true));
    let key = ClusterKey::new(A, REGION, "prod");
    assert_eq!(c.endpoint(), Some(server.kube_endpoint(&key).as_str()));
    assert!(c.endpoint().unwrap().starts_with("https://127.0.0.1:"));
    let ca = base64::engine::general_purpose::STANDARD
        .decode(c.certificate_authority().unwrap().data().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(ca).unwrap(), server.ca_pem());
    assert!(c.created_at().is_some());
}

#[tokio::test]
async fn bootstrap_flag_is_absent_for_old_clusters() {
    let server =
        start(base().cluster(ClusterSpec::new("old", A, REGION).bootstrap_admin(None))).await;
    let out = eks(&server)
        .await
        .describe_cluster()
        .name("old")
        .send()
        .await
        .unwrap();
    let ac = out.cluster().unwrap().access_config().unwrap();
    assert_eq!(ac.bootstrap_cluster_creator_admin_permissions(), None);
}

#[tokio::test]
async fn missing_cluster_is_resource_not_found() {
    let server = start(base()).await;
    let r = eks(&server)
        .await
        .describe_cluster()
        .name("nope")
        .send()
        .await;
    assert_eq!(status_of(&r), 404);
    assert_service_error(
        r,
        "ResourceNotFoundException",
        "No cluster found for name: nope.",
    );
}

#[tokio::test]
async fn cluster_of_an_account_without_credentials_is_access_denied() {
    let server = start(base().cluster(ClusterSpec::new("theirs", B, REGION))).await;
    let r = eks(&server)
        .await
        .describe_cluster()
        .name("theirs")
        .send()
        .await;
    assert_eq!(status_of(&r), 403);
    let (code, msg) = service_error(r);
    assert_eq!(code, "AccessDeniedException");
    assert!(
        msg.contains("arn:aws:iam::111122223333:user/admin"),
        "{msg}"
    );
    assert!(msg.contains("eks:DescribeCluster"), "{msg}");
    // Bob has credentials in B and sees it.
    let bob = eks_as(&server, BOB_KEY, BOB_SECRET).await;
    bob.describe_cluster().name("theirs").send().await.unwrap();
}

#[tokio::test]
async fn unknown_key_and_wrong_secret_are_refused() {
    let server = start(base().cluster(ClusterSpec::new("prod", A, REGION))).await;
    let unknown = eks_as(&server, "AKIAUNKNOWN000000000", "x").await;
    let r = unknown.list_clusters().send().await;
    assert_eq!(status_of(&r), 403);
    assert_eq!(service_error(r).0, "UnrecognizedClientException");
    let wrong = eks_as(&server, ADMIN_KEY, "not-the-secret").await;
    let r = wrong.describe_cluster().name("prod").send().await;
    assert_eq!(status_of(&r), 403);
    assert_eq!(service_error(r).0, "InvalidSignatureException");
}

#[tokio::test]
async fn switch_to_api_and_config_map_creates_node_fargate_and_creator_entries() {
    let server = start(
        base()
            .cluster(config_map_cluster("prod"))
            .update_duration(Duration::from_secs(60)),
    )
    .await;
    let sim = server.sim().clone();
    let eks = eks(&server).await;

    let out = switch(&eks, "prod", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await
        .unwrap();
    let update = out.update().unwrap();
    assert_eq!(update.status(), Some(&UpdateStatus::InProgress));
    assert_eq!(
        update.r#type().map(|t| t.as_str()),
        Some("AccessConfigUpdate")
    );
    let param = &update.params()[0];
    assert_eq!(
        param.r#type().map(|t| t.as_str()),
        Some("AuthenticationMode")
    );
    assert_eq!(param.value(), Some("\"API_AND_CONFIG_MAP\""));
    assert!(update.errors().is_empty());
    let id = update.id().unwrap().to_string();

    // While it runs: cluster UPDATING, mode unchanged, entries refused, a second update refused.
    let c = eks.describe_cluster().name("prod").send().await.unwrap();
    assert_eq!(
        c.cluster().unwrap().status().map(|s| s.as_str()),
        Some("UPDATING")
    );
    assert_eq!(
        c.cluster()
            .unwrap()
            .access_config()
            .unwrap()
            .authentication_mode(),
        Some(&AuthenticationMode::ConfigMap)
    );
    let r = switch(&eks, "prod", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await;
    assert_eq!(status_of(&r), 409);
    assert_service_error(
        r,
        "ResourceInUseException",
        format!(
            "Cannot AccessConfigUpdate because cluster prod currently has update {id} in progress"
        ),
    );
    assert_eq!(
        update_status(&eks, "prod", &id).await,
        Some(UpdateStatus::InProgress)
    );

    sim.advance_clock(Duration::from_secs(61));
    assert_eq!(
        update_status(&eks, "prod", &id).await,
        Some(UpdateStatus::Successful)
    );
    let c = eks.describe_cluster().name("prod").send().await.unwrap();
    let c = c.cluster().unwrap();
    assert_eq!(c.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(
        c.access_config().unwrap().authentication_mode(),
        Some(&AuthenticationMode::ApiAndConfigMap)
    );

    let entries = eks
        .list_access_entries()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    let mut arns = entries.access_entries().to_vec();
    arns.sort();
    assert_eq!(
        arns,
        [
            role(A, "ClusterCreator"),
            role(A, "FargatePodRole"),
            role(A, "NodeRole"),
            role(A, "WinNodeRole")
        ]
    );
    let expect = [
        ("NodeRole", "EC2_LINUX", "system:node:{{EC2PrivateDNSName}}"),
        (
            "WinNodeRole",
            "EC2_WINDOWS",
            "system:node:{{EC2PrivateDNSName}}",
        ),
        (
            "FargatePodRole",
            "FARGATE_LINUX",
            "system:node:{{SessionName}}",
        ),
    ];
    for (name, ty, username) in expect {
        let e = describe_entry(&eks, "prod", role(A, name))
            .send()
            .await
            .unwrap();
        let e = e.access_entry().unwrap();
        assert_eq!(e.r#type(), Some(ty), "{name}");
        assert_eq!(e.username(), Some(username), "{name}");
        assert_eq!(e.kubernetes_groups(), ["system:nodes"], "{name}");
    }
    let creator = describe_entry(&eks, "prod", role(A, "ClusterCreator"))
        .send()
        .await
        .unwrap();
    let creator = creator.access_entry().unwrap();
    assert_eq!(creator.r#type(), Some("STANDARD"));
    assert_eq!(
        creator.username(),
        Some("arn:aws:sts::111122223333:assumed-role/ClusterCreator/{{SessionName}}")
    );
    let policies = list_associated(&eks, "prod", role(A, "ClusterCreator"))
        .send()
        .await
        .unwrap();
    let p = &policies.associated_access_policies()[0];
    assert_eq!(
        p.policy_arn(),
        Some(policy("AmazonEKSClusterAdminPolicy").as_str())
    );
    assert_eq!(
        p.access_scope().unwrap().r#type(),
        Some(&AccessScopeType::Cluster)
    );
    assert!(p.access_scope().unwrap().namespaces().is_empty());

    // Then API; the creator entry is not created twice.
    let out = switch(&eks, "prod", AuthenticationMode::Api)
        .send()
        .await
        .unwrap();
    sim.advance_clock(Duration::from_secs(61));
    let id2 = out.update().unwrap().id().unwrap();
    assert_eq!(
        update_status(&eks, "prod", id2).await,
        Some(UpdateStatus::Successful)
    );
    let c = eks.describe_cluster().name("prod").send().await.unwrap();
    assert_eq!(
        c.cluster()
            .unwrap()
            .access_config()
            .unwrap()
            .authentication_mode(),
        Some(&AuthenticationMode::Api)
    );
    let entries = eks
        .list_access_entries()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(entries.access_entries().len(), 4);
    let ids = eks.list_updates().name("prod").send().await.unwrap();
    assert_eq!(ids.update_ids(), [id.as_str(), id2]);
}

#[tokio::test]
async fn no_creator_entry_without_bootstrap_permissions() {
    let spec = ClusterSpec::new("old", A, REGION)
        .creator(role(A, "ClusterCreator"))
        .bootstrap_admin(None);
    let server = start(base().cluster(spec).update_duration(Duration::ZERO)).await;
    let eks = eks(&server).await;
    switch(&eks, "old", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await
        .unwrap();
    let entries = eks
        .list_access_entries()
        .cluster_name("old")
        .send()
        .await
        .unwrap();
    assert!(entries.access_entries().is_empty());
}

#[tokio::test]
async fn mode_transitions_are_one_way_with_exact_messages() {
    let server = start(
        base()
            .cluster(ClusterSpec::new("cm", A, REGION))
            .cluster(ClusterSpec::new("dual", A, REGION).mode(Mode::ApiAndConfigMap))
            .cluster(ClusterSpec::new("api", A, REGION).mode(Mode::Api)),
    )
    .await;
    let eks = eks(&server).await;
    let cases = [
        ("cm", AuthenticationMode::Api, "CONFIG_MAP to API"),
        (
            "cm",
            AuthenticationMode::ConfigMap,
            "CONFIG_MAP to CONFIG_MAP",
        ),
        (
            "dual",
            AuthenticationMode::ConfigMap,
            "API_AND_CONFIG_MAP to CONFIG_MAP",
        ),
        (
            "dual",
            AuthenticationMode::ApiAndConfigMap,
            "API_AND_CONFIG_MAP to API_AND_CONFIG_MAP",
        ),
        (
            "api",
            AuthenticationMode::ApiAndConfigMap,
            "API to API_AND_CONFIG_MAP",
        ),
        ("api", AuthenticationMode::ConfigMap, "API to CONFIG_MAP"),
        ("api", AuthenticationMode::Api, "API to API"),
    ];
    for (cluster, to, text) in cases {
        let r = switch(&eks, cluster, to).send().await;
        assert_eq!(status_of(&r), 400);
        let (code, msg) = service_error(r);
        assert_eq!(code, "InvalidParameterException", "{cluster}");
        assert_eq!(
            msg,
            format!("Unsupported authentication mode update from {text}")
        );
    }
    assert!(
        eks.list_updates()
            .name("cm")
            .send()
            .await
            .unwrap()
            .update_ids()
            .is_empty()
    );
}

#[tokio::test]
async fn access_config_must_be_the_only_update() {
    let server = start(base().cluster(ClusterSpec::new("cm", A, REGION))).await;
    let eks = eks(&server).await;
    let logging = logging(LogType::Api);
    let r = switch(&eks, "cm", AuthenticationMode::ApiAndConfigMap)
        .logging(logging.clone())
        .send()
        .await;
    assert_service_error(
        r,
        "InvalidParameterException",
        "Only one type of update can be allowed.",
    );

    // Logging alone is an update of its own kind, and blocks the access switch while it runs.
    let u = eks
        .update_cluster_config()
        .name("cm")
        .logging(logging)
        .send()
        .await
        .unwrap();
    assert_eq!(
        u.update().unwrap().r#type().map(|t| t.as_str()),
        Some("LoggingUpdate")
    );
    let r = switch(&eks, "cm", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await;
    assert_eq!(service_error(r).0, "ResourceInUseException");
}

#[tokio::test]
async fn an_update_the_tool_did_not_start_blocks_the_switch() {
    let server = start(base().cluster(ClusterSpec::new("cm", A, REGION))).await;
    let sim = server.sim().clone();
    let cluster = sim.cluster(&ClusterKey::new(A, REGION, "cm")).unwrap();
    let id = cluster.lock().start_update(
        "VersionUpdate",
        Vec::new(),
        None,
        sim.now(),
        Duration::from_secs(300),
        None,
    );
    let eks = eks(&server).await;
    let r = switch(&eks, "cm", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await;
    assert_service_error(
        r,
        "ResourceInUseException",
        format!(
            "Cannot AccessConfigUpdate because cluster cm currently has update {id} in progress"
        ),
    );
    sim.advance_clock(Duration::from_secs(301));
    switch(&eks, "cm", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_update_reports_errors_and_keeps_the_mode() {
    let server = start(
        base()
            .cluster(config_map_cluster("cm"))
            .update_duration(Duration::ZERO),
    )
    .await;
    server.sim().set_faults(FaultConfig {
        update_failure_rate: 1.0,
        ..FaultConfig::default()
    });
    let eks = eks(&server).await;
    let u = switch(&eks, "cm", AuthenticationMode::ApiAndConfigMap)
        .send()
        .await
        .unwrap();
    let id = u.update().unwrap().id().unwrap();
    let d = eks
        .describe_update()
        .name("cm")
        .update_id(id)
        .send()
        .await
        .unwrap();
    let d = d.update().unwrap();
    assert_eq!(d.status(), Some(&UpdateStatus::Failed));
    assert_eq!(d.errors().len(), 1);
    assert!(d.errors()[0].error_message().is_some());
    let c = eks.describe_cluster().name("cm").send().await.unwrap();
    let c = c.cluster().unwrap();
    assert_eq!(
        c.access_config().unwrap().authentication_mode(),
        Some(&AuthenticationMode::ConfigMap)
    );
    assert_eq!(c.status().map(|s| s.as_str()), Some("ACTIVE"));
}

#[tokio::test]
async fn updates_list_pages_and_unknown_update_is_not_found() {
    let server = start(
        base()
            .cluster(ClusterSpec::new("cm", A, REGION))
            .update_duration(Duration::ZERO),
    )
    .await;
    let eks = eks(&server).await;
    let logging = logging(LogType::Audit);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let u = eks
            .update_cluster_config()
            .name("cm")
            .logging(logging.clone())
            .send()
            .await
            .unwrap();
        ids.push(u.update().unwrap().id().unwrap().to_string());
    }
    let first = eks
        .list_updates()
        .name("cm")
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.update_ids(), &ids[..2]);
    let second = eks
        .list_updates()
        .name("cm")
        .max_results(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.update_ids(), &ids[2..]);
    assert_eq!(second.next_token(), None);
    let r = eks
        .describe_update()
        .name("cm")
        .update_id("0000")
        .send()
        .await;
    assert_eq!(status_of(&r), 404);
    assert_eq!(service_error(r).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn node_groups_and_fargate_profiles_are_listed_and_described() {
    let server = start(base().cluster(config_map_cluster("prod"))).await;
    let eks = eks(&server).await;
    let ngs = eks
        .list_nodegroups()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(ngs.nodegroups(), ["linux", "windows"]);
    let page = eks
        .list_nodegroups()
        .cluster_name("prod")
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.nodegroups(), ["linux"]);
    assert!(page.next_token().is_some());
    let ng = eks
        .describe_nodegroup()
        .cluster_name("prod")
        .nodegroup_name("windows")
        .send()
        .await
        .unwrap();
    let ng = ng.nodegroup().unwrap();
    assert_eq!(ng.node_role(), Some(role(A, "WinNodeRole").as_str()));
    assert_eq!(
        ng.ami_type().map(|a| a.as_str()),
        Some("WINDOWS_CORE_2022_x86_64")
    );
    let r = eks
        .describe_nodegroup()
        .cluster_name("prod")
        .nodegroup_name("gpu")
        .send()
        .await;
    assert_eq!(service_error(r).0, "ResourceNotFoundException");

    let fps = eks
        .list_fargate_profiles()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(fps.fargate_profile_names(), ["fp-default"]);
    let fp = eks
        .describe_fargate_profile()
        .cluster_name("prod")
        .fargate_profile_name("fp-default")
        .send()
        .await
        .unwrap();
    let fp = fp.fargate_profile().unwrap();
    assert_eq!(
        fp.pod_execution_role_arn(),
        Some(role(A, "FargatePodRole").as_str())
    );
    assert_eq!(fp.selectors()[0].namespace(), Some("default"));
}
