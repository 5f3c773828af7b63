//! Which held credential goes to which registry ([`PluginHost::choose_registry_credential`]):
//! the `registry-policy` world (WIT 1.2.0). The policy gets the access
//! berthd is about to make and the references of the credentials it holds
//! (source, registry key, user name — no secret) and names one of them or
//! `anonymous`; the host keeps the secrets and does all HTTP (issue 11).
//!
//! Which plugin decides: an enabled `registry-policy` plugin of the plugin
//! directory, else the built-in [`DEFAULT_REGISTRY_POLICY_PLUGIN`] (today's
//! behaviour: the client's `X-Registry-Auth`, else the admin's credential
//! for that registry, else anonymous) — the same override rule as the
//! default graph-layout policy.

use crate::manifest::World;
use crate::world::WorldPre;
use crate::{PluginError, PluginHost};

/// The `credential-choice` interface's types, as the plugin sees them.
pub mod registry_policy_types {
    pub use crate::bindings::v1_2::registry_policy::exports::berth::plugin::credential_choice::{
        AccessRequest, Choice, CredentialRef, CredentialSource,
    };
}

use registry_policy_types::{AccessRequest, Choice, CredentialRef};

/// The built-in registry policy.
pub const DEFAULT_REGISTRY_POLICY_PLUGIN: &str = "registry-policy-default";

/// Checks a choice against what was offered: an index out of range is an
/// invalid answer (the plugin's failure), never "anonymous".
fn validate(choice: &Choice, held: usize) -> Result<(), String> {
    match choice {
        Choice::Anonymous => Ok(()),
        Choice::UseHeld(n) if (*n as usize) < held => Ok(()),
        Choice::UseHeld(n) => Err(format!(
            "use-held({n}) names no credential: {held} were offered"
        )),
    }
}

impl PluginHost {
    /// Asks the serving registry policy which of `held` to present for
    /// `request`; `None` when no registry-policy plugin is loaded or
    /// enabled (a host without built-ins). The plugin's own error comes back
    /// as [`PluginError::Call`] ([`crate::CallFailure::Returned`]): the
    /// access must not be made.
    pub fn choose_registry_credential(
        &self,
        request: &AccessRequest,
        held: &[CredentialRef],
    ) -> Option<Result<Choice, PluginError>> {
        self.call_policy(
            World::RegistryPolicy,
            "choose",
            |pre, store| {
                let WorldPre::RegistryPolicy(pre) = pre else {
                    unreachable!("a registry-policy plugin has a registry-policy pre")
                };
                pre.choose(store, request, held)
            },
            |choice| validate(choice, held.len()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_must_name_an_offered_credential() {
        assert!(validate(&Choice::Anonymous, 0).is_ok());
        assert!(validate(&Choice::UseHeld(1), 2).is_ok());
        let err = validate(&Choice::UseHeld(2), 2).unwrap_err();
        assert_eq!(err, "use-held(2) names no credential: 2 were offered");
    }
}
