//! A plain HTTP GET from the host, for tests that reach a container's
//! web server (`busybox httpd`) directly or through a published port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `GET /` of `target` from the host, retried while the server (or the
/// daemon's forwarding rules) comes up: 100 tries, each bounded, then a
/// panic naming the last error. Returns the whole response, headers too.
pub fn get_from_host(target: SocketAddr) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        match TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
            Ok(mut stream) => {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                stream
                    .write_all(b"GET / HTTP/1.0\r\n\r\n")
                    .expect("request");
                let mut response = String::new();
                match stream.read_to_string(&mut response) {
                    Ok(_) if !response.is_empty() => return response,
                    Ok(_) => last = "empty response".to_owned(),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{target} unreachable from the host: {last}");
}
