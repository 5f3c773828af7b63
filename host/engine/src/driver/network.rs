//! The network seams: the network driver, the embedded name server and
//! the network policy.

use super::{EndpointModel, IpNet, NetworkModel, NetworkState, SandboxModel};
use crate::job::JobError;

/// Applies the engine's networking decisions to the kernel (the network
/// driver: bridges, veth pairs, addresses, routes, nftables rules).
///
/// The engine decides everything — subnets, addresses, MACs, interface
/// names, host ports — validates it, and persists it before it calls here;
/// the driver only applies a plan it is given and never chooses. Every
/// call is idempotent (applying what is already there succeeds, removing
/// what is gone succeeds), so that the engine can retry and
/// [`NetworkService::reconcile`] can rebuild after a crash.
///
/// Blocking (netlink and nftables round trips, namespace switches on the
/// driver's own threads): the engine calls it through its bounded
/// blocking helper (`BlockingKind::Network`).
pub trait NetworkService: Send + Sync + 'static {
    /// Creates a container's network namespace, holding only `lo` (up),
    /// bind-mounted at `<exec-root>/netns/<container_id>`, and returns it.
    /// The runtime joins the namespace by that path, so the namespace
    /// exists before the container's process does (no create/start race).
    fn create_sandbox(&self, container_id: &str) -> Result<SandboxModel, JobError>;

    /// Removes a sandbox: its endpoints' host ends (whatever is left of
    /// them), its bind mount and the file. Idempotent.
    fn remove_sandbox(&self, sandbox: &SandboxModel) -> Result<(), JobError>;

    /// Makes the network's bridge exist with the gateways' addresses, up,
    /// and its firewall rules (masquerade unless internal, isolation from
    /// the other bridges). Idempotent: the engine calls it right before
    /// every connect too, so that `connect` need not.
    fn create_network(&self, network: &NetworkModel) -> Result<(), JobError>;

    /// Removes the bridge and its rules. Idempotent. The engine calls it
    /// only once no endpoint is left on the network.
    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError>;

    /// Connects a sandbox to a network: the veth pair (host end enslaved
    /// to the bridge, container end made in the sandbox as
    /// `endpoint.ifname_container` with its MAC), its addresses, the default route
    /// when the endpoint has a gateway, and the DNAT/hairpin rules of its
    /// published ports. A failed connect leaves nothing of the endpoint
    /// behind.
    fn connect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError>;

    /// Undoes [`NetworkService::connect`]: the port rules and the veth
    /// pair. Idempotent.
    fn disconnect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError>;

    /// At daemon start (also after `kill -9`): removes the bridges,
    /// sandboxes, veth pairs and rules of berth's that `state` does not
    /// list, and re-applies what it does list.
    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError>;

    /// The destinations of the host's routes (every table the daemon can
    /// read, berth's own bridges excluded), so that the engine picks a
    /// subnet for a new network that clashes with none (moby
    /// `netutils.FindAvailableNetwork`).
    fn host_routes(&self) -> Result<Vec<IpNet>, JobError>;
}

/// The network driver of a berthd that has none: every call that would
/// change the kernel is refused with [`ErrorKind::Unavailable`] and a
/// message naming why, so that `--network none|host|container:` (which
/// need no driver) and the store-only network verbs still work.
///
/// [`ErrorKind::Unavailable`]: crate::job::ErrorKind::Unavailable
#[derive(Debug, Clone)]
pub struct UnavailableNetwork {
    reason: String,
}

impl UnavailableNetwork {
    /// A driver refusing with `networking is not available: <reason>`.
    pub fn new(reason: impl Into<String>) -> UnavailableNetwork {
        UnavailableNetwork {
            reason: reason.into(),
        }
    }

    fn refuse(&self) -> JobError {
        JobError::new(
            crate::job::ErrorKind::Unavailable,
            format!("networking is not available: {}", self.reason),
        )
    }
}

impl NetworkService for UnavailableNetwork {
    fn create_sandbox(&self, _container_id: &str) -> Result<SandboxModel, JobError> {
        Err(self.refuse())
    }

    // Nothing was ever created: removing succeeds.
    fn remove_sandbox(&self, _sandbox: &SandboxModel) -> Result<(), JobError> {
        Ok(())
    }

    fn create_network(&self, _network: &NetworkModel) -> Result<(), JobError> {
        Err(self.refuse())
    }

