//! Who is at the other end of an API connection.
//!
//! The listener works this out once per connection (the unix peer's
//! credentials from `SO_PEERCRED`, the verified client certificate of a TLS
//! connection) and puts it into every request's extensions, where the
//! authorization policy and the logs read it.

/// The client of one connection, as the listener established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A `unix://` (or activated unix) connection: the credentials the
    /// kernel reported for the connecting process (`SO_PEERCRED`,
    /// unix(7)).
    Unix {
        /// Effective uid of the connecting process.
        uid: u32,
        /// Effective gid of the connecting process.
        gid: u32,
        /// Its pid in berthd's pid namespace (absent when the kernel
        /// reported none).
        pid: Option<i32>,
    },
    /// A `tcp://` connection with TLS.
    Tls {
        /// The common name of the verified client certificate's subject
        /// (absent when the listener does not verify clients, or the
        /// certificate has no CN).
        common_name: Option<String>,
        /// The client's address.
        address: std::net::SocketAddr,
    },
    /// A plain `tcp://` connection (`--tls=false`): nobody is identified.
    Tcp {
        /// The client's address.
        address: std::net::SocketAddr,
    },
}

impl Peer {
    /// The user name an authorization policy sees, as Docker's authz
    /// plugins get it: the certificate's common name for TLS, `uid:N` for a
    /// unix peer, empty when the connection identifies nobody.
    pub fn user(&self) -> String {
        match self {
            Peer::Unix { uid, .. } => format!("uid:{uid}"),
            Peer::Tls {
                common_name: Some(cn),
                ..
            } => cn.clone(),
            Peer::Tls { .. } | Peer::Tcp { .. } => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_the_peer_as_an_authz_policy_sees_it() {
        let address: std::net::SocketAddr = "127.0.0.1:2376".parse().expect("address");
        assert_eq!(
            Peer::Unix {
                uid: 1000,
                gid: 1000,
                pid: Some(7)
            }
            .user(),
            "uid:1000"
        );
        assert_eq!(
            Peer::Tls {
                common_name: Some("alice".into()),
                address
            }
            .user(),
            "alice"
        );
        assert_eq!(
            Peer::Tls {
                common_name: None,
                address
            }
            .user(),
            ""
        );
        assert_eq!(Peer::Tcp { address }.user(), "");
    }
}
