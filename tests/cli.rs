//! The real `passerelle` binary against a throwaway config: member imports (CSV and TOML, bad
//! files, bad rows), `doctor` on good and broken files, `ask` in both languages, and `--help`.
//!
//! Each test gets a tempdir of its own holding `bot.toml` and the SQLite store; the config points
//! to the repository's data files by absolute path, so tests run in parallel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");
/// The admin of `tests/fixtures/import/members.csv` (and `.toml`).
const FIXTURE_ADMIN: &str = "armelle.tanguy@example.org";
/// The admin of the sample directory, and the console user of the shipped config.
const SAMPLE_ADMIN: &str = "dominique.lefevre@example.org";
/// People in `members.csv` / `members.toml`.
const FIXTURE_MEMBERS: usize = 6;

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures/import").join(name)
}

/// A path as a TOML string.
fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// What a run of the binary left behind.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Which members the store starts with.
#[derive(Clone, Copy, PartialEq)]
enum Seed {
    /// Organisations only: members come from the test's own imports.
    Empty,
    /// The sample directory and its talks, as in the shipped config.
    Sample,
}

/// A tempdir with a `bot.toml` pointing to the repository's files and a store of its own.
struct Sandbox {
    dir: tempfile::TempDir,
    seed: Seed,
    commands_dir: PathBuf,
    prompts_dir: PathBuf,
}

impl Sandbox {
    fn new(seed: Seed) -> Self {
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
            seed,
            commands_dir: common::root().join("commands"),
            prompts_dir: common::root().join("prompts"),
        };
        sandbox.write_config(&sandbox.config_text());
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config_path(&self) -> PathBuf {
        self.path("bot.toml")
    }

