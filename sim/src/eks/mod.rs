//! EKS over REST-JSON, as `aws-sdk-eks` sends it (docs/access-entries.md#the-api,
//! docs/access-entries.md#pointing-the-sdk-at-a-local-server).
//!
//! Routing works on the raw path: it is split on `/` first and each segment percent-decoded after,
//! so an ARN label (`arn%3Aaws%3Aiam%3A%3A…%3Arole%2Fteam%2Fdev`) stays one segment.
//!
//! Clusters are named in the path without an account: the account is the caller's (from the SigV4
//! access key) and the region is the credential scope's. A name that exists only in another account
//! answers `AccessDeniedException`: the caller has no credentials for that account.

mod access_entries;
mod access_policies;
mod clusters;
mod tags;

use base64::Engine;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::server::{AwsRequest, Reply, ServiceError};
use crate::world::{AccessEntry, AssociatedAccessPolicy, Cluster, ClusterKey, ClusterState, Sim};

pub use access_policies::{ACCESS_POLICY_NAMES, access_policy_catalogue};

/// One EKS operation with its decoded path labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListClusters,
    DescribeCluster {
        cluster: String,
    },
    UpdateClusterConfig {
        cluster: String,
    },
    ListUpdates {
        cluster: String,
    },
    DescribeUpdate {
        cluster: String,
        update_id: String,
    },
    CreateAccessEntry {
        cluster: String,
    },
    ListAccessEntries {
        cluster: String,
    },
    DescribeAccessEntry {
        cluster: String,
        principal: String,
    },
    UpdateAccessEntry {
        cluster: String,
        principal: String,
    },
    DeleteAccessEntry {
        cluster: String,
        principal: String,
    },
    AssociateAccessPolicy {
        cluster: String,
        principal: String,
    },
    ListAssociatedAccessPolicies {
        cluster: String,
        principal: String,
    },
    DisassociateAccessPolicy {
        cluster: String,
        principal: String,
        policy: String,
    },
    ListAccessPolicies,
    ListNodegroups {
        cluster: String,
    },
    DescribeNodegroup {
        cluster: String,
        nodegroup: String,
    },
    ListFargateProfiles {
        cluster: String,
    },
    DescribeFargateProfile {
        cluster: String,
        profile: String,
    },
    TagResource {
        arn: String,
    },
    UntagResource {
        arn: String,
    },
    ListTagsForResource {
        arn: String,
    },
}

