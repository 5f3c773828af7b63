//! `POST /containers/create`: the request body and the answer.

use serde::{Deserialize, Serialize};

use super::{Config, HostConfig, fields, null_as_default};

/// `POST /containers/create` body: the [`Config`] with `HostConfig` and
/// `NetworkingConfig` beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    /// The container configuration.
    #[serde(flatten)]
    pub config: Config,
    /// Host configuration.
    #[serde(deserialize_with = "null_as_default")]
    pub host_config: HostConfig,
    /// Network endpoints: only the entry of the container's own network,
    /// with what [`fields::ENDPOINT_SETTINGS`](super::fields::ENDPOINT_SETTINGS)
    /// honours (aliases, addresses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<serde_json::Value>,
}

impl CreateRequest {
    /// Refuses a request that sets a field berth does not honour
    /// ([`fields`]) or names a network mode berth has no driver for,
    /// naming the field and the option.
    pub fn check_fields(&self) -> Result<(), fields::FieldError> {
        use fields::{FieldError, Section, check_section};
        let unsupported = |field: &str, option: &'static str| FieldError::Unsupported {
            field: field.to_owned(),
            option: Some(option),
        };
        let members = |value: serde_json::Result<serde_json::Value>| match value {
            Ok(serde_json::Value::Object(members)) => members,
            _ => serde_json::Map::new(),
        };
        check_section(
            Section::Config,
            "Config",
            &members(serde_json::to_value(&self.config)),
        )?;
        check_section(
            Section::HostConfig,
            "HostConfig",
            &members(serde_json::to_value(&self.host_config)),
        )?;
        // Any other mode names a user-defined network, which the daemon
        // looks up (moby: 404 `network NAME not found`).
        let mode = self.host_config.network_mode.as_str();
        let networking = match &self.networking_config {
            None | Some(serde_json::Value::Null) => return Ok(()),
            Some(serde_json::Value::Object(members)) => members,
            Some(_) => {
                return Err(FieldError::Unknown {
                    field: "NetworkingConfig".to_owned(),
                });
            }
        };
        check_section(Section::NetworkingConfig, "NetworkingConfig", networking)?;
        let own_network = if mode.is_empty() { "default" } else { mode };
        let endpoints = match networking.get("EndpointsConfig") {
            None | Some(serde_json::Value::Null) => return Ok(()),
            Some(serde_json::Value::Object(endpoints)) => endpoints,
            Some(_) => return Err(unsupported("NetworkingConfig.EndpointsConfig", "--network")),
        };
        for (network, settings) in endpoints {
            let path = format!("NetworkingConfig.EndpointsConfig.{network}");
            if network != own_network {
                return Err(FieldError::Unsupported {
                    field: path,
                    option: Some("--network"),
                });
            }
            match settings {
                serde_json::Value::Null => {}
                serde_json::Value::Object(members) => {
                    check_section(Section::EndpointSettings, &path, members)?;
                    match members.get("IPAMConfig") {
                        None | Some(serde_json::Value::Null) => {}
                        Some(serde_json::Value::Object(ipam)) => check_section(
                            Section::EndpointIpamConfig,
                            &format!("{path}.IPAMConfig"),
                            ipam,
                        )?,
                        Some(_) => {
                            return Err(FieldError::Unknown {
                                field: format!("{path}.IPAMConfig"),
                            });
                        }
                    }
                }
                _ => return Err(FieldError::Unknown { field: path }),
            }
        }
        Ok(())
    }
}

/// `POST /containers/create` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateResponse {
    /// The new container's id.
    pub id: String,
    /// Warnings about the configuration.
    pub warnings: Vec<String>,
}
