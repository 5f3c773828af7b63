//! Authorization of API requests: the chain of authz policies and the
//! fail-closed call ([`PluginHost::authorize`]).
//!
//! Which plugins decide, in order (every one must allow, as dockerd ANDs
//! its `--authorization-plugin`s):
//! - the plugins named in [`PluginHostConfig::authorization_plugins`]
//!   (berthd's `--authorization-plugin NAME`, repeatable), built-in or from
//!   the plugin directory; a named plugin that is not loaded, is disabled or
//!   is not an authz plugin denies every request;
//! - else every enabled authz plugin of the plugin directory, by name; one
//!   whose manifest says `world = "authz"` but that was refused (and has no
//!   earlier version serving) denies every request: the admin meant a
//!   policy to be there;
//! - else the built-in `authz-default`, which allows everything (the same
//!   override rule as the default graph-layout policy).
//!
//! Fail-closed: a trap, a deadline, an exhausted memory limit or a
//! malformed answer denies the request with the plugin's name, version and
//! what failed. Authz plugins never rest in backoff (see
//! `LoadedPlugin::failed`): each failure denies only its own request.
//!
//! [`PluginHostConfig::authorization_plugins`]: crate::PluginHostConfig::authorization_plugins

use std::sync::Arc;

use crate::events::PluginEventKind;
use crate::manifest::World;
use crate::plugin::LoadedPlugin;
use crate::world::WorldPre;
use crate::{PluginError, PluginHost};

/// The `authorization` interface's types, as the plugin sees them.
pub mod authz_types {
    pub use crate::bindings::latest::authz::exports::berth::plugin::authorization::{
        AuthnMethod, Body, Decision, Request,
    };
}

use authz_types::{Decision, Request};

/// The built-in authz policy: allows every request.
pub const DEFAULT_AUTHZ_PLUGIN: &str = "authz-default";

/// Longest denial message a policy may give (it goes into the HTTP error
/// body and the log).
pub const MAX_DENY_MESSAGE: usize = 1024;

/// The outcome of authorizing one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzVerdict {
    /// Every policy of the chain allowed the request (or no policy is
    /// configured at all: a host without built-ins and without authz
    /// plugins, never berthd).
    Allow,
    /// A policy denied the request.
    Deny {
        /// The plugin that denied it.
        plugin: String,
        /// Its message.
        message: String,
    },
    /// A policy could not decide, or a configured one is not there: the
    /// request is denied (fail-closed).
    Fail {
        /// The plugin: `NAME VERSION` when it is loaded, else `NAME`.
        plugin: String,
        /// What went wrong.
        reason: String,
    },
}

impl AuthzVerdict {
    /// The client's error message, moby's wording
    /// (`pkg/authorization/authz.go`): `authorization denied by plugin
    /// NAME: MESSAGE` for a denial, `plugin NAME failed with error: ...`
    /// for a failure; `None` when the request is allowed.
    pub fn message(&self) -> Option<String> {
        match self {
            AuthzVerdict::Allow => None,
            AuthzVerdict::Deny { plugin, message } => Some(format!(
                "authorization denied by plugin {plugin}: {message}"
            )),
            AuthzVerdict::Fail { plugin, reason } => {
                Some(format!("plugin {plugin} failed with error: {reason}"))
            }
        }
    }
}

/// One link of the chain: a plugin to ask, or why a configured one cannot
/// be asked (`name`, `reason`).
pub(crate) type Link = Result<Arc<LoadedPlugin>, (String, String)>;

/// Why an authz policy's decision is refused (and so denies, fail-closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDecision {
    /// A denial must say why: the client sees the message.
    #[error("a denial without a message")]
    DenyWithoutMessage,
    /// A denial message longer than [`MAX_DENY_MESSAGE`].
    #[error("a denial message of {len} bytes (at most {MAX_DENY_MESSAGE})")]
    DenyMessageTooLong {
        /// Its length in bytes.
        len: usize,
    },
}

/// Checks a policy's answer: a denial needs a message, of bounded size.
fn validate(decision: &Decision) -> Result<(), InvalidDecision> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny(message) if message.trim().is_empty() => {
            Err(InvalidDecision::DenyWithoutMessage)
        }
        Decision::Deny(message) if message.len() > MAX_DENY_MESSAGE => {
            Err(InvalidDecision::DenyMessageTooLong { len: message.len() })
        }
        Decision::Deny(_) => Ok(()),
    }
}

/// `METHOD PATH` and who asked, for the denial event.
fn describe_request(request: &Request) -> String {
    let user = match request.user.as_str() {
        "" => "an unidentified client",
        user => user,
    };
    format!("{} {} by {user}", request.method, request.path)
}

