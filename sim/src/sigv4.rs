//! AWS Signature Version 4, verifier side: parses the `Authorization` header or presigned query,
//! rebuilds the canonical request the way `aws-sigv4` builds it for non-S3 services (path
//! percent-encoded a second time, query sorted on encoded pairs, headers trimmed and folded), and
//! compares HMAC-SHA256 signatures with the secret the simulator knows.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("missing authentication token")]
    Missing,
    #[error("malformed authorization: {0}")]
    Malformed(String),
    #[error("the request signature does not match")]
    Mismatch,
}

/// The parts of a SigV4 credential scope and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Auth {
    pub access_key_id: String,
    /// `YYYYMMDD` from the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl SigV4Auth {
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(value: &str) -> Result<SigV4Auth, SigError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| SigError::Malformed(format!("unsupported algorithm in {value:?}")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| SigError::Malformed("no Credential".into()))?;
    let signed = signed.ok_or_else(|| SigError::Malformed("no SignedHeaders".into()))?;
    let signature = signature.ok_or_else(|| SigError::Malformed("no Signature".into()))?;
    parse_credential(credential, signed, signature)
}

/// Parses the `X-Amz-Credential` value plus signed headers and signature.
pub fn parse_credential(
    credential: &str,
    signed: &str,
    signature: &str,
) -> Result<SigV4Auth, SigError> {
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" {
        return Err(SigError::Malformed(format!(
            "bad credential scope {credential:?}"
        )));
    }
    Ok(SigV4Auth {
        access_key_id: parts[0].to_string(),
        date: parts[1].to_string(),
        region: parts[2].to_string(),
        service: parts[3].to_string(),
        signed_headers: signed.split(';').map(|s| s.to_ascii_lowercase()).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Percent-encodes with the AWS set: everything but `A-Za-z0-9-._~` (and `/` when `keep_slash`).
pub fn aws_encode(value: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Canonical query string: pairs form-decoded, re-encoded, sorted; `X-Amz-Signature` dropped.
pub fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (aws_encode(&k, false), aws_encode(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trims and folds runs of spaces, as `aws-sigv4` normalizes header values.
fn normalize_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut prev_space = false;
    for c in v.trim_matches(' ').chars() {
        if c == ' ' {
            if !prev_space {
                out.push(c);
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

/// A request as the verifier sees it: raw (still percent-encoded) path and query.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// (name, value); names in any case; repeated names are joined with `,`.
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: String,
}

/// The canonical request for `signed_headers`; `None` when a signed header is absent.
pub fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[String]) -> Option<String> {
    // Non-S3 services sign the path encoded twice: `%3A` on the wire is `%253A` here.
    let path = if req.raw_path.is_empty() {
        "/".to_string()
    } else {
        aws_encode(req.raw_path, true)
    };
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| normalize_value(v))
            .collect();
        if values.is_empty() {
            return None;
        }
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    Some(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        canonical_query(req.raw_query),
        headers,
        signed_headers.join(";"),
        req.payload_hash
    ))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signature for a canonical request.
pub fn sign(secret: &str, auth: &SigV4Auth, amz_date: &str, canonical_request: &str) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        auth.scope(),
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Checks a signature, trying each candidate payload hash (presigned URLs are signed either over
/// the empty body's hash or `UNSIGNED-PAYLOAD`, depending on the SDK).
pub fn verify(
    secret: &str,
    auth: &SigV4Auth,
    amz_date: &str,
    req: &SignedRequest<'_>,
    extra_payload_hashes: &[&str],
) -> Result<(), SigError> {
    let mut hashes = vec![req.payload_hash.clone()];
    hashes.extend(extra_payload_hashes.iter().map(|s| s.to_string()));
    for h in hashes {
        let r = SignedRequest {
            method: req.method,
            raw_path: req.raw_path,
            raw_query: req.raw_query,
            headers: req.headers.clone(),
            payload_hash: h,
        };
        let creq = canonical_request(&r, &auth.signed_headers).ok_or(SigError::Mismatch)?;
        let expected = sign(secret, auth, amz_date, &creq);
        if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            return Ok(());
        }
    }
    Err(SigError::Mismatch)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses `YYYYMMDDTHHMMSSZ` into epoch seconds.
pub fn parse_amz_date(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se) as f64)
}

/// Formats epoch seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20240229T235958Z").unwrap();
        assert_eq!(format_amz_date(t), "20240229T235958Z");
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0.0));
    }

    #[test]
    fn path_is_encoded_twice() {
        assert_eq!(
            aws_encode("/clusters/a/access-entries/arn%3Aaws", true),
            "/clusters/a/access-entries/arn%253Aaws"
        );
    }

    // The example from the AWS SigV4 documentation (GET iam ListUsers).
    #[test]
    fn documented_example_signature() {
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        )
        .unwrap();
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: "Action=ListUsers&Version=2010-05-08",
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                ),
                ("Host".into(), "iam.amazonaws.com".into()),
                ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ],
            payload_hash: sha256_hex(b""),
        };
        verify(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            &auth,
            "20150830T123600Z",
            &req,
            &[],
        )
        .unwrap();
    }
}
