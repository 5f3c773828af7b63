//! berth-plugin-host
