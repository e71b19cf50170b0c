//! EKS bearer tokens, made as `aws eks get-token` makes them: `k8s-aws-v1.` followed by the
//! unpadded base64url of a presigned STS `GetCallerIdentity` URL whose signed header
//! `x-k8s-aws-id` names the cluster (docs/aws-auth.md#caller-identity-and-canonical-arns). The
//! token carries a signature, not the credentials; it is still a secret for its lifetime and is
//! never logged or stored.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The presigned URL is valid this long, as with the AWS CLI.
pub const PRESIGN: Duration = Duration::from_secs(60);
/// EKS accepts a token for about 15 minutes; renew well before.
pub const RENEW_AFTER: Duration = Duration::from_secs(10 * 60);

/// The DNS suffix of each partition's regional endpoints, as in AWS's endpoint rules
/// (`partitions.json`, which the SDK embeds); one per partition [`crate::model::arn::PARTITIONS`] names.
const DNS_SUFFIXES: [(&str, &str); 8] = [
    ("aws", "amazonaws.com"),
    ("aws-cn", "amazonaws.com.cn"),
    ("aws-us-gov", "amazonaws.com"),
    ("aws-iso", "c2s.ic.gov"),
    ("aws-iso-b", "sc2s.sgov.gov"),
    ("aws-iso-e", "cloud.adc-e.uk"),
    ("aws-iso-f", "csp.hci.ic.gov"),
    ("aws-eusc", "amazonaws.eu"),
];

/// The regional STS host a token for a cluster in `partition` and `region` is presigned for
/// (`sts.REGION.DNS_SUFFIX`, what the SDK's STS endpoint rules give without FIPS or dual-stack).
/// The authenticator only accepts STS hosts of its own partition.
pub fn sts_host(partition: &str, region: &str) -> Result<String, String> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("`{region}` is not an AWS region"));
    }
    let suffix = DNS_SUFFIXES
        .iter()
        .find(|(p, _)| *p == partition)
        .map(|(_, suffix)| *suffix)
        .ok_or_else(|| match partition {
            "" => "the cluster's partition is unknown (DescribeCluster gave no cluster ARN)"
                .to_string(),
            _ => format!("`{partition}` is not an AWS partition: cannot make an EKS token for it"),
        })?;
    Ok(format!("sts.{region}.{suffix}"))
}

/// A token for `cluster` in `region` signed with `credentials` at `now`.
pub fn eks_token(
    credentials: &Credentials,
    cluster: &str,
    region: &str,
    partition: &str,
    now: SystemTime,
) -> Result<String, String> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let url = format!(
        "https://{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_host(partition, region)?
    );
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        [("x-k8s-aws-id", cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut http_request = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut http_request);
    Ok(format!(
        "k8s-aws-v1.{}",
        URL_SAFE_NO_PAD.encode(http_request.uri().to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_a_presigned_get_caller_identity_bound_to_the_cluster() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let token = eks_token(
            &creds,
            "prod",
            "eu-west-1",
            "aws",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
        .unwrap();
        let url = String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(token.strip_prefix("k8s-aws-v1.").unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(
            url.starts_with(
                "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=60"));
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
        assert!(!url.contains("secret"));
    }

    fn decoded(token: &str) -> String {
        String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(token.strip_prefix("k8s-aws-v1.").unwrap())
                .unwrap(),
        )
        .unwrap()
    }

    /// Every partition the ARN parser accepts, a region of it, and its STS host.
    const HOSTS: [(&str, &str, &str); 9] = [
        ("aws", "eu-west-1", "sts.eu-west-1.amazonaws.com"),
        ("aws", "us-east-1", "sts.us-east-1.amazonaws.com"),
        ("aws-cn", "cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
        (
            "aws-us-gov",
            "us-gov-west-1",
            "sts.us-gov-west-1.amazonaws.com",
        ),
        ("aws-iso", "us-iso-east-1", "sts.us-iso-east-1.c2s.ic.gov"),
        (
            "aws-iso-b",
            "us-isob-east-1",
            "sts.us-isob-east-1.sc2s.sgov.gov",
        ),
        (
            "aws-iso-e",
            "eu-isoe-west-1",
            "sts.eu-isoe-west-1.cloud.adc-e.uk",
        ),
        (
            "aws-iso-f",
            "us-isof-south-1",
            "sts.us-isof-south-1.csp.hci.ic.gov",
        ),
        (
            "aws-eusc",
            "eusc-de-east-1",
            "sts.eusc-de-east-1.amazonaws.eu",
        ),
    ];

    #[test]
    fn every_partition_of_the_arn_parser_has_an_sts_host() {
        let covered: std::collections::BTreeSet<&str> = HOSTS.iter().map(|h| h.0).collect();
        let accepted: std::collections::BTreeSet<&str> =
            crate::model::arn::PARTITIONS.iter().copied().collect();
        assert_eq!(covered, accepted);
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        for (partition, region, host) in HOSTS {
            assert_eq!(sts_host(partition, region).as_deref(), Ok(host));
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let url = decoded(&eks_token(&creds, "prod", region, partition, at).unwrap());
            assert!(
                url.starts_with(&format!(
                    "https://{host}/?Action=GetCallerIdentity&Version=2011-06-15&"
                )),
                "{url}"
            );
            assert!(
                url.contains(&format!("%2F{region}%2Fsts%2Faws4_request")),
                "{url}"
            );
        }
    }

    /// The table agrees with the STS endpoint rules the SDK itself resolves with.
    #[tokio::test]
    async fn sts_hosts_match_the_sdk_endpoint_rules() {
        use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let resolver = DefaultResolver::new();
        for (partition, region, _) in HOSTS {
            let params = Params::builder()
                .region(region)
                .use_fips(false)
                .use_dual_stack(false)
                .use_global_endpoint(false)
                .build()
                .unwrap();
            let endpoint = resolver.resolve_endpoint(&params).await.unwrap();
            assert_eq!(
                endpoint.url(),
                format!("https://{}", sts_host(partition, region).unwrap()),
                "{partition}"
            );
        }
    }

    #[test]
    fn unknown_partitions_and_odd_regions_are_errors() {
        assert!(
            sts_host("aws-moon", "eu-west-1")
                .unwrap_err()
                .contains("aws-moon")
        );
        assert!(sts_host("", "eu-west-1").unwrap_err().contains("unknown"));
        for region in [
            "",
            "eu-west-1/x",
            "evil.example.com#",
            "EU-WEST-1",
            "eu west 1",
        ] {
            assert!(sts_host("aws", region).is_err(), "{region}");
        }
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        assert!(eks_token(&creds, "prod", "eu-west-1", "aws-moon", SystemTime::now()).is_err());
    }
}
