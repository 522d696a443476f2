//! The evaluation of understanding (tests/eval/): every chat phrasing of the public set is read
//! as the bot reads it, and each field is compared with what a person meant. Prints per-field
//! accuracy and every failure (`cargo test --test eval -- --nocapture`), and fails below the
//! bar the issue set. The held-out set is measured and printed with a lower floor: it is not
//! tuned on, so its figure is the honest one.

mod common;

use common::score::{Score, place_code};

use passerelle::commands::Interpretation;
use passerelle::commands::args::{self, ArgContext, ArgValue};
use passerelle::core::directory::Directory;
use passerelle::engine::Knowledge;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct ChatSet {
    today: chrono::NaiveDate,
    case: Vec<ChatCase>,
}

#[derive(Deserialize)]
struct ChatCase {
    line: String,
    lang: String,
    intent: String,
    #[serde(flatten)]
    slots: BTreeMap<String, toml::Value>,
}

/// The slots the bot read from a line, written as the evaluation files write them.
fn read_slots(
    knowledge: &Knowledge,
    values: &BTreeMap<String, ArgValue>,
    directory: &Directory,
) -> BTreeMap<String, toml::Value> {
    use toml::Value;
    let mut out = BTreeMap::new();
    let day = |d: chrono::NaiveDate| Value::String(d.to_string());
    let topic_ids = |topics: &[u16]| {
        let mut ids: Vec<String> = topics
            .iter()
            .map(|&t| knowledge.vocabulary.get(t).id.clone())
            .collect();
        ids.sort();
        Value::Array(ids.into_iter().map(Value::String).collect())
    };
    for (name, value) in values {
        match value {
            ArgValue::Speaker(request) => {
                let query = &request.query;
                if let Some(format) = request.format {
                    out.insert("format".into(), Value::String(format.to_string()));
                }
                if let Some(abroad) = &request.abroad {
                    out.insert("place".into(), Value::String(format!("abroad:{abroad}")));
                }
                if request.online {
                    out.insert("online".into(), Value::Boolean(true));
                }
                if !query.topics.is_empty() {
                    out.insert("topics".into(), topic_ids(&query.topics));
                }
                if let Some(place) = query.place {
                    out.insert(
                        "place".into(),
                        Value::String(place_code(&knowledge.geography, place)),
                    );
                }
                if let Some(language) = &query.language {
                    out.insert("language".into(), Value::String(language.clone()));
                }
                match (query.date, request.until) {
                    (Some(first), Some(last)) => {
                        out.insert("dates".into(), Value::Array(vec![day(first), day(last)]));
                    }
                    (Some(date), None) => {
                        out.insert("date".into(), day(date));
                    }
                    _ => {}
                }
            }
            ArgValue::Topics(topics) => {
                out.insert("topics".into(), topic_ids(topics));
            }
            ArgValue::Period(period) => {
                out.insert(
                    "period".into(),
                    Value::Array(vec![day(period.start), day(period.end)]),
                );
            }
            ArgValue::Language(code) => {
                out.insert("language".into(), Value::String(code.clone()));
            }
            ArgValue::Member(i) => {
                out.insert(
                    name.clone(),
                    Value::String(directory.members[*i].name.clone()),
                );
            }
            ArgValue::Ticket(n) => {
                out.insert("ticket".into(), Value::Integer(*n));
            }
            ArgValue::Draft(n) => {
                out.insert("draft".into(), Value::Integer(*n));
            }
            ArgValue::Moment(d, time) => {
                let at = time.map_or(String::new(), |t| format!(" {}", t.format("%H:%M")));
                out.insert("at".into(), Value::String(format!("{d}{at}")));
            }
            ArgValue::Text(text) => {
                out.insert("text".into(), Value::String(text.clone()));
            }
            ArgValue::Command(i) => {
                out.insert(
                    "command".into(),
                    Value::String(knowledge.registry.get(*i).spec.name.clone()),
                );
            }
            ArgValue::Date(d) => {
                out.insert("date".into(), day(*d));
            }
            ArgValue::Place(place) => {
                out.insert(
                    "place".into(),
                    Value::String(place_code(&knowledge.geography, *place)),
                );
            }
        }
    }
    out
}

/// A value as compared: topic lists are sets, text is trimmed.
fn normalized(field: &str, value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::Array(items) if field == "topics" => {
            let mut items = items.clone();
            items.sort_by_key(|v| v.to_string());
            toml::Value::Array(items)
        }
        toml::Value::String(s) => toml::Value::String(s.trim().to_string()),
        other => other.clone(),
    }
}

fn read_set(file: &str) -> ChatSet {
    toml::from_str(&std::fs::read_to_string(common::root().join("tests/eval").join(file)).unwrap())
        .unwrap()
}

/// The arguments' context of a set, as the bot answers: with suggestions and close spellings.
fn arg_context<'a>(
    knowledge: &'a Knowledge,
    directory: &'a Directory,
    set: &ChatSet,
) -> ArgContext<'a> {
    ArgContext {
        vocabulary: &knowledge.vocabulary,
        geography: &knowledge.geography,
        directory,
        registry: &knowledge.registry,
        today: set.today,
        thorough: true,
    }
}

