//! `docker load`: image archives in the docker-archive format
//! (`manifest.json`, config and layer tars) and the OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/...`) — moby
//! `image/tarexport/load.go` and the OCI image-layout spec.
//!
//! The archive is read once, as a stream: every member is spooled to a
//! file of a private directory under the graph's `tmp/` (named by its
//! position, never by the member's name) while its SHA-256 is computed, so
//! no name in the archive ever reaches a host path and nothing is held in
//! memory but the (capped) JSON files. Then every blob's digest, every
//! config and every layer's diff id is checked and the layers are staged;
//! only when all of that passed are the images committed, each in one
//! transaction under the graph lock. A refused archive leaves nothing.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::Deserialize;

use super::import::StagedLayer;
use crate::compress::{HashingReader, decompressed};
use crate::error::GraphError;
use crate::graph::Graph;
use crate::records::LAYERS;
use crate::reference::Reference;

/// The largest JSON file of an archive read (`manifest.json`,
/// `index.json`, a manifest, a config): a hostile archive cannot make the
/// daemon allocate more than this per file.
pub const MAX_ARCHIVE_JSON: u64 = 8 << 20;

/// The most members an archive may hold.
const MAX_MEMBERS: usize = 1 << 16;

/// How deep OCI indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;

/// How many symlinks one member name may go through.
const MAX_LINK_HOPS: usize = 16;

/// Containerd's and moby's annotation with an image's full reference.
const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The OCI annotation with an image's reference (or only its tag).
const OCI_REF_NAME: &str = "org.opencontainers.image.ref.name";

pub use berth_model::graph::archive::{LoadReport, LoadedImage};

fn invalid(reason: impl Into<String>) -> GraphError {
    GraphError::InvalidImageArchive {
        reason: reason.into(),
    }
}

/// A spooled member: its file in the spool, or an alias of another member.
enum Member {
    File {
        index: usize,
        size: u64,
        sha256: String,
    },
    /// A symlink (target relative to the member's directory, already
    /// joined) or a hard link (target named from the archive's root).
    Alias(String),
}

/// The archive's members on disk.
struct Spool {
    dir: tempfile::TempDir,
    members: HashMap<String, Member>,
}

