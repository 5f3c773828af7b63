//! `docker import --change` instructions and `--platform`, applied to an
//! image config.
//!
//! Docker accepts a subset of Dockerfile instructions on import (`CMD`,
//! `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`, `ONBUILD`, `STOPSIGNAL`, `USER`,
//! `VOLUME`, `WORKDIR`); berth supports all of them except `ONBUILD`, which
//! the OCI image config cannot carry. Any other instruction is refused with
//! Docker's message `<INSTR> is not a valid change command`.

use oci_spec::image::{Arch, Config, Os};

/// Why a `--change` instruction was refused; each variant names the
/// instruction and what in its arguments is wrong. The unknown-instruction
/// wording is Docker's (moby `builder/dockerfile/builder.go`,
/// `BuildFromConfig`: "%s is not a valid change command").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The instruction is not one `docker import --change` accepts.
    #[error("{instruction} is not a valid change command")]
    NotAChangeCommand {
        /// The instruction, in capitals.
        instruction: String,
    },
    /// `ONBUILD`, which an OCI image config cannot carry.
    #[error("ONBUILD is not supported: OCI image configs cannot carry it")]
    OnbuildUnsupported,
    /// The instruction was given no argument.
    #[error("{instruction} requires at least one argument")]
    MissingArgument {
        /// The instruction, in capitals.
        instruction: String,
    },
    /// `USER` with more than one word.
    #[error("USER takes exactly one argument, got {argument:?}")]
    UserArguments {
        /// The arguments given.
        argument: String,
    },
    /// An exec-form list that is not a JSON array of strings.
    #[error("{instruction} {argument}: not a JSON array of strings: {reason}")]
    NotAJsonList {
        /// The instruction, in capitals.
        instruction: String,
        /// The arguments given.
        argument: String,
        /// The JSON parser's complaint.
        reason: String,
    },
    /// Unbalanced quotes or a trailing backslash in `ENV`/`LABEL` words.
    #[error("{instruction} {argument}: {reason}")]
    Quoting {
        /// The instruction, in capitals.
        instruction: String,
        /// The arguments given.
        argument: String,
        /// What is unterminated.
        reason: QuotingError,
    },
    /// A legacy `key value` pair without a value.
    #[error("{instruction} {argument}: expected key=value or `key value`")]
    MissingValue {
        /// The instruction, in capitals.
        instruction: String,
        /// The arguments given.
        argument: String,
    },
    /// A word of a `key=value` list that is not `key=value`.
    #[error("{instruction} {argument}: {word:?} is not key=value")]
    NotKeyValue {
        /// The instruction, in capitals.
        instruction: String,
        /// The arguments given.
        argument: String,
        /// The offending word.
        word: String,
    },
    /// `EXPOSE` with a protocol other than tcp, udp or sctp.
    #[error("EXPOSE {spec}: invalid protocol {protocol:?}")]
    InvalidProtocol {
        /// The port spec as given.
        spec: String,
        /// The protocol, lower-cased.
        protocol: String,
    },
    /// `EXPOSE` with a port that is not 1-65535.
    #[error("EXPOSE {spec}: invalid port {port:?}")]
    InvalidPort {
        /// The port spec as given.
        spec: String,
        /// The port part.
        port: String,
    },
    /// `VOLUME ""` (Docker's wording).
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
}

/// What is unterminated in a shell-quoted word list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotingError {
    /// A backslash at the end of the input.
    #[error("unterminated escape")]
    Escape,
    /// A quote (`"` or `'`) that is never closed.
    #[error("unterminated {0} quote")]
    Quote(char),
}

/// Why a `--platform` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// Not `os[/arch[/variant]]`.
    #[error("platform {0:?} must be os[/arch[/variant]]")]
    Malformed(String),
    /// An operating system other than linux.
    #[error("operating system {0:?} is not supported: berth imports linux images only")]
    UnsupportedOs(String),
    /// An architecture with characters Go's names never have.
    #[error("architecture {0:?} is not valid")]
    InvalidArchitecture(String),
    /// A variant that is not alphanumeric.
    #[error("variant {0:?} is not valid")]
    InvalidVariant(String),
}

