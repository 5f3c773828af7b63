//! Authorization of every API request by the authz policy (the plugin
//! host's authz chain), as dockerd's authorization middleware does
//! (moby `pkg/authorization/middleware.go`, `authz.go`).
//!
//! The layer sits inside the version-prefix check, so it sees the path
//! berthd routes on, and before routing, so every request is asked about:
//! `/_ping` too (dockerd sends it to its plugins), unknown paths, and the
//! hijacked endpoints (attach, job streams), whose connection is upgraded
//! only by the handler, after the policy allowed the request.
//!
//! What the policy gets (`berth:plugin/authorization@1.1.0`):
//! - `uri` as the client sent it (with the `/vX.Y` prefix and the query,
//!   moby's `RequestURI`), `path` without them, `api-version`, the decoded
//!   `query`;
//! - the headers, except `Authorization`, `Proxy-Authorization`,
//!   `X-Registry-Auth` and `X-Registry-Config` (secrets; moby leaves out
//!   the same but `Proxy-Authorization`);
//! - the user from the connection's [`Peer`] (`uid:N` or the client
//!   certificate's common name; empty when the listener attached none);
//! - the body: read in full when it is JSON (`Content-Type:
//!   application/json`, or none, which berthd's JSON endpoints also
//!   parse) and then handed to the handler byte for byte; a JSON body over
//!   1 MiB is refused before the policy is asked, with moby's message (its
//!   current behaviour: older dockerd sent such bodies without the body, and
//!   a policy then allowed what it never saw). Other bodies (image
//!   tarballs, job stdin) are not read and are marked withheld, as is the
//!   body of `/auth` (credentials).
//!
//! Answers: a denial is `403` `authorization denied by plugin NAME:
//! MESSAGE`; a policy that failed (or is configured but not loaded) is
//! `500` `plugin NAME VERSION failed with error: ...` (moby answers a
//! failing plugin with a plain error, i.e. 500). Neither lets the request
//! through.
//!
//! The policy runs on the blocking pool (a wasm call bounded by its
//! deadline must not hold an async worker), at most [`CONCURRENT_CALLS`]
//! at once, so that a slow policy cannot take the pool from other kinds of
//! work.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::{OriginalUri, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_api::version;
use berth_plugin_host::authz_types::{self, AuthnMethod};
use berth_plugin_host::{AuthzVerdict, PluginHost};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::peer::Peer;

/// Largest JSON body shown to the policy (moby's `maxBodySize`, 1 MiB).
pub const MAX_BODY: usize = 1 << 20;

/// Policy calls in flight at once; more requests wait their turn.
pub const CONCURRENT_CALLS: usize = 4;

/// Headers whose values are secrets and never reach a policy.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "x-registry-auth",
    "x-registry-config",
];

/// Decides on requests: the plugin host's authz chain, or a fake in tests.
pub trait Authorizer: Send + Sync + 'static {
    /// Allows or denies `request`. Blocking: called on the blocking pool.
    fn authorize(&self, request: &authz_types::Request) -> AuthzVerdict;
}

impl Authorizer for PluginHost {
    fn authorize(&self, request: &authz_types::Request) -> AuthzVerdict {
        PluginHost::authorize(self, request)
    }
}

/// The router's handle on the authorizer. Cheap to clone.
#[derive(Clone)]
pub struct Authz {
    policy: Arc<dyn Authorizer>,
    calls: Arc<Semaphore>,
}

impl Authz {
    /// Requests are decided by `policy`.
    pub fn new(policy: Arc<dyn Authorizer>) -> Authz {
        Authz {
            policy,
            calls: Arc::new(Semaphore::new(CONCURRENT_CALLS)),
        }
    }

    /// Asks the policy on the blocking pool. A call that cannot run or
    /// panics denies the request.
    async fn decide(&self, request: authz_types::Request) -> AuthzVerdict {
        let failed = |reason: String| AuthzVerdict::Fail {
            plugin: "authz".into(),
            reason,
        };
        let permit = match Arc::clone(&self.calls).acquire_owned().await {
            Ok(permit) => permit,
            Err(e) => return failed(format!("the authorization calls are closed: {e}")),
        };
        let policy = Arc::clone(&self.policy);
        let call = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            policy.authorize(&request)
        });
        match call.await {
            Ok(verdict) => verdict,
            Err(e) => failed(format!("the authorization call did not finish: {e}")),
        }
    }
}

