//! The listeners and the table of served networks.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrStorage, bind, setsockopt, socket, sockopt,
};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::answer::{self, Decision};
use super::forward::{self, MAX_MESSAGE};
use super::resolv::ResolvConf;
use super::zone::Zone;
use super::{DnsConfig, DnsError, DnsNetwork, DnsRecord, MAX_CONCURRENT_FORWARDS, Upstreams};

/// How long a TCP client may stay idle between two queries before the
/// server closes the connection (RFC 7766 6.2.3 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The embedded DNS server: the networks it serves, their records and
/// their listeners, on a runtime of its own.
pub struct DnsServer {
    shared: Arc<Shared>,
    served: Mutex<HashMap<String, Listeners>>,
    port: u16,
    runtime: Option<Runtime>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("port", &self.port)
            .field("upstreams", &self.shared.upstreams)
            .finish_non_exhaustive()
    }
}

/// What the listener tasks read.
struct Shared {
    zones: Mutex<HashMap<String, Arc<Zone>>>,
    upstreams: Upstreams,
    timeout: Duration,
    forwards: Arc<Semaphore>,
}

/// The listeners of one network, by gateway address; their tasks end when
/// this is dropped.
#[derive(Default)]
struct Listeners(HashMap<IpAddr, Listener>);

struct Listener {
    local: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a table that is still whole
    // (every update is a single insert or remove): keep using it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DnsServer {
    /// Starts the server's runtime; it serves no network yet.
    pub fn new(config: DnsConfig) -> Result<DnsServer, DnsError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("berth-dns")
            .enable_io()
            .enable_time()
            .build()
            .map_err(DnsError::Runtime)?;
        Ok(DnsServer {
            shared: Arc::new(Shared {
                zones: Mutex::new(HashMap::new()),
                upstreams: config.upstreams,
                timeout: config.timeout,
                forwards: Arc::new(Semaphore::new(MAX_CONCURRENT_FORWARDS)),
            }),
            served: Mutex::new(HashMap::new()),
            port: config.port,
            runtime: Some(runtime),
        })
    }

    /// Serves `network` (listening on each of its gateways, replacing
    /// listeners of gateways it no longer has) and sets `record` as the
    /// names of its container there. Idempotent.
    pub fn publish(&self, network: &DnsNetwork, record: DnsRecord) -> Result<(), DnsError> {
        self.serve(network)?;
        let mut zones = lock(&self.shared.zones);
        let zone = zones
            .entry(network.id.clone())
            .or_insert_with(|| Arc::new(Zone::new(network.clone())));
        let zone = Arc::make_mut(zone);
        zone.network = network.clone();
        zone.records.insert(record.container_id.clone(), record);
        Ok(())
    }

    /// Forgets the names of `container_id` on `network_id`; the network
    /// stays served. Idempotent.
    pub fn withdraw(&self, network_id: &str, container_id: &str) {
        if let Some(zone) = lock(&self.shared.zones).get_mut(network_id) {
            Arc::make_mut(zone).records.remove(container_id);
        }
    }

    /// Stops serving `network_id` and forgets its records. Idempotent.
    pub fn remove_network(&self, network_id: &str) {
        lock(&self.shared.zones).remove(network_id);
        lock(&self.served).remove(network_id);
    }

    /// Makes the served networks and their records exactly `state` (at
    /// daemon start, from what the store knows).
    pub fn reconcile(&self, state: Vec<(DnsNetwork, Vec<DnsRecord>)>) -> Result<(), DnsError> {
        let keep: Vec<&str> = state.iter().map(|(n, _)| n.id.as_str()).collect();
        let gone: Vec<String> = lock(&self.served)
            .keys()
            .filter(|id| !keep.contains(&id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.remove_network(&id);
        }
        let mut first_error = None;
        for (network, records) in state {
            if let Err(error) = self.serve(&network) {
                tracing::error!(network = %network.id, %error, "dns: cannot serve network");
                first_error.get_or_insert(error);
                continue;
            }
            let mut zone = Zone::new(network.clone());
            for record in records {
                zone.records.insert(record.container_id.clone(), record);
            }
            lock(&self.shared.zones).insert(network.id.clone(), Arc::new(zone));
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The addresses the server listens on for `network_id` (UDP and TCP
    /// share each).
    pub fn local_addrs(&self, network_id: &str) -> Vec<SocketAddr> {
        let served = lock(&self.served);
        let mut addrs: Vec<SocketAddr> = served
            .get(network_id)
            .map(|l| l.0.values().map(|l| l.local).collect())
            .unwrap_or_default();
        addrs.sort();
        addrs
    }

    fn serve(&self, network: &DnsNetwork) -> Result<(), DnsError> {
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(DnsError::Runtime(std::io::Error::other("shut down")));
        };
        let mut served = lock(&self.served);
        let listeners = served.entry(network.id.clone()).or_default();
        listeners.0.retain(|gw, _| network.gateways.contains(gw));
        for gateway in &network.gateways {
            if listeners.0.contains_key(gateway) {
                continue;
            }
            let listener = listen(
                runtime,
                &self.shared,
                &network.id,
                SocketAddr::new(*gateway, self.port),
            )?;
            listeners.0.insert(*gateway, listener);
        }
        Ok(())
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        lock(&self.served).clear();
        // Not `drop`: that waits for the runtime's tasks, and a DnsServer
        // may be dropped inside an async context, where waiting panics.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Binds UDP then TCP on `addr` (TCP on the port UDP got when it asks for
/// port 0) and starts both loops.
fn listen(
    runtime: &Runtime,
    shared: &Arc<Shared>,
    network_id: &str,
    addr: SocketAddr,
) -> Result<Listener, DnsError> {
    let udp = bind_udp(addr)?;
    let local = udp.local_addr().map_err(|source| DnsError::Listen {
        op: "read the address of",
        address: addr,
        source,
    })?;
    let tcp_error = |op| {
        move |source| DnsError::Listen {
            op,
            address: local,
            source,
        }
    };
    // std sets SO_REUSEADDR on TCP listeners (a restarted daemon rebinds
    // while old connections are in TIME_WAIT).
    let tcp = std::net::TcpListener::bind(local).map_err(tcp_error("bind TCP"))?;
    tcp.set_nonblocking(true)
        .map_err(tcp_error("make non-blocking"))?;
    let _context = runtime.enter();
    let udp = UdpSocket::from_std(udp).map_err(|source| DnsError::Listen {
        op: "register UDP",
        address: local,
        source,
    })?;
    let tcp = TcpListener::from_std(tcp).map_err(tcp_error("register TCP"))?;
    let udp_task = runtime.spawn(serve_udp(
        Arc::new(udp),
        shared.clone(),
        network_id.to_string(),
    ));
    let tcp_task = runtime.spawn(serve_tcp(tcp, shared.clone(), network_id.to_string()));
    tracing::debug!(network = network_id, %local, "dns: listening");
    Ok(Listener {
        local,
        tasks: [udp_task, tcp_task],
    })
}

/// A UDP socket with SO_REUSEADDR: a network's listener replaced (or
/// removed and created again) rebinds at once even while the old
/// socket's task is still being dropped on the server's thread.
fn bind_udp(addr: SocketAddr) -> Result<std::net::UdpSocket, DnsError> {
    let fail = |op| {
        move |errno: nix::Error| DnsError::Listen {
            op,
            address: addr,
            source: std::io::Error::from(errno),
        }
    };
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(fail("create a UDP socket for"))?;
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(fail("set SO_REUSEADDR on"))?;
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr)).map_err(fail("bind UDP"))?;
    Ok(std::net::UdpSocket::from(fd))
}

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>, network_id: String) {
    let mut buf = vec![0; MAX_MESSAGE];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(%error, "dns: UDP receive failed");
                continue;
            }
        };
        let raw = buf[..n].to_vec();
        let (socket, shared, network_id) = (socket.clone(), shared.clone(), network_id.clone());
        // One task per query: a slow upstream holds only its own query.
        tokio::spawn(async move {
            let query = Query {
                network_id: &network_id,
                source: peer.ip(),
                raw: &raw,
                tcp: false,
            };
            if let Some(reply) = handle(&shared, query).await
                && let Err(error) = socket.send_to(&reply, peer).await
            {
                tracing::debug!(%peer, %error, "dns: UDP reply failed");
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>, network_id: String) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let task = serve_connection(stream, peer.ip(), shared.clone(), network_id.clone());
                tokio::spawn(task);
            }
            Err(error) => {
                tracing::debug!(%error, "dns: TCP accept failed");
                // EMFILE and the like: do not spin on them.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    source: IpAddr,
    shared: Arc<Shared>,
    network_id: String,
) {
    loop {
        let raw = match tokio::time::timeout(TCP_IDLE, forward::read_framed(&mut stream)).await {
            Ok(Ok(raw)) => raw,
            _ => return,
        };
        let query = Query {
            network_id: &network_id,
            source,
            raw: &raw,
            tcp: true,
        };
        let Some(reply) = handle(&shared, query).await else {
            return;
        };
        if forward::write_framed(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// One query as it arrived.
struct Query<'a> {
    /// The network it arrived on.
    network_id: &'a str,
    /// The address it came from (the querying container's on the network).
    source: IpAddr,
    /// The message, as received.
    raw: &'a [u8],
    /// Whether it came over TCP.
    tcp: bool,
}

/// The reply to one query, `None` when there is nothing to say (not a DNS
/// message, or the network is no longer served).
async fn handle(shared: &Shared, query: Query<'_>) -> Option<Vec<u8>> {
    let message = Message::from_vec(query.raw).ok()?;
    let zone = lock(&shared.zones).get(query.network_id).cloned()?;
    let mut reply = match answer::decide(&message, &zone) {
        Decision::Reply(reply) => reply,
        Decision::Forward => {
            let own = zone.upstreams_of(query.source);
            match forward_query(shared, own, &message, &query).await {
                Some(bytes) => return Some(bytes),
                None => answer::error(&message, ResponseCode::ServFail),
            }
        }
    };
    if query.tcp {
        reply.to_vec().ok()
    } else {
        answer::encode_udp(&mut reply, &message)
    }
}

/// Forwards `message` to `own` (the querying container's upstreams) or,
/// without them, to the server's.
async fn forward_query(
    shared: &Shared,
    own: Option<&[SocketAddr]>,
    message: &Message,
    query: &Query<'_>,
) -> Option<Vec<u8>> {
    let Ok(_permit) = shared.forwards.clone().try_acquire_owned() else {
        tracing::warn!("dns: more than {MAX_CONCURRENT_FORWARDS} forwarded queries in flight");
        return None;
    };
    let upstreams = match (own, &shared.upstreams) {
        (Some(own), _) => own.to_vec(),
        (None, Upstreams::Fixed(addrs)) => addrs.clone(),
        // A few hundred bytes from /etc on the server's own thread.
        (None, Upstreams::ResolvConf(path)) => match ResolvConf::read(path) {
            Ok(conf) => conf
                .nameservers
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 53))
                .collect(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "dns: cannot read the upstream resolvers");
                return None;
            }
        },
    };
    forward::forward(
        query.raw,
        message.metadata.id,
        query.tcp,
        &upstreams,
        shared.timeout,
    )
    .await
}
