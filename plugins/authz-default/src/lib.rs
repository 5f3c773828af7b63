//! The default authz policy, built into berthd: every API request is
//! allowed, as dockerd allows them when no `--authorization-plugin` is
//! configured. It still runs for every request, so that the default goes
//! through the same path (and costs the same) as the policy replacing it.

use berth_plugin_sdk::authz::{AuthzPolicy, Decision, Request};
use berth_plugin_sdk::{PluginInfo, register_authz_policy};

struct AllowAll;

impl AuthzPolicy for AllowAll {
    fn new() -> Self {
        AllowAll
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "authz-default",
            env!("CARGO_PKG_VERSION"),
            "default authorization: allows every API request",
        )
    }

    fn authorize(&mut self, _request: &Request) -> Decision {
        Decision::Allow
    }
}

register_authz_policy!(AllowAll);
