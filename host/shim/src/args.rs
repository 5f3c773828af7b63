//! The command line contract between berthd and `berth-shim`.
//!
//! berthd builds a [`ShimArgs`] and turns it into arguments with
//! [`ShimArgs::to_args`]; the shim parses them back with [`ShimArgs::parse`].
//! Keeping both sides in one type means they cannot drift apart.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::logfile::Rotation;

/// Everything a shim needs to run one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimArgs {
    /// Container id (also the libcontainer id).
    pub id: String,
    /// OCI bundle: the directory holding `config.json`.
    pub bundle: PathBuf,
    /// libcontainer's state root.
    pub state_root: PathBuf,
    /// Control socket to listen on.
    pub socket: PathBuf,
    /// json-file log to append to.
    pub log: PathBuf,
    /// Rotate the log (json-file's `max-size` and `max-file`).
    pub log_rotation: Option<Rotation>,
    /// Log nothing (the `none` log driver): `log` is not even created.
    pub no_log: bool,
    /// Where to write the exit record.
    pub exit_file: PathBuf,
    /// Give the container a pseudo-terminal.
    pub tty: bool,
    /// Keep the container's stdin open for attach (`OpenStdin`).
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client that
    /// streams stdin detaches (`StdinOnce`).
    pub stdin_once: bool,
    /// Initial terminal size `(height, width)`.
    pub console_size: Option<(u16, u16)>,
}

/// A command line the shim does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// An option that needs a value came last.
    #[error("option {0} needs a value")]
    MissingValue(String),
    /// A required option is absent.
    #[error("missing required option {0}")]
    Missing(&'static str),
    /// Unknown option or stray argument.
    #[error("unexpected argument {0:?}")]
    Unexpected(String),
    /// A value does not parse.
    #[error("invalid value {value:?} for {option}")]
    Invalid {
        /// The option.
        option: &'static str,
        /// Its value.
        value: String,
    },
}

impl ShimArgs {
    /// The arguments (without the program name) that [`ShimArgs::parse`]
    /// reads back into `self`.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::with_capacity(16);
        let mut pair = |flag: &str, value: OsString| {
            args.push(flag.into());
            args.push(value);
        };
        pair("--id", self.id.clone().into());
        pair("--bundle", self.bundle.clone().into());
        pair("--state-root", self.state_root.clone().into());
        pair("--socket", self.socket.clone().into());
        pair("--log", self.log.clone().into());
        pair("--exit-file", self.exit_file.clone().into());
        if let Some((h, w)) = self.console_size {
            pair("--console-size", format!("{h}x{w}").into());
        }
        if let Some(rotation) = self.log_rotation {
            pair("--log-max-size", rotation.max_size.to_string().into());
            pair("--log-max-files", rotation.max_files.to_string().into());
        }
        for (flag, on) in [
            ("--no-log", self.no_log),
            ("--tty", self.tty),
            ("--open-stdin", self.open_stdin),
            ("--stdin-once", self.stdin_once),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        args
    }

