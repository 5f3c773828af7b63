//! The `authz` world (WIT 1.1.0): authorization of every API request, like
//! Docker's authorization plugins.
//!
//! berthd asks the authz policy about every request before it routes it —
//! method, path, query, headers, the JSON body, and the user (the unix
//! peer's `uid:N`, or the common name of a TLS client certificate). The
//! policy answers [`Decision::Allow`] or [`Decision::Deny`] with a message;
//! the client then gets `403 authorization denied by plugin NAME: MESSAGE`.
//! It is a pure decision: no files, no network, no clock.
//!
//! berthd is fail-closed: if the policy panics, runs past its deadline or
//! its memory limit, or denies without a message, the request is denied.
//! Deny when in doubt too — in particular when the body you need is
//! [`Body::Withheld`] (not JSON, so not shown to you): berthd's handlers
//! may still parse it.
//!
//! # Example
//!
//! A policy that only lets `uid:0` remove containers:
//!
//! ```no_run
//! use berth_plugin_sdk::authz::*;
//! use berth_plugin_sdk::{register_authz_policy, PluginInfo};
//!
//! struct RootRemoves;
//!
//! impl AuthzPolicy for RootRemoves {
//!     fn new() -> Self {
//!         RootRemoves
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "only root removes")
//!     }
//!
//!     fn authorize(&mut self, request: &Request) -> Decision {
//!         // Match on `path`: it has no version prefix and no query.
//!         let removes = request.method == "DELETE" && request.path.starts_with("/containers/");
//!         if removes && request.user != "uid:0" {
//!             return Decision::deny(format!("{} may not remove containers", request.user));
//!         }
//!         Decision::Allow
//!     }
//! }
//!
//! register_authz_policy!(RootRemoves);
//! ```
//!
//! Its manifest names `world = "authz"` and `wit = "1.1.0"`
//! ([`WIT_VERSION`]); `plugins/example-authz` in the repository parses
//! create bodies with `serde_json` to refuse `--privileged` and binds of
//! `/`.

use crate::PluginInfo;
use crate::bindings::authz::exports::berth::plugin::authorization as wit_authz;
pub use crate::bindings::authz::exports::berth::plugin::authorization::{
    AuthnMethod, Body, Decision, Request,
};
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;

/// The WIT version an authz plugin targets: the `authz` world was added in
/// `berth:plugin` 1.1.0. Put it in the manifest's `wit` key (the other
/// worlds target [`crate::WIT_VERSION`]).
pub const WIT_VERSION: &str = "1.1.0";

/// An authorization policy.
pub trait AuthzPolicy {
    /// Creates the policy; called once per request.
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// Allows or denies `request`.
    fn authorize(&mut self, request: &Request) -> Decision;
}

impl Decision {
    /// A denial with `message` (which must not be empty: berthd treats an
    /// empty one as a malformed answer, and denies anyway).
    pub fn deny(message: impl Into<String>) -> Decision {
        Decision::Deny(message.into())
    }
}

impl Request {
    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The first value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The JSON body, when berthd showed it.
    pub fn json_body(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Json(bytes) => Some(bytes),
            Body::Empty | Body::Withheld(_) => None,
        }
    }
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts an [`AuthzPolicy`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: AuthzPolicy> crate::bindings::authz::Guest for Export<T> {
        fn describe() -> wit_types::PluginInfo {
            T::new().info().into()
        }
    }

    impl<T: AuthzPolicy> wit_authz::Guest for Export<T> {
        fn authorize(request: Request) -> Decision {
            T::new().authorize(&request)
        }
    }
}

/// Exports `$policy`, an [`AuthzPolicy`], as this component's `authz`
/// world. Use it once, at the top level of a plugin crate.
#[macro_export]
macro_rules! register_authz_policy {
    ($policy:ty) => {
        #[doc(hidden)]
        type __BerthAuthzExport = $crate::authz::__private::Export<$policy>;
        $crate::bindings::authz::__export_authz!(
            __BerthAuthzExport with_types_in $crate::bindings::authz
        );
    };
}
