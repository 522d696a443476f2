//! Understanding one chat line, and starting with every commune loaded.
//!
//! Lines: the invented phrasings of tests/eval/chat.toml, each read as the bot reads it
//! (patterns, then cue words of the whole registry, then every argument parsed against the
//! vocabulary, the full commune list and the sample directory). Baseline in the same run: the
//! same lines through the command patterns alone, which is all the bot did before free
//! phrasing. Start-up: loading commands, prompts, vocabulary and geography with the commune file,
//! against the same load without the commune file. Prints median, p99 and max, and ratios.
//! Run with `cargo bench --bench understanding`.

use passerelle::app;
use passerelle::commands::Interpretation;
use passerelle::commands::args::{self, ArgContext};
use passerelle::commands::registry::ArgSpec;
use passerelle::config::Config;
use passerelle::core::geo::Geography;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 20;
const LOADS: usize = 15;
/// Lines named as the slowest: p99 of 20 rounds of 470 lines falls among the top few.
const SLOWEST: usize = 8;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> Config {
    let source = std::fs::read_to_string(root().join("bot.toml")).expect("bot.toml");
    let mut config = Config::parse(&source, &root().join("bot.toml")).expect("bot.toml parses");
    config.store.url = "sqlite::memory:".into();
    config
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), *times.last().expect("timed"))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let config = config();
    let knowledge = app::load_knowledge(&config).expect("knowledge loads");
    let today = "2026-11-26".parse().expect("date");
    let directory = passerelle::import::directory_from_files(
        &std::fs::read(root().join("data/sample/members.csv")).expect("sample"),
        &std::fs::read(root().join("data/odf/organisations.csv")).expect("organisations"),
        &knowledge.vocabulary,
        &knowledge.geography,
        today,
    )
    .expect("the sample directory");
    let set: toml::Table = toml::from_str(
        &std::fs::read_to_string(root().join("tests/eval/chat.toml")).expect("eval set"),
    )
    .expect("eval set parses");
    let lines: Vec<String> = set["case"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["line"].as_str().expect("line").to_string())
        .collect();
    let arg_ctx = ArgContext {
        vocabulary: &knowledge.vocabulary,
        geography: &knowledge.geography,
        directory: &directory,
        registry: &knowledge.registry,
        today,
        thorough: true,
    };
    // As the bot answers a line: weighed with quick parses, then the chosen command's
    // arguments parsed thoroughly, reusing what parsed while weighing.
    let understand = |line: &str| {
        let weighing = args::Weighing::new(&arg_ctx);
        let valid = |spec: &ArgSpec, raw: &str| weighing.valid(spec, raw);
        if let Interpretation::Command(invocation) = knowledge.registry.interpret(line, &valid) {
            for spec in &knowledge.registry.get(invocation.command).spec.args {
                if let Some(raw) = invocation.args.get(&spec.name) {
                    let _ = black_box(weighing.parse(spec, raw, &arg_ctx));
                }
            }
        }
    };
    let patterns_only = |line: &str| {
        black_box(knowledge.registry.parse_in(line, None));
    };

    // Warm up, then time each line in every round, alternating the two so that machine load
    // falls on both alike.
    for line in &lines {
        understand(line);
        patterns_only(line);
    }
    let (mut full, mut base) = (Vec::new(), Vec::new());
    let mut per_line = vec![Vec::with_capacity(ROUNDS); lines.len()];
    for _ in 0..ROUNDS {
        for (i, line) in lines.iter().enumerate() {
            let start = Instant::now();
            understand(line);
            let took = start.elapsed();
            full.push(took);
            per_line[i].push(took);
            let start = Instant::now();
            patterns_only(line);
            base.push(start.elapsed());
        }
    }
    let (full50, full99, full_max) = percentiles(full);
    let (base50, base99, base_max) = percentiles(base);
    println!(
        "one chat line, {} real phrasings x {ROUNDS} rounds (patterns, cues of {} commands, every argument against {} communes):",
        lines.len(),
        knowledge.registry.commands().len(),
        knowledge.geography.communes().len()
    );
    println!(
        "  understood : median {:7.1} µs  p99 {:7.1} µs  max {:8.1} µs",
        micros(full50),
        micros(full99),
        micros(full_max)
    );
    println!(
        "  patterns   : median {:7.1} µs  p99 {:7.1} µs  max {:8.1} µs   (baseline, same run)",
        micros(base50),
        micros(base99),
        micros(base_max)
    );
    println!(
        "  ratio      : median {:.1}x  p99 {:.1}x",
        full50.as_secs_f64() / base50.as_secs_f64(),
        full99.as_secs_f64() / base99.as_secs_f64()
    );

    // The tail is a few lines slow in every round, not noise: name them.
    let mut slowest: Vec<(Duration, &String)> = per_line
        .into_iter()
        .zip(&lines)
        .map(|(times, line)| (percentiles(times).0, line))
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!("  slowest lines (median of their rounds):");
    for (median, line) in slowest.iter().take(SLOWEST) {
        println!("    {:7.1} µs  {line}", micros(*median));
    }

    // Start-up: the whole knowledge; and the geography with and without the commune file.
    let geo = root().join("data/geo");
    let read = |name: &str| std::fs::read_to_string(geo.join(name)).expect("geo file");
    let (mut whole, mut with, mut without) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LOADS {
        let start = Instant::now();
        black_box(app::load_knowledge(&config).expect("knowledge loads"));
        whole.push(start.elapsed());
        let start = Instant::now();
        let (p, r, c) = (
            read("prefectures.csv"),
            read("regions.csv"),
            read("communes.csv"),
        );
        black_box(
            Geography::from_csv(&p, &r)
                .and_then(|g| g.with_communes(&c))
                .expect("geography"),
        );
        with.push(start.elapsed());
        let start = Instant::now();
        let (p, r) = (read("prefectures.csv"), read("regions.csv"));
        black_box(Geography::from_csv(&p, &r).expect("geography"));
        without.push(start.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (whole50, whole_max, _) = percentiles(whole);
    let (with50, _, _) = percentiles(with);
    let (without50, _, _) = percentiles(without);
    println!("start-up, {LOADS} loads:");
    println!(
        "  whole knowledge (commands, prompts, vocabulary, rules, geography with communes): median {:6.1} ms, worst {:6.1} ms",
        ms(whole50),
        ms(whole_max)
    );
    println!(
        "  geography with communes {:6.1} ms, without {:6.1} ms (same run): the communes cost {:6.1} ms",
        ms(with50),
        ms(without50),
        ms(with50.saturating_sub(without50))
    );
}
