#![no_main]
//! Fuzz target `dates`: dates typed in chat or found in mail.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        passerelle_fuzz::world().dates(text);
    }
});
