//! `GET /containers/{id}/top?ps_args=`: the host's `ps` with the client's
//! arguments, keeping the rows of the container's processes (moby
//! `daemon/top_unix.go`).

use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use berth_api::container::TopResponse;
use regex::Regex;

use crate::daemon::Daemon;
use crate::daemon::blocking::BlockingKind;
use crate::job::{ErrorKind, JobError};

/// How long one `ps` may run before it is killed and `top` fails.
pub const PS_TIMEOUT: Duration = Duration::from_secs(10);

/// moby's `validatePSArgs` pattern (`\s+([^\s]*)=\s*(PID[^\s]*)`), with
/// Go's ASCII `\s`: an output column renamed to something starting with
/// `PID` would make the real PID column unfindable.
static PS_RENAMED_PID: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"[\t\n\f\r ]+([^\t\n\f\r ]*)=[\t\n\f\r ]*(PID[^\t\n\f\r ]*)").ok()
});

/// moby's errors here carry no class: 500 with its message.
fn moby_error(message: String) -> JobError {
    JobError::new(ErrorKind::Internal, message)
}

/// Refuses `ps_args` that rename a column to `PID…` (all but `pid=`), as
/// moby's `validatePSArgs` does.
pub fn validate_ps_args(ps_args: &str) -> Result<(), JobError> {
    let Some(re) = PS_RENAMED_PID.as_ref() else {
        return Err(moby_error("the ps_args check cannot be built".into()));
    };
    for group in re.captures_iter(ps_args) {
        let (k, v) = (&group[1], &group[2]);
        if k != "pid" {
            return Err(moby_error(format!("specifying \"{k}={v}\" is not allowed")));
        }
    }
    Ok(())
}

