//! The `resolv.conf` of a container whose network has names: the embedded
//! DNS server at its network's gateway as the only name server, with the
//! host's `search` and `options` (moby `sandbox_dns_unix.go`
//! `rebuildDNS`: the embedded resolver replaces the name servers, search
//! domains and options are kept). moby writes `nameserver 127.0.0.11`;
//! berth's server listens on the gateway instead (see the engine's
//! `daemon/name_service.rs` for why).

use std::net::IpAddr;

/// The `resolv.conf` of a container with its own network files, before
/// its `--dns` settings: the embedded server's when it has one
/// (`resolver`), else the host's resolvers ([`crate::files::resolv_conf`]).
pub fn resolv_conf_for(resolver: Option<IpAddr>, host: Option<&str>) -> String {
    match resolver {
        Some(resolver) => resolv_conf_with_resolver(resolver, host),
        None => crate::files::resolv_conf(host),
    }
}

/// `nameserver <resolver>`, then the host's last `search`/`domain` line
/// and its `options` lines, as they are (`host`: the host's
/// `resolv.conf`, `None` when it has none).
pub fn resolv_conf_with_resolver(resolver: IpAddr, host: Option<&str>) -> String {
    let mut out = format!("nameserver {resolver}\n");
    let mut search = None;
    let mut options = Vec::new();
    for line in host.unwrap_or_default().lines() {
        match line.split_whitespace().next() {
            // The resolver takes only the last of them (resolv.conf(5)).
            Some("search") | Some("domain") => search = Some(line.trim()),
            Some("options") => options.push(line.trim()),
            _ => {}
        }
    }
    for line in search.into_iter().chain(options) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_replaces_the_name_servers_and_search_and_options_stay() {
        let host = "# host\nnameserver 10.0.0.2\nnameserver 127.0.0.53\nsearch a.example\n\
                    domain b.example\noptions ndots:2\noptions edns0\nsortlist 10.0.0.0\n";
        assert_eq!(
            resolv_conf_with_resolver("172.20.0.1".parse().unwrap(), Some(host)),
            "nameserver 172.20.0.1\ndomain b.example\noptions ndots:2\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf_with_resolver("fd00::1".parse().unwrap(), None),
            "nameserver fd00::1\n"
        );
    }
}
