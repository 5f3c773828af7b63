//! `berth network connect|disconnect`, with docker's flags.

use berth_api::container::{EndpointIpamConfig, EndpointSettings};
use berth_api::network_connect::{NetworkConnectRequest, NetworkDisconnectRequest};

use crate::http::{Client, segment};

use super::Result;

/// What `berth network connect` was given.
#[derive(Debug, Default)]
pub struct NetworkConnectFlags {
    /// `--ip`.
    pub ip: Option<String>,
    /// `--ip6`.
    pub ip6: Option<String>,
    /// `--alias`.
    pub alias: Vec<String>,
}

/// The request body for `flags`: `EndpointConfig` only when a flag asks
/// for something, as the docker CLI.
fn connect_request(container: &str, flags: &NetworkConnectFlags) -> NetworkConnectRequest {
    let ipam_config = (flags.ip.is_some() || flags.ip6.is_some()).then(|| EndpointIpamConfig {
        ipv4_address: flags.ip.clone().unwrap_or_default(),
        ipv6_address: flags.ip6.clone().unwrap_or_default(),
        ..EndpointIpamConfig::default()
    });
    let aliases = (!flags.alias.is_empty()).then(|| flags.alias.clone());
    let asked = ipam_config.is_some() || aliases.is_some();
    NetworkConnectRequest {
        container: container.to_owned(),
        endpoint_config: asked.then(|| EndpointSettings {
            ipam_config,
            aliases,
            ..EndpointSettings::default()
        }),
    }
}

/// `berth network connect NETWORK CONTAINER`: prints nothing, as docker.
pub async fn network_connect(
    client: &Client,
    network: &str,
    container: &str,
    flags: &NetworkConnectFlags,
) -> Result<i32> {
    let path = format!("/networks/{}/connect", segment(network));
    client
        .post_json::<serde_json::Value>(&path, &connect_request(container, flags))
        .await?;
    Ok(0)
}

/// `berth network disconnect [-f] NETWORK CONTAINER`.
pub async fn network_disconnect(
    client: &Client,
    network: &str,
    container: &str,
    force: bool,
) -> Result<i32> {
    let path = format!("/networks/{}/disconnect", segment(network));
    let body = NetworkDisconnectRequest {
        container: container.to_owned(),
        force,
    };
    client.post_json::<serde_json::Value>(&path, &body).await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_the_endpoint_config_only_when_given() {
        let plain = connect_request("web", &NetworkConnectFlags::default());
        assert_eq!(plain.endpoint_config, None);
        let flags = NetworkConnectFlags {
            ip: Some("10.9.0.5".into()),
            ip6: None,
            alias: vec!["db".into()],
        };
        let asked = connect_request("web", &flags)
            .endpoint_config
            .expect("endpoint config");
        assert_eq!(asked.aliases, Some(vec!["db".to_owned()]));
        let ipam = asked.ipam_config.expect("ipam");
        assert_eq!(
            (ipam.ipv4_address.as_str(), ipam.ipv6_address.as_str()),
            ("10.9.0.5", "")
        );
    }
}
