//! Property tests of layer extraction through the graph's import API.
//!
//! Tar streams are written byte by byte from a model (so that they may say
//! anything: `..`, absolute paths, long names through GNU and PAX headers,
//! duplicates, entries under symlinks, devices, fifos, bogus sizes, cut
//! streams, random bytes), imported into a graph whose data root sits next
//! to a sentinel tree, and checked:
//! - nothing outside the data root changes, whatever the stream;
//! - the import succeeds or fails with an error (no panic; inputs are
//!   bounded, so no hang);
//! - a failed import leaves no image, tag, layer or file in the store;
//! - for well-formed streams the layer is exactly the model: every path,
//!   its type, content, mode, mtime, symlink target and hard-link identity.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{Fixture, fuzz_config};

const MTIME: u64 = 1_600_000_000;

/// One tar entry as written to the stream.
#[derive(Debug, Clone)]
struct Entry {
    kind: tar::EntryType,
    path: Vec<u8>,
    link: Vec<u8>,
    data: Vec<u8>,
    mode: u32,
    mtime: u64,
    /// The size the header claims, when it lies.
    size: Option<u64>,
    /// PAX records written before the entry.
    pax: Vec<(String, Vec<u8>)>,
}

impl Entry {
    fn new(kind: tar::EntryType, path: &str, mode: u32) -> Entry {
        Entry {
            kind,
            path: path.as_bytes().to_vec(),
            link: Vec::new(),
            data: Vec::new(),
            mode,
            mtime: MTIME,
            size: None,
            pax: Vec::new(),
        }
    }
}

/// Appends `data` padded to a 512-byte block.
fn block(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn header(
    kind: tar::EntryType,
    name: &[u8],
    link: &[u8],
    size: u64,
    mode: u32,
    mtime: u64,
) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    let old = h.as_old_mut();
    let n = name.len().min(100);
    old.name = [0; 100];
    old.name[..n].copy_from_slice(&name[..n]);
    let n = link.len().min(100);
    old.linkname = [0; 100];
    old.linkname[..n].copy_from_slice(&link[..n]);
    h.set_cksum();
    h
}

/// Writes entries as tar, with GNU long-name/long-link and PAX headers
/// where the entry needs them, and the two zero blocks at the end.
fn write_tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        if !e.pax.is_empty() {
            let mut records = Vec::new();
            for (key, value) in &e.pax {
                let body_len = key.len() + value.len() + 3;
                // The length field counts its own digits.
                let mut len = body_len + 1;
                while len.to_string().len() + body_len != len {
                    len += 1;
                }
                records.extend_from_slice(format!("{len} {key}=").as_bytes());
                records.extend_from_slice(value);
                records.push(b'\n');
            }
            let h = header(
                tar::EntryType::XHeader,
                b"pax",
                b"",
                records.len() as u64,
                0o644,
                0,
            );
            out.extend_from_slice(h.as_bytes());
            block(&mut out, &records);
        }
        for (kind, long) in [
            (tar::EntryType::GNULongName, &e.path),
            (tar::EntryType::GNULongLink, &e.link),
        ] {
            if long.len() > 100 {
                let mut data = long.clone();
                data.push(0);
                let h = header(kind, b"././@LongLink", b"", data.len() as u64, 0o644, 0);
                out.extend_from_slice(h.as_bytes());
                block(&mut out, &data);
            }
        }
        let size = e.size.unwrap_or(e.data.len() as u64);
        let h = header(e.kind, &e.path, &e.link, size, e.mode, e.mtime);
        out.extend_from_slice(h.as_bytes());
        block(&mut out, &e.data);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

/// What the layer should hold at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir {
        mode: u32,
    },
    File {
        content: Vec<u8>,
        mode: u32,
    },
    Symlink {
        target: Vec<u8>,
    },
    Fifo {
        mode: u32,
    },
    /// An empty marker file (vfs keeps `.wh.` whiteouts as they are).
    Marker,
}

