//! `/networks`: create, list, inspect and remove bridge networks (moby
//! `daemon/network.go`). A network is a [`NetworkModel`] in the store's
//! `networks` table; a subnet the user gives is checked against the ones
//! in use ([`ipam`]), one not given is the network policy's, checked
//! (`subnet_policy`). The predefined `host` and `none` networks
//! are listed as moby lists them and are never stored.
//!
//! The kernel side (the bridge) is the network driver's: a network is
//! stored first, then the driver is asked to create it. A berthd without
//! a driver ([`ErrorKind::Unavailable`]) keeps the network in the store
//! only (the bridge is made again before any connect, and at reconcile).

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::filters::Filters;
use berth_api::network::{
    Ipam, IpamConfig, NetworkCreateRequest, NetworkCreateResponse, NetworkResource,
};
use berth_model::net_policy::Family;
use berth_model::network::{InterfaceName, IpNet, NetworkModel, Subnet, parse_cidr, parse_ip};
use berth_store::Table;

use super::blocking::BlockingKind;
use super::{Daemon, ipam, names, now_rfc3339, store_error};
use crate::job::{ErrorKind, JobError};

/// The store's networks, by id.
pub const NETWORKS: Table<NetworkModel> = Table::new("networks");

/// moby's predefined networks: `bridge` (stored, the default network),
/// `host` and `none` (drivers `host` and `null`, never stored).
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// moby `daemon/network.go` `acceptedNetworkFilters`.
const LIST_FILTERS: [&str; 7] = ["dangling", "driver", "id", "label", "name", "scope", "type"];

