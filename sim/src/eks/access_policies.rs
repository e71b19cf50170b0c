//! Access policies: the catalogue (ListAccessPolicies, docs/access-entries.md#the-catalogue) and
//! associations (Associate, Disassociate, ListAssociated;
//! docs/access-entries.md#associations-and-scopes).

use serde_json::{Value, json};

use super::access_entries::{
    ENTRY_NOT_FOUND, SERVICE_LINKED_ROLE, STANDARD_ONLY, is_service_linked_role, require_api_mode,
};
use super::{association_json, invalid_parameter, not_found, page_request, paginate, with_token};
use crate::server::{AwsRequest, Reply, ServiceError};
use crate::world::{
    AccessEntryType, AccessScope, AccessScopeType, AssociatedAccessPolicy, Cluster, Sim, policy_arn,
};

/// Every access policy EKS lists (docs/access-entries.md#the-catalogue), by name.
pub const ACCESS_POLICY_NAMES: &[&str] = &[
    "AIDevOpsAgentAccessPolicy",
    "AmazonAIOpsAssistantPolicy",
    "AmazonARCRegionSwitchScalingPolicy",
    "AmazonEKSACKPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSArgoCDClusterPolicy",
    "AmazonEKSArgoCDPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSClusterInsightsPolicy",
    "AmazonEKSComputeClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSEventPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSKROPolicy",
    "AmazonEKSLoadBalancingClusterPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSPodIdentityPolicy",
    "AmazonEKSSecretAdminPolicy",
    "AmazonEKSSecretReaderPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEMRJobPolicy",
    "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy",
    "AmazonSagemakerHyperpodSpacePolicy",
    "AmazonSagemakerHyperpodSpaceTemplatePolicy",
    "AmazonSagemakerHyperpodSystemNamespacePolicy",
    "AmazonSagemakerHyperpodUserClusterPolicy",
];

/// `(name, arn)` of every policy in a partition, sorted by name.
pub fn access_policy_catalogue(partition: &str) -> Vec<(String, String)> {
    ACCESS_POLICY_NAMES
        .iter()
        .map(|n| (n.to_string(), policy_arn(partition, n)))
        .collect()
}

/// Whether `arn` is a policy of the catalogue in this partition.
pub fn is_known_policy(partition: &str, arn: &str) -> bool {
    let prefix = format!("arn:{partition}:eks::aws:cluster-access-policy/");
    arn.strip_prefix(&prefix)
        .is_some_and(|name| ACCESS_POLICY_NAMES.contains(&name))
}

pub(super) fn list_access_policies(sim: &Sim, req: &AwsRequest) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let partition = sim
        .iam()
        .accounts
        .get(&req.caller.account)
        .map(|a| a.partition.clone())
        .unwrap_or_else(|| req.caller.partition.clone());
    let items = access_policy_catalogue(&partition)
        .into_iter()
        .map(|(name, arn)| (name.clone(), json!({ "name": name, "arn": arn })));
    let (policies, token) = paginate(items, &page);
    Ok(Reply::json(
        200,
        &with_token(json!({ "accessPolicies": policies }), token),
    ))
}

fn parse_scope(body: &Value) -> Result<AccessScope, ServiceError> {
    let scope = body
        .get("accessScope")
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid_parameter("accessScope is required."))?;
    let scope_type = match scope.get("type").and_then(Value::as_str) {
        Some("cluster") => AccessScopeType::Cluster,
        Some("namespace") => AccessScopeType::Namespace,
        Some(other) => {
            return Err(invalid_parameter(format!(
                "The access scope type {other} is invalid. Valid values are cluster, namespace."
            )));
        }
        None => return Err(invalid_parameter("accessScope.type is required.")),
    };
    let namespaces: Vec<String> = match scope.get("namespaces") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    invalid_parameter("accessScope.namespaces must be a list of strings.")
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(invalid_parameter(
                "accessScope.namespaces must be a list of strings.",
            ));
        }
    };
    match scope_type {
        AccessScopeType::Cluster if !namespaces.is_empty() => Err(invalid_parameter(
            "Namespaces must not be specified when the access scope type is cluster.",
        )),
        AccessScopeType::Namespace if namespaces.is_empty() => Err(invalid_parameter(
            "At least one namespace must be specified when the access scope type is namespace.",
        )),
        _ => Ok(AccessScope {
            scope_type,
            namespaces,
        }),
    }
}

