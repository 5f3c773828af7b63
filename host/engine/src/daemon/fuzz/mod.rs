//! Property tests of `POST /containers/create`: JSON bodies shaped like
//! create requests (the right structure with extreme numbers, huge and odd
//! strings, NUL bytes, deep nesting, wrong types, unknown keys) go through
//! the real `container_create` job against fake drivers, and independently
//! through [`ContainerSpecBuilder`].
//!
//! What must hold whatever the body (and whatever validation is added at
//! create later): no panic; a refusal is an `InvalidParameter` error (or
//! `NotFound` for an image that does not exist) and leaves no record and no
//! container directory; the builder is deterministic; a created container's
//! stored record is what the builder makes of the same body, and reads back
//! unchanged.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_api::container::{Config, CreateRequest, CreateResponse};
use berth_api::image::{ImageDeleteItem, ImageInspect, ImageSummary};
use berth_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use super::container::{CONTAINERS, ContainerRecord};
use super::spec::ContainerSpecBuilder;
use super::sysinfo::{SysInfo, parse_cpuset_list};
use super::{Daemon, DaemonConfig, handlers};
use crate::driver::{
    AttachOptions, AttachStreams, ContainerFiles, ExecService, ExitRecord, ImageService,
    LogOptions, LogRecord, RunState, StartRequest, Started,
};
use crate::engine::Engine;
use crate::job::{BoxFuture, ErrorKind, Job, JobError};

const IMAGE: &str = "busybox";

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

mod harness;

use harness::{Fixture, fixture};

/// Numbers at and around every limit the validation knows.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop_oneof![
            Just(i64::MIN),
            Just(i64::MIN + 1),
            Just(-1_000_000_000_001i64),
            Just(-1001),
            Just(-1),
            Just(0),
            Just(1),
            Just(999),
            Just(1000),
            Just(1001),
            Just(6 * 1024 * 1024 - 1),
            Just(6 * 1024 * 1024),
            Just(1_000_000),
            Just(1_000_001),
            Just(2_000_000_000),
            Just(i64::from(u32::MAX) + 1),
            Just(i64::MAX - 1),
            Just(i64::MAX),
        ]
        .prop_map(Value::from),
        2 => any::<i64>().prop_map(Value::from),
        1 => prop_oneof![Just(u64::MAX), Just(1u64 << 63)].prop_map(Value::from),
        1 => prop_oneof![Just(1.5f64), Just(-0.0), Just(1e300), Just(f64::MIN_POSITIVE)]
            .prop_map(Value::from),
    ]
}

/// Strings: the words the validation knows, and odd ones.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            "", "busybox", "sh", "/", "/tmp", "/tmp:/x", "/tmp:/x:ro", "/tmp:/x/../y", "rel:/x",
            "0", "0-1", "0,1", "1-0", "0-4096", "x-", "SIGTERM", "KILL", "65", "always", "no",
            "on-failure", "unless-stopped", "host", "private", "none", "json-file", "local",
            "max-size", "10m", "max-file", "3", "nofile", "nproc", "size=64m", "mode=1777",
            "A=1", "=x", "PATH=/bin", "a.b-c", "bad_host!", "ALL", "NET_ADMIN", "FLY",
        ])
        .prop_map(str::to_owned),
        2 => any::<String>(),
        1 => "[\\x00-\\x1f/=:,.a-z0-9-]{0,12}",
        1 => (proptest::sample::select(vec!["a", "/", "0-1,", "é", "\0"]), 1usize..20_000)
            .prop_map(|(unit, n)| unit.repeat(n)),
    ]
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Nesting deeper than serde_json's recursion limit.
fn deep() -> impl Strategy<Value = Value> {
    (100usize..300, any::<bool>()).prop_map(|(depth, arrays)| {
        (0..depth).fold(Value::from(1), |v, _| {
            if arrays {
                json!([v])
            } else {
                json!({ "a": v })
            }
        })
    })
}

fn strings() -> impl Strategy<Value = Value> {
    prop::collection::vec(string(), 0..5).prop_map(Value::from)
}

fn string_map() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(string(), string(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect()))
}

