//! Platform selection from a manifest list / OCI index.

use crate::error::RegistryError;
use crate::manifest::IndexEntry;

/// An `os/arch[/variant]` platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`, `arm`.
    pub architecture: String,
    /// `v7`, `v8`; `None` when not given.
    pub variant: Option<String>,
}

impl Default for Platform {
    /// linux/amd64: the daemon's platform (berth runs Linux containers).
    fn default() -> Self {
        Platform {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
        }
    }
}

impl Platform {
    /// Parses the API's `platform` (`linux`, `linux/arm64`,
    /// `linux/arm/v7`); an empty string is the default platform.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::InvalidPlatform {
            platform: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Ok(Platform::default());
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad("expected os[/arch[/variant]]"));
        }
        let os = parts[0].to_ascii_lowercase();
        if os != "linux" {
            return Err(bad("only linux images can be run"));
        }
        // containerd's platforms.Normalize spellings.
        let architecture = match parts.get(1).map(|a| a.to_ascii_lowercase()) {
            None => "amd64".to_owned(),
            Some(a) => match a.as_str() {
                "x86_64" | "x86-64" => "amd64".to_owned(),
                "aarch64" => "arm64".to_owned(),
                "i386" => "386".to_owned(),
                _ => a,
            },
        };
        let variant = parts.get(2).map(|v| v.to_ascii_lowercase());
        Ok(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// Picks the entry of an index for this platform: the exact variant if
    /// one was asked for, otherwise the first entry of this os/arch
    /// (preferring `v8` for arm64, as containerd's matcher does).
    pub(crate) fn select<'a>(
        &self,
        entries: &'a [IndexEntry],
    ) -> Result<&'a IndexEntry, RegistryError> {
        let mut candidates = entries.iter().filter(|e| {
            e.platform
                .as_ref()
                .is_some_and(|p| p.os == self.os && p.architecture == self.architecture)
        });
        let chosen = match &self.variant {
            Some(v) => candidates.find(|e| {
                let ev = e.platform.as_ref().and_then(|p| p.variant.as_deref());
                ev == Some(v.as_str())
                    || (ev.is_none() && self.architecture == "arm64" && v == "v8")
            }),
            None => {
                let all: Vec<&IndexEntry> = candidates.collect();
                all.iter()
                    .find(|e| {
                        let ev = e.platform.as_ref().and_then(|p| p.variant.as_deref());
                        ev.is_none() || (self.architecture == "arm64" && ev == Some("v8"))
                    })
                    .or(all.first())
                    .copied()
            }
        };
        chosen.ok_or_else(|| RegistryError::NoMatchingPlatform {
            platform: self.to_string(),
        })
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::IndexPlatform;

    fn entry(digest: &str, os: &str, arch: &str, variant: Option<&str>) -> IndexEntry {
        IndexEntry {
            media_type: None,
            digest: digest.to_owned(),
            platform: Some(IndexPlatform {
                os: os.to_owned(),
                architecture: arch.to_owned(),
                variant: variant.map(str::to_owned),
            }),
        }
    }

    fn list() -> Vec<IndexEntry> {
        vec![
            entry("a", "windows", "amd64", None),
            entry("b", "linux", "arm", Some("v6")),
            entry("c", "linux", "arm", Some("v7")),
            entry("d", "linux", "amd64", None),
            entry("e", "linux", "arm64", Some("v8")),
            IndexEntry {
                media_type: None,
                digest: "attestation".to_owned(),
                platform: None,
            },
        ]
    }

    #[test]
    fn default_is_linux_amd64() {
        let p = Platform::parse("").expect("parse");
        assert_eq!(p.select(&list()).expect("select").digest, "d");
    }

    #[test]
    fn variants_and_aliases_select_their_entry() {
        let cases = [
            ("linux/arm/v7", "c"),
            ("linux/arm/v6", "b"),
            ("linux/arm", "b"),
            ("linux/arm64", "e"),
            ("linux/aarch64", "e"),
            ("linux/arm64/v8", "e"),
            ("linux/x86_64", "d"),
            ("linux", "d"),
        ];
        for (platform, want) in cases {
            let p = Platform::parse(platform).expect("parse");
            assert_eq!(
                p.select(&list()).expect(platform).digest,
                want,
                "{platform}"
            );
        }
    }

    #[test]
    fn a_missing_platform_is_moby_s_error() {
        let p = Platform::parse("linux/s390x").expect("parse");
        let err = p.select(&list()).expect_err("s390x is not listed");
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/s390x in the manifest list entries"
        );
    }

    #[test]
    fn bad_platforms_are_refused() {
        for bad in ["windows/amd64", "linux//v7", "linux/arm/v7/x", "/amd64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
