//! The container's `/etc/resolv.conf` and `/etc/hosts` when it sets its
//! own DNS settings (`--dns`, `--dns-search`, `--dns-option`,
//! `--add-host`) or its network policy planned name servers, as moby
//! writes them: `resolvconf.Build` (name servers, then one `search` line,
//! then one `options` line, each list the container's when given and the
//! host's otherwise; libnetwork `sandbox_dns_unix.go` `setupDNS`), and the
//! `--add-host` records after the default ones (`etchosts.Build` with the
//! sandbox's extra hosts). The values were checked at create
//! (`berth_model::dns`): one word each, so each stays on its own line.
//!
//! The name servers, first match wins: the embedded DNS server when the
//! container has one (`--dns` then goes to the server as where it
//! forwards, as moby's resolver takes the `--dns` servers as its external
//! ones: `setupDNS`, `resolver.go` `SetExtServers`), the container's
//! `--dns`, its network policy's servers, the host's.

use std::net::IpAddr;

use berth_model::dns::{DnsConfig, Resolver};
use berth_model::network::NetworkFiles;

use crate::files;

/// `(hosts, resolv.conf)` with `dns` and the networks' `resolver` applied
/// over what the network mode gave (`host_resolv`: the host's
/// `resolv.conf`). Without settings the files are as given; a container on
/// the host's network that sets some gets files built like a container of
/// its own (moby uses the host's files only when none is set,
/// `daemon/container_operations_unix.go`).
pub(crate) fn apply(
    dns: &DnsConfig,
    mode: &NetworkFiles,
    resolver: &Resolver,
    (hosts, resolv): (String, String),
    host_resolv: Option<&str>,
) -> (String, String) {
    if matches!(mode, NetworkFiles::Shared(_)) {
        // Refused at create (moby `validateNetContainerMode`): the files
        // are the other container's.
        return (hosts, resolv);
    }
    let hosts = if dns.extra_hosts().is_empty() {
        hosts
    } else {
        let mut out = match mode {
            NetworkFiles::Host => files::HOSTS.to_owned(),
            _ => hosts,
        };
        for host in dns.extra_hosts() {
            out.push_str(&host.to_string());
            out.push('\n');
        }
        out
    };
    let resolv = match name_servers(dns, resolver) {
        Some(servers) => resolv_conf(&servers, dns, host_resolv),
        None => resolv,
    };
    (hosts, resolv)
}

/// The name servers the file is built with (empty: the host's), `None`
/// when nothing is set and the file stays as the network mode wrote it.
fn name_servers(dns: &DnsConfig, resolver: &Resolver) -> Option<Vec<IpAddr>> {
    let search_or_options = !(dns.search().is_empty() && dns.options().is_empty());
    match resolver {
        Resolver::Embedded(server) => search_or_options.then(|| vec![*server]),
        _ if !dns.nameservers().is_empty() => Some(dns.nameservers().to_vec()),
        Resolver::Servers(servers) if !servers.is_empty() => Some(servers.clone()),
        Resolver::Host | Resolver::Servers(_) => search_or_options.then(Vec::new),
    }
}