/// A directory tree to write as a well-formed layer.
#[derive(Debug, Clone)]
enum Tree {
    Dir(u32, BTreeMap<String, Tree>),
    File(Vec<u8>, u32),
    Symlink(String),
    Fifo(u32),
    /// A hard link to the n-th regular file written before it (if any).
    Hardlink(usize),
    /// `.wh.<name>` or `.wh..wh..opq`.
    Whiteout,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z][a-z0-9._-]{0,7}",
        1 => "[a-z]{200,255}",
        1 => "[a-zé ]{1,6}",
    ]
}

fn mode() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0o755), Just(0o644), Just(0o4755), 0u32..0o10000]
}

fn symlink_target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/etc/passwd".to_owned()),
        Just("../../..".to_owned()),
        Just("/".to_owned()),
        "[a-z./]{1,20}",
        "/[a-z]{1,8}(/[a-z]{1,8}){0,3}",
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 0..600), mode()).prop_map(|(c, m)| Tree::File(c, m)),
        2 => symlink_target().prop_map(Tree::Symlink),
        1 => mode().prop_map(Tree::Fifo),
        1 => any::<usize>().prop_map(Tree::Hardlink),
        1 => Just(Tree::Whiteout),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        (mode(), prop::collection::btree_map(name(), inner, 0..5))
            .prop_map(|(m, children)| Tree::Dir(m, children))
    })
}

/// A well-formed layer: its entries, the model of what the layer must then
/// hold, and the hard links (link, target) among them.
type Flat = (Vec<Entry>, BTreeMap<PathBuf, Node>, Vec<(PathBuf, PathBuf)>);

/// Flattens a tree into entries (each directory before its children) and
/// the model of what the layer must then hold.
fn flatten(root: &BTreeMap<String, Tree>) -> Flat {
    let mut entries = Vec::new();
    let mut model = BTreeMap::new();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut links = Vec::new();
    let mut stack: Vec<(PathBuf, &BTreeMap<String, Tree>)> = vec![(PathBuf::new(), root)];
    while let Some((dir, children)) = stack.pop() {
        for (name, node) in children {
            let path = dir.join(name);
            let shown = path.to_str().expect("utf-8 names").to_owned();
            match node {
                Tree::Dir(mode, sub) => {
                    entries.push(Entry::new(
                        tar::EntryType::Directory,
                        &format!("{shown}/"),
                        *mode,
                    ));
                    model.insert(path.clone(), Node::Dir { mode: *mode });
                    stack.push((path, sub));
                }
                Tree::File(content, mode) => {
                    let mut e = Entry::new(tar::EntryType::Regular, &shown, *mode);
                    e.data = content.clone();
                    entries.push(e);
                    model.insert(
                        path.clone(),
                        Node::File {
                            content: content.clone(),
                            mode: *mode,
                        },
                    );
                    files.push(path);
                }
                Tree::Symlink(target) => {
                    let mut e = Entry::new(tar::EntryType::Symlink, &shown, 0o777);
                    e.link = target.as_bytes().to_vec();
                    entries.push(e);
                    model.insert(
                        path,
                        Node::Symlink {
                            target: target.as_bytes().to_vec(),
                        },
                    );
                }
                Tree::Fifo(mode) => {
                    entries.push(Entry::new(tar::EntryType::Fifo, &shown, *mode));
                    model.insert(path, Node::Fifo { mode: *mode });
                }
                Tree::Hardlink(n) if !files.is_empty() => {
                    let target = files[n % files.len()].clone();
                    let mut e = Entry::new(tar::EntryType::Link, &shown, 0o644);
                    e.link = target.to_str().expect("utf-8").as_bytes().to_vec();
                    entries.push(e);
                    model.insert(path.clone(), model[&target].clone());
                    links.push((path, target));
                }
                Tree::Hardlink(_) => {}
                Tree::Whiteout => {
                    let marker = if name.len() % 2 == 0 {
                        ".wh..wh..opq".to_owned()
                    } else {
                        format!(".wh.{}", &name[..name.len().min(200)])
                    };
                    let path = dir.join(&marker);
                    if model.contains_key(&path) {
                        continue;
                    }
                    let shown = path.to_str().expect("utf-8").to_owned();
                    entries.push(Entry::new(tar::EntryType::Regular, &shown, 0o644));
                    model.insert(path, Node::Marker);
                }
            }
        }
    }
    (entries, model, links)
}

