//! The API slice itself: ConfigMaps and Leases (read and write), RBAC objects, namespaces and
//! nodes (read), access reviews, `/version` and discovery.

use std::collections::BTreeMap;

use http::StatusCode;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, SelfSubjectReviewStatus, UserInfo};
use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SubjectAccessReview};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ObjectMeta};
use serde::Serialize;
use serde_json::{Value, json};

use super::authn::Identity;
use super::authz;
use super::leases;
use super::request::{RequestInfo, query_param};
use super::status::{self, ApiError};
use crate::rbac::{self, Action, ResourceAction};
use crate::world::{ClusterState, KUBE_SYSTEM, Sim};

/// What a handler needs from the HTTP request.
pub struct ApiRequest<'a> {
    pub info: &'a RequestInfo,
    pub query: Option<&'a str>,
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// A successful answer: HTTP status and JSON body.
pub type Reply = (StatusCode, Value);

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const AUTHZ_GROUP: &str = "authorization.k8s.io";
const AUTHN_GROUP: &str = "authentication.k8s.io";

/// Serves one authorized request against a cluster's state.
pub fn serve(
    sim: &Sim,
    state: &mut ClusterState,
    identity: &Identity,
    req: &ApiRequest<'_>,
) -> Result<Reply, ApiError> {
    match &req.info.action {
        Action::NonResource { verb, path } => non_resource(state, verb, path),
        Action::Resource(r) => {
            let rv = state.resource_version;
            if req.info.api_version != "v1" || !r.subresource.is_empty() {
                return Err(ApiError::no_route());
            }
            match (r.api_group.as_str(), r.resource.as_str()) {
                ("", "configmaps") => config_maps(sim, state, r, req),
                (leases::GROUP, "leases") => leases::serve(state, r, req, sim.now()),
                ("", "namespaces") => read_only(r, req, rv, "Namespace", "v1", || {
                    state.namespaces.values().map(to_json).collect()
                }),
                ("", "nodes") => read_only(r, req, rv, "Node", "v1", || {
                    state.nodes.values().map(to_json).collect()
                }),
                (RBAC_GROUP, "clusterroles") => {
                    let rbac = authz::rbac(state);
                    read_only(r, req, rv, "ClusterRole", RBAC_V1, || {
                        rbac.cluster_roles.iter().map(to_json).collect()
                    })
                }
                (RBAC_GROUP, "clusterrolebindings") => {
                    let rbac = authz::rbac(state);
                    read_only(r, req, rv, "ClusterRoleBinding", RBAC_V1, || {
                        rbac.cluster_role_bindings.iter().map(to_json).collect()
                    })
                }
                (RBAC_GROUP, "roles") => read_only(r, req, rv, "Role", RBAC_V1, || {
                    state.roles.values().map(to_json).collect()
                }),
                (RBAC_GROUP, "rolebindings") => {
                    read_only(r, req, rv, "RoleBinding", RBAC_V1, || {
                        state.role_bindings.values().map(to_json).collect()
                    })
                }
                (AUTHZ_GROUP, "subjectaccessreviews") if r.verb == "create" => {
                    subject_access_review(state, req)
                }
                (AUTHZ_GROUP, "selfsubjectaccessreviews") if r.verb == "create" => {
                    self_subject_access_review(state, identity, req)
                }
                (AUTHN_GROUP, "selfsubjectreviews") if r.verb == "create" => {
                    Ok(self_subject_review(identity))
                }
                (AUTHZ_GROUP | AUTHN_GROUP, _) => Err(ApiError::method_not_allowed()),
                _ => Err(ApiError::no_route()),
            }
        }
    }
}

const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";

pub(super) fn to_json<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body could not be decoded: {e}")))
}

// ------------------------------------------------------------------------------------------------
// Read-only collections
// ------------------------------------------------------------------------------------------------