impl Route {
    /// Routes on the raw (still encoded) path; `None` for anything the simulator does not serve.
    pub fn parse(method: &str, raw_path: &str) -> Option<Route> {
        let segs: Vec<String> = raw_path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let c = |i: usize| s[i].to_string();
        Some(match (method, s.as_slice()) {
            ("GET", ["clusters"]) => Route::ListClusters,
            ("GET", ["clusters", _]) => Route::DescribeCluster { cluster: c(1) },
            ("POST", ["clusters", _, "update-config"]) => {
                Route::UpdateClusterConfig { cluster: c(1) }
            }
            ("GET", ["clusters", _, "updates"]) => Route::ListUpdates { cluster: c(1) },
            ("GET", ["clusters", _, "updates", _]) => Route::DescribeUpdate {
                cluster: c(1),
                update_id: c(3),
            },
            ("POST", ["clusters", _, "access-entries"]) => {
                Route::CreateAccessEntry { cluster: c(1) }
            }
            ("GET", ["clusters", _, "access-entries"]) => {
                Route::ListAccessEntries { cluster: c(1) }
            }
            ("GET", ["clusters", _, "access-entries", _]) => Route::DescribeAccessEntry {
                cluster: c(1),
                principal: c(3),
            },
            ("POST", ["clusters", _, "access-entries", _]) => Route::UpdateAccessEntry {
                cluster: c(1),
                principal: c(3),
            },
            ("DELETE", ["clusters", _, "access-entries", _]) => Route::DeleteAccessEntry {
                cluster: c(1),
                principal: c(3),
            },
            ("POST", ["clusters", _, "access-entries", _, "access-policies"]) => {
                Route::AssociateAccessPolicy {
                    cluster: c(1),
                    principal: c(3),
                }
            }
            ("GET", ["clusters", _, "access-entries", _, "access-policies"]) => {
                Route::ListAssociatedAccessPolicies {
                    cluster: c(1),
                    principal: c(3),
                }
            }
            ("DELETE", ["clusters", _, "access-entries", _, "access-policies", _]) => {
                Route::DisassociateAccessPolicy {
                    cluster: c(1),
                    principal: c(3),
                    policy: c(5),
                }
            }
            ("GET", ["access-policies"]) => Route::ListAccessPolicies,
            ("GET", ["clusters", _, "node-groups"]) => Route::ListNodegroups { cluster: c(1) },
            ("GET", ["clusters", _, "node-groups", _]) => Route::DescribeNodegroup {
                cluster: c(1),
                nodegroup: c(3),
            },
            ("GET", ["clusters", _, "fargate-profiles"]) => {
                Route::ListFargateProfiles { cluster: c(1) }
            }
            ("GET", ["clusters", _, "fargate-profiles", _]) => Route::DescribeFargateProfile {
                cluster: c(1),
                profile: c(3),
            },
            ("POST", ["tags", _]) => Route::TagResource { arn: c(1) },
            ("DELETE", ["tags", _]) => Route::UntagResource { arn: c(1) },
            ("GET", ["tags", _]) => Route::ListTagsForResource { arn: c(1) },
            _ => return None,
        })
    }

    /// The operation name (as in the API model), used by counters and faults.
    pub fn name(&self) -> &'static str {
        match self {
            Route::ListClusters => "ListClusters",
            Route::DescribeCluster { .. } => "DescribeCluster",
            Route::UpdateClusterConfig { .. } => "UpdateClusterConfig",
            Route::ListUpdates { .. } => "ListUpdates",
            Route::DescribeUpdate { .. } => "DescribeUpdate",
            Route::CreateAccessEntry { .. } => "CreateAccessEntry",
            Route::ListAccessEntries { .. } => "ListAccessEntries",
            Route::DescribeAccessEntry { .. } => "DescribeAccessEntry",
            Route::UpdateAccessEntry { .. } => "UpdateAccessEntry",
            Route::DeleteAccessEntry { .. } => "DeleteAccessEntry",
            Route::AssociateAccessPolicy { .. } => "AssociateAccessPolicy",
            Route::ListAssociatedAccessPolicies { .. } => "ListAssociatedAccessPolicies",
            Route::DisassociateAccessPolicy { .. } => "DisassociateAccessPolicy",
            Route::ListAccessPolicies => "ListAccessPolicies",
            Route::ListNodegroups { .. } => "ListNodegroups",
            Route::DescribeNodegroup { .. } => "DescribeNodegroup",
            Route::ListFargateProfiles { .. } => "ListFargateProfiles",
            Route::DescribeFargateProfile { .. } => "DescribeFargateProfile",
            Route::TagResource { .. } => "TagResource",
            Route::UntagResource { .. } => "UntagResource",
            Route::ListTagsForResource { .. } => "ListTagsForResource",
        }
    }

    /// The cluster named in the path, if any.
    pub fn cluster_name(&self) -> Option<&str> {
        match self {
            Route::ListClusters
            | Route::ListAccessPolicies
            | Route::TagResource { .. }
            | Route::UntagResource { .. }
            | Route::ListTagsForResource { .. } => None,
            Route::DescribeCluster { cluster }
            | Route::UpdateClusterConfig { cluster }
            | Route::ListUpdates { cluster }
            | Route::DescribeUpdate { cluster, .. }
            | Route::CreateAccessEntry { cluster }
            | Route::ListAccessEntries { cluster }
            | Route::DescribeAccessEntry { cluster, .. }
            | Route::UpdateAccessEntry { cluster, .. }
            | Route::DeleteAccessEntry { cluster, .. }
            | Route::AssociateAccessPolicy { cluster, .. }
            | Route::ListAssociatedAccessPolicies { cluster, .. }
            | Route::DisassociateAccessPolicy { cluster, .. }
            | Route::ListNodegroups { cluster }
            | Route::DescribeNodegroup { cluster, .. }
            | Route::ListFargateProfiles { cluster }
            | Route::DescribeFargateProfile { cluster, .. } => Some(cluster),
        }
    }
}

