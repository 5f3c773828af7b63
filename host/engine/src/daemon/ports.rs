//! Host port reservations for published ports (moby's
//! `libnetwork/portallocator` and `portmapper`): which host port each
//! [`PortRequest`] of a starting container takes, persisted in the store so
//! that a daemon restart neither loses nor duplicates one, and held on the
//! host by a bound socket.
//!
//! Why berthd holds a socket: the DNAT rule catches traffic for the port
//! before any local socket sees it, so a host process that binds the same
//! port later would start without an error and never receive a packet.
//! moby reserves the port the same way (without the userland proxy,
//! `portmapper` binds it and does not listen). Both sockets are bound and
//! never listen: a tcp connection the DNAT rules do not catch (an address
//! or family they do not cover) finds no listener and is refused with a
//! reset at once, where a listening socket that never accepts would leave
//! it hanging in the backlog. Another bind of the port still fails with
//! `EADDRINUSE`: the kernel lets two sockets share a port only when both
//! set `SO_REUSEADDR` (or both `SO_REUSEPORT`) and ours sets neither
//! (`inet_csk_bind_conflict`, net/ipv4/inet_connection_sock.c). After
//! `kill -9` the sockets are gone with the process;
//! [`PortAllocator::restore`] binds them again for the containers still
//! running.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use berth_model::network::{PortBinding, Protocol};
use berth_model::ports::{HostPorts, PortRequest};
use berth_store::{Store, Table, WriteTxn};
use serde::{Deserialize, Serialize};

use crate::job::{ErrorKind, JobError};

use super::store_error;

/// Reserved host ports: `<proto>/<port>/<host ip or *>` → the reservation.
pub const PORTS: Table<PortReservation> = Table::new("port_reservations");

/// moby's fallback ephemeral range (`portallocator.DefaultPortRangeStart`,
/// `DefaultPortRangeEnd`) when `ip_local_port_range` cannot be read.
pub const DEFAULT_EPHEMERAL: (u16, u16) = (49153, 65535);

/// Where the kernel keeps the ephemeral range moby allocates from.
const PORT_RANGE_FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// One reserved host port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortReservation {
    /// The container it is reserved for.
    pub container_id: String,
    /// The binding as the driver applies it.
    pub binding: PortBinding,
}

fn key(binding: &PortBinding) -> String {
    let ip = binding
        .host_ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "*".to_owned());
    format!("{}/{}/{ip}", binding.proto, binding.host_port)
}

/// A bound socket that keeps a host port; dropping it frees the port.
pub type HeldPort = Box<dyn Send + Sync>;

/// The one kernel side effect of reservations: binding a host port.
pub trait PortHolder: Send + Sync {
    /// Binds `port` of `proto` on `ip` (`None`: every address), without
    /// listening; fails with `EADDRINUSE` when the host uses it.
    fn hold(&self, proto: Protocol, ip: Option<IpAddr>, port: u16) -> std::io::Result<HeldPort>;
}

/// The host's sockets.
#[derive(Debug, Default)]
pub struct SocketHolder;

impl PortHolder for SocketHolder {
    fn hold(&self, proto: Protocol, ip: Option<IpAddr>, port: u16) -> std::io::Result<HeldPort> {
        // Every address: the IPv6 wildcard made dual-stack (it also takes
        // the IPv4 port); the IPv4 wildcard when the host has no IPv6. An
        // explicit `::` holds the IPv6 port only, so that the IPv4 one
        // stays free for another publication, as its rules catch IPv6 only.
        let every_family = ip.is_none();
        let candidates: Vec<IpAddr> = match ip {
            Some(ip) => vec![ip],
            None => vec![
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ],
        };
        let mut last = None;
        for ip in candidates {
            let held = bind_unlistened(proto, SocketAddr::new(ip, port), every_family);
            match held {
                Ok(socket) => return Ok(socket),
                // No IPv6 on this host: the IPv4 wildcard next.
                Err(e)
                    if ip.is_ipv6()
                        && ip.is_unspecified()
                        && e.kind() != std::io::ErrorKind::AddrInUse =>
                {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no address to bind")))
    }
}

/// A socket of `proto` bound to `addr` that never listens (see the module
/// doc). The IPv6 wildcard is set explicitly, whatever
/// `net.ipv6.bindv6only` says: dual-stack when it holds `every_family`
/// (so that it holds the IPv4 port too), IPv6 only when it does not.
fn bind_unlistened(
    proto: Protocol,
    addr: SocketAddr,
    every_family: bool,
) -> std::io::Result<HeldPort> {
    let (kind, protocol) = match proto {
        Protocol::Tcp => (socket2::Type::STREAM, socket2::Protocol::TCP),
        Protocol::Udp => (socket2::Type::DGRAM, socket2::Protocol::UDP),
        Protocol::Sctp => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "sctp ports cannot be held",
            ));
        }
    };
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(!every_family)?;
    }
    socket.bind(&addr.into())?;
    Ok(Box::new(socket))
}

