//! Wall-clock timestamps in the two RFC 3339 shapes Docker uses.
//!
//! - Go's `time.RFC3339Nano` (`2006-01-02T15:04:05.999999999Z07:00`): the
//!   fraction loses its trailing zeros and disappears when it is zero. This is
//!   how moby's json-file logger writes the `time` field and how the API
//!   prints `StartedAt`/`FinishedAt`.
//! - moby's `RFC3339NanoFixed` (`2006-01-02T15:04:05.000000000Z07:00`): always
//!   nine digits, used for the prefix of `docker logs --timestamps`, so that
//!   the prefixes line up.
//!
//! Written by hand (civil-from-days, H. Hinnant's algorithm) instead of
//! pulling a date library into the shim, which must stay small.
//!
//! This is the workspace's one clock: [`Timestamp::now`], and
//! [`now_rfc3339`] for the API's time fields.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with nanosecond precision, always printed in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch (negative before 1970).
    secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    nanos: u32,
}

/// The current time as berthd records `Created` and the times it stamps
/// itself: RFC 3339 with nine fraction digits, UTC (what the engine and the
/// graph printed through chrono's `SecondsFormat::Nanos` before this helper
/// replaced both; Go's parsers and ours read it).
pub fn now_rfc3339() -> String {
    Timestamp::now().to_rfc3339_nano_fixed()
}

/// Why a string is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
pub struct ParseTimestampError {
    input: String,
    reason: &'static str,
}

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: RFC 3339 writes a year in
/// four digits, so these bound what can be printed and parsed back.
const RFC3339_MIN_SECS: i64 = -62_167_219_200;
const RFC3339_MAX_SECS: i64 = 253_402_300_799;

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Builds a timestamp from seconds and nanoseconds since the epoch;
    /// `nanos` beyond a second carry into `secs`.
    pub fn from_unix(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs.saturating_add(i64::from(nanos / 1_000_000_000)),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// The time as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::new(self.secs.unsigned_abs(), self.nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs())
                + Duration::from_nanos(u64::from(self.nanos))
        }
    }

    /// Go's `RFC3339Nano` in UTC: `2024-05-01T12:00:00.1234Z`.
    pub fn to_rfc3339_nano(self) -> String {
        self.format(false)
    }

    /// moby's `RFC3339NanoFixed` in UTC: `2024-05-01T12:00:00.123400000Z`.
    pub fn to_rfc3339_nano_fixed(self) -> String {
        self.format(true)
    }

    fn format(self, fixed: bool) -> String {
        let days = self.secs.div_euclid(86_400);
        let secs_of_day = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut out = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60
        );
        if fixed {
            out.push_str(&format!(".{:09}", self.nanos));
        } else if self.nanos != 0 {
            let digits = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339, which
    /// covers both shapes above and timestamps with an offset).
    pub fn parse_rfc3339(input: &str) -> Result<Timestamp, ParseTimestampError> {
        let fail = |reason| ParseTimestampError {
            input: input.to_owned(),
            reason,
        };
        let b = input.as_bytes();
        if b.len() < 20 {
            return Err(fail("too short"));
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, ParseTimestampError> {
            let part = &b[range];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(fail("expected digits"));
            }
            Ok(part
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
        };
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(fail("expected YYYY-MM-DDTHH:MM:SS"));
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(fail("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(fail("field out of range"));
        }
        let mut pos = 19;
        let mut nanos: u32 = 0;
        if b[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                if pos - start < 9 {
                    nanos = nanos * 10 + u32::from(b[pos] - b'0');
                }
                pos += 1;
            }
            let digits = pos - start;
            if digits == 0 {
                return Err(fail("empty fraction"));
            }
            for _ in digits..9 {
                nanos *= 10;
            }
        }
        let offset_secs = match b.get(pos) {
            Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if pos + 6 == b.len() && b[pos + 3] == b':' => {
                let (h, m) = (num(pos + 1..pos + 3)?, num(pos + 4..pos + 6)?);
                if h > 23 || m > 59 {
                    return Err(fail("offset out of range"));
                }
                let offset = h * 3600 + m * 60;
                if *sign == b'+' { offset } else { -offset }
            }
            _ => return Err(fail("expected Z or an offset ±HH:MM at the end")),
        };
        let secs =
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59)
                - offset_secs;
        // An offset can carry 0000-01-01 or 9999-12-31 out of the years UTC
        // can be printed in; such a time could not be written back.
        if !(RFC3339_MIN_SECS..=RFC3339_MAX_SECS).contains(&secs) {
            return Err(fail("year outside of range [0,9999] in UTC"));
        }
        Ok(Timestamp { secs, nanos })
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Timestamp {
        match time.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(before) => {
                let d = before.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    Timestamp {
                        secs: -secs,
                        nanos: 0,
                    }
                } else {
                    Timestamp {
                        secs: -secs - 1,
                        nanos: 1_000_000_000 - d.subsec_nanos(),
                    }
                }
            }
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        t.to_system_time()
    }
}

