//! Clients of the simulated Kubernetes API for tests and rehearsals: EKS bearer tokens made the
//! way `aws eks get-token` makes them, and a `kube::Client` for one principal on one cluster.
//!
//! The token is signed with the `aws-sigv4` crate (not the simulator's own verifier code), so a
//! test exercises the real signing path against the simulator's check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::world::{AccessKey, ClusterKey, Sim};

/// `aws eks get-token` presigns for 60 seconds.
pub const TOKEN_EXPIRES: Duration = Duration::from_secs(60);

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unknown access key {0}")]
    UnknownAccessKey(String),
    #[error("the Kubernetes API is not being served (call kube::serve first)")]
    NotServed,
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("bad cluster URL: {0}")]
    Url(String),
    #[error("kube client: {0}")]
    Kube(#[from] kube::Error),
}

/// An EKS token: `k8s-aws-v1.` + base64url (no padding) of a presigned STS GetCallerIdentity URL
/// with the signed header `x-k8s-aws-id: CLUSTER`, valid for [`TOKEN_EXPIRES`] from `signed_at`.
pub fn eks_token(
    access_key: &AccessKey,
    cluster_name: &str,
    region: &str,
    signed_at: SystemTime,
) -> Result<String, ClientError> {
    let credentials = Credentials::new(
        access_key.id.clone(),
        access_key.secret.clone(),
        access_key.session_token.clone(),
        None,
        "eks-sim",
    );
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|e| ClientError::Signing(e.to_string()))?
        .into();
    let url =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        [("x-k8s-aws-id", cluster_name)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| ClientError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| ClientError::Signing(e.to_string()))?
        .into_parts();
    let mut request = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| ClientError::Signing(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(format!(
        "k8s-aws-v1.{}",
        URL_SAFE_NO_PAD.encode(request.uri().to_string())
    ))
}

/// The simulator's clock as a `SystemTime` (tests may have advanced it).
pub fn sim_time(sim: &Sim) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(sim.now())
}

/// A fresh token for the principal behind `access_key_id`, signed at the simulator's "now".
pub fn token_for(sim: &Sim, key: &ClusterKey, access_key_id: &str) -> Result<String, ClientError> {
    let access_key = sim
        .access_key(access_key_id)
        .ok_or_else(|| ClientError::UnknownAccessKey(access_key_id.to_string()))?;
    eks_token(&access_key, &key.name, &key.region, sim_time(sim))
}

/// A `kube::Client` for a cluster, presenting `token`; trusts the simulator's CA and does not
/// retry, so a test sees each answer as the server gave it.
pub fn client_with_token(
    sim: &Sim,
    key: &ClusterKey,
    token: &str,
) -> Result<kube::Client, ClientError> {
    let url = sim.kube_endpoint(key).ok_or(ClientError::NotServed)?;
    let ca_pem = sim.endpoints().ca_pem.ok_or(ClientError::NotServed)?;
    let mut config = kube::Config::new(url.parse().map_err(|e| ClientError::Url(format!("{e}")))?);
    config.root_cert = Some(vec![pem_to_der(&ca_pem)?]);
    config.auth_info.token = Some(token.to_string().into());
    config.default_retry = false;
    Ok(kube::Client::try_from(config)?)
}

/// A `kube::Client` for the principal behind `access_key_id` (an IAM user's key, or session
/// credentials from `Sim::issue_session_credentials` / AssumeRole) on one cluster.
pub fn client_for(
    sim: &Sim,
    key: &ClusterKey,
    access_key_id: &str,
) -> Result<kube::Client, ClientError> {
    let token = token_for(sim, key, access_key_id)?;
    client_with_token(sim, key, &token)
}

/// Decodes the first certificate of a PEM document.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, ClientError> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| ClientError::Url(format!("CA PEM: {e}")))
}
