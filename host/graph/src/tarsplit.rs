//! A layer's tar, kept as the layer came so that it can be written back
//! byte for byte: what moby keeps with tar-split
//! (`layer/layer_store.go`, `tar-split.json.gz` beside each layer).
//!
//! The graph stores a layer as a directory. The tar it came in is not
//! kept, and the tar written back from the directory ([`crate::layer_tar`])
//! is berth's own: header fields, entry order, PAX records and padding
//! differ from those of the tool that wrote the original, so its digest
//! differs from the diff id the image config names. A saved or pushed
//! image then has to name new diff ids and gets a new id.
//!
//! So while a layer is extracted, everything of its tar but the content of
//! its regular files is recorded (headers, PAX and long-name records,
//! padding, the end-of-archive blocks and what follows them), with, for
//! each file, its path in the layer and its length. Writing the layer back
//! replays the record and reads each file's content from the layer
//! directory; the digest of the result is checked against the diff id.
//!
//! The record (`tar-split.zst` beside the layer's `diff/`) is a zstd
//! stream of `SPLIT_MAGIC` and then segments:
//! - `b'R'`, a little-endian `u64` length, that many bytes: tar bytes as
//!   they came;
//! - `b'F'`, a `u64` content length, a `u32` path length, the path
//!   (relative, of normal components): a regular file's content.
//!
//! A tar whose files cannot all be read back (a path written twice, a file
//! removed by a later whiteout of the same tar, a megabyte of bytes after
//! the end of the archive) gets no record; its layer is written the
//! deterministic way, as before.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use cap_std::fs::Dir;

/// The file beside a layer's `diff/`.
pub(crate) const SPLIT_FILE: &str = "tar-split.zst";
const SPLIT_MAGIC: &[u8] = b"berth-tar-split 1\n";
/// Raw bytes are written out as a segment when this many are pending (or
/// a file's content begins): a layer's headers never sit in memory whole.
const RAW_FLUSH: usize = 64 * 1024;
/// Bytes after the tar's end kept at most: more and the layer is written
/// back the deterministic way (an image cannot make the record as large as
/// itself for nothing).
const MAX_TRAILER: u64 = 1 << 20;
/// Longest path a record may hold (`PATH_MAX`).
const MAX_PATH: usize = 4096;

/// The recording of one tar as it is read; shared by the reader under the
/// tar parser ([`SplitReader`]) and the extractor, which says where file
/// content starts and ends.
#[derive(Clone)]
pub(crate) struct SplitHandle(Rc<RefCell<Recording>>);

struct Recording {
    out: Option<zstd::Encoder<'static, File>>,
    pending: Vec<u8>,
    /// The file whose content is being read: its bytes are not recorded.
    content: Option<(PathBuf, u64)>,
    /// Every entry path seen, as a hash: to find one written twice while a
    /// layer of any size holds a few bytes an entry, never its paths. A
    /// collision (keys random per tar) only costs the record, as a path
    /// written twice does; a path seen twice is never missed.
    entries: HashSet<u64>,
    /// Every directory above an entry, as a hash: a whiteout of a
    /// directory removes its entries even when its own entry never came.
    ancestors: HashSet<u64>,
    hasher: RandomState,
    /// Bytes read after the extractor's last entry.
    trailer: u64,
    at_end: bool,
    /// Why the tar cannot be written back from the record, if it cannot.
    spoiled: Option<&'static str>,
    error: Option<io::Error>,
}

impl SplitHandle {
    /// Records into `path` (created).
    pub(crate) fn create(path: &Path) -> io::Result<SplitHandle> {
        let mut out = zstd::Encoder::new(File::create(path)?, 3)?;
        out.write_all(SPLIT_MAGIC)?;
        Ok(SplitHandle(Rc::new(RefCell::new(Recording {
            out: Some(out),
            pending: Vec::new(),
            content: None,
            entries: HashSet::new(),
            ancestors: HashSet::new(),
            hasher: RandomState::new(),
            trailer: 0,
            at_end: false,
            spoiled: None,
            error: None,
        }))))
    }

