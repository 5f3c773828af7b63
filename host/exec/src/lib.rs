//! berth-exec
