//! STS over the query protocol (`GetCallerIdentity`, `AssumeRole`), and verification of EKS
//! bearer tokens (a presigned `GetCallerIdentity` URL), which the Kubernetes half calls.

use std::time::Duration;

use base64::Engine;

use crate::server::{AwsRequest, Reply, ServiceError};
use crate::sigv4::{self, SignedRequest};
use crate::world::{CallerIdentity, Epoch, Sim, parse_iam_arn};

pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The authenticator accepts tokens for 15 minutes at most.
pub const MAX_TOKEN_AGE_SECS: f64 = 900.0;
/// The header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// Why an EKS token was refused (the Kubernetes API answers 401 for all of them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a k8s-aws-v1 token")]
    NotEksToken,
    #[error("token does not decode to a URL: {0}")]
    BadEncoding(String),
    #[error("token URL is not an STS GetCallerIdentity request: {0}")]
    NotGetCallerIdentity(String),
    #[error("token is missing {0}")]
    Missing(&'static str),
    #[error("token is not signed for header {CLUSTER_ID_HEADER}")]
    ClusterIdNotSigned,
    #[error("token expired")]
    Expired,
    #[error("token date is in the future")]
    NotYetValid,
    #[error("unknown access key {0}")]
    UnknownAccessKey(String),
    #[error("session token does not match access key")]
    BadSessionToken,
    #[error("signature does not match (wrong secret or wrong cluster)")]
    SignatureMismatch,
}

/// Decodes `k8s-aws-v1.<base64url(url)>` into the presigned URL.
pub fn decode_token(token: &str) -> Result<String, TokenError> {
    let b64 = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::NotEksToken)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|e| TokenError::BadEncoding(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| TokenError::BadEncoding(e.to_string()))
}

/// Verifies an EKS bearer token (`k8s-aws-v1.…`) for `expected_cluster`; see
/// [`verify_presigned_get_caller_identity`].
pub fn verify_token(
    sim: &Sim,
    token: &str,
    expected_cluster: &str,
) -> Result<CallerIdentity, TokenError> {
    let url = decode_token(token)?;
    verify_presigned_get_caller_identity(sim, &url, expected_cluster)
}

/// [`verify_presigned_get_caller_identity_at`] at the simulator's current time ([`Sim::now`]).
pub fn verify_presigned_get_caller_identity(
    sim: &Sim,
    url: &str,
    expected_cluster: &str,
) -> Result<CallerIdentity, TokenError> {
    verify_presigned_get_caller_identity_at(sim, url, expected_cluster, sim.now())
}

/// Checks a presigned STS `GetCallerIdentity` URL as the authenticator + STS would: host is STS
/// (or this simulator), path `/`, `Action=GetCallerIdentity`, `Version=2011-06-15`, `x-k8s-aws-id`
/// signed and equal to `expected_cluster`, at most 900 s past `X-Amz-Date` (whatever
/// `X-Amz-Expires` says, as the authenticator checks it), and a
/// valid signature by the access key's secret. Returns who signed it.
pub fn verify_presigned_get_caller_identity_at(
    sim: &Sim,
    url: &str,
    expected_cluster: &str,
    now: Epoch,
) -> Result<CallerIdentity, TokenError> {
    let parsed = url::Url::parse(url).map_err(|e| TokenError::BadEncoding(e.to_string()))?;
    let host = parsed
        .host_str()
        .ok_or(TokenError::NotGetCallerIdentity("no host".into()))?
        .to_string();
    let host_header = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    if !is_sts_host(sim, &host, &host_header) {
        return Err(TokenError::NotGetCallerIdentity(format!(
            "host {host_header} is not STS"
        )));
    }
    if parsed.path() != "/" {
        return Err(TokenError::NotGetCallerIdentity(format!(
            "path {}",
            parsed.path()
        )));
    }
    let q = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if q("Action").as_deref() != Some("GetCallerIdentity") {
        return Err(TokenError::NotGetCallerIdentity("Action".into()));
    }
    if q("Version").as_deref() != Some("2011-06-15") {
        return Err(TokenError::NotGetCallerIdentity("Version".into()));
    }
    if q("X-Amz-Algorithm").as_deref() != Some(sigv4::ALGORITHM) {
        return Err(TokenError::Missing("X-Amz-Algorithm"));
    }
    let credential = q("X-Amz-Credential").ok_or(TokenError::Missing("X-Amz-Credential"))?;
    let signed = q("X-Amz-SignedHeaders").ok_or(TokenError::Missing("X-Amz-SignedHeaders"))?;
    let signature = q("X-Amz-Signature").ok_or(TokenError::Missing("X-Amz-Signature"))?;
    let amz_date = q("X-Amz-Date").ok_or(TokenError::Missing("X-Amz-Date"))?;
    let auth = sigv4::parse_credential(&credential, &signed, &signature)
        .map_err(|_| TokenError::Missing("a valid X-Amz-Credential"))?;
    if auth.service != "sts" {
        return Err(TokenError::NotGetCallerIdentity(format!(
            "signed for service {}",
            auth.service
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == CLUSTER_ID_HEADER) {
        return Err(TokenError::ClusterIdNotSigned);
    }
    let signed_at =
        sigv4::parse_amz_date(&amz_date).ok_or(TokenError::Missing("a valid X-Amz-Date"))?;
    if signed_at > now + 300.0 {
        return Err(TokenError::NotYetValid);
    }
    // The authenticator ignores X-Amz-Expires (get-token writes 60 s) and accepts a token for
    // 15 minutes from X-Amz-Date.
    if now > signed_at + MAX_TOKEN_AGE_SECS {
        return Err(TokenError::Expired);
    }
    let key = sim
        .access_key(&auth.access_key_id)
        .ok_or_else(|| TokenError::UnknownAccessKey(auth.access_key_id.clone()))?;
    if key.session_token.is_some() && q("X-Amz-Security-Token") != key.session_token {
        return Err(TokenError::BadSessionToken);
    }
    if key.expires_at.is_some_and(|t| now > t) {
        return Err(TokenError::Expired);
    }
    let req = SignedRequest {
        method: "GET",
        raw_path: "/",
        raw_query: parsed.query().unwrap_or(""),
        headers: vec![
            ("host".to_string(), host_header),
            (CLUSTER_ID_HEADER.to_string(), expected_cluster.to_string()),
        ],
        payload_hash: sigv4::sha256_hex(b""),
    };
    sigv4::verify(&key.secret, &auth, &amz_date, &req, &["UNSIGNED-PAYLOAD"])
        .map_err(|_| TokenError::SignatureMismatch)?;
    sim.identity_for_key(&auth.access_key_id)
        .ok_or(TokenError::UnknownAccessKey(auth.access_key_id))
}

/// The DNS suffixes of the partitions' regional endpoints (AWS's `partitions.json`): aws and
/// aws-us-gov, aws-cn, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc.
const DNS_SUFFIXES: [&str; 7] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "c2s.ic.gov",
    "sc2s.sgov.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
    "amazonaws.eu",
];

/// The global STS host, or `sts.REGION.SUFFIX` of a partition, or the simulator itself.
fn is_sts_host(sim: &Sim, host: &str, host_header: &str) -> bool {
    if host == "sts.amazonaws.com" {
        return true;
    }
    let regional = host.strip_prefix("sts.").is_some_and(|rest| {
        DNS_SUFFIXES.iter().any(|suffix| {
            rest.strip_suffix(suffix)
                .and_then(|r| r.strip_suffix('.'))
                .is_some_and(|region| {
                    !region.is_empty()
                        && region
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                })
        })
    });
    let own = sim
        .endpoints()
        .aws
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .is_some_and(|u| {
            let h = u.host_str().unwrap_or_default().to_string();
            let hh = match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h,
            };
            hh == host_header
        });
    regional || own
}

/// Escapes text for XML element content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Epoch seconds as ISO 8601 (`2024-01-01T00:00:00Z`), the query protocol's timestamp format.
pub fn iso8601(epoch: Epoch) -> String {
    let secs = epoch.floor() as i64;
    match k8s_openapi::jiff::Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".to_string(),
    }
}

