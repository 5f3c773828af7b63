//! {{name}}: a berth registry policy. berthd asks it which credential it
//! holds (the client's, the admin's) to present to a registry; it sees
//! where each came from and its user name, never a secret.

use berth_plugin_sdk::registry_policy::{
    AccessRequest, Choice, CredentialRef, CredentialSource, RegistryPolicy, find,
};
use berth_plugin_sdk::{PluginInfo, register_registry_policy};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Policy;

impl RegistryPolicy for Policy {
    fn new() -> Self {
        Policy
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn choose(
        &mut self,
        request: &AccessRequest,
        held: &[CredentialRef],
    ) -> Result<Choice, String> {
        // Only the admin's credentials, and only for their own registry.
        let chosen = find(held, |c| {
            c.source == CredentialSource::AdminConfig && c.registry == request.registry
        });
        Ok(chosen.map_or(Choice::Anonymous, Choice::UseHeld))
    }
}

register_registry_policy!(Policy);
