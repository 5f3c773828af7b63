//! Resource values at the edges of what the daemon accepts at create.

use super::*;

fn shm_option(spec: &Spec) -> String {
    let mounts = spec.mounts().as_ref().expect("mounts");
    let shm = mounts
        .iter()
        .find(|m| m.destination() == Path::new("/dev/shm"))
        .expect("/dev/shm");
    shm.options()
        .iter()
        .flatten()
        .find(|o| o.starts_with("size="))
        .cloned()
        .expect("a size")
}

#[test]
fn the_largest_shm_size_is_rounded_up_without_overflow() {
    let host = HostConfig {
        shm_size: i64::MAX,
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    // 2^63 bytes in KiB; the kernel's memparse reads it back in a u64.
    assert_eq!(shm_option(&spec), "size=9007199254740992k");
}

#[test]
fn blkio_weight_reaches_the_block_io_resources() {
    let weight = |host: &HostConfig| {
        resources_of(&build(&config(&["true"]), host).expect("spec"))
            .block_io()
            .as_ref()
            .and_then(|b| b.weight())
    };
    assert_eq!(weight(&HostConfig::default()), None);
    let host = HostConfig {
        blkio_weight: 300,
        ..HostConfig::default()
    };
    assert_eq!(weight(&host), Some(300));
}
