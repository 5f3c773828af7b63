//! The component's type against its manifest: checked before linking, so
//! that a refusal says what is wrong in berth's terms.

use std::collections::BTreeSet;

use crate::manifest::{Capability, Manifest, World};
use crate::wit::version_in_name;

/// Why a component does not fit its manifest, in berth's terms rather than
/// the linker's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ComponentMismatch {
    /// An export names a `berth:plugin` version that is not semver.
    #[error("export {export} has a bad version: {source}")]
    BadVersion {
        /// The export.
        export: String,
        /// The parse error.
        source: semver::Error,
    },
    /// An export's WIT version differs from the manifest's `wit`.
    #[error(
        "it was built against berth:plugin WIT {built} (export {export}) but its manifest says \
         wit = \"{manifest}\""
    )]
    WitVersion {
        /// The version in the export's name.
        built: semver::Version,
        /// The export.
        export: String,
        /// The manifest's `wit`.
        manifest: semver::Version,
    },
    /// The world's interface is not exported.
    #[error(
        "it does not export {interface}{wit}: it does not implement world {world} (was it built \
         with the SDK's register macro for that world?)"
    )]
    MissingExport {
        /// `berth:plugin/<interface>@`.
        interface: String,
        /// The manifest's `wit`.
        wit: semver::Version,
        /// The manifest's world.
        world: World,
    },
    /// `graph-admin` imported without the capability in the manifest.
    #[error("it imports {import} but its manifest does not ask for the graph-admin capability")]
    GraphAdminNotAsked {
        /// The import.
        import: String,
    },
    /// An import berthd does not provide.
    #[error("it imports {import}, which berthd does not provide")]
    UnknownImport {
        /// The import.
        import: String,
    },
}

/// Checks the component's imports and exports against the manifest before
/// linking, so that refusals say what is wrong in berth's terms rather
/// than the linker's.
pub(super) fn check_component_type(
    manifest: &Manifest,
    capabilities: &BTreeSet<Capability>,
    component: &wasmtime::component::Component,
    engine: &wasmtime::Engine,
) -> Result<(), ComponentMismatch> {
    let ty = component.component_type();
    let wanted = format!("berth:plugin/{}@", manifest.world.export_interface());
    let mut implements = false;
    for (name, _) in ty.exports(engine) {
        if let Some(version) = version_in_name(name) {
            let version = version.map_err(|source| ComponentMismatch::BadVersion {
                export: name.to_owned(),
                source,
            })?;
            if version != manifest.wit {
                return Err(ComponentMismatch::WitVersion {
                    built: version,
                    export: name.to_owned(),
                    manifest: manifest.wit.clone(),
                });
            }
            implements |= name.starts_with(&wanted);
        }
    }
    if !implements {
        return Err(ComponentMismatch::MissingExport {
            interface: wanted,
            wit: manifest.wit.clone(),
            world: manifest.world,
        });
    }
    for (name, _) in ty.imports(engine) {
        if name.starts_with("wasi:")
            || name.starts_with("berth:plugin/host@")
            || name.starts_with("berth:plugin/types@")
        {
            continue;
        }
        if name.starts_with("berth:plugin/graph-admin@") {
            if manifest.world == World::JobHandler && capabilities.contains(&Capability::GraphAdmin)
            {
                continue;
            }
            return Err(ComponentMismatch::GraphAdminNotAsked {
                import: name.to_owned(),
            });
        }
        return Err(ComponentMismatch::UnknownImport {
            import: name.to_owned(),
        });
    }
    Ok(())
}