/// moby `resolvconf.Build`: `servers` (the host's without loopback ones
/// when empty), then the container's search domains and options over the
/// host's.
fn resolv_conf(servers: &[IpAddr], dns: &DnsConfig, host: Option<&str>) -> String {
    let host = host.unwrap_or_default();
    let mut host_servers = Vec::new();
    let mut host_search: Vec<String> = Vec::new();
    let mut host_options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // Loopback servers are the host's own and unreachable from
                // the container's namespace (as the default writer).
                if let Some(ns) = words.next()
                    && ns
                        .split('%')
                        .next()
                        .and_then(|a| a.parse::<IpAddr>().ok())
                        .is_some_and(|ip| !ip.is_loopback())
                {
                    host_servers.push(ns.to_owned());
                }
            }
            // The last `search` or `domain` line wins (resolv.conf(5)).
            Some("search") | Some("domain") => host_search = words.map(str::to_owned).collect(),
            Some("options") => host_options.extend(words.map(str::to_owned)),
            _ => {}
        }
    }
    let servers: Vec<String> = if servers.is_empty() {
        let servers = files::resolv_conf(Some(
            &host_servers
                .iter()
                .map(|ns| format!("nameserver {ns}\n"))
                .collect::<String>(),
        ));
        servers
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver ").map(str::to_owned))
            .collect()
    } else {
        servers.iter().map(ToString::to_string).collect()
    };
    let search = if dns.search().is_empty() {
        host_search
    } else {
        dns.search().to_vec()
    };
    let options = if dns.options().is_empty() {
        host_options
    } else {
        dns.options().to_vec()
    };
    let mut out = String::new();
    for ns in servers {
        out.push_str("nameserver ");
        out.push_str(&ns);
        out.push('\n');
    }
    // moby: a search list of only "." means no search domain at all.
    let search = search.join(" ");
    if !search.trim().is_empty() && search.trim() != "." {
        out.push_str("search ");
        out.push_str(&search);
        out.push('\n');
    }
    if !options.is_empty() {
        out.push_str("options ");
        out.push_str(&options.join(" "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dns: &[&str], search: &[&str], options: &[&str], hosts: &[&str]) -> DnsConfig {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        DnsConfig::new(
            &s(dns),
            &s(search),
            &s(options),
            &s(hosts),
            Some("172.17.0.1".parse().expect("ip")),
        )
        .expect("valid")
    }

    const HOST: &str =
        "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan corp\noptions edns0\n";

    fn files_for(dns: &DnsConfig, mode: &NetworkFiles) -> (String, String) {
        files_with(dns, mode, &Resolver::Host)
    }

    fn files_with(dns: &DnsConfig, mode: &NetworkFiles, resolver: &Resolver) -> (String, String) {
        apply(
            dns,
            mode,
            resolver,
            (files::HOSTS.to_owned(), files::resolv_conf(Some(HOST))),
            Some(HOST),
        )
    }

    #[test]
    fn without_settings_the_files_are_untouched() {
        let (hosts, resolv) = files_for(&DnsConfig::default(), &NetworkFiles::Own);
        assert_eq!(hosts, files::HOSTS);
        assert_eq!(resolv, files::resolv_conf(Some(HOST)));
    }

    #[test]
    fn each_given_list_replaces_the_hosts() {
        let (_, resolv) = files_for(&config(&["1.1.1.1"], &[], &[], &[]), &NetworkFiles::Own);
        assert_eq!(
            resolv,
            "nameserver 1.1.1.1\nsearch lan corp\noptions edns0\n"
        );
        let (_, resolv) = files_for(
            &config(&[], &["example.com"], &["ndots:2"], &[]),
            &NetworkFiles::Own,
        );
        assert_eq!(
            resolv,
            "nameserver 10.0.0.2\nsearch example.com\noptions ndots:2\n"
        );
        let (_, resolv) = files_for(&config(&["9.9.9.9"], &["."], &[], &[]), &NetworkFiles::Host);
        assert_eq!(resolv, "nameserver 9.9.9.9\noptions edns0\n");
    }

    #[test]
    fn extra_hosts_follow_the_default_records() {
        let dns = config(&[], &[], &[], &["db:10.0.0.5", "gw:host-gateway"]);
        let (hosts, resolv) = files_for(&dns, &NetworkFiles::Own);
        assert_eq!(
            hosts,
            format!("{}10.0.0.5\tdb\n172.17.0.1\tgw\n", files::HOSTS)
        );
        assert_eq!(resolv, files::resolv_conf(Some(HOST)), "resolver untouched");
        // On the host's network the host's file is not the base (moby
        // builds the file when extra hosts are set).
        let (hosts, _) = apply(
            &dns,
            &NetworkFiles::Host,
            &Resolver::Host,
            ("1.2.3.4 hostonly\n".to_owned(), String::new()),
            None,
        );
        assert!(hosts.starts_with(files::HOSTS) && hosts.ends_with("172.17.0.1\tgw\n"));
    }

    #[test]
    fn the_policys_servers_come_after_the_containers_own() {
        let policy = Resolver::Servers(vec!["192.0.2.53".parse().unwrap()]);
        let (_, resolv) = files_with(&DnsConfig::default(), &NetworkFiles::Own, &policy);
        assert_eq!(
            resolv,
            "nameserver 192.0.2.53\nsearch lan corp\noptions edns0\n"
        );
        let (_, resolv) = files_with(
            &config(&[], &["example.com"], &[], &[]),
            &NetworkFiles::Own,
            &policy,
        );
        assert_eq!(
            resolv,
            "nameserver 192.0.2.53\nsearch example.com\noptions edns0\n"
        );
        let (_, resolv) = files_with(
            &config(&["1.1.1.1"], &[], &[], &[]),
            &NetworkFiles::Own,
            &policy,
        );
        assert_eq!(
            resolv,
            "nameserver 1.1.1.1\nsearch lan corp\noptions edns0\n"
        );
    }

    #[test]
    fn the_embedded_server_stays_the_name_server_with_dns_set() {
        let embedded = Resolver::Embedded("10.9.0.1".parse().unwrap());
        let given = "nameserver 10.9.0.1\nsearch lan corp\noptions edns0\n";
        let files_given = |dns: &DnsConfig| {
            apply(
                dns,
                &NetworkFiles::Own,
                &embedded,
                (String::new(), given.to_owned()),
                Some(HOST),
            )
            .1
        };
        // `--dns` alone: the server forwards to it, the file is as given.
        assert_eq!(files_given(&config(&["1.1.1.1"], &[], &[], &[])), given);
        // `--dns-search` and `--dns-option` still go into the file.
        assert_eq!(
            files_given(&config(&["1.1.1.1"], &["example.com"], &["ndots:1"], &[])),
            "nameserver 10.9.0.1\nsearch example.com\noptions ndots:1\n"
        );
    }
}
