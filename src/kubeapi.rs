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
use tokio::sync::Mutex;

use crate::eks::ClusterInfo;
use crate::token;

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

/// DER certificates of a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, KubeError> {
    let text =
        std::str::from_utf8(pem).map_err(|_| KubeError::Setup("the CA is not PEM text".into()))?;
    let mut out = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END") {
            inside = false;
            out.push(
                STANDARD
                    .decode(&body)
                    .map_err(|e| KubeError::Setup(format!("bad CA certificate: {e}")))?,
            );
        } else if inside {
            body.push_str(line.trim());
        }
    }
    if out.is_empty() {
        return Err(KubeError::Setup(
            "the CA bundle holds no certificate".into(),
        ));
    }
    Ok(out)
}
