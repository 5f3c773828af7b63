//! An example authz policy: it denies creating a container that would own
//! the host —
//! - `POST /containers/create` with `HostConfig.Privileged` (`docker run
//!   --privileged`), or with a bind whose source is the host's root: a
//!   `HostConfig.Binds` entry (`-v /:/host`) or a `HostConfig.Mounts` entry
//!   (`--mount type=bind,source=/,target=/host`);
//! - `POST /containers/{id}/exec` with `Privileged` (`docker exec
//!   --privileged`);
//!
//! and allows everything else. A create or exec whose body it cannot read
//! (withheld because it is not JSON, or not valid JSON) is denied: berthd
//! would still parse it, and what the policy cannot see it cannot allow.
//!
//! Sources are compared lexically (`/`, `//`, `/.`, `/tmp/..` are all the
//! root): a policy has no filesystem, so it cannot see that a host path is
//! a symbolic link to `/`.

use berth_plugin_sdk::authz::{AuthzPolicy, Body, Decision, Request};
use berth_plugin_sdk::{PluginInfo, register_authz_policy};
use serde_json::Value;

struct ExampleAuthz;

/// Whether `path` names the host's root once `.`, `..` and repeated
/// slashes are resolved lexically.
fn is_root(path: &str) -> bool {
    if !path.starts_with('/') {
        // A named volume, not a host path.
        return false;
    }
    let mut depth = 0usize;
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => depth = depth.saturating_sub(1),
            _ => depth += 1,
        }
    }
    depth == 0
}

/// Whether a JSON flag is set: anything but absent, `null` or `false`
/// counts (berthd refuses a non-boolean, but a policy must not guess).
fn flag_set(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null) | Some(Value::Bool(false)))
}

/// The reason to deny a create body, if any.
fn check_create(body: &Value) -> Option<String> {
    let host_config = body.get("HostConfig")?;
    if flag_set(host_config.get("Privileged")) {
        return Some("privileged containers are not allowed (HostConfig.Privileged)".into());
    }
    match host_config.get("Binds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(binds)) => {
            for bind in binds {
                let Some(bind) = bind.as_str() else {
                    return Some(format!("HostConfig.Binds entry {bind} is not a string"));
                };
                // `source:target[:options]`: the source is everything
                // before the first colon.
                let source = bind.split(':').next().unwrap_or_default();
                if is_root(source) {
                    return Some(format!(
                        "binding the host's root into a container is not allowed \
                         (HostConfig.Binds {bind:?})"
                    ));
                }
            }
        }
        Some(other) => return Some(format!("HostConfig.Binds {other} is not a list")),
    }
    match host_config.get("Mounts") {
        None | Some(Value::Null) => {}
        Some(Value::Array(mounts)) => {
            for mount in mounts {
                // Any type: a bind of `/` is the case that matters, and no
                // other kind of mount has `/` as its source.
                let source = mount.get("Source").and_then(Value::as_str).unwrap_or("");
                if is_root(source) {
                    return Some(format!(
                        "binding the host's root into a container is not allowed \
                         (HostConfig.Mounts source {source:?})"
                    ));
                }
            }
        }
        Some(other) => return Some(format!("HostConfig.Mounts {other} is not a list")),
    }
    None
}

/// The reason to deny an exec body, if any.
fn check_exec(body: &Value) -> Option<String> {
    flag_set(body.get("Privileged"))
        .then(|| "privileged exec sessions are not allowed (Privileged)".to_owned())
}

impl AuthzPolicy for ExampleAuthz {
    fn new() -> Self {
        ExampleAuthz
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-authz",
            env!("CARGO_PKG_VERSION"),
            "denies --privileged and binds of / into containers",
        )
    }

    fn authorize(&mut self, request: &Request) -> Decision {
        if request.method != "POST" {
            return Decision::Allow;
        }
        let segments: Vec<&str> = request.path.split('/').collect();
        let check: fn(&Value) -> Option<String> = match segments.as_slice() {
            ["", "containers", "create"] => check_create,
            ["", "containers", _, "exec"] => check_exec,
            _ => return Decision::Allow,
        };
        let body = match &request.body {
            // No body: the daemon's defaults, which are neither.
            Body::Empty => return Decision::Allow,
            Body::Json(bytes) => bytes,
            Body::Withheld(why) => {
                return Decision::deny(format!(
                    "cannot inspect the body of POST {} ({why}); send it as application/json",
                    request.path
                ));
            }
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(body) => match check(&body) {
                Some(reason) => Decision::deny(reason),
                None => Decision::Allow,
            },
            Err(e) => Decision::deny(format!(
                "cannot inspect the body of POST {}: invalid JSON: {e}",
                request.path
            )),
        }
    }
}

register_authz_policy!(ExampleAuthz);
