//! Access entries: Create, Describe, List, Update, Delete, with the validation rules of
//! docs/access-entries.md (types, principal ARNs, usernames, groups, limits, tags), in the
//! order EKS is observed to apply them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    entry_json, in_use, invalid_parameter, invalid_request, not_found, page_request, paginate,
    with_token,
};
use crate::server::{AwsRequest, Reply, ServiceError};
use crate::world::{
    AccessEntryType, Cluster, ClusterState, MAX_ACCESS_ENTRIES, Sim, parse_iam_arn,
};

pub(crate) const MODE_MESSAGE: &str = "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.";
pub(crate) const ENTRY_NOT_FOUND: &str = "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.";
pub(crate) const INVALID_PRINCIPAL: &str =
    "The specified principalArn is invalid: invalid principal.";
pub(crate) const SERVICE_LINKED_ROLE: &str = "The caller is not allowed to modify access entries with a principalArn value of a Service Linked Role";
pub(crate) const STANDARD_ONLY: &str =
    "This operation can only be performed on Access Entries with a type of \"STANDARD\".";
/// Username prefixes EKS reserves (docs/access-entries.md#usernames).
pub(crate) const RESERVED_USERNAME_PREFIXES: [&str; 5] =
    ["system:", "eks:", "aws:", "amazon:", "iam:"];
pub(crate) const MAX_TAGS: usize = 50;

/// Access-entry operations need an API mode.
pub(crate) fn require_api_mode(s: &ClusterState) -> Result<(), ServiceError> {
    if s.authentication_mode.uses_access_entries() {
        Ok(())
    } else {
        Err(invalid_request(MODE_MESSAGE))
    }
}

pub(crate) fn is_service_linked_role(arn: &str) -> bool {
    parse_iam_arn(arn)
        .is_some_and(|p| p.resource_type == "role" && p.path.starts_with("/aws-service-role/"))
}

/// Username rules for STANDARD entries (docs/access-entries.md#usernames).
pub(crate) fn validate_username(username: &str) -> Result<(), ServiceError> {
    if username.is_empty() {
        return Err(invalid_parameter("The username must not be empty."));
    }
    for prefix in RESERVED_USERNAME_PREFIXES {
        if username.starts_with(prefix) {
            return Err(invalid_parameter(format!(
                "The username must not begin with {prefix}"
            )));
        }
    }
    for placeholder in ["{{SessionName}}", "{{SessionNameRaw}}"] {
        if let Some(at) = username.find(placeholder)
            && !username[..at].contains(':')
        {
            return Err(invalid_parameter(format!(
                "The username {username} is invalid: a colon (:) must appear before {placeholder}."
            )));
        }
    }
    Ok(())
}

/// `kubernetesGroups` rules (docs/access-entries.md#kubernetes-groups).
pub(crate) fn validate_groups(groups: &[String]) -> Result<(), ServiceError> {
    for g in groups {
        if g.starts_with("system:") {
            return Err(invalid_parameter(format!(
                "The kubernetes group name {g} is invalid, it cannot start with system:"
            )));
        }
        if g.is_empty() {
            return Err(invalid_parameter(
                "The kubernetes group name must not be empty.",
            ));
        }
    }
    Ok(())
}

/// Tag rules (docs/access-entries.md#tags): at most 50, key ≤ 128, value ≤ 256, `aws:` reserved.
pub(crate) fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), ServiceError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid_parameter(format!(
            "The number of tags ({}) exceeds the limit of {MAX_TAGS} tags per resource.",
            tags.len()
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid_parameter(format!(
                "Tag key {k:?} must be 1 to 128 characters long."
            )));
        }
        if v.chars().count() > 256 {
            return Err(invalid_parameter(format!(
                "Tag value for key {k:?} must be at most 256 characters long."
            )));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_parameter(format!(
                "Tag key {k:?} is invalid: the aws: prefix is reserved for AWS use."
            )));
        }
    }
    Ok(())
}

fn string_list(body: &Value, field: &str) -> Result<Option<Vec<String>>, ServiceError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid_parameter(format!("{field} must be a list of strings.")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid_parameter(format!(
            "{field} must be a list of strings."
        ))),
    }
}

pub(crate) fn string_map(
    body: &Value,
    field: &str,
) -> Result<BTreeMap<String, String>, ServiceError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| invalid_parameter(format!("{field} values must be strings.")))
            })
            .collect(),
        Some(_) => Err(invalid_parameter(format!(
            "{field} must be a map of strings."
        ))),
    }
}

fn optional_string(body: &Value, field: &str) -> Result<Option<String>, ServiceError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid_parameter(format!("{field} must be a string."))),
    }
}