/// Handles one authenticated EKS request.
pub(crate) fn handle(sim: &Sim, req: &AwsRequest) -> Result<Reply, ServiceError> {
    let route = Route::parse(&req.method, &req.raw_path).ok_or_else(|| {
        ServiceError::new(
            404,
            "UnknownOperationException",
            format!("No EKS operation matches {} {}", req.method, req.raw_path),
        )
    })?;
    let op = route.name();
    match route {
        Route::ListClusters => clusters::list_clusters(sim, req),
        Route::DescribeCluster { cluster } => {
            clusters::describe_cluster(sim, &resolve(sim, req, &cluster, op)?)
        }
        Route::UpdateClusterConfig { cluster } => {
            let cluster = resolve(sim, req, &cluster, op)?;
            idempotent(req, &cluster, op, || {
                clusters::update_cluster_config(sim, req, &cluster)
            })
        }
        Route::ListUpdates { cluster } => {
            clusters::list_updates(req, &resolve(sim, req, &cluster, op)?)
        }
        Route::DescribeUpdate { cluster, update_id } => {
            clusters::describe_update(req, &resolve(sim, req, &cluster, op)?, &update_id)
        }
        Route::ListNodegroups { cluster } => {
            clusters::list_nodegroups(req, &resolve(sim, req, &cluster, op)?)
        }
        Route::DescribeNodegroup { cluster, nodegroup } => {
            clusters::describe_nodegroup(&resolve(sim, req, &cluster, op)?, &nodegroup)
        }
        Route::ListFargateProfiles { cluster } => {
            clusters::list_fargate_profiles(req, &resolve(sim, req, &cluster, op)?)
        }
        Route::DescribeFargateProfile { cluster, profile } => {
            clusters::describe_fargate_profile(&resolve(sim, req, &cluster, op)?, &profile)
        }
        Route::CreateAccessEntry { cluster } => {
            let cluster = resolve(sim, req, &cluster, op)?;
            idempotent(req, &cluster, op, || {
                access_entries::create(sim, req, &cluster)
            })
        }
        Route::ListAccessEntries { cluster } => {
            access_entries::list(req, &resolve(sim, req, &cluster, op)?)
        }
        Route::DescribeAccessEntry { cluster, principal } => {
            access_entries::describe(&resolve(sim, req, &cluster, op)?, &principal)
        }
        Route::UpdateAccessEntry { cluster, principal } => {
            let cluster = resolve(sim, req, &cluster, op)?;
            idempotent(req, &cluster, op, || {
                access_entries::update(sim, req, &cluster, &principal)
            })
        }
        Route::DeleteAccessEntry { cluster, principal } => {
            access_entries::delete(&resolve(sim, req, &cluster, op)?, &principal)
        }
        Route::AssociateAccessPolicy { cluster, principal } => {
            access_policies::associate(sim, req, &resolve(sim, req, &cluster, op)?, &principal)
        }
        Route::ListAssociatedAccessPolicies { cluster, principal } => {
            access_policies::list_associated(req, &resolve(sim, req, &cluster, op)?, &principal)
        }
        Route::DisassociateAccessPolicy {
            cluster,
            principal,
            policy,
        } => access_policies::disassociate(&resolve(sim, req, &cluster, op)?, &principal, &policy),
        Route::ListAccessPolicies => access_policies::list_access_policies(sim, req),
        Route::TagResource { arn } => tags::tag_resource(sim, req, &arn),
        Route::UntagResource { arn } => tags::untag_resource(sim, req, &arn),
        Route::ListTagsForResource { arn } => tags::list_tags(sim, req, &arn),
    }
}

