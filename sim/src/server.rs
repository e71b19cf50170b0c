//! Starting the simulator: one plain-HTTP listener for the AWS APIs (EKS, IAM and STS, told apart
//! by the SigV4 credential scope's service name, as they share one endpoint URL) and one TLS
//! listener for the Kubernetes API (the Kubernetes half, [`crate::kube`]). Both bind 127.0.0.1 on
//! a free port; nothing else is ever bound.
//!
//! The AWS listener also answers `/_sim/…` (unsigned): `GET /_sim/counters`,
//! `POST /_sim/counters/reset`, `GET|PUT /_sim/faults` (JSON [`FaultConfig`]),
//! `POST /_sim/clock/advance?seconds=N`, `GET /_sim/health`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::faults::{FaultConfig, Outcome};
use crate::sigv4::{self, SigV4Auth, SignedRequest};
use crate::world::{CallerIdentity, ClusterKey, Sim, format_uuid};

/// The address every listener binds: loopback only.
pub const LOOPBACK: &str = "127.0.0.1:0";

/// An AWS service error: HTTP status, error code (shape name), message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ServiceError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// A response body with its status and content type.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Bytes::from(value.to_string()),
        }
    }

    pub fn xml(status: u16, text: String) -> Self {
        Self {
            status,
            content_type: "text/xml",
            headers: Vec::new(),
            body: Bytes::from(text),
        }
    }
}

/// Which wire protocol a service speaks (decides how errors are rendered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    RestJson,
    Query(&'static str),
}

impl Protocol {
    fn for_service(service: &str) -> Self {
        match service {
            "iam" => Protocol::Query(crate::iam::IAM_XMLNS),
            "sts" => Protocol::Query(crate::sts::STS_XMLNS),
            _ => Protocol::RestJson,
        }
    }

    fn error(self, e: &ServiceError, request_id: &str) -> Reply {
        match self {
            Protocol::RestJson => {
                let mut r = Reply::json(e.status, &serde_json::json!({ "message": e.message }));
                r.headers.push(("x-amzn-ErrorType".into(), e.code.clone()));
                r
            }
            Protocol::Query(ns) => {
                let kind = if e.status >= 500 {
                    "Receiver"
                } else {
                    "Sender"
                };
                Reply::xml(
                    e.status,
                    format!(
                        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                        crate::sts::xml_escape(&e.code),
                        crate::sts::xml_escape(&e.message)
                    ),
                )
            }
        }
    }
}

/// An authenticated AWS request, as the service handlers see it.
#[derive(Debug, Clone)]
pub struct AwsRequest {
    pub method: String,
    /// Still percent-encoded: route on it, then decode each segment.
    pub raw_path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub caller: CallerIdentity,
    /// Region of the SigV4 credential scope.
    pub region: String,
    /// `eks`, `iam` or `sts`.
    pub service: String,
    pub request_id: String,
}

impl AwsRequest {
    /// Decoded query parameters, in order (repeated names repeat).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A running simulator. Dropping it stops the listeners.
pub struct SimServer {
    sim: Sim,
    aws_addr: SocketAddr,
    kube_addr: SocketAddr,
    ca_pem: String,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("aws", &self.aws_addr)
            .field("kube", &self.kube_addr)
            .finish_non_exhaustive()
    }
}

/// Errors while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("cannot set up the Kubernetes TLS listener: {0}")]
    Tls(String),
}

impl SimServer {
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// `http://127.0.0.1:PORT`: the one URL for EKS, IAM and STS.
    pub fn aws_url(&self) -> String {
        format!("http://{}", self.aws_addr)
    }

    /// `https://127.0.0.1:PORT`: the Kubernetes API base; a cluster is under
    /// `/clusters/ACCOUNT/REGION/NAME` (see [`SimServer::kube_endpoint`]).
    pub fn kube_base(&self) -> String {
        format!("https://{}", self.kube_addr)
    }

    /// The Kubernetes endpoint of one cluster (what DescribeCluster returns).
    pub fn kube_endpoint(&self, key: &ClusterKey) -> String {
        format!(
            "{}/clusters/{}/{}/{}",
            self.kube_base(),
            key.account,
            key.region,
            key.name
        )
    }

