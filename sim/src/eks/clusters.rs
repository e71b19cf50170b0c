//! Cluster-level operations: ListClusters, DescribeCluster, UpdateClusterConfig, DescribeUpdate,
//! ListUpdates, and the read-only node group and Fargate profile calls.

use base64::Engine;
use serde_json::{Value, json};

use super::{in_use, invalid_parameter, not_found, page_request, paginate, with_token};
use crate::server::{AwsRequest, Reply, ServiceError};
use crate::world::{
    AuthenticationMode, Cluster, ClusterState, ClusterUpdate, Sim, UpdateError, format_uuid,
};

pub(super) fn list_clusters(sim: &Sim, req: &AwsRequest) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let names = sim
        .cluster_keys()
        .into_iter()
        .filter(|k| k.account == req.caller.account && k.region == req.region)
        .map(|k| (k.name.clone(), k.name));
    let (items, token) = paginate(names, &page);
    Ok(Reply::json(
        200,
        &with_token(json!({ "clusters": items }), token),
    ))
}

pub(super) fn describe_cluster(sim: &Sim, cluster: &Cluster) -> Result<Reply, ServiceError> {
    let s = cluster.lock();
    let mut access_config = json!({ "authenticationMode": s.authentication_mode.as_str() });
    if let Some(b) = s.bootstrap_cluster_creator_admin_permissions {
        access_config["bootstrapClusterCreatorAdminPermissions"] = json!(b);
    }
    let mut c = json!({
        "name": s.key.name,
        "arn": s.arn(),
        "createdAt": s.created_at,
        "version": s.kubernetes_version,
        "platformVersion": s.platform_version,
        "status": s.status.as_str(),
        "roleArn": format!("arn:{}:iam::{}:role/eks-cluster-role", s.partition, s.key.account),
        "tags": s.tags,
        "accessConfig": access_config,
    });
    // Only a started server has an endpoint and a CA (the library can run without one).
    if let Some(endpoint) = sim.kube_endpoint(&s.key) {
        c["endpoint"] = json!(endpoint);
    }
    if let Some(pem) = sim.endpoints().ca_pem {
        c["certificateAuthority"] =
            json!({ "data": base64::engine::general_purpose::STANDARD.encode(pem) });
    }
    Ok(Reply::json(200, &json!({ "cluster": c })))
}

/// The update type a non-access config block starts (the simulator changes nothing for them).
fn update_type_of(block: &str) -> &'static str {
    match block {
        "logging" => "LoggingUpdate",
        "resourcesVpcConfig" => "EndpointAccessUpdate",
        "upgradePolicy" => "UpgradePolicyUpdate",
        "zonalShiftConfig" => "ZonalShiftConfigUpdate",
        "computeConfig" | "storageConfig" | "kubernetesNetworkConfig" => "AutoModeUpdate",
        "remoteNetworkConfig" => "RemoteNetworkConfigUpdate",
        "deletionProtection" => "DeletionProtectionUpdate",
        "controlPlaneScalingConfig" => "ControlPlaneScalingConfigUpdate",
        _ => "ConfigUpdate",
    }
}

pub(super) fn update_cluster_config(
    sim: &Sim,
    req: &AwsRequest,
    cluster: &Cluster,
) -> Result<Reply, ServiceError> {
    let body = super::body_json(req)?;
    let blocks: Vec<(&String, &Value)> = body
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| k.as_str() != "clientRequestToken" && !v.is_null())
                .collect()
        })
        .unwrap_or_default();
    if blocks.len() > 1 {
        return Err(invalid_parameter("Only one type of update can be allowed."));
    }
    let Some((block, value)) = blocks.first().copied() else {
        return Err(invalid_parameter(
            "No changes needed for the cluster configuration.",
        ));
    };
    let key = cluster.lock().key.clone();
    // Decided before locking again: the fault draw must not depend on lock timing.
    let fails = sim.faults().update_fails(&key);
    let mut s = cluster.lock();
    let update_type = if block == "accessConfig" {
        "AccessConfigUpdate"
    } else {
        update_type_of(block)
    };
    if let Some(running) = s.update_in_progress() {
        return Err(in_use(format!(
            "Cannot {update_type} because cluster {} currently has update {} in progress",
            s.key.name, running.id
        )));
    }
    let (params, target_mode) = if block == "accessConfig" {
        let raw = value
            .get("authenticationMode")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_parameter("accessConfig must specify authenticationMode."))?;
        let to = AuthenticationMode::parse(raw).ok_or_else(|| {
            invalid_parameter(format!(
                "1 validation error detected: Value '{raw}' at 'accessConfig.authenticationMode' failed to satisfy constraint: Member must satisfy enum value set: [API, API_AND_CONFIG_MAP, CONFIG_MAP]"
            ))
        })?;
        let from = s.authentication_mode;
        let allowed = matches!(
            (from, to),
            (
                AuthenticationMode::ConfigMap,
                AuthenticationMode::ApiAndConfigMap
            ) | (AuthenticationMode::ApiAndConfigMap, AuthenticationMode::Api)
        );
        if !allowed {
            return Err(invalid_parameter(format!(
                "Unsupported authentication mode update from {} to {}",
                from.as_str(),
                to.as_str()
            )));
        }
        // Observed on the wire as a JSON-quoted string
        // (docs/authentication-modes.md#running-a-switch).
        (
            vec![(
                "AuthenticationMode".to_string(),
                format!("\"{}\"", to.as_str()),
            )],
            Some(to),
        )
    } else {
        (Vec::new(), None)
    };
    let failure = fails.then(|| {
        vec![UpdateError {
            error_code: "Unknown".into(),
            error_message: "The update failed (fault injected by eks-sim).".into(),
            resource_ids: vec![s.key.name.clone()],
        }]
    });
    let now = sim.now();
    let id = s.start_update(
        update_type,
        params,
        target_mode,
        now,
        sim.update_duration(),
        failure,
    );
    let u = s
        .updates
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or_else(|| not_found("update vanished"))?;
    Ok(Reply::json(200, &json!({ "update": update_json(&u) })))
}