/// Applies `changes` (one instruction each) to `config`, in order.
pub fn apply_changes(config: &mut Config, changes: &[String]) -> Result<(), ChangeError> {
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (instr, rest) = change
            .split_once(char::is_whitespace)
            .map(|(i, r)| (i, r.trim()))
            .unwrap_or((change, ""));
        apply_change(config, &instr.to_ascii_uppercase(), rest)?;
    }
    Ok(())
}

/// Applies one instruction, `upper` (in capitals) with its arguments `rest`.
fn apply_change(config: &mut Config, upper: &str, rest: &str) -> Result<(), ChangeError> {
    let need_args = || {
        if rest.is_empty() {
            Err(ChangeError::MissingArgument {
                instruction: upper.to_owned(),
            })
        } else {
            Ok(())
        }
    };
    match upper {
        "CMD" => {
            need_args()?;
            config.set_cmd(Some(command_form(rest, upper)?));
        }
        "ENTRYPOINT" => {
            need_args()?;
            config.set_entrypoint(Some(command_form(rest, upper)?));
        }
        "ENV" => {
            need_args()?;
            add_env(config, rest)?;
        }
        "LABEL" => {
            need_args()?;
            add_labels(config, rest)?;
        }
        "WORKDIR" => {
            need_args()?;
            set_workdir(config, rest);
        }
        "USER" => {
            need_args()?;
            if rest.contains(char::is_whitespace) {
                return Err(ChangeError::UserArguments {
                    argument: rest.to_owned(),
                });
            }
            config.set_user(Some(rest.to_owned()));
        }
        "EXPOSE" => {
            need_args()?;
            add_exposed_ports(config, rest)?;
        }
        "VOLUME" => {
            need_args()?;
            add_volumes(config, rest)?;
        }
        "STOPSIGNAL" => {
            need_args()?;
            config.set_stop_signal(Some(rest.to_owned()));
        }
        "ONBUILD" => {
            return Err(ChangeError::OnbuildUnsupported);
        }
        _ => {
            return Err(ChangeError::NotAChangeCommand {
                instruction: upper.to_owned(),
            });
        }
    }
    Ok(())
}

/// `ENV k=v ...` (or `ENV k v`): a variable set again replaces the old one.
fn add_env(config: &mut Config, rest: &str) -> Result<(), ChangeError> {
    let mut env = config.env().clone().unwrap_or_default();
    for (k, v) in key_values(rest, "ENV")? {
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    config.set_env(Some(env));
    Ok(())
}

/// `LABEL k=v ...`, added to the image's labels.
fn add_labels(config: &mut Config, rest: &str) -> Result<(), ChangeError> {
    let mut labels = config.labels().clone().unwrap_or_default();
    for (k, v) in key_values(rest, "LABEL")? {
        labels.insert(k, v);
    }
    config.set_labels(Some(labels));
    Ok(())
}

/// `WORKDIR dir`: a relative one builds on the previous one (Dockerfile
/// reference, WORKDIR).
fn set_workdir(config: &mut Config, rest: &str) {
    let dir = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        let base = config.working_dir().clone().unwrap_or_else(|| "/".into());
        format!("{}/{rest}", base.trim_end_matches('/'))
    };
    config.set_working_dir(Some(dir));
}