    fn remove_network(&self, _network: &NetworkModel) -> Result<(), JobError> {
        Ok(())
    }

    fn connect(
        &self,
        _sandbox: &SandboxModel,
        _network: &NetworkModel,
        _endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        Err(self.refuse())
    }

    fn disconnect(
        &self,
        _sandbox: &SandboxModel,
        _network: &NetworkModel,
        _endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        Ok(())
    }

    // There is no kernel state of berth's to reconcile.
    fn reconcile(&self, _state: &NetworkState) -> Result<(), JobError> {
        Ok(())
    }

    // No route is known: subnets are chosen from the pools alone.
    fn host_routes(&self) -> Result<Vec<IpNet>, JobError> {
        Ok(Vec::new())
    }
}

/// The embedded DNS server of user-defined networks (Podman's
/// aardvark-dns, moby's libnetwork resolver): each served network's
/// containers reach it at their network's gateway, port 53, and it answers
/// the names published on *that* network (container name, short id,
/// aliases: [`EndpointModel::aliases`]) and forwards the rest to the host's
/// resolvers.
///
/// The engine calls it for user-defined networks only: containers on the
/// default `bridge` have no name resolution (as moby). The calls bind
/// sockets and update a table, both quick and non-blocking; the server's
/// own work runs on its own thread.
pub trait NameService: Send + Sync + 'static {
    /// Makes `endpoint`'s names resolve to its addresses on `network`,
    /// serving the network (listening on its gateways) if it was not yet.
    /// Idempotent: publishing again replaces the container's names there.
    fn publish(&self, network: &NetworkModel, endpoint: &EndpointModel) -> Result<(), JobError>;

    /// Forgets the names of `container_id` on `network`. Idempotent.
    fn withdraw(&self, network: &NetworkModel, container_id: &str) -> Result<(), JobError>;

    /// Stops serving `network`. Idempotent.
    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError>;

    /// At daemon start: serves exactly the networks of `state` with the
    /// names of its endpoints (the engine passes the user-defined networks
    /// and the running containers' endpoints on them).
    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError>;
}

/// The network-policy plugin (issue 12; WIT `berth:plugin/network`): it
/// decides a new network's subnet (`plan-subnet`, WIT 1.3), a container's
/// addresses on a network and its host ports (`plan-network`); the engine
/// checks every plan ([`crate::daemon::net_policy`],
/// [`crate::daemon::subnet_policy`]) before anything is created or
/// configured. berthd's adapter asks the plugin host, where a
/// `network-policy` plugin of the plugin directory replaces the built-in
/// `network-policy-default`.
pub trait NetworkPolicy: Send + Sync + 'static {
    /// Asks the serving policy to plan `request`: `Ok(None)` when no
    /// network-policy plugin serves (the engine then plans as the default
    /// does), the plugin's answer or refusal with its name, or an error
    /// naming the plugin when it failed (trapped, ran out of time, is
    /// resting). Blocking: a sync wasm call under an epoch deadline.
    fn plan_network(
        &self,
        request: &berth_model::net_policy::PlanRequest,
    ) -> Result<Option<PolicyAnswer>, JobError>;

    /// Asks the serving policy for a new network's subnet of one family:
    /// `Ok(None)` when no network-policy plugin serves or the serving one
    /// predates WIT 1.3 (it has no `plan-subnet`: the engine chooses from
    /// moby's default pools, as before), else as [`Self::plan_network`].
    fn plan_subnet(
        &self,
        request: &berth_model::net_policy::SubnetRequest,
    ) -> Result<Option<SubnetAnswer>, JobError>;
}

/// What a network policy answered to `plan-network`, and which plugin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAnswer {
    /// The plugin's name and version (`network-policy-default 1.2.0`).
    pub plugin: String,
    /// Whether the plugin plans every family of the network (built for
    /// WIT 1.3 or later): then its plan must give an address of each. A
    /// plugin built for an older WIT was asked for one family (IPv4, else
    /// IPv6) and the engine allocates the other, as before 1.3.
    pub every_family: bool,
    /// Its plan, unchecked, or its refusal in its own words.
    pub decision: Result<berth_model::net_policy::Plan, String>,
}

/// What a network policy answered to `plan-subnet`, and which plugin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetAnswer {
    /// The plugin's name and version.
    pub plugin: String,
    /// Its subnet, unchecked, or its refusal in its own words.
    pub decision: Result<berth_model::net_policy::SubnetPlan, String>,
}
