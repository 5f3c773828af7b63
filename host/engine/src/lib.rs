//! berth's Engine: the Job model, the handler table, the events stream, and
//! the daemon's container and image jobs.
//!
//! Docker's original architecture runs every piece of work as a named Job
//! through the Engine's handler table; so does berth:
//!
//! - [`job`]: [`Job`] (name, args, env, stdin, stdout, stderr → status or
//!   [`JobError`]) and the [`Handler`] trait;
//! - [`engine`]: the [`Engine`] and its runtime-mutable handler table;
//! - [`events`]: the `/events` hub (container, image, job and plugin events);
//!   [`event_filter`]: which of them a subscriber gets;
//! - [`driver`]: the seams to the graph driver ([`driver::ImageService`]) and
//!   the exec driver ([`driver::ExecService`]);
//! - [`daemon`]: containers (records in `berth-store`, state machine,
//!   validation into a trusted spec) and the builtin handlers
//!   ([`daemon::handlers::register_all`]).
//!
//! The HTTP edge (`berthd`) turns every request into a job and streams the
//! job's stdout back; serving the API is itself the `serveapi` job.

#![warn(missing_docs)]

pub mod daemon;
pub mod driver;
pub mod engine;
pub mod event_filter;
pub mod events;
pub mod job;

pub use engine::{Engine, Exposure, Via};
pub use events::Events;
pub use job::{
    ErrorKind, Handler, Job, JobError, JobOutput, JobResult, JobStreams, handler_fn, handler_with,
};
