//! The HTTP edge's error type: a job's [`JobError`] becomes Docker's status
//! code and `{"message": ...}` body (STYLE rule 2).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_api::ErrorResponse;
use berth_engine::{ErrorKind, JobError};

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The message for `{"message": ...}`.
    pub message: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 500 for a job that panicked: logged, and the client gets no detail.
    pub fn job_panicked(err: &tokio::task::JoinError) -> ApiError {
        tracing::error!(error = %err, "job panicked");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// 404 for a path no route serves (dockerd's wording).
    pub fn page_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "page not found")
    }
}

impl From<JobError> for ApiError {
    fn from(err: JobError) -> ApiError {
        let status = StatusCode::from_u16(err.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if err.kind == ErrorKind::Internal {
            tracing::warn!(error = %err.message, "request failed");
        }
        ApiError {
            status,
            message: err.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NOT_MODIFIED {
            // 304 has no body by definition (RFC 9110 §15.4.5).
            return self.status.into_response();
        }
        let body = serde_json::to_vec(&ErrorResponse {
            message: self.message,
        })
        .unwrap_or_else(|_| b"{\"message\":\"internal error\"}".to_vec());
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
