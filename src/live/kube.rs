//! The Kubernetes API of one cluster, reached without a kubeconfig: the endpoint and CA from
//! DescribeCluster, and an EKS token renewed before it expires (a mode switch can take longer
//! than a token lives). `--kubeconfig`/`--context` use a kubeconfig instead.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, PemObject};
use tokio::sync::Mutex;

use crate::live::eks::ClusterInfo;
use crate::live::token;

/// How to reach the cluster's API server.
pub enum KubeAccess {
    Token {
        cluster: Box<ClusterInfo>,
        credentials: SharedCredentialsProvider,
        cached: Mutex<Option<(Instant, kube::Client)>>,
    },
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
}

/// A Kubernetes API failure with the server's status kept.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot reach the Kubernetes API: {0}")]
    Setup(String),
}

impl KubeError {
    pub fn status(&self) -> Option<u16> {
        match self {
            KubeError::Api(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        }
    }
}

impl KubeAccess {
    /// A client with a token younger than [`token::RENEW_AFTER`].
    pub async fn client(&self) -> Result<kube::Client, KubeError> {
        match self {
            KubeAccess::Token {
                cluster,
                credentials,
                cached,
            } => {
                let mut cached = cached.lock().await;
                if let Some((made, client)) = cached.as_ref()
                    && made.elapsed() < token::RENEW_AFTER
                {
                    return Ok(client.clone());
                }
                let creds = credentials
                    .provide_credentials()
                    .await
                    .map_err(|e| KubeError::Setup(format!("no AWS credentials: {e}")))?;
                let token = token::eks_token(
                    &creds,
                    &cluster.name,
                    &cluster.region,
                    &cluster.partition,
                    SystemTime::now(),
                )
                .map_err(KubeError::Setup)?;
                let mut config = kube::Config::new(cluster.endpoint.parse().map_err(|e| {
                    KubeError::Setup(format!("bad endpoint {}: {e}", cluster.endpoint))
                })?);
                let pem = STANDARD
                    .decode(cluster.certificate_authority.trim())
                    .map_err(|e| {
                        KubeError::Setup(format!("bad certificate authority data: {e}"))
                    })?;
                config.root_cert = Some(pem_certificates(&pem)?);
                config.auth_info.token = Some(token.into());
                let client = kube::Client::try_from(config)?;
                // Never the token itself: it is a credential for its lifetime.
                tracing::info!(
                    cluster = %cluster.name,
                    endpoint = %cluster.endpoint,
                    renewed = cached.is_some(),
                    "Kubernetes API client ready (EKS token)"
                );
                *cached = Some((Instant::now(), client.clone()));
                Ok(client)
            }
            KubeAccess::Kubeconfig { path, context } => {
                let options = kube::config::KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                };
                let config = match path {
                    Some(p) => {
                        let kc = kube::config::Kubeconfig::read_from(p)
                            .map_err(|e| KubeError::Setup(e.to_string()))?;
                        kube::Config::from_custom_kubeconfig(kc, &options).await
                    }
                    None => kube::Config::from_kubeconfig(&options).await,
                }
                .map_err(|e| KubeError::Setup(e.to_string()))?;
                tracing::info!(
                    kubeconfig = ?path,
                    context = ?context,
                    server = %config.cluster_url,
                    "Kubernetes API client ready (kubeconfig)"
                );
                Ok(kube::Client::try_from(config)?)
            }
        }
    }

    /// `kube-system/aws-auth`, or `None` when it does not exist.
    pub async fn aws_auth(&self) -> Result<Option<ConfigMap>, KubeError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client().await?, "kube-system");
        Ok(api.get_opt("aws-auth").await?)
    }

    /// Every object of kind `K`, across all namespaces for namespaced kinds, page by page.
    pub async fn list_all<K>(&self) -> Result<Vec<K>, KubeError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::all(self.client().await?);
        let mut items = Vec::new();
        let mut params = ListParams::default().limit(500);
        loop {
            let page = api.list(&params).await?;
            items.extend(page.items);
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(items),
            }
        }
    }
}

/// DER certificates of a PEM bundle (DescribeCluster's certificate authority data, base64
/// decoded). Sections other than certificates are skipped; a bundle without any certificate, a
/// section without its END line or a body that is not base64 is an error.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, KubeError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            let why = match e {
                pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
                pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
                pem::Error::Base64Decode(e) => format!("a certificate is not base64 ({e})"),
                e => e.to_string(),
            };
            KubeError::Setup(format!("bad certificate authority data: {why}"))
        })?;
    if certificates.is_empty() {
        return Err(KubeError::Setup(
            "bad certificate authority data: it holds no PEM certificate".into(),
        ));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup_error(pem: &[u8]) -> String {
        match pem_certificates(pem) {
            Err(KubeError::Setup(why)) => why,
            other => panic!("expected a setup error, got {other:?}"),
        }
    }

    #[test]
    fn a_bundle_of_two_certificates() {
        let (a, b) = (
            eks_sim::tls::ClusterCa::generate().unwrap(),
            eks_sim::tls::ClusterCa::generate().unwrap(),
        );
        // CRLF line ends and text around the sections, as bundles written by hand have.
        let bundle = format!(
            "# cluster CA\n{}\r\nsome comment\n{}",
            a.ca_pem().replace('\n', "\r\n"),
            b.ca_pem()
        );
        assert_eq!(
            pem_certificates(bundle.as_bytes()).unwrap(),
            vec![a.ca_der(), b.ca_der()]
        );
        // A key in the bundle is not a root certificate.
        let with_key = format!(
            "{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            a.ca_pem()
        );
        assert_eq!(
            pem_certificates(with_key.as_bytes()).unwrap(),
            vec![a.ca_der()]
        );
    }

    #[test]
    fn empty_and_garbage_bundles_are_clear_errors() {
        for empty in [
            &b""[..],
            b"\n\n",
            b"not PEM at all",
            &[0xff, 0xfe, 0x00, 0x80],
        ] {
            assert_eq!(
                setup_error(empty),
                "bad certificate authority data: it holds no PEM certificate",
                "{empty:?}"
            );
        }
        let ca = eks_sim::tls::ClusterCa::generate().unwrap();
        let pem = ca.ca_pem();
        let truncated = &pem[..pem.find("-----END").unwrap()];
        assert!(
            setup_error(truncated.as_bytes()).contains("has no END line"),
            "{}",
            setup_error(truncated.as_bytes())
        );
        let bad_base64 =
            "-----BEGIN CERTIFICATE-----\n@@@not base64@@@\n-----END CERTIFICATE-----\n";
        assert!(
            setup_error(bad_base64.as_bytes()).contains("is not base64"),
            "{}",
            setup_error(bad_base64.as_bytes())
        );
    }
}
