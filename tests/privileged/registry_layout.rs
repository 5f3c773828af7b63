//! Images with many layers reach the graph policy (issue 11): a pulled
//! five-layer image is laid out by the built-in graph-layout policy (one
//! lower directory per layer, seen in the container's overlay mount), and
//! a graph-layout plugin hot-loaded from the plugin directory changes it
//! (two lowers: the top layer and the rest flattened).

use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;
use berth_tests::registry::Registry;

use crate::plugins::plugins_support::{PluginDir, install, test_plugins};

/// The `lowerdir=` entries of container `id`'s rootfs overlay, from the
/// mount table berthd mounted it in (the host's).
fn lower_dirs(d: &Daemon, name: &str) -> Vec<String> {
    let id = d
        .docker(&["inspect", "--format", "{{.Id}}", name])
        .ok()
        .trim()
        .to_owned();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let line = mountinfo
        .lines()
        .find(|l| {
            l.contains("lowerdir=") && l.split(' ').nth(4).is_some_and(|point| point.contains(&id))
        })
        .unwrap_or_else(|| panic!("no overlay mounted for {id}:\n{mountinfo}"));
    line.split("lowerdir=")
        .nth(1)
        .and_then(|o| o.split(',').next())
        .expect("lowerdir option")
        .split(':')
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_pulled_five_layer_image_is_laid_out_by_the_graph_policy_and_a_plugin_changes_it() {
    let built = test_plugins();
    let registry = Registry::start();
    registry.push_five_layer("deep/app:v1", "layout");
    let reference = registry.reference("deep/app:v1");
    let p = PluginDir::new();
    let d = p.start_with(&["--storage-driver", "overlay2"]);
    d.docker(&["pull", &reference]).ok();

    // The built-in policy: one lower per layer.
    d.docker(&["run", "-d", "--name", "native", &reference, "sleep", "300"])
        .ok();
    assert_eq!(lower_dirs(&d, "native").len(), 5);

    install(&p.plugins(), &built.example_graph_flatten, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while d
        .http("GET", "/berth/plugins/example-graph-flatten", b"")
        .json()["active"]
        != true
    {
        assert!(Instant::now() < deadline, "the plugin never became active");
        std::thread::sleep(Duration::from_millis(50));
    }
    d.docker(&["run", "-d", "--name", "planned", &reference, "sleep", "300"])
        .ok();
    let lowers = lower_dirs(&d, "planned");
    assert_eq!(lowers.len(), 2, "{lowers:?}");
    // Every layer's file is there through the flattened lower.
    let out = d
        .docker(&[
            "exec",
            "planned",
            "cat",
            "/layer1.txt",
            "/layer3.txt",
            "/layer4.txt",
        ])
        .ok();
    assert_eq!(out, "1 layout\n3 layout\n4 layout\n");
    // The first container keeps the layout it was created with.
    assert_eq!(lower_dirs(&d, "native").len(), 5);
    d.docker(&["rm", "-f", "native", "planned"]).ok();
}
