//! The reaper's exit status from its child's wait status, as a shell and
//! tini (Docker's `docker-init`) report it: the exit code, or 128 plus the
//! number of the signal that killed it (wait(2), `WIFEXITED`,
//! `WTERMSIG`).

/// The exit code for a wait(2) `status` of a child that has ended.
pub fn exit_code(status: i32) -> u8 {
    let signal = status & 0x7f;
    if signal == 0 {
        // WEXITSTATUS
        ((status >> 8) & 0xff) as u8
    } else {
        // WTERMSIG: 1..=64, so 128 + signal fits in a u8.
        (128 + signal) as u8
    }
}
