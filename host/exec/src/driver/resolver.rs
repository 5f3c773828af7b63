//! A running container's `resolv.conf` after its resolver changed (issue
//! 12): a container on the default bridge that is connected to a
//! user-defined network now has names to resolve there, and its
//! `resolv.conf` must name the embedded DNS server instead of the host's
//! resolvers (or its network policy's name servers), as moby's sandbox
//! does when its first user network joins (libnetwork
//! `sandbox.populateNetworkResources` → `startResolver` → `rebuildDNS`).
//!
//! The file is the one a start wrote in the container's directory and
//! bind-mounted over its `/etc/resolv.conf`, so it is rewritten in place:
//! a new file renamed over it would leave the container reading the old
//! one through its mount (moby `resolvconf.WriteFile`: "it's bind-mounted
//! into the container, so can't move a temp file into place, just have to
//! truncate and write it"). The container's directory is berthd's and out
//! of the container's reach; the file is still opened without following a
//! link and must be a regular file. A file that is no longer what berthd
//! wrote (the user edited `/etc/resolv.conf` in the container) is left
//! alone, as moby leaves a file whose hash changed (`rebuildDNS`,
//! `resolvconf.UserModified`).

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use berth_model::dns::{DnsConfig, Resolver};
use berth_model::network::NetworkFiles;

use super::ExecDriver;
use crate::error::ExecError;
use crate::{dns_files, embedded_dns, files};

/// More than any `resolv.conf` berthd writes; a larger file is not one of
/// its own.
const MAX_RESOLV_CONF: u64 = 64 * 1024;

/// What [`ExecDriver::update_resolver`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolverUpdate {
    /// The file names the new resolver.
    Rewritten,
    /// The file is as it was: it reads the same either way (the
    /// container's `--dns` on networks without the embedded server), or the
    /// user changed it since its start.
    Kept,
}

impl ExecDriver {
    /// The `resolv.conf` a start writes for a container on a network of
    /// its own with `resolver`, its `--dns` settings (`dns`) applied over
    /// it.
    pub(super) fn own_resolv_conf(
        dns: &DnsConfig,
        resolver: &Resolver,
        host_resolv: Option<&str>,
    ) -> String {
        let resolv = embedded_dns::resolv_conf_for(resolver.embedded(), host_resolv);
        dns_files::apply(
            dns,
            &NetworkFiles::Own,
            resolver,
            (String::new(), resolv),
            host_resolv,
        )
        .1
    }

