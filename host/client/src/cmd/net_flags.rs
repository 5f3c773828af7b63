//! `create`/`run` flags for the container's name resolution (`--dns`,
//! `--dns-search`, `--dns-option`, `--add-host`), sent as the docker CLI
//! sends them (`cli/command/container/opts.go`: the lists as given).
//! berthd checks each value at create.

use berth_api::container::HostConfig;
use clap::Args;

/// DNS flags.
#[derive(Debug, Clone, Default, Args)]
pub struct NetArgs {
    /// Set custom DNS servers.
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_options: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip, host=ip, host:host-gateway).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
}

impl NetArgs {
    /// Writes the flags into `host`.
    pub fn apply(&self, host: &mut HostConfig) {
        host.dns = self.dns.clone();
        host.dns_search = self.dns_search.clone();
        host.dns_options = self.dns_options.clone();
        host.extra_hosts = self.add_hosts.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_flags_are_sent_as_given() {
        let args = NetArgs {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["lan".into()],
            dns_options: vec!["ndots:2".into()],
            add_hosts: vec!["db:10.0.0.5".into(), "gw:host-gateway".into()],
        };
        let mut host = HostConfig::default();
        args.apply(&mut host);
        assert_eq!(host.dns, ["1.1.1.1"]);
        assert_eq!(host.dns_search, ["lan"]);
        assert_eq!(host.dns_options, ["ndots:2"]);
        assert_eq!(host.extra_hosts, ["db:10.0.0.5", "gw:host-gateway"]);
    }
}
