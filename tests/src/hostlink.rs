//! A host of its own for a daemon, and a machine outside it.
//!
//! A connection from another machine to a published port is DNATed as it
//! comes in and then forwarded by the host, a path a connection from the
//! host itself never takes, and forwarding needs the host's forwarding
//! sysctls on. A [`HostLink`] gives a test that path without touching the
//! real host: a network namespace standing in for the host, which a berthd
//! runs in ([`Daemon::start_in`](crate::daemon::Daemon::start_in)) so that
//! its bridges, nftables table, forwarding sysctls and held ports live
//! there, and an "outside" namespace linked to it by a veth pair with an
//! IPv4 and a ULA IPv6 address on each end: the host end's addresses are
//! "the host's addresses". Dropping it (also on a panic) removes both
//! namespaces, and with them the veth pair and whatever the daemon left
//! in its namespace; the daemon must be dropped first (declare the link
//! before it).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use berth_network::{Kernel, LinuxKernel};

use crate::cmd::Output;
use crate::netlab::{in_netns, run_in};
use crate::require;

/// Two namespaces, "host" and "outside", and the veth pair between them.
pub struct HostLink {
    /// Holds the namespaces' mount points; removed after them (fields
    /// drop after `Drop::drop`).
    _dir: tempfile::TempDir,
    host: PathBuf,
    outside: PathBuf,
}

impl HostLink {
    /// The host end's IPv4 address (TEST-NET-1, never a daemon's subnet).
    pub const HOST_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    /// The outside end's IPv4 address.
    pub const OUTSIDE_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    /// The host end's ULA.
    pub const HOST_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xb1, 0, 0, 0, 0, 0, 1);
    /// The outside end's ULA.
    pub const OUTSIDE_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xb1, 0, 0, 0, 0, 0, 2);

    /// Creates both namespaces (`lo` up in each) and links them.
    pub fn new() -> HostLink {
        require::root();
        require::program("nsenter", "util-linux");
        require::program("ip", "iproute2");
        let dir = tempfile::Builder::new()
            .prefix("hostlink-")
            .tempdir_in(crate::target_tmp())
            .or_else(|_| tempfile::tempdir())
            .expect("host link dir");
        let link = HostLink {
            host: dir.path().join("host"),
            outside: dir.path().join("outside"),
            _dir: dir,
        };
        let kernel = LinuxKernel::new();
        kernel
            .create_netns(&link.host)
            .expect("create the host namespace");
        kernel
            .create_netns(&link.outside)
            .expect("create the outside namespace");
        // iproute2 takes a namespace by path when the name has a '/'.
        let outside = link.outside.display().to_string();
        link.host_ok(&[
            "ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplink", "netns",
            &outside,
        ]);
        // No duplicate address detection: a tentative address can be
        // neither bound nor reached until DAD ends.
        for (netns, v4, v6) in [
            (&link.host, Self::HOST_V4, Self::HOST_V6),
            (&link.outside, Self::OUTSIDE_V4, Self::OUTSIDE_V6),
        ] {
            let (v4, v6) = (format!("{v4}/24"), format!("{v6}/64"));
            for argv in [
                &["ip", "addr", "add", &v4, "dev", "uplink"][..],
                &["ip", "addr", "add", &v6, "dev", "uplink", "nodad"],
                &["ip", "link", "set", "uplink", "up"],
            ] {
                let out = run_in(netns, argv);
                assert!(out.status.success(), "{argv:?}: {out:?}");
            }
        }
        link
    }

    fn host_ok(&self, argv: &[&str]) {
        let out = run_in(&self.host, argv);
        assert!(out.status.success(), "{argv:?}: {out:?}");
    }

    /// The namespace standing in for the host.
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The namespace of the machine outside.
    pub fn outside(&self) -> &Path {
        &self.outside
    }

    /// Runs `argv` in the outside namespace, under a timeout.
    pub fn run_outside(&self, argv: &[&str]) -> Output {
        run_in(&self.outside, argv)
    }

    /// Runs `work` on a thread in the outside namespace.
    pub fn in_outside<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        in_netns(&self.outside, work)
    }

    /// Runs `work` on a thread in the host namespace.
    pub fn in_host<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        in_netns(&self.host, work)
    }

    /// A sysctl of the host namespace (`net/ipv4/ip_forward`).
    pub fn host_sysctl(&self, key: &str) -> String {
        LinuxKernel::in_namespace(self.host.clone())
            .read_sysctl(key)
            .unwrap_or_else(|e| panic!("read {key}: {e}"))
    }
}

impl Default for HostLink {
    fn default() -> Self {
        HostLink::new()
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        let kernel = LinuxKernel::new();
        let _ = kernel.remove_netns(&self.outside);
        let _ = kernel.remove_netns(&self.host);
    }
}
