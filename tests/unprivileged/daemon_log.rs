//! berthd's log for people and log shippers: no ANSI codes when stderr is
//! not a terminal, `--log-format json`, one record per line (a refused
//! plugin's byte dump included).

use crate::plugins_support::PluginDir;

/// A plugin directory with a file that is not WebAssembly: its refusal
/// carries wasmparser's multi-line byte dump.
fn with_garbage_plugin() -> PluginDir {
    let dir = PluginDir::new();
    std::fs::write(dir.plugins().join("garbage.wasm"), b"this is not wasm")
        .expect("write garbage.wasm");
    std::fs::write(
        dir.plugins().join("garbage.toml"),
        "name = \"garbage\"\nversion = \"1.0.0\"\nworld = \"job-handler\"\nwit = \"1.0.0\"\n",
    )
    .expect("write garbage.toml");
    dir
}

/// Starts berthd (stderr to a file), makes it log a request, stops it and
/// answers its whole log and the garbage plugin's refusal reason.
fn run_daemon(extra: &[&str]) -> (String, String) {
    let dir = with_garbage_plugin();
    let mut daemon = dir.start_with(extra);
    let status = daemon.http("GET", "/berth/plugins/garbage", b"").json();
    let refused = status["refused"]
        .as_str()
        .expect("garbage is refused")
        .to_owned();
    assert_eq!(daemon.http("GET", "/info", b"").status, 200);
    daemon.stop();
    (daemon.log(), refused)
}

#[test]
fn a_redirected_text_log_has_no_ansi_codes_and_one_record_per_line() {
    let (log, refused) = run_daemon(&[]);
    assert!(
        !log.contains('\x1b'),
        "ANSI codes in a redirected log:\n{log}"
    );
    assert!(!refused.contains('\n'), "{refused:?}");
    assert!(refused.contains("magic header not detected"), "{refused}");
    // Every line is a record: it starts with its RFC 3339 timestamp.
    for line in log.lines() {
        let stamp = line.split(' ').next().unwrap_or_default();
        assert!(
            stamp.len() > 20 && stamp.as_bytes()[4] == b'-' && stamp.contains('T'),
            "a line that is no record: {line:?}\nin:\n{log}"
        );
    }
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("garbage.wasm is not a usable component"))
        .collect();
    assert_eq!(refusals.len(), 1, "{log}");
    assert!(
        refusals[0].contains("0x61"),
        "the byte dump is on the line: {log}"
    );
}

#[test]
fn json_log_is_one_object_per_line_with_level_message_and_timestamp() {
    let (log, _) = run_daemon(&["--log-format", "json"]);
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}\nin:\n{log}"))
        })
        .collect();
    assert!(records.len() > 3, "{log}");
    for record in &records {
        assert!(record["timestamp"].is_string(), "{record}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&record["level"].as_str().unwrap_or_default()),
            "{record}"
        );
        assert!(record["fields"]["message"].is_string(), "{record}");
    }
    let refusal = records
        .iter()
        .find(|r| r["fields"]["plugin"] == "garbage" && r["level"] == "WARN")
        .unwrap_or_else(|| panic!("no refusal record in:\n{log}"));
    assert!(
        refusal["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("magic header not detected")),
        "{refusal}"
    );
    assert!(!log.contains('\x1b'), "{log}");
}

#[test]
fn an_unknown_log_format_is_refused_by_name() {
    let out = std::process::Command::new(berth_tests::workspace_bin("berthd"))
        .args(["--log-format", "xml", "--version"])
        .output()
        .expect("run berthd");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--log-format") && stderr.contains("xml"),
        "{stderr}"
    );
}