fn ok_xml(op: &str, result: &str, request_id: &str) -> Reply {
    Reply::xml(
        200,
        format!(
            "<{op}Response xmlns=\"{STS_XMLNS}\"><{op}Result>{result}</{op}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>"
        ),
    )
}

/// Handles one STS query-protocol call.
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
    match action {
        "GetCallerIdentity" => {
            let c = &req.caller;
            Ok(ok_xml(
                action,
                &format!(
                    "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
                    xml_escape(&c.arn),
                    xml_escape(&c.user_id),
                    c.account
                ),
                &req.request_id,
            ))
        }
        "AssumeRole" => assume_role(
            sim,
            req,
            param("RoleArn"),
            param("RoleSessionName"),
            param("DurationSeconds"),
        ),
        other => Err(ServiceError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
    }
}

fn assume_role(
    sim: &Sim,
    req: &AwsRequest,
    role_arn: Option<&str>,
    session: Option<&str>,
    duration: Option<&str>,
) -> Result<Reply, ServiceError> {
    let role_arn = role_arn.ok_or_else(|| validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"))?;
    let session = session.ok_or_else(|| {
        validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
    })?;
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        return Err(validation(&format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let duration_secs: u64 = match duration {
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (900..=43_200).contains(d))
            .ok_or_else(|| validation(&format!("1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")))?,
        None => 3600,
    };
    let denied = || {
        ServiceError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                req.caller.arn
            ),
        )
    };
    let parsed = parse_iam_arn(role_arn)
        .filter(|p| p.resource_type == "role")
        .ok_or_else(denied)?;
    let (account, role_name) = {
        let iam = sim.iam();
        let role = iam
            .role(parsed.account, parsed.name)
            .filter(|r| r.arn() == role_arn)
            .ok_or_else(denied)?;
        if !iam.trusts(role, &req.caller) {
            return Err(denied());
        }
        (role.account.clone(), role.name.clone())
    };
    let key = sim.issue_session_credentials(
        &account,
        &role_name,
        session,
        Duration::from_secs(duration_secs),
    );
    let identity = sim.identity_for_key(&key.id).ok_or_else(denied)?;
    let expiration = key.expires_at.unwrap_or_default();
    Ok(ok_xml(
        "AssumeRole",
        &format!(
            "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
            key.id,
            xml_escape(&key.secret),
            xml_escape(key.session_token.as_deref().unwrap_or_default()),
            iso8601(expiration),
            xml_escape(&identity.user_id),
            xml_escape(&identity.arn)
        ),
        &req.request_id,
    ))
}

fn validation(msg: &str) -> ServiceError {
    ServiceError::new(400, "ValidationError", msg.to_string())
}