/// The host port allocator: the store's reservations and the sockets that
/// hold them.
pub struct PortAllocator {
    holder: Arc<dyn PortHolder>,
    held: Mutex<HashMap<String, Vec<HeldPort>>>,
    ephemeral: (u16, u16),
}

impl std::fmt::Debug for PortAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortAllocator")
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

/// moby `portallocator.getDynamicPortRange`: the kernel's
/// `ip_local_port_range`, else the default.
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string(PORT_RANGE_FILE)
        .ok()
        .and_then(|text| {
            let mut words = text.split_whitespace().map(|w| w.parse::<u16>().ok());
            match (words.next()??, words.next()??) {
                (first, last) if first > 0 && first <= last => Some((first, last)),
                _ => None,
            }
        })
        .unwrap_or(DEFAULT_EPHEMERAL)
}

/// Whether two reservations of one proto and port collide: the same
/// address, or one of them on every address.
/// Whether publications on host addresses `a` and `b` would share a port:
/// every address (`None`) shares with all, a family's unspecified address
/// with every address of that family (the kernel refuses the bind the
/// same way), other addresses only with themselves.
fn overlaps(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
        }
        _ => true,
    }
}

fn shown_ip(ip: Option<IpAddr>) -> String {
    ip.map(|ip| ip.to_string())
        .unwrap_or_else(|| "0.0.0.0".to_owned())
}

/// moby's `ErrPortAlreadyAllocated` as the API reports it.
fn already_allocated(ip: Option<IpAddr>, ports: &str) -> JobError {
    JobError::new(
        ErrorKind::InvalidParameter,
        format!(
            "Bind for {}:{ports} failed: port is already allocated",
            shown_ip(ip)
        ),
    )
}

impl PortAllocator {
    /// An allocator binding through `holder`, taking ephemeral ports from
    /// `ephemeral` (inclusive).
    pub fn new(holder: Arc<dyn PortHolder>, ephemeral: (u16, u16)) -> PortAllocator {
        PortAllocator {
            holder,
            held: Mutex::new(HashMap::new()),
            ephemeral,
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<HeldPort>>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves a host port for each of `requests` for container `id`, in
    /// one store transaction, and holds each on the host. Either every
    /// request gets its port or nothing is reserved or held. Blocking.
    pub fn reserve(
        &self,
        store: &Store,
        id: &str,
        requests: &[PortRequest],
    ) -> Result<Vec<PortBinding>, JobError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut sockets = Vec::new();
        let bindings = store.write(|txn| {
            // A container's earlier reservations (a start after a crash)
            // are given up first: they are re-decided now.
            let mut reserved = Vec::new();
            for (k, r) in txn
                .list(PORTS)
                .map_err(|e| store_error("failed to read the port reservations", e))?
            {
                if r.container_id == id {
                    txn.delete(PORTS, &k)
                        .map_err(|e| store_error("failed to release a port", e))?;
                } else {
                    reserved.push(r.binding);
                }
            }
            let mut bindings = Vec::new();
            for request in requests {
                let (binding, socket) = self.pick(request, &reserved)?;
                reserved.push(binding);
                sockets.push(socket);
                bindings.push(binding);
                Self::put(txn, id, binding)?;
            }
            Ok::<_, JobError>(bindings)
        })?;
        self.held()
            .entry(id.to_owned())
            .or_default()
            .extend(sockets);
        Ok(bindings)
    }

    fn put(txn: &mut WriteTxn, id: &str, binding: PortBinding) -> Result<(), JobError> {
        let reservation = PortReservation {
            container_id: id.to_owned(),
            binding,
        };
        txn.put(PORTS, &key(&binding), &reservation)
            .map_err(|e| store_error("failed to save a port reservation", e))
    }

    /// The first host port of `request` that no reservation has and the
    /// host lets berthd bind.
    fn pick(
        &self,
        request: &PortRequest,
        reserved: &[PortBinding],
    ) -> Result<(PortBinding, HeldPort), JobError> {
        let (first, last, ephemeral) = match request.host_ports {
            HostPorts::Ephemeral => (self.ephemeral.0, self.ephemeral.1, true),
            HostPorts::Range { first, last } => (first, last, false),
        };
        let proto = request.container.proto;
        let ip = request.host_ip;
        let mut last_error = None;
        for port in first..=last {
            let taken = reserved
                .iter()
                .any(|r| r.proto == proto && r.host_port == port && overlaps(r.host_ip, ip));
            if taken {
                continue;
            }
            match self.holder.hold(proto, ip, port) {
                Ok(socket) => {
                    let binding = PortBinding {
                        proto,
                        host_ip: ip,
                        host_port: port,
                        container_port: request.container.port,
                    };
                    return Ok((binding, socket));
                }
                Err(e) => last_error = Some(e),
            }
        }
        if ephemeral {
            // moby `portallocator.ErrAllPortsAllocated`.
            return Err(JobError::new(
                ErrorKind::Conflict,
                "all ports are allocated",
            ));
        }
        let ports = if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        };
        Err(match last_error {
            // The host has it (moby without the userland proxy:
            // `failed to bind host port ...`).
            Some(e) => JobError::new(
                ErrorKind::InvalidParameter,
                format!(
                    "failed to bind host port for {}:{ports}/{proto}: {e}",
                    shown_ip(ip)
                ),
            ),
            None => already_allocated(ip, &ports),
        })
    }

