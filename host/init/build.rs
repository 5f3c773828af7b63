//! Builds the reaper (`reaper/main.rs`) as a static executable in
//! `OUT_DIR`, which the library embeds.
//!
//! Why a build script: the binary is bind-mounted into containers whose
//! images may have no C library (busybox) or another one, so it must be
//! static; on the gnu targets that is `-C target-feature=+crt-static`,
//! which cargo can only give a whole build (where it would also apply to
//! the workspace's proc-macros, which cannot be static). The reaper uses
//! std alone, so one `rustc` call builds it.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=reaper");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| panic!("cargo sets OUT_DIR")));
    let target = env::var("TARGET").unwrap_or_else(|_| panic!("cargo sets TARGET"));
    // musl is static by default; gnu with crt-static: both give a binary
    // that needs nothing from the image.
    if !target.contains("-linux-") {
        panic!("berth-init builds for Linux targets only, not {target}");
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let binary = out.join("berth-init");
    let status = Command::new(&rustc)
        .args([
            "--edition=2024",
            "--crate-name=berth_init",
            "--crate-type=bin",
        ])
        .args(["--target", &target])
        .args(["-C", "target-feature=+crt-static"])
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
        ])
        .arg("-o")
        .arg(&binary)
        .arg("reaper/main.rs")
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", rustc.to_string_lossy()));
    if !status.success() {
        panic!("building the static berth-init failed: rustc {status}");
    }
}