/// A member name made relative and clean: `./a//b` is `a/b`; an absolute
/// name or one with a `..` component is refused (moby `safePath`).
fn clean_name(raw: &str) -> Result<String, GraphError> {
    if raw.starts_with('/') {
        return Err(invalid(format!("member {raw:?} has an absolute name")));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(invalid(format!("member {raw:?} climbs out of the archive")));
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Joins a symlink's target to the directory of the member holding it,
/// lexically; a target outside the archive is refused.
fn link_name(member: &str, target: &str) -> Result<String, GraphError> {
    if target.starts_with('/') {
        return Err(invalid(format!(
            "symlink member {member:?} points outside the archive ({target:?})"
        )));
    }
    let mut parts: Vec<&str> = member.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(invalid(format!(
                        "symlink member {member:?} points outside the archive ({target:?})"
                    )));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl Spool {
    /// Reads the whole archive into the spool.
    fn read(graph: &Graph, source: impl Read) -> Result<Spool, GraphError> {
        let dir = tempfile::Builder::new()
            .prefix("load-")
            .tempdir_in(graph.layout.tmp())
            .map_err(GraphError::io(
                "create a load directory in",
                graph.layout.tmp(),
            ))?;
        let not_tar = |e: io::Error| invalid(format!("the input is not a tar archive: {e}"));
        let input = decompressed(source).map_err(|e| invalid(e.to_string()))?;
        let mut archive = tar::Archive::new(input);
        let mut members = HashMap::new();
        let mut files = 0usize;
        for entry in archive.entries().map_err(not_tar)? {
            let mut entry = entry.map_err(not_tar)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = clean_name(&raw)?;
            if members.len() >= MAX_MEMBERS {
                return Err(invalid(format!("more than {MAX_MEMBERS} members")));
            }
            let kind = entry.header().entry_type();
            let member = match kind {
                tar::EntryType::Directory
                | tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader => continue,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let path = dir.path().join(format!("m{files}"));
                    let mut out = File::create(&path)
                        .map_err(GraphError::io("spool an archive member to", &path))?;
                    let mut hashing = HashingReader::new(&mut entry);
                    io::copy(&mut hashing, &mut out).map_err(not_tar)?;
                    let (sha256, size) = hashing.finish().map_err(not_tar)?;
                    out.flush()
                        .map_err(GraphError::io("spool an archive member to", &path))?;
                    files += 1;
                    Member::File {
                        index: files - 1,
                        size,
                        sha256,
                    }
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    if kind == tar::EntryType::Symlink {
                        Member::Alias(link_name(&name, &target)?)
                    } else {
                        Member::Alias(clean_name(&target)?)
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "member {raw:?} is of type {other:?}, not a file"
                    )));
                }
            };
            if name.is_empty() {
                continue;
            }
            members.insert(name, member);
        }
        Ok(Spool { dir, members })
    }

    /// The spooled file a member name stands for, through its links:
    /// (path, size, sha256 hex).
    fn file(&self, name: &str) -> Result<(PathBuf, u64, &str), GraphError> {
        let mut current = clean_name(name)?;
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(&current) {
                None => return Err(invalid(format!("the archive holds no file {name:?}"))),
                Some(Member::Alias(target)) => current = target.clone(),
                Some(Member::File {
                    index,
                    size,
                    sha256,
                }) => {
                    return Ok((self.dir.path().join(format!("m{index}")), *size, sha256));
                }
            }
        }
        Err(invalid(format!("member {name:?} is a symlink loop")))
    }

    fn contains(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    /// A member's bytes, at most [`MAX_ARCHIVE_JSON`].
    fn read_small(&self, name: &str) -> Result<Vec<u8>, GraphError> {
        let (path, size, _) = self.file(name)?;
        if size > MAX_ARCHIVE_JSON {
            return Err(invalid(format!(
                "{name} is {size} bytes, more than the {MAX_ARCHIVE_JSON} a JSON file may have"
            )));
        }
        std::fs::read(&path).map_err(GraphError::io("read the spooled member", &path))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, GraphError> {
        serde_json::from_slice(&self.read_small(name)?)
            .map_err(|e| invalid(format!("{name} is not valid: {e}")))
    }

    /// The member of the OCI blob `digest`, its content checked against
    /// the digest.
    fn blob(&self, digest: &str) -> Result<String, GraphError> {
        let hex = sha256_digest_hex(digest)?;
        let name = format!("blobs/sha256/{hex}");
        let (_, _, actual) = self.file(&name)?;
        if actual != hex {
            return Err(invalid(format!(
                "blob {name} does not match its digest (its content is sha256:{actual})"
            )));
        }
        Ok(name)
    }

    /// Checks a member named after its digest (`blobs/sha256/<hex>`)
    /// against it; any other name passes.
    fn check_named_digest(&self, name: &str) -> Result<(), GraphError> {
        if let Some(hex) = clean_name(name)?.strip_prefix("blobs/sha256/") {
            self.blob(&format!("sha256:{hex}"))?;
        }
        Ok(())
    }
}

fn sha256_digest_hex(digest: &str) -> Result<&str, GraphError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if crate::policy::is_layer_id(hex) => Ok(hex),
        _ => Err(invalid(format!(
            "digest {digest:?} is not sha256:<64 lower-case hex>"
        ))),
    }
}

/// One entry of a docker-archive `manifest.json` (moby
/// `image/tarexport.manifestItem`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// An image found in the archive, not yet checked.
struct Candidate {
    config_member: String,
    layer_members: Vec<String>,
    tags: Vec<Reference>,
}

/// An image checked and its layers staged, ready to commit.
struct Checked {
    config_bytes: Vec<u8>,
    config: ImageConfiguration,
    tags: Vec<Reference>,
}

fn parse_tag(tag: &str) -> Result<Reference, GraphError> {
    let reference = Reference::parse(tag).map_err(|e| invalid(format!("tag {tag:?}: {e}")))?;
    if reference.digest().is_some() {
        return Err(invalid(format!("tag {tag:?} is a digest reference")));
    }
    Ok(reference.with_default_tag())
}

/// The docker-archive images of `manifest.json`.
fn docker_candidates(spool: &Spool) -> Result<Vec<Candidate>, GraphError> {
    let items: Vec<ManifestItem> = spool.json("manifest.json")?;
    items
        .into_iter()
        .map(|item| {
            Ok(Candidate {
                tags: item
                    .repo_tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| parse_tag(t))
                    .collect::<Result<_, _>>()?,
                config_member: item.config,
                layer_members: item.layers,
            })
        })
        .collect()
}

