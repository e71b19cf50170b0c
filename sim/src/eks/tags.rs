//! TagResource / UntagResource / ListTagsForResource on cluster and access-entry ARNs. These
//! operations use their own error shapes (`BadRequestException`, `NotFoundException`).

use std::collections::BTreeMap;

use serde_json::json;

use super::access_entries::{MAX_TAGS, string_map, validate_tags};
use crate::server::{AwsRequest, Reply, ServiceError};
use crate::world::{ClusterKey, Sim};

fn bad_request(msg: impl Into<String>) -> ServiceError {
    ServiceError::new(400, "BadRequestException", msg)
}

fn tag_not_found(arn: &str) -> ServiceError {
    ServiceError::new(
        404,
        "NotFoundException",
        format!("Resource {arn} not found."),
    )
}

/// What a tag ARN names.
enum Target {
    Cluster(ClusterKey),
    AccessEntry(ClusterKey),
}

/// `arn:P:eks:REGION:ACCOUNT:cluster/NAME` or `…:access-entry/CLUSTER/…`.
fn parse_target(arn: &str) -> Option<Target> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "eks" {
        return None;
    }
    let (region, account, resource) = (parts[3], parts[4], parts[5]);
    let mut segs = resource.split('/');
    let kind = segs.next()?;
    let cluster = segs.next().filter(|c| !c.is_empty())?;
    let key = ClusterKey::new(account, region, cluster);
    match kind {
        "cluster" if segs.next().is_none() => Some(Target::Cluster(key)),
        "access-entry" => Some(Target::AccessEntry(key)),
        _ => None,
    }
}

/// Runs `f` on the tag map the ARN names.
fn with_tags<T>(
    sim: &Sim,
    req: &AwsRequest,
    op: &str,
    arn: &str,
    f: impl FnOnce(&mut BTreeMap<String, String>) -> Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    let target = parse_target(arn)
        .ok_or_else(|| bad_request(format!("The resource ARN {arn} is invalid.")))?;
    let key = match &target {
        Target::Cluster(k) | Target::AccessEntry(k) => k.clone(),
    };
    if key.account != req.caller.account {
        return Err(super::access_denied(req, op, arn));
    }
    let cluster = sim.cluster(&key).ok_or_else(|| tag_not_found(arn))?;
    let mut s = cluster.lock();
    match target {
        Target::Cluster(_) => f(&mut s.tags),
        Target::AccessEntry(_) => {
            let principal = s
                .entry_by_arn(arn)
                .map(|e| e.principal_arn.clone())
                .ok_or_else(|| tag_not_found(arn))?;
            let e = s
                .access_entries
                .get_mut(&principal)
                .ok_or_else(|| tag_not_found(arn))?;
            f(&mut e.tags)
        }
    }
}

pub(super) fn tag_resource(sim: &Sim, req: &AwsRequest, arn: &str) -> Result<Reply, ServiceError> {
    let body = super::body_json(req)?;
    let new = string_map(&body, "tags").map_err(|e| bad_request(e.message))?;
    if new.is_empty() {
        return Err(bad_request("tags must contain at least one tag."));
    }
    with_tags(sim, req, "TagResource", arn, |tags| {
        let mut merged = tags.clone();
        merged.extend(new);
        if merged.len() > MAX_TAGS {
            return Err(bad_request(format!(
                "The resource would have {} tags; the limit is {MAX_TAGS}.",
                merged.len()
            )));
        }
        validate_tags(&merged).map_err(|e| bad_request(e.message))?;
        *tags = merged;
        Ok(())
    })?;
    Ok(Reply::json(200, &json!({})))
}

pub(super) fn untag_resource(
    sim: &Sim,
    req: &AwsRequest,
    arn: &str,
) -> Result<Reply, ServiceError> {
    let keys: Vec<String> = req
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    if keys.is_empty() {
        return Err(bad_request("tagKeys must contain at least one key."));
    }
    with_tags(sim, req, "UntagResource", arn, |tags| {
        for k in &keys {
            tags.remove(k);
        }
        Ok(())
    })?;
    Ok(Reply::json(200, &json!({})))
}

pub(super) fn list_tags(sim: &Sim, req: &AwsRequest, arn: &str) -> Result<Reply, ServiceError> {
    let tags = with_tags(
        sim,
        req,
        "ListTagsForResource",
        arn,
        |tags| Ok(tags.clone()),
    )?;
    Ok(Reply::json(200, &json!({ "tags": tags })))
}
