//! Manifests: Docker v2 schema 2, OCI image manifests, Docker manifest
//! lists and OCI indexes. Parsed with small tolerant structs rather than
//! `oci-spec`'s, whose media-type enum does not know Docker's types.

use serde::Deserialize;

use crate::error::RegistryError;

/// Docker's manifest list (`distribution/manifest/manifestlist`).
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's image manifest, schema 2.
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image index.
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The media types asked for in `Accept` when fetching a manifest.
pub(crate) const ACCEPTED: [&str; 4] = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX];

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A plain tar.
    Tar,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// One layer of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The blob's digest (`sha256:...`).
    pub digest: String,
    /// The blob's size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// Its compression.
    pub kind: MediaKind,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    size: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    manifests: Option<Vec<IndexEntry>>,
}

/// The platform of an index entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IndexPlatform {
    pub(crate) os: String,
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

/// An entry of a manifest list / OCI index.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexEntry {
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) platform: Option<IndexPlatform>,
}

/// An image manifest: its config blob and layers.
#[derive(Debug, Clone)]
pub(crate) struct ImageManifest {
    pub(crate) config_digest: String,
    pub(crate) config_size: u64,
    pub(crate) layers: Vec<Layer>,
}

/// What a manifest fetch returned.
#[derive(Debug)]
pub(crate) enum Document {
    Image(ImageManifest),
    Index(Vec<IndexEntry>),
}

fn layer_kind(media_type: &str) -> Option<MediaKind> {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(MediaKind::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Some(MediaKind::Zstd),
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar" => Some(MediaKind::Tar),
        _ => None,
    }
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// Parses a manifest body; `content_type` is the response's, used when the
/// document does not name its own media type.
pub(crate) fn parse(
    reference: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Document, RegistryError> {
    let bad = |reason: String| RegistryError::BadManifest {
        reference: reference.to_owned(),
        reason,
    };
    let doc: RawDocument =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a JSON manifest: {e}")))?;
    let media_type = doc
        .media_type
        .as_deref()
        .or(content_type)
        .unwrap_or("")
        .to_owned();
    if doc.schema_version != Some(2) {
        // Schema 1 was removed from moby 28 as well.
        return Err(bad(format!(
            "unsupported manifest schema version {:?} (media type {media_type:?})",
            doc.schema_version
        )));
    }
    if let Some(entries) = doc.manifests {
        if !matches!(media_type.as_str(), DOCKER_LIST | OCI_INDEX | "") {
            return Err(bad(format!(
                "unexpected media type {media_type:?} for an index"
            )));
        }
        if let Some(e) = entries.iter().find(|e| !is_digest(&e.digest)) {
            return Err(bad(format!("bad digest {:?} in the index", e.digest)));
        }
        return Ok(Document::Index(entries));
    }
    if !matches!(media_type.as_str(), DOCKER_MANIFEST | OCI_MANIFEST | "") {
        return Err(bad(format!(
            "unsupported manifest media type {media_type:?}"
        )));
    }
    let config = doc
        .config
        .ok_or_else(|| bad("the manifest has no config".into()))?;
    if !is_digest(&config.digest) {
        return Err(bad(format!("bad config digest {:?}", config.digest)));
    }
    let mut layers = Vec::new();
    for l in doc.layers.unwrap_or_default() {
        let mt = l.media_type.unwrap_or_default();
        let kind =
            layer_kind(&mt).ok_or_else(|| bad(format!("unsupported layer media type {mt:?}")))?;
        if !is_digest(&l.digest) {
            return Err(bad(format!("bad layer digest {:?}", l.digest)));
        }
        let size =
            u64::try_from(l.size).map_err(|_| bad(format!("negative size for {}", l.digest)))?;
        layers.push(Layer {
            digest: l.digest,
            size,
            media_type: mt,
            kind,
        });
    }
    Ok(Document::Image(ImageManifest {
        config_digest: config.digest,
        config_size: u64::try_from(config.size).unwrap_or(0),
        layers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn docker_and_oci_manifests_parse() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{}","size":10}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{}","size":5}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{}","size":6}}]}}"#,
            d('a'),
            d('b'),
            d('c')
        );
        let Document::Image(m) = parse("x", body.as_bytes(), None).expect("parse") else {
            panic!("not an image manifest")
        };
        assert_eq!(m.config_digest, d('a'));
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[0].kind, MediaKind::Gzip);
        assert_eq!(m.layers[1].kind, MediaKind::Zstd);
    }

    #[test]
    fn an_index_parses_from_its_content_type() {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"{}","size":3,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            d('e')
        );
        let Document::Index(e) = parse("x", body.as_bytes(), Some(OCI_INDEX)).expect("parse")
        else {
            panic!("not an index")
        };
        assert_eq!(e[0].digest, d('e'));
    }

    #[test]
    fn garbage_and_unknown_types_are_refused() {
        assert!(parse("x", b"<html>", None).is_err());
        assert!(parse("x", br#"{"schemaVersion":1}"#, None).is_err());
        let foreign = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}","size":1}},"layers":[{{"mediaType":"application/x-foo","digest":"{}","size":1}}]}}"#,
            d('a'),
            d('b')
        );
        let err = parse("x", foreign.as_bytes(), None).expect_err("foreign layer");
        assert!(
            err.to_string().contains("unsupported layer media type"),
            "{err}"
        );
        let traversal =
            r#"{"schemaVersion":2,"config":{"digest":"sha256:../../etc","size":1},"layers":[]}"#;
        assert!(parse("x", traversal.as_bytes(), None).is_err());
    }
}
