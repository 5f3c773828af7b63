//! The `--health-*` flags of `create` and `run`, turned into
//! `Config.Healthcheck` as the docker CLI does (`cli/command/container/
//! opts.go`, with its messages).

use anyhow::{Result, anyhow, bail};
use berth_api::container::HealthConfig;
use clap::Args;

/// Health check flags.
#[derive(Debug, Clone, Default, Args)]
pub struct HealthArgs {
    /// Command to run to check health (run with /bin/sh -c).
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting
    /// health-retries countdown (ms|s|m|h).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
}

/// A duration flag in nanoseconds (Go's `time.ParseDuration`).
fn nanos(flag: &str, value: Option<&str>) -> Result<i64> {
    let Some(value) = value else { return Ok(0) };
    let duration = berth_api::filters::parse_go_duration(value).ok_or_else(|| {
        anyhow!(
            "invalid argument {value:?} for \"--{flag}\" flag: time: invalid duration {value:?}"
        )
    })?;
    let ns = duration
        .num_nanoseconds()
        .ok_or_else(|| anyhow!("invalid argument {value:?} for \"--{flag}\" flag: out of range"))?;
    if ns < 0 {
        bail!("--{flag} cannot be negative");
    }
    Ok(ns)
}

impl HealthArgs {
    /// `Config.Healthcheck`: `None` when no flag is given (the image's
    /// check applies), `["NONE"]` for `--no-healthcheck`.
    pub fn config(&self) -> Result<Option<HealthConfig>> {
        let interval = nanos("health-interval", self.health_interval.as_deref())?;
        let timeout = nanos("health-timeout", self.health_timeout.as_deref())?;
        let start_period = nanos("health-start-period", self.health_start_period.as_deref())?;
        let start_interval = nanos(
            "health-start-interval",
            self.health_start_interval.as_deref(),
        )?;
        let retries = self.health_retries.unwrap_or(0);
        let any = self.health_cmd.as_deref().is_some_and(|c| !c.is_empty())
            || interval != 0
            || timeout != 0
            || start_period != 0
            || start_interval != 0
            || retries != 0;
        if self.no_healthcheck {
            if any {
                bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(HealthConfig {
                test: vec!["NONE".to_owned()],
                ..HealthConfig::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        if retries < 0 {
            bail!("--health-retries cannot be negative");
        }
        Ok(Some(HealthConfig {
            test: match self.health_cmd.as_deref() {
                Some(cmd) if !cmd.is_empty() => vec!["CMD-SHELL".to_owned(), cmd.to_owned()],
                _ => Vec::new(),
            },
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
            ..HealthConfig::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut HealthArgs)) -> HealthArgs {
        let mut a = HealthArgs::default();
        f(&mut a);
        a
    }

    #[test]
    fn flags_become_the_docker_clis_healthcheck() {
        assert_eq!(HealthArgs::default().config().unwrap(), None);
        let full = args(|a| {
            a.health_cmd = Some("test -f /ok".into());
            a.health_interval = Some("2s".into());
            a.health_timeout = Some("500ms".into());
            a.health_retries = Some(4);
            a.health_start_period = Some("1m".into());
            a.health_start_interval = Some("0".into());
        });
        assert_eq!(
            full.config().unwrap(),
            Some(HealthConfig {
                test: vec!["CMD-SHELL".into(), "test -f /ok".into()],
                interval: 2_000_000_000,
                timeout: 500_000_000,
                retries: 4,
                start_period: 60_000_000_000,
                ..HealthConfig::default()
            })
        );
        // Only a timing: the image's command is kept (empty Test).
        let timing = args(|a| a.health_interval = Some("1s".into()));
        assert_eq!(timing.config().unwrap().unwrap().test, Vec::<String>::new());
        let none = args(|a| a.no_healthcheck = true);
        assert_eq!(none.config().unwrap().unwrap().test, ["NONE"]);
    }

    #[test]
    fn bad_flags_are_the_docker_clis_errors() {
        let err = |a: HealthArgs| a.config().unwrap_err().to_string();
        assert_eq!(
            err(args(|a| {
                a.no_healthcheck = true;
                a.health_cmd = Some("true".into());
            })),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            err(args(|a| a.health_interval = Some("-1s".into()))),
            "--health-interval cannot be negative"
        );
        assert_eq!(
            err(args(|a| a.health_retries = Some(-1))),
            "--health-retries cannot be negative"
        );
        assert_eq!(
            err(args(|a| a.health_timeout = Some("soon".into()))),
            "invalid argument \"soon\" for \"--health-timeout\" flag: time: invalid duration \"soon\""
        );
    }
}
