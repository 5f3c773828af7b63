//! berth's nftables table: masquerade, published ports, internal networks.
//!
//! One table of the `inet` family per daemon (its name is configurable so
//! test daemons never share one), rebuilt whole from the driver's state and
//! applied as one `nft -f` transaction on every change: the script creates
//! the table (so its deletion cannot fail), deletes it and defines it anew,
//! and nft commits the batch atomically, so packets see the old ruleset or
//! the new one, never a half (nft(8), "-f"). Reconciling after a crash is
//! the same operation. Every rule carries a comment naming the network or
//! the container it exists for, so what belongs to whom is visible in
//! `nft list table`, and a container's rules go exactly when its endpoint
//! leaves the state.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::linux::thread::in_netns;
use crate::{EndpointSpec, NetworkError, NetworkSpec, PortBinding};

/// The name of berth's nftables table, checked once: an nft identifier
/// (a letter, then letters, digits or `_`; at most 32 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<TableName, NetworkError> {
        let ok = name.len() <= 32
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(NetworkError::Invalid {
                what: "nftables table name",
                value: name.to_string(),
                reason: "must be a letter then up to 31 letters, digits or '_'",
            });
        }
        Ok(TableName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Applies and deletes berth's table.
pub trait Firewall: Send + Sync {
    /// Replaces `table` with `script` (as [`render`] makes it) atomically.
    fn apply(&self, table: &TableName, script: &str) -> Result<(), NetworkError>;
    /// Deletes `table`; a missing table is success.
    fn delete(&self, table: &TableName) -> Result<(), NetworkError>;
}

/// Each published port of `endpoint` with each of the endpoint's addresses
/// of a family the port is published for, and that family's nft name
/// (`ip`, `ip6`). A port published on an address, `0.0.0.0` or `::` is for
/// that family only (moby `configurePortBindingIPv4`/`IPv6` skip the other
/// family's address); one without an address is for both.
fn published_targets(
    endpoint: &EndpointSpec,
) -> impl Iterator<Item = (&PortBinding, IpAddr, &'static str)> {
    endpoint.ports.iter().flat_map(move |port| {
        endpoint
            .addresses
            .iter()
            .map(|a| a.addr())
            .filter(move |addr| port.host_ip.is_none_or(|ip| ip.is_ipv4() == addr.is_ipv4()))
            .map(move |addr| (port, addr, if addr.is_ipv4() { "ip" } else { "ip6" }))
    })
}

/// Renders the whole table for `networks` and their `endpoints`.
///
/// Endpoints whose network is not in `networks` get no rules. Ports are
/// mapped to the endpoint's address of the same family; the driver refuses
/// a port that has none before it gets here.
pub fn render(table: &TableName, networks: &[NetworkSpec], endpoints: &[EndpointSpec]) -> String {
    let t = table.as_str();
    let mut networks: Vec<&NetworkSpec> = networks.iter().collect();
    networks.sort_by(|a, b| a.id.cmp(&b.id));
    let mut endpoints: Vec<&EndpointSpec> = endpoints
        .iter()
        .filter(|e| networks.iter().any(|n| n.id == e.network_id))
        .collect();
    endpoints
        .sort_by(|a, b| (&a.container_id, &a.network_id).cmp(&(&b.container_id, &b.network_id)));

    let mut published = String::new();
    for endpoint in &endpoints {
        for (port, addr, family) in published_targets(endpoint) {
            let target = match addr {
                IpAddr::V4(a) => format!("{a}:{}", port.container_port),
                IpAddr::V6(a) => format!("[{a}]:{}", port.container_port),
            };
            // An explicit `0.0.0.0` or `::` gets its family's rule for
            // every address of the host.
            let destination = match port.host_ip {
                Some(ip) if !ip.is_unspecified() => format!("{family} daddr {ip}"),
                _ if addr.is_ipv4() => "meta nfproto ipv4".to_owned(),
                // Never [::1]: a packet DNATed from it leaves the host
                // with a loopback source, and the reply, turned back
                // to ::1, is not routed from the bridge to `lo` (IPv6
                // has no `route_localnet`; loopback needs a strict
                // route lookup), so the client would hang. Left alone,
                // it meets berthd's held socket and is refused at once.
                // kube-proxy leaves ::1 out of its IPv6 node ports the
                // same way (`! -d ::1/128`).
                _ => "ip6 daddr != ::1".to_owned(),
            };
            let _ = writeln!(
                published,
                "\t\t{destination} {proto} dport {hp} dnat {family} to {target} comment \"container:{c}\"",
                proto = port.proto.as_str(),
                hp = port.host_port,
                c = endpoint.container_id,
            );
        }
    }

    let mut postrouting = String::new();
    // Bridges do not talk to each other (moby's DOCKER-ISOLATION chains):
    // these drops come before every accept below.
    let mut forward = String::new();
    for network in &networks {
        for other in networks.iter().filter(|o| o.id != network.id) {
            let _ = writeln!(
                forward,
                "\t\tiifname \"{}\" oifname \"{}\" drop comment \"network:{}\"",
                network.bridge, other.bridge, network.id
            );
        }
    }
    for network in &networks {
        let br = network.bridge.as_str();
        let tag = format!("comment \"network:{}\"", network.id);
        if network.internal {
            // moby `bridge/setup_ip_tables.go` (setINC / internal): no
            // traffic leaves or enters an internal network's bridge.
            let _ = writeln!(
                forward,
                "\t\tiifname \"{br}\" oifname != \"{br}\" drop {tag}"
            );
            let _ = writeln!(
                forward,
                "\t\toifname \"{br}\" iifname != \"{br}\" drop {tag}"
            );
            continue;
        }
        // What the containers send (out, and between them when bridged
        // traffic meets this hook), and what answers it.
        let _ = writeln!(forward, "\t\tiifname \"{br}\" accept {tag}");
        let _ = writeln!(
            forward,
            "\t\toifname \"{br}\" ct state established,related accept {tag}"
        );
        // Into the bridge from elsewhere, only to published ports, as
        // Docker 28 (`DOCKER` chain): a connection to a host port DNATed
        // here, or one addressed to a container's published port directly
        // (per-port ACCEPT); any other port of a container is dropped, so a
        // machine with a route to the subnet cannot reach what was never
        // published (`! -i BRIDGE -o BRIDGE -j DROP`).
        let _ = writeln!(forward, "\t\toifname \"{br}\" ct status dnat accept {tag}");
        for endpoint in endpoints.iter().filter(|e| e.network_id == network.id) {
            for (port, addr, family) in published_targets(endpoint) {
                let _ = writeln!(
                    forward,
                    "\t\toifname \"{br}\" {family} daddr {addr} {} dport {} accept comment \"container:{}\"",
                    port.proto.as_str(),
                    port.container_port,
                    endpoint.container_id,
                );
            }
        }
        let _ = writeln!(forward, "\t\toifname \"{br}\" drop {tag}");
        for gateway in &network.gateways {
            let family = if gateway.is_ipv6() { "ip6" } else { "ip" };
            let subnet = gateway.subnet();
            // Outbound NAT for what leaves by another interface (moby's
            // `POSTROUTING -s SUBNET ! -o BRIDGE -j MASQUERADE`).
            let _ = writeln!(
                postrouting,
                "\t\t{family} saddr {subnet} oifname != \"{br}\" masquerade {tag}"
            );
            // Hairpin: a container reaching a published port of a
            // container on its own bridge would get the reply straight
            // from the peer's address, which it never asked; masquerading
            // the DNATed connection sends the reply back through us.
            let _ = writeln!(
                postrouting,
                "\t\toifname \"{br}\" {family} saddr {subnet} ct status dnat masquerade {tag}"
            );
        }
        // The host reaching a published port at 127.0.0.1: the DNATed
        // packet leaves with a loopback source (allowed by route_localnet)
        // that the container cannot answer; moby masquerades it
        // (`POSTROUTING -o BRIDGE -m addrtype --src-type LOCAL`).
        let _ = writeln!(
            postrouting,
            "\t\toifname \"{br}\" ip saddr 127.0.0.0/8 masquerade {tag}"
        );
    }

    format!(
        "table inet {t} {{}}\n\
         delete table inet {t}\n\
         table inet {t} {{\n\
         \tchain published {{\n{published}\t}}\n\
         \tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tfib daddr type local jump published\n\
         \t}}\n\
         \tchain output {{\n\
         \t\ttype nat hook output priority -100; policy accept;\n\
         \t\tfib daddr type local jump published\n\
         \t}}\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n{postrouting}\t}}\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy accept;\n{forward}\t}}\n\
         }}\n"
    )
}

/// The real firewall: the `nft` command, run in the host namespace.
#[derive(Debug, Clone)]
pub struct NftFirewall {
    host_netns: Option<PathBuf>,
    nft: PathBuf,
}

/// How long one `nft` run may take before it is killed: a bound on a hang,
/// not an expectation (a batch takes milliseconds).
const NFT_TIMEOUT: Duration = Duration::from_secs(30);

impl NftFirewall {
    /// Runs `nft` from PATH in the daemon's own namespace.
    pub fn new() -> NftFirewall {
        NftFirewall {
            host_netns: None,
            nft: PathBuf::from("nft"),
        }
    }

    /// Runs `nft` inside the namespace bind-mounted at `host_netns`.
    pub fn in_namespace(host_netns: PathBuf) -> NftFirewall {
        NftFirewall {
            host_netns: Some(host_netns),
            nft: PathBuf::from("nft"),
        }
    }

    /// `nft list table inet TABLE`, `None` when there is no such table.
    pub fn list(&self, table: &TableName) -> Result<Option<String>, NetworkError> {
        let args = ["list", "table", "inet", table.as_str()];
        match self.run(table, &args, None) {
            Ok(out) => Ok(Some(out)),
            Err(NetworkError::Nft { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn run(
        &self,
        table: &TableName,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, NetworkError> {
        let netns = self.host_netns.as_deref();
        in_netns(netns, || run_nft(&self.nft, table, args, input))
    }
}

impl Default for NftFirewall {
    fn default() -> Self {
        NftFirewall::new()
    }
}

fn run_nft(
    nft: &Path,
    table: &TableName,
    args: &[&str],
    input: Option<&str>,
) -> Result<String, NetworkError> {
    let io = |op| {
        let path = nft.to_path_buf();
        move |source| NetworkError::Io { op, path, source }
    };
    let mut child = Command::new(nft)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("run"))?;
    if let (Some(script), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(script.as_bytes())
            .map_err(io("write the ruleset to"))?;
    }
    let deadline = Instant::now() + NFT_TIMEOUT;
    while child.try_wait().map_err(io("wait for"))?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(NetworkError::Nft {
                table: table.as_str().to_string(),
                stderr: format!("killed after {NFT_TIMEOUT:?}"),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let output = child
        .wait_with_output()
        .map_err(io("collect the output of"))?;
    if !output.status.success() {
        return Err(NetworkError::Nft {
            table: table.as_str().to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Firewall for NftFirewall {
    fn apply(&self, table: &TableName, script: &str) -> Result<(), NetworkError> {
        self.run(table, &["-f", "-"], Some(script)).map(drop)
    }

    fn delete(&self, table: &TableName) -> Result<(), NetworkError> {
        let t = table.as_str();
        let script = format!("table inet {t} {{}}\ndelete table inet {t}\n");
        self.run(table, &["-f", "-"], Some(&script)).map(drop)
    }
}
