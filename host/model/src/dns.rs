//! A container's own name resolution settings: `--dns`, `--dns-search`,
//! `--dns-option` and `--add-host` (`HostConfig.Dns`, `DnsSearch`,
//! `DnsOptions`, `ExtraHosts`), validated once at create and rendered by the
//! exec driver into the container's `/etc/resolv.conf` and `/etc/hosts`.
//!
//! Every value ends up as one line of a file the container's resolver
//! parses, so nothing here may carry white space or a control character: a
//! newline in a search domain or a host name would write a line of the
//! caller's choosing (a name server, an `options` line) into the file.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// moby's name for the address of the host as containers reach it
/// (`opts.HostGatewayName`), which `--add-host name:host-gateway` asks for.
pub const HOST_GATEWAY: &str = "host-gateway";

/// A DNS setting moby refuses, with moby's message where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// A `--dns` entry that is not an IP address (docker `opts.ValidateIPAddress`).
    #[error("IP address is not correctly formatted: {0}")]
    NameServer(String),
    /// A `--dns-search` entry (docker `opts.ValidateDNSSearch`).
    #[error("{0} is not a valid domain")]
    SearchDomain(String),
    /// A `--dns-option` entry that would not stay one word of the
    /// `options` line.
    #[error("invalid DNS option {0:?}: it must be one word without white space")]
    Option(String),
    /// An `--add-host` entry without `name:ip` (moby `opts.ValidateExtraHost`).
    #[error("bad format for add-host: {0:?}")]
    ExtraHostFormat(String),
    /// An `--add-host` address (moby `opts.ValidateExtraHost`).
    #[error("invalid IP address in add-host: {0:?}")]
    ExtraHostAddress(String),
    /// `host-gateway` with no default bridge to take the address from
    /// (moby `daemon/container_operations.go`).
    #[error("unable to derive the IP value for host-gateway")]
    NoHostGateway,
}

/// One `--add-host` entry: `addr\tname` in the container's `/etc/hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ExtraHostRecord", into = "ExtraHostRecord")]
pub struct ExtraHost {
    name: String,
    addr: IpAddr,
}

#[derive(Serialize, Deserialize)]
struct ExtraHostRecord {
    name: String,
    addr: IpAddr,
}

impl TryFrom<ExtraHostRecord> for ExtraHost {
    type Error = DnsError;
    fn try_from(record: ExtraHostRecord) -> Result<ExtraHost, DnsError> {
        if !is_word(&record.name) {
            return Err(DnsError::ExtraHostFormat(record.name));
        }
        Ok(ExtraHost {
            name: record.name,
            addr: record.addr,
        })
    }
}

impl From<ExtraHost> for ExtraHostRecord {
    fn from(host: ExtraHost) -> ExtraHostRecord {
        ExtraHostRecord {
            name: host.name,
            addr: host.addr,
        }
    }
}

impl ExtraHost {
    /// Parses `name:ip`, `name=ip` or `name:[ip]` as moby's
    /// `opts.ValidateExtraHost` (docker 25+ accepts `=`; the address may be
    /// bracketed), `host-gateway` standing for `host_gateway`.
    pub fn parse(entry: &str, host_gateway: Option<IpAddr>) -> Result<ExtraHost, DnsError> {
        let (name, addr) = entry
            .split_once('=')
            // An IPv6 address has colons: split on the first one only.
            .or_else(|| entry.split_once(':'))
            .ok_or_else(|| DnsError::ExtraHostFormat(entry.to_owned()))?;
        // moby refuses a `:` in the name; berth also refuses white space,
        // which would add names (or lines) to the hosts file.
        if name.contains(':') || !is_word(name) {
            return Err(DnsError::ExtraHostFormat(entry.to_owned()));
        }
        let addr = if addr == HOST_GATEWAY {
            host_gateway.ok_or(DnsError::NoHostGateway)?
        } else {
            let bare = addr
                .strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .filter(|a| !a.is_empty())
                .unwrap_or(addr);
            bare.parse()
                .map_err(|_| DnsError::ExtraHostAddress(addr.to_owned()))?
        };
        Ok(ExtraHost {
            name: name.to_owned(),
            addr,
        })
    }

