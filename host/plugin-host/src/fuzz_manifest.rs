//! Property tests of [`Manifest::parse`]: arbitrary and TOML-shaped text
//! never panics and every error names the manifest file; a manifest built
//! from a model parses to exactly that model; a parsed manifest written
//! back parses to itself; one bad field gives an error that names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::manifest::{Capability, Manifest, RequestedLimits, World};

const PATH: &str = "/plugins/fuzz.toml";

fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

fn parse(text: &str) -> Result<Manifest, String> {
    Manifest::parse(text, Path::new(PATH)).map_err(|e| e.to_string())
}

/// A `[config]` value as written in the manifest.
#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    fn toml(&self) -> toml::Value {
        match self {
            Value::Str(s) => toml::Value::String(s.clone()),
            Value::Int(i) => toml::Value::Integer(*i),
            Value::Float(f) => toml::Value::Float(*f),
            Value::Bool(b) => toml::Value::Boolean(*b),
        }
    }

    /// What the plugin reads with `host.config`.
    fn read(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// A valid manifest as fields.
#[derive(Debug, Clone)]
struct Model {
    name: String,
    version: semver::Version,
    world: World,
    wit: semver::Version,
    summary: Option<String>,
    component: Option<String>,
    capabilities: Vec<Capability>,
    memory_mib: Option<i64>,
    timeout_ms: Option<i64>,
    table_elements: Option<u32>,
    config: BTreeMap<String, Value>,
}

impl Model {
    fn table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        let s = |v: &str| toml::Value::String(v.to_owned());
        t.insert("name".into(), s(&self.name));
        t.insert("version".into(), s(&self.version.to_string()));
        t.insert("world".into(), s(self.world.as_str()));
        t.insert("wit".into(), s(&self.wit.to_string()));
        if let Some(summary) = &self.summary {
            t.insert("summary".into(), s(summary));
        }
        if let Some(component) = &self.component {
            t.insert("component".into(), s(component));
        }
        if !self.capabilities.is_empty() {
            let caps = self.capabilities.iter().map(|c| s(c.as_str())).collect();
            t.insert("capabilities".into(), toml::Value::Array(caps));
        }
        let mut limits = toml::Table::new();
        for (key, value) in [
            ("memory-mib", self.memory_mib),
            ("timeout-ms", self.timeout_ms),
            ("table-elements", self.table_elements.map(i64::from)),
        ] {
            if let Some(v) = value {
                limits.insert(key.into(), toml::Value::Integer(v));
            }
        }
        if !limits.is_empty() {
            t.insert("limits".into(), toml::Value::Table(limits));
        }
        if !self.config.is_empty() {
            let config = self
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.toml()))
                .collect();
            t.insert("config".into(), toml::Value::Table(config));
        }
        t
    }

    fn text(&self) -> String {
        render(&self.table())
    }

    /// The manifest the host should make of it.
    fn expected(&self) -> Manifest {
        let mib = |m: i64| u64::try_from(m).expect("positive");
        Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            world: self.world,
            wit: self.wit.clone(),
            summary: self.summary.clone().unwrap_or_default(),
            component: PathBuf::from(
                self.component
                    .clone()
                    .unwrap_or_else(|| format!("{}.wasm", self.name)),
            ),
            capabilities: self.capabilities.iter().copied().collect(),
            limits: RequestedLimits {
                memory: self.memory_mib.map(|m| mib(m).saturating_mul(1 << 20)),
                timeout: self.timeout_ms.map(|t| Duration::from_millis(mib(t))),
                table_elements: self.table_elements,
            },
            config: self
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.read()))
                .collect(),
        }
    }
}

fn render(table: &toml::Table) -> String {
    toml::to_string(table).expect("a table always renders")
}

