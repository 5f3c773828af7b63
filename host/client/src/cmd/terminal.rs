//! The local terminal of `run -t` and `attach`: raw mode, and its size
//! sent to the container at start and at every change (SIGWINCH), as the
//! docker CLI's `MonitorTtySize` does.

use hyper::Method;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

use crate::http::{Client, query, segment};

/// Puts the local terminal in raw mode for `-t`, restored on drop.
pub struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    /// Raw mode on stdin's terminal (nothing when it is none).
    pub fn enable() -> RawTerminal {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let Ok(original) = tcgetattr(&stdin) else {
            return RawTerminal(None);
        };
        let mut raw = original.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawTerminal(Some(original))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(original) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                original,
            );
        }
    }
}

/// The size of the terminal on stdout, as rows and columns.
pub(super) fn terminal_size() -> Option<(u16, u16)> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
    let rc = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Sends the local terminal's size to `resize` (a resize endpoint).
async fn send_size(client: &Client, resize: &str) {
    let Some((h, w)) = terminal_size() else {
        return;
    };
    let path = format!(
        "{resize}{}",
        query(&[("h", &h.to_string()), ("w", &w.to_string())])
    );
    // As the docker CLI: a failed resize is no reason to end the session.
    let _ = client.simple(Method::POST, &path).await;
}

/// Sends the terminal's size to container `id` now and after every
/// SIGWINCH, until the returned task is aborted. The handler is installed
/// before the first size is read, so a change in between is not missed.
pub fn follow_size(client: &Client, id: &str) -> JoinHandle<()> {
    follow_resize(client, format!("/containers/{}/resize", segment(id)))
}

/// [`follow_size`] for any resize endpoint (`/exec/{id}/resize`).
pub fn follow_resize(client: &Client, resize: String) -> JoinHandle<()> {
    let client = client.clone();
    let winch = signal(SignalKind::window_change());
    tokio::spawn(async move {
        send_size(&client, &resize).await;
        let Ok(mut winch) = winch else {
            return;
        };
        while winch.recv().await.is_some() {
            send_size(&client, &resize).await;
        }
    })
}