    /// Gives up container `id`'s reservations and closes their sockets.
    /// Blocking.
    pub fn release(&self, store: &Store, id: &str) -> Result<(), JobError> {
        // Most containers publish nothing: a read finds that without the
        // durable (fsynced) commit a write costs on every exit.
        let reserved = store
            .list(PORTS)
            .map_err(|e| store_error("failed to read the port reservations", e))?
            .into_iter()
            .any(|(_, r)| r.container_id == id);
        if !reserved {
            self.held().remove(id);
            return Ok(());
        }
        store.write(|txn| {
            for (k, r) in txn
                .list(PORTS)
                .map_err(|e| store_error("failed to read the port reservations", e))?
            {
                if r.container_id == id {
                    txn.delete(PORTS, &k)
                        .map_err(|e| store_error("failed to release a port", e))?;
                }
            }
            Ok::<_, JobError>(())
        })?;
        self.held().remove(id);
        Ok(())
    }

    /// The reservations of container `id`, as stored.
    pub fn bindings(&self, store: &Store, id: &str) -> Result<Vec<PortBinding>, JobError> {
        Ok(store
            .list(PORTS)
            .map_err(|e| store_error("failed to read the port reservations", e))?
            .into_iter()
            .filter(|(_, r)| r.container_id == id)
            .map(|(_, r)| r.binding)
            .collect())
    }

    /// At daemon start: the reservations of containers that are not
    /// `running` go (a crash between their stop and the release), those of
    /// running ones are held on the host again. A port the host took
    /// meanwhile is logged and stays reserved: the DNAT rule still owns it.
    /// Blocking.
    pub fn restore(&self, store: &Store, running: &dyn Fn(&str) -> bool) -> Result<(), JobError> {
        let kept = store.write(|txn| {
            let mut kept = Vec::new();
            for (k, r) in txn
                .list(PORTS)
                .map_err(|e| store_error("failed to read the port reservations", e))?
            {
                if running(&r.container_id) {
                    kept.push(r);
                } else {
                    txn.delete(PORTS, &k)
                        .map_err(|e| store_error("failed to release a port", e))?;
                }
            }
            Ok::<_, JobError>(kept)
        })?;
        let mut held = self.held();
        held.clear();
        for r in kept {
            let b = r.binding;
            match self.holder.hold(b.proto, b.host_ip, b.host_port) {
                Ok(socket) => held.entry(r.container_id).or_default().push(socket),
                Err(e) => tracing::warn!(
                    container = %r.container_id,
                    port = %key(&b),
                    error = %e,
                    "a published port could not be held again after a restart"
                ),
            }
        }
        Ok(())
    }

