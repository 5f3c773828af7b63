//! Integration tests that need root: real namespaces, mounts, cgroups and
//! containers. Each test isolates itself (own temp dirs, own state roots, own
//! daemons) and cleans up what it creates.

// unsafe_code is denied workspace-wide; privileged tests call libc directly
// (getrlimit, lgetxattr, fd passing, seccomp checks) to observe the kernel.
#![allow(unsafe_code)]
mod authz;
mod cgroups;
mod compose;
mod daemon;
mod daemon_attach;
mod daemon_bridge;
mod daemon_connect;
mod daemon_containers;
mod daemon_cp;
mod daemon_dns;
mod daemon_events;
mod daemon_exec;
mod daemon_health;
mod daemon_images;
mod daemon_ip;
mod daemon_jobs;
mod daemon_lifecycle;
mod daemon_listeners;
mod daemon_network;
mod daemon_network_modes;
mod daemon_networks;
mod daemon_options;
mod daemon_ports;
mod daemon_ports_direct;
mod daemon_ports_ipv6;
mod daemon_ports_restart;
mod daemon_ports_traffic;
mod daemon_prune;
mod daemon_resources;
mod daemon_stats;
mod daemon_system_prune;
mod daemon_teardown;
mod daemon_tty;
mod daemon_verbs;
mod daemon_volumes;
mod detach_keys;
mod docker_py;
mod exec;
mod graph;
mod hostile_images;
mod network;
mod network_dns;
mod network_policy;
mod plugins;
mod registry_auth;
mod registry_faults;
mod registry_kept_blob;
mod registry_layout;
mod registry_platform;
mod registry_pull;
mod registry_push;
mod registry_tls;
mod registry_token;
mod runc_bad_bundles;
mod runc_dockerd;
mod runc_lifecycle;
mod runc_parity;
mod runc_support;
mod seccomp;
mod security_options;
mod volume_options;
mod xattrs;
