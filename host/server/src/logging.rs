//! berthd's log, for people and for log shippers.
//!
//! - `--log-format text|json`, dockerd's flag and values: `text` is one
//!   human-readable line per record, `json` one JSON object per line
//!   (`timestamp`, `level`, `fields` with `message`, `target`).
//! - ANSI colour only when stderr is a terminal: a redirected log (a file,
//!   journald, a pipe into a shipper) carries no escape codes.
//! - One record per line in both formats: a message or field with line
//!   breaks (a wasmparser error's byte dump, an error chain) is written with
//!   `\n` escapes in text mode, as JSON strings already are, so that a line
//!   is a record for `grep`, `tail` and every shipper.

use std::fmt;
use std::io::IsTerminal;

use anyhow::bail;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{self, Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format`: how each record is written (dockerd's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per record.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The flag value, to hand the format on to a child berthd.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Installs the global subscriber: `level` is `--log-level` (dockerd's
/// names; `BERTH_LOG` with `EnvFilter` syntax overrides it), records go to
/// stderr in `format`.
pub fn init(level: &str, format: LogFormat) -> anyhow::Result<()> {
    let level = match level {
        "fatal" | "panic" => "error",
        "debug" | "info" | "warn" | "error" | "trace" => level,
        other => bail!("invalid --log-level {other:?}: use debug, info, warn, error or fatal"),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal();
            builder
                .with_ansi(ansi)
                .event_format(OneLine::new(ansi))
                .init();
        }
        // serde_json escapes control characters in strings: each record is
        // one line as it stands.
        LogFormat::Json => builder.with_ansi(false).json().init(),
    }
    Ok(())
}

/// tracing-subscriber's full text format, with every line break inside a
/// record escaped so that the record stays on one line.
#[derive(Debug)]
pub struct OneLine {
    inner: Format<Full>,
}

impl OneLine {
    /// The text format, coloured when `ansi`.
    pub fn new(ansi: bool) -> OneLine {
        OneLine {
            inner: format::format().with_ansi(ansi),
        }
    }
}

impl<S, N> FormatEvent<S, N> for OneLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The inner format decides on colour itself (`with_ansi` above), so
        // formatting into a plain buffer loses nothing.
        let mut record = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut record), event)?;
        writer.write_str(&escape_line_breaks(&record))?;
        writer.write_char('\n')
    }
}

/// `record` without its final line break, with `\n` and `\r` inside it
/// written as the two characters `\n` and `\r`.
pub fn escape_line_breaks(record: &str) -> String {
    let body = record.strip_suffix('\n').unwrap_or(record);
    let mut out = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `MakeWriter` into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn logged(ansi: bool) -> String {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_ansi(ansi)
            .event_format(OneLine::new(ansi))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                plugin = "garbage",
                "refused: expected=[\n    0x0,\n] at\r\nend"
            );
            tracing::info!(reason = %"a\nb", "second");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_record_with_line_breaks_is_one_line() {
        let log = logged(false);
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(
            lines[0].contains(r"refused: expected=[\n    0x0,\n] at\r\nend"),
            "{log}"
        );
        assert!(lines[0].contains("WARN"), "{log}");
        assert!(lines[1].contains(r"reason=a\nb"), "{log}");
        assert!(!log.contains('\x1b'), "{log:?}");
    }

    #[test]
    fn colour_only_when_asked_for() {
        let log = logged(true);
        assert!(log.contains('\x1b'), "{log:?}");
        assert_eq!(log.lines().count(), 2, "{log}");
    }

    #[test]
    fn escaping_keeps_everything_but_the_final_line_break() {
        assert_eq!(escape_line_breaks("a\nb\r\n"), r"a\nb\r");
        assert_eq!(escape_line_breaks("plain"), "plain");
        assert_eq!(escape_line_breaks(""), "");
    }
}
