//! The server over real sockets on 127.0.0.x (port 0: a free one), with
//! fake upstream resolvers answering from threads of the test.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

/// A bound on a hang, not an expectation: answers come in milliseconds.
const BOUND: Duration = Duration::from_secs(10);

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

fn server(upstreams: Vec<SocketAddr>, timeout: Duration) -> DnsServer {
    DnsServer::new(DnsConfig {
        port: 0,
        upstreams: Upstreams::Fixed(upstreams),
        timeout,
    })
    .expect("server")
}

fn network(id: &str, gateway: &str, internal: bool) -> DnsNetwork {
    DnsNetwork {
        id: id.into(),
        gateways: vec![ip(gateway)],
        internal,
    }
}

fn record(container: &str, names: &[&str], addresses: &[&str]) -> DnsRecord {
    DnsRecord {
        container_id: container.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
        addresses: addresses.iter().map(|a| ip(a)).collect(),
        upstreams: vec![],
    }
}

fn query(name: &str, kind: RecordType) -> Message {
    let mut message = Message::new(0x4242, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).expect("name"), kind));
    message
}

fn ask_udp(server: SocketAddr, message: &Message) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    socket.set_read_timeout(Some(BOUND)).expect("timeout");
    let bytes = message.to_vec().expect("encode");
    socket.send_to(&bytes, server).expect("send");
    let mut buf = vec![0; 65535];
    let (n, from) = socket.recv_from(&mut buf).expect("an answer");
    assert_eq!(from, server);
    Message::from_vec(&buf[..n]).expect("decode")
}

fn ask_tcp(server: SocketAddr, message: &Message) -> Message {
    let mut stream = TcpStream::connect(server).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    let bytes = message.to_vec().expect("encode");
    stream
        .write_all(&(bytes.len() as u16).to_be_bytes())
        .expect("len");
    stream.write_all(&bytes).expect("send");
    let mut len = [0; 2];
    stream.read_exact(&mut len).expect("answer length");
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).expect("answer");
    Message::from_vec(&buf).expect("decode")
}

fn addresses(message: &Message) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// How a fake upstream answers a query.
type Answerer = dyn Fn(&Message) -> Option<Message> + Send + Sync;

/// A UDP resolver on `addr` answering with `answer` (`None`: silence),
/// counting the queries it gets.
fn fake_udp(addr: &str, answer: Arc<Answerer>) -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind(addr).expect("fake upstream");
    let local = socket.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0; 65535];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Some(reply) = answer(&query) {
                let _ = socket.send_to(&reply.to_vec().expect("encode"), peer);
            }
        }
    });
    (local, count)
}

/// A TCP resolver on `addr` answering with `answer`.
fn fake_tcp(addr: SocketAddr, answer: Arc<Answerer>) {
    let listener = TcpListener::bind(addr).expect("fake TCP upstream");
    std::thread::spawn(move || {
        while let Ok((mut stream, _)) = listener.accept() {
            let mut len = [0; 2];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut buf).is_err() {
                continue;
            }
            let Some(reply) = Message::from_vec(&buf).ok().and_then(|q| answer(&q)) else {
                continue;
            };
            let bytes = reply.to_vec().expect("encode");
            let _ = stream.write_all(&(bytes.len() as u16).to_be_bytes());
            let _ = stream.write_all(&bytes);
        }
    });
}

fn reply(query: &Message, code: ResponseCode, answer: Option<Ipv4Addr>) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.response_code = code;
    reply.queries = query.queries.clone();
    if let Some(addr) = answer {
        reply.add_answer(Record::from_rdata(
            query.queries[0].name().clone(),
            30,
            RData::A(A(addr)),
        ));
    }
    reply
}

fn answering(addr: Ipv4Addr) -> Arc<Answerer> {
    Arc::new(move |q| Some(reply(q, ResponseCode::NoError, Some(addr))))
}