/// What the layer directory holds, as nodes.
fn read_tree(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read layer dir") {
            let path = entry.expect("dir entry").path();
            let rel = path.strip_prefix(root).expect("inside").to_path_buf();
            let meta = fs::symlink_metadata(&path).expect("stat");
            let mode = meta.mode() & 0o7777;
            let t = meta.file_type();
            let node = if t.is_dir() {
                stack.push(path.clone());
                Node::Dir { mode }
            } else if t.is_symlink() {
                use std::os::unix::ffi::OsStrExt;
                let target = fs::read_link(&path).expect("readlink");
                Node::Symlink {
                    target: target.as_os_str().as_bytes().to_vec(),
                }
            } else if t.is_fifo() {
                Node::Fifo { mode }
            } else if t.is_file()
                && rel
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".wh."))
            {
                assert_eq!(meta.len(), 0, "marker {rel:?} is empty");
                Node::Marker
            } else if t.is_file() {
                Node::File {
                    content: fs::read(&path).expect("read"),
                    mode,
                }
            } else {
                panic!("{rel:?} is neither dir, file, symlink nor fifo: {t:?}");
            };
            out.insert(rel, node);
        }
    }
    out
}

/// Everything under `dir` except `skip`, with each file's content: what
/// must not change.
fn outside(dir: &Path, skip: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read") {
            let path = entry.expect("entry").path();
            if path == skip {
                continue;
            }
            let meta = fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                stack.push(path.clone());
                out.push((path, Vec::new()));
            } else {
                let content = if meta.is_file() {
                    fs::read(&path).expect("read")
                } else {
                    Vec::new()
                };
                out.push((path, content));
            }
        }
    }
    out.sort();
    out
}

/// Extracts the stream `tar` writes for the sentinel's absolute path
/// straight into `layer/` of a temporary directory that also holds
/// `sentinel/secret`, and checks that nothing but `layer/` changed.
fn extract_checked(
    tar: impl FnOnce(&str) -> Vec<u8>,
) -> Result<(tempfile::TempDir, PathBuf, Result<(), crate::GraphError>), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sentinel = dir.path().join("sentinel");
    fs::create_dir(&sentinel).expect("sentinel");
    fs::write(sentinel.join("secret"), "untouched").expect("secret");
    let layer = dir.path().join("layer");
    fs::create_dir(&layer).expect("layer");
    let tar = tar(&sentinel.display().to_string());
    let before = outside(dir.path(), &layer);
    let opts = crate::extract::ExtractOptions {
        format: crate::fsutil::WhiteoutFormat::Aufs,
        chown: rustix::process::geteuid().is_root(),
    };
    let result =
        crate::extract::extract(&mut tar::Archive::new(tar.as_slice()), &layer, opts, None);
    prop_assert_eq!(
        outside(dir.path(), &layer),
        before,
        "something changed outside the layer"
    );
    if let Err(e) = &result {
        prop_assert!(
            matches!(e.kind(), crate::ErrorKind::InvalidParameter),
            "refused as {:?}: {}",
            e.kind(),
            e
        );
    }
    Ok((dir, layer, result.map(drop)))
}

type Imported = (Fixture, Result<crate::ImportReport, crate::GraphError>);

/// Imports the stream `tar` writes for the sentinel's absolute path into a
/// fresh graph beside that sentinel, and checks what holds for every
/// stream; returns the fixture and the result.
fn import_checked(tar: impl FnOnce(&str) -> Vec<u8>) -> Result<Imported, TestCaseError> {
    let f = Fixture::vfs();
    let tar = tar(&f.sentinel().display().to_string());
    let before = outside(f.dir.path(), &f.data_root());
    let result = f.import(&tar, Some("fuzz"));
    f.assert_sentinel_untouched();
    prop_assert_eq!(
        outside(f.dir.path(), &f.data_root()),
        before,
        "something changed outside the data root"
    );
    match &result {
        Ok(report) => {
            prop_assert!(f.layer_diff(&report.diff_id).is_dir());
            prop_assert_eq!(f.graph.images().map(|l| l.len()).ok(), Some(1));
        }
        Err(e) => {
            // A refusal is the client's fault, with a message.
            prop_assert!(
                matches!(e.kind(), crate::ErrorKind::InvalidParameter),
                "refused as {:?}: {}",
                e.kind(),
                e
            );
            prop_assert!(!e.to_string().is_empty());
            f.assert_empty();
            prop_assert_eq!(f.graph.images().map(|l| l.len()).ok(), Some(0));
        }
    }
    Ok((f, result))
}

