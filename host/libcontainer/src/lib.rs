//! berth's container core (the Libcontainer of the Docker architecture):
//! namespaces, rootfs, cgroups, capabilities and seccomp for one OCI
//! runtime bundle, synchronous Rust on `nix`.
//!
//! ```no_run
//! use berth_libcontainer::{Container, CreateOptions, InitStdio};
//! # fn demo() -> Result<(), berth_libcontainer::Error> {
//! let mut c = Container::create(CreateOptions {
//!     id: "web".into(),
//!     bundle: "/var/lib/b/web".into(),
//!     state_root: "/run/berth-runc".into(),
//!     stdio: InitStdio::Inherit,
//!     console_socket: None,
//!     pid_file: None,
//! })?;
//! c.start()?;
//! // ... waitpid(c.pid()), then:
//! c.delete(false)?;
//! # Ok(()) }
//! ```
//!
//! The caller of [`Container::create`] and [`Container::exec`] must be
//! single-threaded (they `clone`); it becomes the parent of the new
//! process. Other operations work from any process that can read the state
//! root (`<state_root>/<id>/state.json`).
//!
//! Layout: [`bundle`] validates a bundle once; `config` turns the spec into
//! what init needs before `clone`; `init` is the child side; `rootfs`
//! builds the mount tree through the `syscall::Syscall` seam, every path
//! inside the container's root resolved by [`root::Root`] (also used by the
//! exec driver to read an image's files); `channel`
//! carries typed messages between runtime and child; [`console`] speaks
//! runc's console-socket protocol; [`seccomp`] compiles and loads filters.

// unsafe_code is denied workspace-wide; the container core is where it is
// needed: clone/exec of container init, the console and seccomp fds, capability
// and pre-exec work that has no safe wrapper. Every block has a SAFETY comment.
#![allow(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
mod capabilities;
mod channel;
mod config;
pub mod console;
mod container;
mod error;
mod hooks;
mod init;
mod mounts;
pub mod root;
mod rootfs;
pub mod seccomp;
mod state;
mod syscall;

pub use berth_cgroups::{CgroupManager, Stats};
pub use capabilities::last_cap;
pub use container::{Container, CreateOptions, InitStdio};
pub use error::{Error, InitStep, ProtocolError};
pub use state::{STATE_FILE, State, Status, write_pid_file};