/// A line read as the bot reads it, and what parsed while it was weighed.
fn interpret<'a>(
    knowledge: &Knowledge,
    arg_ctx: &ArgContext<'a>,
    line: &str,
) -> (Interpretation, args::Weighing<'a>) {
    let weighing = args::Weighing::new(arg_ctx);
    let valid =
        |spec: &passerelle::commands::registry::ArgSpec, raw: &str| weighing.valid(spec, raw);
    let interpretation = knowledge.registry.interpret(line, &valid);
    (interpretation, weighing)
}

fn run_chat(file: &str) -> Score {
    let knowledge = common::knowledge();
    let directory = common::sample_directory(&knowledge);
    let set = read_set(file);
    let arg_ctx = arg_context(&knowledge, &directory, &set);
    let mut score = Score::default();
    for case in &set.case {
        let (interpretation, weighing) = interpret(&knowledge, &arg_ctx, &case.line);
        let (intent, lang, raw) = match &interpretation {
            Interpretation::Command(inv) => (
                knowledge.registry.get(inv.command).spec.name.clone(),
                Some(inv.lang.code().to_string()),
                Some(inv),
            ),
            Interpretation::Ambiguous(commands) => (
                format!(
                    "clarify({})",
                    commands
                        .iter()
                        .map(|&i| knowledge.registry.get(i).spec.name.as_str())
                        .collect::<Vec<_>>()
                        .join("|")
                ),
                None,
                None,
            ),
            Interpretation::Unknown => ("none".to_string(), None, None),
        };
        let intent_right = intent == case.intent;
        score.count("intent", intent_right);
        if !intent_right {
            score.failures.push(format!(
                "intent {:?}: got {intent}, want {}",
                case.line, case.intent
            ));
            continue;
        }
        if let Some(lang) = lang {
            let right = lang == case.lang;
            score.count("lang", right);
            if !right {
                score.failures.push(format!(
                    "lang {:?}: got {lang}, want {}",
                    case.line, case.lang
                ));
            }
        }
        let Some(invocation) = raw else {
            continue;
        };
        let mut values = BTreeMap::new();
        let mut error = None;
        for spec in &knowledge.registry.get(invocation.command).spec.args {
            if let Some(text) = invocation.args.get(&spec.name) {
                match weighing.parse(spec, text, &arg_ctx) {
                    Ok(value) => {
                        values.insert(spec.name.clone(), value);
                    }
                    Err(e) => error = Some(format!("{}={text:?}: {e:?}", spec.name)),
                }
            }
        }
        let got = read_slots(&knowledge, &values, &directory);
        let fields: std::collections::BTreeSet<&String> =
            case.slots.keys().chain(got.keys()).collect();
        for field in fields {
            let want = case.slots.get(field).map(|v| normalized(field, v));
            let have = got.get(field).map(|v| normalized(field, v));
            let right = want == have;
            score.count(field, right);
            if !right {
                score.failures.push(format!(
                    "{field} {:?}: got {}, want {}{}",
                    case.line,
                    have.map_or("nothing".into(), |v| v.to_string()),
                    want.map_or("nothing".into(), |v| v.to_string()),
                    error.as_ref().map_or(String::new(), |e| format!(" ({e})"))
                ));
            }
        }
    }
    score
}

/// The bar: intent 97 %, every slot 95 %.
fn target(field: &str) -> f64 {
    if field == "intent" { 0.97 } else { 0.95 }
}

/// Floors just under what the public set measures (intent 99.1 %): a regression below them
/// fails. Fields still short of [`target`] are printed; they
/// are the work left, not a pass.
const FLOORS: &[(&str, f64)] = &[
    ("intent", 0.98),
    ("lang", 0.98),
    ("topics", 0.95),
    ("place", 0.97),
    ("date", 0.95),
    ("dates", 0.95),
    ("format", 0.95),
    ("online", 0.95),
    ("language", 0.95),
    ("period", 0.95),
    ("command", 1.0),
    ("text", 0.95),
    ("ticket", 0.98),
    ("member", 0.95),
    ("speaker", 0.95),
];

#[test]
fn chat_understanding_on_the_public_set() {
    let score = run_chat("chat.toml");
    score.print("chat.toml (public)", true);
    let bars: Vec<(&str, f64)> = score
        .fields
        .keys()
        .map(|f| (f.as_str(), target(f)))
        .collect();
    println!(
        "short of the issue's bar: {}",
        score.below(&bars).join(", ")
    );
    score.assert_floors(FLOORS);
}

/// Prints a set's figures (its failures too unless it is held out) and checks its intent against
/// a floor against regressions, not the target.
fn check_intent(file: &str, title: &str, show_failures: bool, floor: f64) {
    let score = run_chat(file);
    score.print(title, show_failures);
    assert!(
        score.accuracy("intent") >= floor,
        "intent {:.1} %",
        100.0 * score.accuracy("intent")
    );
}

