//! Forwarding a query the network's records do not answer to the host's
//! resolvers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::MAX_UPSTREAMS;

/// The largest DNS message (the 16-bit length prefix of TCP, RFC 1035
/// 4.2.2; also the most a UDP datagram carries).
pub(crate) const MAX_MESSAGE: usize = 65535;

/// Asks `upstreams` in order, each under `timeout`, over TCP when the
/// client asked over TCP (`tcp`) and over UDP otherwise, with a TCP retry
/// of a truncated UDP answer. Returns the answer to pass on as it is
/// (same id, since `raw` goes out unchanged), `None` when no upstream gave
/// one: the caller answers SERVFAIL.
///
/// As moby's `ServeDNS`: SERVFAIL, REFUSED, a non-authoritative NXDOMAIN
/// (RFC 8020 2: only an authoritative one proves the name absent) and any
/// other error code move on to the next resolver; the last such answer is
/// passed on if no resolver does better.
pub(crate) async fn forward(
    raw: &[u8],
    id: u16,
    tcp: bool,
    upstreams: &[SocketAddr],
    timeout: Duration,
) -> Option<Vec<u8>> {
    let mut fallback = None;
    for upstream in upstreams.iter().take(MAX_UPSTREAMS) {
        let Some(answer) = exchange(raw, id, tcp, *upstream, timeout).await else {
            continue;
        };
        let Ok(message) = Message::from_vec(&answer) else {
            tracing::debug!(%upstream, "dns: unreadable answer from upstream");
            continue;
        };
        match message.metadata.response_code {
            ResponseCode::NoError => return Some(answer),
            ResponseCode::NXDomain if message.metadata.authoritative => return Some(answer),
            code => {
                tracing::debug!(%upstream, %code, "dns: upstream answered an error, trying the next");
                fallback = Some(answer);
            }
        }
    }
    fallback
}

async fn exchange(
    raw: &[u8],
    id: u16,
    tcp: bool,
    upstream: SocketAddr,
    timeout: Duration,
) -> Option<Vec<u8>> {
    if tcp {
        return bounded(timeout, over_tcp(raw, upstream), upstream).await;
    }
    let answer = bounded(timeout, over_udp(raw, id, upstream), upstream).await?;
    // TC set: the answer did not fit a datagram; ask again over TCP
    // (RFC 1035 4.2.1) and pass the truncated one on if that fails, so the
    // client can retry over TCP itself.
    let truncated = Message::from_vec(&answer).is_ok_and(|m| m.metadata.truncation);
    if truncated && let Some(full) = bounded(timeout, over_tcp(raw, upstream), upstream).await {
        return Some(full);
    }
    Some(answer)
}

async fn bounded<F>(timeout: Duration, exchange: F, upstream: SocketAddr) -> Option<Vec<u8>>
where
    F: Future<Output = std::io::Result<Vec<u8>>>,
{
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(error)) => {
            tracing::debug!(%upstream, %error, "dns: upstream failed");
            None
        }
        Err(_) => {
            tracing::debug!(%upstream, ?timeout, "dns: upstream timed out");
            None
        }
    }
}

/// One datagram out from a fresh socket (a new random source port per
/// query), the first datagram back carrying the query's id.
async fn over_udp(raw: &[u8], id: u16, upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let local: IpAddr = match upstream {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    // Connected: the kernel drops datagrams from any other address.
    socket.connect(upstream).await?;
    socket.send(raw).await?;
    let mut buf = vec![0; MAX_MESSAGE];
    loop {
        let n = socket.recv(&mut buf).await?;
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

/// One length-prefixed message each way (RFC 1035 4.2.2).
async fn over_tcp(raw: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_framed(&mut stream, raw).await?;
    read_framed(&mut stream).await
}

/// Writes `message` with its 16-bit length prefix.
pub(crate) async fn write_framed<W>(stream: &mut W, message: &[u8]) -> std::io::Result<()>
where
    W: AsyncWriteExt + Unpin,
{
    let len = u16::try_from(message.len())
        .map_err(|_| std::io::Error::other("DNS message longer than 65535 bytes"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

/// Reads one message with its 16-bit length prefix.
pub(crate) async fn read_framed<R>(stream: &mut R) -> std::io::Result<Vec<u8>>
where
    R: AsyncReadExt + Unpin,
{
    let len = usize::from(stream.read_u16().await?);
    let mut message = vec![0; len];
    stream.read_exact(&mut message).await?;
    Ok(message)
}
