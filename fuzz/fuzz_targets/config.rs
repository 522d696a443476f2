#![no_main]
//! Fuzz target `config`: see passerelle::fuzzing.

use libfuzzer_sys::fuzz_target;

static HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic, even one the bot catches (the mail parser's are
    // caught and make the message unreadable): only panics that escape are findings.
    HOOK.call_once(|| drop(std::panic::take_hook()));
    if let Ok(text) = std::str::from_utf8(data) {
        passerelle::fuzzing::config(text);
    }
});