    fn config_text(&self) -> String {
        let data = common::root().join("data");
        let (seed, console_user) = match self.seed {
            Seed::Empty => (String::new(), FIXTURE_ADMIN),
            Seed::Sample => (
                format!(
                    "seed_members = {}\nseed_interventions = {}\n",
                    quoted(&data.join("sample/members.csv")),
                    quoted(&data.join("sample/interventions.csv"))
                ),
                SAMPLE_ADMIN,
            ),
        };
        format!(
            "[bot]\ndefault_language = \"fr\"\ncommands_dir = {}\nprompts_dir = {}\n\n\
             [store]\nurl = \"sqlite://{}\"\n\n\
             [directory]\ntopics = {}\ngeography_dir = {}\norganisations = {}\n{seed}\n\
             [mail]\nrules = {}\n\n\
             [connectors.console]\nuser = \"{console_user}\"\n",
            quoted(&self.commands_dir),
            quoted(&self.prompts_dir),
            self.path("bot.db").display(),
            quoted(&data.join("topics.toml")),
            quoted(&data.join("geo")),
            quoted(&data.join("odf/organisations.csv")),
            quoted(&data.join("mail/rules.toml")),
        )
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Copies the repository's `commands` or `prompts` into the sandbox and points the config
    /// there, so the test may break a file; returns the copy.
    fn local_copy(&mut self, name: &str) -> PathBuf {
        let copy = self.path(name);
        common::copy_dir(&common::root().join(name), &copy);
        match name {
            "commands" => self.commands_dir = copy.clone(),
            "prompts" => self.prompts_dir = copy.clone(),
            other => panic!("no config key for {other}"),
        }
        self.write_config(&self.config_text());
        copy
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("PASSERELLE_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// `passerelle run` with `input` on stdin, until it ends at end of input.
    fn run_console(&self, input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .arg("run")
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("PASSERELLE_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn import(&self, file: &Path, flags: &[&str]) -> Run {
        let file = file.to_str().unwrap();
        let mut args = vec!["import", "members", file];
        args.extend(flags);
        self.run(&args)
    }

    /// Imports `members.csv`, which brings the admin who can read stats and entries.
    fn import_fixture_members(&self) {
        let run = self.import(&fixture("members.csv"), &[]);
        run.assert_code(0);
        assert!(
            run.stdout.contains("6 created, 0 updated"),
            "{}",
            run.stdout
        );
    }

    /// The answer to `line`, asked by the fixture admin in French.
    fn ask_admin(&self, line: &str) -> String {
        let run = self.run(&["ask", "--lang", "fr", "--as", FIXTURE_ADMIN, line]);
        run.assert_code(0);
        run.stdout.clone()
    }

    /// Members in the store, as the `stats` answer counts them.
    fn member_count(&self) -> usize {
        let stats = self.ask_admin("stats");
        let count = stats
            .strip_prefix("Annuaire : ")
            .and_then(|rest| rest.split_once(" membres"))
            .and_then(|(n, _)| n.parse().ok());
        count.unwrap_or_else(|| panic!("unexpected stats answer: {stats}"))
    }
}

/// `{file}: line {line}: {reason}`, as the import prints a bad row.
fn row_error(file: &Path, line: usize, reason: &str) -> String {
    format!("{}: line {line}: {reason}", file.display())
}

#[test]
fn import_members_csv_creates_then_updates_without_duplicates() {
    let sandbox = Sandbox::new(Seed::Empty);
    let file = fixture("members.csv");

    let first = sandbox.import(&file, &[]);
    first.assert_code(0);
    assert_eq!(
        first.stdout,
        format!("{}: 6 created, 0 updated, 0 skipped\n", file.display())
    );
    assert_eq!(first.stderr, "");

    let second = sandbox.import(&file, &[]);
    second.assert_code(0);
    assert_eq!(
        second.stdout,
        format!("{}: 0 created, 6 updated, 0 skipped\n", file.display())
    );

    let stats = sandbox.ask_admin("stats");
    assert!(
        stats.starts_with("Annuaire : 6 membres dont 5 intervenant·es, "),
        "{stats}"
    );
    // Topics given as ids, labels and synonyms all end up as the same topics.
    let cases = [
        (
            "Armelle Tanguy",
            "Licences, Protection des données personnelles",
        ),
        ("Gaspard Vernier", "Normalisation, Qualité des données"),
        ("Solène Marchetti", "Licences, Gouvernance des données"),
        ("Rachid Hamdi", "Réutilisation, API et formats"),
        ("Noémie Carpentier", "Juridique, Transports"),
        ("Loïc Ferrand", "Données géographiques, Licences"),
    ];
    for (name, topics) in cases {
        let entry = sandbox.ask_admin(&format!("fiche de {name}"));
        assert!(entry.starts_with(&format!("Fiche de {name} :")), "{entry}");
        assert!(
            entry.contains(&format!("• Thèmes : {topics}\n")),
            "{name}: {entry}"
        );
    }
    let entry = sandbox.ask_admin("fiche de Armelle Tanguy");
    assert!(
        entry.contains("• Organisation : RENNES METROPOLE\n"),
        "{entry}"
    );
    assert!(
        entry.contains("• Lieu : Ille-et-Vilaine (Bretagne)\n"),
        "{entry}"
    );
}

#[test]
fn import_members_toml_holds_the_same_people_as_the_csv() {
    let sandbox = Sandbox::new(Seed::Empty);
    let toml = fixture("members.toml");
    let run = sandbox.import(&toml, &[]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("{}: 6 created, 0 updated, 0 skipped\n", toml.display())
    );
    assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS);
    let entry = sandbox.ask_admin("fiche de Solène Marchetti");
    assert!(
        entry.contains("• Thèmes : Licences, Gouvernance des données\n"),
        "{entry}"
    );

    // The CSV names the very same people: all of them are updates.
    let csv = fixture("members.csv");
    let run = sandbox.import(&csv, &[]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("{}: 0 created, 6 updated, 0 skipped\n", csv.display())
    );
    assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS);
}

#[test]
fn wrong_columns_stop_the_whole_file() {
    let cases = [
        (
            "unknown_column.csv",
            "line 1: unknown column(s) 'telephone'",
        ),
        (
            "missing_email.csv",
            "line 1: missing required column 'email'",
        ),
    ];
    for (name, problem) in cases {
        let sandbox = Sandbox::new(Seed::Empty);
        sandbox.import_fixture_members();
        let file = fixture(name);
        let run = sandbox.import(&file, &[]);
        run.assert_code(1);
        assert!(
            run.stderr
                .starts_with(&format!("{}: {problem}", file.display())),
            "{name}: {}",
            run.stderr
        );
        assert!(run.stderr.ends_with("nothing imported: 0 invalid row(s)\n"));
        assert_eq!(run.stdout, "");
        // Even --skip-invalid cannot import a file whose columns are wrong.
        sandbox.import(&file, &["--skip-invalid"]).assert_code(1);
        assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS, "{name}");
    }
}

#[test]
fn duplicate_emails_are_named_and_nothing_is_imported() {
    let sandbox = Sandbox::new(Seed::Empty);
    sandbox.import_fixture_members();
    let file = fixture("duplicate_emails.csv");
    let run = sandbox.import(&file, &[]);
    run.assert_code(1);
    assert_eq!(
        run.stderr,
        format!(
            "{}\nnothing imported: 1 invalid row(s); fix them or use --skip-invalid\n",
            row_error(
                &file,
                4,
                "email maud.lescure@example.org already used on line 2"
            )
        )
    );
    assert_eq!(run.stdout, "");
    assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS);
}