/// Go's `strings.Fields` limited to ASCII whitespace (moby's `fieldsASCII`).
fn fields_ascii(line: &str) -> Vec<String> {
    line.split(['\t', '\n', '\x0c', '\r', ' '])
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Keeps the rows of `ps` output whose PID is in `pids` (moby's
/// `parsePSOutput`): the titles from the first line, the PID column found
/// by its title, fields beyond the last title joined into it (a command
/// line with spaces), and thread rows (`-` in the PID column, `ps -m`)
/// kept after a kept process.
pub fn parse_ps_output(output: &str, pids: &[u32]) -> Result<TopResponse, JobError> {
    let mut lines = output.split('\n');
    let titles = fields_ascii(lines.next().unwrap_or_default());
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| moby_error("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    let mut previous_kept = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let fields = fields_ascii(line);
        let Some(pid) = fields.get(pid_index) else {
            return Err(moby_error(format!("Unexpected ps output line: {line:?}")));
        };
        if pid == "-" {
            if previous_kept {
                processes.push(row(&titles, fields));
            }
            continue;
        }
        let pid: u32 = pid.parse().map_err(|_| {
            moby_error(format!(
                "Unexpected pid '{pid}': strconv.Atoi: parsing \"{pid}\": invalid syntax"
            ))
        })?;
        previous_kept = pids.contains(&pid);
        if previous_kept {
            processes.push(row(&titles, fields));
        }
    }
    Ok(TopResponse { titles, processes })
}

/// As many fields as titles: the overhang joins the last one.
fn row(titles: &[String], mut fields: Vec<String>) -> Vec<String> {
    let last = titles.len().saturating_sub(1);
    if fields.len() > titles.len() {
        let tail = fields.split_off(last).join(" ");
        fields.push(tail);
    }
    fields
}

/// moby's `psPidsArg`: `-q` with the pids, so that `ps` lists only them.
fn pids_arg(pids: &[u32]) -> String {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    format!("-q{}", list.join(","))
}

impl Daemon {
    /// `GET /containers/{id}/top`: `ps` with `ps_args` (`-ef` when empty),
    /// restricted to the container's processes, which the exec driver
    /// lists from the container's cgroup. 409 "Container <id> is not
    /// running" for a stopped container. Emits `top`.
    pub async fn top(&self, reference: &str, ps_args: &str) -> Result<TopResponse, JobError> {
        validate_ps_args(ps_args)?;
        let ps_args = if ps_args.is_empty() { "-ef" } else { ps_args };
        let container = self.running_not_restarting(reference)?;
        let pids = self.runtime.processes(&container.id).await?;
        // moby splits on single spaces, not on runs of whitespace.
        let args: Vec<String> = ps_args.split(' ').map(str::to_owned).collect();
        let mut with_pids = args.clone();
        with_pids.push(pids_arg(&pids));
        // Some options (`f`) cannot be combined with `-q`: moby retries
        // without it and filters every row.
        let output = match self.ps(with_pids).await {
            Ok(output) => output,
            Err(_) => self.ps(args).await?,
        };
        let list = parse_ps_output(&output, &pids)?;
        self.container_event("top", &container.record(), &[]);
        Ok(list)
    }

    /// Runs the host's `ps` with `args` and returns its stdout. Forking is
    /// blocking work: the spawn goes through the bounded blocking pool; the
    /// child is then awaited without a thread, for at most
    /// [`PS_TIMEOUT`], and killed when the wait is given up.
    async fn ps(&self, args: Vec<String>) -> Result<String, JobError> {
        let child = self
            .blocking(BlockingKind::HostProcess, move || {
                tokio::process::Command::new("ps")
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| moby_error(format!("ps: {e}")))
            })
            .await?;
        let output = tokio::time::timeout(PS_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| moby_error(format!("ps: timed out after {PS_TIMEOUT:?}")))?
            .map_err(|e| moby_error(format!("ps: {e}")))?;
        if !output.status.success() {
            // moby: the first line of stderr says why ps failed.
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .next()
                .filter(|l| !l.is_empty())
                .map_or_else(|| output.status.to_string(), str::to_owned);
            return Err(moby_error(format!("ps: {why}")));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_args_renaming_a_column_to_pid_are_refused_like_moby() {
        for ok in [
            "",
            "-ef",
            "aux",
            "-o pid,comm",
            "-o pid=PID,comm",
            "-eo pid=PID",
        ] {
            assert!(validate_ps_args(ok).is_ok(), "{ok}");
        }
        let err = validate_ps_args("-o user=PID").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Internal);
        assert_eq!(err.message, "specifying \"user=PID\" is not allowed");
        let err = validate_ps_args("-o comm= PIDX").unwrap_err();
        assert_eq!(err.message, "specifying \"comm=PIDX\" is not allowed");
    }

    #[test]
    fn rows_of_the_containers_pids_are_kept_with_the_overhang_joined() {
        let output = "UID PID PPID CMD\n\
                      root 1 0 /sbin/init splash\n\
                      root 42 1 sh -c sleep 100\n\
                      root 43 42 sleep 100\n";
        let list = parse_ps_output(output, &[42, 43]).unwrap();
        assert_eq!(list.titles, ["UID", "PID", "PPID", "CMD"]);
        assert_eq!(
            list.processes,
            [
                vec!["root", "42", "1", "sh -c sleep 100"],
                vec!["root", "43", "42", "sleep 100"],
            ]
        );
    }

    #[test]
    fn thread_rows_follow_their_process() {
        let output = "USER PID TID CMD\nroot 7 - a\nroot - 7 -\nroot 8 - b\nroot - 8 -\n";
        let list = parse_ps_output(output, &[7]).unwrap();
        assert_eq!(
            list.processes,
            [vec!["root", "7", "-", "a"], vec!["root", "-", "7", "-"]]
        );
    }

    #[test]
    fn output_without_a_pid_column_or_with_a_bad_pid_is_mobys_error() {
        let err = parse_ps_output("USER CMD\nroot sh\n", &[1]).unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::Internal, "Couldn't find PID field in ps output")
        );
        let err = parse_ps_output("PID CMD\nx sh\n", &[1]).unwrap_err();
        assert_eq!(
            err.message,
            "Unexpected pid 'x': strconv.Atoi: parsing \"x\": invalid syntax"
        );
    }

    #[test]
    fn the_pids_argument_is_mobys() {
        assert_eq!(pids_arg(&[1, 22, 333]), "-q1,22,333");
    }
}
