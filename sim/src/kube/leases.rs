//! `coordination.k8s.io/v1` Leases, with the API server's rules for this kind (the registry's
//! lease strategy): every update must carry the `resourceVersion` it read (Leases allow no
//! unconditional update), a PUT of a Lease that does not exist creates it, `leaseDurationSeconds`
//! must be positive and `leaseTransitions` not negative, and the alpha coordinated-election
//! fields (`strategy`, `preferredHolder`) are dropped as with the feature gate off. A fleet
//! migration keeps its per-cluster lock in one, so the simulator serves them like any object.

use http::StatusCode;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, Time};
use serde_json::{Value, json};

use super::objects::{ApiRequest, Reply, check_namespace, list, merge_patch, parse_body, to_json};
use super::request::query_param;
use super::status::ApiError;
use crate::rbac::ResourceAction;
use crate::world::{ClusterState, Epoch};

/// The API group of Leases.
pub const GROUP: &str = "coordination.k8s.io";
const RESOURCE: &str = "leases";
/// How the API server names the resource in messages.
const QUALIFIED: &str = "leases.coordination.k8s.io";

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(QUALIFIED, name).in_group(GROUP, RESOURCE)
}

fn conflict(name: &str) -> ApiError {
    ApiError::conflict(QUALIFIED, name).in_group(GROUP, RESOURCE)
}

fn invalid(name: &str, problems: &str) -> ApiError {
    ApiError::invalid(
        "Lease",
        name,
        format!("Lease.{GROUP} \"{name}\" is invalid: {problems}"),
    )
    .in_group(GROUP, RESOURCE)
}

/// The Lease checks of the API server (`ValidateLease`): the name is a DNS subdomain,
/// `leaseDurationSeconds` > 0, `leaseTransitions` ≥ 0. Returns the problems as the API server
/// words them (`spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0`), in
/// brackets when there are several.
pub fn validate(lease: &Lease) -> Result<(), String> {
    let mut problems = Vec::new();
    let name = lease.metadata.name.as_deref().unwrap_or_default();
    if !is_dns_subdomain(name) {
        problems.push(format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ));
    }
    if let Some(spec) = &lease.spec {
        if let Some(d) = spec.lease_duration_seconds
            && d <= 0
        {
            problems.push(format!(
                "spec.leaseDurationSeconds: Invalid value: {d}: must be greater than 0"
            ));
        }
        if let Some(t) = spec.lease_transitions
            && t < 0
        {
            problems.push(format!(
                "spec.leaseTransitions: Invalid value: {t}: must be greater than or equal to 0"
            ));
        }
    }
    match problems.len() {
        0 => Ok(()),
        1 => Err(problems.remove(0)),
        _ => Err(format!("[{}]", problems.join(", "))),
    }
}

/// RFC 1123 subdomain: at most 253 characters of `[a-z0-9.-]`, dot-separated labels that start
/// and end alphanumeric.
fn is_dns_subdomain(name: &str) -> bool {
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

/// Serves one authorized Lease request. `now` stamps the `creationTimestamp` of new Leases.
pub fn serve(
    state: &mut ClusterState,
    r: &ResourceAction,
    req: &ApiRequest<'_>,
    now: Epoch,
) -> Result<Reply, ApiError> {
    let dry_run = query_param(req.query, "dryRun").is_some_and(|v| v == "All");
    match r.verb.as_str() {
        "get" => {
            let key = (r.namespace.clone(), r.name.clone());
            state
                .leases
                .get(&key)
                .map(|l| (StatusCode::OK, to_json(l)))
                .ok_or_else(|| not_found(&r.name))
        }
        "list" => {
            let items = state
                .leases
                .iter()
                .filter(|((ns, _), _)| r.namespace.is_empty() || *ns == r.namespace)
                .map(|(_, l)| to_json(l))
                .collect();
            list(
                items,
                "Lease",
                &format!("{GROUP}/v1"),
                req,
                state.resource_version,
            )
        }
        "create" => create(state, r, req, now, dry_run),
        "update" => update(state, r, req, now, dry_run),
        "patch" => patch(state, r, req, dry_run),
        "delete" => delete(state, r, req, dry_run),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn decode(body: &[u8]) -> Result<Lease, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "Lease in version \"v1\" cannot be handled as a Lease: {e}"
        ))
    })
}

