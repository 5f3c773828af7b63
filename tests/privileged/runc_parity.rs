//! berth-runc against runc: the same bundle under both runtimes, compared
//! by what the container process sees. Every difference fails the test
//! unless it is listed in `DELIBERATE` with its reason.

use std::collections::BTreeMap;

use crate::runc_support::{
    Bundle, CgroupGuard, Runtime, assert_nothing_left, docker_like_spec, runc_spec, unique,
};

/// The probe: one section per aspect, each introduced by `==name`.
const PROBE: &str = r#"
echo ==status; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
echo ==mountinfo; cat /proc/self/mountinfo
echo ==id; id
echo ==hostname; hostname
echo ==ulimit; ulimit -a
echo ==masked
for p in /proc/acpi /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/scsi /sys/firmware; do
  if [ -d $p ]; then echo "$p dir entries=$(ls -A $p 2>/dev/null | wc -l)"; \
  elif [ -e $p ]; then echo "$p bytes=$(head -c 64 $p 2>/dev/null | wc -c)"; else echo "$p absent"; fi
done
echo ==readonly
for p in /proc/sys/kernel/hostname /proc/sysrq-trigger; do
  if (echo x > $p) 2>/dev/null; then echo "$p writable"; else echo "$p read-only"; fi
done
echo ==cgroup
for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us; do
  echo "$f=$(cat /sys/fs/cgroup/$f 2>&1)"
done
echo ==cgroupns; cat /proc/self/cgroup
echo ==dev; ls -la /dev | awk '{print $1, $3, $4, $5, $6, $NF}' | grep -v '^total'
echo ==end
"#;

/// Differences that are intended, per section, as (needle, reason): a
/// normalised line containing the needle may differ.
const DELIBERATE: &[(&str, &str, &str)] = &[
    (
        "mountinfo",
        "/sys/fs/cgroup/systemd ",
        "runc creates the container's cgroup in the named systemd hierarchy too; berth-cgroups \
         manages only resource controllers, so berth's bind shows the runtime's own systemd cgroup",
    ),
    (
        "cgroupns",
        ":name=systemd:",
        "the named systemd hierarchy: see the mountinfo entry above",
    ),
    (
        "cgroupns",
        "0::",
        "on hybrid hosts runc also moves the container into a cgroup of the (controller-less) \
         unified hierarchy; berth-cgroups manages the v1 controllers there, where the limits live",
    ),
];

fn sections(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("==") {
            current = Some(name.trim().to_string());
            out.entry(name.trim().to_string()).or_insert_with(Vec::new);
        } else if let Some(name) = &current {
            out.get_mut(name).expect("section").push(line.to_string());
        }
    }
    out
}

/// mountinfo without mount ids, device numbers and peer groups, with the
/// run's cgroup path replaced, sorted.
fn normalise_mountinfo(lines: &[String], cgroups_path: &str) -> Vec<String> {
    let mut out: Vec<String> = lines
        .iter()
        .map(|line| {
            let (left, right) = line.split_once(" - ").unwrap_or((line, ""));
            let f: Vec<&str> = left.split(' ').collect();
            // id parent major:minor root mountpoint options [optional...]
            let root = f
                .get(3)
                .copied()
                .unwrap_or("")
                .replace(cgroups_path, "<cgroup>");
            let point = f.get(4).copied().unwrap_or("");
            let options = f.get(5).copied().unwrap_or("");
            format!("{point} root={root} {options} - {right}")
        })
        .collect();
    out.sort();
    out
}