/// The ids berth gives the `host` and `none` networks: fixed, so that they
/// do not change between restarts.
fn predefined_id(name: &str) -> String {
    use std::fmt::Write;
    // 64 hex digits derived from the name (not random: stable).
    let mut id = String::new();
    for byte in name.bytes().cycle().take(32) {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

fn not_found(reference: &str) -> JobError {
    JobError::not_found(format!("network {reference} not found"))
}

impl Daemon {
    async fn stored_networks(&self) -> Result<Vec<NetworkModel>, JobError> {
        let store = self.store.clone();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .list(NETWORKS)
                .map(|rows| rows.into_iter().map(|(_, n)| n).collect())
                .map_err(|e| store_error("list networks", e))
        })
        .await
    }

    /// The stored network `reference` names: a full id, a name, or a
    /// unique id prefix (moby `FindNetwork`'s order).
    pub(super) async fn find_network(&self, reference: &str) -> Result<NetworkModel, JobError> {
        let networks = self.stored_networks().await?;
        if let Some(n) = networks.iter().find(|n| n.id == reference) {
            return Ok(n.clone());
        }
        if let Some(n) = networks.iter().find(|n| n.name == reference) {
            return Ok(n.clone());
        }
        let prefixed: Vec<&NetworkModel> = networks
            .iter()
            .filter(|n| !reference.is_empty() && n.id.starts_with(reference))
            .collect();
        match prefixed.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found(reference)),
            _ => Err(JobError::invalid(format!(
                "network {reference} is ambiguous ({} matches found based on ID prefix)",
                prefixed.len()
            ))),
        }
    }

    fn network_event(&self, action: &str, network: &NetworkModel) {
        let attrs = BTreeMap::from([
            ("name".to_owned(), network.name.clone()),
            ("type".to_owned(), network.driver.clone()),
        ]);
        self.events.publish("network", action, &network.id, attrs);
    }

    /// `POST /networks/create`.
    pub async fn network_create(
        &self,
        request: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, JobError> {
        let name = request.name.trim().to_owned();
        if name.is_empty() {
            return Err(JobError::invalid("network name must not be empty"));
        }
        if PREDEFINED.contains(&name.as_str()) {
            return Err(JobError::new(
                ErrorKind::Forbidden,
                format!("{name} is a pre-defined network and cannot be created"),
            ));
        }
        let plan = NetworkPlan::from_request(&request)?;
        let _held = self.network_lock.lock().await;
        let networks = self.stored_networks().await?;
        if networks.iter().any(|n| n.name == name) {
            return Err(JobError::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let in_use: Vec<IpNet> = networks
            .iter()
            .flat_map(|n| n.ipv4.iter().chain(n.ipv6.iter()).map(Subnet::cidr))
            .collect();
        let ipv4_user_subnet = plan.ipv4.is_some();
        let ipv4 = match plan.ipv4 {
            Some((cidr, gateway)) => {
                ipam::check_subnet(&cidr, &in_use).map_err(pool_error)?;
                subnet(cidr, gateway)?
            }
            None => self.choose_new_subnet(&name, Family::Ipv4, &in_use).await?,
        };
        // The IPv6 subnet is checked against the IPv4 one just chosen too
        // (a policy could answer anything).
        let mut in_use = in_use;
        in_use.push(ipv4.cidr());
        let ipv6_planned = plan.enable_ipv6 && plan.ipv6.is_none();
        let ipv6 = match plan.ipv6 {
            Some((cidr, gateway)) => {
                ipam::check_subnet(&cidr, &in_use).map_err(pool_error)?;
                Some(subnet(cidr, gateway)?)
            }
            None if plan.enable_ipv6 => {
                Some(self.choose_new_subnet(&name, Family::Ipv6, &in_use).await?)
            }
            None => None,
        };
        let id = names::generate_id();
        // moby `bridge` driver: `br-` and the id's first 12 digits.
        let bridge = InterfaceName::new(&format!("br-{}", &id[..12]))
            .map_err(|e| JobError::invalid(e.to_string()))?;
        let model = NetworkModel {
            id: id.clone(),
            name,
            driver: "bridge".to_owned(),
            bridge,
            ipv4: Some(ipv4),
            ipv4_user_subnet,
            ipv6,
            ipv6_planned,
            internal: request.internal,
            labels: request.labels,
            options: request.options,
            created: now_rfc3339(),
        };
        let store = self.store.clone();
        let record = model.clone();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .put(NETWORKS, &record.id, &record)
                .map_err(|e| store_error("store network", e))
        })
        .await?;
        self.apply_network(&model).await?;
        self.network_event("create", &model);
        Ok(NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }

    /// Asks the driver to make the network's bridge. Without a driver the
    /// network lives in the store only; any other failure undoes the
    /// create.
    async fn apply_network(&self, model: &NetworkModel) -> Result<(), JobError> {
        let network = Arc::clone(&self.network);
        let applied = model.clone();
        match self
            .blocking(BlockingKind::Network, move || {
                network.create_network(&applied)
            })
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind == ErrorKind::Unavailable => {
                tracing::debug!(network = %model.name, error = %e.message, "network stored without a bridge");
                Ok(())
            }
            Err(e) => {
                let store = self.store.clone();
                let id = model.id.clone();
                let _ = self
                    .blocking(BlockingKind::StoreCommit, move || {
                        store
                            .delete(NETWORKS, &id)
                            .map_err(|e| store_error("remove network", e))
                    })
                    .await;
                Err(e)
            }
        }
    }

    /// `GET /networks`.
    pub async fn network_list(&self, raw_filters: &str) -> Result<Vec<NetworkResource>, JobError> {
        let filters = Filters::parse(raw_filters).map_err(|e| JobError::invalid(e.to_string()))?;
        filters
            .check_names(&LIST_FILTERS)
            .map_err(|e| JobError::invalid(e.to_string()))?;
        for kind in filters.get("type") {
            if kind != "custom" && kind != "builtin" {
                return Err(JobError::invalid(format!(
                    "invalid filter: 'type'='{kind}'"
                )));
            }
        }
        let dangling = filters
            .get_bool("dangling")
            .map_err(|e| JobError::invalid(e.to_string()))?;
        let stored = self.stored_networks().await?;
        let created = predefined_created(&stored);
        let mut all: Vec<NetworkResource> = stored
            .iter()
            .map(|n| self.with_containers(resource(n)))
            .collect();
        all.extend(["host", "none"].map(|name| predefined_resource(name, &created)));
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all
            .into_iter()
            .filter(|n| {
                let builtin = PREDEFINED.contains(&n.name.as_str());
                filters.exact("driver", &n.driver)
                    && filters.matches("name", &n.name)
                    && (filters.get("id").is_empty()
                        || filters.get("id").iter().any(|id| n.id.starts_with(id.as_str())))
                    && filters.match_labels("label", &n.labels)
                    && filters.exact("scope", &n.scope)
                    && filters.exact("type", if builtin { "builtin" } else { "custom" })
                    // moby: dangling networks are the user's networks
                    // without containers (the predefined never are).
                    && dangling.is_none_or(|want| (!builtin && n.containers.is_empty()) == want)
            })
            .collect())
    }

    /// `GET /networks/{id}`.
    pub async fn network_inspect(&self, reference: &str) -> Result<NetworkResource, JobError> {
        if let Some(name) = ["host", "none"]
            .into_iter()
            .find(|n| *n == reference || predefined_id(n) == reference)
        {
            let created = predefined_created(&self.stored_networks().await?);
            return Ok(predefined_resource(name, &created));
        }
        self.find_network(reference)
            .await
            .map(|n| self.with_containers(resource(&n)))
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, reference: &str) -> Result<(), JobError> {
        let forbidden = |name: &str| {
            JobError::new(
                ErrorKind::Forbidden,
                format!("{name} is a pre-defined network and cannot be removed"),
            )
        };
        if ["host", "none"].contains(&reference) {
            return Err(forbidden(reference));
        }
        // A container that has just exited is off the network, but its
        // lease goes only once its veth is deleted (`teardown.rs`): its
        // teardown ends first, so that `down` (the containers, then the
        // network at once) is never refused for an endpoint on its way out.
        self.finish_teardowns().await;
        let _held = self.network_lock.lock().await;
        let model = self.find_network(reference).await?;
        if PREDEFINED.contains(&model.name.as_str()) {
            return Err(forbidden(&model.name));
        }
        self.refuse_active_endpoints(&model).await?;
        // The bridge goes first: a network whose bridge could not be
        // removed stays in the store, so reconcile finds it again.
        let network = Arc::clone(&self.network);
        let removed = model.clone();
        self.blocking(BlockingKind::Network, move || {
            network.remove_network(&removed)
        })
        .await?;
        self.forget_network_names(&model);
        let store = self.store.clone();
        let id = model.id.clone();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .delete(NETWORKS, &id)
                .map_err(|e| store_error("remove network", e))
        })
        .await?;
        self.network_event("destroy", &model);
        Ok(())
    }
}