/// Runs a mutating call that takes a `clientRequestToken` (CreateAccessEntry,
/// UpdateAccessEntry, UpdateClusterConfig) with EKS's idempotency: a successful reply is kept
/// under its token, and a retry with the same token and the same request gets that reply again
/// without acting twice (so a client that lost the response to a dropped connection may resend).
/// The same token with another request is refused; a failed call keeps nothing, so it may be
/// retried with its token.
fn idempotent(
    req: &AwsRequest,
    cluster: &Cluster,
    op: &str,
    call: impl FnOnce() -> Result<Reply, ServiceError>,
) -> Result<Reply, ServiceError> {
    let Ok(mut body) = body_json(req) else {
        return call();
    };
    let token = match body
        .as_object_mut()
        .and_then(|o| o.remove("clientRequestToken"))
    {
        Some(Value::String(t)) if !t.is_empty() => t,
        _ => return call(),
    };
    let request = format!("{op} {}", req.raw_path);
    if let Some(seen) = cluster.lock().idempotent_replies.get(&token) {
        if seen.request == request && seen.params == body {
            return Ok(seen.reply.clone());
        }
        return Err(invalid_parameter(format!(
            "The clientRequestToken {token} was already used for a different request."
        )));
    }
    let reply = call()?;
    cluster.lock().idempotent_replies.insert(
        token,
        crate::world::IdempotentReply {
            request,
            params: body,
            reply: reply.clone(),
        },
    );
    Ok(reply)
}

/// Finds the caller's cluster by name in the signed region.
fn resolve(sim: &Sim, req: &AwsRequest, name: &str, op: &str) -> Result<Cluster, ServiceError> {
    let key = ClusterKey::new(&req.caller.account, &req.region, name);
    if let Some(c) = sim.cluster(&key) {
        return Ok(c);
    }
    if let Some(other) = sim
        .cluster_keys()
        .into_iter()
        .find(|k| k.region == req.region && k.name == name)
    {
        let partition = sim
            .iam()
            .accounts
            .get(&other.account)
            .map(|a| a.partition.clone())
            .unwrap_or_else(|| "aws".into());
        return Err(access_denied(
            req,
            op,
            &format!(
                "arn:{partition}:eks:{}:{}:cluster/{}",
                other.region, other.account, other.name
            ),
        ));
    }
    Err(ServiceError::new(
        404,
        "ResourceNotFoundException",
        format!("No cluster found for name: {name}."),
    ))
}

pub(crate) fn access_denied(req: &AwsRequest, op: &str, resource: &str) -> ServiceError {
    ServiceError::new(
        403,
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: eks:{op} on resource: {resource}",
            req.caller.arn
        ),
    )
}

pub(crate) fn invalid_parameter(msg: impl Into<String>) -> ServiceError {
    ServiceError::new(400, "InvalidParameterException", msg)
}

pub(crate) fn invalid_request(msg: impl Into<String>) -> ServiceError {
    ServiceError::new(400, "InvalidRequestException", msg)
}

pub(crate) fn not_found(msg: impl Into<String>) -> ServiceError {
    ServiceError::new(404, "ResourceNotFoundException", msg)
}

pub(crate) fn in_use(msg: impl Into<String>) -> ServiceError {
    ServiceError::new(409, "ResourceInUseException", msg)
}

/// Parses a JSON request body (`{}` when empty).
pub(crate) fn body_json(req: &AwsRequest) -> Result<Value, ServiceError> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        ServiceError::new(
            400,
            "SerializationException",
            format!("The request body is not valid JSON: {e}"),
        )
    })
}