    /// How many sockets container `id` holds (for tests and inspection).
    pub fn held_count(&self, id: &str) -> usize {
        self.held().get(id).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use berth_model::ports::ContainerPort;

    use super::*;

    /// Records holds; the ports in `busy` are the host's own.
    #[derive(Default)]
    struct FakeHolder {
        busy: Mutex<BTreeSet<u16>>,
        holds: Mutex<Vec<(Protocol, Option<IpAddr>, u16)>>,
    }

    impl PortHolder for FakeHolder {
        fn hold(
            &self,
            proto: Protocol,
            ip: Option<IpAddr>,
            port: u16,
        ) -> std::io::Result<HeldPort> {
            if self.busy.lock().unwrap().contains(&port) {
                return Err(std::io::Error::from(std::io::ErrorKind::AddrInUse));
            }
            self.holds.lock().unwrap().push((proto, ip, port));
            Ok(Box::new(()))
        }
    }

    fn request(port: u16, proto: Protocol, ip: Option<&str>, host: HostPorts) -> PortRequest {
        PortRequest {
            container: ContainerPort { port, proto },
            host_ip: ip.map(|ip| ip.parse().unwrap()),
            host_ports: host,
        }
    }

    fn one(port: u16) -> HostPorts {
        HostPorts::Range {
            first: port,
            last: port,
        }
    }

    fn setup() -> (tempfile::TempDir, Store, Arc<FakeHolder>, PortAllocator) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let holder = Arc::new(FakeHolder::default());
        let alloc = PortAllocator::new(Arc::clone(&holder) as Arc<dyn PortHolder>, (40000, 40002));
        (dir, store, holder, alloc)
    }

