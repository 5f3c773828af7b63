//! The `registry-policy` world (WIT 1.2.0): which credential berthd
//! presents to which registry, decided without seeing a secret.
//!
//! berthd holds the credentials (the client's `X-Registry-Auth`, the
//! admin's `--registry-auth-config`) and does all HTTP; before it speaks to
//! a registry it passes the policy the access it is about to make and the
//! *references* of what it holds — source, registry key, user name — and
//! the policy answers [`Choice::Anonymous`] or [`Choice::UseHeld`] with an
//! index into that list, or an error that stops the access.
//!
//! # Example
//!
//! ```no_run
//! use berth_plugin_sdk::registry_policy::*;
//! use berth_plugin_sdk::{PluginInfo, register_registry_policy};
//!
//! struct ClientFirst;
//!
//! impl RegistryPolicy for ClientFirst {
//!     fn new() -> Self {
//!         ClientFirst
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "client first")
//!     }
//!
//!     fn choose(&mut self, request: &AccessRequest, held: &[CredentialRef]) -> Result<Choice, String> {
//!         Ok(find(held, |c| c.registry == request.registry)
//!             .map_or(Choice::Anonymous, Choice::UseHeld))
//!     }
//! }
//!
//! register_registry_policy!(ClientFirst);
//! ```
//!
//! Its manifest names `world = "registry-policy"` and
//! `wit = "1.2.0"` ([`WIT_VERSION`]).

use crate::PluginInfo;
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;
use crate::bindings::registry_policy::exports::berth::plugin::credential_choice as wit_choice;
pub use crate::bindings::registry_policy::exports::berth::plugin::credential_choice::{
    AccessRequest, Choice, CredentialRef, CredentialSource,
};

/// The WIT version a registry policy targets: the `registry-policy` world
/// was added in `berth:plugin` 1.2.0. Put it in the manifest's `wit` key.
pub const WIT_VERSION: &str = "1.2.0";

/// A registry policy.
pub trait RegistryPolicy {
    /// Creates the policy; called once per call.
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// Which of `held` to present for `request` (or none); an error stops
    /// the access with that message.
    fn choose(&mut self, request: &AccessRequest, held: &[CredentialRef])
    -> Result<Choice, String>;
}

/// The index of the first of `held` that `matches`, as [`Choice::UseHeld`]
/// wants it.
pub fn find(held: &[CredentialRef], matches: impl Fn(&CredentialRef) -> bool) -> Option<u32> {
    held.iter()
        .position(matches)
        .and_then(|n| u32::try_from(n).ok())
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts a [`RegistryPolicy`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: RegistryPolicy> crate::bindings::registry_policy::Guest for Export<T> {
        fn describe() -> wit_types::PluginInfo {
            T::new().info().into()
        }
    }

    impl<T: RegistryPolicy> wit_choice::Guest for Export<T> {
        fn choose(request: AccessRequest, held: Vec<CredentialRef>) -> Result<Choice, String> {
            T::new().choose(&request, &held)
        }
    }
}

/// Exports `$policy`, a [`RegistryPolicy`], as this component's
/// `registry-policy` world. Use it once, at the top level of a plugin crate.
#[macro_export]
macro_rules! register_registry_policy {
    ($policy:ty) => {
        #[doc(hidden)]
        type __BerthRegistryPolicyExport = $crate::registry_policy::__private::Export<$policy>;
        $crate::bindings::registry_policy::__export_registry_policy!(
            __BerthRegistryPolicyExport with_types_in $crate::bindings::registry_policy
        );
    };
}
