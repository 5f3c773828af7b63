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

/// A `LogConfig` berth refuses, naming the driver or option; moby's words
/// where moby has them (`daemon/logger/factory.go`,
/// `daemon/logger/jsonfilelog`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogConfigError {
    /// A driver berth does not have.
    #[error("logger: no log driver named '{name}' is registered")]
    UnknownDriver {
        /// The `Type`.
        name: String,
    },
    /// `max-size` that is not a size.
    #[error(transparent)]
    MaxSize(#[from] crate::units::SizeError),
    /// A value the model's json-file options refuse (`max-size` of zero or
    /// less, `max-file` below 1), in the model's words.
    #[error(transparent)]
    Options(#[from] ModelError),
    /// `max-file` that is not an integer.
    #[error("invalid max-file '{value}': not an integer")]
    MaxFileNotInteger {
        /// The value given.
        value: String,
    },
    /// `max-file` beyond `u32`.
    #[error("invalid max-file '{value}': too large")]
    MaxFileTooLarge {
        /// The value given.
        value: String,
    },
    /// `compress=true`: berth keeps rotated logs uncompressed.
    #[error(
        "log opt 'compress' of the json-file log driver is not supported by berth: rotated logs \
         are kept uncompressed"
    )]
    CompressUnsupported,
    /// `compress` that is not a boolean.
    #[error("error parsing compress option: invalid value '{value}'")]
    InvalidCompress {
        /// The value given.
        value: String,
    },
    /// `labels`, `env` and their regex forms: records carry no attrs.
    #[error(
        "log opt '{key}' of the json-file log driver is not supported by berth: records carry no \
         attrs"
    )]
    AttrsUnsupported {
        /// The option.
        key: String,
    },
    /// An option json-file does not know.
    #[error("unknown log opt '{key}' for json-file log driver")]
    UnknownOpt {
        /// The option.
        key: String,
    },
}

use berth_model::container::ModelError;
/// A [`LogConfig`], parsed: the container model's log driver, which the
/// exec driver hands to the shim.
pub use berth_model::container::{JsonFileLog, LogDriver};

impl LogConfig {
    /// Parses the driver and its options with moby's rules and messages
    /// (`daemon/logger/jsonfilelog`). An empty type is
    /// [`DEFAULT_LOG_DRIVER`].
    pub fn driver(&self) -> Result<LogDriver, LogConfigError> {
        match self.kind.as_str() {
            "" | DEFAULT_LOG_DRIVER => {}
            // moby validates no options for `none`.
            "none" => return Ok(LogDriver::None),
            other => {
                return Err(LogConfigError::UnknownDriver {
                    name: other.to_owned(),
                });
            }
        }
        let mut max_size = None;
        let mut max_files = 1;
        for (key, value) in &self.config {
            match key.as_str() {
                "max-size" => {
                    let bytes = crate::units::from_human_size(value)?;
                    if bytes <= 0 {
                        return Err(ModelError::LogMaxSize.into());
                    }
                    max_size = Some(bytes as u64);
                }
                "max-file" => {
                    let files: i64 =
                        value
                            .parse()
                            .map_err(|_| LogConfigError::MaxFileNotInteger {
                                value: value.clone(),
                            })?;
                    if files < 1 {
                        return Err(ModelError::LogMaxFiles.into());
                    }
                    max_files =
                        u32::try_from(files).map_err(|_| LogConfigError::MaxFileTooLarge {
                            value: value.clone(),
                        })?;
                }
                // json-file ignores the tag (other drivers use it).
                "tag" => {}
                "compress" => match value.as_str() {
                    "false" | "0" => {}
                    "true" | "1" => {
                        return Err(LogConfigError::CompressUnsupported);
                    }
                    _ => {
                        return Err(LogConfigError::InvalidCompress {
                            value: value.clone(),
                        });
                    }
                },
                "labels" | "labels-regex" | "env" | "env-regex" => {
                    return Err(LogConfigError::AttrsUnsupported { key: key.clone() });
                }
                _ => return Err(LogConfigError::UnknownOpt { key: key.clone() }),
            }
        }
        Ok(LogDriver::JsonFile(JsonFileLog::new(max_size, max_files)?))
    }
}