/// The well-typed value of a field of the body, or (sometimes) anything.
fn field(shape: &'static str) -> BoxedStrategy<Value> {
    let typed: BoxedStrategy<Value> = match shape {
        "bool" => any::<bool>().prop_map(Value::from).boxed(),
        "int" => number().boxed(),
        "string" => string().prop_map(Value::from).boxed(),
        "strings" => strings().boxed(),
        "command" => {
            prop_oneof![strings(), string().prop_map(Value::from), Just(Value::Null)].boxed()
        }
        "map" => string_map().boxed(),
        "objects" => prop::collection::btree_map(string(), Just(json!({})), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed(),
        "ulimits" => prop::collection::vec(
            (string(), number(), number())
                .prop_map(|(name, soft, hard)| json!({"Name": name, "Soft": soft, "Hard": hard})),
            0..3,
        )
        .prop_map(Value::from)
        .boxed(),
        "restart" => (string(), number())
            .prop_map(|(name, n)| json!({"Name": name, "MaximumRetryCount": n}))
            .boxed(),
        "log" => (string(), string_map())
            .prop_map(|(kind, config)| json!({"Type": kind, "Config": config}))
            .boxed(),
        "console" => prop_oneof![
            (any::<u32>(), any::<u32>()).prop_map(|(h, w)| json!([h, w])),
            Just(json!([-1, 5])),
            Just(json!([1])),
        ]
        .boxed(),
        other => unreachable!("no shape {other}"),
    };
    prop_oneof![8 => typed, 1 => any_json(), 1 => deep()].boxed()
}

const CONFIG_FIELDS: [(&str, &str); 17] = [
    ("Hostname", "string"),
    ("Domainname", "string"),
    ("User", "string"),
    ("AttachStdin", "bool"),
    ("Tty", "bool"),
    ("OpenStdin", "bool"),
    ("StdinOnce", "bool"),
    ("Env", "strings"),
    ("Cmd", "command"),
    ("WorkingDir", "string"),
    ("Entrypoint", "command"),
    ("Labels", "map"),
    ("StopSignal", "string"),
    ("StopTimeout", "int"),
    ("ExposedPorts", "objects"),
    ("Volumes", "objects"),
    ("NetworkingConfig", "map"),
];

const HOST_FIELDS: [(&str, &str); 26] = [
    ("Memory", "int"),
    ("MemorySwap", "int"),
    ("MemoryReservation", "int"),
    ("NanoCpus", "int"),
    ("CpuShares", "int"),
    ("CpuPeriod", "int"),
    ("CpuQuota", "int"),
    ("PidsLimit", "int"),
    ("CpusetCpus", "string"),
    ("CpusetMems", "string"),
    ("ShmSize", "int"),
    ("OomScoreAdj", "int"),
    ("Ulimits", "ulimits"),
    ("Tmpfs", "map"),
    ("AutoRemove", "bool"),
    ("NetworkMode", "string"),
    ("RestartPolicy", "restart"),
    ("CgroupnsMode", "string"),
    ("Privileged", "bool"),
    ("ReadonlyRootfs", "bool"),
    ("CapAdd", "strings"),
    ("CapDrop", "strings"),
    ("ConsoleSize", "console"),
    ("LogConfig", "log"),
    ("Binds", "strings"),
    ("BlkioWeight", "int"),
];

/// A subset of `fields`, each with a value of its shape.
fn object(
    fields: &'static [(&'static str, &'static str)],
) -> impl Strategy<Value = Map<String, Value>> {
    proptest::sample::subsequence(fields.to_vec(), 0..=6).prop_flat_map(|chosen| {
        chosen
            .into_iter()
            .map(|(name, shape)| field(shape).prop_map(move |v| (name.to_owned(), v)))
            .collect::<Vec<_>>()
            .prop_map(|pairs| pairs.into_iter().collect::<Map<String, Value>>())
    })
}

/// A create body: mostly the right structure, sometimes anything.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let structured = (
        object(&CONFIG_FIELDS),
        object(&HOST_FIELDS),
        prop_oneof![
            6 => Just(Value::from(IMAGE)),
            1 => string().prop_map(Value::from),
            1 => any_json(),
        ],
        proptest::option::of((string(), any_json())),
        any::<bool>(),
    )
        .prop_map(|(mut top, host, image, extra, with_host)| {
            top.insert("Image".into(), image);
            if with_host {
                top.insert("HostConfig".into(), Value::Object(host));
            }
            if let Some((k, v)) = extra {
                top.insert(k, v);
            }
            serde_json::to_vec(&Value::Object(top)).expect("serialisable")
        });
    prop_oneof![
        8 => structured,
        1 => any_json().prop_map(|v| serde_json::to_vec(&v).expect("serialisable")),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// `spec` with each anonymous volume's name (and the data directory named
/// after it) replaced by its place among the mounts. An anonymous volume is
/// named by a fresh random id on every build (moby `createContainerOSSpecificSettings`
/// names it with `stringid.GenerateRandomID`), so only that name may differ
/// between two builds of one request; everything else, named volumes
/// included, is compared as built. Fails when a generated name does not
/// have the shape of an id, is used twice, or its volume and its mount
/// disagree.
fn without_anonymous_names(
    spec: &super::spec::ContainerSpec,
) -> Result<super::spec::ContainerSpec, TestCaseError> {
    use berth_model::container::Mount;
    let mut spec = spec.clone();
    let mut placeholders = std::collections::BTreeMap::new();
    for mount in &mut spec.model.mounts {
        if let Mount::Volume {
            name,
            source,
            anonymous: true,
            ..
        } = mount
        {
            prop_assert!(
                super::names::is_id(name),
                "anonymous volume name {:?}",
                name
            );
            prop_assert!(
                source.ends_with(Path::new(name.as_str()).join("_data")),
                "anonymous volume {:?} at {:?}",
                name,
                source
            );
            let placeholder = format!("anonymous-{}", placeholders.len());
            prop_assert!(
                placeholders
                    .insert(name.clone(), placeholder.clone())
                    .is_none(),
                "anonymous volume name {:?} used twice",
                name
            );
            let root = source
                .parent()
                .and_then(Path::parent)
                .map(Path::to_owned)
                .unwrap_or_default();
            *source = root.join(&placeholder).join("_data");
            *name = placeholder;
        }
    }
    for volume in &mut spec.volumes {
        let labelled = volume.labels.contains_key(berth_volume::ANONYMOUS_LABEL);
        match placeholders.get(&volume.name) {
            Some(placeholder) => {
                prop_assert!(labelled, "anonymous volume {:?} unlabelled", volume.name);
                volume.name = placeholder.clone();
            }
            None => prop_assert!(
                !labelled,
                "volume {:?} labelled anonymous but mounted as named",
                volume.name
            ),
        }
    }
    Ok(spec)
}

/// The property, for one body.
async fn check(f: &Fixture, body: Vec<u8>) -> Result<(), TestCaseError> {
    let records_before = f.records().len();
    let dirs_before = f.container_dirs();
    let created = f.create(body.clone()).await;
    let parsed = serde_json::from_slice::<CreateRequest>(&body);
    match created {
        Err(e) => {
            prop_assert!(
                matches!(e.kind, ErrorKind::InvalidParameter | ErrorKind::NotFound),
                "refused with {:?}",
                e
            );
            prop_assert!(!e.message.is_empty());
            prop_assert_eq!(
                f.records().len(),
                records_before,
                "a refused create left a record"
            );
            prop_assert_eq!(
                f.container_dirs(),
                dirs_before,
                "a refused create left a directory"
            );
        }
        Ok(response) => {
            // What was stored is what the builder makes of the same body,
            // and it reads back unchanged.
            let request = parsed.map_err(|e| {
                TestCaseError::fail(format!("created from a body serde refuses: {e}"))
            })?;
            let spec = f.build(request, &response.id).map_err(|e| {
                TestCaseError::fail(format!("created, but the builder refuses: {e}"))
            })?;
            let record: ContainerRecord = f
                .store
                .get(CONTAINERS, &response.id)
                .expect("read the record")
                .ok_or_else(|| TestCaseError::fail("no record for a created container"))?;
            prop_assert_eq!(&record.config, &spec.config);
            prop_assert_eq!(&record.host_config, &spec.host_config);
            prop_assert_eq!((&record.path, &record.args), (&spec.path, &spec.args));
            prop_assert_eq!(&record.image_id, &spec.image_id);
            prop_assert_eq!(&response.warnings, &spec.warnings);
            let live = f
                .daemon
                .containers()
                .get(&response.id)
                .map_err(|e| TestCaseError::fail(format!("created but not in the set: {e}")))?;
            prop_assert_eq!(&live.record(), &record);
            let json = serde_json::to_vec(&record).expect("serialise");
            let back: ContainerRecord = serde_json::from_slice(&json).expect("deserialise");
            prop_assert_eq!(back, record);
            prop_assert!(f.containers_dir().join(&response.id).is_dir());
            // Removed again, the store stays small and nothing is left.
            f.daemon
                .remove(&response.id, true)
                .await
                .map_err(|e| TestCaseError::fail(format!("remove: {e}")))?;
            prop_assert_eq!(f.records().len(), records_before);
            prop_assert_eq!(f.container_dirs(), dirs_before);
        }
    }
    // The builder alone: deterministic, and refusals are invalid-parameter.
    if let Ok(request) = serde_json::from_slice::<CreateRequest>(&body) {
        let id = "0123456789abcdef".repeat(4);
        let first = f.build(request.clone(), &id);
        let second = f.build(request, &id);
        match (&first, &second) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(without_anonymous_names(a)?, without_anonymous_names(b)?)
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(a.kind, ErrorKind::InvalidParameter, "{:?}", a);
                prop_assert_eq!(&a.message, &b.message);
            }
            _ => prop_assert!(
                false,
                "the builder changed its mind: {:?} then {:?}",
                first,
                second
            ),
        }
    }
    Ok(())
}