    /// The host name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
}

impl fmt::Display for ExtraHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}", self.addr, self.name)
    }
}

/// Where a container on a network of its own sends its queries, as its
/// networks decide it (the engine's `name_service::resolver_of`); the exec
/// driver writes its `resolv.conf` from it with the container's
/// [`DnsConfig`] applied over it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resolver {
    /// The host's resolvers (the default bridge, or no network).
    #[default]
    Host,
    /// These name servers, in order: the ones the network policy planned
    /// for the container on a network without the embedded DNS server
    /// (its `--dns` still goes first).
    Servers(Vec<IpAddr>),
    /// The embedded DNS server listening at this address (the gateway of
    /// the container's first user-defined network), the only name server
    /// of the file even with `--dns`: the server forwards the names it
    /// does not know to the container's `--dns` or policy's servers (moby
    /// `sandbox_dns_unix.go` `setupDNS`: `nameserver 127.0.0.11`, the
    /// `--dns` servers become the resolver's external servers).
    Embedded(IpAddr),
}

impl Resolver {
    /// The embedded DNS server's address, when it is the resolver.
    pub fn embedded(&self) -> Option<IpAddr> {
        match self {
            Resolver::Embedded(addr) => Some(*addr),
            Resolver::Host | Resolver::Servers(_) => None,
        }
    }
}