/// `EXPOSE port[/proto] ...`, each port once.
fn add_exposed_ports(config: &mut Config, rest: &str) -> Result<(), ChangeError> {
    let mut ports = config.exposed_ports().clone().unwrap_or_default();
    for spec in rest.split_whitespace() {
        let port = exposed_port(spec)?;
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    config.set_exposed_ports(Some(ports));
    Ok(())
}

/// `VOLUME /a /b` or `VOLUME ["/a", "/b"]`, each volume once.
fn add_volumes(config: &mut Config, rest: &str) -> Result<(), ChangeError> {
    let list = if rest.starts_with('[') {
        json_list(rest, "VOLUME")?
    } else {
        rest.split_whitespace().map(str::to_owned).collect()
    };
    let mut volumes = config.volumes().clone().unwrap_or_default();
    for v in list {
        if v.is_empty() {
            return Err(ChangeError::EmptyVolume);
        }
        if !volumes.contains(&v) {
            volumes.push(v);
        }
    }
    config.set_volumes(Some(volumes));
    Ok(())
}

/// Exec form (`["a", "b"]`) or shell form (wrapped in `/bin/sh -c`).
fn command_form(rest: &str, instr: &str) -> Result<Vec<String>, ChangeError> {
    if rest.starts_with('[') {
        json_list(rest, instr)
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_owned()])
    }
}

fn json_list(rest: &str, instr: &str) -> Result<Vec<String>, ChangeError> {
    serde_json::from_str::<Vec<String>>(rest).map_err(|e| ChangeError::NotAJsonList {
        instruction: instr.to_owned(),
        argument: rest.to_owned(),
        reason: e.to_string(),
    })
}

/// `k=v k2="v 2"` pairs, or the legacy `key value with spaces` form.
fn key_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>, ChangeError> {
    let words = shell_words(rest).map_err(|reason| ChangeError::Quoting {
        instruction: instr.to_owned(),
        argument: rest.to_owned(),
        reason,
    })?;
    let first_has_eq = words.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        // Legacy form: the first word is the key, the rest of the line the
        // value (Dockerfile reference, ENV).
        let (key, value) =
            rest.split_once(char::is_whitespace)
                .ok_or_else(|| ChangeError::MissingValue {
                    instruction: instr.to_owned(),
                    argument: rest.to_owned(),
                })?;
        return Ok(vec![(key.to_owned(), value.trim().to_owned())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(ChangeError::NotKeyValue {
                instruction: instr.to_owned(),
                argument: rest.to_owned(),
                word: w,
            }),
        })
        .collect()
}

/// Splits on unquoted whitespace; handles `"..."`, `'...'` and `\x`.
fn shell_words(s: &str) -> Result<Vec<String>, QuotingError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err(QuotingError::Escape),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(QuotingError::Quote(c)),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => cur.push(e),
                    None => return Err(QuotingError::Escape),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `80`, `80/tcp`, `53/udp` → `80/tcp`, `53/udp`.
fn exposed_port(spec: &str) -> Result<String, ChangeError> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(ChangeError::InvalidProtocol {
            spec: spec.to_owned(),
            protocol: proto,
        });
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(format!("{p}/{proto}")),
        _ => Err(ChangeError::InvalidPort {
            spec: spec.to_owned(),
            port: port.to_owned(),
        }),
    }
}

/// A parsed `--platform` (`os[/arch[/variant]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The operating system; only `linux` is accepted.
    pub os: Os,
    /// The architecture, in Go's names (`amd64`, `arm64`, ...).
    pub architecture: Arch,
    /// The variant (`v7`, `v8`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// The host's platform.
    pub fn host() -> Self {
        Self {
            os: Os::Linux,
            architecture: go_arch(std::env::consts::ARCH),
            variant: None,
        }
    }

    /// Parses `linux`, `linux/amd64`, `linux/arm64/v8`, ...; empty means the
    /// host's platform. Common aliases are normalised as containerd's
    /// `platforms.Normalize` does (`x86_64` → `amd64`, `aarch64` → `arm64`).
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::host());
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(PlatformError::Malformed(s.to_owned()));
        }
        let os = parts[0].to_ascii_lowercase();
        if os != "linux" {
            return Err(PlatformError::UnsupportedOs(os));
        }
        let host = Self::host();
        let architecture = match parts.get(1) {
            Some(a) => {
                let a = a.to_ascii_lowercase();
                if !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(PlatformError::InvalidArchitecture(a));
                }
                go_arch(&a)
            }
            None => host.architecture,
        };
        let variant = match parts.get(2) {
            Some(v) if v.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(v.to_ascii_lowercase()),
            Some(v) => return Err(PlatformError::InvalidVariant((*v).to_owned())),
            None => None,
        };
        Ok(Self {
            os: Os::Linux,
            architecture,
            variant,
        })
    }
}