fn create(
    state: &mut ClusterState,
    r: &ResourceAction,
    req: &ApiRequest<'_>,
    now: Epoch,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    if r.namespace.is_empty() {
        return Err(ApiError::method_not_allowed());
    }
    let mut lease = decode(req.body)?;
    check_namespace(&lease.metadata, &r.namespace)?;
    if !state.namespaces.contains_key(&r.namespace) {
        return Err(ApiError::not_found("namespaces", &r.namespace));
    }
    let name = match (&lease.metadata.name, &lease.metadata.generate_name) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, Some(prefix)) if !prefix.is_empty() => {
            format!("{prefix}{}", &state.new_uid()[..5])
        }
        _ => {
            return Err(invalid(
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
    };
    if state
        .leases
        .contains_key(&(r.namespace.clone(), name.clone()))
    {
        return Err(ApiError::already_exists(QUALIFIED, &name).in_group(GROUP, RESOURCE));
    }
    lease.metadata.name = Some(name);
    insert_new(state, lease, &r.namespace, now, dry_run)
}

/// Stores a new Lease (create, or a PUT of one that does not exist): 201 with the object.
fn insert_new(
    state: &mut ClusterState,
    mut lease: Lease,
    namespace: &str,
    now: Epoch,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    let name = lease.metadata.name.clone().unwrap_or_default();
    validate(&lease).map_err(|p| invalid(&name, &p))?;
    // The CoordinatedLeaderElection gate is off: the server drops its fields on create.
    if let Some(spec) = &mut lease.spec {
        spec.strategy = None;
        spec.preferred_holder = None;
    }
    let meta = &mut lease.metadata;
    meta.namespace = Some(namespace.to_string());
    meta.uid = Some(state.new_uid());
    meta.creation_timestamp = Some(time(now));
    meta.deletion_timestamp = None;
    meta.generation = None;
    meta.managed_fields = None;
    meta.resource_version = if dry_run {
        None
    } else {
        Some(state.next_resource_version())
    };
    if !dry_run {
        state
            .leases
            .insert((namespace.to_string(), name), lease.clone());
    }
    Ok((StatusCode::CREATED, to_json(&lease)))
}

fn update(
    state: &mut ClusterState,
    r: &ResourceAction,
    req: &ApiRequest<'_>,
    now: Epoch,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    let lease = decode(req.body)?;
    if lease.metadata.name.as_deref() != Some(r.name.as_str()) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            lease.metadata.name.as_deref().unwrap_or_default(),
            r.name
        )));
    }
    check_namespace(&lease.metadata, &r.namespace)?;
    let key = (r.namespace.clone(), r.name.clone());
    let Some(current) = state.leases.get(&key).cloned() else {
        // Leases allow create-on-update; the resourceVersion of the body is ignored then.
        if !state.namespaces.contains_key(&r.namespace) {
            return Err(ApiError::not_found("namespaces", &r.namespace));
        }
        return insert_new(state, lease, &r.namespace, now, dry_run);
    };
    check_resource_version(
        lease.metadata.resource_version.as_deref(),
        &current,
        &r.name,
    )?;
    replace(state, key, current, lease, dry_run)
}

/// Leases refuse unconditional updates: no resourceVersion is 422, another one is 409.
fn check_resource_version(sent: Option<&str>, current: &Lease, name: &str) -> Result<(), ApiError> {
    match sent.filter(|rv| !rv.is_empty()) {
        None => Err(invalid(
            name,
            "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
        )),
        Some(rv) if rv.parse::<u64>().is_err() => Err(ApiError::bad_request(format!(
            "invalid resource version: {rv:?}"
        ))),
        Some(rv) if Some(rv) != current.metadata.resource_version.as_deref() => Err(conflict(name)),
        Some(_) => Ok(()),
    }
}

