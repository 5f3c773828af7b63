//! Error reporting: stderr, plus `--log` in runc's formats.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::LogFormat;

/// Where errors go.
pub struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
}

impl Logger {
    /// A logger writing to stderr and, if given, appending to `file`.
    pub fn new(file: Option<&Path>, format: LogFormat) -> Logger {
        Logger {
            file: file.map(Path::to_path_buf),
            format,
        }
    }

    /// Reports an error.
    pub fn error(&self, msg: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        if let Some(path) = &self.file {
            let line = format_line(self.format, &time, msg);
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = written {
                eprintln!("berth-runc: cannot write log {}: {e}", path.display());
            }
        }
        eprintln!("berth-runc: {msg}");
    }
}

/// One log line in `format`.
pub fn format_line(format: LogFormat, time: &str, msg: &str) -> String {
    match format {
        LogFormat::Json => {
            let obj = serde_json::json!({"level": "error", "msg": msg, "time": time});
            format!("{obj}\n")
        }
        LogFormat::Text => format!("time={time:?} level=error msg={msg:?}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_what_containerd_reads() {
        let line = format_line(LogFormat::Json, "2024-01-01T00:00:00Z", "boom \"x\"");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "2024-01-01T00:00:00Z");
        assert!(line.ends_with('\n'));
    }

    #[test]
    fn text_lines_quote_the_message() {
        let line = format_line(LogFormat::Text, "t", "a b");
        assert_eq!(line, "time=\"t\" level=error msg=\"a b\"\n");
    }
}
