//! From an HTTP request to the authorizer's attributes, as the API server's `RequestInfoFactory`
//! derives them: `/api/v1/...` and `/apis/GROUP/VERSION/...` are resource requests, everything
//! else (discovery, `/version`) is a non-resource request.

use http::Method;

use crate::rbac::{Action, ResourceAction};
use crate::world::ClusterKey;

/// Splits `/clusters/ACCOUNT/REGION/NAME/rest` into the cluster and the API path (`/rest`).
pub fn split_cluster_path(path: &str) -> Option<(ClusterKey, String)> {
    let rest = path.strip_prefix("/clusters/")?;
    let mut parts = rest.splitn(4, '/');
    let account = parts.next().filter(|s| !s.is_empty())?;
    let region = parts.next().filter(|s| !s.is_empty())?;
    let name = parts.next().filter(|s| !s.is_empty())?;
    let api_path = format!("/{}", parts.next().unwrap_or(""));
    Some((ClusterKey::new(account, region, name), api_path))
}

/// A parsed API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    pub action: Action,
    /// For resource requests: the API version (`v1`).
    pub api_version: String,
}

/// Namespace subresources that stay on the namespace itself (`/namespaces/x/status`).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Derives the authorizer attributes of a request.
pub fn request_info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
    let http_verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    };
    let non_resource = || RequestInfo {
        action: Action::NonResource {
            verb: http_verb.to_string(),
            path: path.to_string(),
        },
        api_version: String::new(),
    };
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (api_group, api_version, parts) = match segments.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return non_resource(),
    };
    let mut parts: &[&str] = parts;
    let mut namespace = String::new();
    if parts[0] == "namespaces" && parts.len() > 1 {
        namespace = parts[1].to_string();
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts = &parts[2..];
        }
    }
    let resource = parts[0].to_string();
    let name = parts.get(1).copied().unwrap_or_default().to_string();
    let subresource = parts.get(2).copied().unwrap_or_default().to_string();
    let watch = query_param(query, "watch").is_some_and(|v| v == "true" || v == "1");
    let verb = match (http_verb, name.is_empty()) {
        ("get", false) if watch => "watch",
        ("get", false) => "get",
        ("get", true) if watch => "watch",
        ("get", true) => "list",
        ("post", _) => "create",
        ("put", _) => "update",
        ("patch", _) => "patch",
        ("delete", false) => "delete",
        ("delete", true) => "deletecollection",
        _ => http_verb,
    };
    RequestInfo {
        action: Action::Resource(ResourceAction {
            verb: verb.to_string(),
            api_group: api_group.to_string(),
            resource,
            subresource,
            name,
            namespace,
        }),
        api_version: api_version.to_string(),
    }
}

/// The decoded value of a query parameter.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: Method, path: &str, query: Option<&str>) -> ResourceAction {
        match request_info(&method, path, query).action {
            Action::Resource(r) => r,
            other => panic!("expected a resource request, got {other:?}"),
        }
    }

    #[test]
    fn cluster_prefix_is_split_off() {
        let (key, rest) =
            split_cluster_path("/clusters/111122223333/eu-west-1/prod/api/v1/nodes").unwrap();
        assert_eq!(key, ClusterKey::new("111122223333", "eu-west-1", "prod"));
        assert_eq!(rest, "/api/v1/nodes");
        let (_, root) = split_cluster_path("/clusters/1/r/n").unwrap();
        assert_eq!(root, "/");
        assert!(split_cluster_path("/api/v1").is_none());
    }

    #[test]
    fn resource_requests() {
        let r = resource(
            Method::GET,
            "/api/v1/namespaces/kube-system/configmaps/aws-auth",
            None,
        );
        assert_eq!(
            (
                r.verb.as_str(),
                r.namespace.as_str(),
                r.resource.as_str(),
                r.name.as_str()
            ),
            ("get", "kube-system", "configmaps", "aws-auth")
        );
        let r = resource(
            Method::GET,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            None,
        );
        assert_eq!(
            (r.verb.as_str(), r.api_group.as_str()),
            ("list", "rbac.authorization.k8s.io")
        );
        let r = resource(Method::GET, "/api/v1/pods", Some("watch=true"));
        assert_eq!(r.verb, "watch");
        let r = resource(Method::GET, "/api/v1/namespaces/dev/pods/p/log", None);
        assert_eq!(
            (r.resource.as_str(), r.subresource.as_str()),
            ("pods", "log")
        );
        let r = resource(
            Method::PUT,
            "/api/v1/namespaces/kube-system/configmaps/a",
            None,
        );
        assert_eq!(r.verb, "update");
        let r = resource(Method::DELETE, "/api/v1/namespaces/x/configmaps", None);
        assert_eq!(r.verb, "deletecollection");
    }

    #[test]
    fn a_named_namespace_carries_itself_as_namespace() {
        let r = resource(Method::GET, "/api/v1/namespaces/dev", None);
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.namespace.as_str()),
            ("namespaces", "dev", "dev")
        );
        let r = resource(Method::GET, "/api/v1/namespaces", None);
        assert_eq!((r.verb.as_str(), r.namespace.as_str()), ("list", ""));
    }

    #[test]
    fn discovery_is_non_resource() {
        for path in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/version",
        ] {
            assert!(matches!(
                request_info(&Method::GET, path, None).action,
                Action::NonResource { .. }
            ));
        }
    }
}