pub(super) fn create(
    sim: &Sim,
    req: &AwsRequest,
    cluster: &Cluster,
) -> Result<Reply, ServiceError> {
    let body = super::body_json(req)?;
    let principal = optional_string(&body, "principalArn")?
        .ok_or_else(|| invalid_parameter("principalArn is required."))?;
    let type_raw = optional_string(&body, "type")?;
    let username = optional_string(&body, "username")?;
    let groups = string_list(&body, "kubernetesGroups")?.unwrap_or_default();
    let tags = string_map(&body, "tags")?;

    let mut s = cluster.lock();
    require_api_mode(&s)?;
    let entry_type = match type_raw.as_deref() {
        None => AccessEntryType::Standard,
        Some(t) => AccessEntryType::parse(t).ok_or_else(|| {
            invalid_parameter(format!(
                "The type {t} is invalid. Valid values are STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, EC2, HYPERPOD_LINUX."
            ))
        })?,
    };
    if is_service_linked_role(&principal) {
        return Err(invalid_parameter(SERVICE_LINKED_ROLE));
    }
    // Must be an existing IAM role or user with its real (path-ful) ARN; STS ARNs, root,
    // path-stripped and unknown ARNs are all "invalid principal".
    let iam_principal = sim
        .iam()
        .principal_by_arn(&principal)
        .ok_or_else(|| invalid_parameter(INVALID_PRINCIPAL))?;
    if entry_type.is_node() {
        let is_role = matches!(iam_principal, crate::world::IamPrincipal::Role(_));
        if !is_role || iam_principal.account() != s.key.account {
            return Err(invalid_parameter(format!(
                "The principalArn for an access entry of type {} must be an IAM role in the cluster's account ({}).",
                entry_type.as_str(),
                s.key.account
            )));
        }
        if username.is_some() || !groups.is_empty() {
            return Err(invalid_parameter(format!(
                "username and kubernetesGroups can only be set on access entries of type STANDARD, not {}.",
                entry_type.as_str()
            )));
        }
    } else {
        if let Some(u) = &username {
            validate_username(u)?;
        }
        validate_groups(&groups)?;
    }
    validate_tags(&tags)?;
    if s.access_entries.contains_key(&principal) {
        return Err(in_use(
            "The specified access entry resource is already in use on this cluster.",
        ));
    }
    if s.access_entries.len() >= MAX_ACCESS_ENTRIES {
        return Err(ServiceError::new(
            400,
            "ResourceLimitExceededException",
            format!(
                "Cluster {} has reached the maximum of {MAX_ACCESS_ENTRIES} access entries.",
                s.key.name
            ),
        ));
    }
    let now = sim.now();
    let mut entry = s.new_entry(
        principal.clone(),
        entry_type,
        username,
        groups,
        tags,
        Some(iam_principal.unique_id().to_string()),
        now,
    );
    if let Some(ec) = sim.faults().eventual_consistency() {
        entry.not_found_until = now + ec.window_ms as f64 / 1000.0;
        entry.not_found_calls = ec.calls;
    }
    let out = entry_json(&s, &entry);
    s.access_entries.insert(principal, entry);
    Ok(Reply::json(200, &json!({ "accessEntry": out })))
}

pub(super) fn describe(cluster: &Cluster, principal: &str) -> Result<Reply, ServiceError> {
    let s = cluster.lock();
    require_api_mode(&s)?;
    let e = s
        .access_entries
        .get(principal)
        .ok_or_else(|| not_found(ENTRY_NOT_FOUND))?;
    Ok(Reply::json(
        200,
        &json!({ "accessEntry": entry_json(&s, e) }),
    ))
}

pub(super) fn list(req: &AwsRequest, cluster: &Cluster) -> Result<Reply, ServiceError> {
    let page = page_request(req)?;
    let filter = req.query("associatedPolicyArn");
    let s = cluster.lock();
    require_api_mode(&s)?;
    if let Some(p) = &filter
        && !super::access_policies::is_known_policy(&s.partition, p)
    {
        return Err(invalid_parameter(format!(
            "The specified associatedPolicyArn {p} is invalid."
        )));
    }
    let items = s
        .access_entries
        .iter()
        .filter(|(_, e)| {
            filter
                .as_ref()
                .is_none_or(|p| e.access_policies.contains_key(p))
        })
        .map(|(k, _)| (k.clone(), k.clone()));
    let (arns, token) = paginate(items, &page);
    Ok(Reply::json(
        200,
        &with_token(json!({ "accessEntries": arns }), token),
    ))
}

pub(super) fn update(
    sim: &Sim,
    req: &AwsRequest,
    cluster: &Cluster,
    principal: &str,
) -> Result<Reply, ServiceError> {
    let body = super::body_json(req)?;
    let username = optional_string(&body, "username")?;
    let groups = string_list(&body, "kubernetesGroups")?;
    let mut s = cluster.lock();
    require_api_mode(&s)?;
    let entry_type = s
        .access_entries
        .get(principal)
        .map(|e| e.entry_type)
        .ok_or_else(|| not_found(ENTRY_NOT_FOUND))?;
    if is_service_linked_role(principal) {
        return Err(invalid_parameter(SERVICE_LINKED_ROLE));
    }
    // The prefix checks come first: re-sending a node entry's generated username is refused
    // with "must not begin with system:" (docs/access-entries.md#types).
    if let Some(u) = &username {
        validate_username(u)?;
    }
    if let Some(g) = &groups {
        validate_groups(g)?;
    }
    if entry_type.is_node() && (username.is_some() || groups.is_some()) {
        return Err(invalid_parameter(STANDARD_ONLY));
    }
    let now = sim.now();
    let e = s
        .access_entries
        .get_mut(principal)
        .ok_or_else(|| not_found(ENTRY_NOT_FOUND))?;
    if let Some(u) = username {
        e.username = u;
    }
    // Declarative: the list sent replaces the list stored
    // (docs/access-entries.md#kubernetes-groups).
    if let Some(g) = groups {
        e.kubernetes_groups = g;
    }
    e.modified_at = now;
    let e = e.clone();
    Ok(Reply::json(
        200,
        &json!({ "accessEntry": entry_json(&s, &e) }),
    ))
}

pub(super) fn delete(cluster: &Cluster, principal: &str) -> Result<Reply, ServiceError> {
    let mut s = cluster.lock();
    require_api_mode(&s)?;
    if !s.access_entries.contains_key(principal) {
        return Err(not_found(ENTRY_NOT_FOUND));
    }
    if is_service_linked_role(principal) {
        return Err(invalid_parameter(SERVICE_LINKED_ROLE));
    }
    // Associations live inside the entry: deleting it deletes them
    // (docs/access-entries.md#associations-and-scopes).
    s.access_entries.remove(principal);
    Ok(Reply::json(200, &json!({})))
}
