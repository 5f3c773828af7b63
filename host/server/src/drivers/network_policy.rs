//! The engine's network-policy seam ([`NetworkPolicy`]) over the plugin
//! host: the engine's plain question and answer
//! (`berth_model::net_policy`) to and from the WIT records of
//! `plan-network`. The built-in `network-policy-default` answers unless a
//! network-policy plugin of the plugin directory replaces it (issue 12).

use berth_engine::driver::{NetworkPolicy, PolicyAnswer};
use berth_engine::{ErrorKind, JobError};
use berth_model::net_policy::{Plan, PlanRequest, PlannedPort};
use berth_plugin_host::network_types::{NetworkPlan, NetworkRequest, PortMapping};
use berth_plugin_host::{CallFailure, PluginError, PluginHost};

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

fn to_wit(port: &PlannedPort) -> PortMapping {
    PortMapping {
        protocol: port.protocol.clone(),
        container_port: port.container_port,
        host_ip: port.host_ip.clone(),
        host_port: port.host_port,
    }
}

fn from_wit(port: PortMapping) -> PlannedPort {
    PlannedPort {
        protocol: port.protocol,
        container_port: port.container_port,
        host_ip: port.host_ip,
        host_port: port.host_port,
    }
}

fn request_to_wit(request: &PlanRequest) -> NetworkRequest {
    NetworkRequest {
        container_id: request.container_id.clone(),
        network: request.network.clone(),
        subnet: request.subnet.clone(),
        gateway: request.gateway.clone(),
        used_addresses: request.used_addresses.clone(),
        requested_address: request.requested_address.clone(),
        ports: request.ports.iter().map(to_wit).collect(),
    }
}

fn plan_from_wit(plan: NetworkPlan) -> Plan {
    Plan {
        address: plan.address,
        dns_servers: plan.dns_servers,
        ports: plan.ports.into_iter().map(from_wit).collect(),
    }
}

/// The plugin's answer as the engine takes it: its refusal in its own
/// words, any other failure (trap, timeout, memory, a resting plugin) an
/// error that names it (the plugin host's message does).
fn answer(
    plugin: String,
    result: Result<NetworkPlan, PluginError>,
) -> Result<PolicyAnswer, JobError> {
    let decision = match result {
        Ok(plan) => Ok(plan_from_wit(plan)),
        Err(PluginError::Call {
            kind: CallFailure::Returned,
            reason,
            ..
        }) => Err(reason),
        Err(e) => {
            tracing::warn!(plugin, error = %e, "the network policy failed");
            return Err(JobError::new(
                ErrorKind::Internal,
                format!("network policy failed: {e}"),
            ));
        }
    };
    Ok(PolicyAnswer { plugin, decision })
}

impl NetworkPolicy for NetworkPolicyAdapter {
    fn plan_network(&self, request: &PlanRequest) -> Result<Option<PolicyAnswer>, JobError> {
        self.plugins
            .plan_network_by(&request_to_wit(request))
            .map(|(plugin, result)| answer(plugin, result))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_the_plugins_words_and_a_failure_names_it() {
        let plan = NetworkPlan {
            address: "10.0.0.2".into(),
            dns_servers: vec![],
            ports: vec![PortMapping {
                protocol: "tcp".into(),
                container_port: 80,
                host_ip: String::new(),
                host_port: 8080,
            }],
        };
        let ok = answer("p 1.0.0".into(), Ok(plan)).unwrap();
        assert_eq!(ok.plugin, "p 1.0.0");
        let ok = ok.decision.unwrap();
        assert_eq!(
            (ok.address.as_str(), ok.ports[0].host_port),
            ("10.0.0.2", 8080)
        );
        let call = |kind, reason: &str| PluginError::Call {
            plugin: "p".into(),
            version: "1.0.0".into(),
            call: "plan-network".into(),
            kind,
            reason: reason.into(),
        };
        let refused = answer(
            "p 1.0.0".into(),
            Err(call(CallFailure::Returned, "port 80 is below 1024")),
        )
        .unwrap();
        assert_eq!(refused.decision, Err("port 80 is below 1024".into()));
        let trapped =
            answer("p 1.0.0".into(), Err(call(CallFailure::Trap, "wasm trap"))).unwrap_err();
        assert_eq!(trapped.kind, ErrorKind::Internal);
        assert_eq!(
            trapped.message,
            "network policy failed: plugin p 1.0.0: plan-network failed: wasm trap"
        );
    }
}