#[test]
fn create_bodies_are_refused_cleanly_or_stored_as_built() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture();
    let mut config = config(256);
    // What proptest! sets: failures persist beside this file.
    config.source_file = Some(file!());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&body(), |body| runtime.block_on(check(&f, body)));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The body that made the property flaky: an anonymous volume gets a fresh
/// random name on every build, so two builds of the same request differ in
/// that name and nothing else. Run through the property itself.
#[test]
fn an_anonymous_volume_body_builds_the_same_twice() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture();
    for body in [
        json!({"Image": IMAGE, "Volumes": {"/tmp": {}}}),
        json!({"Image": IMAGE, "Volumes": {"/a": {}, "/b/": {}, "/c": {}}}),
        json!({"Image": IMAGE, "Volumes": {"/data": {}},
            "HostConfig": {"Binds": ["named:/data", "/srv:/srv"]}}),
    ] {
        let bytes = serde_json::to_vec(&body).expect("serialisable");
        if let Err(e) = runtime.block_on(check(&f, bytes)) {
            panic!("{body}: {e}");
        }
    }
}

/// A cpuset list: numbers and ranges, some repeated, some out of bounds.
fn cpuset_list() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        4 => (0u32..70).prop_map(|n| n.to_string()),
        4 => (0u32..70, 0u32..70).prop_map(|(a, b)| format!("{a}-{b}")),
        1 => (0u32..9000, 0u32..5000).prop_map(|(a, span)| format!("{a}-{}", a + span)),
        1 => prop_oneof![Just(u32::MAX), Just(8192), Just(8193)].prop_map(|n| n.to_string()),
        1 => "[ 0-9,x-]{0,4}",
    ];
    (prop::collection::vec(part, 0..8), 1usize..4).prop_map(|(parts, times)| {
        let list = parts.join(",");
        vec![list; times].join(",")
    })
}

