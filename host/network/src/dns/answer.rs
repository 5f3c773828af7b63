//! What the server does with one query: answer it from the network's
//! records, or forward it.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::ANSWER_TTL;
use super::zone::{Lookup, Zone};

/// The smallest UDP payload every client takes (RFC 1035 4.2.1; moby
/// `defaultRespSize`).
pub(crate) const MIN_UDP_PAYLOAD: usize = 512;

/// The UDP payload the server says it takes: what DNS Flag Day 2020
/// recommends, which fits every path's MTU.
const EDNS_PAYLOAD: u16 = 1232;

/// The server's decision on a query.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Send this reply.
    Reply(Message),
    /// Not a name of the network: ask the upstream resolvers.
    Forward,
}

/// Decides on `query`, which arrived on the network of `zone`.
pub(crate) fn decide(query: &Message, zone: &Zone) -> Decision {
    if query.metadata.message_type != MessageType::Query {
        return Decision::Reply(error(query, ResponseCode::FormErr));
    }
    if query.metadata.op_code != OpCode::Query {
        return Decision::Reply(error(query, ResponseCode::NotImp));
    }
    let [question] = query.queries.as_slice() else {
        return Decision::Reply(error(query, ResponseCode::FormErr));
    };
    let name = question.name().to_ascii();
    let answers: Option<Vec<Record>> = match question.query_type() {
        RecordType::A | RecordType::AAAA => {
            let v6 = question.query_type() == RecordType::AAAA;
            match zone.lookup(&name, v6) {
                Lookup::Unknown => None,
                Lookup::Known(addrs) => Some(
                    addrs
                        .into_iter()
                        .map(|addr| address_record(question.name().clone(), addr))
                        .collect(),
                ),
            }
        }
        RecordType::PTR => ptr(question.name(), zone),
        // Another type for one of the network's names: the name exists,
        // it has no such record (moby answers MX so; forwarding a
        // container's name would only leak it).
        _ => match (zone.lookup(&name, false), zone.lookup(&name, true)) {
            (Lookup::Unknown, Lookup::Unknown) => None,
            _ => Some(Vec::new()),
        },
    };
    match answers {
        Some(answers) => {
            let mut reply = reply_to(query, ResponseCode::NoError);
            reply.answers = answers;
            Decision::Reply(reply)
        }
        None if zone.network.internal => Decision::Reply(error(query, ResponseCode::ServFail)),
        None => Decision::Forward,
    }
}

fn address_record(name: Name, addr: IpAddr) -> Record {
    let data = match addr {
        IpAddr::V4(a) => RData::A(A::from(a)),
        IpAddr::V6(a) => RData::AAAA(AAAA::from(a)),
    };
    Record::from_rdata(name, ANSWER_TTL, data)
}

/// A PTR answer for a full address of one of the network's records.
fn ptr(name: &Name, zone: &Zone) -> Option<Vec<Record>> {
    let net = name.parse_arpa_name().ok()?;
    if net.prefix_len() != net.max_prefix_len() {
        return None;
    }
    let host = zone.reverse(net.addr())?;
    let target = Name::from_ascii(format!("{host}.")).ok()?;
    Some(vec![Record::from_rdata(
        name.clone(),
        ANSWER_TTL,
        RData::PTR(PTR(target)),
    )])
}

/// A reply to `query` with its id, question and flags (RFC 1035 4.1.1).
pub(crate) fn reply_to(query: &Message, code: ResponseCode) -> Message {
    let mut reply = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    reply.metadata = Metadata::response_from_request(&query.metadata);
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = code;
    reply.queries = query.queries.clone();
    // A responder must answer an OPT record with one (RFC 6891 6.1.1).
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        reply.edns = Some(edns);
    }
    reply
}

/// An error reply to `query`.
pub(crate) fn error(query: &Message, code: ResponseCode) -> Message {
    reply_to(query, code)
}

/// The reply's wire form for UDP: cut to what the client takes (its EDNS
/// payload size, at least 512 bytes), answers dropped from the end and TC
/// set so that it retries over TCP (RFC 1035 4.2.1, moby `truncateResp`).
pub(crate) fn encode_udp(reply: &mut Message, query: &Message) -> Option<Vec<u8>> {
    let limit = query
        .edns
        .as_ref()
        .map_or(MIN_UDP_PAYLOAD, |e| usize::from(e.max_payload()))
        .max(MIN_UDP_PAYLOAD);
    loop {
        let bytes = reply.to_vec().ok()?;
        if bytes.len() <= limit || reply.answers.is_empty() {
            return Some(bytes);
        }
        reply.metadata.truncation = true;
        reply.answers.pop();
    }
}
