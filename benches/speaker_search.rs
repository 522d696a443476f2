//! Speaker search and command parsing at scale: 10,000 generated members, 50,000 past talks.
//!
//! Criterion measures medians; a second pass (after the criterion groups) times every call
//! itself to print median, p99 and max per query, with ratios against baselines measured in the
//! same process. Run with `cargo bench --bench speaker_search`.

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use passerelle::commands::args::{self, ArgContext, ArgValue};
use passerelle::commands::{HANDLERS, Registry};
use passerelle::core::directory::{
    Directory, DirectoryData, Intervention, JobRole, Member, Period, ProposalCount, Role,
};
use passerelle::core::geo::Geography;
use passerelle::core::search::{self, SpeakerQuery, Weights};
use passerelle::core::topics::{TopicIdx, Vocabulary};
use std::hint::black_box;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

const MEMBERS: usize = 10_000;
const INTERVENTIONS: usize = 50_000;
const LIMIT: usize = 5;
const PERCENTILE_RUNS: usize = 2_000;

/// Topics most members claim, and topics almost nobody does.
const POPULAR: &[&str] = &["licensing", "legal", "standards"];
const RARE: &[&str] = &["sport", "telecom", "algorithms-transparency"];

const FR_LINE: &str = "trouve un intervenant sur les licences ouvertes en Bretagne";
const EN_LINE: &str = "find a speaker on GDPR in Gironde in English on 2027-03-12";
const NO_MATCH_LINE: &str = "bonjour à tous, la réunion du comité est décalée à jeudi prochain";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid date")
}

/// SplitMix64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