    #[test]
    fn a_port_is_reserved_once_and_released_at_stop() {
        let (_dir, store, _holder, alloc) = setup();
        let web = [request(80, Protocol::Tcp, None, one(8080))];
        let got = alloc.reserve(&store, "a", &web).unwrap();
        assert_eq!(got[0].host_port, 8080);
        assert_eq!(alloc.held_count("a"), 1);
        let err = alloc.reserve(&store, "b", &web).unwrap_err();
        assert_eq!(
            err.message,
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        // Another address of the same port overlaps "every address".
        let local = [request(80, Protocol::Tcp, Some("127.0.0.1"), one(8080))];
        assert!(alloc.reserve(&store, "b", &local).is_err());
        // The same port over udp is another port.
        let udp = [request(80, Protocol::Udp, None, one(8080))];
        assert_eq!(alloc.reserve(&store, "b", &udp).unwrap()[0].host_port, 8080);
        alloc.release(&store, "a").unwrap();
        assert_eq!(alloc.held_count("a"), 0);
        assert_eq!(alloc.reserve(&store, "c", &web).unwrap()[0].host_port, 8080);
    }

    #[test]
    fn an_explicit_unspecified_address_takes_the_port_of_its_family_only() {
        let (_dir, store, holder, alloc) = setup();
        let v4 = [request(80, Protocol::Tcp, Some("0.0.0.0"), one(8080))];
        let v6 = [request(80, Protocol::Tcp, Some("::"), one(8080))];
        assert_eq!(alloc.reserve(&store, "a", &v4).unwrap()[0].host_port, 8080);
        assert_eq!(alloc.reserve(&store, "b", &v6).unwrap()[0].host_port, 8080);
        assert_eq!(
            holder.holds.lock().unwrap().as_slice(),
            [
                (Protocol::Tcp, Some("0.0.0.0".parse().unwrap()), 8080),
                (Protocol::Tcp, Some("::".parse().unwrap()), 8080)
            ]
        );
        for (ip, shown) in [
            (Some("0.0.0.0"), "0.0.0.0"),
            (Some("127.0.0.1"), "127.0.0.1"),
            (Some("::"), "::"),
            (Some("fd00::1"), "fd00::1"),
            (None, "0.0.0.0"),
        ] {
            let err = alloc
                .reserve(&store, "c", &[request(80, Protocol::Tcp, ip, one(8080))])
                .unwrap_err();
            assert_eq!(
                err.message,
                format!("Bind for {shown}:8080 failed: port is already allocated")
            );
        }
        // With only the IPv6 side taken, an IPv4 address is free.
        alloc.release(&store, "a").unwrap();
        let local = [request(80, Protocol::Tcp, Some("127.0.0.1"), one(8080))];
        assert_eq!(
            alloc.reserve(&store, "c", &local).unwrap()[0].host_port,
            8080
        );
    }

    #[test]
    fn ephemeral_ports_and_ranges_take_the_first_free_one() {
        let (_dir, store, holder, alloc) = setup();
        holder.busy.lock().unwrap().insert(40000);
        let any = request(80, Protocol::Tcp, None, HostPorts::Ephemeral);
        let got = alloc.reserve(&store, "a", &[any, any]).unwrap();
        assert_eq!(
            got.iter().map(|b| b.host_port).collect::<Vec<_>>(),
            [40001, 40002],
            "the host's own port is skipped"
        );
        let err = alloc.reserve(&store, "b", &[any]).unwrap_err();
        assert_eq!(err.message, "all ports are allocated");
        let range = request(
            80,
            Protocol::Tcp,
            None,
            HostPorts::Range {
                first: 40001,
                last: 40003,
            },
        );
        assert_eq!(
            alloc.reserve(&store, "b", &[range]).unwrap()[0].host_port,
            40003
        );
    }

    #[test]
    fn a_failed_reservation_leaves_nothing_reserved_or_held() {
        let (_dir, store, holder, alloc) = setup();
        holder.busy.lock().unwrap().insert(9090);
        let reqs = [
            request(80, Protocol::Tcp, None, one(8080)),
            request(81, Protocol::Tcp, None, one(9090)),
        ];
        let err = alloc.reserve(&store, "a", &reqs).unwrap_err();
        assert!(
            err.message
                .starts_with("failed to bind host port for 0.0.0.0:9090/tcp:"),
            "{}",
            err.message
        );
        assert!(store.list(PORTS).unwrap().is_empty());
        assert_eq!(alloc.held_count("a"), 0);
    }

    #[test]
    fn a_restart_keeps_the_running_containers_ports_and_holds_them_again() {
        let (_dir, store, holder, alloc) = setup();
        alloc
            .reserve(&store, "up", &[request(80, Protocol::Tcp, None, one(8080))])
            .unwrap();
        alloc
            .reserve(
                &store,
                "gone",
                &[request(80, Protocol::Tcp, None, one(8081))],
            )
            .unwrap();
        // A new daemon over the same store.
        let again = PortAllocator::new(Arc::clone(&holder) as Arc<dyn PortHolder>, (40000, 40002));
        again.restore(&store, &|id| id == "up").unwrap();
        assert_eq!(again.held_count("up"), 1);
        assert_eq!(again.bindings(&store, "up").unwrap()[0].host_port, 8080);
        assert!(again.bindings(&store, "gone").unwrap().is_empty());
        assert!(
            again
                .reserve(&store, "x", &[request(80, Protocol::Tcp, None, one(8080))])
                .is_err(),
            "no duplicate after the restart"
        );
    }

    #[test]
    fn the_real_holder_keeps_other_binders_off_the_port() {
        let held = SocketHolder
            .hold(Protocol::Tcp, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0)
            .expect("bind an ephemeral port");
        drop(held);
        // Bind a real port through the holder, then try std's listener on it.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let held = SocketHolder
            .hold(Protocol::Tcp, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), port)
            .expect("hold");
        let err = std::net::TcpListener::bind(("127.0.0.1", port)).expect_err("held");
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        drop(held);
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("free again");
        let udp = SocketHolder
            .hold(Protocol::Udp, None, port)
            .expect("udp wildcard");
        assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());
        drop(udp);
    }

    #[test]
    fn the_real_holder_of_one_family_leaves_the_other_familys_port_free() {
        let port = free_port();
        let v6 = SocketHolder
            .hold(Protocol::Tcp, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), port)
            .expect("hold [::]");
        let v4 = SocketHolder
            .hold(Protocol::Tcp, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port)
            .expect("0.0.0.0 is free beside an IPv6-only [::]");
        drop(v6);
        // And the other way round: a dual-stack bind of [::] meets the
        // IPv4 hold, an IPv6-only one does not.
        let err = SocketHolder.hold(Protocol::Tcp, None, port).err();
        assert_eq!(
            err.map(|e| e.kind()),
            Some(std::io::ErrorKind::AddrInUse),
            "every address overlaps 0.0.0.0"
        );
        let _v6 = SocketHolder
            .hold(Protocol::Tcp, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), port)
            .expect("[::] is free beside 0.0.0.0");
        drop(v4);
    }

    /// A free tcp port of 127.0.0.1 (bound, read and closed).
    fn free_port() -> u16 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    }

    #[test]
    fn a_held_port_refuses_binders_that_ask_to_share_it() {
        let port = free_port();
        let _held = SocketHolder.hold(Protocol::Tcp, None, port).expect("hold");
        // A binder asking for both kinds of sharing, on IPv4 and IPv6.
        for addr in [
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ] {
            let other = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )
            .unwrap();
            other.set_reuse_address(true).unwrap();
            other.set_reuse_port(true).unwrap();
            let err = other.bind(&addr.into()).expect_err("the port is held");
            assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{addr}");
        }
    }

    #[test]
    fn a_connection_to_a_held_port_is_refused_instead_of_hanging() {
        // What a connection the DNAT rules do not catch meets: the held
        // socket itself. A listener that never accepts would complete the
        // handshake and leave the client waiting for an answer; the held
        // socket does not listen, so the kernel resets the connection.
        let port = free_port();
        let _held = SocketHolder
            .hold(Protocol::Tcp, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), port)
            .expect("hold");
        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        // The timeout only bounds a hang; a refusal comes at once.
        let err = std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_secs(10))
            .expect_err("nothing listens on a held port");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    }
}
