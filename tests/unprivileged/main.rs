//! Integration tests that need no privilege.

mod support_selftest;
mod plugins;
mod plugins_support;
mod api_compat;
