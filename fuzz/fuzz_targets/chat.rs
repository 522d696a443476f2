#![no_main]
//! Fuzz target `chat`: a chat line → command and answer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        passerelle_fuzz::world().chat(line);
    }
});
