//! `metav1.Status` responses, shaped as the API server writes them so kube-rs surfaces
//! `Error::Api` with the right code and reason.

use http::StatusCode;
use serde_json::{Value, json};

use crate::rbac::Action;

/// An API error carried as a Status object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// `details` (name, kind), when the error concerns one object.
    pub details: Option<(String, String)>,
    /// `details.group`, for objects of a named API group (`coordination.k8s.io`).
    pub group: Option<&'static str>,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            group: None,
        }
    }

    fn about(mut self, kind: &str, name: &str) -> Self {
        self.details = Some((name.to_string(), kind.to_string()));
        self
    }

    /// Names the API group of the object in `details` (the message names the group-qualified
    /// resource already, as `leases.coordination.k8s.io "x" not found`).
    pub fn in_group(mut self, group: &'static str, resource: &str) -> Self {
        if let Some((_, kind)) = &mut self.details {
            *kind = resource.to_string();
        }
        self.group = Some(group);
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    /// The API server's wording: `configmaps "aws-auth" is forbidden: User "u" cannot get
    /// resource "configmaps" in API group "" in the namespace "kube-system"`.
    pub fn forbidden(user: &str, action: &Action) -> Self {
        match action {
            Action::Resource(r) => {
                // `NewForbidden` names the group-qualified resource.
                let qualified = if r.api_group.is_empty() {
                    r.resource.clone()
                } else {
                    format!("{}.{}", r.resource, r.api_group)
                };
                let target = if r.name.is_empty() {
                    qualified
                } else {
                    format!("{qualified} \"{}\"", r.name)
                };
                let resource = r.combined_resource();
                let scope = if r.namespace.is_empty() {
                    "at the cluster scope".to_string()
                } else {
                    format!("in the namespace \"{}\"", r.namespace)
                };
                Self::new(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    format!(
                        "{target} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
                        r.verb, r.api_group
                    ),
                )
                .about(&r.resource, &r.name)
            }
            Action::NonResource { verb, path } => Self::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
            ),
        }
    }

    pub fn not_found(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{kind} \"{name}\" not found"),
        )
        .about(kind, name)
    }

    /// A path the simulator does not serve.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{kind} \"{name}\" already exists"),
        )
        .about(kind, name)
    }

    pub fn conflict(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .about(kind, name)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// The API server's answer to a body over its limit.
    pub fn request_entity_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn invalid(kind: &str, name: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).about(kind, name)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    pub fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
    }

    pub fn server_error(code: u16) -> Self {
        if code == 503 {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "Internal error occurred: injected fault",
            )
        }
    }

    pub fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some((name, kind)) = &self.details {
            status["details"] = json!({ "name": name, "kind": kind });
            if let Some(group) = self.group {
                status["details"]["group"] = json!(group);
            }
        }
        status
    }
}

/// The Status a successful DELETE answers for objects the store does not return on deletion.
pub fn delete_success(kind: &str, name: &str, uid: Option<&str>) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": { "name": name, "kind": kind, "uid": uid },
    })
}