fn probe(
    runtime: &Runtime,
    make_spec: fn(&[&str], &str) -> serde_json::Value,
) -> (BTreeMap<String, Vec<String>>, String) {
    let id = unique(&format!("parity-{}", runtime.name));
    let cgroups_path = format!("/{id}");
    let _cg = CgroupGuard(cgroups_path.clone());
    let mut spec = make_spec(&["sh", "-c", PROBE], &cgroups_path);
    spec["hostname"] = serde_json::json!("parity");
    spec["process"]["user"] =
        serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 29]});
    spec["process"]["rlimits"] = serde_json::json!([
        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512},
        {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 2048},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}
    ]);
    let bundle = Bundle::new(&spec);
    let out = runtime.run(&bundle, &id);
    assert!(
        out.status.success() && out.stdout.contains("==end"),
        "{} run failed: {out:#?}",
        runtime.name
    );
    assert_nothing_left(runtime, &id, &cgroups_path, bundle.path());
    let mut s = sections(&out.stdout);
    let mi = s.remove("mountinfo").unwrap_or_default();
    // The bundle path differs between the two runs; the rest of the line
    // must not.
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let mi: Vec<String> = mi
        .iter()
        .map(|l| l.replace(&bundle_path, "<bundle>"))
        .collect();
    s.insert("mountinfo".into(), normalise_mountinfo(&mi, &cgroups_path));
    if let Some(lines) = s.get_mut("cgroupns") {
        for line in lines.iter_mut() {
            *line = line.replace(&cgroups_path, "<cgroup>");
        }
    }
    (s, out.stdout)
}

/// The lines of each of runc's sections that only one runtime printed,
/// except the `deliberate` differences (by section name and line).
fn line_differences(
    berth: &BTreeMap<String, Vec<String>>,
    runc: &BTreeMap<String, Vec<String>>,
    deliberate: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (name, r_lines) in runc {
        let b_lines = berth.get(name).cloned().unwrap_or_default();
        for line in r_lines
            .iter()
            .filter(|l| !b_lines.contains(l) && !deliberate(name, l))
        {
            differences.push(format!("[{name}] only runc:       {line}"));
        }
        for line in b_lines
            .iter()
            .filter(|l| !r_lines.contains(l) && !deliberate(name, l))
        {
            differences.push(format!("[{name}] only berth-runc: {line}"));
        }
    }
    differences
}

fn compare(make_spec: fn(&[&str], &str) -> serde_json::Value) -> BTreeMap<String, Vec<String>> {
    berth_tests::require::root();
    let berth = Runtime::berth();
    let runc = Runtime::runc();
    let (b, b_raw) = probe(&berth, make_spec);
    let (r, r_raw) = probe(&runc, make_spec);
    let mut differences = line_differences(&b, &r, |name, line| {
        DELIBERATE
            .iter()
            .any(|(section, needle, _)| *section == name && line.contains(needle))
    });
    for name in b.keys().filter(|k| !r.contains_key(*k)) {
        differences.push(format!("section {name} only in berth-runc's output"));
    }
    assert!(
        differences.is_empty(),
        "berth-runc differs from runc:\n{}\n\n--- berth-runc ---\n{b_raw}\n--- runc ---\n{r_raw}",
        differences.join("\n")
    );
    b
}

#[test]
fn runc_parity_with_runc_spec_defaults() {
    let seen = compare(runc_spec);
    assert_eq!(seen["hostname"], ["parity"]);
    assert!(
        seen["id"][0].contains("groups=10(wheel),29(audio)"),
        "{:?}",
        seen["id"]
    );
}

#[test]
fn runc_parity_with_docker_defaults_seccomp_and_limits() {
    let seen = compare(docker_like_spec);
    // Equal is not enough: the limits and the filter must be in effect.
    let cgroup = &seen["cgroup"];
    for want in [
        "memory/memory.limit_in_bytes=67108864",
        "pids/pids.max=100",
        "cpu/cpu.shares=512",
        "cpu/cpu.cfs_quota_us=50000",
    ] {
        assert!(cgroup.iter().any(|l| l == want), "{want} not in {cgroup:?}");
    }
    let status = &seen["status"];
    assert!(
        status.iter().any(|l| l == "Seccomp:\t2"),
        "no seccomp filter: {status:?}"
    );
    assert!(
        status.iter().any(|l| l == "CapEff:\t0000000000000000"),
        "uid 1000 keeps no effective caps: {status:?}"
    );
    assert!(
        status.iter().any(|l| l == "CapBnd:\t00000000a80425fb"),
        "Docker's bounding set: {status:?}"
    );
}