/// What the list names: every member once, or `None` when a part is not a
/// number or an ordered range of at most 4097 CPUs up to 8192.
fn cpuset_model(list: &str) -> Option<std::collections::BTreeSet<u32>> {
    let mut members = std::collections::BTreeSet::new();
    if list.trim().is_empty() {
        return Some(members);
    }
    for part in list.trim().split(',') {
        let (low, high): (u32, u32) = match part.split_once('-') {
            Some((l, h)) => (l.parse().ok()?, h.parse().ok()?),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if low > high || high - low > 4096 || high > 8192 {
            return None;
        }
        members.extend(low..=high);
    }
    Some(members)
}

proptest! {
    #![proptest_config(config(512))]

    /// A cpuset list parses to its members, each once and in order, so that
    /// what validation holds is bounded by the CPUs that can exist, not by
    /// how often a request repeats itself.
    #[test]
    fn cpuset_lists_parse_to_their_members(list in cpuset_list()) {
        let parsed = parse_cpuset_list(&list);
        let model = cpuset_model(&list).map(|m| m.into_iter().collect::<Vec<_>>());
        prop_assert_eq!(parsed, model, "{:?}", list);
    }
}

/// The body that made create hold gigabytes: a range repeated across a
/// request-sized string (4 MiB of `0-4096,` is 2.4 G members).
#[test]
fn a_repeated_cpuset_range_stays_small() {
    let list = vec!["0-4096"; 20_000].join(",");
    let members = parse_cpuset_list(&list).expect("a valid list");
    assert_eq!(members.len(), 4097);
    assert_eq!(parse_cpuset_list("8192"), Some(vec![8192]));
    assert_eq!(parse_cpuset_list("8193"), None, "beyond any kernel's CPUs");
    assert_eq!(parse_cpuset_list("4095-8193"), None);
}
