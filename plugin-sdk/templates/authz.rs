//! {{name}}: a berth authorization policy. berthd asks it about every API
//! request before routing it; a deny, a trap or a timeout refuses the
//! request (fail-closed).

use berth_plugin_sdk::authz::{AuthzPolicy, Decision, Request};
use berth_plugin_sdk::{PluginInfo, register_authz_policy};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Policy;

impl AuthzPolicy for Policy {
    fn new() -> Self {
        Policy
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn authorize(&mut self, request: &Request) -> Decision {
        // `path` has no version prefix and no query.
        if request.method == "DELETE" && request.path.starts_with("/images/") {
            return Decision::deny(format!("{NAME}: {} may not remove images", request.user));
        }
        Decision::Allow
    }
}

register_authz_policy!(Policy);
