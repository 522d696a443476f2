//! What every fuzz target needs: the shipped data loaded once, and panics judged as the bot
//! would judge them.

use passerelle::fuzzing::World;
use std::sync::{LazyLock, Once};

static WORLD: LazyLock<World> = LazyLock::new(|| {
    World::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.."
    )))
});

static HOOK: Once = Once::new();

/// libfuzzer-sys aborts on any panic, even one the bot catches (the mail parser's are caught
/// and make the message unreadable): with the default hook back, only panics that escape are
/// findings.
pub fn init() {
    HOOK.call_once(|| drop(std::panic::take_hook()));
}

/// The world of the checkout this crate sits in.
pub fn world() -> &'static World {
    init();
    &WORLD
}