struct Fixture {
    vocabulary: Vocabulary,
    geography: Geography,
    directory: Directory,
    registry: Registry,
    build_time: Duration,
    queries: Vec<(&'static str, SpeakerQuery)>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(build_fixture);

fn build_fixture() -> Fixture {
    let vocabulary =
        Vocabulary::from_toml(include_str!("../data/topics.toml")).expect("valid vocabulary");
    let geography = Geography::from_csv(
        include_str!("../data/geo/prefectures.csv"),
        include_str!("../data/geo/regions.csv"),
    )
    .expect("valid geography");
    let registry = Registry::load(Path::new("commands"), HANDLERS).expect("valid commands");
    let data = generate(&vocabulary, &geography, &mut Rng(0x5EED_2026));
    let started = Instant::now();
    let directory = Directory::build(data, &vocabulary, &geography, today());
    let build_time = started.elapsed();

    let topic = |id: &str| vocabulary.by_id(id).expect("topic in vocabulary");
    let base = |topics: Vec<TopicIdx>| SpeakerQuery {
        topics,
        place: None,
        language: None,
        date: None,
    };
    let queries = vec![
        ("topic only (licensing)", base(vec![topic("licensing")])),
        (
            "topic + region (legal, Bretagne)",
            SpeakerQuery {
                place: geography.lookup("Bretagne"),
                ..base(vec![topic("legal")])
            },
        ),
        (
            "topic + dept + en + date",
            SpeakerQuery {
                place: geography.lookup("Gironde"),
                language: Some("en".into()),
                date: NaiveDate::from_ymd_opt(2027, 3, 12),
                ..base(vec![topic("standards")])
            },
        ),
        (
            "two topics (licensing, legal)",
            base(vec![topic("licensing"), topic("legal")]),
        ),
        ("rare topic (sport)", base(vec![topic("sport")])),
    ];
    assert!(geography.lookup("Bretagne").is_some() && geography.lookup("Gironde").is_some());
    Fixture {
        vocabulary,
        geography,
        directory,
        registry,
        build_time,
        queries,
    }
}

fn generate(vocabulary: &Vocabulary, geography: &Geography, rng: &mut Rng) -> DirectoryData {
    const FIRST: &[&str] = &[
        "Camille",
        "Dominique",
        "Claude",
        "Yann",
        "Maëlle",
        "Hélène",
        "Jean",
        "Sophie",
        "Karim",
        "Léa",
        "Nicolas",
        "Aurélie",
        "Pierre",
        "Nathalie",
        "Thomas",
        "Gwenaëlle",
    ];
    const LAST: &[&str] = &[
        "Martin",
        "Le Gall",
        "Bernard",
        "Dubois",
        "Moreau",
        "Lefèvre",
        "Garcia",
        "Roux",
        "Fournier",
        "Kerjean",
        "Girard",
        "Bonnet",
        "Mercier",
        "Faure",
        "Chevalier",
        "Morel",
    ];
    const EVENTS: &[&str] = &[
        "Forum open data",
        "Rencontres régionales",
        "Webinaire",
        "Journée technique",
        "Atelier SCDL",
    ];
    // Popular topics weigh 12, rare ones 0.3, the rest 1.
    let weights: Vec<f64> = vocabulary
        .topics()
        .iter()
        .map(|t| {
            if POPULAR.contains(&t.id.as_str()) {
                12.0
            } else if RARE.contains(&t.id.as_str()) {
                0.3
            } else {
                1.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let pick_topic = |rng: &mut Rng| {
        let mut x = rng.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    };
    let departments = geography.departments();
    let day = |offset: i64| today() + chrono::Duration::days(offset);

    let mut members = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let count = 2 + rng.below(4);
        let mut topics: Vec<String> = Vec::with_capacity(count);
        while topics.len() < count {
            let id = &vocabulary.topics()[pick_topic(rng)].id;
            if !topics.contains(id) {
                topics.push(id.clone());
            }
        }
        let mut languages = vec!["fr".to_string()];
        if rng.chance(0.35) {
            languages.push("en".into());
        }
        if rng.chance(0.05) {
            languages.push(["es", "de", "br", "it"][rng.below(4)].into());
        }
        let mut unavailable = Vec::new();
        if rng.chance(0.25) {
            for _ in 0..1 + rng.below(3) {
                let start = day(rng.below(400) as i64 - 30);
                let end = start + chrono::Duration::days(rng.below(30) as i64);
                unavailable.push(Period { start, end });
            }
        }
        members.push(Member {
            id: i as i64 + 1,
            email: format!("membre{i}@collectivite{}.fr", i % 900),
            name: format!(
                "{} {}",
                FIRST[rng.below(FIRST.len())],
                LAST[rng.below(LAST.len())]
            ),
            organisation: None,
            job_role: if rng.chance(0.3) {
                JobRole::Elected
            } else {
                JobRole::Staff
            },
            department: (!rng.chance(0.02))
                .then(|| departments[rng.below(departments.len())].code.clone()),
            topics,
            languages,
            bio: String::new(),
            matrix_id: rng
                .chance(0.6)
                .then(|| format!("@membre{i}:passerelle.example")),
            speaker_consent: rng.chance(0.8),
            access: Role::Member,
            preferred_lang: None,
            unavailable,
        });
    }
    // A few people speak a lot: the member index is skewed towards the start.
    let interventions = (0..INTERVENTIONS)
        .map(|_| {
            let u = rng.unit();
            let member = &members[(u * u * MEMBERS as f64) as usize];
            Intervention {
                member_id: member.id,
                date: day(-(rng.below(3 * 365) as i64)),
                topic: rng.chance(0.7).then(|| member.topics[0].clone()),
                event: EVENTS[rng.below(EVENTS.len())].to_string(),
            }
        })
        .collect();
    let proposals = (0..600)
        .map(|_| ProposalCount {
            member_id: rng.below(MEMBERS) as i64 + 1,
            last: day(-(rng.below(90) as i64)),
            recent: 1 + rng.below(5) as u32,
        })
        .collect();
    DirectoryData {
        organisations: Vec::new(),
        members,
        interventions,
        proposals,
    }
}

fn run_search(f: &Fixture, query: &SpeakerQuery) -> search::SearchOutcome {
    search::search(
        &f.directory,
        &f.vocabulary,
        &f.geography,
        query,
        &Weights::default(),
        LIMIT,
    )
}

/// What the user triggers before ranking: find the command, then the topics in its query.
fn parse_and_match(f: &Fixture, line: &str) -> usize {
    let invocation = f.registry.parse(line).expect("a command");
    let query = invocation.args.get("query").expect("a query argument");
    f.vocabulary.match_text(query).hits.len()
}

/// The whole line → ranked speakers path: command, typed query (date, place, language,
/// topics), search.
fn end_to_end(f: &Fixture, line: &str) -> usize {
    let invocation = f.registry.parse(line).expect("a command");
    let spec = f
        .registry
        .get(invocation.command)
        .spec
        .args
        .iter()
        .find(|a| a.name == "query")
        .expect("query argument spec");
    let ctx = ArgContext {
        vocabulary: &f.vocabulary,
        geography: &f.geography,
        directory: &f.directory,
        registry: &f.registry,
        today: today(),
        thorough: true,
    };
    let raw = &invocation.args["query"];
    match args::parse(spec, raw, &ctx) {
        Ok(ArgValue::Speaker(query)) => run_search(f, &query.query).ranked.len(),
        other => panic!("{raw}: {other:?}"),
    }
}

fn consent_scan(f: &Fixture) -> usize {
    f.directory
        .members
        .iter()
        .filter(|m| m.speaker_consent)
        .count()
}

fn bench_search(c: &mut Criterion) {
    let f = &*FIXTURE;
    let mut group = c.benchmark_group("search");
    for (name, query) in &f.queries {
        group.bench_function(*name, |b| b.iter(|| run_search(f, black_box(query))));
    }
    group.finish();

    let mut group = c.benchmark_group("full_path");
    for (name, line) in [("fr", FR_LINE), ("en", EN_LINE)] {
        group.bench_function(format!("parse+match_text {name}"), |b| {
            b.iter(|| parse_and_match(f, black_box(line)))
        });
        group.bench_function(format!("parse+args+search {name}"), |b| {
            b.iter(|| end_to_end(f, black_box(line)))
        });
    }
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let f = &*FIXTURE;
    let mut group = c.benchmark_group("registry_parse");
    for (name, line) in [
        ("match fr", FR_LINE),
        ("match en", EN_LINE),
        ("no match", NO_MATCH_LINE),
    ] {
        group.bench_function(name, |b| b.iter(|| f.registry.parse(black_box(line))));
    }
    group.finish();
}

fn bench_baseline(c: &mut Criterion) {
    let f = &*FIXTURE;
    let mut group = c.benchmark_group("baseline");
    group.bench_function("match_text(licences)", |b| {
        b.iter(|| f.vocabulary.match_text(black_box("licences")))
    });
    group.bench_function("consent scan 10k", |b| {
        b.iter(|| consent_scan(black_box(f)))
    });
    group.finish();
}

struct Stats {
    median: f64,
    p99: f64,
    max: f64,
}

/// Times every call; microseconds.
fn measure<T>(runs: usize, mut call: impl FnMut() -> T) -> Stats {
    for _ in 0..runs / 10 + 1 {
        black_box(call());
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            black_box(call());
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p99: at(0.99),
        max: times[times.len() - 1],
    }
}

/// Per-call percentiles, which criterion does not give. Runs after the criterion groups.
fn latency_table(_: &mut Criterion) {
    let f = &*FIXTURE;
    // Under `cargo test --benches` criterion only smoke-tests; do the same here.
    let runs = if std::env::args().any(|a| a == "--bench") {
        PERCENTILE_RUNS
    } else {
        20
    };
    let text = measure(runs, || f.vocabulary.match_text(black_box("licences")));
    let scan = measure(runs, || consent_scan(black_box(f)));

    let mut rows: Vec<(String, Stats, String)> = Vec::new();
    for (name, query) in &f.queries {
        let outcome = run_search(f, query);
        let note = format!(
            "{} candidates, {} kept",
            outcome.matching,
            outcome.matching - outcome.wrong_language - outcome.unavailable
        );
        rows.push((
            format!("search: {name}"),
            measure(runs, || run_search(f, black_box(query))),
            note,
        ));
    }
    for (name, line) in [("fr", FR_LINE), ("en", EN_LINE)] {
        rows.push((
            format!("parse+match_text {name}"),
            measure(runs, || parse_and_match(f, black_box(line))),
            String::new(),
        ));
        rows.push((
            format!("parse+args+search {name}"),
            measure(runs, || end_to_end(f, black_box(line))),
            String::new(),
        ));
    }
    for (name, line) in [
        ("match fr", FR_LINE),
        ("match en", EN_LINE),
        ("no match", NO_MATCH_LINE),
    ] {
        rows.push((
            format!("registry.parse {name}"),
            measure(runs, || f.registry.parse(black_box(line))),
            String::new(),
        ));
    }

    println!();
    println!(
        "Per-call latency, {runs} timed calls each; {MEMBERS} members, {INTERVENTIONS} talks, \
         {} consenting; Directory::build took {:.1} ms",
        consent_scan(f),
        f.build_time.as_secs_f64() * 1e3
    );
    println!(
        "Baselines: match_text(\"licences\") median {:.2} µs (p99 {:.2}); consent scan median \
         {:.2} µs (p99 {:.2})",
        text.median, text.p99, scan.median, scan.p99
    );
    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>10} {:>8}  p99<1ms",
        "case", "median µs", "p99 µs", "max µs", "×match", "×scan"
    );
    println!("{}", "-".repeat(112));
    for (name, stats, note) in &rows {
        println!(
            "{:<44} {:>10.2} {:>10.2} {:>10.2} {:>10.1} {:>8.2}  {:<4} {}",
            name,
            stats.median,
            stats.p99,
            stats.max,
            stats.median / text.median,
            stats.median / scan.median,
            if stats.p99 < 1000.0 { "yes" } else { "NO" },
            note
        );
    }
    println!();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_baseline, bench_search, bench_parse
}
criterion_group! {
    name = percentiles;
    config = config();
    targets = latency_table
}
criterion_main!(benches, percentiles);
