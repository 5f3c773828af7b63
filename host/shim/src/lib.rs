//! `berth-shim`: the per-container monitor, and the types berthd's exec
//! driver shares with it.
//!
//! DESIGN.md, "Process model": berthd never forks a container. For each
//! container it starts one small, single-threaded `berth-shim`, which
//! creates the container through libcontainer, owns its stdio, writes its
//! json-file log, reaps it and records its exit durably. Because the shim
//! outlives berthd, containers, logs and exit statuses survive `kill -9` of
//! the daemon.
//!
//! This library holds what both sides need:
//! - [`args`]: the shim's command line;
//! - [`protocol`]: the startup report and the control-socket messages;
//! - [`exit`]: the durable exit record's file (the record is
//!   `berth-model`'s);
//! - [`jsonlog`]: the json-file log format (write and read);
//! - [`logfile`]: the log file and its rotation (`max-size`, `max-file`);
//! - [`time`]: RFC 3339 timestamps as Docker prints them (`berth-model`'s
//!   clock, re-exported).

#![warn(missing_docs)]

pub mod args;
pub mod exit;
pub mod jsonlog;
pub mod logfile;
pub mod protocol;
pub use berth_model::time;

pub use exit::{ExitRecord, ExitRecordFile};
pub use protocol::StreamKind;
pub use time::Timestamp;
