//! The engine's network-policy seam ([`NetworkPolicy`]) over the plugin
//! host: the engine's plain questions and answers
//! (`berth_model::net_policy`) to and from the WIT records of
//! `plan-subnet` and `plan-network` (1.3, the newest; the plugin host
//! converts for plugins built for older WIT). The built-in
//! `network-policy-default` answers unless a network-policy plugin of the
//! plugin directory replaces it (issue 12).

use berth_engine::driver::{NetworkPolicy, PolicyAnswer, SubnetAnswer};
use berth_engine::{ErrorKind, JobError};
use berth_model::net_policy::{
    Family, FamilyRequest, Plan, PlanRequest, PlannedPort, SubnetPlan, SubnetRequest,
};
use berth_plugin_host::network_types as wit;
use berth_plugin_host::{CallFailure, NetworkAnswer, PluginError, PluginHost};

/// Asks the plugin host's serving network policy.
#[derive(Debug, Clone)]
pub struct NetworkPolicyAdapter {
    plugins: PluginHost,
}

impl NetworkPolicyAdapter {
    /// The policy `plugins` serves.
    pub fn new(plugins: PluginHost) -> Self {
        NetworkPolicyAdapter { plugins }
    }
}

fn to_wit(port: &PlannedPort) -> wit::PortMapping {
    wit::PortMapping {
        protocol: port.protocol.clone(),
        container_port: port.container_port,
        host_ip: port.host_ip.clone(),
        host_port: port.host_port,
    }
}

fn from_wit(port: wit::PortMapping) -> PlannedPort {
    PlannedPort {
        protocol: port.protocol,
        container_port: port.container_port,
        host_ip: port.host_ip,
        host_port: port.host_port,
    }
}

fn family_to_wit(side: &FamilyRequest) -> wit::FamilyRequest {
    wit::FamilyRequest {
        subnet: side.subnet.clone(),
        gateway: side.gateway.clone(),
        used_addresses: side.used_addresses.clone(),
        requested_address: side.requested_address.clone(),
    }
}

fn request_to_wit(request: &PlanRequest) -> wit::NetworkRequest {
    wit::NetworkRequest {
        container_id: request.container_id.clone(),
        network: request.network.clone(),
        ipv4: request.ipv4.as_ref().map(family_to_wit),
        ipv6: request.ipv6.as_ref().map(family_to_wit),
        ports: request.ports.iter().map(to_wit).collect(),
    }
}

fn plan_from_wit(plan: wit::NetworkPlan) -> Plan {
    Plan {
        ipv4_address: plan.ipv4_address,
        ipv6_address: plan.ipv6_address,
        dns_servers: plan.dns_servers,
        ports: plan.ports.into_iter().map(from_wit).collect(),
    }
}

fn subnet_request_to_wit(request: &SubnetRequest) -> wit::SubnetRequest {
    wit::SubnetRequest {
        network: request.network.clone(),
        family: match request.family {
            Family::Ipv4 => wit::IpFamily::Ipv4,
            Family::Ipv6 => wit::IpFamily::Ipv6,
        },
        subnets_in_use: request.subnets_in_use.clone(),
        host_routes: request.host_routes.clone(),
    }
}

/// The plugin's answer as the engine takes it: its refusal in its own
/// words, any other failure (trap, timeout, memory, a resting plugin) an
/// error that names it (the plugin host's message does).
fn decision<T, U>(
    plugin: &str,
    result: Result<T, PluginError>,
    up: impl FnOnce(T) -> U,
) -> Result<Result<U, String>, JobError> {
    match result {
        Ok(plan) => Ok(Ok(up(plan))),
        Err(PluginError::Call {
            kind: CallFailure::Returned,
            reason,
            ..
        }) => Ok(Err(reason)),
        Err(e) => {
            tracing::warn!(plugin, error = %e, "the network policy failed");
            Err(JobError::new(
                ErrorKind::Internal,
                format!("network policy failed: {e}"),
            ))
        }
    }
}

fn answer(answer: NetworkAnswer) -> Result<PolicyAnswer, JobError> {
    Ok(PolicyAnswer {
        decision: decision(&answer.plugin, answer.result, plan_from_wit)?,
        every_family: answer.every_family,
        plugin: answer.plugin,
    })
}

impl NetworkPolicy for NetworkPolicyAdapter {
    fn plan_network(&self, request: &PlanRequest) -> Result<Option<PolicyAnswer>, JobError> {
        self.plugins
            .plan_network_by(&request_to_wit(request))
            .map(answer)
            .transpose()
    }

    fn plan_subnet(&self, request: &SubnetRequest) -> Result<Option<SubnetAnswer>, JobError> {
        self.plugins
            .plan_subnet_by(&subnet_request_to_wit(request))
            .map(|(plugin, result)| {
                let decision = decision(&plugin, result, |plan: wit::SubnetPlan| SubnetPlan {
                    subnet: plan.subnet,
                    gateway: plan.gateway,
                })?;
                Ok(SubnetAnswer { plugin, decision })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_the_plugins_words_and_a_failure_names_it() {
        let plan = wit::NetworkPlan {
            ipv4_address: Some("10.0.0.2".into()),
            ipv6_address: None,
            dns_servers: vec![],
            ports: vec![wit::PortMapping {
                protocol: "tcp".into(),
                container_port: 80,
                host_ip: String::new(),
                host_port: 8080,
            }],
        };
        let of = |result| NetworkAnswer {
            plugin: "p 1.0.0".into(),
            every_family: true,
            result,
        };
        let ok = answer(of(Ok(plan))).unwrap();
        assert_eq!((ok.plugin.as_str(), ok.every_family), ("p 1.0.0", true));
        let ok = ok.decision.unwrap();
        assert_eq!(
            (ok.ipv4_address.as_deref(), ok.ports[0].host_port),
            (Some("10.0.0.2"), 8080)
        );
        let call = |kind, reason: &str| PluginError::Call {
            plugin: "p".into(),
            version: "1.0.0".into(),
            call: "plan-network".into(),
            kind,
            reason: reason.into(),
        };
        let refused = answer(of(Err(call(
            CallFailure::Returned,
            "port 80 is below 1024",
        ))))
        .unwrap();
        assert_eq!(refused.decision, Err("port 80 is below 1024".into()));
        let trapped = answer(of(Err(call(CallFailure::Trap, "wasm trap")))).unwrap_err();
        assert_eq!(trapped.kind, ErrorKind::Internal);
        assert_eq!(
            trapped.message,
            "network policy failed: plugin p 1.0.0: plan-network failed: wasm trap"
        );
    }
}