/// Stores `new` in place of `current`: identity fields stay, the resourceVersion moves on.
fn replace(
    state: &mut ClusterState,
    key: (String, String),
    current: Lease,
    mut new: Lease,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    validate(&new).map_err(|p| invalid(&key.1, &p))?;
    // With the gate off, the alpha fields survive only where the stored object already had them.
    let old_spec = current.spec.clone().unwrap_or_default();
    if let Some(spec) = &mut new.spec {
        if old_spec.strategy.is_none() {
            spec.strategy = None;
        }
        if old_spec.preferred_holder.is_none() {
            spec.preferred_holder = None;
        }
    }
    let meta = &mut new.metadata;
    meta.name = current.metadata.name.clone();
    meta.namespace = current.metadata.namespace.clone();
    meta.uid = current.metadata.uid.clone();
    meta.creation_timestamp = current.metadata.creation_timestamp.clone();
    meta.deletion_timestamp = None;
    meta.generation = None;
    meta.managed_fields = None;
    if dry_run {
        meta.resource_version = current.metadata.resource_version.clone();
        return Ok((StatusCode::OK, to_json(&new)));
    }
    meta.resource_version = Some(state.next_resource_version());
    state.leases.insert(key, new.clone());
    Ok((StatusCode::OK, to_json(&new)))
}

fn patch(
    state: &mut ClusterState,
    r: &ResourceAction,
    req: &ApiRequest<'_>,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    let key = (r.namespace.clone(), r.name.clone());
    let current = state
        .leases
        .get(&key)
        .cloned()
        .ok_or_else(|| not_found(&r.name))?;
    let patch: Value = parse_body(req.body)?;
    let mut patched = to_json(&current);
    match req.content_type.split(';').next().unwrap_or("").trim() {
        // Every Lease field is a scalar, so the strategic merge patch is the JSON merge patch.
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            merge_patch(&mut patched, &patch);
        }
        "application/json-patch+json" => json_patch(&mut patched, &patch)
            .map_err(|e| ApiError::invalid("Lease", &r.name, e).in_group(GROUP, RESOURCE))?,
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    let new: Lease = serde_json::from_value(patched)
        .map_err(|e| ApiError::bad_request(format!("the patched object is not a Lease: {e}")))?;
    // A resourceVersion the patch sets is a precondition on the stored object.
    if let Some(rv) = new.metadata.resource_version.as_deref()
        && Some(rv) != current.metadata.resource_version.as_deref()
    {
        return Err(conflict(&r.name));
    }
    replace(state, key, current, new, dry_run)
}

fn delete(
    state: &mut ClusterState,
    r: &ResourceAction,
    req: &ApiRequest<'_>,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    let key = (r.namespace.clone(), r.name.clone());
    let current = state.leases.get(&key).ok_or_else(|| not_found(&r.name))?;
    let uid = current.metadata.uid.clone();
    if !req.body.is_empty() {
        let options: DeleteOptions = parse_body(req.body)?;
        if let Some(pre) = options.preconditions {
            let rv_ok = pre.resource_version.is_none()
                || pre.resource_version == current.metadata.resource_version;
            let uid_ok = pre.uid.is_none() || pre.uid == uid;
            if !rv_ok || !uid_ok {
                return Err(conflict(&r.name));
            }
        }
    }
    if !dry_run {
        state.leases.remove(&key);
    }
    Ok((
        StatusCode::OK,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": { "name": r.name, "group": GROUP, "kind": RESOURCE, "uid": uid },
        }),
    ))
}