/// `get` and `list` over a collection of serialized objects; namespaced objects are filtered by
/// the request's namespace.
fn read_only(
    r: &ResourceAction,
    req: &ApiRequest<'_>,
    resource_version: u64,
    kind: &str,
    api_version: &str,
    objects: impl FnOnce() -> Vec<Value>,
) -> Result<Reply, ApiError> {
    let in_namespace = |o: &Value| {
        // A named namespace request carries the namespace itself as its namespace; objects of
        // cluster-scoped kinds have none.
        r.namespace.is_empty()
            || r.resource == "namespaces"
            || o["metadata"]["namespace"].as_str() == Some(r.namespace.as_str())
    };
    match r.verb.as_str() {
        "get" => objects()
            .into_iter()
            .find(|o| in_namespace(o) && o["metadata"]["name"].as_str() == Some(r.name.as_str()))
            .map(|o| (StatusCode::OK, o))
            .ok_or_else(|| ApiError::not_found(&r.resource, &r.name)),
        "list" => {
            let items: Vec<Value> = objects().into_iter().filter(in_namespace).collect();
            list(items, kind, api_version, req, resource_version)
        }
        "watch" => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A `…List` envelope, honouring `labelSelector`, `fieldSelector`, `limit` and `continue`.
pub(super) fn list(
    mut items: Vec<Value>,
    kind: &str,
    api_version: &str,
    req: &ApiRequest<'_>,
    resource_version: u64,
) -> Result<Reply, ApiError> {
    if let Some(selector) = query_param(req.query, "labelSelector").filter(|s| !s.is_empty()) {
        items.retain(|o| label_selector_matches(&selector, &o["metadata"]["labels"]));
    }
    if let Some(selector) = query_param(req.query, "fieldSelector").filter(|s| !s.is_empty()) {
        items.retain(|o| field_selector_matches(&selector, o));
    }
    let start: usize = match query_param(req.query, "continue").filter(|s| !s.is_empty()) {
        Some(token) => token
            .parse()
            .map_err(|_| ApiError::bad_request("invalid continue token"))?,
        None => 0,
    };
    let limit = query_param(req.query, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let total = items.len();
    let mut page: Vec<Value> = items.into_iter().skip(start).collect();
    let mut metadata = json!({ "resourceVersion": resource_version.to_string() });
    if let Some(limit) = limit
        && page.len() > limit
    {
        page.truncate(limit);
        metadata["continue"] = json!((start + limit).to_string());
        metadata["remainingItemCount"] = json!(total - start - limit);
    }
    Ok((
        StatusCode::OK,
        json!({
            "kind": format!("{kind}List"),
            "apiVersion": api_version,
            "metadata": metadata,
            "items": page,
        }),
    ))
}

/// Equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated.
fn label_selector_matches(selector: &str, labels: &Value) -> bool {
    selector.split(',').map(str::trim).all(|term| {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        if let Some((k, v)) = term.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            get(k.trim()).is_none()
        } else {
            get(term).is_some()
        }
    })
}

/// `metadata.name` and `metadata.namespace` field selectors (what clients use on these kinds).
fn field_selector_matches(selector: &str, object: &Value) -> bool {
    selector.split(',').map(str::trim).all(|term| {
        let (field, value, equal) = match term.split_once("!=") {
            Some((f, v)) => (f, v, false),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((f, v)) => (f, v, true),
                None => return false,
            },
        };
        let actual = match field.trim() {
            "metadata.name" => object["metadata"]["name"].as_str(),
            "metadata.namespace" => object["metadata"]["namespace"].as_str(),
            _ => return false,
        };
        (actual.unwrap_or_default() == value.trim()) == equal
    })
}

// ------------------------------------------------------------------------------------------------
// ConfigMaps
// ------------------------------------------------------------------------------------------------

fn config_maps(
    sim: &Sim,
    state: &mut ClusterState,
    r: &ResourceAction,
    req: &ApiRequest<'_>,
) -> Result<Reply, ApiError> {
    let dry_run = query_param(req.query, "dryRun").is_some_and(|v| v == "All");
    let key = (r.namespace.clone(), r.name.clone());
    match r.verb.as_str() {
        "get" | "list" => read_only(r, req, state.resource_version, "ConfigMap", "v1", || {
            state.config_maps.values().map(to_json).collect()
        }),
        "create" => {
            let mut cm: ConfigMap = parse_body(req.body)?;
            if r.namespace.is_empty() {
                return Err(ApiError::no_route());
            }
            if !state.namespaces.contains_key(&r.namespace) {
                return Err(ApiError::not_found("namespaces", &r.namespace));
            }
            check_namespace(&cm.metadata, &r.namespace)?;
            let name = match (&cm.metadata.name, &cm.metadata.generate_name) {
                (Some(n), _) if !n.is_empty() => n.clone(),
                (_, Some(prefix)) if !prefix.is_empty() => {
                    format!("{prefix}{}", &state.new_uid()[..5])
                }
                _ => {
                    return Err(ApiError::invalid(
                        "ConfigMap",
                        "",
                        "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    ));
                }
            };
            if state
                .config_maps
                .contains_key(&(r.namespace.clone(), name.clone()))
            {
                return Err(ApiError::already_exists("configmaps", &name));
            }
            cm.metadata.name = Some(name);
            cm.metadata.namespace = Some(r.namespace.clone());
            cm.metadata.uid = None;
            cm.metadata.resource_version = None;
            cm.metadata.creation_timestamp = None;
            Ok((StatusCode::CREATED, store(state, cm, dry_run)))
        }
        "update" => {
            concurrent_writer(sim, state, r);
            let current = state
                .config_maps
                .get(&key)
                .cloned()
                .ok_or_else(|| ApiError::not_found("configmaps", &r.name))?;
            let mut cm: ConfigMap = parse_body(req.body)?;
            if cm.metadata.name.as_deref() != Some(r.name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({})",
                    cm.metadata.name.as_deref().unwrap_or_default(),
                    r.name
                )));
            }
            check_namespace(&cm.metadata, &r.namespace)?;
            check_resource_version(&cm.metadata, &current, &r.name)?;
            check_immutable(&current, &cm, &r.name)?;
            cm.metadata.namespace = Some(r.namespace.clone());
            cm.metadata.uid = current.metadata.uid.clone();
            Ok((StatusCode::OK, store(state, cm, dry_run)))
        }
        "patch" => {
            concurrent_writer(sim, state, r);
            let current = state
                .config_maps
                .get(&key)
                .cloned()
                .ok_or_else(|| ApiError::not_found("configmaps", &r.name))?;
            let patch: Value = parse_body(req.body)?;
            let media_type = req.content_type.split(';').next().unwrap_or("").trim();
            let mut patched = to_json(&current);
            match media_type {
                // For a ConfigMap the strategic merge patch of `data`, labels and annotations (all
                // maps) is the JSON merge patch; list directives (`$patch`) are not modelled.
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    // A resourceVersion in the patch is a precondition on the stored object.
                    if let Some(rv) = patch["metadata"]["resourceVersion"].as_str()
                        && Some(rv) != current.metadata.resource_version.as_deref()
                    {
                        return Err(ApiError::conflict("configmaps", &r.name));
                    }
                    merge_patch(&mut patched, &patch);
                }
                other => return Err(ApiError::unsupported_media_type(other)),
            }
            let mut cm: ConfigMap = serde_json::from_value(patched).map_err(|e| {
                ApiError::bad_request(format!("the patched object is not a ConfigMap: {e}"))
            })?;
            check_immutable(&current, &cm, &r.name)?;
            // Identity fields stay what they were.
            cm.metadata.name = current.metadata.name.clone();
            cm.metadata.namespace = current.metadata.namespace.clone();
            cm.metadata.uid = current.metadata.uid.clone();
            Ok((StatusCode::OK, store(state, cm, dry_run)))
        }
        "delete" => {
            let current = state
                .config_maps
                .get(&key)
                .cloned()
                .ok_or_else(|| ApiError::not_found("configmaps", &r.name))?;
            if !req.body.is_empty() {
                let options: DeleteOptions = parse_body(req.body)?;
                if let Some(pre) = options.preconditions {
                    let rv_ok = pre.resource_version.is_none()
                        || pre.resource_version == current.metadata.resource_version;
                    let uid_ok = pre.uid.is_none() || pre.uid == current.metadata.uid;
                    if !rv_ok || !uid_ok {
                        return Err(ApiError::conflict("configmaps", &r.name));
                    }
                }
            }
            if !dry_run {
                // Deleting `aws-auth` resets every ConfigMap mapping at once
                // (docs/aws-auth.md#where-the-authenticator-reads-it): the
                // authenticator reads the store on each request, so nothing else is needed.
                state.config_maps.remove(&key);
            }
            Ok((
                StatusCode::OK,
                status::delete_success("configmaps", &r.name, current.metadata.uid.as_deref()),
            ))
        }
        "watch" | "deletecollection" => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// The concurrent-writer fault: another actor edits `kube-system/aws-auth` just before this
/// write lands, so a write carrying the resourceVersion the client read gets 409 Conflict.
fn concurrent_writer(sim: &Sim, state: &mut ClusterState, r: &ResourceAction) {
    if r.namespace == KUBE_SYSTEM
        && r.name == crate::world::AWS_AUTH
        && sim.faults().concurrent_writer(&state.key)
    {
        state.apply_concurrent_aws_auth_edit();
    }
}

fn store(state: &mut ClusterState, cm: ConfigMap, dry_run: bool) -> Value {
    if dry_run {
        return to_json(&cm);
    }
    to_json(state.put_config_map(cm))
}

pub(super) fn check_namespace(meta: &ObjectMeta, namespace: &str) -> Result<(), ApiError> {
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() && ns != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

/// An update carrying a resourceVersion succeeds only against that version; one without it is
/// unconditional (ConfigMaps allow unconditional updates).
fn check_resource_version(
    meta: &ObjectMeta,
    current: &ConfigMap,
    name: &str,
) -> Result<(), ApiError> {
    match meta.resource_version.as_deref() {
        Some(rv) if !rv.is_empty() && Some(rv) != current.metadata.resource_version.as_deref() => {
            Err(ApiError::conflict("configmaps", name))
        }
        _ => Ok(()),
    }
}

fn check_immutable(current: &ConfigMap, new: &ConfigMap, name: &str) -> Result<(), ApiError> {
    if current.immutable == Some(true)
        && (current.data != new.data || current.binary_data != new.binary_data)
    {
        return Err(ApiError::invalid(
            "ConfigMap",
            name,
            format!(
                "ConfigMap \"{name}\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
            ),
        ));
    }
    Ok(())
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Access reviews
// ------------------------------------------------------------------------------------------------

fn subject_access_review(state: &ClusterState, req: &ApiRequest<'_>) -> Result<Reply, ApiError> {
    let mut review: SubjectAccessReview = parse_body(req.body)?;
    let spec = &review.spec;
    let user = spec.user.clone().unwrap_or_default();
    let groups = spec.groups.clone().unwrap_or_default();
    if user.is_empty() && groups.is_empty() {
        return Err(ApiError::invalid(
            "SubjectAccessReview",
            "",
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified",
        ));
    }
    let action = review_action(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
        "SubjectAccessReview",
    )?;
    // Exactly the user and groups of the spec: no `system:authenticated` is added.
    let user = rbac::UserInfo { name: user, groups };
    let decision = authz::subject_access_review(state, &user, &action);
    review.status = Some(decision.to_status());
    Ok((StatusCode::CREATED, to_json(&review)))
}

fn self_subject_access_review(
    state: &ClusterState,
    identity: &Identity,
    req: &ApiRequest<'_>,
) -> Result<Reply, ApiError> {
    let mut review: SelfSubjectAccessReview = parse_body(req.body)?;
    let action = review_action(
        review.spec.resource_attributes.as_ref(),
        review.spec.non_resource_attributes.as_ref(),
        "SelfSubjectAccessReview",
    )?;
    let decision = authz::self_subject_access_review(
        state,
        &identity.user,
        &identity.access_policies,
        &action,
    );
    review.status = Some(decision.to_status());
    Ok((StatusCode::CREATED, to_json(&review)))
}

fn review_action(
    resource: Option<&k8s_openapi::api::authorization::v1::ResourceAttributes>,
    non_resource: Option<&k8s_openapi::api::authorization::v1::NonResourceAttributes>,
    kind: &str,
) -> Result<Action, ApiError> {
    authz::review_action(resource, non_resource).ok_or_else(|| {
        ApiError::invalid(
            kind,
            "",
            format!(
                "{kind}.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
            ),
        )
    })
}

/// `kubectl auth whoami`: the user info the authenticator attached
/// (docs/aws-auth.md#what-the-api-server-receives).
fn self_subject_review(identity: &Identity) -> Reply {
    let caller = &identity.caller;
    let extra = BTreeMap::from([
        ("arn".to_string(), vec![caller.arn.clone()]),
        (
            "canonicalArn".to_string(),
            vec![caller.canonical_arn.clone()],
        ),
        ("sessionName".to_string(), vec![caller.session_name.clone()]),
        (
            "accessKeyId".to_string(),
            vec![caller.access_key_id.clone()],
        ),
        ("principalId".to_string(), vec![caller.principal_id.clone()]),
        (
            "sigs.k8s.io/aws-iam-authenticator/principalId".to_string(),
            vec![caller.principal_id.clone()],
        ),
    ]);
    let review = SelfSubjectReview {
        metadata: ObjectMeta::default(),
        status: Some(SelfSubjectReviewStatus {
            user_info: Some(UserInfo {
                username: Some(identity.user.name.clone()),
                uid: Some(format!(
                    "aws-iam-authenticator:{}:{}",
                    caller.account, caller.principal_id
                )),
                groups: Some(identity.user.groups.clone()),
                extra: Some(extra),
            }),
        }),
    };
    (StatusCode::CREATED, to_json(&review))
}

// ------------------------------------------------------------------------------------------------
// Version and discovery
// ------------------------------------------------------------------------------------------------

fn non_resource(state: &ClusterState, verb: &str, path: &str) -> Result<Reply, ApiError> {
    if verb != "get" {
        return Err(ApiError::method_not_allowed());
    }
    let path = path.trim_end_matches('/');
    let ok = |v: Value| Ok((StatusCode::OK, v));
    match path {
        "/version" => ok(version(state)),
        "/api" => ok(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443" }],
        })),
        "/api/v1" => ok(resource_list("v1", &core_resources())),
        "/apis" => ok(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": groups().iter().map(|(g, _)| api_group(g)).collect::<Vec<_>>(),
        })),
        _ => {
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match segments.as_slice() {
                ["apis", group] if groups().iter().any(|(g, _)| g == group) => {
                    let mut doc = api_group(group);
                    doc["kind"] = json!("APIGroup");
                    doc["apiVersion"] = json!("v1");
                    ok(doc)
                }
                ["apis", group, "v1"] => match groups().iter().find(|(g, _)| g == group) {
                    Some((g, resources)) => ok(resource_list(&format!("{g}/v1"), resources)),
                    None => Err(ApiError::no_route()),
                },
                _ => Err(ApiError::no_route()),
            }
        }
    }
}