impl PluginHost {
    /// Asks the authz chain about `request`. Blocking (a wasm call per
    /// policy, bounded by its deadline): call it from a blocking thread.
    /// Never allows because something failed.
    pub fn authorize(&self, request: &Request) -> AuthzVerdict {
        for link in self.authz_chain() {
            let plugin = match link {
                Ok(plugin) => plugin,
                Err((name, reason)) => {
                    return AuthzVerdict::Fail {
                        plugin: name,
                        reason,
                    };
                }
            };
            let result = plugin.call_policy(
                self.runtime(),
                "authorize",
                |pre, store| {
                    let WorldPre::Authz(pre) = pre else {
                        // The chain holds authz plugins only; fail closed
                        // rather than panic if that ever changes.
                        return Err(wasmtime::format_err!("not an authz plugin"));
                    };
                    let decision = pre
                        .instantiate(&mut *store)?
                        .berth_plugin_authorization()
                        .call_authorize(&mut *store, request)?;
                    Ok(Ok(decision))
                },
                validate,
            );
            self.report(&plugin, &result);
            match result {
                Ok(Decision::Allow) => continue,
                Ok(Decision::Deny(message)) => {
                    self.emit(
                        PluginEventKind::Deny,
                        plugin.name(),
                        Some(plugin.version()),
                        format!("denied {}: {message}", describe_request(request)),
                    );
                    return AuthzVerdict::Deny {
                        plugin: plugin.name().to_owned(),
                        message,
                    };
                }
                Err(PluginError::Call { reason, call, .. }) => {
                    return AuthzVerdict::Fail {
                        plugin: plugin.label(),
                        reason: format!("{call}: {reason}"),
                    };
                }
                Err(other) => {
                    return AuthzVerdict::Fail {
                        plugin: plugin.label(),
                        reason: other.to_string(),
                    };
                }
            }
        }
        AuthzVerdict::Allow
    }

    /// The plugins deciding on requests now, in order (see the module
    /// documentation), each as `NAME VERSION (built-in plugin|plugin)`, or
    /// `NAME (unavailable: REASON)` for a configured one that denies
    /// everything.
    pub fn authz_policies(&self) -> Vec<String> {
        self.authz_chain()
            .into_iter()
            .map(|link| match link {
                Ok(plugin) => {
                    let origin = match plugin.source {
                        crate::PluginSource::Builtin => "built-in plugin",
                        crate::PluginSource::Directory { .. } => "plugin",
                    };
                    format!("{} ({origin})", plugin.label())
                }
                Err((name, reason)) => format!("{name} (unavailable: {reason})"),
            })
            .collect()
    }
}

impl crate::host::Table {
    /// The authz chain for this table (see the module documentation).
    pub(crate) fn authz_chain(&self, named: &[String]) -> Vec<Link> {
        if !named.is_empty() {
            return named.iter().map(|name| self.named_authz(name)).collect();
        }
        let mut chain: Vec<Link> = Vec::new();
        for (id, entry) in &self.dir {
            if self.disabled.contains(id) {
                continue;
            }
            match (&entry.active, &entry.refused) {
                (Some(plugin), _) if plugin.manifest.world == World::Authz => {
                    chain.push(Ok(plugin.clone()))
                }
                (None, Some(refusal)) if refusal.world == Some(World::Authz) => chain.push(Err((
                    id.clone(),
                    format!(
                        "authz plugin {id} in the plugin directory could not be loaded: {}",
                        refusal.message
                    ),
                ))),
                _ => {}
            }
        }
        if chain.is_empty()
            && let Some(default) = self.builtins.get(DEFAULT_AUTHZ_PLUGIN)
        {
            chain.push(Ok(default.clone()));
        }
        chain
    }

    /// The plugin named by `--authorization-plugin NAME`, or why it cannot
    /// decide.
    fn named_authz(&self, name: &str) -> Link {
        let unavailable = |reason: String| Err((name.to_owned(), reason));
        let Some(plugin) = self.effective(name) else {
            return match self.dir.get(name).and_then(|e| e.refused.as_ref()) {
                Some(refusal) => unavailable(format!(
                    "authorization plugin {name} is not loaded: {}",
                    refusal.message
                )),
                None => unavailable(format!(
                    "authorization plugin {name} is not loaded: no plugin by that name"
                )),
            };
        };
        if plugin.manifest.world != World::Authz {
            return unavailable(format!(
                "plugin {name} is a {} plugin, not an authz plugin",
                plugin.manifest.world
            ));
        }
        if self.disabled.contains(name) {
            return unavailable(format!("authorization plugin {name} is disabled"));
        }
        Ok(plugin.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_need_a_bounded_message() {
        assert!(validate(&Decision::Allow).is_ok());
        assert!(validate(&Decision::Deny("no".into())).is_ok());
        assert_eq!(
            validate(&Decision::Deny(" \n".into())),
            Err(InvalidDecision::DenyWithoutMessage)
        );
        assert_eq!(
            validate(&Decision::Deny("x".repeat(MAX_DENY_MESSAGE + 1))),
            Err(InvalidDecision::DenyMessageTooLong {
                len: MAX_DENY_MESSAGE + 1
            })
        );
        assert!(validate(&Decision::Deny("x".repeat(MAX_DENY_MESSAGE))).is_ok());
    }

    #[test]
    fn verdicts_answer_in_mobys_words() {
        assert_eq!(AuthzVerdict::Allow.message(), None);
        let deny = AuthzVerdict::Deny {
            plugin: "p".into(),
            message: "no".into(),
        };
        assert_eq!(
            deny.message().as_deref(),
            Some("authorization denied by plugin p: no")
        );
        let fail = AuthzVerdict::Fail {
            plugin: "p 1.0.0".into(),
            reason: "authorize: trapped".into(),
        };
        assert_eq!(
            fail.message().as_deref(),
            Some("plugin p 1.0.0 failed with error: authorize: trapped")
        );
    }
}