#[test]
fn a_latin1_row_is_named_and_nothing_is_imported() {
    let sandbox = Sandbox::new(Seed::Empty);
    sandbox.import_fixture_members();
    let mut bytes = b"email,name,organisation,department,topics\n".to_vec();
    bytes.extend(b"maud.lescure@example.org,Maud Lescure,243500139,35,licensing\n");
    // "Célia Ravel" saved in Latin-1: é is the single byte 0xE9.
    bytes.extend(b"celia.ravel@example.org,C\xe9lia Ravel,215601212,56,governance\n");
    let file = sandbox.write("latin1.csv", &bytes);
    let run = sandbox.import(&file, &[]);
    run.assert_code(1);
    assert!(
        run.stderr.starts_with(&row_error(
            &file,
            3,
            "column 'name' is not valid UTF-8 (save the file as UTF-8)\n"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing imported: 1 invalid row(s)"));
    assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS);
}

#[test]
fn a_latin1_header_is_named_as_an_encoding_problem() {
    let sandbox = Sandbox::new(Seed::Empty);
    let file = sandbox.write("latin1-header.csv", b"email,name,d\xe9partement\n");
    let run = sandbox.import(&file, &[]);
    run.assert_code(1);
    assert!(
        run.stderr.starts_with(&format!(
            "{}: line 1: the header is not valid UTF-8 (save the file as UTF-8)\n",
            file.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn toml_rows_are_reported_at_their_line_with_the_value_as_typed() {
    let sandbox = Sandbox::new(Seed::Empty);
    let toml = "# invented people\n\n[[member]]\nemail = \"maud.lescure@example.org\"\nname = \"Maud Lescure\"\n\n\
                [[member]]\nemail = \"celia.ravel@example.org\"\nname = \"Célia Ravel\"\ntopics = [\"nope\"]\n\
                speaker_consent = \"Peut-Être\"\n";
    let file = sandbox.write("people.toml", toml.as_bytes());
    let run = sandbox.import(&file, &[]);
    run.assert_code(1);
    assert!(
        run.stderr.starts_with(&row_error(
            &file,
            7,
            "unknown topic 'nope'; speaker_consent 'Peut-Être' should be yes or no\n"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_rows_are_reported_and_skipped_on_request() {
    let sandbox = Sandbox::new(Seed::Empty);
    sandbox.import_fixture_members();
    let file = fixture("bad_rows.csv");
    let expected = [
        (3, "unknown topic 'blockchainz'"),
        (4, "unknown department '99'"),
        (5, "'pas-une-adresse' is not an email address"),
        (6, "speaker_consent 'maybe' should be yes or no"),
        (
            7,
            "unavailable period '2027-05-14..2027-05-03' should be \
             YYYY-MM-DD..YYYY-MM-DD with start before end",
        ),
        (
            9,
            "'yvan.morvan:example.org' is not a Matrix id (@name:server)",
        ),
    ];
    let reported: String = expected
        .iter()
        .map(|(line, reason)| row_error(&file, *line, reason) + "\n")
        .collect();

    let run = sandbox.import(&file, &[]);
    run.assert_code(1);
    assert_eq!(
        run.stderr,
        format!("{reported}nothing imported: 6 invalid row(s); fix them or use --skip-invalid\n")
    );
    assert_eq!(run.stdout, "");
    assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS);

    let run = sandbox.import(&file, &["--skip-invalid"]);
    run.assert_code(0);
    assert_eq!(run.stderr, reported);
    assert_eq!(
        run.stdout,
        format!("{}: 2 created, 0 updated, 6 skipped\n", file.display())
    );
    assert_eq!(sandbox.member_count(), FIXTURE_MEMBERS + 2);
    let entry = sandbox.ask_admin("fiche de Bastien Orsini");
    assert!(entry.contains("@bastien.orsini:example.org"), "{entry}");
    let entry = sandbox.ask_admin("fiche de Yvan Morvan");
    assert!(!entry.contains("Fiche de Yvan Morvan"), "{entry}");
}

#[test]
fn doctor_passes_on_a_shipped_like_config() {
    let sandbox = Sandbox::new(Seed::Sample);
    let run = sandbox.run(&["doctor"]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", run.stdout);
    assert_eq!(lines[3], "ok   connectors: console");
    assert_eq!(
        lines[5],
        "ok   outbox: 0 waiting, 0 sent, 0 dead, 0 dropped"
    );
    assert_eq!(lines[6], "ok   no inbound item quarantined");
    assert!(
        lines.iter().all(|l| l.starts_with("ok   ")),
        "{}",
        run.stdout
    );
    assert_eq!(
        lines[0],
        format!("ok   config {}", sandbox.config_path().display())
    );
    let command_files = std::fs::read_dir(common::root().join("commands"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert!(
        lines[1].starts_with(&format!("ok   {command_files} commands, ")),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(" 41 topics, 101 departments"),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].starts_with("ok   store sqlite migrated: "),
        "{}",
        lines[4]
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn doctor_names_an_unknown_config_key_with_its_line() {
    let sandbox = Sandbox::new(Seed::Sample);
    let text = sandbox
        .config_text()
        .replacen("[store]\n", "[store]\ncolour = \"blue\"\n", 1);
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    sandbox.write_config(&text);
    let run = sandbox.run(&["doctor"]);
    run.assert_code(1);
    assert!(
        run.stdout.starts_with(&format!(
            "FAIL {}: TOML parse error at line {line}, column 1",
            sandbox.config_path().display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("unknown field `colour`"),
        "{}",
        run.stdout
    );
}

#[test]
fn doctor_says_what_the_social_relay_misses() {
    let sandbox = Sandbox::new(Seed::Sample);
    let text = sandbox.config_text().replacen(
        "[mail]\n",
        "[social]\nnetworks = [\"masto\"]\n\n[connectors.masto]\ntype = \"mastodon\"\nbase_url = \"https://mastodon.example.org\"\n\n[mail]\nwatched_list = \"membres.example.org\"\n",
        1,
    );
    sandbox.write_config(&text);
    let run = sandbox.run(&["doctor"]);
    run.assert_code(1);
    for expected in [
        "FAIL social.networks: [connectors.masto] is not enabled",
        "FAIL social: drafts from the list or from feeds are shown to nobody",
    ] {
        assert!(run.stdout.contains(expected), "{expected}:\n{}", run.stdout);
    }
}

#[test]
fn doctor_names_a_broken_command_file() {
    let cases = [
        (
            "patterns.fr",
            "patterns.fr = ['(unclosed']",
            "regex parse error",
        ),
        ("colour", "colour = 'blue'", "unknown field `colour`"),
    ];
    for (key, line, expected) in cases {
        let mut sandbox = Sandbox::new(Seed::Empty);
        let commands = sandbox.local_copy("commands");
        let file = commands.join("stats.toml");
        let original = std::fs::read_to_string(&file).unwrap();
        let broken: String = original
            .lines()
            .filter(|l| !l.starts_with(key))
            .chain([line])
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&file, broken).unwrap();
        let run = sandbox.run(&["doctor"]);
        run.assert_code(1);
        let failure = format!("FAIL {}: ", file.display());
        let at = run
            .stdout
            .find(&failure)
            .unwrap_or_else(|| panic!("{key}: {}", run.stdout));
        assert!(run.stdout[at..].contains(expected), "{key}: {}", run.stdout);
        assert!(run.stdout.contains(" problem(s)\n"), "{}", run.stdout);
        assert!(
            !run.stdout.contains("no command file"),
            "a broken file is reported twice: {}",
            run.stdout
        );
    }
}

#[test]
fn doctor_names_a_broken_template_and_its_line() {
    let mut sandbox = Sandbox::new(Seed::Empty);
    let prompts = sandbox.local_copy("prompts");
    let file = prompts.join("fr/profile/back.j2");
    let mut text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1, "the test breaks line 2");
    text.push_str("{% if %}\n");
    std::fs::write(&file, text).unwrap();
    let run = sandbox.run(&["doctor"]);
    run.assert_code(1);
    assert!(
        run.stdout
            .contains(&format!("FAIL {}: line 2: ", file.display())),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with("1 problem(s)\n"), "{}", run.stdout);
}

#[test]
fn ask_in_french_lists_speakers_with_reasons() {
    let sandbox = Sandbox::new(Seed::Sample);
    let run = sandbox.run(&[
        "ask",
        "trouve un intervenant sur les licences ouvertes en Bretagne",
    ]);
    run.assert_code(0);
    let answer = &run.stdout;
    assert!(
        answer.starts_with("Intervenants pour Licences (Bretagne) :\n"),
        "{answer}"
    );
    let reasons: Vec<&str> = answer
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Pourquoi : "))
        .collect();
    assert_eq!(reasons.len(), 5, "{answer}");
    for (rank, reason) in reasons.iter().enumerate() {
        assert!(reason.starts_with("Licences ; même "), "{answer}");
        assert!(answer.contains(&format!("\n{}. ", rank + 1)), "{answer}");
    }
    // Nadia Perrin is on licensing in Bretagne but never agreed to speak.
    assert!(!answer.contains("Nadia Perrin"), "{answer}");
    assert!(!answer.contains("Why:"), "{answer}");
}

#[test]
fn ask_in_english_lists_speakers_with_reasons() {
    let sandbox = Sandbox::new(Seed::Sample);
    let run = sandbox.run(&["ask", "--lang", "en", "find a speaker on licensing"]);
    run.assert_code(0);
    let answer = &run.stdout;
    assert!(answer.starts_with("Speakers for Licensing:\n"), "{answer}");
    let reasons: Vec<&str> = answer
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Why: "))
        .collect();
    assert_eq!(reasons.len(), 5, "{answer}");
    assert!(
        reasons.iter().all(|r| r.starts_with("Licensing")),
        "{answer}"
    );
    assert!(!answer.contains("Pourquoi"), "{answer}");
}

#[test]
fn ask_an_unknown_command_gets_the_unknown_command_answer() {
    let sandbox = Sandbox::new(Seed::Sample);
    let run = sandbox.run(&["ask", "xyzzy"]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("Je n'ai pas compris « xyzzy ».\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Tapez « aide » pour la liste des commandes."),
        "{}",
        run.stdout
    );
}

#[test]
fn ask_stats_as_a_stranger_is_refused_politely() {
    let sandbox = Sandbox::new(Seed::Sample);
    let run = sandbox.run(&["ask", "--as", "nobody@example.org", "stats"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("Désolé, « stats » est réservé à l'équipe d'animation."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("demandez à l'équipe d'animation d'ajouter votre adresse"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Annuaire"), "{}", run.stdout);
}

#[test]
fn help_works_for_every_subcommand() {
    let cases: [(&[&str], &[&str]); 6] = [
        (&["run"], &["Usage: passerelle run", "--config <CONFIG>"]),
        (
            &["ask"],
            &[
                "Usage: passerelle ask [OPTIONS] <TEXT>",
                "<TEXT>",
                "--lang <LANG>",
                "--as <MEMBER>",
            ],
        ),
        (
            &["import"],
            &["Usage: passerelle import", "members", "interventions"],
        ),
        (
            &["import", "members"],
            &[
                "Usage: passerelle import members [OPTIONS] <FILE>",
                "--skip-invalid",
            ],
        ),
        (
            &["import", "interventions"],
            &[
                "Usage: passerelle import interventions [OPTIONS] <FILE>",
                "--skip-invalid",
            ],
        ),
        (
            &["doctor"],
            &["Usage: passerelle doctor", "--config <CONFIG>"],
        ),
    ];
    let sandbox = Sandbox::new(Seed::Empty);
    for (command, expected) in cases {
        let mut args = command.to_vec();
        args.push("--help");
        let run = sandbox.run(&args);
        run.assert_code(0);
        for text in expected {
            assert!(run.stdout.contains(text), "{command:?}: {}", run.stdout);
        }
        assert_eq!(run.stderr, "", "{command:?}");
    }
}

#[test]
fn the_console_survives_bytes_that_are_not_utf8_and_the_outbox_shows_what_it_sent() {
    let sandbox = Sandbox::new(Seed::Sample);
    let mut input =
        b"th\xe8mes\n\xff\xfe\x00\n\nstatistiques\n\x1b[2J\x1b]0;pwned\x07 trouve\n".to_vec();
    input.extend(std::iter::repeat_n(b'a', 10_000));
    input.extend(b"\ntopics\n");
    let run = sandbox.run_console(&input);
    run.assert_code(0);
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'),
        "what a user typed cannot drive the terminal: {:?}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Votre message fait 10000 caractères"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Licensing — "),
        "the line after is answered: {}",
        run.stdout
    );
    // The Latin-1 "thèmes" is not UTF-8: it is answered (as an unknown word), not fatal.
    assert!(run.stdout.contains("Je n'ai pas compris"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Annuaire :"),
        "the line after it is answered: {}",
        run.stdout
    );
    let list = sandbox.run(&["outbox", "list", "--status", "done"]);
    list.assert_code(0);
    assert!(list.stdout.lines().count() >= 3, "{}", list.stdout);
    assert!(list.stdout.contains("console"), "{}", list.stdout);
    let dead = sandbox.run(&["outbox", "list", "--dead"]);
    assert_eq!(dead.stdout, "no messages\n");
    let retry = sandbox.run(&["outbox", "retry", "1"]);
    assert_eq!(retry.code, Some(1), "a delivered message is not sent again");
    assert!(
        retry.stderr.contains("not dead or waiting"),
        "{}",
        retry.stderr
    );
    let drop = sandbox.run(&["outbox", "drop", "99"]);
    assert_eq!(drop.code, Some(1));
}

#[test]
fn a_second_instance_on_the_same_sqlite_file_is_refused_with_a_clear_message() {
    use std::io::Write;
    let sandbox = Sandbox::new(Seed::Sample);
    let mut first = Command::new(BIN)
        .arg("--config")
        .arg(sandbox.config_path())
        .arg("run")
        .current_dir(sandbox.dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The welcome line comes once the instance holds the store.
    let mut stdout = std::io::BufReader::new(first.stdout.take().unwrap());
    let mut welcome = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut welcome).unwrap();
    assert!(welcome.contains("Passerelle"), "{welcome}");
    let second = sandbox.run_console(b"aide\n");
    assert_eq!(second.code, Some(1), "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("is used by another running passerelle"),
        "{}",
        second.stderr
    );
    // The first one still answers, then stops at end of input.
    let mut input = first.stdin.take().unwrap();
    input.write_all(b"topics\n").unwrap();
    drop(input);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(first.wait().unwrap().success());
    assert!(rest.contains("Licensing — "), "{rest}");
    // Once it has stopped, the file is free again.
    sandbox.run_console(b"aide\n").assert_code(0);
}
