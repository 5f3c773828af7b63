//! `--network-alias` (`NetworkingConfig.EndpointsConfig.<net>.Aliases`):
//! checked at create and kept in the model; the container's endpoint on
//! its user-defined network carries them to the embedded DNS server.

use berth_model::network::NetworkMode;

use crate::job::JobError;

/// moby `runconfig.ErrUnsupportedNetworkAndAlias`.
pub const ALIAS_ON_DEFAULT_NETWORK: &str =
    "network-scoped alias is supported only for containers in user defined networks";

/// The aliases asked for the container's own network (the only entry
/// `CreateRequest::check_fields` lets through), refused off a
/// user-defined network as moby does.
pub(super) fn network_aliases(
    networking: Option<&serde_json::Value>,
    network_mode: &str,
) -> Result<Vec<String>, JobError> {
    let Some(endpoints) = networking
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(serde_json::Value::as_object)
    else {
        return Ok(Vec::new());
    };
    let mut aliases: Vec<String> = Vec::new();
    for settings in endpoints.values() {
        match settings.get("Aliases") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(list)) => {
                for alias in list {
                    let alias = alias.as_str().ok_or_else(|| {
                        JobError::invalid("EndpointsConfig.Aliases: an alias is not a string")
                    })?;
                    if alias.is_empty() {
                        continue;
                    }
                    if !aliases.iter().any(|a| a == alias) {
                        aliases.push(alias.to_owned());
                    }
                }
            }
            Some(_) => {
                return Err(JobError::invalid(
                    "EndpointsConfig.Aliases: not a list of names",
                ));
            }
        }
    }
    if aliases.is_empty() {
        return Ok(aliases);
    }
    let mode = NetworkMode::parse(network_mode).map_err(|e| JobError::invalid(e.to_string()))?;
    match mode {
        NetworkMode::Network(_) => Ok(aliases),
        _ => Err(JobError::invalid(ALIAS_ON_DEFAULT_NETWORK)),
    }
}
