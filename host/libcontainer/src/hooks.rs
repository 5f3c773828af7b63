//! OCI lifecycle hooks (config.md "POSIX-platform Hooks"): programs run
//! by the runtime in the runtime's namespaces, with the container's state
//! JSON on stdin. `prestart`/`createRuntime` run once init is set up,
//! `poststart` after `start`, `poststop` on `delete`. (`createContainer`
//! and `startContainer` hooks, which run inside the container, are not
//! supported and rejected at validation.)

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::Error;
use crate::state::State;

/// Runs `hooks` in order; the first failure stops the sequence.
pub(crate) fn run(kind: &'static str, hooks: &[Hook], state: &State) -> Result<(), Error> {
    if hooks.is_empty() {
        return Ok(());
    }
    let input = serde_json::to_vec(state).unwrap_or_default();
    for hook in hooks {
        run_one(kind, hook, &input)?;
    }
    Ok(())
}

fn run_one(kind: &'static str, hook: &Hook, input: &[u8]) -> Result<(), Error> {
    let path = hook.path().clone();
    let fail = |reason: String| Error::Hook {
        kind,
        path: path.clone(),
        reason,
    };
    let mut command = Command::new(&path);
    let args = hook.args().clone().unwrap_or_default();
    if let Some((arg0, rest)) = args.split_first() {
        command.arg0(arg0).args(rest);
    }
    command.env_clear();
    for var in hook.env().iter().flatten() {
        if let Some((k, v)) = var.split_once('=') {
            command.env(k, v);
        }
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(input);
    }
    let timeout = hook.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                if let Some(limit) = timeout
                    && started.elapsed() > limit
                {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!("timed out after {}s", limit.as_secs())));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(fail(format!("cannot wait for it: {e}"))),
        }
    };
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            use std::io::Read;
            let _ = err.read_to_string(&mut stderr);
        }
        return Err(fail(format!("{status}: {}", stderr.trim())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn state() -> State {
        State {
            oci_version: "1.0.2".into(),
            id: "hooked".into(),
            pid: 1,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            owner: String::new(),
            annotations: Default::default(),
        }
    }

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_and_its_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&format!(
            r#"{{"path": "/bin/sh", "args": ["sh", "-c", "cat > {} && echo $X >> {}"], "env": ["X=42"]}}"#,
            out.display(),
            out.display()
        ));
        run("prestart", &[h], &state()).unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert!(written.contains("\"id\":\"hooked\""), "{written}");
        assert!(written.ends_with("42\n"), "{written}");
    }

    #[test]
    fn failing_hook_is_named_with_its_stderr() {
        let h = hook(r#"{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}"#);
        let err = run("poststart", &[h], &state()).unwrap_err().to_string();
        assert!(
            err.contains("poststart") && err.contains("/bin/sh") && err.contains("broken"),
            "{err}"
        );
    }

    #[test]
    fn hook_timeout_is_enforced() {
        let h = hook(r#"{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}"#);
        let err = run("prestart", &[h], &state()).unwrap_err().to_string();
        assert!(err.contains("timed out"), "{err}");
    }
}
