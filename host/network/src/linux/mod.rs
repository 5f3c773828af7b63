//! The real [`Kernel`]: rtnetlink and `/proc/sys` on dedicated threads.

mod links;
mod netns;
pub(crate) mod thread;

use std::fs::File;
use std::path::{Path, PathBuf};

use thread::{block_on_netlink, in_netns};

use crate::{BridgeSpec, IfName, Kernel, NetworkError, VethSpec};

/// The kernel, through rtnetlink and procfs.
///
/// The "host" side of every operation (bridges, the host end of veth
/// pairs, sysctls) is the namespace bind-mounted at `host_netns`, or the
/// daemon's own when `None`: the privileged tests run a whole driver inside
/// a throwaway namespace this way and never touch the machine's network.
#[derive(Debug, Clone, Default)]
pub struct LinuxKernel {
    host_netns: Option<PathBuf>,
}

impl LinuxKernel {
    /// Works in the daemon's own network namespace.
    pub fn new() -> LinuxKernel {
        LinuxKernel { host_netns: None }
    }

    /// Works in the namespace bind-mounted at `host_netns` as the host.
    pub fn in_namespace(host_netns: PathBuf) -> LinuxKernel {
        LinuxKernel {
            host_netns: Some(host_netns),
        }
    }

    fn host(&self) -> Option<&Path> {
        self.host_netns.as_deref()
    }
}

fn sysctl_path(key: &str) -> Result<PathBuf, NetworkError> {
    if key.is_empty()
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(NetworkError::Invalid {
            what: "sysctl",
            value: key.to_string(),
            reason: "must be a relative path under /proc/sys",
        });
    }
    Ok(Path::new("/proc/sys").join(key))
}

impl Kernel for LinuxKernel {
    fn create_netns(&self, path: &Path) -> Result<(), NetworkError> {
        netns::create(path)
    }

    fn remove_netns(&self, path: &Path) -> Result<(), NetworkError> {
        netns::remove(path)
    }

    fn ensure_bridge(&self, bridge: &BridgeSpec) -> Result<(), NetworkError> {
        in_netns(self.host(), || {
            block_on_netlink(|handle| async move {
                links::ensure_bridge(&handle, &bridge.name, &bridge.alias, &bridge.addresses).await
            })?;
            // Published ports reached at 127.0.0.1 are DNATed out of this
            // bridge with a loopback source, which the kernel drops as
            // martian unless route_localnet is set on the way out (moby
            // `bridge/setup_ip_tables.go`: setupLocalhostRouting). The
            // source is masqueraded after routing (see firewall.rs).
            write_proc(
                &format!("net/ipv4/conf/{}/route_localnet", bridge.name),
                "1",
            )
        })
    }

    fn delete_link(&self, name: &IfName) -> Result<(), NetworkError> {
        in_netns(self.host(), || {
            block_on_netlink(|handle| async move { links::delete(&handle, name.as_str()).await })
        })
    }

    fn attach_veth(&self, veth: &VethSpec) -> Result<(), NetworkError> {
        let netns = File::open(&veth.netns).map_err(|source| NetworkError::Io {
            op: "open network namespace",
            path: veth.netns.clone(),
            source,
        })?;
        let netns = &netns;
        let host = in_netns(self.host(), || {
            block_on_netlink(|handle| async move {
                // A host side left by a container that was not cleaned up
                // (a crash) is replaced, not an error: the name is ours.
                links::delete(&handle, veth.host_ifname.as_str()).await?;
                links::create_pair(
                    &handle,
                    &veth.host_ifname,
                    &veth.container_ifname,
                    veth.mac,
                    &veth.bridge,
                    netns,
                )
                .await
            })
        });
        let configured = host.and_then(|()| {
            in_netns(Some(&veth.netns), || {
                block_on_netlink(|handle| async move {
                    links::configure_peer(
                        &handle,
                        &veth.container_ifname,
                        &veth.addresses,
                        &veth.gateways,
                    )
                    .await
                })
            })
        });
        if configured.is_err() {
            // Deleting the host side deletes the pair wherever the peer is.
            let _ = self.delete_link(&veth.host_ifname);
        }
        configured
    }

    fn bridge_ports(&self, bridge: &IfName) -> Result<Vec<IfName>, NetworkError> {
        in_netns(self.host(), || {
            block_on_netlink(|handle| async move { links::ports_of(&handle, bridge).await })
        })
    }

    fn bridges_with_alias(&self, alias: &str) -> Result<Vec<IfName>, NetworkError> {
        in_netns(self.host(), || {
            block_on_netlink(|handle| async move { links::with_alias(&handle, alias).await })
        })
    }

    fn route_destinations(
        &self,
        exclude: &[IfName],
    ) -> Result<Vec<crate::IpNetwork>, NetworkError> {
        in_netns(self.host(), || {
            block_on_netlink(
                |handle| async move { links::route_destinations(&handle, exclude).await },
            )
        })
    }

    fn read_sysctl(&self, key: &str) -> Result<String, NetworkError> {
        let path = sysctl_path(key)?;
        in_netns(self.host(), || {
            std::fs::read_to_string(&path)
                .map(|s| s.trim().to_string())
                .map_err(|source| NetworkError::Io {
                    op: "read sysctl",
                    path: path.clone(),
                    source,
                })
        })
    }

    fn write_sysctl(&self, key: &str, value: &str) -> Result<(), NetworkError> {
        in_netns(self.host(), || write_proc(key, value))
    }
}

/// Writes a sysctl from the calling thread (whose namespace it belongs to).
fn write_proc(key: &str, value: &str) -> Result<(), NetworkError> {
    let path = sysctl_path(key)?;
    std::fs::write(&path, value).map_err(|source| NetworkError::Io {
        op: "write sysctl",
        path,
        source,
    })
}