/// A second development set in another style (texting, formal letters, relayed requests,
/// non-native English), written after the first was tuned on, to generalise on.
#[test]
fn chat_understanding_on_the_second_development_set() {
    check_intent("chat-dev2.toml", "chat-dev2.toml (development)", true, 0.93);
}

/// A third development set written later, without the code or the other sets' failures in
/// view (dictated run-on lines, slang, terse keyword lines, relayed requests).
#[test]
fn chat_understanding_on_the_third_development_set() {
    check_intent("chat-dev3.toml", "chat-dev3.toml (development)", true, 0.97);
}

/// A fourth development set by another writer, with the news commands and team-room chatter
/// that must not be taken for commands.
#[test]
fn chat_understanding_on_the_fourth_development_set() {
    check_intent("chat-dev4.toml", "chat-dev4.toml (development)", true, 0.97);
}

/// A fifth development set by another writer: a busy team room, how-to questions,
/// thread-like replies and chatter.
#[test]
fn chat_understanding_on_the_fifth_development_set() {
    check_intent("chat-dev5.toml", "chat-dev5.toml (development)", true, 0.94);
}

/// A sixth development set by another writer: phone-typed lines in a busy room, SMS
/// shorthand, context before the request, the bot named, searches without a topic and topics
/// in everyday words.
#[test]
fn chat_understanding_on_the_sixth_development_set() {
    check_intent("chat-dev6.toml", "chat-dev6.toml (development)", true, 0.97);
}

/// A seventh development set by another writer: dictated run-on lines, long polite ones,
/// franglais, Belgian and Québécois French, commands asked as questions, dates such as "the
/// week after next", the important part last.
#[test]
fn chat_understanding_on_the_seventh_development_set() {
    check_intent("chat-dev7.toml", "chat-dev7.toml (development)", true, 0.97);
}

/// An eighth development set by another writer: marketing tone with emoji, a lawyer's long
/// sentences, a hesitant intern, non-native English, terse orders, pasted mail fragments.
#[test]
fn chat_understanding_on_the_eighth_development_set() {
    check_intent("chat-dev8.toml", "chat-dev8.toml (development)", true, 0.93);
}

/// A ninth development set by another writer: speech-to-text dictation, a formal elected
/// official, Swiss and African French, a Canadian, flag-like terse commands, thread replies.
#[test]
fn chat_understanding_on_the_ninth_development_set() {
    check_intent("chat-dev9.toml", "chat-dev9.toml (development)", true, 0.92);
}

/// A tenth development set by another writer: autocorrect slips late at night, context-heavy
/// civil servants, data engineers' jargon, headline style, self-corrections, Indian, Nigerian
/// and Dutch English.
#[test]
fn chat_understanding_on_the_tenth_development_set() {
    check_intent(
        "chat-dev10.toml",
        "chat-dev10.toml (development)",
        true,
        0.94,
    );
}

/// An eleventh development set by another writer: a village councillor's plain words, a
/// press officer's fragments, capitals, Spanish and Italian French, thread replies quoting the
/// bot, requests in the negative or the conditional.
#[test]
fn chat_understanding_on_the_eleventh_development_set() {
    check_intent(
        "chat-dev11.toml",
        "chat-dev11.toml (development)",
        true,
        0.91,
    );
}

/// Figures only: its failures are not shown, so that nobody tunes on them.
#[test]
fn chat_understanding_on_the_held_out_set() {
    check_intent(
        "chat-holdout.toml",
        "chat-holdout.toml (held out, not tuned on)",
        false,
        0.85,
    );
}

/// What parsed while a line was weighed is reused for the answer: it must be what a thorough
/// parse gives, for every argument of every line of every set.
#[test]
fn arguments_reused_from_weighing_are_those_parsed_thoroughly() {
    let knowledge = common::knowledge();
    let directory = common::sample_directory(&knowledge);
    let mut reused = 0;
    for file in [
        "chat.toml",
        "chat-dev2.toml",
        "chat-dev3.toml",
        "chat-dev4.toml",
        "chat-dev5.toml",
        "chat-dev6.toml",
        "chat-dev7.toml",
        "chat-dev8.toml",
        "chat-dev9.toml",
        "chat-dev10.toml",
        "chat-dev11.toml",
        "chat-holdout.toml",
    ] {
        let set = read_set(file);
        let arg_ctx = arg_context(&knowledge, &directory, &set);
        for case in &set.case {
            let (Interpretation::Command(invocation), weighing) =
                interpret(&knowledge, &arg_ctx, &case.line)
            else {
                continue;
            };
            for spec in &knowledge.registry.get(invocation.command).spec.args {
                let Some(text) = invocation.args.get(&spec.name) else {
                    continue;
                };
                let thorough = args::parse(spec, text, &arg_ctx);
                if thorough.is_ok() {
                    reused += 1;
                }
                assert_eq!(
                    format!("{:?}", weighing.parse(spec, text, &arg_ctx)),
                    format!("{thorough:?}"),
                    "{file}: {:?}, {}",
                    case.line,
                    spec.name
                );
            }
        }
    }
    assert!(reused > 1000, "{reused} arguments reused");
}
