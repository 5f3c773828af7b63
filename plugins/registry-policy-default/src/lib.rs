//! The default registry policy, built into berthd: what dockerd does.
//!
//! - the credential the client sent with the request (`X-Registry-Auth`):
//!   moby's pull uses the header's `AuthConfig` as it is
//!   (`daemon/images/image_pull.go`, `PullImage` → `distribution.Pull`);
//! - else the admin's credential stored for the request's registry
//!   (`--registry-auth-config`);
//! - else anonymous.

use berth_plugin_sdk::registry_policy::{
    AccessRequest, Choice, CredentialRef, CredentialSource, RegistryPolicy, find,
};
use berth_plugin_sdk::{PluginInfo, register_registry_policy};

struct Default;

impl RegistryPolicy for Default {
    fn new() -> Self {
        Default
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "registry-policy-default",
            env!("CARGO_PKG_VERSION"),
            "default registry policy: the client's credential, else the admin's for the registry",
        )
    }

    fn choose(
        &mut self,
        request: &AccessRequest,
        held: &[CredentialRef],
    ) -> Result<Choice, String> {
        let chosen = find(held, |c| c.source == CredentialSource::XRegistryAuth).or_else(|| {
            find(held, |c| {
                c.source == CredentialSource::AdminConfig && c.registry == request.registry
            })
        });
        Ok(chosen.map_or(Choice::Anonymous, Choice::UseHeld))
    }
}

register_registry_policy!(Default);
