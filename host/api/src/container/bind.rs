//! `HostConfig.Binds`: `SRC:DST[:OPTIONS]`, parsed.

/// One `HostConfig.Binds` entry, parsed: `host-path:container-path[:opts]`
/// where `opts` is a comma-separated list of `ro`/`rw`, a propagation mode,
/// and SELinux (`z`/`Z`) or `nocopy` flags, which are accepted and ignored
/// (moby's `volume/mounts` linux parser, bind form only). Named volumes are
/// not supported: the host path must be absolute.
///
/// Parsed once, at create: the daemon refuses a bad entry and keeps the
/// result as a mount of the container model
/// (`berth_model::container::Mount`), which the exec driver mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Absolute host path.
    pub source: String,
    /// Absolute path in the container, not `/`, without `..`.
    pub destination: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Mount propagation (`rprivate` by default).
    pub propagation: &'static str,
}

/// A `Binds` entry that [`Bind::parse`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bind mount {bind:?}: {reason}")]
pub struct BindError {
    /// The entry.
    pub bind: String,
    /// Why it is refused.
    pub reason: String,
}

impl Bind {
    /// Parses one `Binds` entry.
    pub fn parse(entry: &str) -> Result<Bind, BindError> {
        let fail = |reason: &str| BindError {
            bind: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = entry.split(':').collect();
        let (source, destination, opts) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, o] => (*s, *d, *o),
            _ => return Err(fail("expected host-path:container-path[:options]")),
        };
        if !source.starts_with('/') {
            return Err(fail(
                "the host path must be absolute (named volumes are not supported)",
            ));
        }
        if !destination.starts_with('/') || destination == "/" {
            return Err(fail("the container path must be absolute and not /"));
        }
        if destination.split('/').any(|component| component == "..") {
            return Err(fail("the container path must not contain .."));
        }
        let mut bind = Bind {
            source: source.to_owned(),
            destination: destination.to_owned(),
            read_only: false,
            propagation: "rprivate",
        };
        let (mut mode_seen, mut propagation_seen) = (false, false);
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" | "rw" if !mode_seen => {
                    bind.read_only = opt == "ro";
                    mode_seen = true;
                }
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                    if !propagation_seen =>
                {
                    bind.propagation = match opt {
                        "private" => "private",
                        "shared" => "shared",
                        "rshared" => "rshared",
                        "slave" => "slave",
                        "rslave" => "rslave",
                        _ => "rprivate",
                    };
                    propagation_seen = true;
                }
                "z" | "Z" | "nocopy" => {}
                _ => return Err(fail(&format!("invalid or repeated option {opt:?}"))),
            }
        }
        Ok(bind)
    }
}