/// A parsed manifest written back as a manifest.
fn write_back(m: &Manifest) -> String {
    let mut t = toml::Table::new();
    let s = |v: &str| toml::Value::String(v.to_owned());
    t.insert("name".into(), s(&m.name));
    t.insert("version".into(), s(&m.version.to_string()));
    t.insert("world".into(), s(m.world.as_str()));
    t.insert("wit".into(), s(&m.wit.to_string()));
    t.insert("summary".into(), s(&m.summary));
    t.insert("component".into(), s(&m.component.to_string_lossy()));
    let caps = m.capabilities.iter().map(|c| s(c.as_str())).collect();
    t.insert("capabilities".into(), toml::Value::Array(caps));
    let mut limits = toml::Table::new();
    if let Some(memory) = m.limits.memory {
        // Whole MiB: what was written, unless it saturated.
        let mib = if memory == u64::MAX {
            i64::MAX
        } else {
            (memory >> 20) as i64
        };
        limits.insert("memory-mib".into(), toml::Value::Integer(mib));
    }
    if let Some(timeout) = m.limits.timeout {
        let ms = i64::try_from(timeout.as_millis()).expect("written as an i64");
        limits.insert("timeout-ms".into(), toml::Value::Integer(ms));
    }
    if let Some(n) = m.limits.table_elements {
        limits.insert("table-elements".into(), toml::Value::Integer(n.into()));
    }
    t.insert("limits".into(), toml::Value::Table(limits));
    let config = m.config.iter().map(|(k, v)| (k.clone(), s(v))).collect();
    t.insert("config".into(), toml::Value::Table(config));
    render(&t)
}

fn semver_version() -> impl Strategy<Value = semver::Version> {
    (
        any::<u64>(),
        0u64..1000,
        prop_oneof![Just(0u64), any::<u64>()],
        proptest::option::of("[0-9A-Za-z-]{1,6}(\\.[0-9A-Za-z-]{1,6}){0,2}"),
        proptest::option::of("[0-9A-Za-z-]{1,6}"),
    )
        .prop_filter_map("valid pre-release", |(major, minor, patch, pre, build)| {
            let mut v = semver::Version::new(major, minor, patch);
            if let Some(pre) = pre {
                v.pre = semver::Prerelease::new(&pre).ok()?;
            }
            if let Some(build) = build {
                v.build = semver::BuildMetadata::new(&build).ok()?;
            }
            Some(v)
        })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        Just(Value::Float(f64::NAN)),
        Just(Value::Float(f64::INFINITY)),
        any::<bool>().prop_map(Value::Bool),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    let world = proptest::sample::select(World::ALL.to_vec());
    (
        "[a-z0-9][a-z0-9._-]{0,63}",
        semver_version(),
        world,
        semver_version(),
        proptest::option::of(any::<String>()),
        proptest::option::of("[a-zA-Z0-9_-]{1,8}(/[a-zA-Z0-9_.-]{0,8}[a-zA-Z0-9_-]){0,3}"),
        proptest::sample::subsequence(Capability::ALL.to_vec(), 0..=Capability::ALL.len()),
        (
            proptest::option::of(prop_oneof![1i64..4096, 1i64..=i64::MAX]),
            proptest::option::of(1i64..=i64::MAX),
            any::<Option<u32>>(),
        ),
        prop::collection::btree_map(any::<String>(), value(), 0..4),
    )
        .prop_map(
            |(name, version, world, wit, summary, component, caps, limits, config)| Model {
                name,
                version,
                world,
                wit,
                summary,
                component,
                // Policies get no capabilities.
                capabilities: if world.is_policy() { Vec::new() } else { caps },
                memory_mib: limits.0,
                timeout_ms: limits.1,
                table_elements: limits.2,
                config,
            },
        )
}

