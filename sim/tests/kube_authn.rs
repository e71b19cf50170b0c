//! Authentication through kube-rs: the EKS token checks and, per authentication mode, which
//! source maps the caller (docs/aws-auth.md, docs/authentication-modes.md).

mod kube_support;

use std::collections::BTreeMap;
use std::time::Duration;

use eks_sim::kube::client::{client_with_token, eks_token, sim_time};
use eks_sim::world::{
    AccessEntrySpec, AccessEntryType, AccessScope, AuthenticationMode, ClusterSpec, Sim,
};
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, UserInfo};
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube_support::*;

/// alice is an admin through `aws-auth`; the `Dev` role maps with a session-name template;
/// bob's account is covered by `mapAccounts` only where the test says so.
fn aws_auth_data(with_accounts: bool) -> BTreeMap<String, String> {
    let mut data = aws_auth(&[
        (
            "mapUsers",
            "- userarn: arn:aws:iam::111122223333:user/people/alice\n  username: alice\n  groups:\n    - system:masters\n",
        ),
        (
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: \"dev:{{SessionName}}\"\n  groups:\n    - developers\n\
             - rolearn: arn:aws:iam::111122223333:role/NodeRole\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n",
        ),
    ]);
    if with_accounts {
        data.insert("mapAccounts".into(), "- \"111122223333\"\n".into());
    }
    data
}

fn cluster(name: &str, mode: AuthenticationMode, with_accounts: bool) -> ClusterSpec {
    ClusterSpec::new(name, ACCOUNT, REGION)
        .mode(mode)
        .creator(bob_arn())
        .aws_auth(aws_auth_data(with_accounts))
        .node("i-0123456789abcdef0.eu-west-1.compute.internal")
}

async fn whoami(client: kube::Client) -> Result<UserInfo, kube::Error> {
    let review = Api::<SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(review.status.unwrap().user_info.unwrap())
}

async fn get_aws_auth(client: kube::Client) -> Result<ConfigMap, kube::Error> {
    Api::<ConfigMap>::namespaced(client, "kube-system")
        .get("aws-auth")
        .await
}

fn groups(info: &UserInfo) -> Vec<String> {
    info.groups.clone().unwrap_or_default()
}

#[tokio::test]
async fn config_map_mode_maps_through_aws_auth() {
    let sim = world()
        .cluster(cluster("cm", AuthenticationMode::ConfigMap, false))
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("cm");

    let alice = whoami(client(&sim, &key, ALICE_KEY)).await.unwrap();
    assert_eq!(alice.username.as_deref(), Some("alice"));
    assert_eq!(
        groups(&alice),
        vec!["system:masters", "system:authenticated"]
    );
    assert!(
        alice
            .uid
            .unwrap()
            .starts_with("aws-iam-authenticator:111122223333:AIDA")
    );

    // The role's STS ARN has no path; aws-auth names it path-less; {{SessionName}} turns @ into -.
    let session = role_session(&sim, "Dev", "dana@example.com");
    let dev = whoami(client(&sim, &key, &session.id)).await.unwrap();
    assert_eq!(dev.username.as_deref(), Some("dev:dana-example.com"));
    assert_eq!(groups(&dev), vec!["developers", "system:authenticated"]);

    let node = role_session(&sim, "NodeRole", "i-0123456789abcdef0");
    let node_client = client(&sim, &key, &node.id);
    let info = whoami(node_client.clone()).await.unwrap();
    assert_eq!(
        info.username.as_deref(),
        Some("system:node:i-0123456789abcdef0.eu-west-1.compute.internal")
    );
    Api::<Node>::all(node_client)
        .list(&ListParams::default())
        .await
        .unwrap();
    // {{EC2PrivateDNSName}} for a session that is not an instance id: denied, no fall-through.
    let human_on_node_role = role_session(&sim, "NodeRole", "alice");
    let err = whoami(client(&sim, &key, &human_on_node_role.id))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
}

