//! The bodies of `POST /networks/{id}/connect` and `/disconnect` (moby
//! `api/types/network/network.go` `ConnectOptions`, `DisconnectOptions`).

use serde::{Deserialize, Serialize};

use crate::container::EndpointSettings;

/// `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    /// The container, by id or name.
    pub container: String,
    /// What it asks of the network: `IPAMConfig` (`--ip`, `--ip6`),
    /// `Aliases` (`--alias`); the others are checked by the engine.
    pub endpoint_config: Option<EndpointSettings>,
}

/// `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    /// The container, by id or name.
    pub container: String,
    /// `-f`: take a stopped container off a network that is gone too.
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_cli_bodies_read_back() {
        let connect: NetworkConnectRequest = serde_json::from_str(
            r#"{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.9.0.5"},"Aliases":["a"],"Links":null}}"#,
        )
        .expect("connect body");
        assert_eq!(connect.container, "web");
        let endpoint = connect.endpoint_config.expect("endpoint config");
        assert_eq!(endpoint.aliases, Some(vec!["a".to_owned()]));
        assert_eq!(endpoint.ipam_config.expect("ipam").ipv4_address, "10.9.0.5");
        let connect: NetworkConnectRequest =
            serde_json::from_str(r#"{"Container":"web","EndpointConfig":{"GwPriority":10}}"#)
                .expect("connect body with a gateway priority");
        let endpoint = connect.endpoint_config.expect("endpoint config");
        assert_eq!(endpoint.gw_priority, 10);
        // Not written back: a 1.43 client never sees the field.
        let json = serde_json::to_value(EndpointSettings::default()).expect("serialise");
        assert!(json.get("GwPriority").is_none(), "{json}");
        let disconnect: NetworkDisconnectRequest =
            serde_json::from_str(r#"{"Container":"web","Force":true}"#).expect("disconnect body");
        assert!(disconnect.force);
    }
}
