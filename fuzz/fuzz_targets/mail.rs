#![no_main]
//! Fuzz target `mail`: see passerelle::fuzzing.

use libfuzzer_sys::fuzz_target;
use passerelle::fuzzing::World;
use std::sync::LazyLock;

static WORLD: LazyLock<World> = LazyLock::new(|| {
    World::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.."
    )))
});

fuzz_target!(|data: &[u8]| {
    WORLD.mail(data);
});
