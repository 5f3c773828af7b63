//! An example registry-auth plugin: credentials from its configuration.
//! `token.REGISTRY` gives a bearer token, `user.REGISTRY` and
//! `password.REGISTRY` basic credentials; anything else is anonymous.
//! Only `pull` is allowed unless `push.REGISTRY = "true"`.

use berth_plugin_sdk::registry::{AuthRequest, Credential, RegistryAuth};
use berth_plugin_sdk::{PluginInfo, host, register_registry_auth};

struct FromConfig;

impl RegistryAuth for FromConfig {
    fn new() -> Self {
        FromConfig
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-registry-auth",
            env!("CARGO_PKG_VERSION"),
            "registry credentials from configuration",
        )
    }

    fn credentials(&mut self, request: &AuthRequest) -> Result<Credential, String> {
        let registry = &request.registry;
        let push_allowed = host::config(&format!("push.{registry}")).as_deref() == Some("true");
        if request.actions.iter().any(|a| a == "push") && !push_allowed {
            return Err(format!("pushing to {registry} is not allowed"));
        }
        if let Some(token) = host::config(&format!("token.{registry}")) {
            return Ok(Credential::Bearer(token));
        }
        match (
            host::config(&format!("user.{registry}")),
            host::config(&format!("password.{registry}")),
        ) {
            (Some(user), Some(password)) => Ok(Credential::Basic((user, password))),
            _ => Ok(Credential::Anonymous),
        }
    }
}

register_registry_auth!(FromConfig);