#[test]
fn runc_parity_normalisation_keeps_options() {
    let lines = vec![
        "65 43 254:0 /tmp/b/rootfs / ro,relatime master:1 - ext4 /dev/vda rw".to_string(),
        "73 72 0:29 /berth-test/x /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup rw,cpu".to_string(),
    ];
    let n = normalise_mountinfo(&lines, "/berth-test/x");
    assert_eq!(n[0], "/ root=/tmp/b/rootfs ro,relatime - ext4 /dev/vda rw");
    assert_eq!(
        n[1],
        "/sys/fs/cgroup/cpu root=<cgroup> ro,nosuid - cgroup cgroup rw,cpu"
    );
}

/// `runc_spec` plus a cgroup namespace: `/sys/fs/cgroup` then holds real
/// cgroup mounts rooted at the container's cgroup.
fn cgroupns_spec(args: &[&str], cgroups_path: &str) -> serde_json::Value {
    let mut spec = runc_spec(args, cgroups_path);
    spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(serde_json::json!({"type": "cgroup"}));
    spec
}

#[test]
fn runc_parity_with_a_cgroup_namespace() {
    let seen = compare(cgroupns_spec);
    assert!(
        seen["cgroupns"].iter().any(|l| l == "4:memory:/"),
        "the container's cgroup is its namespace's root: {:?}",
        seen["cgroupns"]
    );
}

/// Whether an exec'd process shares init's namespaces (as root: only it
/// may read init's namespace links).
const NS_PROBE: &str = r#"
echo ==ns
for ns in cgroup ipc mnt net pid uts; do
  if [ "$(readlink /proc/self/ns/$ns)" = "$(readlink /proc/1/ns/$ns)" ]; then echo "$ns shared with init"; else echo "$ns differs"; fi
done
"#;

/// What an exec'd process sees, for both runtimes.
const EXEC_PROBE: &str = r#"
echo ==status; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
echo ==id; id
echo ==cgroup; cat /proc/self/cgroup
echo ==cwd; pwd
echo ==end
"#;

fn exec_probe(runtime: &Runtime) -> BTreeMap<String, Vec<String>> {
    let id = unique(&format!("exec-parity-{}", runtime.name));
    let cgroups_path = format!("/{id}");
    let _cg = CgroupGuard(cgroups_path.clone());
    let bundle = Bundle::new(&docker_like_spec(&["sleep", "1000"], &cgroups_path));
    let _guard = crate::runc_support::ContainerGuard::new(runtime, &id);
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let out = runtime.cmd_detached(["run", "--detach", "--bundle", &bundle_path, &id]);
    assert!(out.status.success(), "{} run -d: {out:#?}", runtime.name);
    runtime.wait_status(&id, "running");
    let out = runtime.cmd([
        "exec",
        "--user",
        "1000:1000",
        "--additional-gids",
        "29",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        EXEC_PROBE,
    ]);
    assert!(
        out.status.success() && out.stdout.contains("==end"),
        "{} exec failed: {out:#?}",
        runtime.name
    );
    let ns = runtime.cmd(["exec", &id, "sh", "-c", NS_PROBE]);
    assert!(ns.status.success(), "{} exec failed: {ns:#?}", runtime.name);
    let deleted = runtime.cmd(["delete", "--force", &id]);
    assert!(deleted.status.success(), "{deleted:#?}");
    assert_nothing_left(runtime, &id, &cgroups_path, bundle.path());
    let mut s = sections(&out.stdout);
    s.extend(sections(&ns.stdout));
    if let Some(lines) = s.get_mut("cgroup") {
        for line in lines.iter_mut() {
            *line = line.replace(&cgroups_path, "<cgroup>");
        }
    }
    s
}

#[test]
fn runc_parity_of_exec_into_a_running_container() {
    berth_tests::require::root();
    let b = exec_probe(&Runtime::berth());
    let r = exec_probe(&Runtime::runc());
    let differences = line_differences(&b, &r, |_, line| {
        [":name=systemd:", "0::"].iter().any(|n| line.contains(n))
    });
    assert!(
        differences.is_empty(),
        "exec differs from runc's:\n{}\n{b:#?}",
        differences.join("\n")
    );
    assert!(
        b["ns"].iter().all(|l| l.ends_with("shared with init")),
        "{:?}",
        b["ns"]
    );
    assert!(
        b["cgroup"].iter().any(|l| l == "4:memory:<cgroup>"),
        "{:?}",
        b["cgroup"]
    );
    assert_eq!(b["cwd"], ["/tmp"]);
}
