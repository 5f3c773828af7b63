//! Seccomp: loads an OCI `linux.seccomp` profile into the kernel.