/// What the cluster reports for `/version`; EKS builds carry `-eks-` and a `+` minor.
fn version(state: &ClusterState) -> Value {
    let mut parts = state.kubernetes_version.split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    json!({
        "major": major,
        "minor": format!("{minor}+"),
        "gitVersion": format!("v{major}.{minor}.0-eks-{}", state.platform_version.replace('.', "")),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// (name, namespaced, kind, verbs)
type ResourceDoc = (&'static str, bool, &'static str, &'static [&'static str]);

const READ: &[&str] = &["get", "list"];

fn core_resources() -> Vec<ResourceDoc> {
    vec![
        (
            "configmaps",
            true,
            "ConfigMap",
            &["create", "delete", "get", "list", "patch", "update"],
        ),
        ("namespaces", false, "Namespace", READ),
        ("nodes", false, "Node", READ),
    ]
}

fn groups() -> Vec<(&'static str, Vec<ResourceDoc>)> {
    vec![
        (
            RBAC_GROUP,
            vec![
                ("clusterrolebindings", false, "ClusterRoleBinding", READ),
                ("clusterroles", false, "ClusterRole", READ),
                ("rolebindings", true, "RoleBinding", READ),
                ("roles", true, "Role", READ),
            ],
        ),
        (
            AUTHZ_GROUP,
            vec![
                (
                    "selfsubjectaccessreviews",
                    false,
                    "SelfSubjectAccessReview",
                    &["create"],
                ),
                (
                    "subjectaccessreviews",
                    false,
                    "SubjectAccessReview",
                    &["create"],
                ),
            ],
        ),
        (
            AUTHN_GROUP,
            vec![(
                "selfsubjectreviews",
                false,
                "SelfSubjectReview",
                &["create"],
            )],
        ),
        (
            leases::GROUP,
            vec![(
                "leases",
                true,
                "Lease",
                &["create", "delete", "get", "list", "patch", "update"],
            )],
        ),
    ]
}

fn api_group(group: &str) -> Value {
    let gv = json!({ "groupVersion": format!("{group}/v1"), "version": "v1" });
    json!({ "name": group, "versions": [gv.clone()], "preferredVersion": gv })
}

fn resource_list(group_version: &str, resources: &[ResourceDoc]) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources.iter().map(|(name, namespaced, kind, verbs)| {
            let mut doc = json!({
                "name": name,
                "singularName": kind.to_ascii_lowercase(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            let short = short_names(name);
            if !short.is_empty() {
                doc["shortNames"] = json!(short);
            }
            doc
        }).collect::<Vec<_>>(),
    })
}

/// The short names the real API server advertises, so `kubectl get cm` resolves.
fn short_names(resource: &str) -> &'static [&'static str] {
    match resource {
        "configmaps" => &["cm"],
        "namespaces" => &["ns"],
        "serviceaccounts" => &["sa"],
        "services" => &["svc"],
        "pods" => &["po"],
        "nodes" => &["no"],
        "events" => &["ev"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}, "n": [1]}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}, "n": [1]}));
    }

    #[test]
    fn discovery_serves_kubectl_short_names() {
        let list = resource_list(
            "v1",
            &[
                ("configmaps", true, "ConfigMap", &["get"]),
                ("secrets", true, "Secret", &["get"]),
            ],
        );
        assert_eq!(list["resources"][0]["shortNames"], json!(["cm"]));
        assert!(list["resources"][1].get("shortNames").is_none());
    }

    #[test]
    fn selectors() {
        let labels = json!({"app": "x", "tier": "web"});
        assert!(label_selector_matches("app=x,tier", &labels));
        assert!(label_selector_matches("app!=y,!missing", &labels));
        assert!(!label_selector_matches("app==y", &labels));
        let obj = json!({"metadata": {"name": "aws-auth", "namespace": "kube-system"}});
        assert!(field_selector_matches("metadata.name=aws-auth", &obj));
        assert!(!field_selector_matches("metadata.name!=aws-auth", &obj));
        assert!(!field_selector_matches("spec.x=1", &obj));
    }
}
