//! A new network's subnet planned through the network-policy plugin
//! (issue 12: "Subnet selection for new networks ... decided by the
//! `network-policy` plugin ... The host validates each plan").
//!
//! When `network create` gives no `--subnet` of a family the network has
//! (IPv4 always; IPv6 with `--ipv6`), and when the default `bridge` network
//! is first made without `--bip`, the engine asks the policy's
//! `plan-subnet` (WIT 1.3) with the subnets of its networks and the host's
//! routes, and checks the answer ([`check_subnet_plan`]) before anything
//! is stored or made: a refusal, a failed call or an invalid plan fails the
//! create naming the plugin, and there is no fallback to the engine's own
//! choice then. Only when no policy serves, or the serving one predates
//! 1.3 (no `plan-subnet`), does the engine choose itself, as before: moby's
//! default IPv4 pools, and for IPv6 the daemon's ULA /48 in /64s (moby 27's
//! `deriveULABaseNetwork`), both walked by `berth_ipam`.

use std::net::IpAddr;
use std::sync::Arc;

use berth_model::net_policy::{Family, SubnetPlan, SubnetRequest};
use berth_model::network::{IpNet, Subnet, parse_cidr, parse_ip};

use super::blocking::BlockingKind;
use super::networks::pool_error;
use super::{Daemon, ipam};
use crate::job::JobError;

impl Daemon {
    /// The subnet of `family` new network `network` gets when the user gave
    /// none: the serving policy's, checked against `in_use` (the subnets of
    /// the daemon's networks, both families), else the engine's own choice.
    pub(super) async fn choose_new_subnet(
        &self,
        network: &str,
        family: Family,
        in_use: &[IpNet],
    ) -> Result<Subnet, JobError> {
        let driver = Arc::clone(&self.network);
        let routes = self
            .blocking(BlockingKind::Network, move || driver.host_routes())
            .await?;
        if let Some(policy) = self.net_policy.get() {
            let policy = Arc::clone(policy);
            let request = SubnetRequest {
                network: network.to_owned(),
                family,
                subnets_in_use: in_use.iter().map(ToString::to_string).collect(),
                host_routes: routes.iter().map(ToString::to_string).collect(),
            };
            let sent = request.clone();
            let answer = self
                .blocking(BlockingKind::Network, move || policy.plan_subnet(&sent))
                .await?;
            if let Some(answer) = answer {
                let plan = answer.decision.map_err(|why| {
                    JobError::invalid(format!(
                        "network policy {:?} refused network {network}: {why}",
                        answer.plugin
                    ))
                })?;
                return check_subnet_plan(&answer.plugin, &request, in_use, &plan);
            }
        }
        let cidr = match family {
            Family::Ipv4 => ipam::choose_subnet(in_use, &routes),
            // The daemon's ULA /48, as moby 27 and later.
            Family::Ipv6 => ipam::choose_subnet_v6(self.config.default_ipv6_pool, in_use, &routes),
        }
        .map_err(pool_error)?;
        Subnet::new(cidr, None).map_err(|e| JobError::invalid(e.to_string()))
    }
}

/// Checks the subnet `plugin` planned for `request`: a CIDR of the asked
/// family with its host bits zero, room for a gateway and a container,
/// overlapping no subnet in `in_use` (moby's `ErrPoolOverlap`), and a
/// gateway that is one of its host addresses.
pub fn check_subnet_plan(
    plugin: &str,
    request: &SubnetRequest,
    in_use: &[IpNet],
    plan: &SubnetPlan,
) -> Result<Subnet, JobError> {
    let refuse = |why: String| {
        JobError::invalid(format!(
            "network policy {plugin:?} gave an invalid {} subnet for network {}: {why}",
            request.family, request.network
        ))
    };
    let cidr =
        parse_cidr(&plan.subnet).map_err(|_| refuse(format!("{:?} is not a CIDR", plan.subnet)))?;
    let family = Family::of(cidr.network());
    if family != request.family {
        return Err(refuse(format!("{cidr} is an {family} subnet")));
    }
    ipam::check_subnet(&cidr, in_use)
        .map_err(|e| refuse(format!("{cidr}: invalid pool request: {e}")))?;
    let gateway: Option<IpAddr> = plan
        .gateway
        .as_deref()
        .map(|g| parse_ip(g).map_err(|_| refuse(format!("gateway {g:?} is not an IP address"))))
        .transpose()?;
    // `Subnet::new` says why a prefix or a gateway cannot be used (host
    // bits set, too small for a gateway and a container, a gateway that is
    // not a host address of it).
    Subnet::new(cidr, gateway).map_err(|e| refuse(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(family: Family) -> SubnetRequest {
        SubnetRequest {
            network: "n".into(),
            family,
            subnets_in_use: vec!["172.17.0.0/16".into()],
            host_routes: Vec::new(),
        }
    }

    fn check(family: Family, subnet: &str, gateway: Option<&str>) -> Result<Subnet, String> {
        let in_use = [parse_cidr("172.17.0.0/16").unwrap()];
        let plan = SubnetPlan {
            subnet: subnet.into(),
            gateway: gateway.map(str::to_owned),
        };
        check_subnet_plan("pool 1.0.0", &request(family), &in_use, &plan).map_err(|e| e.message)
    }

    #[test]
    fn a_good_plan_is_the_networks_subnet() {
        let got = check(Family::Ipv4, "10.20.0.0/24", None).unwrap();
        assert_eq!(got.cidr().to_string(), "10.20.0.0/24");
        assert_eq!(got.gateway().to_string(), "10.20.0.1");
        let got = check(Family::Ipv6, "fd00:20::/64", Some("fd00:20::fe")).unwrap();
        assert_eq!(got.gateway().to_string(), "fd00:20::fe");
    }

    #[test]
    fn bad_plans_are_refused_naming_the_plugin_and_why() {
        let v4 = r#"network policy "pool 1.0.0" gave an invalid IPv4 subnet for network n: "#;
        for (subnet, gateway, why) in [
            ("10.20.0.0", None, r#""10.20.0.0" is not a CIDR"#),
            ("fd00::/64", None, "fd00::/64 is an IPv6 subnet"),
            (
                "172.17.3.0/24",
                None,
                "172.17.3.0/24: invalid pool request: Pool overlaps with other one on this address space",
            ),
            (
                "172.0.0.0/8",
                None,
                "172.0.0.0/8: invalid pool request: Pool overlaps with other one on this address space",
            ),
            ("10.20.0.0/24", Some("10.21.0.1"), ""),
            (
                "10.20.0.0/24",
                Some("gw"),
                r#"gateway "gw" is not an IP address"#,
            ),
            ("10.20.0.0/31", None, ""),
            ("10.20.0.1/24", None, ""),
        ] {
            let err = check(Family::Ipv4, subnet, gateway).unwrap_err();
            assert!(err.starts_with(v4), "{subnet}: {err}");
            assert!(err.ends_with(why), "{subnet}: {err}");
            assert!(err.len() > v4.len(), "{subnet}: {err}");
        }
        let err = check(Family::Ipv6, "10.20.0.0/24", None).unwrap_err();
        assert_eq!(
            err,
            r#"network policy "pool 1.0.0" gave an invalid IPv6 subnet for network n: 10.20.0.0/24 is an IPv4 subnet"#
        );
    }
}
