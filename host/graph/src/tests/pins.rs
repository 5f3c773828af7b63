//! The gc race between `add_layer` and `create_image`: a layer added for
//! an image not yet registered is pinned until then.

use std::io::Cursor;

use super::{Fixture, Tar, config_json};

#[test]
fn a_gc_between_add_layer_and_create_image_keeps_the_layer() {
    let f = Fixture::vfs();
    let tar = Tar::new().file("a", "a").build();
    let report = f.graph.add_layer(Cursor::new(tar), None).unwrap();
    let hex = report.diff_id.strip_prefix("sha256:").unwrap().to_owned();
    let gc = f.graph.gc().unwrap();
    assert!(gc.removed.is_empty(), "{gc:?}");
    let id = f
        .graph
        .create_image(&config_json(std::slice::from_ref(&hex), "pin"), Some("p:1"))
        .unwrap();
    // Registered: the image holds it now, the pin is gone.
    f.graph.remove_image("p:1", false).unwrap();
    assert!(f.graph.resolve(&id).is_err());
    let gc = f.graph.gc().unwrap();
    assert!(gc.removed.is_empty(), "rmi collected it already: {gc:?}");
    assert!(!f.layer_diff(&report.diff_id).exists());

    // A pull that gives up releases its layer.
    let tar = Tar::new().file("b", "b").build();
    let report = f.graph.add_layer(Cursor::new(tar), None).unwrap();
    f.graph.release_layer(&report.diff_id);
    let gc = f.graph.gc().unwrap();
    assert_eq!(gc.removed, [report.diff_id[7..].to_owned()]);
}
