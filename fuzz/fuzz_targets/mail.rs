#![no_main]
//! Fuzz target `mail`: raw mail → understanding, sender verdict, decision.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    passerelle_fuzz::world().mail(data);
});