#[tokio::test]
async fn config_map_mode_has_the_hidden_creator_admin_and_ignores_entries() {
    let sim = world()
        .cluster(cluster("cm", AuthenticationMode::ConfigMap, false))
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("cm");

    // bob created the cluster: not in aws-auth, still admin.
    let bob = whoami(client(&sim, &key, BOB_KEY)).await.unwrap();
    assert!(groups(&bob).contains(&"system:masters".to_string()));
    get_aws_auth(client(&sim, &key, BOB_KEY)).await.unwrap();

    // An access entry (which EKS would not even let exist in CONFIG_MAP) changes nothing.
    {
        let cluster = sim.cluster(&key).unwrap();
        let mut state = cluster.lock();
        let uid = sim.unique_id_of(&alice_arn());
        let entry = state.new_entry(
            alice_arn(),
            AccessEntryType::Standard,
            Some("restricted".into()),
            Vec::new(),
            BTreeMap::new(),
            uid,
            sim.now(),
        );
        state.access_entries.insert(alice_arn(), entry);
    }
    let alice = whoami(client(&sim, &key, ALICE_KEY)).await.unwrap();
    assert_eq!(alice.username.as_deref(), Some("alice"));

    // Unmapped principals are refused.
    let admin = whoami(client(&sim, &key, ADMIN_KEY)).await.unwrap_err();
    assert_eq!(api_code(admin), 401);
}

#[tokio::test]
async fn deleting_aws_auth_unmaps_everyone_it_mapped() {
    let sim = world()
        .cluster(cluster("cm", AuthenticationMode::ConfigMap, false))
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("cm");
    Api::<ConfigMap>::namespaced(client(&sim, &key, ALICE_KEY), "kube-system")
        .delete("aws-auth", &DeleteParams::default())
        .await
        .unwrap();
    let err = get_aws_auth(client(&sim, &key, ALICE_KEY))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
    // The creator's admin does not depend on the ConfigMap.
    whoami(client(&sim, &key, BOB_KEY)).await.unwrap();
}

#[tokio::test]
async fn api_and_config_map_an_entry_overrides_aws_auth_entirely() {
    let sim = world()
        .cluster(
            cluster("dual", AuthenticationMode::ApiAndConfigMap, true)
                // alice's entry grants less than her aws-auth line: it still wins.
                .access_entry(AccessEntrySpec::standard(alice_arn()).group("reader"))
                // The entry names the role with its real path; the caller's STS ARN has none.
                .access_entry(AccessEntrySpec::standard(dev_role_arn()).group("developers")),
        )
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("dual");

    let alice = whoami(client(&sim, &key, ALICE_KEY)).await.unwrap();
    assert_eq!(alice.username.as_deref(), Some(alice_arn().as_str()));
    assert_eq!(groups(&alice), vec!["reader", "system:authenticated"]);
    let err = get_aws_auth(client(&sim, &key, ALICE_KEY))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 403);

    // Default role username: STS form, path removed, {{SessionName}} rendered.
    let session = role_session(&sim, "Dev", "dana");
    let dev = whoami(client(&sim, &key, &session.id)).await.unwrap();
    assert_eq!(
        dev.username.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/Dev/dana")
    );

    // No entry: aws-auth still applies, mapAccounts included (canonical ARN, no groups).
    let admin = whoami(client(&sim, &key, ADMIN_KEY)).await.unwrap();
    assert_eq!(admin.username.as_deref(), Some(admin_arn().as_str()));
    assert_eq!(groups(&admin), vec!["system:authenticated"]);

    // The creator's hidden admin is gone once the cluster uses access entries.
    let bob = whoami(client(&sim, &key, BOB_KEY)).await.unwrap();
    assert!(!groups(&bob).contains(&"system:masters".to_string()));
}

#[tokio::test]
async fn api_mode_ignores_aws_auth() {
    let sim = world()
        .cluster(
            cluster("api", AuthenticationMode::Api, true).access_entry(
                AccessEntrySpec::standard(bob_arn())
                    .policy("AmazonEKSClusterAdminPolicy", AccessScope::cluster()),
            ),
        )
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("api");
    for unmapped in [ALICE_KEY, ADMIN_KEY] {
        let err = whoami(client(&sim, &key, unmapped)).await.unwrap_err();
        assert_eq!(api_code(err), 401);
    }
    get_aws_auth(client(&sim, &key, BOB_KEY)).await.unwrap();
}