/// A container's DNS settings; empty lists mean "as the host has them".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DnsRecord", into = "DnsRecord")]
pub struct DnsConfig {
    nameservers: Vec<IpAddr>,
    search: Vec<String>,
    options: Vec<String>,
    extra_hosts: Vec<ExtraHost>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct DnsRecord {
    nameservers: Vec<IpAddr>,
    search: Vec<String>,
    options: Vec<String>,
    extra_hosts: Vec<ExtraHost>,
}

impl TryFrom<DnsRecord> for DnsConfig {
    type Error = DnsError;
    fn try_from(record: DnsRecord) -> Result<DnsConfig, DnsError> {
        for domain in &record.search {
            check_search(domain)?;
        }
        for option in &record.options {
            check_option(option)?;
        }
        Ok(DnsConfig {
            nameservers: record.nameservers,
            search: record.search,
            options: record.options,
            extra_hosts: record.extra_hosts,
        })
    }
}

impl From<DnsConfig> for DnsRecord {
    fn from(config: DnsConfig) -> DnsRecord {
        DnsRecord {
            nameservers: config.nameservers,
            search: config.search,
            options: config.options,
            extra_hosts: config.extra_hosts,
        }
    }
}

/// Not empty, no white space, no control character.
fn is_word(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// docker `opts.ValidateDNSSearch`/`validateDomain`: `.` (no search
/// domain), or labels of letters, digits and inner hyphens joined by dots,
/// an optional final dot, at most 255 bytes.
fn check_search(domain: &str) -> Result<(), DnsError> {
    if domain == "." {
        return Ok(());
    }
    let bad = || DnsError::SearchDomain(domain.to_owned());
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.is_empty() || domain.len() > 255 {
        return Err(bad());
    }
    for label in trimmed.split('.') {
        let valid = !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_option(option: &str) -> Result<(), DnsError> {
    if is_word(option) {
        Ok(())
    } else {
        Err(DnsError::Option(option.to_owned()))
    }
}

impl DnsConfig {
    /// Checks each setting as moby does (`host_gateway`: the default
    /// bridge's gateway, for `host-gateway`).
    pub fn new(
        nameservers: &[String],
        search: &[String],
        options: &[String],
        extra_hosts: &[String],
        host_gateway: Option<IpAddr>,
    ) -> Result<DnsConfig, DnsError> {
        let nameservers = nameservers
            .iter()
            .map(|ns| ns.parse().map_err(|_| DnsError::NameServer(ns.clone())))
            .collect::<Result<_, _>>()?;
        for domain in search {
            check_search(domain)?;
        }
        for option in options {
            check_option(option)?;
        }
        let extra_hosts = extra_hosts
            .iter()
            .map(|entry| ExtraHost::parse(entry, host_gateway))
            .collect::<Result<_, _>>()?;
        Ok(DnsConfig {
            nameservers,
            search: search.to_vec(),
            options: options.to_vec(),
            extra_hosts,
        })
    }

    /// `--dns`.
    pub fn nameservers(&self) -> &[IpAddr] {
        &self.nameservers
    }

    /// `--dns-search` (`.` for none).
    pub fn search(&self) -> &[String] {
        &self.search
    }

    /// `--dns-option`.
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// `--add-host`, addresses resolved.
    pub fn extra_hosts(&self) -> &[ExtraHost] {
        &self.extra_hosts
    }

    /// Whether any resolver setting (not `--add-host`) is given: then the
    /// container's `resolv.conf` is built rather than taken from the host.
    pub fn overrides_resolver(&self) -> bool {
        !(self.nameservers.is_empty() && self.search.is_empty() && self.options.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Option<IpAddr> {
        Some("172.17.0.1".parse().expect("ip"))
    }

    #[test]
    fn extra_hosts_parse_as_moby() {
        let host = |e: &str| ExtraHost::parse(e, gateway()).map(|h| h.to_string());
        assert_eq!(host("db:10.0.0.5"), Ok("10.0.0.5\tdb".into()));
        assert_eq!(host("db=10.0.0.5"), Ok("10.0.0.5\tdb".into()));
        assert_eq!(host("v6:2001:db8::1"), Ok("2001:db8::1\tv6".into()));
        assert_eq!(host("v6=[2001:db8::1]"), Ok("2001:db8::1\tv6".into()));
        assert_eq!(host("gw:host-gateway"), Ok("172.17.0.1\tgw".into()));
        assert_eq!(
            host("db:10.0.0.300").expect_err("address").to_string(),
            r#"invalid IP address in add-host: "10.0.0.300""#
        );
        for bad in ["db", ":10.0.0.5", "a b:10.0.0.5", "a\nnameserver:1.1.1.1"] {
            assert_eq!(
                host(bad).expect_err(bad).to_string(),
                format!("bad format for add-host: {bad:?}")
            );
        }
        assert_eq!(
            ExtraHost::parse("gw:host-gateway", None),
            Err(DnsError::NoHostGateway)
        );
    }

    #[test]
    fn resolver_settings_are_checked() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let ok = DnsConfig::new(
            &s(&["1.1.1.1", "2001:db8::53"]),
            &s(&["example.com", "corp.example.", "."]),
            &s(&["ndots:2", "edns0"]),
            &[],
            None,
        )
        .expect("valid");
        assert!(ok.overrides_resolver());
        assert!(!DnsConfig::default().overrides_resolver());
        let err = |dns: &[&str], search: &[&str], opts: &[&str]| {
            DnsConfig::new(&s(dns), &s(search), &s(opts), &[], None)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            err(&["1.1.1"], &[], &[]),
            "IP address is not correctly formatted: 1.1.1"
        );
        assert_eq!(
            err(&[], &["-bad.example"], &[]),
            "-bad.example is not a valid domain"
        );
        assert_eq!(
            err(&[], &["a.com\nnameserver 6.6.6.6"], &[]),
            "a.com\nnameserver 6.6.6.6 is not a valid domain"
        );
        assert!(err(&[], &[], &["ndots:1 rotate\n"]).starts_with("invalid DNS option"));
    }

    #[test]
    fn the_record_reads_back_through_the_checks() {
        let config = DnsConfig::new(
            &["8.8.8.8".into()],
            &["lan".into()],
            &[],
            &["db:10.0.0.5".into()],
            None,
        )
        .expect("valid");
        let json = serde_json::to_string(&config).expect("json");
        assert_eq!(
            serde_json::from_str::<DnsConfig>(&json).expect("back"),
            config
        );
        let bad = r#"{"search":["a b"]}"#;
        assert!(serde_json::from_str::<DnsConfig>(bad).is_err());
        assert_eq!(
            serde_json::from_str::<DnsConfig>("{}").expect("empty"),
            DnsConfig::default()
        );
    }
}
