//! Replays every input the fuzzers found (fuzz/regressions/<target>/, copied there by
//! scripts/fuzz.sh) through the same entry points: each once crashed the bot and must not again.

mod common;

use passerelle::fuzzing::World;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = common::root().join("fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    found.sort();
    found
}

#[test]
fn what_the_fuzzers_found_no_longer_crashes() {
    let world = World::load(common::root());
    let mut replayed = 0;
    for (name, bytes) in inputs("mail") {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.mail(&bytes)));
        assert!(result.is_ok(), "{name} still crashes mail understanding");
        replayed += 1;
    }
    for (target, run) in [
        ("chat", &(|t: &str| world.chat(t)) as &dyn Fn(&str)),
        ("dates", &|t: &str| world.dates(t)),
        ("config", &|t: &str| passerelle::fuzzing::config(t)),
    ] {
        for (name, bytes) in inputs(target) {
            let text = String::from_utf8_lossy(&bytes);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&text)));
            assert!(result.is_ok(), "{name} still crashes {target}");
            replayed += 1;
        }
    }
    // The first finding: mail-parser 0.11 panics on this broken multipart report.
    assert!(replayed >= 1, "the recorded findings are replayed");
}

/// The message that panicked mail-parser, as the bot reads it: unreadable, never answered.
#[test]
fn the_message_that_panicked_the_parser_is_unreadable() {
    let raw =
        std::fs::read(common::root().join("tests/fixtures/poison/mail-parser-invalid-part-id.eml"))
            .unwrap();
    let error = passerelle::mail::parse(&raw).unwrap_err();
    assert!(error.to_string().contains("Invalid part ID"), "{error}");
}
