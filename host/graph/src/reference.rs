//! Image references (`[registry[:port]/]path[:tag][@digest]`), parsed and
//! normalised the way Docker's `distribution/reference` package does:
//! `busybox` → `docker.io/library/busybox`, `index.docker.io/x` →
//! `docker.io/library/x`, a first component with a `.` or `:` or equal to
//! `localhost` is a registry host, names are lower-case, tags match
//! `[\w][\w.-]{0,127}`, digests are `sha256:<64 hex>`, a name is at most 255
//! characters, and a bare 64-digit hex string is refused as a repository
//! name because it would be ambiguous with an image id.

use std::fmt;

/// The registry implied when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag implied when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference format: {reason}: {input:?}")]
pub struct ReferenceError {
    /// What was parsed.
    pub input: String,
    /// What is wrong with it.
    pub reason: InvalidReference,
}

/// Which rule of Docker's `distribution/reference` a reference breaks
/// (`reference.go`, `regexp.go`, `normalize.go`), each naming the part of
/// the reference that breaks it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReference {
    /// The name is empty.
    #[error("repository name must have at least one component")]
    Empty,
    /// The name is 64 hex digits, which reads as an image id.
    #[error("cannot specify 64-byte hexadecimal strings as a repository name")]
    HexName,
    /// The repository path has capitals.
    #[error("repository name ({path}) must be lowercase")]
    Uppercase {
        /// The path as given.
        path: String,
    },
    /// The normalised name is longer than `NameTotalLengthMax`.
    #[error("repository name must not be more than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A tag outside `[\w][\w.-]{0,127}`.
    #[error("tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")]
    Tag {
        /// The tag.
        tag: String,
    },
    /// A sha256 digest whose hex part is not 64 lower-case hex digits.
    #[error("digest {digest:?} must be sha256: followed by 64 lower-case hex digits")]
    DigestHex {
        /// The digest.
        digest: String,
    },
    /// A digest algorithm other than sha256.
    #[error("unsupported digest algorithm {algorithm:?}")]
    DigestAlgorithm {
        /// The algorithm.
        algorithm: String,
    },
    /// A digest without `algorithm:`.
    #[error("digest {digest:?} has no algorithm")]
    DigestWithoutAlgorithm {
        /// The digest.
        digest: String,
    },
    /// A registry host that is not a host name or bracketed IPv6 address.
    #[error("registry host {host:?} is not a valid host name")]
    Host {
        /// The host (with its port when the brackets do not close).
        host: String,
    },
    /// A registry port that is not a number.
    #[error("registry port {port:?} is not a number")]
    Port {
        /// The port.
        port: String,
    },
    /// A repository path component outside `[a-z0-9]+(?:[._-][a-z0-9]+)*`.
    #[error(
        "repository path component {component:?} must be lower-case letters and digits \
         separated by '.', '_', '__' or '-'"
    )]
    PathComponent {
        /// The component.
        component: String,
    },
    /// `docker tag` to a reference with a digest.
    #[error("refusing to create a tag with a digest reference")]
    TagWithDigest,
}

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalises `input` (Docker's `ParseNormalizedNamed`).
    /// No tag is added; see [`Reference::with_default_tag`].
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let err = |reason: InvalidReference| ReferenceError {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(err(InvalidReference::Empty));
        }
        if is_full_hex(input) {
            return Err(err(InvalidReference::HexName));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                validate_digest(digest).map_err(err)?;
                (name, Some(digest.to_owned()))
            }
            None => (input, None),
        };
        // A tag is after the last ':' unless that ':' belongs to a host:port
        // (then a '/' follows it).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(err)?;
        }
        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(err(InvalidReference::Uppercase { path }));
        }
        validate_domain(&domain).map_err(err)?;
        validate_path(&path).map_err(err)?;
        // reference.go `NameTotalLengthMax` bounds the normalised name, which
        // may be shorter than the input (`index.docker.io/` → `docker.io/`).
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(err(InvalidReference::TooLong {
                max: NAME_TOTAL_LENGTH_MAX,
            }));
        }
        Ok(Self {
            domain,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Adds the `latest` tag when the reference has neither tag nor digest
    /// (Docker's `TagNameOnly`).
    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// Replaces the tag (and drops any digest).
    pub fn with_tag(mut self, tag: &str) -> Result<Self, ReferenceError> {
        validate_tag(tag).map_err(|reason| ReferenceError {
            input: tag.to_owned(),
            reason,
        })?;
        self.tag = Some(tag.to_owned());
        self.digest = None;
        Ok(self)
    }

    /// The registry host (and port), e.g. `docker.io`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:<hex>`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The full repository name, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker prints it, e.g. `busybox`,
    /// `someone/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(short) if !short.contains('/') => short.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The reference as Docker prints it: `busybox:latest`.
    pub fn familiar(&self) -> String {
        self.format(self.familiar_name())
    }

    fn format(&self, mut name: String) -> String {
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(digest);
        }
        name
    }
}

/// The fully qualified form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(self.name()))
    }
}

fn is_full_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Docker's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

fn validate_tag(tag: &str) -> Result<(), InvalidReference> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let ok = tag.len() <= 128
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(InvalidReference::Tag {
            tag: tag.to_owned(),
        })
    }
}

fn validate_digest(digest: &str) -> Result<(), InvalidReference> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if is_full_hex(hex) => Ok(()),
        Some(("sha256", _)) => Err(InvalidReference::DigestHex {
            digest: digest.to_owned(),
        }),
        Some((alg, _)) => Err(InvalidReference::DigestAlgorithm {
            algorithm: alg.to_owned(),
        }),
        None => Err(InvalidReference::DigestWithoutAlgorithm {
            digest: digest.to_owned(),
        }),
    }
}

