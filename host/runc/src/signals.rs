//! Signal names and foreground waiting with signal forwarding.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Parses `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse(text: &str) -> Result<Signal> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).with_context(|| format!("unknown signal number {n}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .with_context(|| format!("unknown signal {text:?}"))
}

/// Signals that are forwarded to the container rather than acted on.
fn forwarded() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
    ] {
        set.remove(s);
    }
    set
}

/// Blocks forwardable signals (so they queue for `sigwait`) until the
/// waited-for process exits.
pub struct Forwarder {
    pub(crate) set: SigSet,
}

impl Forwarder {
    /// Blocks the signals now.
    pub fn block() -> Result<Forwarder> {
        let set = forwarded();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).context("block signals")?;
        Ok(Forwarder { set })
    }

    /// Waits until `pid` exits, forwarding every other signal to it;
    /// returns its exit status as a shell would (128 + signal).
    pub fn wait_for(self, pid: Pid) -> Result<u8> {
        loop {
            // Reap first: SIGCHLD may have arrived before we block in
            // sigwait.
            if let Some(status) = reap(pid)? {
                return Ok(status);
            }
            let sig = self.set.wait().context("sigwait")?;
            if sig != Signal::SIGCHLD {
                // The process may be gone already; nothing to do then.
                let _ = kill(pid, sig);
            }
        }
    }
}

/// Reaps every child that has exited, without blocking; once `pid` is
/// among them, its exit status as a shell reports it (the code, or 128 +
/// the signal). Other children (none but init or the exec'd process, in
/// practice) are reaped and forgotten.
pub fn reap(pid: Pid) -> Result<Option<u8>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Ok(Some(code as u8)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => return Ok(Some(128 + sig as u8)),
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("waitpid: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_spellings() {
        for text in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse(text).unwrap(), Signal::SIGKILL, "{text}");
        }
        assert_eq!(parse("TERM").unwrap(), Signal::SIGTERM);
        assert!(parse("SIGBOGUS").is_err());
        assert!(parse("99").is_err());
    }
}
