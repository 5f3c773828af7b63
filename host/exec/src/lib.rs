//! berth's exec driver: runs and supervises container processes for the
//! engine, through one `berth-shim` per container.
//!
//! berthd is a multi-threaded tokio process and never forks a container
//! itself (DESIGN.md, "Process model"). For each container the driver
//! writes an OCI bundle ([`spec`]), starts a `berth-shim` with
//! `tokio::process::Command`, and from then on talks to that shim over a
//! unix socket: start, kill, stop, wait, attach, resize, pause, resume.
//! Logs are read from the json-file the shim writes. Because the driver's
//! only state is the shims and the files, containers survive a `kill -9`
//! of berthd and a new driver finds them again ([`ExecDriver::state`]).
//!
//! ```no_run
//! # async fn demo(container: berth_model::container::ContainerModel) -> Result<(), berth_exec::ExecError> {
//! use std::time::Duration;
//! use berth_exec::{ExecConfig, ExecDriver, StartOptions};
//!
//! let driver = ExecDriver::new(ExecConfig::new(
//!     "/run/berth".into(),
//!     "/var/lib/berth/containers".into(),
//!     "/usr/libexec/berth-shim".into(),
//! ))?;
//! let id = "0123456789ab";
//! let started = driver
//!     .start(id, StartOptions {
//!         container,
//!         rootfs: "/mnt/rootfs".into(),
//!         attach: Vec::new(),
//!         network: Default::default(),
//!     })
//!     .await?;
//! println!("pid {}", started.pid);
//! let exit = driver.stop(id, libc::SIGTERM, Duration::from_secs(10)).await?;
//! println!("exit code {}", exit.exit_code);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod attach;
mod client;
mod dns_files;
mod driver;
mod embedded_dns;
mod error;
mod files;
pub mod host_cgroups;
mod logs;
pub mod spec;

pub use attach::{AttachEvent, AttachOutput, AttachStdin, Attached, OutputChunk};
pub use berth_model::Timestamp;
pub use berth_model::exec::{AttachOptions, ContainerFiles, ExitRecord, LogOptions};
pub use berth_shim::StreamKind;
pub use driver::{
    ContainerPaths, ExecConfig, ExecDriver, ExecLaunch, LOST_EXIT_CODE, ResolverUpdate, RunState,
    StartOptions, Started,
};
pub use error::{ExecError, ReadyError};
pub use logs::{LogRecord, LogStream};
