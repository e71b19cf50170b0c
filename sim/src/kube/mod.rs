//! The slice of the Kubernetes API that kube-rs clients use, served over TLS with EKS-style
//! authentication and authorization.
//!
//! One listener on `127.0.0.1:0` serves every cluster, each under the path prefix
//! `/clusters/ACCOUNT/REGION/NAME` (kube-rs keeps a base-URL path, so a cluster URL is what
//! DescribeCluster returns as `endpoint`). Every request goes through the same pipeline:
//! count → faults → authenticate (token, then the mode's mapping) → authorize → serve.

pub mod authn;
pub mod authz;
pub mod client;
pub mod leases;
pub mod objects;
pub mod request;
pub mod status;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::faults::Outcome;
use crate::rbac::Action;
use crate::tls::{ClusterCa, TlsError};
use crate::world::Sim;
use request::{request_info, split_cluster_path};
use status::ApiError;

/// Largest request body accepted (the API server's limit is 3 MiB for objects).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Counter name of SubjectAccessReview calls (`Counters::record` operation).
pub const SUBJECT_ACCESS_REVIEW_OP: &str = "kube:create subjectaccessreviews";
/// Counter name of SelfSubjectAccessReview calls.
pub const SELF_SUBJECT_ACCESS_REVIEW_OP: &str = "kube:create selfsubjectaccessreviews";

/// The counter name of a Kubernetes request: `kube:VERB RESOURCE[/SUBRESOURCE]` or
/// `kube:VERB PATH` for non-resource requests (e.g. `kube:get configmaps`, `kube:get /version`).
pub fn operation_name(action: &Action) -> String {
    match action {
        Action::Resource(r) => format!("kube:{} {}", r.verb, r.combined_resource()),
        Action::NonResource { verb, path } => format!("kube:{verb} {path}"),
    }
}

/// Serves the Kubernetes API of every cluster of the world on `listener` (bound by
/// [`crate::server::start`] on 127.0.0.1), with a server certificate signed by `ca`. The caller
/// records the base URL and CA in [`Sim::endpoints`]; aborting the returned task stops accepting
/// connections. Must be called inside a Tokio runtime.
pub fn serve(sim: Sim, listener: TcpListener, ca: ClusterCa) -> Result<JoinHandle<()>, TlsError> {
    let acceptor = TlsAcceptor::from(ca.server_config()?);
    Ok(tokio::spawn(accept_loop(listener, acceptor, sim)))
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, sim: Sim) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("kube accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let sim = sim.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| handle(sim.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedConnection {}

async fn handle(
    sim: Sim,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = req.into_parts();
    let Some((key, api_path)) = split_cluster_path(parts.uri.path()) else {
        return Ok(error_response(&sim, &ApiError::no_route()));
    };
    let info = request_info(&parts.method, &api_path, parts.uri.query());
    let operation = operation_name(&info.action);
    let Some(cluster) = sim.cluster(&key) else {
        return Ok(error_response(&sim, &ApiError::no_route()));
    };
    sim.counters().record(&operation, Some(&key));

    let decision = sim
        .faults()
        .decide(&operation, &key.to_string(), &format!("kube:{key}"));
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let drop_response = decision.outcome == Outcome::DropResponse;
    match decision.outcome {
        Outcome::Proceed | Outcome::DropResponse => {}
        Outcome::Drop => return Err(Box::new(DroppedConnection)),
        Outcome::ServerError(code) => {
            return Ok(error_response(&sim, &ApiError::server_error(code)));
        }
        // The API server's priority-and-fairness answer.
        Outcome::Throttle => return Ok(error_response(&sim, &ApiError::too_many_requests())),
    }

    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return Ok(error_response(
                &sim,
                &ApiError::request_entity_too_large(MAX_BODY),
            ));
        }
        Err(e) => {
            return Ok(error_response(
                &sim,
                &ApiError::bad_request(format!("reading the request body: {e}")),
            ));
        }
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");

    // The token check reads IAM, so it runs before the cluster lock (lock order: cluster, then IAM).
    let caller = match authn::authenticate_token(&sim, authorization, &key.name) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(cluster = %key, "kube authentication failed: {e}");
            return Ok(error_response(&sim, &ApiError::unauthorized()));
        }
    };
    let result = {
        let mut state = cluster.lock();
        match authn::map_caller(&state, &caller) {
            Err(e) => {
                tracing::debug!(cluster = %key, "kube authentication failed: {e}");
                Err(ApiError::unauthorized())
            }
            Ok(identity) => {
                let decision = authz::authorize(
                    &state,
                    &identity.user,
                    &identity.access_policies,
                    &info.action,
                );
                if decision.allowed {
                    let api_request = objects::ApiRequest {
                        info: &info,
                        query: parts.uri.query(),
                        content_type,
                        body: &body,
                    };
                    objects::serve(&sim, &mut state, &identity, &api_request)
                } else {
                    Err(ApiError::forbidden(&identity.user.name, &info.action))
                }
            }
        }
    };
    let response = match result {
        Ok((code, value)) => {
            sim.counters().record_outcome("ok");
            json_response(code, &value)
        }
        Err(e) => error_response(&sim, &e),
    };
    if drop_response {
        sim.counters().record_outcome("DroppedResponse");
        return Err(Box::new(DroppedConnection));
    }
    Ok(response)
}

fn error_response(sim: &Sim, error: &ApiError) -> Response<Full<Bytes>> {
    sim.counters().record_outcome(error.reason);
    json_response(error.code, &error.to_json())
}

fn json_response(code: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
