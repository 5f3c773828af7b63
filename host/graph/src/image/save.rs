//! `docker save`: images written as one tar stream in the layout docker
//! 25+ writes (moby `image/tarexport/save.go`), which is both a
//! docker-archive (`manifest.json`, `repositories`) and an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/...`).
//!
//! Layer tars are written as they came ([`crate::tarsplit`]), so a saved
//! image keeps its id. A layer stored without the record of its tar
//! (stored by an older berth) is written by [`crate::layer_tar`],
//! deterministically; when that tar's digest differs from the diff id the
//! image config names (a layer another tool wrote), the saved config names
//! the written tars instead: such an image gets a new id in the archive,
//! and a save → load → save round trip is then stable.
//! Each layer is written to a file under `tmp/` first (its size goes in
//! the member's header), one at a time; a layer shared by several images
//! is written once.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Seek, Write};

use serde_json::json;

use super::resolve_in;
use crate::compress::sha256_hex;
use crate::error::GraphError;
use crate::graph::Graph;
use crate::records::LayerKind;
use crate::reference::Reference;

/// One image to save and the tags it is saved with.
struct Wanted {
    hex: String,
    tags: Vec<Reference>,
}

fn stream_err(e: io::Error) -> GraphError {
    GraphError::Io {
        op: "write the image archive to",
        path: "the client".into(),
        source: e,
    }
}

fn append(builder: &mut tar::Builder<&mut dyn Write>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    builder.append_data(&mut h, name, data)
}

fn dir(builder: &mut tar::Builder<&mut dyn Write>, name: &str) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_size(0);
    builder.append_data(&mut h, name, io::empty())
}