/// The tag an OCI index entry carries: containerd's full name, else an
/// `org.opencontainers.image.ref.name` that is a reference (one that is
/// only a tag, `latest`, names no repository and tags nothing).
fn oci_tag(descriptor: &Descriptor) -> Result<Option<Reference>, GraphError> {
    let Some(annotations) = descriptor.annotations() else {
        return Ok(None);
    };
    if let Some(name) = annotations.get(CONTAINERD_NAME) {
        return parse_tag(name).map(Some);
    }
    match annotations.get(OCI_REF_NAME) {
        Some(name) if name.contains(':') || name.contains('/') => parse_tag(name).map(Some),
        _ => Ok(None),
    }
}

fn is_index(media_type: &str) -> bool {
    media_type == "application/vnd.oci.image.index.v1+json"
        || media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// The images of an OCI layout's `index.json`: each manifest, through
/// nested indexes (of which the entries for linux on this architecture
/// are taken).
fn oci_candidates(spool: &Spool) -> Result<Vec<Candidate>, GraphError> {
    let layout: serde_json::Value = spool.json("oci-layout")?;
    if layout.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(invalid("oci-layout does not name imageLayoutVersion 1.0.0"));
    }
    let index: ImageIndex = spool.json("index.json")?;
    let mut out = Vec::new();
    for descriptor in index.manifests() {
        let tag = oci_tag(descriptor)?;
        collect_manifests(spool, descriptor, tag, 0, &mut out)?;
    }
    Ok(out)
}

fn collect_manifests(
    spool: &Spool,
    descriptor: &Descriptor,
    tag: Option<Reference>,
    depth: usize,
    out: &mut Vec<Candidate>,
) -> Result<(), GraphError> {
    let media_type = descriptor.media_type().to_string();
    let member = spool.blob(descriptor.digest().as_ref())?;
    if is_index(&media_type) {
        if depth >= MAX_INDEX_DEPTH {
            return Err(invalid("OCI indexes nest too deeply"));
        }
        let index: ImageIndex = spool.json(&member)?;
        let host = crate::changes::Platform::host();
        let chosen: Vec<&Descriptor> = index
            .manifests()
            .iter()
            .filter(|d| {
                d.platform().as_ref().is_none_or(|p| {
                    p.os().to_string() == host.os.to_string()
                        && p.architecture().to_string() == host.architecture.to_string()
                })
            })
            .collect();
        if chosen.is_empty() {
            return Err(invalid(format!(
                "index {} has no manifest for {}/{}",
                descriptor.digest(),
                host.os,
                host.architecture
            )));
        }
        // One image per tag: the first match, as a pull chooses.
        return collect_manifests(spool, chosen[0], tag, depth + 1, out);
    }
    let manifest: ImageManifest = spool.json(&member)?;
    out.push(Candidate {
        config_member: spool.blob(manifest.config().digest().as_ref())?,
        layer_members: manifest
            .layers()
            .iter()
            .map(|l| spool.blob(l.digest().as_ref()))
            .collect::<Result<_, _>>()?,
        tags: tag.into_iter().collect(),
    });
    Ok(())
}

