//! The data the bot runs on: every command file loads and every example parses to its command
//! with valid arguments; every prompt renders in both languages; broken files are named.

mod common;

use passerelle::commands::args::{self, ArgContext};
use passerelle::commands::{HANDLERS, Registry};
use passerelle::core::lang::Lang;
use passerelle::prompts::{Prompts, render_samples};

/// Every error of a failed load, as one text to search.
fn joined<E: std::fmt::Display>(errors: Vec<E>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_example_parses_to_its_command_with_valid_arguments() {
    let knowledge = common::knowledge();
    let registry = &knowledge.registry;
    assert_eq!(registry.commands().len(), HANDLERS.len());
    let directory = common::sample_directory(&knowledge);
    let arg_ctx = ArgContext {
        vocabulary: &knowledge.vocabulary,
        geography: &knowledge.geography,
        directory: &directory,
        registry,
        today: "2026-11-26".parse().unwrap(),
        thorough: true,
    };
    let mut checked = 0;
    for (i, command) in registry.commands().iter().enumerate() {
        for lang in Lang::ALL {
            for example in command.spec.examples.get(lang) {
                let invocation = registry.parse(example).unwrap_or_else(|| {
                    panic!(
                        "{}: example '{example}' matches no command",
                        command.file.display()
                    )
                });
                assert_eq!(
                    invocation.command,
                    i,
                    "{}: '{example}' parsed as {}",
                    command.file.display(),
                    registry.get(invocation.command).spec.name
                );
                let in_its_language = registry
                    .parse_in(example, Some(lang))
                    .map(|inv| inv.command);
                assert_eq!(
                    in_its_language,
                    Some(i),
                    "{}: '{example}' is listed as {lang}",
                    command.file.display()
                );
                for spec in &command.spec.args {
                    if let Some(raw) = invocation.args.get(&spec.name) {
                        args::parse(spec, raw, &arg_ctx).unwrap_or_else(|e| {
                            panic!(
                                "{}: '{example}': argument {} = '{raw}': {e:?}",
                                command.file.display(),
                                spec.name
                            )
                        });
                    } else {
                        assert!(
                            !spec.required,
                            "{}: '{example}' lacks required {}",
                            command.file.display(),
                            spec.name
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * HANDLERS.len());
}

#[test]
fn every_prompt_renders_in_every_language() {
    let prompts =
        Prompts::load(&common::root().join("prompts")).unwrap_or_else(|e| panic!("{e:?}"));
    let rendered = render_samples(&prompts, &common::root().join("prompts/samples.toml"))
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(rendered, prompts.keys().count() * Lang::ALL.len());
    // French and English really differ: a template copied without translation is a defect.
    let samples: toml::Table = toml::from_str(
        &std::fs::read_to_string(common::root().join("prompts/samples.toml")).unwrap(),
    )
    .unwrap();
    for key in prompts.keys() {
        let fr = prompts.render(Lang::Fr, key, &samples[key]).unwrap();
        let en = prompts.render(Lang::En, key, &samples[key]).unwrap();
        assert_ne!(fr, en, "prompt {key} is the same in both languages");
    }
}

#[test]
fn a_broken_command_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&common::root().join("commands"), dir.path());
    let cases = [
        ("patterns.fr = ['(unclosed']", "regex"),
        ("colour = 'blue'", "unknown field"),
        (
            "patterns.fr = ['aide (?P<nope>.+)']",
            "not a declared argument",
        ),
    ];
    for (line, expected) in cases {
        let file = dir.path().join("stats.toml");
        let original = std::fs::read_to_string(common::root().join("commands/stats.toml")).unwrap();
        let broken = original
            .lines()
            .filter(|l| !l.starts_with(line.split(' ').next().unwrap()))
            .chain([line])
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&file, broken).unwrap();
        let message = joined(Registry::load(dir.path(), HANDLERS).unwrap_err());
        assert!(message.contains("stats.toml"), "{line}: {message}");
        assert!(message.contains(expected), "{line}: {message}");
    }
    std::fs::remove_file(dir.path().join("stats.toml")).unwrap();
    let message = joined(Registry::load(dir.path(), HANDLERS).unwrap_err());
    assert!(
        message.contains("no command file for the built-in command 'stats'"),
        "{message}"
    );
}

#[test]
fn a_broken_template_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&common::root().join("prompts"), dir.path());
    let file = dir.path().join("fr/profile/back.j2");
    std::fs::write(&file, "Bon retour !\n{% if %}\n").unwrap();
    let message = joined(Prompts::load(dir.path()).unwrap_err());
    assert!(
        message.contains("back.j2") && message.contains("line 2"),
        "{message}"
    );

    std::fs::write(&file, "Bon retour {{ nom }} !\n").unwrap();
    let prompts = Prompts::load(dir.path()).unwrap();
    let errors = render_samples(&prompts, &dir.path().join("samples.toml")).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("fr/profile/back") && e.contains("undefined")),
        "{errors:?}"
    );

    std::fs::remove_file(dir.path().join("en/profile/back.j2")).unwrap();
    let message = joined(Prompts::load(dir.path()).unwrap_err());
    assert!(
        message.contains("'profile/back' exists in fr but not in en"),
        "{message}"
    );
}
