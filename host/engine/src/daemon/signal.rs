//! Signal names as the Docker API and CLI spell them (`SIGTERM`, `TERM`,
//! `15`).

use crate::job::JobError;

/// SIGKILL (signal(7)): what force removal and stop after the timeout send.
pub const SIGKILL: i32 = 9;

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parses a signal name or number; the message is dockerd's.
pub fn parse(raw: &str) -> Result<i32, JobError> {
    let invalid = || JobError::invalid(format!("Invalid signal: {raw}"));
    if let Ok(n) = raw.parse::<i32>() {
        // Real-time signals go up to 64 on Linux.
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("kill").unwrap(), 9);
        assert_eq!(parse("sigusr1").unwrap(), 10);
        assert_eq!(parse("2").unwrap(), 2);
        assert_eq!(
            parse("SIGFOO").unwrap_err().message,
            "Invalid signal: SIGFOO"
        );
        assert!(parse("0").is_err() && parse("65").is_err());
    }
}
