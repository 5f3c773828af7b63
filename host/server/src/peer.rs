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

impl Peer {
    /// The peer of a `unix://` connection: the credentials the kernel
    /// recorded when the client connected (`SO_PEERCRED`, unix(7)).
    pub fn of_unix(stream: &tokio::net::UnixStream) -> std::io::Result<Peer> {
        let cred = stream.peer_cred()?;
        Ok(Peer::Unix {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        })
    }

    /// The peer of a TLS connection: the subject CN of the client's
    /// certificate, the first of the chain rustls verified (absent when the
    /// listener does not ask for one).
    pub fn of_tls(
        certificates: Option<&[rustls::pki_types::CertificateDer<'_>]>,
        address: std::net::SocketAddr,
    ) -> Peer {
        let common_name = certificates
            .and_then(<[_]>::first)
            .and_then(|cert| common_name(cert.as_ref()));
        Peer::Tls {
            common_name,
            address,
        }
    }
}

/// The first common name (OID 2.5.4.3) of a DER certificate's subject;
/// `None` when it has none or it is not a string.
pub fn common_name(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let cn = cert.tbs_certificate().subject().common_name().ok()??;
    Some(cn.value().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_unix_peer_is_this_process() {
        let (client, server) = tokio::net::UnixStream::pair().expect("socket pair");
        let peer = Peer::of_unix(&server).expect("peer credentials");
        assert_eq!(
            peer,
            Peer::Unix {
                uid: nix::unistd::geteuid().as_raw(),
                gid: nix::unistd::getegid().as_raw(),
                pid: Some(std::process::id() as i32),
            }
        );
        drop(client);
    }

    /// A throwaway self-signed certificate: `openssl req -x509 -newkey ec
    /// -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 -subj
    /// "/O=berth/CN=alice example"`.
    const ALICE: &[u8] = include_bytes!("peer/alice.pem");

    #[test]
    fn the_common_name_comes_from_the_subject() {
        use rustls::pki_types::pem::PemObject;
        let cert = rustls::pki_types::CertificateDer::from_pem_slice(ALICE).expect("PEM");
        assert_eq!(common_name(cert.as_ref()).as_deref(), Some("alice example"));
        let address: std::net::SocketAddr = "127.0.0.1:2376".parse().expect("address");
        assert_eq!(
            Peer::of_tls(Some(std::slice::from_ref(&cert)), address),
            Peer::Tls {
                common_name: Some("alice example".into()),
                address
            }
        );
        assert_eq!(
            Peer::of_tls(None, address),
            Peer::Tls {
                common_name: None,
                address
            }
        );
        assert_eq!(common_name(b"not a certificate"), None);
    }

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