    /// An entry at `rel` in the layer. A path seen before spoils the
    /// record: the directory keeps only the last of the two.
    pub(crate) fn entry(&self, rel: &Path) {
        let mut r = self.0.borrow_mut();
        let hash = r.hasher.hash_one(rel);
        if !r.entries.insert(hash) {
            r.spoil("a path is written twice");
        }
        let mut above = rel.parent();
        while let Some(dir) = above.filter(|d| !d.as_os_str().is_empty()) {
            let hash = r.hasher.hash_one(dir);
            // Seen before, so were the directories above it.
            if !r.ancestors.insert(hash) {
                break;
            }
            above = dir.parent();
        }
    }

    /// A whiteout of `rel` in the same tar: what it removes cannot be read
    /// back.
    pub(crate) fn whiteout(&self, rel: &Path) {
        let mut r = self.0.borrow_mut();
        let hash = r.hasher.hash_one(rel);
        if r.entries.contains(&hash) || r.ancestors.contains(&hash) {
            r.spoil("a whiteout removes an entry of the same tar");
        }
    }

    /// The content of the regular file `rel` is read next.
    pub(crate) fn content_begins(&self, rel: &Path) {
        let mut r = self.0.borrow_mut();
        r.flush_pending();
        r.content = Some((rel.to_path_buf(), 0));
    }

    /// The content of the file begun last ended after `len` bytes.
    pub(crate) fn content_ends(&self, len: u64) {
        let mut r = self.0.borrow_mut();
        match r.content.take() {
            Some((rel, read)) if read == len => r.segment_file(&rel, len),
            _ => r.spoil("a file's content was not read whole"),
        }
    }

    /// Every entry is extracted: what is read from now on is the tar's
    /// end.
    pub(crate) fn entries_done(&self) {
        self.0.borrow_mut().at_end = true;
    }

