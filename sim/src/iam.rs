//! IAM over the query protocol: `GetRole`, `GetUser`, `ListRoles` (what a migration tool needs to
//! resolve path-less `aws-auth` role ARNs to their real ARNs, docs/pitfalls.md#role-paths).

use crate::server::{AwsRequest, Reply, ServiceError};
use crate::sts::{iso8601, xml_escape};
use crate::world::{IamRole, IamUser, Sim};

pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

fn ok_xml(op: &str, result: &str, request_id: &str) -> Reply {
    Reply::xml(
        200,
        format!(
            "<{op}Response xmlns=\"{IAM_XMLNS}\"><{op}Result>{result}</{op}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>"
        ),
    )
}

fn role_xml(r: &IamRole) -> String {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": r.trust.iter().map(|t| serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": if t.len() == 12 { format!("arn:{}:iam::{t}:root", r.partition) } else { t.clone() }},
            "Action": "sts:AssumeRole",
        })).collect::<Vec<_>>(),
    });
    // IAM returns the policy document URL-encoded.
    let doc = crate::sigv4::aws_encode(&trust.to_string(), false);
    format!(
        "<Path>{}</Path><RoleName>{}</RoleName><RoleId>{}</RoleId><Arn>{}</Arn><CreateDate>{}</CreateDate><AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration>",
        xml_escape(&r.path),
        xml_escape(&r.name),
        r.unique_id,
        xml_escape(&r.arn()),
        iso8601(r.created_at),
        doc
    )
}

fn user_xml(u: &IamUser) -> String {
    format!(
        "<Path>{}</Path><UserName>{}</UserName><UserId>{}</UserId><Arn>{}</Arn><CreateDate>{}</CreateDate>",
        xml_escape(&u.path),
        xml_escape(&u.name),
        u.unique_id,
        xml_escape(&u.arn()),
        iso8601(u.created_at)
    )
}

/// IAM's constraints on `RoleName`: 1 to 64 characters of `[\w+=,.@-]`, checked before any
/// lookup, so a name outside them is a 400 ValidationError rather than a 404.
fn check_role_name(name: &str) -> Result<(), ServiceError> {
    let len = name.chars().count();
    if len > 64 {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if len == 0 || !name.chars().all(allowed) {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    Ok(())
}

fn no_such_entity(msg: String) -> ServiceError {
    ServiceError::new(404, "NoSuchEntity", msg)
}

fn validation(msg: String) -> ServiceError {
    ServiceError::new(400, "ValidationError", msg)
}

/// Handles one IAM query-protocol call. IAM is global: the caller's own account is used.
pub(crate) fn handle(
    sim: &Sim,
    req: &AwsRequest,
    action: &str,
    params: &[(String, String)],
) -> Result<Reply, ServiceError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let account = req.caller.account.as_str();
    let iam = sim.iam();
    match action {
        "GetRole" => {
            let name = param("RoleName")
                .ok_or_else(|| validation("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null".into()))?;
            check_role_name(name)?;
            let role = iam.role(account, name).ok_or_else(|| {
                no_such_entity(format!("The role with name {name} cannot be found."))
            })?;
            Ok(ok_xml(
                action,
                &format!("<Role>{}</Role>", role_xml(role)),
                &req.request_id,
            ))
        }
        "GetUser" => {
            let user = match param("UserName") {
                Some(name) => iam.user(account, name).ok_or_else(|| {
                    no_such_entity(format!("The user with name {name} cannot be found."))
                })?,
                None => {
                    let p = crate::world::parse_iam_arn(&req.caller.principal_arn);
                    match p.filter(|p| p.resource_type == "user") {
                        Some(p) => iam.user(p.account, p.name).ok_or_else(|| {
                            no_such_entity(format!(
                                "The user with name {} cannot be found.",
                                p.name
                            ))
                        })?,
                        None => {
                            return Err(validation(
                                "Must specify userName when calling with non-User credentials"
                                    .into(),
                            ));
                        }
                    }
                }
            };
            Ok(ok_xml(
                action,
                &format!("<User>{}</User>", user_xml(user)),
                &req.request_id,
            ))
        }
        "ListRoles" => {
            let prefix = param("PathPrefix").unwrap_or("/");
            let max_items: usize = match param("MaxItems") {
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| validation(format!("1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")))?,
                None => 100,
            };
            let mut roles: Vec<&IamRole> = iam
                .roles
                .values()
                .filter(|r| r.account == account && r.path.starts_with(prefix))
                .collect();
            roles.sort_by_key(|r| r.name.to_ascii_lowercase());
            let start = match param("Marker") {
                Some(m) => {
                    let last =
                        decode_marker(m).ok_or_else(|| validation("Invalid Marker.".into()))?;
                    roles.partition_point(|r| r.name.to_ascii_lowercase() <= last)
                }
                None => 0,
            };
            let page: Vec<&IamRole> = roles.iter().skip(start).take(max_items).copied().collect();
            let truncated = start + page.len() < roles.len();
            let mut body = String::from("<Roles>");
            for r in &page {
                body.push_str("<member>");
                body.push_str(&role_xml(r));
                body.push_str("</member>");
            }
            body.push_str("</Roles>");
            body.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
            if truncated && let Some(last) = page.last() {
                body.push_str(&format!(
                    "<Marker>{}</Marker>",
                    encode_marker(&last.name.to_ascii_lowercase())
                ));
            }
            Ok(ok_xml(action, &body, &req.request_id))
        }
        other => Err(ServiceError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {other} for version 2010-05-08"),
        )),
    }
}

fn encode_marker(last: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("roles:{last}"))
}

fn decode_marker(m: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(m).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("roles:")
        .map(str::to_string)
}
