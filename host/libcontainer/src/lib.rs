//! berth's container core: namespaces, rootfs, cgroups, capabilities and
//! seccomp for one OCI runtime bundle.

pub mod seccomp;
