//! Conversion of kube errors into elb's [`Error`], with the object and the server's reason.

use crate::{Error, ErrorKind};

/// Returns `Kind namespace/name`, the target format of Kubernetes errors.
pub(crate) fn target(kind: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {namespace}/{name}")
    }
}

/// Converts a kube error from `action` (a verb such as "create") on `target` into an
/// [`Error`] whose kind follows the HTTP status and the Status `reason`.
pub(crate) fn from_kube(error: kube::Error, action: &str, target: &str) -> Error {
    match error {
        kube::Error::Api(status) => {
            let kind = kind_for(status.code, &status.reason);
            let detail = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            let mut mapped = Error::new(kind, format!("{action} {target} failed: {detail}"))
                .with_target(target)
                .with_status(status.code);
            if !status.reason.is_empty() {
                mapped = mapped.with_code(status.reason.clone());
            }
            mapped.with_source(kube::Error::Api(status))
        }
        kube::Error::Service(source) => {
            // The bearer layer returns elb errors (a credential that failed); keep their kind.
            let kind = match source.downcast_ref::<Error>() {
                Some(inner) => inner.kind(),
                None => ErrorKind::Transport,
            };
            Error::new(kind, format!("{action} {target} failed: request not sent"))
                .with_target(target)
                .with_source(source)
        }
        kube::Error::HyperError(source) => Error::new(
            ErrorKind::Transport,
            format!("{action} {target} failed: connection error"),
        )
        .with_target(target)
        .with_source(source),
        other => Error::new(ErrorKind::Service, format!("{action} {target} failed"))
            .with_target(target)
            .with_source(other),
    }
}

fn kind_for(code: u16, reason: &str) -> ErrorKind {
    match (code, reason) {
        (_, "AlreadyExists") => ErrorKind::AlreadyExists,
        (404, _) | (_, "NotFound") => ErrorKind::NotFound,
        (409, _) | (_, "Conflict") => ErrorKind::Conflict,
        // 410 Expired: a watch or list continue token is too old, so the caller lists again.
        (410, _) => ErrorKind::Conflict,
        (401, _) => ErrorKind::Authentication,
        (403, _) => ErrorKind::PermissionDenied,
        (400 | 422, _) => ErrorKind::InvalidInput,
        (429, _) => ErrorKind::Throttled,
        (504, _) | (_, "Timeout") => ErrorKind::TimedOut,
        (500..=599, _) => ErrorKind::Unavailable,
        _ => ErrorKind::Service,
    }
}

/// Returns whether a kube error is the server's 404 Not Found.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Returns whether a kube error is the server's 409 AlreadyExists.
pub(crate) fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.reason == "AlreadyExists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn conflict_carries_target_and_reason() {
        let target = target("ConfigMap", "default", "elb-job-0a1b2c3d");
        let error = from_kube(
            api_error(409, "Conflict", "the object has been modified"),
            "update",
            &target,
        );
        assert_eq!(error.kind(), ErrorKind::Conflict);
        assert_eq!(error.target(), Some("ConfigMap default/elb-job-0a1b2c3d"));
        assert_eq!(error.code(), Some("Conflict"));
        assert_eq!(error.status(), Some(409));
    }

    #[test]
    fn status_codes_map_to_kinds() {
        let cases = [
            (409, "AlreadyExists", ErrorKind::AlreadyExists),
            (404, "NotFound", ErrorKind::NotFound),
            (422, "Invalid", ErrorKind::InvalidInput),
            (401, "Unauthorized", ErrorKind::Authentication),
            (403, "Forbidden", ErrorKind::PermissionDenied),
            (429, "TooManyRequests", ErrorKind::Throttled),
            (503, "ServiceUnavailable", ErrorKind::Unavailable),
        ];
        for (code, reason, kind) in cases {
            let error = from_kube(api_error(code, reason, "x"), "get", "Job default/a");
            assert_eq!(error.kind(), kind, "{code} {reason}");
        }
    }
}
