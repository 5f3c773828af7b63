//! The files a container gets bind-mounted over its image's `/etc/hostname`,
//! `/etc/hosts` and `/etc/resolv.conf` (Docker keeps them in the container's
//! directory too: `HostnamePath`, `HostsPath`, `ResolvConfPath`).
//!
//! A container without a network address (`--network none`) gets the
//! loopback entries only, byte for byte what dockerd writes: libnetwork's
//! `etchosts` default records, and no line for the hostname, which
//! `Sandbox.updateHostsFile` adds only for an interface address (the
//! hostname lives in `/etc/hostname` and the UTS namespace). A container on
//! a network gets a line for each of its addresses after them. `resolv.conf` is the host's with loopback name servers removed (they are
//! unreachable from another network namespace), falling back to Docker's
//! public defaults when none remain (moby `libnetwork/resolvconf`).

use std::net::IpAddr;
use std::path::Path;

/// Docker's `/etc/hosts` for a container without a network address.
pub const HOSTS: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

/// Docker's `/etc/hosts` for a container with addresses on its networks:
/// [`HOSTS`], then one `<address>\t<hostname>` line per address (moby
/// `libnetwork/sandbox_dns_unix.go` `updateHostsFile`, which appends the
/// container's own records after the defaults).
pub fn hosts_with_addresses(addresses: &[IpAddr], hostname: &str) -> String {
    let mut out = HOSTS.to_owned();
    for addr in addresses {
        out.push_str(&format!("{addr}\t{hostname}\n"));
    }
    out
}

/// Name servers Docker falls back to (moby `resolvconf.defaultIPv4Dns`).
const DEFAULT_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The contents of `/etc/hostname`.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// The container's `resolv.conf` derived from the host's (`None`: the host
/// has none).
pub fn resolv_conf(host: Option<&str>) -> String {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host.unwrap_or_default().lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let loopback = words
                .next()
                .and_then(|addr| addr.split('%').next())
                .and_then(|addr| addr.parse::<IpAddr>().ok())
                .is_some_and(|ip| ip.is_loopback());
            if loopback {
                continue;
            }
            nameservers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        for ns in DEFAULT_NAMESERVERS {
            out.push_str("nameserver ");
            out.push_str(ns);
            out.push('\n');
        }
    }
    out
}

/// The host's hosts file, which a container on the host's network gets a
/// copy of (moby: `OptionOriginHostsPath("/etc/hosts")`).
pub const HOST_HOSTS: &str = "/etc/hosts";

/// Reads the host's hosts file, `None` when it is missing or unreadable.
pub fn host_hosts(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Reads the host's resolv.conf, `None` when it is missing or unreadable.
pub fn host_resolv_conf(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_keeps_search_and_options_and_drops_loopback_servers() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.2\nsearch example.com\noptions edns0\n";
        assert_eq!(
            resolv_conf(Some(host)),
            "# generated\nnameserver 10.0.0.2\nsearch example.com\noptions edns0\n"
        );
    }

    #[test]
    fn resolv_conf_falls_back_to_dockers_defaults() {
        assert_eq!(
            resolv_conf(Some("nameserver 127.0.0.53\nsearch lan\n")),
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf(None),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn hosts_and_hostname() {
        assert!(HOSTS.starts_with("127.0.0.1\tlocalhost\n"));
        assert_eq!(hostname_file("web"), "web\n");
    }

    #[test]
    fn a_container_with_an_address_gets_its_own_line_last() {
        let addresses = ["172.17.0.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        let hosts = hosts_with_addresses(&addresses, "3f4e5d6c7b8a");
        assert_eq!(
            hosts,
            format!("{HOSTS}172.17.0.2\t3f4e5d6c7b8a\nfd00::2\t3f4e5d6c7b8a\n")
        );
        assert_eq!(hosts_with_addresses(&[], "web"), HOSTS);
    }
}
