//! A recording fake of the network driver: every call is recorded in
//! order, the "kernel" it would change is kept as sets (sandboxes,
//! bridges, endpoints), and a test can make any one kind of call fail, so
//! that the engine's undo paths are checked against what is left.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use crate::driver::{
    EndpointModel, IpNet, NetworkModel, NetworkService, NetworkState, SandboxModel,
};
use crate::job::{ErrorKind, JobError};

/// One call into the driver, as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetCall {
    CreateSandbox(String),
    RemoveSandbox(String),
    CreateNetwork(String),
    RemoveNetwork(String),
    /// container id, network name, container interface.
    Connect(String, String, String),
    /// container id, network name.
    Disconnect(String, String),
    Reconcile {
        networks: Vec<String>,
        sandboxes: Vec<String>,
    },
    HostRoutes,
}

/// Which kind of call fails (with [`ErrorKind::Internal`], as a kernel
/// refusal would).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailOn {
    CreateSandbox,
    CreateNetwork,
    Connect,
}

/// What the fake kernel holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FakeKernel {
    /// Container ids with a namespace.
    pub sandboxes: BTreeSet<String>,
    /// Bridge names.
    pub bridges: BTreeSet<String>,
    /// (container id, network id) → the endpoint applied.
    pub endpoints: BTreeMap<(String, String), EndpointModel>,
}

/// The recording fake.
#[derive(Debug, Default)]
pub(crate) struct FakeNetwork {
    pub calls: Mutex<Vec<NetCall>>,
    pub kernel: Mutex<FakeKernel>,
    pub fail_on: Mutex<Option<FailOn>>,
    /// What [`NetworkService::host_routes`] answers.
    pub routes: Mutex<Vec<IpNet>>,
    /// Where sandboxes are "mounted".
    pub netns_dir: PathBuf,
    /// While true, [`NetworkService::disconnect`] waits (on its blocking
    /// thread) before it does anything, as a veth's deletion waits out
    /// the kernel's RCU grace period: what must not wait for a teardown,
    /// and what must, can then be told apart without timing.
    held: (Mutex<bool>, Condvar),
}

impl FakeNetwork {
    pub(crate) fn new(netns_dir: PathBuf) -> FakeNetwork {
        FakeNetwork {
            netns_dir,
            ..FakeNetwork::default()
        }
    }

    pub(crate) fn calls(&self) -> Vec<NetCall> {
        self.calls.lock().unwrap().clone()
    }

    pub(crate) fn kernel(&self) -> FakeKernel {
        self.kernel.lock().unwrap().clone()
    }

    pub(crate) fn fail_on(&self, kind: Option<FailOn>) {
        *self.fail_on.lock().unwrap() = kind;
    }

    /// Holds (`true`) or lets go (`false`) every disconnect.
    pub(crate) fn hold_disconnects(&self, held: bool) {
        let (lock, changed) = &self.held;
        *lock.lock().unwrap() = held;
        changed.notify_all();
    }

    fn wait_while_held(&self) {
        let (lock, changed) = &self.held;
        let _released = changed
            .wait_while(lock.lock().unwrap(), |held| *held)
            .unwrap();
    }

    fn record(&self, call: NetCall) {
        self.calls.lock().unwrap().push(call);
    }

    fn check(&self, kind: FailOn) -> Result<(), JobError> {
        if *self.fail_on.lock().unwrap() == Some(kind) {
            return Err(JobError::new(
                ErrorKind::Internal,
                format!("fake network driver: {kind:?} refused"),
            ));
        }
        Ok(())
    }
}

impl NetworkService for FakeNetwork {
    fn create_sandbox(&self, container_id: &str) -> Result<SandboxModel, JobError> {
        self.record(NetCall::CreateSandbox(container_id.to_owned()));
        self.check(FailOn::CreateSandbox)?;
        self.kernel
            .lock()
            .unwrap()
            .sandboxes
            .insert(container_id.to_owned());
        Ok(SandboxModel {
            container_id: container_id.to_owned(),
            netns_path: self.netns_dir.join(container_id),
        })
    }

    fn remove_sandbox(&self, sandbox: &SandboxModel) -> Result<(), JobError> {
        self.record(NetCall::RemoveSandbox(sandbox.container_id.clone()));
        let mut kernel = self.kernel.lock().unwrap();
        kernel.sandboxes.remove(&sandbox.container_id);
        // The namespace's end of every veth pair goes with it, and so the
        // pair.
        kernel
            .endpoints
            .retain(|(container, _), _| *container != sandbox.container_id);
        Ok(())
    }

    fn create_network(&self, network: &NetworkModel) -> Result<(), JobError> {
        self.record(NetCall::CreateNetwork(network.name.clone()));
        self.check(FailOn::CreateNetwork)?;
        self.kernel
            .lock()
            .unwrap()
            .bridges
            .insert(network.bridge.as_str().to_owned());
        Ok(())
    }

    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError> {
        self.record(NetCall::RemoveNetwork(network.name.clone()));
        self.kernel
            .lock()
            .unwrap()
            .bridges
            .remove(network.bridge.as_str());
        Ok(())
    }

    fn connect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        self.record(NetCall::Connect(
            sandbox.container_id.clone(),
            network.name.clone(),
            endpoint.ifname_container.as_str().to_owned(),
        ));
        self.check(FailOn::Connect)?;
        let mut kernel = self.kernel.lock().unwrap();
        if !kernel.sandboxes.contains(&sandbox.container_id) {
            return Err(JobError::new(ErrorKind::Internal, "fake: no such sandbox"));
        }
        if !kernel.bridges.contains(network.bridge.as_str()) {
            return Err(JobError::new(ErrorKind::Internal, "fake: no such bridge"));
        }
        kernel.endpoints.insert(
            (sandbox.container_id.clone(), network.id.clone()),
            endpoint.clone(),
        );
        Ok(())
    }

    fn disconnect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        _endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        self.wait_while_held();
        self.record(NetCall::Disconnect(
            sandbox.container_id.clone(),
            network.name.clone(),
        ));
        self.kernel
            .lock()
            .unwrap()
            .endpoints
            .remove(&(sandbox.container_id.clone(), network.id.clone()));
        Ok(())
    }

    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError> {
        self.record(NetCall::Reconcile {
            networks: state.networks.iter().map(|n| n.name.clone()).collect(),
            sandboxes: state
                .sandboxes
                .iter()
                .map(|s| s.sandbox.container_id.clone())
                .collect(),
        });
        let mut kernel = self.kernel.lock().unwrap();
        *kernel = FakeKernel::default();
        for network in &state.networks {
            kernel.bridges.insert(network.bridge.as_str().to_owned());
        }
        for sandbox in &state.sandboxes {
            kernel
                .sandboxes
                .insert(sandbox.sandbox.container_id.clone());
            for endpoint in &sandbox.endpoints {
                kernel.endpoints.insert(
                    (endpoint.container_id.clone(), endpoint.network_id.clone()),
                    endpoint.clone(),
                );
            }
        }
        Ok(())
    }

    fn host_routes(&self) -> Result<Vec<IpNet>, JobError> {
        self.record(NetCall::HostRoutes);
        Ok(self.routes.lock().unwrap().clone())
    }
}