#[test]
fn names_resolve_on_their_own_network_only() {
    let (upstream, asked) = fake_udp(
        "127.0.0.1:0",
        Arc::new(|q| {
            let mut r = reply(q, ResponseCode::NXDomain, None);
            r.metadata.authoritative = true;
            Some(r)
        }),
    );
    let server = server(vec![upstream], BOUND);
    let front = network("front", "127.0.0.61", false);
    let back = network("back", "127.0.0.62", false);
    server
        .publish(
            &front,
            record("c1", &["web", "www", "0123456789ab"], &["10.1.0.2"]),
        )
        .expect("publish web");
    server
        .publish(&back, record("c2", &["db"], &["10.2.0.2", "fd00::2"]))
        .expect("publish db");
    let [front_addr] = server.local_addrs("front")[..] else {
        panic!("one listener on front: {:?}", server.local_addrs("front"));
    };
    let [back_addr] = server.local_addrs("back")[..] else {
        panic!("one listener on back");
    };
    assert_eq!(front_addr.ip(), ip("127.0.0.61"));

    for name in ["web", "WWW.", "0123456789ab"] {
        let answer = ask_udp(front_addr, &query(name, RecordType::A));
        assert_eq!(answer.metadata.id, 0x4242);
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NoError,
            "{name}"
        );
        assert_eq!(addresses(&answer), vec![ip("10.1.0.2")], "{name}");
        assert_eq!(answer.answers[0].ttl, ANSWER_TTL);
    }
    // A known name without an IPv6 address: empty, not forwarded.
    let answer = ask_udp(front_addr, &query("web", RecordType::AAAA));
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.answers.is_empty());
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert_eq!(
        addresses(&ask_udp(back_addr, &query("db", RecordType::AAAA))),
        vec![ip("fd00::2")]
    );

    // Isolation: web is not a name of back, db not one of front; both go
    // upstream, which says NXDOMAIN.
    let answer = ask_udp(back_addr, &query("web", RecordType::A));
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    let answer = ask_udp(front_addr, &query("db", RecordType::A));
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(asked.load(Ordering::SeqCst), 2);

    // The same over TCP.
    assert_eq!(
        addresses(&ask_tcp(front_addr, &query("web", RecordType::A))),
        vec![ip("10.1.0.2")]
    );
}

#[test]
fn ptr_answers_the_first_name_of_an_address() {
    let server = server(vec![], BOUND);
    let net = network("n", "127.0.0.63", false);
    server
        .publish(&net, record("c1", &["web", "alias"], &["10.1.0.2"]))
        .expect("publish");
    let addr = server.local_addrs("n")[0];
    let answer = ask_udp(addr, &query("2.0.1.10.in-addr.arpa.", RecordType::PTR));
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    match &answer.answers[..] {
        [record] => match &record.data {
            RData::PTR(name) => assert_eq!(name.0.to_ascii(), "web."),
            other => panic!("not a PTR: {other:?}"),
        },
        other => panic!("one answer expected: {other:?}"),
    }
}