fn validate_domain(domain: &str) -> Result<(), InvalidReference> {
    // regexp.go `domainAndPort`: a host, then an optional `:port`. A
    // bracketed IPv6 host holds colons of its own, so its port is only what
    // follows the `]` (and `[::1]` alone has none).
    let bad_host = || InvalidReference::Host {
        host: domain.to_owned(),
    };
    let (host, port) = match domain.strip_prefix('[').and_then(|_| domain.find(']')) {
        Some(end) => match &domain[end + 1..] {
            "" => (&domain[..=end], None),
            rest => match rest.strip_prefix(':') {
                Some(p) => (&domain[..=end], Some(p)),
                None => return Err(bad_host()),
            },
        },
        None => match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        },
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(InvalidReference::Port {
            port: port.to_owned(),
        });
    }
    let host_ok = if let Some(ipv6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
    } else {
        host.split('.').all(|part| {
            !part.is_empty()
                && !part.starts_with('-')
                && !part.ends_with('-')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    };
    if host_ok {
        Ok(())
    } else {
        Err(InvalidReference::Host {
            host: host.to_owned(),
        })
    }
}

/// Path components: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn validate_path(path: &str) -> Result<(), InvalidReference> {
    for component in path.split('/') {
        if !valid_component(component) {
            return Err(InvalidReference::PathComponent {
                component: component.to_owned(),
            });
        }
    }
    Ok(())
}

fn valid_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or one or more '-'.
        let start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !bytes.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().with_default_tag().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("docker.io/library/busybox:latest"), norm("busybox"));
        assert_eq!(norm("docker.io/busybox"), norm("busybox"));
        assert_eq!(norm("index.docker.io/busybox"), norm("busybox"));
        assert_eq!(norm("someone/app"), "docker.io/someone/app:latest");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/a/b:v1"), "localhost:5000/a/b:v1");
        assert_eq!(
            norm("registry.example.com/x"),
            "registry.example.com/x:latest"
        );
        assert_eq!(norm("[::1]:5000/x"), "[::1]:5000/x:latest");
        assert_eq!(norm("a-b__c.d"), "docker.io/library/a-b__c.d:latest");
        assert_eq!(norm("a.b-c.d/e"), "a.b-c.d/e:latest");
    }

    #[test]
    fn familiar_forms() {
        let r = |s: &str| Reference::parse(s).unwrap().with_default_tag();
        assert_eq!(r("docker.io/library/busybox").familiar(), "busybox:latest");
        assert_eq!(r("someone/app:v2").familiar(), "someone/app:v2");
        assert_eq!(r("docker.io/library/a/b").familiar(), "library/a/b:latest");
        assert_eq!(r("localhost:5000/x").familiar(), "localhost:5000/x:latest");
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        let with_digest = r(&d);
        assert_eq!(
            with_digest.tag(),
            None,
            "digest references get no default tag"
        );
        assert_eq!(with_digest.familiar(), d);
    }

    #[test]
    fn rejects_invalid_names_with_a_reason() {
        let hex = "a".repeat(64);
        let too_long = format!("a/{}", "b".repeat(260));
        let bad_digest = "busybox@sha256:abc".to_string();
        let cases = [
            ("", "at least one component"),
            ("Busybox", "lowercase"),
            ("busy box", "component"),
            ("busybox:", "tag"),
            ("busybox:-x", "tag"),
            ("-busybox", "component"),
            ("busybox_", "component"),
            ("a//b", "component"),
            ("busybox:tag:more", "component"),
            (hex.as_str(), "64-byte"),
            (too_long.as_str(), "255"),
            (bad_digest.as_str(), "digest"),
            ("example.com:port/x", "port"),
            ("ex_ample.com/x", "host"),
        ];
        for (input, needle) in cases {
            let err = Reference::parse(input).expect_err(input);
            assert!(err.to_string().contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn ipv6_registries_without_a_port_and_the_normalised_length() {
        // regexp.go: the port is optional after a bracketed IPv6 host too.
        let r = Reference::parse("[::1]/x").expect("ipv6 without port");
        assert_eq!((r.domain(), r.path()), ("[::1]", "x"));
        assert_eq!(
            Reference::parse("[::1]:5000/x").expect("port").domain(),
            "[::1]:5000"
        );
        for bad in ["[::1]x/y", "[::1]:/y", "[::1]:p/y"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        // The 255-byte limit is on the normalised name, which the legacy
        // index.docker.io makes shorter than the input.
        let long = format!("index.docker.io/a/{}", "b".repeat(243));
        assert!(long.len() > NAME_TOTAL_LENGTH_MAX);
        assert_eq!(
            Reference::parse(&long)
                .expect("255 once normalised")
                .name()
                .len(),
            255
        );
        let too_long = format!("index.docker.io/a/{}", "b".repeat(244));
        assert!(Reference::parse(&too_long).is_err());
    }

    #[test]
    fn refusals_name_the_rule_and_the_part() {
        let err = Reference::parse("busybox:-x").unwrap_err();
        assert_eq!(
            err.reason,
            InvalidReference::Tag { tag: "-x".into() },
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "invalid reference format: tag \"-x\" must match \
             [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}: \"busybox:-x\""
        );
        let err = Reference::parse("Busybox").unwrap_err();
        assert_eq!(
            err.reason,
            InvalidReference::Uppercase {
                path: "library/Busybox".into()
            }
        );
    }

    #[test]
    fn tag_length_limit() {
        let ok = format!("x:{}", "t".repeat(128));
        let bad = format!("x:{}", "t".repeat(129));
        assert!(Reference::parse(&ok).is_ok());
        assert!(Reference::parse(&bad).is_err());
    }
}