fn time(epoch: Epoch) -> Time {
    let secs = epoch.max(0.0) as i64;
    Time(
        k8s_openapi::jiff::Timestamp::from_second(secs)
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

// ------------------------------------------------------------------------------------------------
// JSON patch (RFC 6902)
// ------------------------------------------------------------------------------------------------

/// Applies an RFC 6902 patch; a failed `test` or a path that does not resolve fails the whole
/// patch (the caller works on a copy).
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    for op in ops {
        let field = |name: &str| {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation {op} has no string {name:?}"))
        };
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("operation {op} has no \"value\""))
        };
        let path = field("path")?;
        match field("op")? {
            "add" => add(target, path, value()?)?,
            "remove" => {
                remove(target, path)?;
            }
            "replace" => {
                remove(target, path)?;
                add(target, path, value()?)?;
            }
            "move" => {
                let moved = remove(target, field("from")?)?;
                add(target, path, moved)?;
            }
            "copy" => {
                let from = field("from")?;
                let copied = target
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("copy: path {from:?} does not exist"))?;
                add(target, path, copied)?;
            }
            "test" => {
                if target.pointer(path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unexpected kind of operation: {other:?}")),
        }
    }
    Ok(())
}

/// Splits a JSON pointer into its parent pointer and its last token (unescaped).
fn split_pointer(path: &str) -> Result<(&str, String), String> {
    let slash = path
        .rfind('/')
        .ok_or_else(|| format!("{path:?} is not a JSON pointer"))?;
    let token = path[slash + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..slash], token))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, token) = split_pointer(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(token, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = if token == "-" {
                items.len()
            } else {
                token
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| format!("add: index {token:?} is out of range in {parent:?}"))?
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("add: path {parent:?} does not exist")),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, token) = split_pointer(path)?;
    let missing = || format!("path {path:?} does not exist");
    match target.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&token).ok_or_else(missing),
        Some(Value::Array(items)) => match token.parse::<usize>() {
            Ok(i) if i < items.len() => Ok(items.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn lease(name: &str, duration: Option<i32>, transitions: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                lease_duration_seconds: duration,
                lease_transitions: transitions,
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn validation_follows_the_api_server() {
        assert_eq!(
            validate(&lease("aws-auth-migrate", Some(30), Some(0))),
            Ok(())
        );
        assert_eq!(
            validate(&lease("l", Some(0), None)),
            Err("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0".into())
        );
        let both = validate(&lease("l", Some(-1), Some(-2))).unwrap_err();
        assert!(both.starts_with("[spec.leaseDurationSeconds"), "{both}");
        assert!(
            both.contains("spec.leaseTransitions: Invalid value: -2"),
            "{both}"
        );
        assert!(validate(&lease("Upper", None, None)).is_err());
        assert!(validate(&lease("a..b", None, None)).is_err());
        assert!(validate(&lease("-a", None, None)).is_err());
        assert!(validate(&lease("a.b-c.d", None, None)).is_ok());
        assert!(validate(&lease(&"a".repeat(254), None, None)).is_err());
    }

    #[test]
    fn json_patch_follows_rfc_6902() {
        let mut doc = json!({"spec": {"holderIdentity": "a", "n": [1, 2]}, "x~/y": 1});
        json_patch(
            &mut doc,
            &json!([
                {"op": "test", "path": "/spec/holderIdentity", "value": "a"},
                {"op": "replace", "path": "/spec/holderIdentity", "value": "b"},
                {"op": "add", "path": "/spec/n/-", "value": 3},
                {"op": "add", "path": "/spec/n/0", "value": 0},
                {"op": "remove", "path": "/x~0~1y"},
                {"op": "copy", "from": "/spec/holderIdentity", "path": "/spec/copy"},
                {"op": "move", "from": "/spec/copy", "path": "/moved"},
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"spec": {"holderIdentity": "b", "n": [0, 1, 2, 3]}, "moved": "b"})
        );
        let failed = json_patch(
            &mut doc,
            &json!([{"op": "test", "path": "/spec/holderIdentity", "value": "a"}]),
        );
        assert_eq!(
            failed,
            Err("testing value /spec/holderIdentity failed".into())
        );
        assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "replace", "path": "/nope", "value": 1}])
            )
            .is_err()
        );
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "add", "path": "/spec/n/9", "value": 1}])
            )
            .is_err()
        );
        assert!(json_patch(&mut doc, &json!([{"op": "frobnicate", "path": "/x"}])).is_err());
        assert!(json_patch(&mut doc, &json!({"op": "add"})).is_err());
    }
}