/// Maps Rust's and common kernel names onto Go's `GOARCH` names, which image
/// configs use.
fn go_arch(arch: &str) -> Arch {
    Arch::from(match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i386" | "i686" => "386",
        "powerpc64" => "ppc64",
        "powerpc64le" => "ppc64le",
        "armhf" | "armel" => "arm",
        other => other,
    })
}

#[cfg(test)]
/// Labels as an ordered list for display (the config stores a map).
pub fn sorted_labels(
    labels: &Option<std::collections::HashMap<String, String>>,
) -> Vec<(String, String)> {
    let mut v: Vec<_> = labels.clone().unwrap_or_default().into_iter().collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Result<Config, ChangeError> {
        let mut c = Config::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &changes)?;
        Ok(c)
    }

    #[test]
    fn supported_instructions() {
        let c = apply(&[
            r#"CMD ["sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /bin/run me",
            "ENV A=1 B=\"two words\"",
            "env C three words",
            "ENV A=override",
            "WORKDIR /srv",
            "WORKDIR app",
            "USER berth",
            "LABEL org.x=y z='q r'",
            "EXPOSE 80 53/udp 80/tcp",
            "VOLUME [\"/data\"]",
            "STOPSIGNAL SIGINT",
        ])
        .unwrap();
        assert_eq!(c.cmd().clone().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint().clone().unwrap(),
            ["/bin/sh", "-c", "/bin/run me"]
        );
        assert_eq!(
            c.env().clone().unwrap(),
            ["B=two words", "C=three words", "A=override"]
        );
        assert_eq!(c.working_dir().as_deref(), Some("/srv/app"));
        assert_eq!(c.user().as_deref(), Some("berth"));
        assert_eq!(
            sorted_labels(c.labels()),
            [("org.x".into(), "y".into()), ("z".into(), "q r".into())]
        );
        assert_eq!(c.exposed_ports().clone().unwrap(), ["80/tcp", "53/udp"]);
        assert_eq!(c.volumes().clone().unwrap(), ["/data"]);
        assert_eq!(c.stop_signal().as_deref(), Some("SIGINT"));
    }

    #[test]
    fn invalid_changes_are_refused_with_dockers_words() {
        for (change, needle) in [
            ("FROM scratch", "FROM is not a valid change command"),
            ("RUN rm -rf /", "RUN is not a valid change command"),
            ("CMD", "requires at least one argument"),
            ("CMD [\"unterminated\"", "JSON array"),
            ("EXPOSE 99999", "invalid port"),
            ("EXPOSE 80/icmp", "invalid protocol"),
            ("ENV =x", "not key=value"),
            ("USER a b", "exactly one"),
            ("ONBUILD RUN x", "ONBUILD"),
        ] {
            let err = apply(&[change]).unwrap_err().to_string();
            assert!(err.contains(needle), "{change}: {err}");
        }
    }

    #[test]
    fn platforms() {
        assert_eq!(Platform::parse("").unwrap(), Platform::host());
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.architecture, Arch::ARM64);
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().architecture,
            Arch::Amd64
        );
        assert!(
            Platform::parse("windows/amd64")
                .unwrap_err()
                .to_string()
                .contains("not supported")
        );
        assert!(Platform::parse("linux//").is_err());
        assert!(Platform::parse("linux/a/b/c").is_err());
    }
}