    /// Rewrites the `resolv.conf` of running container `id` (on a network
    /// of its own, DNS settings `dns`) whose resolver changed from `before`
    /// to `after`: what a start would write now, in place. Blocking.
    pub fn update_resolver(
        &self,
        id: &str,
        dns: &DnsConfig,
        before: &Resolver,
        after: &Resolver,
    ) -> Result<ResolverUpdate, ExecError> {
        super::validate_id(id)?;
        let host_resolv = files::host_resolv_conf(&self.inner.config.host_resolv_conf);
        let old = Self::own_resolv_conf(dns, before, host_resolv.as_deref());
        let new = Self::own_resolv_conf(dns, after, host_resolv.as_deref());
        if old == new {
            return Ok(ResolverUpdate::Kept);
        }
        let path = self.paths(id).files.resolv_conf;
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| ExecError::io(action, &path, source)
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(io("open"))?;
        let meta = file.metadata().map_err(io("stat"))?;
        if !meta.file_type().is_file() || meta.len() > MAX_RESOLV_CONF {
            return Ok(ResolverUpdate::Kept);
        }
        let mut current = String::new();
        // Bounded by the size checked above, and again here: the container
        // may be writing to it.
        (&mut file)
            .take(MAX_RESOLV_CONF)
            .read_to_string(&mut current)
            .map_err(io("read"))?;
        if current != old {
            return Ok(ResolverUpdate::Kept);
        }
        // The new text first, then the length: a reader never sees an
        // empty file.
        file.write_all_at(new.as_bytes(), 0).map_err(io("write"))?;
        file.set_len(new.len() as u64).map_err(io("truncate"))?;
        Ok(ResolverUpdate::Rewritten)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use std::net::IpAddr;

    use super::*;

    fn driver(host_resolv: &str) -> (tempfile::TempDir, ExecDriver) {
        let dir = tempfile::tempdir().expect("tempdir");
        let shim = dir.path().join("berth-shim");
        fs::write(&shim, b"").expect("fake shim");
        let resolv = dir.path().join("host-resolv.conf");
        fs::write(&resolv, host_resolv).expect("host resolv.conf");
        let mut config = super::super::ExecConfig::new(
            dir.path().join("run"),
            dir.path().join("containers"),
            shim,
        );
        config.host_resolv_conf = resolv;
        let driver = ExecDriver::new(config).expect("driver");
        fs::create_dir_all(driver.paths("c1").dir).expect("container dir");
        (dir, driver)
    }

    const HOST: &str = "nameserver 10.0.0.2\nsearch lan\noptions ndots:2\n";

    #[test]
    fn the_host_resolvers_give_way_to_the_embedded_server_in_place() {
        let (_dir, driver) = driver(HOST);
        let path = driver.paths("c1").files.resolv_conf;
        let container = DnsConfig::default();
        let at_start = ExecDriver::own_resolv_conf(&container, &Resolver::Host, Some(HOST));
        assert_eq!(
            at_start,
            "nameserver 10.0.0.2\nsearch lan\noptions ndots:2\n"
        );
        fs::write(&path, &at_start).expect("written at start");
        // The same inode, as the container's bind mount holds it.
        let inode = |p: &std::path::Path| {
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).expect("stat"))
        };
        let before = inode(&path);
        let gateway = Resolver::Embedded("10.9.0.1".parse().unwrap());
        assert_eq!(
            driver
                .update_resolver("c1", &container, &Resolver::Host, &gateway)
                .expect("update"),
            ResolverUpdate::Rewritten
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "nameserver 10.9.0.1\nsearch lan\noptions ndots:2\n"
        );
        assert_eq!(inode(&path), before);
        // Back to the host's, shorter than what is there: no tail left.
        assert_eq!(
            driver
                .update_resolver("c1", &container, &gateway, &Resolver::Host)
                .expect("update"),
            ResolverUpdate::Rewritten
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), at_start);
    }

    #[test]
    fn a_file_the_user_changed_or_a_link_is_left_alone() {
        let (dir, driver) = driver(HOST);
        let path = driver.paths("c1").files.resolv_conf;
        let container = DnsConfig::default();
        let gateway = Resolver::Embedded("10.9.0.1".parse().unwrap());
        fs::write(&path, "nameserver 1.1.1.1\n").expect("edited by the user");
        assert_eq!(
            driver
                .update_resolver("c1", &container, &Resolver::Host, &gateway)
                .expect("update"),
            ResolverUpdate::Kept
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "nameserver 1.1.1.1\n");

        // A link in its place is not followed.
        let outside = dir.path().join("outside");
        fs::write(
            &outside,
            ExecDriver::own_resolv_conf(&container, &Resolver::Host, Some(HOST)),
        )
        .expect("outside");
        fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink(&outside, &path).expect("symlink");
        let err = driver
            .update_resolver("c1", &container, &Resolver::Host, &gateway)
            .expect_err("a link");
        assert!(err.to_string().contains("resolv.conf"), "{err}");
        assert_eq!(
            fs::read_to_string(&outside).unwrap(),
            ExecDriver::own_resolv_conf(&container, &Resolver::Host, Some(HOST))
        );
    }

    #[test]
    fn with_dns_the_file_moves_to_the_embedded_server_and_back() {
        let (_dir, driver) = driver(HOST);
        let path = driver.paths("c1").files.resolv_conf;
        let container: DnsConfig =
            serde_json::from_str(r#"{"nameservers":["9.9.9.9"]}"#).expect("dns");
        let own = ExecDriver::own_resolv_conf(&container, &Resolver::Host, Some(HOST));
        assert_eq!(own, "nameserver 9.9.9.9\nsearch lan\noptions ndots:2\n");
        fs::write(&path, &own).expect("written at start");
        // Its own servers decide on the bridge whatever the policy says:
        // nothing to change, the file is not even opened.
        let policy = Resolver::Servers(vec![IpAddr::from([192, 0, 2, 53])]);
        assert_eq!(
            driver
                .update_resolver("c1", &container, &Resolver::Host, &policy)
                .expect("update"),
            ResolverUpdate::Kept
        );
        // On a user network the embedded server is the name server; it
        // forwards to 9.9.9.9 (moby: `nameserver 127.0.0.11`).
        let gateway = Resolver::Embedded("10.9.0.1".parse().unwrap());
        assert_eq!(
            driver
                .update_resolver("c1", &container, &policy, &gateway)
                .expect("update"),
            ResolverUpdate::Rewritten
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "nameserver 10.9.0.1\nsearch lan\noptions ndots:2\n"
        );
        assert_eq!(
            driver
                .update_resolver("c1", &container, &gateway, &Resolver::Host)
                .expect("update"),
            ResolverUpdate::Rewritten
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), own);
    }

    #[test]
    fn the_policys_servers_give_way_to_the_embedded_server() {
        let (_dir, driver) = driver(HOST);
        let path = driver.paths("c1").files.resolv_conf;
        let container = DnsConfig::default();
        let policy = Resolver::Servers(vec![IpAddr::from([192, 0, 2, 53])]);
        let at_start = ExecDriver::own_resolv_conf(&container, &policy, Some(HOST));
        assert_eq!(
            at_start,
            "nameserver 192.0.2.53\nsearch lan\noptions ndots:2\n"
        );
        fs::write(&path, &at_start).expect("written at start");
        let gateway = Resolver::Embedded("10.9.0.1".parse().unwrap());
        assert_eq!(
            driver
                .update_resolver("c1", &container, &policy, &gateway)
                .expect("update"),
            ResolverUpdate::Rewritten
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "nameserver 10.9.0.1\nsearch lan\noptions ndots:2\n"
        );
    }
}
