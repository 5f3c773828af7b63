//! A container's network mode (`HostConfig.NetworkMode`): checked and
//! resolved at create, turned into the exec driver's [`NetworkSetup`] at
//! start.
//!
//! - `none`: a new namespace with only `lo` and the container's own `/etc`
//!   files. `bridge`/`default` and a user network get the same here; at
//!   start the network driver's sandbox replaces it (`endpoints`), unless
//!   the daemon has no default network (`--bridge none`).
//! - `host`: no network namespace; the host's `/etc/hosts` and
//!   `/etc/resolv.conf` copied as they are, and the host's name unless the
//!   container names its own (moby `daemon/container_operations_unix.go`).
//! - `container:<name|id>`: resolved to the full id at create (as moby
//!   does); at start, the runtime joins `/proc/<pid>/ns/net` of that
//!   container, which must be running (moby `getNetworkedContainer`), and
//!   the container bind-mounts that container's `/etc` files and takes its
//!   host name (moby `initializeNetworking`).

use std::path::PathBuf;

use berth_api::container::{Config, CreateRequest, HostConfig};
use berth_model::container::ContainerModel;
use berth_model::dns::Resolver;
use berth_model::network::{NetworkFiles, NetworkMode, NetworkNamespace, NetworkSetup};

use super::Daemon;
use crate::job::{ErrorKind, JobError};

/// The host's name, as `uname -n` reports it (`--network host`).
const HOST_NAME_FILE: &str = "/proc/sys/kernel/hostname";

/// moby `runconfig.validateNetContainerMode`: what a container sharing
/// another's network cannot set, with moby's messages (the other settings
/// moby checks here, `--dns`, `--add-host`, `-p`, `--link`, are refused by
/// the field table before this).
pub(super) fn check_conflicts(config: &Config, host: &HostConfig) -> Result<(), JobError> {
    let mode =
        NetworkMode::parse(&host.network_mode).map_err(|e| JobError::invalid(e.to_string()))?;
    if mode == NetworkMode::Host {
        // runc's validator refuses these at start, since they would change
        // the host's own settings; refused at create here, with its words.
        if let Some(key) = host.sysctls.keys().find(|key| key.starts_with("net.")) {
            return Err(JobError::invalid(format!(
                "sysctl {key:?} not allowed in host network namespace"
            )));
        }
    }
    if !matches!(mode, NetworkMode::Container(_)) {
        return Ok(());
    }
    if !config.hostname.is_empty() {
        return Err(JobError::invalid(
            "conflicting options: hostname and the network mode",
        ));
    }
    super::dns::check_container_mode(host)?;
    super::publish::check_container_mode(host)?;
    if !config.exposed_ports.is_empty() {
        return Err(JobError::invalid(
            "conflicting options: port exposing and the container type network mode",
        ));
    }
    Ok(())
}

impl Daemon {
    /// Resolves the request's network mode before its spec is built:
    /// `container:<name>` becomes `container:<full id>` (moby stores the
    /// id, so a rename of the other container changes nothing), and the
    /// host name the mode gives is returned. A user-defined network must
    /// exist.
    pub(super) async fn resolve_network_mode(
        &self,
        request: &mut CreateRequest,
    ) -> Result<Option<String>, JobError> {
        let host = &mut request.host_config;
        match NetworkMode::parse(&host.network_mode)
            .map_err(|e| JobError::invalid(e.to_string()))?
        {
            NetworkMode::Bridge | NetworkMode::None => Ok(None),
            NetworkMode::Host => {
                let name = tokio::fs::read_to_string(HOST_NAME_FILE)
                    .await
                    .map_err(|e| {
                        JobError::internal(&format!("failed to read {HOST_NAME_FILE}"), &e)
                    })?;
                Ok(Some(name.trim().to_owned()))
            }
            NetworkMode::Container(reference) => {
                // A 400, not a 404: the docker CLI takes a 404 from create
                // for a missing image and would try to pull it.
                let other = self
                    .containers
                    .get(&reference)
                    .map_err(|e| JobError::new(ErrorKind::InvalidParameter, e.message))?;
                let hostname = other.lock().record.config.hostname.clone();
                host.network_mode = format!("container:{}", other.id);
                Ok(Some(hostname))
            }
            // Looked up now, with moby `daemon.FindNetwork`'s 404 for an
            // unknown one; joined at start (`endpoints`).
            NetworkMode::Network(name) => {
                let network = self.find_network(&name).await?;
                if network.name == "bridge" {
                    host.network_mode = "bridge".to_owned();
                }
                Ok(None)
            }
        }
    }

    /// What the exec driver needs of `model`'s networking for this start
    /// (`id` is the container being started).
    pub(super) fn network_setup(
        &self,
        id: &str,
        model: &ContainerModel,
    ) -> Result<NetworkSetup, JobError> {
        match &model.network {
            NetworkMode::Bridge | NetworkMode::None => Ok(NetworkSetup::default()),
            NetworkMode::Host => Ok(NetworkSetup {
                namespace: NetworkNamespace::Host,
                files: NetworkFiles::Host,
                addresses: Vec::new(),
                resolver: Resolver::Host,
            }),
            NetworkMode::Container(other_id) => {
                // moby `getNetworkedContainer`, with its messages.
                let other = self.containers.get(other_id)?;
                if other.id == id {
                    return Err(JobError::invalid("cannot join own network"));
                }
                let (running, restarting, pid) = {
                    let inner = other.lock();
                    let state = &inner.record.state;
                    (state.running, state.restarting, state.pid)
                };
                if !running || pid <= 0 {
                    return Err(JobError::new(
                        ErrorKind::Conflict,
                        format!("cannot join network of a non running container: {other_id}"),
                    ));
                }
                if restarting {
                    return Err(JobError::new(
                        ErrorKind::Conflict,
                        format!(
                            "Container {other_id} is restarting, wait until the container is running"
                        ),
                    ));
                }
                Ok(NetworkSetup {
                    namespace: NetworkNamespace::Join(PathBuf::from(format!("/proc/{pid}/ns/net"))),
                    files: NetworkFiles::Shared(self.runtime.files(&other.id)),
                    addresses: Vec::new(),
                    resolver: Resolver::Host,
                })
            }
            // Its sandbox comes from the network driver at start
            // (`Daemon::join_networks`).
            NetworkMode::Network(_) => Ok(NetworkSetup::default()),
        }
    }
}