#[tokio::test]
async fn node_entries_get_node_identities() {
    let sim = world()
        .cluster(
            ClusterSpec::new("api", ACCOUNT, REGION)
                .mode(AuthenticationMode::Api)
                .access_entry(AccessEntrySpec::typed(
                    node_role_arn(),
                    AccessEntryType::Ec2Linux,
                ))
                .node("i-0123456789abcdef0.eu-west-1.compute.internal"),
        )
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("api");
    let node = role_session(&sim, "NodeRole", "i-0123456789abcdef0");
    let client = client(&sim, &key, &node.id);
    let info = whoami(client.clone()).await.unwrap();
    assert_eq!(
        info.username.as_deref(),
        Some("system:node:i-0123456789abcdef0.eu-west-1.compute.internal")
    );
    assert_eq!(groups(&info), vec!["system:nodes", "system:authenticated"]);
    Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_recreated_principal_no_longer_matches_its_entry() {
    let sim = world()
        .cluster(
            ClusterSpec::new("api", ACCOUNT, REGION)
                .mode(AuthenticationMode::Api)
                .access_entry(
                    AccessEntrySpec::standard(bob_arn())
                        .policy("AmazonEKSClusterAdminPolicy", AccessScope::cluster()),
                ),
        )
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("api");
    whoami(client(&sim, &key, BOB_KEY)).await.unwrap();
    sim.recreate_principal(&bob_arn()).expect("bob exists");
    let err = whoami(client(&sim, &key, BOB_KEY)).await.unwrap_err();
    assert_eq!(api_code(err), 401);
}

fn sim_with_two_clusters() -> Sim {
    world()
        .cluster(cluster("one", AuthenticationMode::ConfigMap, false))
        .cluster(cluster("two", AuthenticationMode::ConfigMap, false))
        .build()
        .unwrap()
}

#[tokio::test]
async fn expired_and_wrong_cluster_tokens_are_refused() {
    let sim = sim_with_two_clusters();
    let _server = serve(&sim).await;
    let one = cluster_key("one");
    let two = cluster_key("two");

    // A token made for cluster two does not open cluster one.
    let err = whoami(client_with_token_for(&sim, &one, &two, ALICE_KEY))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
    whoami(client_with_token_for(&sim, &two, &two, ALICE_KEY))
        .await
        .unwrap();

    // `aws eks get-token` presigns for 60 seconds, but the authenticator ignores X-Amz-Expires:
    // a token is good for 15 minutes from X-Amz-Date.
    let access_key = sim.access_key(ALICE_KEY).unwrap();
    let token = eks_token(&access_key, "one", REGION, sim_time(&sim)).unwrap();
    let fresh = client_with_token(&sim, &one, &token).unwrap();
    whoami(fresh.clone()).await.unwrap();
    sim.advance_clock(Duration::from_secs(61));
    whoami(fresh.clone()).await.unwrap();
    sim.advance_clock(Duration::from_secs(900 - 61 + 1));
    let err = whoami(fresh).await.unwrap_err();
    assert_eq!(api_code(err), 401);

    // A token signed with the wrong secret, and no token at all.
    let mut forged = access_key.clone();
    forged.secret = "not-the-secret".into();
    let bad = eks_token(&forged, "one", REGION, sim_time(&sim)).unwrap();
    let err = whoami(client_with_token(&sim, &one, &bad).unwrap())
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
    let err = whoami(client_with_token(&sim, &one, "not-a-token").unwrap())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 401);
            assert_eq!(status.reason, "Unauthorized");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_creator_keeps_admin_through_its_entry_after_the_mode_switch() {
    let sim = world()
        .cluster(cluster("cm", AuthenticationMode::ConfigMap, false))
        .build()
        .unwrap();
    let _server = serve(&sim).await;
    let key = cluster_key("cm");
    {
        let cluster = sim.cluster(&key).unwrap();
        let mut state = cluster.lock();
        let iam = sim.iam();
        state.switch_mode(AuthenticationMode::ApiAndConfigMap, sim.now(), &iam);
    }
    // EKS made the creator's admin a visible entry with AmazonEKSClusterAdminPolicy
    // (docs/authentication-modes.md#the-first-switch):
    // the identity is now the entry's default username, and access comes from the policy.
    let bob = client(&sim, &key, BOB_KEY);
    let info = whoami(bob.clone()).await.unwrap();
    assert_eq!(info.username.as_deref(), Some(bob_arn().as_str()));
    assert!(!groups(&info).contains(&"system:masters".to_string()));
    get_aws_auth(bob).await.unwrap();
    // aws-auth principals are unaffected.
    get_aws_auth(client(&sim, &key, ALICE_KEY)).await.unwrap();
}
