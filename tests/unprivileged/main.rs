//! Integration tests that need no privilege.

mod api_compat;
mod daemon_log;
mod plugin_new;
mod plugins;
mod plugins_authz;
mod plugins_network;
mod plugins_support;
mod support_selftest;
