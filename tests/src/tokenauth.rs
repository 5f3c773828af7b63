//! A token service for a registry with bearer-token auth (Docker's token
//! authentication spec), in front of which the real `docker-registry`
//! runs with `auth: token` ([`crate::registry::Registry::start_with_tokens`]).
//!
//! It issues the JWTs distribution verifies (`registry/auth/token`): RS256,
//! signed with a throwaway key whose self-signed certificate is both the
//! token's `x5c` chain and the registry's `rootcertbundle`; `iss`, `aud`,
//! `exp`/`nbf` and the `access` claim. `openssl` makes the key and
//! certificate and signs each token (an RS256 signature is what
//! `openssl dgst -sha256 -sign` writes).
//!
//! Who may do what ([`TokenServer::granted`]):
//! - `admin` (password `admin-pw`): everything;
//! - `alice` (password `alice-pw`): `pull,push` on `alice/*`, `pull` on
//!   `shared/*`, the catalog;
//! - anyone, without credentials: `pull` on `public/*`.
//!
//! Every request is logged ([`TokenServer::requests`]) with its account and
//! scopes, so a test can tell which tokens a client asked for and how often.
//! Wrong credentials are answered 401. One request per connection
//! (`Connection: close`), `GET /token` only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::cmd::run_with_timeout;

/// The registry's `service` (the tokens' audience).
pub const SERVICE: &str = "berth-test-registry";
/// The tokens' issuer.
pub const ISSUER: &str = "berth-test-tokens";
/// How long a token lives, in seconds (what the answer's `expires_in` says).
pub const TOKEN_LIFETIME: u64 = 300;

const OPENSSL_TIMEOUT: Duration = Duration::from_secs(60);

/// The users and their passwords.
pub const USERS: [(&str, &str); 2] = [("admin", "admin-pw"), ("alice", "alice-pw")];

/// One request the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The user of its Basic credentials, `None` for an anonymous one.
    pub account: Option<String>,
    /// The scopes asked for, in order.
    pub scopes: Vec<String>,
    /// Whether a token was issued (the credentials were right).
    pub issued: bool,
}

/// A running token service; stopped on drop.
pub struct TokenServer {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The certificate the registry trusts (PEM).
    pub cert: PathBuf,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

struct Keys {
    key: PathBuf,
    cert_der: Vec<u8>,
}

impl TokenServer {
    /// Makes the signing key and certificate, and starts serving.
    pub fn start() -> TokenServer {
        let dir = tempfile::Builder::new()
            .prefix("berth-tokens-")
            .tempdir()
            .expect("token service temp dir");
        let d = dir.path();
        openssl(&["genrsa", "-out", "key.pem", "2048"], d);
        openssl(
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "key.pem",
                "-subj",
                "/CN=berth-test-tokens",
                "-days",
                "2",
                "-out",
                "cert.pem",
            ],
            d,
        );
        openssl(
            &[
                "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
            ],
            d,
        );
        let keys = Keys {
            key: d.join("key.pem"),
            cert_der: std::fs::read(d.join("cert.der")).expect("read the token certificate"),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token service");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr").to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || serve(&listener, &keys, &requests, &stop))
        };
        TokenServer {
            addr,
            cert: d.join("cert.pem"),
            requests,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// The realm the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        if let Ok(mut r) = self.requests.lock() {
            r.clear();
        }
    }

    /// The actions of `wanted` (`pull,push`) that `account` may do on the
    /// resource `kind:name`.
    pub fn granted(account: Option<&str>, kind: &str, name: &str, wanted: &[&str]) -> Vec<String> {
        let allowed: &[&str] = match (account, kind) {
            (Some("admin"), _) => &["pull", "push", "delete", "*"],
            (Some("alice"), "registry") if name == "catalog" => &["*"],
            (Some("alice"), "repository") if name.starts_with("alice/") => &["pull", "push"],
            (Some("alice"), "repository") if name.starts_with("shared/") => &["pull"],
            (_, "repository") if name.starts_with("public/") => &["pull"],
            _ => &[],
        };
        wanted
            .iter()
            .filter(|a| allowed.contains(a))
            .map(|a| (*a).to_owned())
            .collect()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let openssl = crate::require::program("openssl", "openssl");
    run_with_timeout(
        Command::new(openssl).current_dir(dir).args(args),
        OPENSSL_TIMEOUT,
    )
    .ok();
}

fn serve(
    listener: &TcpListener,
    keys: &Keys,
    requests: &Mutex<Vec<TokenRequest>>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, keys, requests) {
                    eprintln!("token service: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("token service accept: {e}"),
        }
    }
}

fn answer(
    stream: TcpStream,
    keys: &Keys,
    requests: &Mutex<Vec<TokenRequest>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if !line.starts_with("GET ") || path != "/token" {
        return respond(stream, "404 Not Found", "{}");
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let account = match authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
    {
        None => Ok(None),
        Some(encoded) => {
            let decoded = STANDARD.decode(encoded.trim()).unwrap_or_default();
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            match decoded.split_once(':') {
                Some((user, password)) if USERS.contains(&(user, password)) => {
                    Ok(Some(user.to_owned()))
                }
                Some((user, _)) => Err(user.to_owned()),
                None => Err(String::new()),
            }
        }
    };
    let log = |account: Option<String>, issued: bool| {
        if let Ok(mut r) = requests.lock() {
            r.push(TokenRequest {
                account,
                scopes: scopes.clone(),
                issued,
            });
        }
    };
    let account = match account {
        Ok(account) => account,
        Err(user) => {
            log(Some(user), false);
            return respond(
                stream,
                "401 Unauthorized",
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid credentials"}]}"#,
            );
        }
    };
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let wanted: Vec<&str> = actions.split(',').collect();
            let granted = TokenServer::granted(account.as_deref(), kind, name, &wanted);
            Some(serde_json::json!({"type": kind, "name": name, "actions": granted}))
        })
        .collect();
    let token = sign(keys, account.as_deref().unwrap_or_default(), &access)?;
    log(account, true);
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": TOKEN_LIFETIME,
    });
    respond(stream, "200 OK", &body.to_string())
}

/// A JWT for `subject` with `access`, signed RS256.
fn sign(keys: &Keys, subject: &str, access: &[serde_json::Value]) -> std::io::Result<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = serde_json::json!({
        "typ": "JWT",
        "alg": "RS256",
        "x5c": [STANDARD.encode(&keys.cert_der)],
    });
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": now + TOKEN_LIFETIME,
        "nbf": now - 1,
        "iat": now,
        "jti": format!("{now}-{}", std::process::id()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&keys.key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("openssl stdin"))?
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(std::io::Error::other(format!(
            "openssl dgst -sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(&out.stdout)))
}

fn respond(mut stream: TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