impl Graph {
    /// Loads the images of an image archive (`POST /images/load`):
    /// docker-archive (as `docker save` writes it, from any version since
    /// 1.10) or an OCI image layout, plain or compressed, with layers plain,
    /// gzip or zstd. Everything is verified before anything is committed;
    /// a refused archive changes nothing.
    pub fn load(&self, source: impl Read) -> Result<LoadReport, GraphError> {
        let spool = Spool::read(self, source)?;
        let candidates = if spool.contains("manifest.json") {
            docker_candidates(&spool)?
        } else if spool.contains("index.json") {
            oci_candidates(&spool)?
        } else if spool.contains("repositories") {
            return Err(invalid(
                "legacy (pre-1.10) archives without manifest.json are not supported",
            ));
        } else {
            return Err(invalid(
                "no manifest.json or index.json: not a docker-archive or an OCI image layout",
            ));
        };
        if candidates.is_empty() {
            return Err(invalid("the archive names no image"));
        }
        // Check everything and stage the layers before committing any image.
        let mut staged: BTreeMap<String, StagedLayer> = BTreeMap::new();
        let mut by_member: HashMap<String, String> = HashMap::new();
        let mut checked = Vec::new();
        let mut warnings = Vec::new();
        for candidate in candidates {
            checked.push(self.check_candidate(
                &spool,
                candidate,
                &mut staged,
                &mut by_member,
                &mut warnings,
            )?);
        }
        let mut report = LoadReport {
            images: Vec::new(),
            warnings,
        };
        for image in checked {
            let chain: Vec<String> = image
                .config
                .rootfs()
                .diff_ids()
                .iter()
                .filter_map(|d| d.strip_prefix("sha256:"))
                .map(str::to_owned)
                .collect();
            let mine: Vec<StagedLayer> = chain.iter().filter_map(|h| staged.remove(h)).collect();
            let (id, tags, _) =
                self.commit_image(&image.config_bytes, &image.config, image.tags, mine)?;
            tracing::info!(image = %id, tags = ?tags, "loaded image");
            report.images.push(LoadedImage { id, tags });
        }
        Ok(report)
    }

    /// Verifies one image of the archive: its config (and its digest when
    /// the member is named by it), the layer count, and each layer's diff
    /// id, staging the layers the store does not hold.
    fn check_candidate(
        &self,
        spool: &Spool,
        candidate: Candidate,
        staged: &mut BTreeMap<String, StagedLayer>,
        by_member: &mut HashMap<String, String>,
        warnings: &mut Vec<String>,
    ) -> Result<Checked, GraphError> {
        spool.check_named_digest(&candidate.config_member)?;
        let config_bytes = spool.read_small(&candidate.config_member)?;
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes).map_err(|e| {
            invalid(format!(
                "image config {} is not valid: {e}",
                candidate.config_member
            ))
        })?;
        if config.os() != &oci_spec::image::Os::Linux {
            return Err(invalid(format!(
                "image operating system {:?} is not supported",
                config.os().to_string()
            )));
        }
        let diff_ids = config.rootfs().diff_ids();
        // moby `tarexport.Load`: "invalid manifest, layers length mismatch".
        if diff_ids.len() != candidate.layer_members.len() {
            return Err(invalid(format!(
                "invalid manifest, layers length mismatch: expected {}, got {}",
                diff_ids.len(),
                candidate.layer_members.len()
            )));
        }
        for (diff_id, member) in diff_ids.iter().zip(&candidate.layer_members) {
            let expected = sha256_digest_hex(diff_id)?;
            let member_key = clean_name(member)?;
            let actual = match by_member.get(&member_key) {
                Some(hex) => hex.clone(),
                None => {
                    spool.check_named_digest(member)?;
                    let (path, _, _) = spool.file(member)?;
                    let open = || File::open(&path).map_err(GraphError::io("open", &path));
                    let stored = self.store.get(LAYERS, expected)?.is_some();
                    let hex = if stored || staged.contains_key(expected) {
                        // Stored already: only its diff id is checked.
                        let mut hashing = HashingReader::new(decompressed(open()?)?);
                        io::copy(&mut hashing, &mut io::sink())
                            .map_err(|e| invalid(format!("layer {member} cannot be read: {e}")))?;
                        hashing
                            .finish()
                            .map_err(|e| invalid(format!("layer {member} cannot be read: {e}")))?
                            .0
                    } else {
                        let layer = self.stage_layer(open()?).map_err(|e| match e {
                            GraphError::InvalidArchive { reason, source } => invalid(format!(
                                "layer {member}: {reason}{}",
                                source.map(|s| format!(": {s}")).unwrap_or_default()
                            )),
                            other => other,
                        })?;
                        let hex = layer.diff_hex.clone();
                        warnings.extend(layer.warnings.iter().cloned());
                        if hex == expected {
                            staged.insert(hex.clone(), layer);
                        }
                        hex
                    };
                    by_member.insert(member_key, hex.clone());
                    hex
                }
            };
            if actual != expected {
                return Err(invalid(format!(
                    "layer {member} has diff id sha256:{actual}, the config says {diff_id}"
                )));
            }
        }
        Ok(Checked {
            config_bytes,
            config,
            tags: candidate.tags,
        })
    }
}
