//! berth-plugin-sdk