/// Stands for the sentinel's absolute path in generated entries, which is
/// known only once the fixture exists.
const SENTINEL: &str = "@SENTINEL@";

/// Hostile entries: paths with `..`, absolute paths (some into the
/// sentinel), symlinks out, writes through them, devices, bad links.
fn hostile_entry() -> impl Strategy<Value = Entry> {
    let sentinel = SENTINEL.to_owned();
    let path = prop_oneof![
        4 => "(\\./|/)?[a-c](/[a-c]){0,2}/?",
        1 => Just("../sentinel/secret".to_owned()),
        1 => Just("a/../../sentinel/pwned".to_owned()),
        1 => Just(format!("{sentinel}/secret")),
        1 => Just("./".to_owned()),
        1 => Just(".wh...".to_owned()),
        1 => "[a-c]/\\.wh\\.[a-c.]{0,3}",
        1 => "[a-c]{1,3}/[a-z]{250,260}",
        1 => "[a-c/.]{90,110}",
    ];
    let link = prop_oneof![
        Just(sentinel.clone()),
        Just(format!("{sentinel}/secret")),
        Just("../../sentinel".to_owned()),
        Just("/".to_owned()),
        Just("/etc".to_owned()),
        "(\\.\\./){0,3}[a-c](/[a-c]){0,2}",
        "[a-c./]{0,110}",
    ];
    let kind = proptest::sample::select(vec![
        tar::EntryType::Regular,
        tar::EntryType::Regular,
        tar::EntryType::Directory,
        tar::EntryType::Symlink,
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Fifo,
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::new(b'Z'),
    ]);
    let pax = prop_oneof![
        6 => Just(Vec::new()),
        1 => Just(vec![("path".to_owned(), b"../../sentinel/pax".to_vec())]),
        1 => Just(vec![("linkpath".to_owned(), b"/".to_vec())]),
        1 => Just(vec![("SCHILY.xattr.trusted.overlay.opaque".to_owned(), b"y".to_vec())]),
        1 => Just(vec![("SCHILY.xattr.security.selinux".to_owned(), b"x".to_vec())]),
        1 => Just(vec![("size".to_owned(), b"99999999999".to_vec())]),
        1 => Just(vec![("uid".to_owned(), b"-1".to_vec())]),
    ];
    (
        kind,
        path,
        link,
        prop::collection::vec(any::<u8>(), 0..100),
        mode(),
        prop_oneof![8 => Just(None), 1 => (0u64..2000).prop_map(Some), 1 => Just(Some(u64::MAX >> 1))],
        pax,
        prop_oneof![Just(MTIME), any::<u64>()],
    )
        .prop_map(|(kind, path, link, data, mode, size, pax, mtime)| Entry {
            kind,
            path: path.into_bytes(),
            link: link.into_bytes(),
            data,
            mode,
            mtime,
            size,
            pax,
        })
}

/// A hostile stream: entries, perhaps cut short or with a byte flipped, or
/// bytes that are no tar at all.
#[derive(Debug, Clone)]
enum Hostile {
    Entries(Vec<Entry>, Damage),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Damage {
    None,
    Cut(prop::sample::Index),
    Flip(prop::sample::Index, u8),
}

impl Hostile {
    fn write(&self, sentinel: &str) -> Vec<u8> {
        let replace = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .replace(SENTINEL, sentinel)
                .into_bytes()
        };
        match self {
            Hostile::Bytes(b) => b.clone(),
            Hostile::Entries(entries, damage) => {
                let entries: Vec<Entry> = entries
                    .iter()
                    .map(|e| Entry {
                        path: replace(&e.path),
                        link: replace(&e.link),
                        ..e.clone()
                    })
                    .collect();
                let mut t = write_tar(&entries);
                match damage {
                    Damage::None => {}
                    Damage::Cut(at) => t.truncate(at.index(t.len() + 1)),
                    Damage::Flip(at, b) => {
                        let i = at.index(t.len());
                        t[i] ^= b | 1;
                    }
                }
                t
            }
        }
    }
}