/// One field of a valid manifest made invalid, and what the error must
/// say: the field's key.
fn break_one(model: &Model, which: usize, junk: &str) -> (String, &'static str) {
    let mut t = model.table();
    let s = |v: &str| toml::Value::String(v.to_owned());
    let junk_name = format!("A{junk}");
    let key = match which % 14 {
        0 => {
            let bad = [
                "",
                "-a",
                ".a",
                "a/b",
                "a b",
                "é",
                &"a".repeat(65),
                &junk_name,
            ];
            t.insert("name".into(), s(bad[junk.len() % bad.len()]));
            "name"
        }
        1 => {
            t.insert("version".into(), s(&format!("1.{junk}x")));
            "version"
        }
        2 => {
            t.insert("world".into(), s(&format!("no-{junk}")));
            "world"
        }
        3 => {
            t.insert("wit".into(), s(&format!("v{junk}")));
            "wit"
        }
        4 => {
            let bad = ["/abs.wasm", "../up.wasm", "a/../../b.wasm", "", "./x/.."];
            t.insert("component".into(), s(bad[junk.len() % bad.len()]));
            "component"
        }
        5 => {
            let caps = vec![s(&format!("root-{junk}"))];
            t.insert("capabilities".into(), toml::Value::Array(caps));
            "capabilit"
        }
        6 => {
            let mut limits = toml::Table::new();
            limits.insert("memory-mib".into(), toml::Value::Integer(0));
            t.insert("limits".into(), toml::Value::Table(limits));
            "memory-mib"
        }
        7 => {
            let mut limits = toml::Table::new();
            limits.insert("timeout-ms".into(), toml::Value::Integer(-1));
            t.insert("limits".into(), toml::Value::Table(limits));
            "timeout-ms"
        }
        8 => {
            let mut limits = toml::Table::new();
            let big = i64::from(u32::MAX) + 1 + junk.len() as i64;
            limits.insert("table-elements".into(), toml::Value::Integer(big));
            t.insert("limits".into(), toml::Value::Table(limits));
            "table-elements"
        }
        9 => {
            let mut config = toml::Table::new();
            let key = format!("k{junk}");
            config.insert(key, toml::Value::Array(vec![]));
            t.insert("config".into(), toml::Value::Table(config));
            "config value"
        }
        10 => {
            t.insert(format!("flavour{junk}"), toml::Value::Integer(1));
            "flavour"
        }
        11 => {
            t.remove("wit");
            "wit"
        }
        12 => {
            t.insert("name".into(), toml::Value::Integer(7));
            "name"
        }
        _ => {
            // A capability asked for by a policy.
            let world = World::ALL
                .into_iter()
                .find(|w| w.is_policy())
                .expect("a policy world");
            t.insert("world".into(), s(world.as_str()));
            let caps = vec![s(Capability::ScratchDir.as_str())];
            t.insert("capabilities".into(), toml::Value::Array(caps));
            "capabilit"
        }
    };
    (render(&t), key)
}

/// Text shaped like a manifest: the real keys and tables with values of
/// every kind, in any order, some repeated.
fn tomlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name".to_owned()),
        Just("version".to_owned()),
        Just("world".to_owned()),
        Just("wit".to_owned()),
        Just("summary".to_owned()),
        Just("component".to_owned()),
        Just("capabilities".to_owned()),
        Just("memory-mib".to_owned()),
        Just("timeout-ms".to_owned()),
        Just("table-elements".to_owned()),
        "[a-z-]{1,8}",
    ];
    let value = prop_oneof![
        Just("\"x\"".to_owned()),
        Just("\"1.0.0\"".to_owned()),
        Just("\"job-handler\"".to_owned()),
        Just("[\"scratch-dir\"]".to_owned()),
        Just("0".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1e400".to_owned()),
        Just("nan".to_owned()),
        Just("{a = {b = [1, \"c\"]}}".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
        "\"[^\"\\\\\n]{0,12}\"",
        "[ -~]{0,12}",
    ];
    let line = prop_oneof![
        6 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => Just("[limits]".to_owned()),
        1 => Just("[config]".to_owned()),
        1 => Just("[[config]]".to_owned()),
        1 => "[ -~]{0,20}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(config(256))]

    /// A manifest written from a model parses to exactly that model, and
    /// writing the result back parses to the same manifest again.
    #[test]
    fn valid_manifests_round_trip(model in model()) {
        let text = model.text();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed, &model.expected());
        let again = write_back(&parsed);
        prop_assert_eq!(parse(&again), Ok(parsed));
    }

    /// One bad field: refused, and the message names the file and the field.
    #[test]
    fn one_bad_field_is_named(model in model(), which in 0usize..14, junk in "[a-z0-9]{0,6}") {
        let (text, key) = break_one(&model, which, &junk);
        let err = match parse(&text) {
            Ok(m) => return Err(TestCaseError::fail(format!("accepted {m:?} from\n{text}"))),
            Err(e) => e,
        };
        prop_assert!(err.contains(PATH), "{}", err);
        prop_assert!(err.contains(key), "{:?} does not name {:?}\n{}", err, key, text);
    }

    /// Anything at all: no panic; an error names the file; what parses
    /// writes back to itself.
    #[test]
    fn arbitrary_text_never_panics(text in prop_oneof![any::<String>(), tomlish()]) {
        match parse(&text) {
            Ok(m) => prop_assert_eq!(parse(&write_back(&m)), Ok(m)),
            Err(e) => prop_assert!(e.contains(PATH), "{}", e),
        }
    }
}
