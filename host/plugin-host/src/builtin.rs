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

/// The default graph-layout, authz, registry and network policies and the image maintenance
/// jobs.
pub(crate) const BUILTINS: &[Builtin] = &[
    builtin!("graph-layout"),
    builtin!("image-gc"),
    builtin!("disk-usage"),
    builtin!("authz-default"),
    builtin!("registry-policy-default"),
    builtin!("network-policy-default"),
];

/// Names of the built-in plugins.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}

/// The manifest text and component bytes of built-in plugin `name`, e.g.
/// to copy the default graph-layout policy into a plugin directory as the
/// starting point of a replacement.
pub fn builtin_plugin(name: &str) -> Option<(&'static str, &'static [u8])> {
    BUILTINS
        .iter()
        .find(|b| b.name == name)
        .map(|b| (b.manifest, b.component))
}
