//! Health checks on the wire: `Config.Healthcheck` (moby `HealthConfig`,
//! `api/types/container/config.go`) and `State.Health` (moby `Health`,
//! `api/types/container/health.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_as_default;

/// `Config.Healthcheck`: how to probe a container. Durations are Go
/// `time.Duration`s, nanoseconds; zero (or `null`, which docker-py sends
/// for what it leaves unset) means "inherit" (from the image, then the
/// daemon's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `[]` inherits the image's; `["NONE"]` disables it; `["CMD", args...]`
    /// runs the args; `["CMD-SHELL", command]` runs the command with the
    /// container's shell.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    /// Time between two probes (and before the first).
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time one probe may take before it counts as failed.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Time after a start during which failures are not counted.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between probes during the start period.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures that make the container unhealthy.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
    pub retries: i64,
    /// Members berth does not know, refused at create.
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `State.Health.Status`.
pub mod health_status {
    /// No probe has succeeded since the start yet.
    pub const STARTING: &str = "starting";
    /// The last probe succeeded.
    pub const HEALTHY: &str = "healthy";
    /// `Retries` probes in a row failed, or the monitor stopped.
    pub const UNHEALTHY: &str = "unhealthy";
}

/// `State.Health`: the health of a container that has a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// One of [`health_status`].
    pub status: String,
    /// Failed probes in a row.
    pub failing_streak: i64,
    /// The last probes, oldest first (at most five).
    pub log: Vec<HealthcheckResult>,
}

/// One probe's result in [`Health::log`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthcheckResult {
    /// RFC 3339 time the probe started.
    pub start: String,
    /// RFC 3339 time it ended.
    pub end: String,
    /// 0 healthy, 1 unhealthy, -1 the probe could not run or timed out.
    pub exit_code: i64,
    /// Its output (stdout and stderr), at most 4096 bytes.
    pub output: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_docker_py_sends_read_as_unset() {
        let check: HealthConfig = serde_json::from_str(
            r#"{"Test":["CMD-SHELL","true"],"Interval":100000000,"Timeout":null,"Retries":null,"StartPeriod":null}"#,
        )
        .unwrap();
        assert_eq!(
            check,
            HealthConfig {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval: 100_000_000,
                ..HealthConfig::default()
            }
        );
        // Unset members are left out, as Go's omitempty does.
        assert_eq!(
            serde_json::to_string(&check).unwrap(),
            r#"{"Test":["CMD-SHELL","true"],"Interval":100000000}"#
        );
    }
}