    /// Ends the record. `Ok(false)` when the tar cannot be written back
    /// from it (the caller removes the file).
    pub(crate) fn finish(self) -> io::Result<bool> {
        let mut r = self.0.borrow_mut();
        r.flush_pending();
        if let Some(e) = r.error.take() {
            return Err(e);
        }
        let out = r.out.take();
        if r.spoiled.is_some() {
            return Ok(false);
        }
        match out {
            // Made durable with the layer's files, before the layer is
            // published.
            Some(out) => {
                out.finish()?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn read(&self, bytes: &[u8]) {
        let mut r = self.0.borrow_mut();
        if let Some((_, read)) = &mut r.content {
            *read += bytes.len() as u64;
            return;
        }
        if r.at_end {
            r.trailer += bytes.len() as u64;
            if r.trailer > MAX_TRAILER {
                r.spoil("more than a megabyte follows the end of the archive");
                return;
            }
        }
        if r.spoiled.is_none() {
            r.pending.extend_from_slice(bytes);
            if r.pending.len() >= RAW_FLUSH {
                r.flush_pending();
            }
        }
    }
}

impl Recording {
    fn spoil(&mut self, why: &'static str) {
        if self.spoiled.is_none() {
            tracing::debug!(
                reason = why,
                "a layer's tar will be written back the deterministic way"
            );
            self.spoiled = Some(why);
            self.pending = Vec::new();
        }
    }

    fn write(&mut self, parts: &[&[u8]]) {
        if self.spoiled.is_some() || self.error.is_some() {
            return;
        }
        let Some(out) = &mut self.out else { return };
        for part in parts {
            if let Err(e) = out.write_all(part) {
                self.error = Some(e);
                return;
            }
        }
    }

    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        self.write(&[b"R", &(pending.len() as u64).to_le_bytes(), &pending]);
    }

    fn segment_file(&mut self, rel: &Path, len: u64) {
        let path = rel.as_os_str().as_bytes();
        let Ok(path_len) = u32::try_from(path.len()) else {
            self.spoil("a path is too long");
            return;
        };
        self.write(&[b"F", &len.to_le_bytes(), &path_len.to_le_bytes(), path]);
    }
}

/// The reader under the tar parser: passes everything on and records what
/// is not file content.
pub(crate) struct SplitReader<R> {
    inner: R,
    split: Option<SplitHandle>,
}

impl<R: Read> SplitReader<R> {
    /// Records `inner`'s bytes into `split` (nothing when `None`).
    pub(crate) fn new(inner: R, split: Option<SplitHandle>) -> Self {
        SplitReader { inner, split }
    }

    /// Reads what is left to the end, recorded as the tar's end, and gives
    /// back the inner reader.
    pub(crate) fn finish(mut self) -> io::Result<R> {
        if let Some(split) = &self.split {
            split.entries_done();
            let mut buf = [0u8; 8192];
            loop {
                let n = self.read(&mut buf)?;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(self.inner)
    }
}

impl<R: Read> Read for SplitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(split) = &self.split {
            split.read(&buf[..n]);
        }
        Ok(n)
    }
}

/// Why a record could not be replayed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplayError {
    /// The record is not one this code wrote.
    #[error("the layer's tar record is damaged: {0}")]
    Damaged(&'static str),
    /// A file of the layer is not as recorded.
    #[error("the layer's file {path} is not as it came: {reason}")]
    Changed {
        /// The path in the layer.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the tar recorded in `record` to `out`, with each file's content
/// read from `diff` (never outside it).
pub(crate) fn replay(record: &Path, diff: &Path, out: &mut dyn Write) -> Result<(), ReplayError> {
    let root = Dir::open_ambient_dir(diff, cap_std::ambient_authority())?;
    let mut input = BufReader::new(zstd::Decoder::new(File::open(record)?)?);
    let mut magic = vec![0u8; SPLIT_MAGIC.len()];
    input.read_exact(&mut magic)?;
    if magic != SPLIT_MAGIC {
        return Err(ReplayError::Damaged("unknown format"));
    }
    let mut kind = [0u8; 1];
    loop {
        match input.read(&mut kind)? {
            0 => return Ok(()),
            _ => match kind[0] {
                b'R' => {
                    let len = read_u64(&mut input)?;
                    let copied = io::copy(&mut (&mut input).take(len), out)?;
                    if copied != len {
                        return Err(ReplayError::Damaged("a segment is cut short"));
                    }
                }
                b'F' => {
                    let len = read_u64(&mut input)?;
                    let mut path_len = [0u8; 4];
                    input.read_exact(&mut path_len)?;
                    let path_len = u32::from_le_bytes(path_len) as usize;
                    if path_len == 0 || path_len > MAX_PATH {
                        return Err(ReplayError::Damaged("a path's length is out of range"));
                    }
                    let mut path = vec![0u8; path_len];
                    input.read_exact(&mut path)?;
                    let path = PathBuf::from(std::ffi::OsString::from_vec(path));
                    copy_content(&root, &path, len, out)?;
                }
                _ => return Err(ReplayError::Damaged("an unknown segment")),
            },
        }
    }
}

fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Copies the `len` bytes of the regular file `rel` of `root` to `out`.
fn copy_content(root: &Dir, rel: &Path, len: u64, out: &mut dyn Write) -> Result<(), ReplayError> {
    let changed = |reason: String| ReplayError::Changed {
        path: rel.to_path_buf(),
        reason,
    };
    // cap-std keeps the open inside the layer, whatever the path holds.
    let meta = root
        .symlink_metadata(rel)
        .map_err(|e| changed(e.to_string()))?;
    if !meta.is_file() {
        return Err(changed("not a regular file".into()));
    }
    if meta.len() != len {
        return Err(changed(format!("{} bytes, not {len}", meta.len())));
    }
    let file = root.open(rel).map_err(|e| changed(e.to_string()))?;
    let copied = io::copy(&mut file.take(len), out)?;
    if copied != len {
        return Err(changed(format!("{copied} bytes read, not {len}")));
    }
    Ok(())
}
