#![no_main]
//! Fuzz target `config`: see passerelle::fuzzing.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        passerelle::fuzzing::config(text);
    }
});
