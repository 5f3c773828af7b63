//! A deliberately broken authz policy, for berth's tests. What it does is
//! chosen by its configuration value `always` (for every request) or else
//! by the request's path, `/misbehave/MODE`:
//! - `spin`: loops forever (the epoch deadline stops it);
//! - `bomb`: allocates until the memory limit stops it;
//! - `panic`: panics (a trap);
//! - `mute`: denies without a message (a malformed answer);
//! - `verbose`: denies with a 2 KiB message (a malformed answer);
//! - `deny`: denies with a message;
//! - anything else: allows.
//!
//! Not built into berthd and not meant for a plugin directory.

use berth_plugin_sdk::authz::{AuthzPolicy, Decision, Request};
use berth_plugin_sdk::{PluginInfo, host, register_authz_policy};

struct MisbehaveAuthz;

impl AuthzPolicy for MisbehaveAuthz {
    fn new() -> Self {
        MisbehaveAuthz
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "misbehave-authz",
            env!("CARGO_PKG_VERSION"),
            "fails on purpose (tests)",
        )
    }

    fn authorize(&mut self, request: &Request) -> Decision {
        let mode = host::config("always").unwrap_or_else(|| {
            request
                .path
                .strip_prefix("/misbehave/")
                .unwrap_or_default()
                .to_owned()
        });
        match mode.as_str() {
            "spin" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            "panic" => panic!("asked to panic"),
            "mute" => Decision::deny(""),
            "verbose" => Decision::deny("x".repeat(2048)),
            "deny" => Decision::deny(format!("told to deny {}", request.uri)),
            _ => Decision::Allow,
        }
    }
}

register_authz_policy!(MisbehaveAuthz);
