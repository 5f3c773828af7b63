//! Human-readable sizes and durations as Docker parses and prints them
//! (`go-units`): `RAMInBytes` (`512m`, `1.5g`, `100kb`, `2GiB`),
//! `FromHumanSize` (`10m` is 10 000 000 bytes), `HumanSize` (`4.86MB`) and
//! `HumanDuration` (`About an hour`).

/// A size string that cannot be parsed. The message is go-units'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size: '{input}'")]
pub struct SizeError {
    /// The size string as given.
    pub input: String,
}

/// Parses a memory size: a decimal number with an optional unit among
/// `b k m g t p` (case-insensitive, 1024-based, optionally followed by `b`
/// or `ib`). A bare number is bytes.
pub fn ram_in_bytes(input: &str) -> Result<i64, SizeError> {
    parse_size(input, 1024.0)
}

/// Parses a size with the grammar of [`ram_in_bytes`] but 1000-based units,
/// as Docker reads the json-file log driver's `max-size`.
pub fn from_human_size(input: &str) -> Result<i64, SizeError> {
    parse_size(input, 1000.0)
}

fn parse_size(input: &str, base: f64) -> Result<i64, SizeError> {
    let err = || SizeError {
        input: input.to_owned(),
    };
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(err()),
    };
    let multiplier = base.powi(power);
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as i64)
}

/// Formats a size the way `docker images` prints it (go-units
/// `HumanSize`: decimal units, four significant digits): `4.86MB`.
pub fn human_size(bytes: i64) -> String {
    custom_size(
        bytes as f64,
        1000.0,
        &["B", "kB", "MB", "GB", "TB", "PB", "EB"],
    )
}

/// go-units `BytesSize`: binary units, four significant digits (`10MiB`,
/// `1.953GiB`), as `docker stats` prints memory.
pub fn bytes_size(bytes: u64) -> String {
    custom_size(
        bytes as f64,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
    )
}

/// go-units `CustomSize("%.4g%s", ...)`: `value` divided by `base` until
/// under it (or out of units), four significant digits, trailing zeros
/// trimmed.
fn custom_size(mut value: f64, base: f64, units: &[&str]) -> String {
    let mut unit = 0;
    while value >= base && unit < units.len() - 1 {
        value /= base;
        unit += 1;
    }
    let int_digits = if value < 1.0 {
        1
    } else {
        (value.log10().floor() as usize) + 1
    };
    let precision = 4usize.saturating_sub(int_digits);
    let mut text = format!("{value:.precision$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{text}{}", units[unit])
}

/// go-units `HumanDuration` of `seconds`, as `docker ps` and `docker
/// images` print ages: whole seconds and minutes truncated, hours rounded
/// to the nearest hour (`d.Round(time.Hour)`), years truncated.
pub fn human_duration(seconds: i64) -> String {
    // Go rounds halfway away from zero.
    let hours = (seconds + 1800).div_euclid(3600);
    match seconds {
        s if s < 1 => "Less than a second".to_owned(),
        1 => "1 second".to_owned(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".to_owned(),
        s if s < 3600 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".to_owned(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        s => format!("{} years", s / 3600 / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_sizes() {
        assert_eq!(ram_in_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("1.5G").unwrap(), 3 << 29);
        assert_eq!(ram_in_bytes("100kb").unwrap(), 102400);
        assert_eq!(ram_in_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(ram_in_bytes("4096").unwrap(), 4096);
        assert_eq!(ram_in_bytes("10 m").unwrap(), 10 << 20);
    }

    #[test]
    fn binary_sizes_print_as_go_units_does() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1023), "1023B");
        assert_eq!(bytes_size(1536), "1.5KiB");
        assert_eq!(bytes_size(2_097_152_000), "1.953GiB");
    }

    #[test]
    fn human_sizes_are_decimal() {
        assert_eq!(from_human_size("10m").unwrap(), 10_000_000);
        assert_eq!(from_human_size("1.5k").unwrap(), 1500);
        assert_eq!(from_human_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(from_human_size("512").unwrap(), 512);
        assert_eq!(
            from_human_size("ten").unwrap_err().to_string(),
            "invalid size: 'ten'"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "m", "12x", "1..2m", "-1m", "1.m", "lots"] {
            let err = ram_in_bytes(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid size: '{bad}'"));
        }
    }

    #[test]
    fn prints_like_docker_images() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_860_000), "4.86MB");
        assert_eq!(human_size(1_234_567_890), "1.235GB");
    }

    #[test]
    fn durations_match_go_units() {
        assert_eq!(human_duration(-5), "Less than a second");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        // Hours are rounded, not truncated: 1 h 40 min is "2 hours".
        assert_eq!(human_duration(6000), "2 hours");
        assert_eq!(human_duration(5399), "About an hour");
        assert_eq!(human_duration(47 * 3600 + 1800), "2 days");
        assert_eq!(human_duration(15 * 86400), "2 weeks");
        assert_eq!(human_duration(70 * 86400), "2 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }
}
