//! An example registry policy: `map.REGISTRY = "OTHER"` in its
//! configuration presents the credential berthd holds for `OTHER` (the
//! client's or the admin's) to `REGISTRY`; an unmapped registry gets the
//! default rule (the client's credential, else the admin's for it, else
//! anonymous). A mapped registry with nothing held for `OTHER` is refused
//! rather than pulled anonymously: the admin asked for that credential.

use berth_plugin_sdk::registry_policy::{
    AccessRequest, Choice, CredentialRef, CredentialSource, RegistryPolicy, find,
};
use berth_plugin_sdk::{PluginInfo, host, register_registry_policy};

struct Remap;

impl RegistryPolicy for Remap {
    fn new() -> Self {
        Remap
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-registry-policy",
            env!("CARGO_PKG_VERSION"),
            "maps a registry to the credential stored for another",
        )
    }

    fn choose(
        &mut self,
        request: &AccessRequest,
        held: &[CredentialRef],
    ) -> Result<Choice, String> {
        if let Some(other) = host::config(&format!("map.{}", request.registry)) {
            return find(held, |c| c.registry == other)
                .map(Choice::UseHeld)
                .ok_or_else(|| {
                    format!(
                        "no credential held for {other} (mapped from {})",
                        request.registry
                    )
                });
        }
        let chosen = find(held, |c| c.source == CredentialSource::XRegistryAuth).or_else(|| {
            find(held, |c| {
                c.source == CredentialSource::AdminConfig && c.registry == request.registry
            })
        });
        Ok(chosen.map_or(Choice::Anonymous, Choice::UseHeld))
    }
}

register_registry_policy!(Remap);