impl Daemon {
    /// At daemon start: the default `bridge` network (bridge `berth0`, a
    /// subnet from the default pools), created once and kept in the store
    /// so that its subnet and id survive restarts, then applied.
    pub(super) async fn ensure_default_network(&self) -> Result<(), JobError> {
        let _held = self.network_lock.lock().await;
        let wanted = &self.config.default_bridge;
        // dockerd's `--bridge=none`: no default bridge network.
        if wanted.name == NO_DEFAULT_BRIDGE {
            return Ok(());
        }
        let bridge =
            InterfaceName::new(&wanted.name).map_err(|e| JobError::invalid(e.to_string()))?;
        // --bip is the gateway with the subnet's prefix, as dockerd reads it.
        let configured = wanted
            .bip
            .map(|bip| subnet(bip.trunc(), Some(bip.addr())))
            .transpose()?;
        let networks = self.stored_networks().await?;
        let existing = networks.iter().find(|n| n.name == "bridge").cloned();
        if let Some(existing) = &existing {
            let same_subnet = configured.is_none() || existing.ipv4 == configured;
            if existing.bridge == bridge && same_subnet {
                return self.apply_network(existing).await;
            }
            // The flags changed since the network was stored: the old
            // bridge goes (nothing can be connected to it while berthd
            // starts), the network keeps its id with the new settings.
            let network = Arc::clone(&self.network);
            let old = existing.clone();
            self.blocking(BlockingKind::Network, move || network.remove_network(&old))
                .await
                .or_else(|e| {
                    if e.kind == ErrorKind::Unavailable {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })?;
        }
        let ipv4 = match configured {
            Some(subnet) => subnet,
            None => match existing.as_ref().and_then(|n| n.ipv4) {
                Some(kept) => kept,
                None => {
                    let in_use: Vec<IpNet> = networks
                        .iter()
                        .filter(|n| n.name != "bridge")
                        .flat_map(|n| n.ipv4.iter().chain(n.ipv6.iter()).map(Subnet::cidr))
                        .collect();
                    self.choose_new_subnet("bridge", Family::Ipv4, &in_use)
                        .await?
                }
            },
        };
        let model = NetworkModel {
            id: existing
                .as_ref()
                .map_or_else(names::generate_id, |n| n.id.clone()),
            name: "bridge".to_owned(),
            driver: "bridge".to_owned(),
            bridge,
            ipv4: Some(ipv4),
            // `--bip` or not: the default network takes no `--ip` anyway.
            ipv4_user_subnet: configured.is_some(),
            ipv6: None,
            ipv6_planned: false,
            internal: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            created: existing
                .as_ref()
                .map_or_else(now_rfc3339, |n| n.created.clone()),
        };
        let store = self.store.clone();
        let record = model.clone();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .put(NETWORKS, &record.id, &record)
                .map_err(|e| store_error("store network", e))
        })
        .await?;
        self.apply_network(&model).await
    }
}