    /// PEM of the CA the Kubernetes server certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Stops accepting connections.
    pub fn shutdown(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds both listeners on 127.0.0.1, records the endpoints and CA in the [`Sim`], and serves
/// until the returned handle is dropped. Must be called inside a Tokio runtime.
pub async fn start(sim: Sim) -> Result<SimServer, StartError> {
    let aws_listener = TcpListener::bind(LOOPBACK).await?;
    let aws_addr = aws_listener.local_addr()?;

    // ---- Kubernetes half: CA (crate::tls) and TLS listener (crate::kube::serve). ----
    let ca = crate::tls::ClusterCa::generate().map_err(|e| StartError::Tls(e.to_string()))?;
    let ca_pem = ca.ca_pem().to_string();
    let kube_listener = TcpListener::bind(LOOPBACK).await?;
    let kube_addr = kube_listener.local_addr()?;
    sim.set_endpoints(crate::world::Endpoints {
        aws: Some(format!("http://{aws_addr}")),
        kube_base: Some(format!("https://{kube_addr}")),
        ca_pem: Some(ca_pem.clone()),
    });
    let kube_task = crate::kube::serve(sim.clone(), kube_listener, ca)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    // ---- end of the Kubernetes half ----

    let aws_task = tokio::spawn(serve_aws(sim.clone(), aws_listener));
    Ok(SimServer {
        sim,
        aws_addr,
        kube_addr,
        ca_pem,
        tasks: vec![aws_task, kube_task],
    })
}

async fn serve_aws(sim: Sim, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let sim = sim.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| handle(sim.clone(), req));
            // A dropped connection (fault) ends here with an error; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// Returned by the service to make hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

fn to_response(reply: Reply, request_id: &str) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", reply.content_type)
        .header("x-amzn-RequestId", request_id);
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(reply.body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn handle(sim: Sim, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(DropConnection),
    };
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let request_id = format_uuid((u128::from(sim.next_seed()) << 64) | u128::from(sim.next_seed()));
    if raw_path.starts_with("/_sim/") {
        return Ok(to_response(
            admin(&sim, parts.method.as_str(), &raw_path, &raw_query, &body),
            &request_id,
        ));
    }
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let is_form =
        header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    // Header auth, or a presigned URL (query auth), as STS accepts for GetCallerIdentity.
    let query_param = |name: &str| {
        url::form_urlencoded::parse(raw_query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let presigned = query_param("X-Amz-Signature").map(|signature| {
        sigv4::parse_credential(
            &query_param("X-Amz-Credential").unwrap_or_default(),
            &query_param("X-Amz-SignedHeaders").unwrap_or_default(),
            &signature,
        )
    });
    let auth = header("authorization")
        .map(|a| sigv4::parse_authorization(&a))
        .or(presigned);
    let service = match &auth {
        Some(Ok(a)) => a.service.clone(),
        _ if is_form => "sts".to_string(),
        _ => "eks".to_string(),
    };
    let protocol = Protocol::for_service(&service);
    let method = parts.method.as_str().to_string();

    let caller = match authenticate(
        &sim, &method, &raw_path, &raw_query, &headers, &body, auth, &service,
    ) {
        Ok(c) => c,
        Err(e) => {
            sim.counters().record_outcome(&e.code);
            return Ok(to_response(protocol.error(&e, &request_id), &request_id));
        }
    };
    let (caller, region) = caller;
    let aws_req = AwsRequest {
        method,
        raw_path,
        raw_query,
        headers,
        body,
        caller,
        region,
        service: service.clone(),
        request_id: request_id.clone(),
    };

    // Name the operation first: counters and fault decisions are per operation.
    let (operation, cluster, query_params) = match service.as_str() {
        "eks" => match crate::eks::Route::parse(&aws_req.method, &aws_req.raw_path) {
            Some(route) => {
                let cluster = route
                    .cluster_name()
                    .map(|n| ClusterKey::new(&aws_req.caller.account, &aws_req.region, n));
                (format!("eks:{}", route.name()), cluster, Vec::new())
            }
            None => (String::from("eks:Unknown"), None, Vec::new()),
        },
        "iam" | "sts" => {
            let mut params = aws_req.query_pairs();
            if is_form {
                params.extend(
                    url::form_urlencoded::parse(&aws_req.body)
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
            }
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (format!("{service}:{action}"), None, params)
        }
        other => (format!("{other}:Unknown"), None, Vec::new()),
    };
    sim.counters().record(&operation, cluster.as_ref());

    let bucket = format!("{}/{}", aws_req.caller.account, aws_req.region);
    let scope = cluster
        .as_ref()
        .map(ClusterKey::to_string)
        .unwrap_or_else(|| bucket.clone());
    let decision = sim.faults().decide(&operation, &scope, &bucket);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let result = match decision.outcome {
        Outcome::Drop => {
            sim.counters().record_outcome("DroppedConnection");
            return Err(DropConnection);
        }
        Outcome::Throttle => Err(match protocol {
            Protocol::RestJson => ServiceError::new(429, "ThrottlingException", "Rate exceeded"),
            Protocol::Query(_) => ServiceError::new(400, "Throttling", "Rate exceeded"),
        }),
        Outcome::ServerError(status) => Err(match (protocol, status) {
            (Protocol::RestJson, 503) => {
                ServiceError::new(503, "ServiceUnavailableException", "Service Unavailable")
            }
            (Protocol::RestJson, _) => ServiceError::new(
                500,
                "ServerException",
                "An internal error occurred. Try again.",
            ),
            (Protocol::Query(_), 503) => ServiceError::new(
                503,
                "ServiceUnavailable",
                "Service is unable to handle request.",
            ),
            (Protocol::Query(_), _) => ServiceError::new(
                500,
                "InternalFailure",
                "An internal error occurred. Try again.",
            ),
        }),
        Outcome::Proceed => dispatch(&sim, &aws_req, &operation, &query_params),
        Outcome::DropResponse => {
            let done = dispatch(&sim, &aws_req, &operation, &query_params);
            sim.counters().record_outcome(match &done {
                Ok(_) => "ok",
                Err(e) => &e.code,
            });
            sim.counters().record_outcome("DroppedResponse");
            return Err(DropConnection);
        }
    };
    let reply = match result {
        Ok(r) => {
            sim.counters().record_outcome("ok");
            r
        }
        Err(e) => {
            sim.counters().record_outcome(&e.code);
            protocol.error(&e, &request_id)
        }
    };
    Ok(to_response(reply, &request_id))
}

fn dispatch(
    sim: &Sim,
    req: &AwsRequest,
    operation: &str,
    params: &[(String, String)],
) -> Result<Reply, ServiceError> {
    let action = operation
        .split_once(':')
        .map(|(_, a)| a)
        .unwrap_or_default();
    match req.service.as_str() {
        "eks" => crate::eks::handle(sim, req),
        "iam" => crate::iam::handle(sim, req, action, params),
        "sts" => crate::sts::handle(sim, req, action, params),
        other => Err(ServiceError::new(
            400,
            "UnrecognizedClientException",
            format!("The simulator does not serve service {other:?}."),
        )),
    }
}

/// Checks the SigV4 header signature and returns who signed it and the scope's region.
#[allow(clippy::too_many_arguments)]
fn authenticate(
    sim: &Sim,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    auth: Option<Result<SigV4Auth, sigv4::SigError>>,
    service: &str,
) -> Result<(CallerIdentity, String), ServiceError> {
    let json = Protocol::for_service(service) == Protocol::RestJson;
    let pick = |rest: (&str, u16, &str), query: (&str, u16, &str)| {
        let (code, status, msg) = if json { rest } else { query };
        ServiceError::new(status, code, msg)
    };
    let invalid_token = || {
        pick(
            (
                "UnrecognizedClientException",
                403,
                "The security token included in the request is invalid.",
            ),
            (
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.",
            ),
        )
    };
    let auth = match auth {
        None => {
            return Err(pick(
                (
                    "MissingAuthenticationTokenException",
                    403,
                    "Missing Authentication Token",
                ),
                (
                    "MissingAuthenticationToken",
                    403,
                    "Request is missing Authentication Token",
                ),
            ));
        }
        Some(Err(e)) => {
            return Err(pick(
                ("IncompleteSignatureException", 400, &e.to_string()),
                ("IncompleteSignature", 400, &e.to_string()),
            ));
        }
        Some(Ok(a)) => a,
    };
    let key = sim
        .access_key(&auth.access_key_id)
        .ok_or_else(invalid_token)?;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let query_param = |name: &str| {
        url::form_urlencoded::parse(raw_query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let presigned_date = query_param("X-Amz-Date");
    let is_presigned = presigned_date.is_some() && header("authorization").is_none();
    // Presigned URLs carry the session token in the query, signed requests in a header.
    let session_token = if is_presigned {
        query_param("X-Amz-Security-Token")
    } else {
        header("x-amz-security-token").map(str::to_string)
    };
    if key.session_token.is_some() && session_token != key.session_token {
        return Err(invalid_token());
    }
    if key.expires_at.is_some_and(|t| sim.now() > t) {
        // 403 on both protocols: IAM and STS answer `ExpiredToken` with 403 on the wire
        // (STS's modeled ExpiredTokenException, 400, is about a token passed as a parameter).
        return Err(pick(
            (
                "ExpiredTokenException",
                403,
                "The security token included in the request is expired",
            ),
            (
                "ExpiredToken",
                403,
                "The security token included in the request is expired",
            ),
        ));
    }
    if is_presigned {
        let signed_at = presigned_date.as_deref().and_then(sigv4::parse_amz_date);
        let expires = query_param("X-Amz-Expires").and_then(|e| e.parse::<f64>().ok());
        match (signed_at, expires) {
            (Some(at), Some(exp)) if sim.now() <= at + exp => {}
            _ => {
                return Err(pick(
                    ("ExpiredTokenException", 403, "Request has expired"),
                    ("ExpiredToken", 400, "Request has expired"),
                ));
            }
        }
    }
    let amz_date = presigned_date
        .filter(|_| is_presigned)
        .or_else(|| header("x-amz-date").map(str::to_string))
        .unwrap_or_default();
    let req = SignedRequest {
        method,
        raw_path,
        raw_query,
        headers: headers.to_vec(),
        payload_hash: sigv4::sha256_hex(body),
    };
    let extra: &[&str] = if is_presigned {
        &["UNSIGNED-PAYLOAD"]
    } else {
        &[]
    };
    sigv4::verify(&key.secret, &auth, &amz_date, &req, extra).map_err(|_| {
        pick(
            ("InvalidSignatureException", 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."),
            ("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."),
        )
    })?;
    let identity = sim
        .identity_for_key(&auth.access_key_id)
        .ok_or_else(invalid_token)?;
    Ok((identity, auth.region))
}

/// The unsigned `/_sim/…` endpoints for tests and benchmarks.
fn admin(sim: &Sim, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let bad = |msg: String| Reply::json(400, &serde_json::json!({ "message": msg }));
    match (method, path) {
        ("GET", "/_sim/health") => Reply::json(200, &serde_json::json!({ "status": "ok" })),
        ("GET", "/_sim/counters") => match serde_json::to_value(sim.counters().snapshot()) {
            Ok(v) => Reply::json(200, &v),
            Err(e) => bad(e.to_string()),
        },
        ("POST", "/_sim/counters/reset") => {
            sim.counters().reset();
            Reply::json(200, &serde_json::json!({}))
        }
        ("GET", "/_sim/faults") => match serde_json::to_value(sim.faults().config()) {
            Ok(v) => Reply::json(200, &v),
            Err(e) => bad(e.to_string()),
        },
        ("PUT" | "POST", "/_sim/faults") => match serde_json::from_slice::<FaultConfig>(body) {
            Ok(cfg) => {
                sim.set_faults(cfg);
                Reply::json(200, &serde_json::json!({}))
            }
            Err(e) => bad(format!("invalid fault configuration: {e}")),
        },
        ("POST", "/_sim/clock/advance") => {
            let secs = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "seconds")
                .and_then(|(_, v)| v.parse::<f64>().ok());
            match secs {
                Some(s) if s >= 0.0 => {
                    sim.advance_clock(Duration::from_secs_f64(s));
                    Reply::json(200, &serde_json::json!({ "now": sim.now() }))
                }
                _ => bad("seconds=N (N ≥ 0) is required".into()),
            }
        }
        _ => Reply::json(
            404,
            &serde_json::json!({ "message": format!("no simulator endpoint {method} {path}") }),
        ),
    }
}
