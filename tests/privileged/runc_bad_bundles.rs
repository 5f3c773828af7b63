//! Bad bundles and failing init steps: `berth-runc create` must fail with
//! an error naming the problem (on stderr and in the `--log` JSON), and
//! leave nothing behind: no state, mount, cgroup or process.

use serde_json::{Value, json};

use crate::runc_support::{
    Bundle, CgroupGuard, ContainerGuard, Runtime, assert_nothing_left, runc_spec, unique,
};

/// Creates `bundle` as `id`, expects failure mentioning every needle, and
/// checks the JSON log and that nothing is left.
fn expect_create_failure(bundle: &Bundle, cgroups_path: &str, needles: &[&str]) {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let id = unique("bad");
    let _guard = ContainerGuard::new(&berth, &id);
    let log = berth.root().join("log.json");
    let out = berth.cmd_detached([
        "--log",
        log.to_str().expect("utf-8 path"),
        "--log-format",
        "json",
        "create",
        "--bundle",
        bundle.path().to_str().expect("utf-8 path"),
        &id,
    ]);
    assert!(
        !out.status.success(),
        "create unexpectedly succeeded: {out:#?}"
    );
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "stderr lacks {needle:?}: {}",
            out.stderr
        );
    }
    let log_text = std::fs::read_to_string(&log).expect("the --log file is written");
    let entry: Value = serde_json::from_str(log_text.lines().last().expect("a log line"))
        .expect("a JSON log line");
    assert_eq!(entry["level"], "error");
    let msg = entry["msg"].as_str().expect("msg");
    for needle in needles {
        assert!(msg.contains(needle), "log msg lacks {needle:?}: {msg}");
    }
    assert!(
        entry["time"].as_str().is_some_and(|t| t.contains('T')),
        "{entry}"
    );
    assert_nothing_left(&berth, &id, cgroups_path, bundle.path());
}

fn spec(cgroups_path: &str) -> Value {
    runc_spec(&["true"], cgroups_path)
}

#[test]
fn runc_bad_bundle_missing_rootfs() {
    let cg = unique("/bad-rootfs");
    let _c = CgroupGuard(cg.clone());
    let bundle = Bundle::new(&spec(&cg));
    std::fs::remove_dir_all(bundle.rootfs()).expect("remove rootfs");
    expect_create_failure(&bundle, &cg, &["rootfs", "does not exist"]);
}

#[test]
fn runc_bad_bundle_malformed_config() {
    let cg = unique("/bad-json");
    let _c = CgroupGuard(cg.clone());
    let bundle = Bundle::new(&spec(&cg));
    std::fs::write(
        bundle.path().join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": [",
    )
    .expect("write");
    expect_create_failure(
        &bundle,
        &cg,
        &["malformed bundle config", "config.json", "line 1"],
    );
}

#[test]
fn runc_bad_bundle_unknown_namespace() {
    let cg = unique("/bad-ns");
    let _c = CgroupGuard(cg.clone());
    let mut config = spec(&cg);
    config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(json!({"type": "bogusns"}));
    let bundle = Bundle::new(&config);
    expect_create_failure(&bundle, &cg, &["config.json", "bogusns"]);
}

#[test]
fn runc_bad_bundle_mount_escaping_through_symlink() {
    let cg = unique("/bad-escape");
    let _c = CgroupGuard(cg.clone());
    let mut config = spec(&cg);
    config["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(json!({"destination": "/data/escape/x", "type": "tmpfs", "source": "tmpfs"}));
    let bundle = Bundle::new(&config);
    std::fs::create_dir_all(bundle.rootfs().join("data")).expect("mkdir");
    std::os::unix::fs::symlink(
        "../../../../../../../../tmp",
        bundle.rootfs().join("data/escape"),
    )
    .expect("symlink");
    expect_create_failure(
        &bundle,
        &cg,
        &["/data/escape/x", "escapes the rootfs", "symlink"],
    );
}

#[test]
fn runc_bad_bundle_missing_executable() {
    let cg = unique("/bad-exe");
    let _c = CgroupGuard(cg.clone());
    let mut config = spec(&cg);
    config["process"]["args"] = json!(["no-such-program", "x"]);
    let bundle = Bundle::new(&config);
    expect_create_failure(
        &bundle,
        &cg,
        &["no-such-program", "executable file not found"],
    );
}

#[test]
fn runc_bad_bundle_failing_bind_mount_names_the_mount() {
    let cg = unique("/bad-bind");
    let _c = CgroupGuard(cg.clone());
    let mut config = spec(&cg);
    config["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/data", "type": "bind", "source": "/nonexistent/berth-source", "options": ["rbind"]
    }));
    let bundle = Bundle::new(&config);
    expect_create_failure(
        &bundle,
        &cg,
        &["mount /data (bind)", "/nonexistent/berth-source"],
    );
}

#[test]
fn runc_bad_bundle_rlimit_above_hard_limit_explains_eperm() {
    let cg = unique("/bad-rlimit");
    let _c = CgroupGuard(cg.clone());
    let mut config = spec(&cg);
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a valid struct.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) },
        0
    );
    let above = hard.rlim_max + 1;
    config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": above, "soft": above}]);
    let bundle = Bundle::new(&config);
    // Root here lacks CAP_SYS_RESOURCE: raising the hard limit must fail,
    // and say why.
    expect_create_failure(
        &bundle,
        &cg,
        &["setrlimit RLIMIT_NOFILE", "EPERM", "CAP_SYS_RESOURCE"],
    );
}

#[test]
fn runc_bad_bundle_lowering_oom_score_adj_explains_eperm() {
    let cg = unique("/bad-oom");
    let _c = CgroupGuard(cg.clone());
    let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .expect("read oom_score_adj")
        .trim()
        .parse()
        .expect("a number");
    let mut config = spec(&cg);
    config["process"]["oomScoreAdj"] = json!(current - 100);
    let bundle = Bundle::new(&config);
    expect_create_failure(&bundle, &cg, &["oom_score_adj", "CAP_SYS_RESOURCE"]);
}
