//! The `registry-auth` world: credentials for image registries.
//!
//! Before talking to a registry, berthd asks the registry-auth plugin which
//! credentials to present. Secrets belong in the plugin's configuration (the
//! admin's grants file), read with [`crate::host::config`].
//!
//! # Example
//!
//! ```no_run
//! use berth_plugin_sdk::registry::*;
//! use berth_plugin_sdk::{host, register_registry_auth, PluginInfo};
//!
//! struct FromConfig;
//!
//! impl RegistryAuth for FromConfig {
//!     fn new() -> Self {
//!         FromConfig
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "static credentials")
//!     }
//!
//!     fn credentials(&mut self, request: &AuthRequest) -> Result<Credential, String> {
//!         match host::config(&format!("token.{}", request.registry)) {
//!             Some(token) => Ok(Credential::Bearer(token)),
//!             None => Ok(Credential::Anonymous),
//!         }
//!     }
//! }
//!
//! register_registry_auth!(FromConfig);
//! ```
//!
//! Its manifest names `world = "registry-auth"`.

use crate::PluginInfo;
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;
use crate::bindings::registry_auth::exports::berth::plugin::credentials as wit_credentials;
pub use crate::bindings::registry_auth::exports::berth::plugin::credentials::{
    AuthRequest, Credential,
};

/// A source of registry credentials.
pub trait RegistryAuth {
    /// Creates the plugin; called once per call.
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// The credentials for `request`.
    fn credentials(&mut self, request: &AuthRequest) -> Result<Credential, String>;
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts a [`RegistryAuth`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: RegistryAuth> crate::bindings::registry_auth::Guest for Export<T> {
        fn describe() -> wit_types::PluginInfo {
            T::new().info().into()
        }
    }

    impl<T: RegistryAuth> wit_credentials::Guest for Export<T> {
        fn lookup(request: AuthRequest) -> Result<Credential, String> {
            T::new().credentials(&request)
        }
    }
}

/// Exports `$plugin`, a [`RegistryAuth`], as this component's
/// `registry-auth` world. Use it once, at the top level of a plugin crate.
#[macro_export]
macro_rules! register_registry_auth {
    ($plugin:ty) => {
        #[doc(hidden)]
        type __BerthRegistryAuthExport = $crate::registry::__private::Export<$plugin>;
        $crate::bindings::registry_auth::__export_registry_auth!(
            __BerthRegistryAuthExport with_types_in $crate::bindings::registry_auth
        );
    };
}
