//! The `until` value of the prune filters: moby's `timestamp.Parse`
//! (`daemon/internal/timestamp`), which the daemon applies to the value as
//! the user typed it (`docker image prune --filter until=24h`).
//!
//! In moby's order: a Go duration (`90m`, `1h30m`, `1.5h`) counts back from
//! now; then an RFC 3339-like time (`2024-05-01`, `2024-05-01T10`,
//! `2024-05-01T10:30:00.5+02:00`), in the daemon's local zone when it names
//! none; then Unix seconds with an optional fraction (`1700000000.5`).

use chrono::{DateTime, Duration, FixedOffset, Local, NaiveDate, NaiveTime, TimeZone, Utc};

/// Why an `until` value is not a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntilError {
    /// Nothing to parse (moby's wording).
    #[error("failed to parse value as time or duration: value is empty")]
    Empty,
    /// It looks like a date (it has a `-`) but is not one.
    #[error("parsing time {0:?}: not an RFC 3339 date or time")]
    Date(String),
    /// Neither a duration, a date, nor Unix seconds (moby's wording).
    #[error("failed to parse value as time or duration: invalid seconds {0:?}: invalid syntax")]
    Seconds(String),
}

/// The instant `value` names, `now` being the reference of a duration.
pub fn parse_until(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UntilError> {
    if value.trim().is_empty() {
        return Err(UntilError::Empty);
    }
    if value != "0"
        && let Some(back) = parse_go_duration(value)
    {
        return Ok(now - back);
    }
    // moby: a value without a `z`, `Z` or `+`, and not with three dashes
    // (a date and a negative offset), is in the daemon's local zone.
    let local = !value.contains(['z', 'Z', '+']) && value.matches('-').count() != 3;
    match date_time(value, local) {
        Some(t) => Ok(t),
        None if value.contains('-') => Err(UntilError::Date(value.to_owned())),
        None => unix_seconds(value).ok_or_else(|| {
            UntilError::Seconds(value.split('.').next().unwrap_or(value).to_owned())
        }),
    }
}

/// `DATE[THH[:MM[:SS[.FRACTION]]]]` followed by a zone (`Z`, `±HH:MM`)
/// unless `local`.
fn date_time(value: &str, local: bool) -> Option<DateTime<Utc>> {
    let (civil, offset) = if local {
        (value, None)
    } else if let Some(rest) = value.strip_suffix(['Z', 'z']) {
        (rest, FixedOffset::east_opt(0))
    } else {
        let at = value.len().checked_sub(6)?;
        let (rest, zone) = (value.get(..at)?, value.get(at..)?);
        (rest, Some(zone_offset(zone)?))
    };
    let (date, clock) = match civil.split_once('T') {
        Some((date, clock)) => (date, Some(clock)),
        None => (civil, None),
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let time = match clock {
        None => NaiveTime::MIN,
        Some(clock) => {
            let format = match clock.matches(':').count() {
                0 if !clock.contains('.') => "%H",
                1 if !clock.contains('.') => "%H:%M",
                2 => "%H:%M:%S%.f",
                _ => return None,
            };
            // chrono wants minutes: pad the hour-only forms.
            let padded = match format {
                "%H" => format!("{clock}:00:00"),
                "%H:%M" => format!("{clock}:00"),
                _ => clock.to_owned(),
            };
            NaiveTime::parse_from_str(&padded, "%H:%M:%S%.f").ok()?
        }
    };
    let civil = date.and_time(time);
    match offset {
        Some(offset) => offset
            .from_local_datetime(&civil)
            .single()
            .map(|t| t.with_timezone(&Utc)),
        None => Local
            .from_local_datetime(&civil)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// `+HH:MM` or `-HH:MM`.
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let bytes = zone.as_bytes();
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if bytes.get(3) != Some(&b':') {
        return None;
    }
    let hours: i32 = zone.get(1..3)?.parse().ok()?;
    let minutes: i32 = zone.get(4..6)?.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// `SECONDS[.FRACTION]` since the Unix epoch (a fraction beyond nine
/// digits is cut, as moby's `parseTimestamp` does).
fn unix_seconds(value: &str) -> Option<DateTime<Utc>> {
    let (secs, fraction) = match value.split_once('.') {
        Some((s, f)) => (s, f),
        None => (value, ""),
    };
    let secs: i64 = secs.parse().ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: String = fraction
            .chars()
            .chain("000000000".chars())
            .take(9)
            .collect();
        digits.parse().ok()?
    };
    Utc.timestamp_opt(secs, nanos).single()
}

/// Go's `time.ParseDuration`: a signed sequence of decimal numbers, each
/// with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), or `0` alone.
pub fn parse_go_duration(value: &str) -> Option<Duration> {
    let (negative, mut rest) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    if rest == "0" {
        return Some(Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." {
            return None;
        }
        let amount: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += amount * nanos_per;
    }
    // Go's limit: about 290 years.
    if total > i64::MAX as f64 {
        return None;
    }
    let nanos = total as i64;
    Some(Duration::nanoseconds(if negative { -nanos } else { nanos }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    fn at(value: &str) -> DateTime<Utc> {
        parse_until(value, now()).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(at("24h"), now() - Duration::hours(24));
        assert_eq!(at("1h30m"), now() - Duration::minutes(90));
        assert_eq!(at("1.5h"), now() - Duration::minutes(90));
        assert_eq!(at("90s"), now() - Duration::seconds(90));
        assert_eq!(at("250ms"), now() - Duration::milliseconds(250));
        assert_eq!(at("-1h"), now() + Duration::hours(1));
    }

    #[test]
    fn dates_and_times_with_a_zone() {
        let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        assert_eq!(at("2024-05-01T10:30:00Z"), utc(2024, 5, 1, 10, 30, 0));
        assert_eq!(at("2024-05-01T10:30:00+02:00"), utc(2024, 5, 1, 8, 30, 0));
        assert_eq!(at("2024-05-01T10:30:00-02:00"), utc(2024, 5, 1, 12, 30, 0));
        assert_eq!(at("2024-05-01T10Z"), utc(2024, 5, 1, 10, 0, 0));
        assert_eq!(at("2024-05-01T10:30Z"), utc(2024, 5, 1, 10, 30, 0));
        assert_eq!(at("2024-05-01Z"), utc(2024, 5, 1, 0, 0, 0));
        assert_eq!(
            at("2024-05-01T10:30:00.5Z"),
            utc(2024, 5, 1, 10, 30, 0) + Duration::milliseconds(500)
        );
    }

    #[test]
    fn dates_without_a_zone_are_local() {
        let local = |s: &str| {
            Local
                .from_local_datetime(&s.parse().unwrap())
                .earliest()
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(at("2024-05-01"), local("2024-05-01T00:00:00"));
        assert_eq!(at("2024-05-01T10"), local("2024-05-01T10:00:00"));
        assert_eq!(at("2024-05-01T10:30:15"), local("2024-05-01T10:30:15"));
    }

    #[test]
    fn unix_seconds_with_a_fraction() {
        assert_eq!(
            at("1700000000"),
            Utc.timestamp_opt(1_700_000_000, 0).unwrap()
        );
        assert_eq!(
            at("1700000000.5"),
            Utc.timestamp_opt(1_700_000_000, 500_000_000).unwrap()
        );
        assert_eq!(at("0"), Utc.timestamp_opt(0, 0).unwrap());
    }

    #[test]
    fn what_is_no_time_is_refused_in_mobys_words() {
        assert_eq!(parse_until(" ", now()), Err(UntilError::Empty));
        assert_eq!(
            parse_until("yesterday", now()).unwrap_err().to_string(),
            "failed to parse value as time or duration: invalid seconds \"yesterday\": invalid syntax"
        );
        assert!(matches!(
            parse_until("2024-13-01", now()),
            Err(UntilError::Date(_))
        ));
        assert!(matches!(
            parse_until("2024-05-01T10:30:00+25:00", now()),
            Err(UntilError::Date(_))
        ));
        assert!(parse_until("10x", now()).is_err());
        assert!(parse_until("h", now()).is_err());
    }
}