impl Daemon {
    /// moby `NetworksPrune`: the user-defined networks created before
    /// `until` whose labels match, and that no running container is
    /// connected to (`rm` refuses those), removed as `rm` removes them;
    /// their names, in name order.
    pub(super) async fn prune_networks(
        &self,
        filters: &Filters,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<String>, JobError> {
        let mut candidates: Vec<NetworkModel> = self
            .stored_networks()
            .await?
            .into_iter()
            .filter(|n| !PREDEFINED.contains(&n.name.as_str()))
            .filter(|n| filters.prune_labels_match(&n.labels))
            .filter(|n| {
                until.is_none_or(|until| {
                    chrono::DateTime::parse_from_rfc3339(&n.created)
                        .is_ok_and(|created| created < until)
                })
            })
            .collect();
        candidates.sort_by(|a, b| a.name.cmp(&b.name));
        let mut deleted = Vec::new();
        for network in candidates {
            // One that cannot be removed stays and is not reported, as
            // moby logs and skips it.
            match self.network_remove(&network.id).await {
                Ok(()) => deleted.push(network.name),
                Err(e) => {
                    tracing::warn!(network = %network.name, error = %e.message, "cannot prune network");
                }
            }
        }
        Ok(deleted)
    }
}

/// The default network's bridge (dockerd's is `docker0`).
pub const DEFAULT_BRIDGE: &str = "berth0";

/// `--bridge none`: the daemon has no default bridge network, as dockerd.
pub const NO_DEFAULT_BRIDGE: &str = "none";

/// What a create request asks of the network, checked.
struct NetworkPlan {
    ipv4: Option<(IpNet, Option<std::net::IpAddr>)>,
    ipv6: Option<(IpNet, Option<std::net::IpAddr>)>,
    /// `--ipv6`: the network has an IPv6 side, the given subnet or one the
    /// network policy plans.
    enable_ipv6: bool,
}

impl NetworkPlan {
    fn from_request(request: &NetworkCreateRequest) -> Result<NetworkPlan, JobError> {
        let unsupported =
            |what: &str| JobError::invalid(format!("{what} is not supported by berth"));
        match request.driver.as_str() {
            "" | "bridge" => {}
            other => {
                return Err(JobError::invalid(format!(
                    "network driver {other:?} is not supported by berth: only bridge"
                )));
            }
        }
        if !matches!(request.scope.as_str(), "" | "local") {
            return Err(unsupported(&format!("scope {:?}", request.scope)));
        }
        // `Attachable` is taken: on a local bridge network it changes
        // nothing in dockerd either (it lets standalone containers join a
        // swarm-scoped network), and docker-compose 1.29 sets it on every
        // project network.
        if request.ingress || request.config_only {
            return Err(unsupported("a swarm network (ingress, config-only)"));
        }
        if request
            .config_from
            .as_ref()
            .is_some_and(|c| !c.network.is_empty())
        {
            return Err(unsupported("--config-from"));
        }
        if request.enable_ipv4 == Some(false) {
            return Err(unsupported("a bridge network without IPv4"));
        }
        if let Some((key, _)) = request.options.iter().next() {
            return Err(unsupported(&format!("driver option {key:?}")));
        }
        let mut plan = NetworkPlan {
            ipv4: None,
            ipv6: None,
            enable_ipv6: request.enable_ipv6.unwrap_or(false),
        };
        if let Some(ipam) = &request.ipam {
            if !matches!(ipam.driver.as_str(), "" | "default") {
                return Err(unsupported(&format!("IPAM driver {:?}", ipam.driver)));
            }
            if !ipam.options.is_empty() {
                return Err(unsupported("IPAM options"));
            }
            for config in &ipam.config {
                if !config.ip_range.is_empty() {
                    return Err(unsupported("--ip-range"));
                }
                if !config.auxiliary_addresses.is_empty() {
                    return Err(unsupported("--aux-address"));
                }
                if config.subnet.is_empty() {
                    return Err(JobError::invalid(
                        "a gateway needs a subnet: --gateway is given without --subnet",
                    ));
                }
                let cidr =
                    parse_cidr(&config.subnet).map_err(|e| JobError::invalid(e.to_string()))?;
                let gateway = (!config.gateway.is_empty())
                    .then(|| parse_ip(&config.gateway))
                    .transpose()
                    .map_err(|e| JobError::invalid(e.to_string()))?;
                let slot = match cidr {
                    IpNet::V4(_) => &mut plan.ipv4,
                    IpNet::V6(_) => &mut plan.ipv6,
                };
                if slot.is_some() {
                    return Err(unsupported("more than one subnet of a family"));
                }
                *slot = Some((cidr, gateway));
            }
        }
        if plan.ipv6.is_some() && !plan.enable_ipv6 {
            return Err(JobError::invalid(
                "an IPv6 subnet needs --ipv6 (EnableIPv6)",
            ));
        }
        Ok(plan)
    }
}

fn subnet(cidr: IpNet, gateway: Option<std::net::IpAddr>) -> Result<Subnet, JobError> {
    Subnet::new(cidr, gateway).map_err(|e| JobError::invalid(e.to_string()))
}

/// libnetwork's IPAM errors as `docker network create` reports them
/// (`invalid pool request: ...`, Forbidden).
pub(super) fn pool_error(e: ipam::IpamError) -> JobError {
    match e {
        ipam::IpamError::Overlap => {
            JobError::new(ErrorKind::Forbidden, format!("invalid pool request: {e}"))
        }
        other => JobError::new(ErrorKind::Forbidden, other.to_string()),
    }
}

fn ipam_config(subnet: &Subnet) -> IpamConfig {
    IpamConfig {
        subnet: subnet.cidr().to_string(),
        gateway: subnet.gateway().to_string(),
        ..IpamConfig::default()
    }
}

/// The wire form of a stored network.
fn resource(model: &NetworkModel) -> NetworkResource {
    let mut options = model.options.clone();
    if model.name == "bridge" {
        // What moby shows for its default network's bridge.
        options.insert(
            "com.docker.network.bridge.name".to_owned(),
            model.bridge.as_str().to_owned(),
        );
    }
    NetworkResource {
        name: model.name.clone(),
        id: model.id.clone(),
        created: model.created.clone(),
        scope: "local".to_owned(),
        driver: model.driver.clone(),
        enable_ipv4: model.ipv4.is_some(),
        enable_ipv6: model.ipv6.is_some(),
        ipam: Ipam {
            driver: "default".to_owned(),
            config: model
                .ipv4
                .iter()
                .chain(model.ipv6.iter())
                .map(ipam_config)
                .collect(),
            options: BTreeMap::new(),
        },
        internal: model.internal,
        containers: BTreeMap::new(),
        options,
        labels: model.labels.clone(),
        ..NetworkResource::default()
    }
}

/// When `host` and `none` came to be: with the default network (clients
/// parse `Created`, so it is never empty).
fn predefined_created(stored: &[NetworkModel]) -> String {
    stored
        .iter()
        .find(|n| n.name == "bridge")
        .map_or_else(now_rfc3339, |n| n.created.clone())
}

/// `host` and `none` as moby lists them.
fn predefined_resource(name: &str, created: &str) -> NetworkResource {
    NetworkResource {
        name: name.to_owned(),
        id: predefined_id(name),
        created: created.to_owned(),
        scope: "local".to_owned(),
        driver: if name == "host" { "host" } else { "null" }.to_owned(),
        enable_ipv4: true,
        ipam: Ipam {
            driver: "default".to_owned(),
            ..Ipam::default()
        },
        ..NetworkResource::default()
    }
}
