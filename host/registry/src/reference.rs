//! Image references as a registry sees them.
//!
//! `oci-spec`'s distribution `Reference` implements the grammar of
//! `distribution/reference` (the one moby uses): a missing registry is
//! `docker.io`, a one-part Docker Hub name gets `library/`, a missing tag is
//! `latest`.

use std::net::IpAddr;
use std::str::FromStr;

use oci_spec::distribution::Reference;

use crate::error::RegistryError;

/// A normalized image reference: registry, repository, tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    inner: Reference,
}

impl ImageName {
    /// Parses `[registry/]repo[:tag|@digest]`; `tag`, if not empty, replaces
    /// the reference's tag (the API's `fromImage` + `tag`; a `tag` that is
    /// a digest, as the docker CLI sends for `name@sha256:...`, pins it).
    pub fn parse(reference: &str, tag: Option<&str>) -> Result<Self, RegistryError> {
        let invalid = || RegistryError::InvalidReference {
            reference: reference.to_owned(),
        };
        // Uppercase is not allowed in repository names; the grammar refuses
        // it with a worse message than moby's.
        let inner = Reference::from_str(reference).map_err(|_| invalid())?;
        let inner = match tag.filter(|t| !t.is_empty()) {
            None => inner,
            Some(t) if t.contains(':') => {
                Reference::from_str(&format!("{}/{}@{t}", inner.registry(), inner.repository()))
                    .map_err(|_| invalid())?
            }
            Some(t) => {
                Reference::from_str(&format!("{}/{}:{t}", inner.registry(), inner.repository()))
                    .map_err(|_| invalid())?
            }
        };
        Ok(ImageName { inner })
    }

    /// The registry host (`docker.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The repository path (`library/busybox`).
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The tag, if any (a digest reference may have none).
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest, if pinned.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The repository as Docker shows it (`busybox`,
    /// `127.0.0.1:5000/app`): Docker Hub's domain and `library/` dropped.
    pub fn familiar_repository(&self) -> String {
        if self.registry() == "docker.io" {
            let repo = self.repository();
            repo.strip_prefix("library/").unwrap_or(repo).to_owned()
        } else {
            format!("{}/{}", self.registry(), self.repository())
        }
    }

    /// The reference as Docker shows it: `busybox:latest`,
    /// `127.0.0.1:5000/app@sha256:...`.
    pub fn familiar(&self) -> String {
        match (self.digest(), self.tag()) {
            (Some(d), _) => format!("{}@{d}", self.familiar_repository()),
            (None, Some(t)) => format!("{}:{t}", self.familiar_repository()),
            (None, None) => self.familiar_repository(),
        }
    }

    /// The tag reference to record in the graph (`repo:tag`), `None` for a
    /// pull by digest alone.
    pub fn tagged(&self) -> Option<String> {
        self.tag()
            .filter(|_| self.digest().is_none())
            .map(|t| format!("{}/{}:{t}", self.registry(), self.repository()))
    }

    /// The same repository, tag and digest on `registry` (a mirror).
    pub(crate) fn on_registry(&self, registry: &str) -> ImageName {
        let (repo, registry) = (self.repository().to_owned(), registry.to_owned());
        let inner = match (self.tag(), self.digest()) {
            (Some(t), Some(d)) => {
                Reference::with_tag_and_digest(registry, repo, t.to_owned(), d.to_owned())
            }
            (None, Some(d)) => Reference::with_digest(registry, repo, d.to_owned()),
            (t, None) => Reference::with_tag(registry, repo, t.unwrap_or("latest").to_owned()),
        };
        ImageName { inner }
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.familiar())
    }
}

/// Whether `registry` (`host[:port]`) is on the loopback: dockerd treats
/// `127.0.0.0/8` and `::1` as insecure registries by default
/// (`registry/config.go`, `loadInsecureRegistries`), and `localhost` is
/// spoken to over plain HTTP too.
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_names_get_their_defaults() {
        let name = ImageName::parse("busybox", None).expect("parse");
        assert_eq!(name.registry(), "docker.io");
        assert_eq!(name.repository(), "library/busybox");
        assert_eq!(name.tag(), Some("latest"));
        assert_eq!(name.familiar(), "busybox:latest");
        assert_eq!(
            name.tagged().as_deref(),
            Some("docker.io/library/busybox:latest")
        );

        let name = ImageName::parse("user/app:1.0", None).expect("parse");
        assert_eq!(name.repository(), "user/app");
        assert_eq!(name.familiar(), "user/app:1.0");
    }

    #[test]
    fn private_registries_keep_host_and_port() {
        let name = ImageName::parse("127.0.0.1:5000/team/app:v2", None).expect("parse");
        assert_eq!(name.registry(), "127.0.0.1:5000");
        assert_eq!(name.repository(), "team/app");
        assert_eq!(name.familiar(), "127.0.0.1:5000/team/app:v2");
    }

    #[test]
    fn the_api_tag_replaces_the_reference_tag_and_digests_pin() {
        let name = ImageName::parse("localhost:5000/app", Some("v3")).expect("parse");
        assert_eq!(name.tag(), Some("v3"));
        let digest = format!("sha256:{}", "a".repeat(64));
        let name = ImageName::parse("localhost:5000/app", Some(&digest)).expect("parse");
        assert_eq!(name.digest(), Some(digest.as_str()));
        assert_eq!(name.tagged(), None);
        let name = ImageName::parse(&format!("busybox@{digest}"), None).expect("parse");
        assert_eq!(name.familiar(), format!("busybox@{digest}"));
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "a//b",
            "busybox@sha256:12",
            ":tag",
        ] {
            assert!(
                matches!(
                    ImageName::parse(bad, None),
                    Err(RegistryError::InvalidReference { .. })
                ),
                "{bad:?} parsed"
            );
        }
        assert!(ImageName::parse("busybox", Some("bad tag")).is_err());
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for yes in [
            "127.0.0.1:5000",
            "127.3.4.5",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(is_loopback_registry(yes), "{yes}");
        }
        for no in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example.com:5000",
            "[::2]:80",
        ] {
            assert!(!is_loopback_registry(no), "{no}");
        }
    }
}