pub(super) fn associate(
    sim: &Sim,
    req: &AwsRequest,
    cluster: &Cluster,
    principal: &str,
) -> Result<Reply, ServiceError> {
    let body = super::body_json(req)?;
    let policy = body
        .get("policyArn")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_parameter("policyArn is required."))?
        .to_string();
    let now = sim.now();
    let mut s = cluster.lock();
    require_api_mode(&s)?;
    let partition = s.partition.clone();
    let cluster_name = s.key.name.clone();
    let entry = s
        .access_entries
        .get_mut(principal)
        .ok_or_else(|| not_found(ENTRY_NOT_FOUND))?;
    // Eventual consistency right after CreateAccessEntry (fault injection,
    // docs/access-entries.md#associations-and-scopes).
    if entry.not_found_calls > 0 || now < entry.not_found_until {
        entry.not_found_calls = entry.not_found_calls.saturating_sub(1);
        return Err(not_found(ENTRY_NOT_FOUND));
    }
    if is_service_linked_role(principal) {
        return Err(invalid_parameter(SERVICE_LINKED_ROLE));
    }
    if !is_known_policy(&partition, &policy) {
        return Err(invalid_parameter(format!(
            "The specified policyArn {policy} is invalid."
        )));
    }
    let auto_node = policy == policy_arn(&partition, "AmazonEKSAutoNodePolicy");
    let allowed = match entry.entry_type {
        AccessEntryType::Standard => true,
        AccessEntryType::Ec2 => auto_node,
        _ => false,
    };
    if !allowed {
        return Err(invalid_parameter(STANDARD_ONLY));
    }
    let scope = parse_scope(&body)?;
    // Upsert: re-associating replaces the scope, keeps associatedAt.
    let assoc = entry
        .access_policies
        .entry(policy.clone())
        .and_modify(|a| {
            a.access_scope = scope.clone();
            a.modified_at = now;
        })
        .or_insert_with(|| AssociatedAccessPolicy {
            policy_arn: policy.clone(),
            access_scope: scope.clone(),
            associated_at: now,
            modified_at: now,
        })
        .clone();
    Ok(Reply::json(
        200,
        &json!({
            "clusterName": cluster_name,
            "principalArn": principal,
            "associatedAccessPolicy": association_json(&assoc),
        }),
    ))
}

pub(super) fn disassociate(
    cluster: &Cluster,
    principal: &str,
    policy: &str,
) -> Result<Reply, ServiceError> {
    let mut s = cluster.lock();
    require_api_mode(&s)?;
    let entry = s
        .access_entries
        .get_mut(principal)
        .ok_or_else(|| not_found(ENTRY_NOT_FOUND))?;
    if is_service_linked_role(principal) {
        return Err(invalid_parameter(SERVICE_LINKED_ROLE));
    }
    if entry.access_policies.remove(policy).is_none() {
        return Err(not_found(format!(
            "The specified policy {policy} is not associated with the access entry for {principal}."
        )));
    }
    Ok(Reply::json(200, &json!({})))
}

pub(super) fn list_associated(
    req: &AwsRequest,
    cluster: &Cluster,
    principal: &str,
) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let s = cluster.lock();
    require_api_mode(&s)?;
    let entry = s
        .access_entries
        .get(principal)
        .ok_or_else(|| not_found(ENTRY_NOT_FOUND))?;
    let items = entry
        .access_policies
        .iter()
        .map(|(k, a)| (k.clone(), association_json(a)));
    let (policies, token) = paginate(items, &page);
    Ok(Reply::json(
        200,
        &with_token(
            json!({
                "clusterName": s.key.name,
                "principalArn": principal,
                "associatedAccessPolicies": policies,
            }),
            token,
        ),
    ))
}
