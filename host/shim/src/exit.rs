//! The exit record: how a container's init ended, written durably by the
//! shim before it tells anyone, so that `wait` and `inspect` keep working
//! after berthd (or the shim) is gone.

use std::io;
use std::path::{Path, PathBuf};

pub use berth_model::exec::ExitRecord;

use berth_fsutil::{AtomicWriteError, write_atomic};

/// A failure to read or write an exit record.
#[derive(Debug, thiserror::Error)]
pub enum ExitRecordError {
    /// The record could not be read.
    #[error("failed to read exit record {path}: {source}")]
    Read {
        /// The record's path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The record is not valid JSON of the expected shape.
    #[error("exit record {path} is malformed: {source}")]
    Malformed {
        /// The record's path.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The record could not be written.
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
}

/// The exit record's file: the shim writes it, the exec driver reads it.
/// (The record is `berth-model`'s, which knows no files.)
pub trait ExitRecordFile: Sized {
    /// Writes the record to `path` durably (temp file, fsync, rename, fsync
    /// of the directory).
    fn write(&self, path: &Path) -> Result<(), ExitRecordError>;

    /// Reads the record at `path`; `Ok(None)` when there is none.
    fn read(path: &Path) -> Result<Option<Self>, ExitRecordError>;
}

impl ExitRecordFile for ExitRecord {
    fn write(&self, path: &Path) -> Result<(), ExitRecordError> {
        let mut json = serde_json::to_vec(self).map_err(|source| ExitRecordError::Malformed {
            path: path.to_owned(),
            source,
        })?;
        json.push(b'\n');
        write_atomic(path, &json, 0o600)?;
        Ok(())
    }

    fn read(path: &Path) -> Result<Option<ExitRecord>, ExitRecordError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ExitRecordError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| ExitRecordError::Malformed {
                path: path.to_owned(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn signals_map_to_128_plus_n() {
        let t = Timestamp::from_unix(10, 0);
        let killed = ExitRecord::signaled(9, None, t);
        assert_eq!((killed.exit_code, killed.signal), (137, Some(9)));
        let exited = ExitRecord::exited(3, None, t);
        assert_eq!((exited.exit_code, exited.signal), (3, None));
    }

    #[test]
    fn writes_and_reads_back_durably() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("exit.json");
        assert_eq!(ExitRecord::read(&path).expect("absent is fine"), None);
        let record = ExitRecord {
            oom_killed: true,
            ..ExitRecord::signaled(
                9,
                Some(Timestamp::from_unix(1_714_564_800, 5)),
                Timestamp::from_unix(1_714_564_802, 0),
            )
        };
        record.write(&path).expect("write");
        assert_eq!(ExitRecord::read(&path).expect("read"), Some(record));
    }

    #[test]
    fn parses_the_documented_json_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("exit.json");
        std::fs::write(
            &path,
            r#"{"exit_code":127,"oom_killed":false,"finished_at":"2024-05-01T12:00:00Z","error":"exec: \"x\": executable file not found in $PATH"}"#,
        )
        .expect("fixture");
        let record = ExitRecord::read(&path).expect("read").expect("present");
        assert_eq!(record.exit_code, 127);
        assert_eq!(record.started_at, None);
        assert!(record.error.expect("error").contains("not found"));
    }

    #[test]
    fn a_malformed_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("exit.json");
        std::fs::write(&path, b"{\"exit_code\":").expect("fixture");
        let err = ExitRecord::read(&path).expect_err("truncated");
        assert!(err.to_string().contains("exit.json"), "{err}");
    }
}