impl fmt::Display for Timestamp {
    /// Formats as Go's `RFC3339Nano` in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_nano())
    }
}

impl std::str::FromStr for Timestamp {
    type Err = ParseTimestampError;

    fn from_str(s: &str) -> Result<Timestamp, ParseTimestampError> {
        Timestamp::parse_rfc3339(s)
    }
}

/// Refuses instants whose year is outside 0000–9999, as Go's
/// `Time.MarshalJSON` does ("year outside of range [0,9999]"): printed,
/// they would not parse back on the other side.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !(RFC3339_MIN_SECS..=RFC3339_MAX_SECS).contains(&self.secs) {
            return Err(serde::ser::Error::custom(format!(
                "timestamp of {} seconds since the epoch: year outside of range [0,9999]",
                self.secs
            )));
        }
        s.serialize_str(&self.to_rfc3339_nano())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_go_rfc3339nano_trimming_zeros() {
        let t = Timestamp::from_unix(1_714_564_800, 123_400_000);
        assert_eq!(t.to_rfc3339_nano(), "2024-05-01T12:00:00.1234Z");
        assert_eq!(t.to_rfc3339_nano_fixed(), "2024-05-01T12:00:00.123400000Z");
        let whole = Timestamp::from_unix(1_714_564_800, 0);
        assert_eq!(whole.to_rfc3339_nano(), "2024-05-01T12:00:00Z");
        assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn formats_dates_around_leap_days_and_before_the_epoch() {
        assert_eq!(
            Timestamp::from_unix(951_782_400, 5).to_rfc3339_nano(),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(
            Timestamp::from(UNIX_EPOCH - Duration::from_millis(1500)).to_rfc3339_nano(),
            "1969-12-31T23:59:58.5Z"
        );
        // Go's zero time, which Docker prints for "never".
        let zero = Timestamp::parse_rfc3339("0001-01-01T00:00:00Z").expect("parse");
        assert_eq!(zero.to_rfc3339_nano(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for (secs, nanos) in [(0, 0), (1_714_564_800, 1), (1_714_564_800, 999_999_999)] {
            let t = Timestamp::from_unix(secs, nanos);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_nano()), Ok(t));
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_nano_fixed()), Ok(t));
        }
        let with_offset = Timestamp::parse_rfc3339("2024-05-01T14:30:00.5+02:30").expect("parse");
        assert_eq!(
            with_offset,
            Timestamp::from_unix(1_714_564_800, 500_000_000)
        );
        // Digits past nanoseconds are truncated, as Go does.
        let long = Timestamp::parse_rfc3339("2024-05-01T12:00:00.1234567891Z").expect("parse");
        assert_eq!(long.subsec_nanos(), 123_456_789);
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+0200",
            "2024-05-01T12:00:00Zjunk",
            "2024-05-01X12:00:00Z",
        ] {
            let err = Timestamp::parse_rfc3339(bad).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn round_trips_through_system_time_and_serde() {
        let t = Timestamp::from_unix(1_714_564_800, 42);
        assert_eq!(Timestamp::from(t.to_system_time()), t);
        let json = serde_json::to_string(&t).expect("serialize");
        assert_eq!(json, "\"2024-05-01T12:00:00.000000042Z\"");
        assert_eq!(
            serde_json::from_str::<Timestamp>(&json).expect("deserialize"),
            t
        );
    }
}