fn hostile_tar() -> impl Strategy<Value = Hostile> {
    let damage = prop_oneof![
        6 => Just(Damage::None),
        1 => any::<prop::sample::Index>().prop_map(Damage::Cut),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Damage::Flip(i, b)),
    ];
    prop_oneof![
        8 => (prop::collection::vec(hostile_entry(), 0..10), damage)
            .prop_map(|(e, d)| Hostile::Entries(e, d)),
        1 => prop::collection::vec(any::<u8>(), 0..3000).prop_map(Hostile::Bytes),
    ]
}

proptest! {
    #![proptest_config(fuzz_config(256))]

    /// A well-formed layer is extracted exactly as written.
    #[test]
    fn well_formed_layers_extract_to_the_model(
        root in prop::collection::btree_map(name(), tree(), 0..6),
        root_entry in proptest::option::of(mode()),
    ) {
        let (mut entries, mut model, links) = flatten(&root);
        if let Some(mode) = root_entry {
            entries.insert(0, Entry::new(tar::EntryType::Directory, "./", mode));
        }
        let (_dir, diff, result) = extract_checked(|_| write_tar(&entries))?;
        result.map_err(|e| TestCaseError::fail(format!("refused a well-formed layer: {e}")))?;
        let got = read_tree(&diff);
        // Markers' modes are the graph's business; compare the rest whole.
        for node in model.values_mut() {
            if let Node::File { mode, .. } | Node::Dir { mode } | Node::Fifo { mode } = node {
                *mode &= 0o7777;
            }
        }
        prop_assert_eq!(&got, &model);
        if let Some(mode) = root_entry {
            let meta = fs::metadata(&diff).expect("stat root");
            prop_assert_eq!(meta.mode() & 0o7777, mode);
        }
        for (path, node) in &model {
            if matches!(node, Node::File { .. } | Node::Dir { .. }) {
                let meta = fs::symlink_metadata(diff.join(path)).expect("stat");
                prop_assert_eq!(meta.mtime(), MTIME as i64, "mtime of {:?}", path);
            }
        }
        for (link, target) in links {
            let a = fs::symlink_metadata(diff.join(&link)).expect("stat link").ino();
            let b = fs::symlink_metadata(diff.join(&target)).expect("stat target").ino();
            prop_assert_eq!(a, b, "{:?} is not a hard link to {:?}", link, target);
        }
    }

    /// Anything at all: nothing escapes, errors are clean and leave nothing,
    /// and what is accepted holds no device and nothing that points a
    /// write outside.
    /// Anything at all, extracted: nothing escapes the layer, a refusal is
    /// an invalid-parameter error, and an accepted layer holds no device
    /// (read_tree refuses anything but directories, files, symlinks, fifos
    /// and whiteout markers).
    #[test]
    fn hostile_layers_never_escape(hostile in hostile_tar()) {
        let (_dir, layer, result) = extract_checked(|sentinel| hostile.write(sentinel))?;
        if result.is_ok() {
            read_tree(&layer);
        }
    }
}

proptest! {
    // Each case opens a store and syncs a filesystem: fewer cases.
    #![proptest_config(fuzz_config(40))]

    /// The same through the graph's import: and a refused import leaves no
    /// image, tag, layer or file behind.
    #[test]
    fn hostile_imports_leave_nothing_behind(hostile in hostile_tar()) {
        let (f, result) = import_checked(|sentinel| hostile.write(sentinel))?;
        if let Ok(report) = result {
            read_tree(&f.layer_diff(&report.diff_id));
        }
    }

    /// A well-formed layer imports, and the stored layer is the model.
    #[test]
    fn well_formed_layers_import_as_the_model(
        root in prop::collection::btree_map(name(), tree(), 0..6),
    ) {
        let (entries, model, _) = flatten(&root);
        let (f, result) = import_checked(|_| write_tar(&entries))?;
        let report = result.map_err(|e| TestCaseError::fail(format!("refused a well-formed layer: {e}")))?;
        prop_assert_eq!(read_tree(&f.layer_diff(&report.diff_id)), model);
    }
}
