//! `HostConfig.LogConfig`: the log driver and its options.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_as_default;

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// Driver name (`json-file`).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Driver options.
    #[serde(deserialize_with = "null_as_default")]
    pub config: BTreeMap<String, String>,
}

/// The log driver a container gets when `LogConfig.Type` is empty
/// (dockerd's `--log-driver` default).
pub const DEFAULT_LOG_DRIVER: &str = "json-file";

use berth_model::container::ModelError;
/// A [`LogConfig`], parsed: the container model's log driver, which the
/// exec driver hands to the shim.
pub use berth_model::container::{JsonFileLog, LogDriver};

impl LogConfig {
    /// Parses the driver and its options with moby's rules and messages
    /// (`daemon/logger/jsonfilelog`). An empty type is
    /// [`DEFAULT_LOG_DRIVER`].
    pub fn driver(&self) -> Result<LogDriver, String> {
        match self.kind.as_str() {
            "" | DEFAULT_LOG_DRIVER => {}
            // moby validates no options for `none`.
            "none" => return Ok(LogDriver::None),
            other => {
                return Err(format!(
                    "logger: no log driver named '{other}' is registered"
                ));
            }
        }
        let mut max_size = None;
        let mut max_files = 1;
        for (key, value) in &self.config {
            match key.as_str() {
                "max-size" => {
                    let bytes = crate::units::from_human_size(value).map_err(|e| e.to_string())?;
                    if bytes <= 0 {
                        return Err(ModelError::LogMaxSize.to_string());
                    }
                    max_size = Some(bytes as u64);
                }
                "max-file" => {
                    let files: i64 = value
                        .parse()
                        .map_err(|_| format!("invalid max-file '{value}': not an integer"))?;
                    if files < 1 {
                        return Err(ModelError::LogMaxFiles.to_string());
                    }
                    max_files = u32::try_from(files)
                        .map_err(|_| format!("invalid max-file '{value}': too large"))?;
                }
                // json-file ignores the tag (other drivers use it).
                "tag" => {}
                "compress" => match value.as_str() {
                    "false" | "0" => {}
                    "true" | "1" => {
                        return Err(
                            "log opt 'compress' of the json-file log driver is not supported by \
                             berth: rotated logs are kept uncompressed"
                                .to_owned(),
                        );
                    }
                    _ => {
                        return Err(format!(
                            "error parsing compress option: invalid value '{value}'"
                        ));
                    }
                },
                "labels" | "labels-regex" | "env" | "env-regex" => {
                    return Err(format!(
                        "log opt '{key}' of the json-file log driver is not supported by berth: \
                         records carry no attrs"
                    ));
                }
                _ => return Err(format!("unknown log opt '{key}' for json-file log driver")),
            }
        }
        JsonFileLog::new(max_size, max_files)
            .map(LogDriver::JsonFile)
            .map_err(|e| e.to_string())
    }
}