/// `maxResults` and `nextToken` of a list call.
pub(crate) struct PageRequest {
    pub max: usize,
    /// Key of the last item of the previous page.
    pub after: Option<String>,
}

/// Reads `maxResults` (1–100, default 100) and `nextToken` (opaque) from the query.
pub(crate) fn page_request(req: &AwsRequest) -> Result<PageRequest, ServiceError> {
    let max = match req.query("maxResults") {
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n as usize,
            _ => {
                return Err(invalid_parameter(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100"
                )));
            }
        },
        None => 100,
    };
    let after = match req.query("nextToken") {
        Some(t) if !t.is_empty() => Some(
            decode_token(&t)
                .ok_or_else(|| invalid_parameter("The nextToken provided is invalid."))?,
        ),
        _ => None,
    };
    Ok(PageRequest { max, after })
}

fn encode_token(last_key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("eks-sim:{last_key}"))
}

fn decode_token(token: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("eks-sim:")
        .map(str::to_string)
}

/// Takes one page from items sorted by key; the token names the last key returned and is `None`
/// on the last page.
pub(crate) fn paginate<T, I>(items: I, page: &PageRequest) -> (Vec<T>, Option<String>)
where
    I: IntoIterator<Item = (String, T)>,
{
    let mut out = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for (k, v) in items {
        if page.after.as_ref().is_some_and(|a| &k <= a) {
            continue;
        }
        if out.len() == page.max {
            more = true;
            break;
        }
        last_key = Some(k);
        out.push(v);
    }
    let token = if more {
        last_key.map(|k| encode_token(&k))
    } else {
        None
    };
    (out, token)
}

/// Adds `nextToken` to a response object when there is one.
pub(crate) fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let (Some(t), Some(obj)) = (token, v.as_object_mut()) {
        obj.insert("nextToken".into(), Value::String(t));
    }
    v
}

pub(crate) fn entry_json(state: &ClusterState, e: &AccessEntry) -> Value {
    json!({
        "clusterName": state.key.name,
        "principalArn": e.principal_arn,
        "kubernetesGroups": e.kubernetes_groups,
        "accessEntryArn": e.access_entry_arn(state),
        "createdAt": e.created_at,
        "modifiedAt": e.modified_at,
        "tags": e.tags,
        "username": e.username,
        "type": e.entry_type.as_str(),
    })
}

pub(crate) fn association_json(a: &AssociatedAccessPolicy) -> Value {
    json!({
        "policyArn": a.policy_arn,
        "accessScope": {
            "type": a.access_scope.scope_type.as_str(),
            "namespaces": a.access_scope.namespaces,
        },
        "associatedAt": a.associated_at,
        "modifiedAt": a.modified_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_slashes_stay_inside_one_label() {
        let path = "/clusters/prod/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fteam%2Fdev%2FDeveloper/access-policies/arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy";
        assert_eq!(
            Route::parse("DELETE", path),
            Some(Route::DisassociateAccessPolicy {
                cluster: "prod".into(),
                principal: "arn:aws:iam::111122223333:role/team/dev/Developer".into(),
                policy: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy".into(),
            })
        );
        // A decoded slash would have split the label and matched nothing.
        assert_eq!(
            Route::parse(
                "GET",
                "/clusters/prod/access-entries/arn:aws:iam::1:role/a/b"
            ),
            None
        );
    }

    #[test]
    fn pages_end_without_a_token() {
        let items = || (0..5).map(|i| (format!("k{i}"), i));
        let first = paginate(
            items(),
            &PageRequest {
                max: 2,
                after: None,
            },
        );
        assert_eq!(first.0, [0, 1]);
        let after = decode_token(first.1.as_deref().unwrap());
        let second = paginate(items(), &PageRequest { max: 3, after });
        assert_eq!(second, (vec![2, 3, 4], None));
    }
}
