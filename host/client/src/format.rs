//! Output formatting close to the docker CLI's.

use berth_api::units::human_duration;
use chrono::{DateTime, Utc};

/// Renders rows as columns separated by at least three spaces (docker's
/// tabwriter settings).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                text.push_str(&cell);
            } else {
                text.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
    out
}

/// "N units ago" for a Unix timestamp.
pub fn ago(unix: i64) -> String {
    match DateTime::<Utc>::from_timestamp(unix, 0) {
        Some(t) => format!("{} ago", human_duration((Utc::now() - t).num_seconds())),
        None => "N/A".to_owned(),
    }
}

/// Truncates to `max` characters with an ellipsis, as `docker ps` does.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A short (12-digit) id without its `sha256:` prefix.
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// JSON with four-space indentation, like `docker inspect`.
pub fn pretty_json(value: &serde_json::Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    if value.serialize(&mut ser).is_err() {
        return value.to_string();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns() {
        let out = table(&["A", "BB"], &[vec!["xxxx".into(), "y".into()]]);
        assert_eq!(out, "A      BB\nxxxx   y\n");
    }

    #[test]
    fn helpers() {
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert!(pretty_json(&serde_json::json!([{"a": 1}])).contains("\n        \"a\": 1"));
    }

    #[test]
    fn ages_round_hours_like_the_docker_cli() {
        // 1 h 40 min: go-units rounds to the nearest hour.
        assert_eq!(ago(Utc::now().timestamp() - 6000), "2 hours ago");
        assert_eq!(ago(Utc::now().timestamp() - 90), "About a minute ago");
    }
}