#[test]
fn unknown_names_are_forwarded_and_the_answer_passed_on() {
    let (upstream, asked) = fake_udp("127.0.0.1:0", answering(Ipv4Addr::new(192, 0, 2, 7)));
    let server = server(vec![upstream], BOUND);
    let net = network("n", "127.0.0.64", false);
    server
        .publish(&net, record("c1", &["web"], &["10.1.0.2"]))
        .expect("publish");
    let addr = server.local_addrs("n")[0];
    let answer = ask_udp(addr, &query("example.org.", RecordType::A));
    assert_eq!(answer.metadata.id, 0x4242);
    assert_eq!(addresses(&answer), vec![ip("192.0.2.7")]);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // A withdrawn name is no longer the network's: it goes upstream too.
    server.withdraw("n", "c1");
    assert_eq!(
        addresses(&ask_udp(addr, &query("web", RecordType::A))),
        vec![ip("192.0.2.7")]
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

/// `ask_udp` from the client address `from` (a container's address).
fn ask_udp_from(from: &str, server: SocketAddr, message: &Message) -> Message {
    let socket = UdpSocket::bind((ip(from), 0)).expect("client socket");
    socket.set_read_timeout(Some(BOUND)).expect("timeout");
    socket
        .send_to(&message.to_vec().expect("encode"), server)
        .expect("send");
    let mut buf = vec![0; 65535];
    let (n, _) = socket.recv_from(&mut buf).expect("an answer");
    Message::from_vec(&buf[..n]).expect("decode")
}

/// A container with upstreams of its own (its `--dns`, its policy's name
/// servers) has its unknown names forwarded there, found by the query's
/// source address; anyone else's go to the server's upstreams.
#[test]
fn a_containers_own_upstreams_get_its_queries_and_only_its() {
    let (host, host_asked) = fake_udp("127.0.0.1:0", answering(Ipv4Addr::new(192, 0, 2, 1)));
    let (own, own_asked) = fake_udp("127.0.0.1:0", answering(Ipv4Addr::new(192, 0, 2, 2)));
    let server = server(vec![host], BOUND);
    let net = network("n", "127.0.0.65", false);
    let mut with_own = record("c1", &["web"], &["127.0.0.66"]);
    with_own.upstreams = vec![own];
    server.publish(&net, with_own).expect("publish c1");
    server
        .publish(&net, record("c2", &["db"], &["127.0.0.67"]))
        .expect("publish c2");
    let addr = server.local_addrs("n")[0];
    let external = query("example.org.", RecordType::A);
    assert_eq!(
        addresses(&ask_udp_from("127.0.0.66", addr, &external)),
        vec![ip("192.0.2.2")]
    );
    assert_eq!(
        addresses(&ask_udp_from("127.0.0.67", addr, &external)),
        vec![ip("192.0.2.1")]
    );
    assert_eq!(
        addresses(&ask_udp_from("127.0.0.68", addr, &external)),
        vec![ip("192.0.2.1")]
    );
    assert_eq!(own_asked.load(Ordering::SeqCst), 1);
    assert_eq!(host_asked.load(Ordering::SeqCst), 2);
    // The network's own names are still answered, not forwarded.
    assert_eq!(
        addresses(&ask_udp_from(
            "127.0.0.66",
            addr,
            &query("db", RecordType::A)
        )),
        vec![ip("127.0.0.67")]
    );
    assert_eq!(own_asked.load(Ordering::SeqCst), 1);
}

#[test]
fn a_silent_or_failing_upstream_is_skipped_and_none_left_is_servfail() {
    let (silent, silent_asked) = fake_udp("127.0.0.1:0", Arc::new(|_| None));
    let (failing, failing_asked) = fake_udp(
        "127.0.0.1:0",
        Arc::new(|q| Some(reply(q, ResponseCode::ServFail, None))),
    );
    let (good, _) = fake_udp("127.0.0.1:0", answering(Ipv4Addr::new(192, 0, 2, 9)));
    let timeout = Duration::from_millis(200);

    let server_ok = server(vec![silent, failing, good], timeout);
    let net = network("n", "127.0.0.65", false);
    server_ok
        .publish(&net, record("c1", &["web"], &["10.1.0.2"]))
        .expect("publish");
    let answer = ask_udp(
        server_ok.local_addrs("n")[0],
        &query("example.org", RecordType::A),
    );
    assert_eq!(addresses(&answer), vec![ip("192.0.2.9")]);
    assert_eq!(silent_asked.load(Ordering::SeqCst), 1);
    assert_eq!(failing_asked.load(Ordering::SeqCst), 1);

    // Only the silent one: SERVFAIL once it timed out.
    let server_none = server(vec![silent], timeout);
    let net = network("m", "127.0.0.66", false);
    server_none
        .publish(&net, record("c1", &["web"], &["10.1.0.2"]))
        .expect("publish");
    let answer = ask_udp(
        server_none.local_addrs("m")[0],
        &query("example.org", RecordType::A),
    );
    assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(answer.metadata.id, 0x4242);
}

#[test]
fn a_truncated_upstream_answer_is_asked_again_over_tcp() {
    let (upstream, _) = fake_udp(
        "127.0.0.1:0",
        Arc::new(|q| {
            let mut r = reply(q, ResponseCode::NoError, None);
            r.metadata.truncation = true;
            Some(r)
        }),
    );
    fake_tcp(upstream, answering(Ipv4Addr::new(192, 0, 2, 11)));
    let server = server(vec![upstream], BOUND);
    let net = network("n", "127.0.0.67", false);
    server
        .publish(&net, record("c1", &["web"], &["10.1.0.2"]))
        .expect("publish");
    let answer = ask_udp(
        server.local_addrs("n")[0],
        &query("big.example", RecordType::A),
    );
    assert!(!answer.metadata.truncation);
    assert_eq!(addresses(&answer), vec![ip("192.0.2.11")]);
}

#[test]
fn an_internal_network_resolves_its_names_and_forwards_nothing() {
    let (upstream, asked) = fake_udp("127.0.0.1:0", answering(Ipv4Addr::new(192, 0, 2, 7)));
    let server = server(vec![upstream], BOUND);
    let net = network("n", "127.0.0.68", true);
    server
        .publish(&net, record("c1", &["web"], &["10.1.0.2"]))
        .expect("publish");
    let addr = server.local_addrs("n")[0];
    assert_eq!(
        addresses(&ask_udp(addr, &query("web", RecordType::A))),
        vec![ip("10.1.0.2")]
    );
    let answer = ask_udp(addr, &query("example.org", RecordType::A));
    assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

#[test]
fn a_removed_network_is_no_longer_served_and_can_be_served_again() {
    let server = server(vec![], BOUND);
    let net = network("n", "127.0.0.69", false);
    server
        .publish(&net, record("c1", &["web"], &["10.1.0.2"]))
        .expect("publish");
    let addr = server.local_addrs("n")[0];
    server.remove_network("n");
    assert!(server.local_addrs("n").is_empty());
    // The listener's task is aborted on the server's thread; the port is
    // closed once it is dropped (bounded wait, no timing asserted).
    let deadline = std::time::Instant::now() + BOUND;
    while TcpStream::connect(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "{addr} still accepts");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Served again, on the same address (SO_REUSEADDR), by reconcile.
    let again = DnsNetwork {
        gateways: vec![addr.ip()],
        ..net
    };
    let server2 = DnsServer::new(DnsConfig {
        port: addr.port(),
        upstreams: Upstreams::Fixed(vec![]),
        timeout: BOUND,
    })
    .expect("server");
    server2
        .reconcile(vec![(again, vec![record("c2", &["db"], &["10.1.0.3"])])])
        .expect("reconcile");
    assert_eq!(server2.local_addrs("n"), vec![addr]);
    assert_eq!(
        addresses(&ask_udp(addr, &query("db", RecordType::A))),
        vec![ip("10.1.0.3")]
    );
    // Not listed any more: gone.
    server2.reconcile(vec![]).expect("reconcile");
    assert!(server2.local_addrs("n").is_empty());
}

/// The server answers on the gateway, so a container's query is input to
/// the host (not forwarded): berth's table must have no input hook that
/// could drop it, internal networks included (their drops are forward
/// rules only, which a query to the bridge's own address never crosses).
#[test]
fn berths_table_leaves_queries_to_the_gateway_alone() {
    use crate::{IfName, IpNetwork, NetworkSpec, TableName, firewall};
    let spec = |id: &str, bridge: &str, gateway: &str, internal: bool| NetworkSpec {
        id: id.into(),
        bridge: IfName::new(bridge).expect("bridge"),
        gateways: vec![IpNetwork::new(ip(gateway), 24).expect("gateway")],
        internal,
    };
    let script = firewall::render(
        &TableName::new("berth").expect("table"),
        &[
            spec("a", "br-a", "10.1.0.1", false),
            spec("b", "br-b", "10.2.0.1", true),
        ],
        &[],
    );
    assert!(!script.contains("hook input"), "{script}");
    for line in script.lines().filter(|l| l.contains(" drop")) {
        assert!(
            line.contains("oifname"),
            "a drop not limited to forwarding: {line}"
        );
    }
}
