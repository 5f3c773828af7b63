//! The plugins embedded in berthd, built by `build.rs` from `plugins/`.

/// One embedded plugin.
pub(crate) struct Builtin {
    pub name: &'static str,
    pub manifest: &'static str,
    pub component: &'static [u8],
}

macro_rules! builtin {
    ($name:literal) => {
        Builtin {
            name: $name,
            manifest: include_str!(concat!(env!("OUT_DIR"), "/", $name, ".toml")),
            component: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")),
        }
    };
}

/// The default graph-layout policy and the image maintenance jobs.
pub(crate) const BUILTINS: &[Builtin] = &[
    builtin!("graph-layout"),
    builtin!("image-gc"),
    builtin!("disk-usage"),
];

/// Names of the built-in plugins.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}
