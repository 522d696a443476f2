#![no_main]
//! Fuzz target `dates`: see passerelle::fuzzing.

use libfuzzer_sys::fuzz_target;
use passerelle::fuzzing::World;
use std::sync::LazyLock;

static WORLD: LazyLock<World> = LazyLock::new(|| {
    World::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.."
    )))
});

static HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic, even one the bot catches (the mail parser's are
    // caught and make the message unreadable): only panics that escape are findings.
    HOOK.call_once(|| drop(std::panic::take_hook()));
    if let Ok(text) = std::str::from_utf8(data) {
        WORLD.dates(text);
    }
});
