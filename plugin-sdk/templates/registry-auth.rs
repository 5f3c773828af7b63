//! {{name}}: a berth registry-auth policy. Before a pull or push the
//! registry driver asks it which credential to present to a registry.

use berth_plugin_sdk::registry::{AuthRequest, Credential, RegistryAuth};
use berth_plugin_sdk::{PluginInfo, host, register_registry_auth};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Auth;

impl RegistryAuth for Auth {
    fn new() -> Self {
        Auth
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn credentials(&mut self, request: &AuthRequest) -> Result<Credential, String> {
        // A bearer token per registry from the admin's `[config]`
        // (`token.REGISTRY`), else anonymous.
        Ok(match host::config(&format!("token.{}", request.registry)) {
            Some(token) => Credential::Bearer(token),
            None => Credential::Anonymous,
        })
    }
}

register_registry_auth!(Auth);
