use super::*;
use std::ffi::OsString;
use std::fs;

fn names(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    names
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Records each sync and what the target held at that moment, then
/// performs it (or fails, when told to).
#[derive(Default)]
struct Recording {
    target: PathBuf,
    events: Vec<(&'static str, Option<Vec<u8>>)>,
    fail_file: bool,
    fail_dir: bool,
}

impl Syncer for Recording {
    fn sync_file(&mut self, file: &File) -> io::Result<()> {
        self.events.push(("file", fs::read(&self.target).ok()));
        if self.fail_file {
            return Err(io::Error::other("injected fsync failure"));
        }
        file.sync_all()
    }
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.events.push(("dir", fs::read(&self.target).ok()));
        if self.fail_dir {
            return Err(io::Error::other("injected fsync failure"));
        }
        Durable.sync_dir(dir)
    }
}

#[test]
fn writes_the_contents_with_the_mode_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("record.json");
    write_atomic(&path, b"one", 0o600).expect("first write");
    write_atomic(&path, b"two", 0o640).expect("second write");
    assert_eq!(fs::read(&path).expect("read"), b"two");
    assert_eq!(mode_of(&path), 0o640);
    assert_eq!(names(dir.path()), vec![OsString::from("record.json")]);
}

#[test]
fn the_file_is_synced_before_the_rename_and_the_directory_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    fs::write(&path, b"old").expect("seed");
    let mut rec = Recording {
        target: path.clone(),
        ..Recording::default()
    };
    write_with(&path, b"new", 0o644, &mut rec).expect("write");
    assert_eq!(
        rec.events,
        vec![
            ("file", Some(b"old".to_vec())),
            ("dir", Some(b"new".to_vec()))
        ]
    );
}

#[test]
fn the_durable_syncer_opens_and_syncs_the_directory() {
    // The public function and the recorded one share `write_with`; this
    // pins that `write_atomic` picks the syncing implementation.
    let mut durable = Durable;
    let dir = tempfile::tempdir().expect("tempdir");
    durable.sync_dir(dir.path()).expect("fsync of a directory");
    let err = durable
        .sync_dir(&dir.path().join("missing"))
        .expect_err("a missing directory cannot be synced");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_failed_rename_leaves_the_target_and_no_temporary() {
    let dir = tempfile::tempdir().expect("tempdir");
    // rename(2) of a file over a non-empty directory fails (EISDIR).
    let path = dir.path().join("busy");
    fs::create_dir(&path).expect("mkdir");
    fs::write(path.join("inside"), b"x").expect("seed");
    let err = write_atomic(&path, b"new", 0o600).expect_err("rename over a directory");
    assert_eq!(err.op, "rename the temporary file over");
    assert!(err.to_string().contains("busy"), "{err}");
    assert_eq!(names(dir.path()), vec![OsString::from("busy")]);
}

#[test]
fn a_failed_file_sync_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    fs::write(&path, b"old").expect("seed");
    let mut rec = Recording {
        target: path.clone(),
        fail_file: true,
        ..Recording::default()
    };
    let err = write_with(&path, b"new", 0o644, &mut rec).expect_err("injected");
    assert_eq!(err.op, "fsync");
    assert_eq!(fs::read(&path).expect("read"), b"old");
    assert_eq!(names(dir.path()), vec![OsString::from("state.json")]);
}

#[test]
fn a_failed_directory_sync_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let mut rec = Recording {
        target: path.clone(),
        fail_dir: true,
        ..Recording::default()
    };
    let err = write_with(&path, b"new", 0o644, &mut rec).expect_err("injected");
    assert_eq!(err.op, "fsync the directory of");
    assert_eq!(names(dir.path()), vec![OsString::from("state.json")]);
}

#[test]
fn the_non_durable_write_swaps_the_file_in_one_rename_without_syncing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    write_atomic_non_durable(&path, b"old", 0o600).expect("first write");
    let before = File::open(&path).expect("open old");
    write_atomic_non_durable(&path, b"new", 0o600).expect("second write");
    assert_eq!(fs::read(&path).expect("read"), b"new");
    // A reader of the old file keeps it whole: a new inode took its name.
    let mut old = String::new();
    io::Read::read_to_string(&mut &before, &mut old).expect("read old");
    assert_eq!(old, "old");
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(names(dir.path()), vec![OsString::from("config.json")]);
    let mut none = NonDurable;
    none.sync_dir(&dir.path().join("missing"))
        .expect("the non-durable variant does not touch the directory");
}

#[test]
fn names_the_path_when_the_directory_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing/record.json");
    let err = write_atomic(&path, b"x", 0o600).expect_err("no directory");
    assert!(err.to_string().contains("missing/record.json"), "{err}");
}

#[test]
fn a_path_without_a_file_name_is_refused() {
    let err = write_atomic(Path::new("/"), b"x", 0o600).expect_err("no file name");
    assert_eq!(err.source.kind(), io::ErrorKind::InvalidInput);
}
