//! A recording fake of the embedded DNS server: every call in order, and
//! the names it would answer, per network.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::driver::{EndpointModel, NameService, NetworkModel, NetworkState};
use crate::job::JobError;

/// One call into the name service, by network *name* and container id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NameCall {
    /// network, container, names.
    Publish(String, String, Vec<String>),
    /// network, container.
    Withdraw(String, String),
    RemoveNetwork(String),
    /// networks served, containers with names.
    Reconcile(Vec<String>, Vec<String>),
}

/// The recording fake.
#[derive(Debug, Default)]
pub(crate) struct FakeNames {
    pub calls: Mutex<Vec<NameCall>>,
    /// network name → container id → names, as the server would answer.
    pub served: Mutex<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

impl FakeNames {
    pub(crate) fn calls(&self) -> Vec<NameCall> {
        self.calls.lock().unwrap().clone()
    }
}

impl NameService for FakeNames {
    fn publish(&self, network: &NetworkModel, endpoint: &EndpointModel) -> Result<(), JobError> {
        self.calls.lock().unwrap().push(NameCall::Publish(
            network.name.clone(),
            endpoint.container_id.clone(),
            endpoint.aliases.clone(),
        ));
        self.served
            .lock()
            .unwrap()
            .entry(network.name.clone())
            .or_default()
            .insert(endpoint.container_id.clone(), endpoint.aliases.clone());
        Ok(())
    }

    fn withdraw(&self, network: &NetworkModel, container_id: &str) -> Result<(), JobError> {
        self.calls.lock().unwrap().push(NameCall::Withdraw(
            network.name.clone(),
            container_id.to_owned(),
        ));
        if let Some(zone) = self.served.lock().unwrap().get_mut(&network.name) {
            zone.remove(container_id);
        }
        Ok(())
    }

    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(NameCall::RemoveNetwork(network.name.clone()));
        self.served.lock().unwrap().remove(&network.name);
        Ok(())
    }

    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError> {
        let networks: Vec<String> = state.networks.iter().map(|n| n.name.clone()).collect();
        let mut containers: Vec<String> = Vec::new();
        let mut served: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for network in &state.networks {
            served.entry(network.name.clone()).or_default();
        }
        for endpoint in state.sandboxes.iter().flat_map(|s| s.endpoints.iter()) {
            if let Some(network) = state.networks.iter().find(|n| n.id == endpoint.network_id) {
                containers.push(endpoint.container_id.clone());
                served
                    .entry(network.name.clone())
                    .or_default()
                    .insert(endpoint.container_id.clone(), endpoint.aliases.clone());
            }
        }
        self.calls
            .lock()
            .unwrap()
            .push(NameCall::Reconcile(networks, containers));
        *self.served.lock().unwrap() = served;
        Ok(())
    }
}