/// The middleware: builds the request's facts, asks the policy, and runs
/// the request only when it is allowed.
pub async fn authorize(State(authz): State<Authz>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let (shown, body) = match read_body(&parts, body).await {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    let request = match facts(&parts, shown) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let verdict = authz.decide(request).await;
    let status = match &verdict {
        AuthzVerdict::Allow => return next.run(Request::from_parts(parts, body)).await,
        AuthzVerdict::Deny { .. } => StatusCode::FORBIDDEN,
        AuthzVerdict::Fail { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = verdict.message().unwrap_or_default();
    tracing::info!(method = %parts.method, uri = %parts.uri, %message, "request not authorized");
    ApiError::new(status, message).into_response()
}

/// Whether `content_type` is JSON: `application/json`, parameters such as
/// `charset` aside (moby parses the media type the same way).
fn is_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
}

/// Reads the body when the policy is shown it; returns what the policy
/// sees and the body for the handler.
async fn read_body(parts: &Parts, body: Body) -> Result<(authz_types::Body, Body), ApiError> {
    if body.is_end_stream() {
        return Ok((authz_types::Body::Empty, body));
    }
    let (_, path) = version::split_path(parts.uri.path());
    if path == "/auth" || path.starts_with("/auth/") {
        let why = "the body of /auth holds registry credentials".to_owned();
        return Ok((authz_types::Body::Withheld(why), body));
    }
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        let content_type = String::from_utf8_lossy(content_type.as_bytes());
        if !is_json(&content_type) {
            let why = format!("Content-Type {content_type} is not JSON");
            return Ok((authz_types::Body::Withheld(why), body));
        }
    }
    let too_large = || {
        // moby pkg/authorization/authz.go, AuthZRequest.
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "request body too large for authorization plugin: size exceeds {MAX_BODY} bytes"
            ),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "failed to read the request body: {e}"
            )));
        }
    };
    if bytes.is_empty() {
        return Ok((authz_types::Body::Empty, Body::empty()));
    }
    let shown = authz_types::Body::Json(bytes.to_vec());
    Ok((shown, Body::from(bytes)))
}

/// The facts of one request, as the policy sees them.
fn facts(parts: &Parts, body: authz_types::Body) -> Result<authz_types::Request, ApiError> {
    // The URI before the version prefix was stripped (axum records it
    // when the request enters the router).
    let original = parts
        .extensions
        .get::<OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(&parts.uri);
    let uri = original
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| original.path().to_owned());
    let api_version = version::split_path(original.path()).0.map(str::to_owned);
    let query = match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
        Ok(Query(query)) => query,
        Err(e) => return Err(ApiError::bad_request(format!("invalid query: {e}"))),
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let peer = parts.extensions.get::<Peer>();
    let authn_method = match peer {
        Some(Peer::Unix { .. }) => AuthnMethod::UnixPeer,
        Some(Peer::Tls {
            common_name: Some(_),
            ..
        }) => AuthnMethod::TlsCertificate,
        Some(Peer::Tls { .. } | Peer::Tcp { .. }) | None => AuthnMethod::None,
    };
    Ok(authz_types::Request {
        method: parts.method.as_str().to_owned(),
        uri,
        path: parts.uri.path().to_owned(),
        api_version,
        query,
        headers,
        body,
        user: peer.map(Peer::user).unwrap_or_default(),
        authn_method,
    })
}

#[cfg(test)]
impl Authz {
    /// Allows everything: for the router tests that are not about
    /// authorization (berthd always has the plugin host's chain).
    pub fn unrestricted() -> Authz {
        struct AllowAll;
        impl Authorizer for AllowAll {
            fn authorize(&self, _: &authz_types::Request) -> AuthzVerdict {
                AuthzVerdict::Allow
            }
        }
        Authz::new(Arc::new(AllowAll))
    }
}

#[cfg(test)]
mod tests;