pub(crate) fn update_json(u: &ClusterUpdate) -> Value {
    json!({
        "id": u.id,
        "status": u.status.as_str(),
        "type": u.update_type,
        "params": u.params.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
        "createdAt": u.created_at,
        "errors": u.errors.iter().map(|e| json!({
            "errorCode": e.error_code,
            "errorMessage": e.error_message,
            "resourceIds": e.resource_ids,
        })).collect::<Vec<_>>(),
    })
}

fn nodegroup_filter(req: &AwsRequest, s: &ClusterState) -> Result<bool, ServiceError> {
    for param in ["nodegroupName", "addonName", "capabilityName"] {
        if let Some(name) = req.query(param) {
            if param == "nodegroupName" && !s.nodegroups.contains_key(&name) {
                return Err(not_found(format!("No node group found for name: {name}.")));
            }
            // The simulator runs no node group, add-on or capability updates.
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) fn describe_update(
    req: &AwsRequest,
    cluster: &Cluster,
    update_id: &str,
) -> Result<Reply, ServiceError> {
    let s = cluster.lock();
    let scoped = nodegroup_filter(req, &s)?;
    let u = s
        .updates
        .iter()
        .find(|u| u.id == update_id && !scoped)
        .ok_or_else(|| not_found(format!("No update found for ID: {update_id}")))?;
    Ok(Reply::json(200, &json!({ "update": update_json(u) })))
}

pub(super) fn list_updates(req: &AwsRequest, cluster: &Cluster) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let s = cluster.lock();
    let scoped = nodegroup_filter(req, &s)?;
    let ids = s
        .updates
        .iter()
        .enumerate()
        .filter(|_| !scoped)
        .map(|(i, u)| (format!("{i:010}"), u.id.clone()));
    let (items, token) = paginate(ids, &page);
    Ok(Reply::json(
        200,
        &with_token(json!({ "updateIds": items }), token),
    ))
}

pub(super) fn list_nodegroups(req: &AwsRequest, cluster: &Cluster) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let s = cluster.lock();
    let (items, token) = paginate(s.nodegroups.keys().map(|k| (k.clone(), k.clone())), &page);
    Ok(Reply::json(
        200,
        &with_token(json!({ "nodegroups": items }), token),
    ))
}

pub(super) fn describe_nodegroup(cluster: &Cluster, name: &str) -> Result<Reply, ServiceError> {
    let s = cluster.lock();
    let ng = s
        .nodegroups
        .get(name)
        .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))?;
    let windows = ng.ami_type.to_ascii_uppercase().starts_with("WINDOWS");
    Ok(Reply::json(
        200,
        &json!({ "nodegroup": {
            "nodegroupName": ng.name,
            "nodegroupArn": format!("arn:{}:eks:{}:{}:nodegroup/{}/{}/{}", s.partition, s.key.region, s.key.account, s.key.name, ng.name, format_uuid(ng.arn_suffix)),
            "clusterName": s.key.name,
            "version": s.kubernetes_version,
            "releaseVersion": if windows { "2024.11.13" } else { "1.31.2-20241121" },
            "createdAt": ng.created_at,
            "modifiedAt": ng.created_at,
            "status": "ACTIVE",
            "capacityType": "ON_DEMAND",
            "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
            "instanceTypes": ["m5.large"],
            "subnets": [],
            "amiType": ng.ami_type,
            "nodeRole": ng.node_role_arn,
            "labels": {},
            "diskSize": 20,
            "health": {"issues": []},
            "tags": {},
        }}),
    ))
}

pub(super) fn list_fargate_profiles(
    req: &AwsRequest,
    cluster: &Cluster,
) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let s = cluster.lock();
    let (items, token) = paginate(
        s.fargate_profiles.keys().map(|k| (k.clone(), k.clone())),
        &page,
    );
    Ok(Reply::json(
        200,
        &with_token(json!({ "fargateProfileNames": items }), token),
    ))
}

pub(super) fn describe_fargate_profile(
    cluster: &Cluster,
    name: &str,
) -> Result<Reply, ServiceError> {
    let s = cluster.lock();
    let fp = s
        .fargate_profiles
        .get(name)
        .ok_or_else(|| not_found(format!("No Fargate Profile found with name: {name}.")))?;
    Ok(Reply::json(
        200,
        &json!({ "fargateProfile": {
            "fargateProfileName": fp.name,
            "fargateProfileArn": format!("arn:{}:eks:{}:{}:fargateprofile/{}/{}/{}", s.partition, s.key.region, s.key.account, s.key.name, fp.name, format_uuid(fp.arn_suffix)),
            "clusterName": s.key.name,
            "createdAt": fp.created_at,
            "podExecutionRoleArn": fp.pod_execution_role_arn,
            "subnets": [],
            "selectors": fp.selectors.iter().map(|sel| json!({"namespace": sel.namespace, "labels": sel.labels})).collect::<Vec<_>>(),
            "status": "ACTIVE",
            "tags": {},
        }}),
    ))
}
