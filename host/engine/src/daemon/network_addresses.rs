//! `docker run --network NET --ip A --ip6 B`: the addresses a create
//! request asks for on the container's user-defined network
//! (`NetworkingConfig.EndpointsConfig.NET.IPAMConfig`, moby
//! `daemon/create.go` `verifyNetworkingConfig` and
//! `daemon/container_operations.go` `validateNetworkingConfig`).
//!
//! Parsed with the spec ([`requested_addresses`]) and checked against the
//! network once it is known ([`Daemon::check_requested_addresses`]), with
//! the rules `docker network connect --ip` follows ([`check_wish`]), so a
//! request berth would have to refuse at its start is refused at create.
//! Whether the address is free is decided at each start, under the
//! network lock, as moby's IPAM does: two created containers may ask for
//! the same address, only one of them runs.

use std::net::IpAddr;

use berth_api::container::EndpointIpamConfig;
use berth_model::container::ContainerModel;
use berth_model::network::NetworkMode;

use super::Daemon;
use super::connect::{IP_ON_DEFAULT_NETWORK, check_wish, parse_address};
use super::endpoints::EndpointWish;
use crate::job::JobError;

/// The `--ip` and `--ip6` of a create request (`networking`: its
/// `NetworkingConfig`, whose only entry `CreateRequest::check_fields` let
/// through is the container's own network). Refused off a user-defined
/// network, as moby does (`ErrUnsupportedNetworkAndIP`).
pub(super) fn requested_addresses(
    networking: Option<&serde_json::Value>,
    network_mode: &str,
) -> Result<(Option<IpAddr>, Option<IpAddr>), JobError> {
    let Some(endpoints) = networking
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(serde_json::Value::as_object)
    else {
        return Ok((None, None));
    };
    let (mut ipv4, mut ipv6) = (None, None);
    for (network, settings) in endpoints {
        let ipam = match settings.get("IPAMConfig") {
            None | Some(serde_json::Value::Null) => continue,
            Some(ipam) => ipam,
        };
        let ipam: EndpointIpamConfig = serde_json::from_value(ipam.clone()).map_err(|e| {
            JobError::invalid(format!(
                "NetworkingConfig.EndpointsConfig.{network}.IPAMConfig: {e}"
            ))
        })?;
        // The link-local ones are refused by the field table.
        ipv4 = parse_address(&ipam.ipv4_address, true)?;
        ipv6 = parse_address(&ipam.ipv6_address, false)?;
    }
    if ipv4.is_none() && ipv6.is_none() {
        return Ok((None, None));
    }
    let mode = NetworkMode::parse(network_mode).map_err(|e| JobError::invalid(e.to_string()))?;
    match mode {
        NetworkMode::Network(_) => Ok((ipv4, ipv6)),
        _ => Err(JobError::invalid(IP_ON_DEFAULT_NETWORK)),
    }
}

impl Daemon {
    /// The addresses `model` asks for, checked against its network: one
    /// with a subnet the user gave, the address inside it.
    pub(super) async fn check_requested_addresses(
        &self,
        model: &ContainerModel,
    ) -> Result<(), JobError> {
        let wish = EndpointWish {
            ipv4: model.ipv4_address,
            ipv6: model.ipv6_address,
            aliases: Vec::new(),
        };
        let NetworkMode::Network(name) = &model.network else {
            return Ok(());
        };
        if wish.ipv4.is_none() && wish.ipv6.is_none() {
            return Ok(());
        }
        let network = self.find_network(name).await?;
        check_wish(&network, &wish)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn networking(ipam: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"EndpointsConfig": {"n": {"IPAMConfig": ipam, "Aliases": null}}})
    }

    #[test]
    fn the_addresses_parse_in_their_family() {
        let asked =
            networking(serde_json::json!({"IPv4Address": "10.9.0.5", "IPv6Address": "fd00::5"}));
        assert_eq!(
            requested_addresses(Some(&asked), "n").expect("parsed"),
            (
                Some("10.9.0.5".parse().unwrap()),
                Some("fd00::5".parse().unwrap())
            )
        );
        let none = networking(serde_json::json!({"IPv4Address": "", "IPv6Address": ""}));
        assert_eq!(
            requested_addresses(Some(&none), "bridge").expect("nothing asked"),
            (None, None)
        );
        assert_eq!(
            requested_addresses(None, "n").expect("no config"),
            (None, None)
        );
        let swapped = networking(serde_json::json!({"IPv4Address": "fd00::5"}));
        assert_eq!(
            requested_addresses(Some(&swapped), "n")
                .unwrap_err()
                .message,
            "invalid IPv4 address: fd00::5"
        );
        let number = networking(serde_json::json!({"IPv4Address": 5}));
        assert!(
            requested_addresses(Some(&number), "n")
                .unwrap_err()
                .message
                .starts_with("NetworkingConfig.EndpointsConfig.n.IPAMConfig: invalid type")
        );
    }

    #[test]
    fn an_address_off_a_user_defined_network_is_refused_as_moby() {
        let asked = networking(serde_json::json!({"IPv4Address": "10.9.0.5"}));
        for mode in ["", "default", "bridge", "host", "none", "container:web"] {
            assert_eq!(
                requested_addresses(Some(&asked), mode).unwrap_err().message,
                IP_ON_DEFAULT_NETWORK,
                "{mode}"
            );
        }
    }
}