impl Graph {
    /// Writes the images `names` (references or ids; an image named twice
    /// is written once) as an image archive to `out`. An image named by a
    /// tag is saved with that tag; one named by its id with none (moby).
    /// Every name is resolved before a byte is written, so an unknown name
    /// is an error, not a truncated archive.
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), GraphError> {
        if names.is_empty() {
            return Err(GraphError::InvalidImportOption {
                reason: "no image named to save".into(),
            });
        }
        let mut wanted: Vec<Wanted> = Vec::new();
        {
            let read = self.store.read()?;
            for name in names {
                let resolved = resolve_in(&read, name)?;
                let hex = resolved.image.id.clone();
                let tag = resolved.by_ref.map(Reference::with_default_tag);
                match wanted.iter_mut().find(|w| w.hex == hex) {
                    Some(w) => {
                        if let Some(t) = tag
                            && !w.tags.contains(&t)
                        {
                            w.tags.push(t);
                        }
                    }
                    None => wanted.push(Wanted {
                        hex,
                        tags: tag.into_iter().collect(),
                    }),
                }
            }
        }
        let mut builder = tar::Builder::new(out);
        // Stored diff id (hex) → digest and size of the tar written for it.
        let mut written: HashMap<String, (String, u64)> = HashMap::new();
        let mut manifest_json = Vec::new();
        let mut index = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        dir(&mut builder, "blobs").map_err(stream_err)?;
        dir(&mut builder, "blobs/sha256").map_err(stream_err)?;
        for w in &wanted {
            let config = self.read_config(&w.hex)?;
            let config_bytes = std::fs::read(self.layout.blob(&w.hex)).map_err(GraphError::io(
                "read image config",
                self.layout.blob(&w.hex),
            ))?;
            let mut layer_digests = Vec::new();
            for diff_id in config.rootfs().diff_ids() {
                let hex = diff_id
                    .strip_prefix("sha256:")
                    .unwrap_or(diff_id)
                    .to_owned();
                let blob = match written.get(&hex) {
                    Some(b) => b.clone(),
                    None => {
                        let b = self.write_layer_blob(&hex, &mut builder)?;
                        written.insert(hex.clone(), b.clone());
                        b
                    }
                };
                layer_digests.push(blob);
            }
            let same = config
                .rootfs()
                .diff_ids()
                .iter()
                .zip(&layer_digests)
                .all(|(a, (b, _))| a.strip_prefix("sha256:") == Some(b.as_str()));
            let config_bytes =
                if same {
                    config_bytes
                } else {
                    let mut value: serde_json::Value = serde_json::from_slice(&config_bytes)
                        .map_err(|source| GraphError::ImageConfig {
                            image_id: format!("sha256:{}", w.hex),
                            source,
                        })?;
                    value["rootfs"]["diff_ids"] = json!(
                        layer_digests
                            .iter()
                            .map(|(d, _)| format!("sha256:{d}"))
                            .collect::<Vec<_>>()
                    );
                    serde_json::to_vec(&value).map_err(|source| GraphError::ImageConfig {
                        image_id: format!("sha256:{}", w.hex),
                        source,
                    })?
                };
            let config_hex = sha256_hex(&config_bytes);
            append(
                &mut builder,
                &format!("blobs/sha256/{config_hex}"),
                &config_bytes,
            )
            .map_err(stream_err)?;
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": format!("sha256:{config_hex}"),
                    "size": config_bytes.len(),
                },
                "layers": layer_digests.iter().map(|(d, size)| json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{d}"),
                    "size": size,
                })).collect::<Vec<_>>(),
            });
            let manifest_bytes =
                serde_json::to_vec(&manifest).map_err(|source| GraphError::ImageConfig {
                    image_id: format!("sha256:{}", w.hex),
                    source,
                })?;
            let manifest_hex = sha256_hex(&manifest_bytes);
            append(
                &mut builder,
                &format!("blobs/sha256/{manifest_hex}"),
                &manifest_bytes,
            )
            .map_err(stream_err)?;
            let descriptor = |annotations: Option<serde_json::Value>| {
                let mut d = json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": format!("sha256:{manifest_hex}"),
                    "size": manifest_bytes.len(),
                });
                if let Some(a) = annotations {
                    d["annotations"] = a;
                }
                d
            };
            if w.tags.is_empty() {
                index.push(descriptor(None));
            }
            for tag in &w.tags {
                index.push(descriptor(Some(json!({
                    "io.containerd.image.name": tag.to_string(),
                    "org.opencontainers.image.ref.name": tag.tag().unwrap_or("latest"),
                }))));
                repositories
                    .entry(tag.familiar_name())
                    .or_default()
                    .insert(tag.tag().unwrap_or("latest").to_owned(), config_hex.clone());
            }
            manifest_json.push(json!({
                "Config": format!("blobs/sha256/{config_hex}"),
                "RepoTags": w.tags.iter().map(Reference::familiar).collect::<Vec<_>>(),
                "Layers": layer_digests.iter().map(|(d, _)| format!("blobs/sha256/{d}")).collect::<Vec<_>>(),
            }));
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": index,
        });
        let encode = |v: &serde_json::Value| {
            serde_json::to_vec(v).map_err(|source| GraphError::ImageConfig {
                image_id: "(archive)".into(),
                source,
            })
        };
        append(&mut builder, "index.json", &encode(&index)?).map_err(stream_err)?;
        append(
            &mut builder,
            "manifest.json",
            &encode(&json!(manifest_json))?,
        )
        .map_err(stream_err)?;
        append(
            &mut builder,
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .map_err(stream_err)?;
        if !repositories.is_empty() {
            append(&mut builder, "repositories", &encode(&json!(repositories))?)
                .map_err(stream_err)?;
        }
        builder
            .into_inner()
            .and_then(|w| w.flush())
            .map_err(stream_err)?;
        Ok(())
    }

    /// Writes the layer `hex` as a tar to a file under `tmp/`, then as the
    /// member `blobs/sha256/<its digest>`; returns the digest (hex) and
    /// the size.
    fn write_layer_blob(
        &self,
        hex: &str,
        builder: &mut tar::Builder<&mut dyn Write>,
    ) -> Result<(String, u64), GraphError> {
        let dir = self.layout.layer_diff(LayerKind::Layer, hex);
        let tmp = tempfile::tempfile_in(self.layout.tmp())
            .map_err(GraphError::io("create a layer file in", self.layout.tmp()))?;
        let mut hashing = HashingWriter::new(tmp);
        self.write_stored_layer(hex, &mut hashing)?;
        let (mut file, digest, size) = hashing.finish();
        file.rewind()
            .map_err(GraphError::io("rewind the layer file of", &dir))?;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(size);
        builder
            .append_data(&mut h, format!("blobs/sha256/{digest}"), &mut file)
            .map_err(stream_err)?;
        Ok((digest, size))
    }
}

/// Passes bytes to a file while hashing and counting them.
struct HashingWriter {
    file: File,
    hasher: sha2::Sha256,
    count: u64,
}

impl HashingWriter {
    fn new(file: File) -> Self {
        use sha2::Digest;
        Self {
            file,
            hasher: sha2::Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (File, String, u64) {
        use sha2::Digest;
        (self.file, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
