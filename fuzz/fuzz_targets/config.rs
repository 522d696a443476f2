#![no_main]
//! Fuzz target `config`: bot.toml text → loaded and validated config.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    passerelle_fuzz::init();
    if let Ok(text) = std::str::from_utf8(data) {
        passerelle::fuzzing::config(text);
    }
});
