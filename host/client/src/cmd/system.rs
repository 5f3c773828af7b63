//! `version`, `info` and `inspect`: the daemon and its objects.

use berth_api::system::{InfoResponse, VersionResponse};

use crate::http::Client;

use super::Result;

pub async fn version(client: &Client) -> Result<i32> {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", berth_api::version::CURRENT);
    println!(" OS/Arch:           linux/{}", berth_api::system::go_arch());
    println!();
    let v: VersionResponse = client.get_json("/version").await?;
    println!("Server: {}", v.platform.name);
    println!(" Engine:");
    println!("  Version:          {}", v.version);
    println!(
        "  API version:      {} (minimum version {})",
        v.api_version, v.min_api_version
    );
    println!("  OS/Arch:          {}/{}", v.os, v.arch);
    println!("  Kernel Version:   {}", v.kernel_version);
    println!("  Experimental:     {}", v.experimental);
    Ok(0)
}

pub async fn info(client: &Client) -> Result<i32> {
    let i: InfoResponse = client.get_json("/info").await?;
    println!("Server:");
    println!(" Containers: {}", i.containers);
    println!("  Running: {}", i.containers_running);
    println!("  Paused: {}", i.containers_paused);
    println!("  Stopped: {}", i.containers_stopped);
    println!(" Images: {}", i.images);
    println!(" Server Version: {}", i.server_version);
    println!(" Storage Driver: {}", i.driver);
    println!(" Logging Driver: {}", i.logging_driver);
    println!(" Cgroup Driver: {}", i.cgroup_driver);
    println!(" Cgroup Version: {}", i.cgroup_version);
    println!(" Default Runtime: {}", i.default_runtime);
    println!(" Security Options: {}", i.security_options.join(", "));
    println!(" Kernel Version: {}", i.kernel_version);
    println!(" Operating System: {}", i.operating_system);
    println!(" OSType: {}", i.os_type);
    println!(" Architecture: {}", i.architecture);
    println!(" CPUs: {}", i.ncpu);
    println!(
        " Total Memory: {:.2}GiB",
        i.mem_total as f64 / (1u64 << 30) as f64
    );
    println!(" Name: {}", i.name);
    println!(" ID: {}", i.id);
    println!(" Berth Root Dir: {}", i.docker_root_dir);
    for w in &i.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(0)
}