    /// Parses the arguments after the program name.
    pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<ShimArgs, ArgsError> {
        let mut id = None;
        let mut bundle = None;
        let mut state_root = None;
        let mut socket = None;
        let mut log = None;
        let mut exit_file = None;
        let mut console_size = None;
        let (mut max_size, mut max_files) = (None, None);
        let (mut tty, mut open_stdin, mut stdin_once, mut no_log) = (false, false, false, false);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let flag = arg.to_string_lossy().into_owned();
            let mut value = || {
                args.next()
                    .ok_or_else(|| ArgsError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--id" => {
                    id = Some(value()?.into_string().map_err(|v| ArgsError::Invalid {
                        option: "--id",
                        value: v.to_string_lossy().into_owned(),
                    })?)
                }
                "--bundle" => bundle = Some(PathBuf::from(value()?)),
                "--state-root" => state_root = Some(PathBuf::from(value()?)),
                "--socket" => socket = Some(PathBuf::from(value()?)),
                "--log" => log = Some(PathBuf::from(value()?)),
                "--exit-file" => exit_file = Some(PathBuf::from(value()?)),
                "--console-size" => {
                    let raw = value()?.to_string_lossy().into_owned();
                    let invalid = || ArgsError::Invalid {
                        option: "--console-size",
                        value: raw.clone(),
                    };
                    let (h, w) = raw.split_once('x').ok_or_else(invalid)?;
                    console_size = Some((
                        h.parse().map_err(|_| invalid())?,
                        w.parse().map_err(|_| invalid())?,
                    ));
                }
                "--log-max-size" | "--log-max-files" => {
                    let raw = value()?.to_string_lossy().into_owned();
                    let option = if flag == "--log-max-size" {
                        "--log-max-size"
                    } else {
                        "--log-max-files"
                    };
                    let number: u64 = raw
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(ArgsError::Invalid { option, value: raw })?;
                    if option == "--log-max-size" {
                        max_size = Some(number);
                    } else {
                        max_files = Some(u32::try_from(number).unwrap_or(u32::MAX));
                    }
                }
                "--no-log" => no_log = true,
                "--tty" => tty = true,
                "--open-stdin" => open_stdin = true,
                "--stdin-once" => stdin_once = true,
                _ => return Err(ArgsError::Unexpected(flag)),
            }
        }
        let log_rotation = match (max_size, max_files) {
            (Some(max_size), max_files) => Some(Rotation {
                max_size,
                max_files: max_files.unwrap_or(1),
            }),
            (None, Some(_)) => return Err(ArgsError::Missing("--log-max-size")),
            (None, None) => None,
        };
        Ok(ShimArgs {
            id: id.ok_or(ArgsError::Missing("--id"))?,
            bundle: bundle.ok_or(ArgsError::Missing("--bundle"))?,
            state_root: state_root.ok_or(ArgsError::Missing("--state-root"))?,
            socket: socket.ok_or(ArgsError::Missing("--socket"))?,
            log: log.ok_or(ArgsError::Missing("--log"))?,
            log_rotation,
            no_log,
            exit_file: exit_file.ok_or(ArgsError::Missing("--exit-file"))?,
            tty,
            open_stdin,
            stdin_once,
            console_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShimArgs {
        ShimArgs {
            id: "c1".into(),
            bundle: "/run/berth/shims/c1".into(),
            state_root: "/run/berth/runtime".into(),
            socket: "/run/berth/shims/c1/sock".into(),
            log: "/var/lib/berth/containers/c1/c1-json.log".into(),
            log_rotation: Some(Rotation {
                max_size: 10_000_000,
                max_files: 3,
            }),
            no_log: false,
            exit_file: "/var/lib/berth/containers/c1/exit.json".into(),
            tty: true,
            open_stdin: true,
            stdin_once: false,
            console_size: Some((24, 80)),
        }
    }

    #[test]
    fn round_trips() {
        let args = sample();
        assert_eq!(ShimArgs::parse(args.to_args()), Ok(args.clone()));
        let plain = ShimArgs {
            tty: false,
            open_stdin: false,
            console_size: None,
            log_rotation: None,
            no_log: true,
            ..args
        };
        assert_eq!(ShimArgs::parse(plain.to_args()), Ok(plain));
    }

    #[test]
    fn rejects_incomplete_and_unknown_arguments() {
        let mut args = sample().to_args();
        args.truncate(2);
        assert_eq!(ShimArgs::parse(args), Err(ArgsError::Missing("--bundle")));
        assert_eq!(
            ShimArgs::parse([OsString::from("--id")]),
            Err(ArgsError::MissingValue("--id".into()))
        );
        assert_eq!(
            ShimArgs::parse([OsString::from("--frobnicate")]),
            Err(ArgsError::Unexpected("--frobnicate".into()))
        );
        let mut only_files = sample().to_args();
        let pos = only_files
            .iter()
            .position(|a| a == "--log-max-size")
            .expect("present");
        only_files.drain(pos..pos + 2);
        assert_eq!(
            ShimArgs::parse(only_files),
            Err(ArgsError::Missing("--log-max-size"))
        );
        let mut zero = sample().to_args();
        zero[pos + 1] = "0".into();
        assert!(matches!(
            ShimArgs::parse(zero),
            Err(ArgsError::Invalid {
                option: "--log-max-size",
                ..
            })
        ));
        let mut bad = sample().to_args();
        let pos = bad
            .iter()
            .position(|a| a == "--console-size")
            .expect("present");
        bad[pos + 1] = "24by80".into();
        assert!(matches!(
            ShimArgs::parse(bad),
            Err(ArgsError::Invalid { .. })
        ));
    }
}
