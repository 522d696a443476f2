//! The evaluation of mail understanding (tests/eval/mail*.toml): every message goes through
//! the engine's understanding and its decision for a new request, on the sample directory, and
//! each field of the ticket it would open is compared with what a person meant. Prints
//! per-field accuracy and every failure (`cargo test --test eval_mail -- --nocapture`), fails
//! below the floors first measured, and names the fields short of the bar. The
//! held-out set is measured and printed with a lower floor: it is not tuned on.

mod common;

use common::score::{Score, place_code};

use passerelle::core::actions::{Action, Change};
use passerelle::core::directory::Directory;
use passerelle::core::geo::Geography;
use passerelle::core::lang::Lang;
use passerelle::core::search::Weights;
use passerelle::core::tickets::Ticket;
use passerelle::engine::Knowledge;
use passerelle::mail::decide::{MailCase, MailWorld, decide};
use passerelle::mail::extract::{Knowledge as ExtractKnowledge, domain_organisations};
use passerelle::mail::{Class, MailContext, Understanding, understand};
use serde::Deserialize;

#[derive(Deserialize)]
struct MailSet {
    today: chrono::NaiveDate,
    /// How the set's mail is addressed, when not as the first sets' (tests/eval/README.md).
    ticket_prefix: Option<String>,
    watched_list: Option<String>,
    mail: Vec<MailCaseSpec>,
}

/// One expected reading (tests/eval/README.md).
#[derive(Deserialize)]
struct MailCaseSpec {
    file: String,
    request: bool,
    requester: Option<String>,
    forwarded_by: Option<String>,
    organisation: Option<String>,
    #[serde(default)]
    dates: Vec<chrono::NaiveDate>,
    place: Option<String>,
    #[serde(default)]
    online: bool,
    #[serde(default)]
    topics: Vec<String>,
    format: Option<String>,
    language: Option<String>,
    kind: Option<String>,
    bounce_permanent: Option<bool>,
}

/// The bar: requests recognised 95 %, no non-request opening a ticket, and date,
/// place, topic and format each 90 % on requests.
const BARS: &[(&str, f64)] = &[
    ("request", 0.95),
    ("opens no ticket", 1.0),
    ("dates", 0.90),
    ("place", 0.90),
    ("topics", 0.90),
    ("format", 0.90),
];

/// A ticket's place label as the evaluation files write it.
fn label_code(geography: &Geography, label: &str) -> String {
    match geography.lookup(label) {
        Some(place) => place_code(geography, place),
        // Places abroad are kept as written, and read back as nothing French.
        None => format!("abroad:{label}"),
    }
}

/// Organisations are compared without case, accents, punctuation or spacing ("Région
/// Hauts-de-France" = "region hauts de france"). One leniency more: a body's bracketed other
/// name ("Centre de gestion du Finistère (CDG 29)", "Agence d'urbanisme Atlantique & Pyrénées
/// (AUDAP)") is the same body, so either the name without the brackets or the bracketed name
/// alone is right. Nothing else: a body named differently ("Data Ouest" for "Association Data
/// Ouest", the council for its group of elected members) is wrong, because the ticket shows the
/// name as found and a person would have to fix it.
fn same_organisation(have: Option<&str>, want: Option<&str>) -> bool {
    use passerelle::core::text::normalize;
    let (Some(have), Some(want)) = (have, want) else {
        return have.is_none() && want.is_none();
    };
    let mut names = vec![normalize(want)];
    if let (Some(open), Some(close)) = (want.find('('), want.rfind(')'))
        && open < close
    {
        names.push(normalize(&format!(
            "{}{}",
            &want[..open],
            &want[close + 1..]
        )));
        names.push(normalize(&want[open + 1..close]));
    }
    names.contains(&normalize(have))
}

/// What the engine works with, on the sample directory.
struct World {
    knowledge: Knowledge,
    directory: Directory,
    domains: std::collections::HashMap<String, String>,
    context: MailContext,
}

impl World {
    fn new(set: &MailSet) -> World {
        let knowledge = common::knowledge();
        let directory = common::sample_directory(&knowledge);
        let domains = domain_organisations(&directory, &knowledge.mail_rules);
        World {
            knowledge,
            directory,
            domains,
            // As the sets' messages are addressed: their tags and list (tests/eval/mail/).
            context: MailContext {
                ticket_prefix: set
                    .ticket_prefix
                    .clone()
                    .unwrap_or_else(|| "Passerelle".into()),
                watched_list: Some(
                    set.watched_list
                        .clone()
                        .unwrap_or_else(|| "reseau.lists.passerelle.example".into()),
                ),
                loop_value: "contact@passerelle.example".into(),
            },
        }
    }

    fn understand(&self, raw: &[u8], today: chrono::NaiveDate) -> Understanding {
        let k = &self.knowledge;
        let extract = ExtractKnowledge {
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            organisations: &self.directory.organisation_finder,
            domains: &self.domains,
            directory: Some(&self.directory),
        };
        understand(raw, &k.mail_rules, &self.context, &extract, today, Lang::Fr)
    }

    /// The ticket the engine would open for the mail when no existing ticket matches it, and
    /// who forwarded it.
    fn new_ticket(&self, mail: &Understanding, today: chrono::NaiveDate) -> Option<Ticket> {
        let k = &self.knowledge;
        let world = MailWorld {
            directory: &self.directory,
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            routing: &[],
            work: &Default::default(),
            weights: &Weights::default(),
            max_results: 5,
            today,
            ticket_prefix: &self.context.ticket_prefix,
            reopen_closed: true,
            default_lang: Lang::Fr,
            mute_until: chrono::DateTime::UNIX_EPOCH,
        };
        // The engine trusts a member's forward once their address is proven (DKIM/DMARC);
        // the sets' messages are unsigned, so a member's address is taken as proven here:
        // what is measured is understanding, not authentication (tests/mail_flow.rs does that).
        let forward_trusted = mail.forwarded.is_some()
            && mail.classification.class == Class::Request
            && mail
                .from
                .as_ref()
                .is_some_and(|f| self.directory.by_email(&f.address).is_some());
        let case = MailCase {
            mail,
            ticket: None,
            new_number: Some(1),
            secret: "0badcafe",
            bounced_to: &[],
            threaded_by: None,
            sender_verified: false,
            forward_trusted,
        };
        decide(&case, &world).into_iter().find_map(|a| match a {
            Action::Change(Change::CreateTicket(ticket)) => Some(ticket),
            _ => None,
        })
    }
}

fn kind(class: Class) -> &'static str {
    match class {
        Class::Request => "request",
        Class::AutoReply => "auto-reply",
        Class::Bounce => "bounce",
        Class::ListDiscussion => "list",
        Class::TicketReply | Class::News | Class::Other => "other",
    }
}

fn run_mail(file: &str) -> Score {
    let dir = common::root().join("tests/eval");
    let set: MailSet = toml::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    let world = World::new(&set);
    let geography = &world.knowledge.geography;
    let mut score = Score::default();
    for case in &set.mail {
        let raw = std::fs::read(dir.join(&case.file)).unwrap();
        let mail = world.understand(&raw, set.today);
        let ticket = world.new_ticket(&mail, set.today);
        let name = case.file.as_str();
        let class = mail.classification.class;
        score.compare("request", name, class == Class::Request, case.request);
        if !case.request {
            score.compare("opens no ticket", name, ticket.is_none(), true);
            if let Some(want) = &case.kind {
                score.compare("kind", name, kind(class), want.as_str());
            }
            if let Some(want) = case.bounce_permanent {
                let dead = mail.failed_recipients.iter().any(|r| r.is_dead_address());
                score.compare("bounce_permanent", name, dead, want);
            }
            continue;
        }
        // A request not recognised opens no ticket: each of its fields counts as missed, so
        // the figures below are over every request of the set.
        let Some(ticket) = ticket else {
            for field in [
                "requester",
                "forwarded_by",
                "organisation",
                "dates",
                "place",
                "online",
                "topics",
                "format",
                "language",
            ] {
                score.compare(field, name, "no ticket", "a ticket");
            }
            continue;
        };
        score.compare(
            "requester",
            name,
            ticket.requester_email.to_lowercase(),
            case.requester.clone().unwrap_or_default().to_lowercase(),
        );
        let forwarder = mail
            .forwarded
            .as_ref()
            .filter(|_| ticket.requester_email != mail.from.as_ref().map_or("", |f| &f.address))
            .and(mail.from.as_ref())
            .map(|f| f.address.to_lowercase());
        score.compare(
            "forwarded_by",
            name,
            forwarder,
            case.forwarded_by.as_ref().map(|f| f.to_lowercase()),
        );
        let organisation = ticket.organisation.as_deref();
        let want = case.organisation.as_deref();
        score.compare(
            "organisation",
            name,
            if same_organisation(organisation, want) {
                want
            } else {
                organisation
            },
            want,
        );
        let mut dates = ticket.dates.clone();
        dates.sort();
        dates.dedup();
        let mut want_dates = case.dates.clone();
        want_dates.sort();
        score.compare("dates", name, dates, want_dates);
        score.compare(
            "place",
            name,
            ticket.places.first().map(|p| label_code(geography, p)),
            case.place.clone(),
        );
        let online = mail.request.as_ref().is_some_and(|r| r.online);
        score.compare("online", name, online, case.online);
        let mut topics = ticket.topics.clone();
        topics.sort();
        let mut want_topics = case.topics.clone();
        want_topics.sort();
        score.compare("topics", name, topics, want_topics);
        score.compare("format", name, ticket.format.clone(), case.format.clone());
        score.compare(
            "language",
            name,
            Some(ticket.lang.code().to_string()),
            case.language.clone(),
        );
    }
    score
}

/// Floors measured on the public set when this runner was first written: a regression below
/// them fails. Fields still short of [`BARS`] are printed; they are the work left.
const PUBLIC_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("bounce_permanent", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.91),
    ("dates", 1.0),
    ("place", 0.97),
    ("online", 1.0),
    ("topics", 0.91),
    ("format", 1.0),
    ("language", 1.0),
];

/// Floors for the held-out set, against regressions only: it is never tuned on.
const HELD_OUT_FLOORS: &[(&str, f64)] = &[
    ("request", 0.89),
    ("opens no ticket", 1.0),
    ("kind", 0.92),
    ("bounce_permanent", 1.0),
    ("requester", 0.79),
    ("forwarded_by", 0.79),
    ("organisation", 0.75),
    ("dates", 0.83),
    ("place", 0.79),
    ("online", 0.87),
    ("topics", 0.75),
    ("format", 0.83),
    ("language", 0.83),
];

/// Prints a set's figures (its failures too unless it is held out) and the fields short of the
/// issue's bar, and checks its floors.
fn check(file: &str, title: &str, show_failures: bool, floors: &[(&str, f64)]) {
    let score = run_mail(file);
    score.print(title, show_failures);
    println!("short of the issue's bar: {}", score.below(BARS).join(", "));
    score.assert_floors(floors);
}

#[test]
fn mail_understanding_on_the_public_set() {
    check("mail.toml", "mail.toml (public)", true, PUBLIC_FLOORS);
}

/// A second development set written later by someone who had not seen the code (phone mails,
/// formal letters, HTML-only and legacy charsets, mail from abroad, every forward style).
#[test]
fn mail_understanding_on_the_second_development_set() {
    check(
        "mail-dev2.toml",
        "mail-dev2.toml (development)",
        true,
        DEV2_FLOORS,
    );
}

/// Floors for the second development set, at the figures measured once it was tuned on. Its
/// topics lost one mail (007) when "With kind regards" began to close the text: the
/// signature's "Energy Data" had been counting towards the energy topic.
const DEV2_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("bounce_permanent", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.81),
    ("dates", 0.96),
    ("place", 1.0),
    ("online", 0.96),
    ("topics", 0.75),
    ("format", 1.0),
    ("language", 1.0),
];

/// A third development set by another writer who saw neither the code nor the other sets
/// (topics described without their words, programmes, replies over old threads, venues).
#[test]
fn mail_understanding_on_the_third_development_set() {
    check(
        "mail-dev3.toml",
        "mail-dev3.toml (development)",
        true,
        DEV3_FLOORS,
    );
}

/// Floors for the third development set, at the figures measured once it was tuned on. Its
/// place lost one mail when "mettent leurs comptes en ligne" stopped making a phone interview
/// online: "les communes de Dordogne", the subject, now shows as its place.
const DEV3_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.71),
    ("dates", 0.96),
    ("place", 0.89),
    ("online", 1.0),
    ("topics", 0.6),
    ("format", 0.96),
    ("language", 1.0),
];

/// A fourth development set by another writer (CRLF, Outlook HTML with entities, new requests
/// above old threads, forwards as attachments, non-native English, venues apart from the
/// signature's town).
#[test]
fn mail_understanding_on_the_fourth_development_set() {
    check(
        "mail-dev4.toml",
        "mail-dev4.toml (development)",
        true,
        DEV4_FLOORS,
    );
}

/// Floors for the fourth development set, at the figures measured once it was tuned on.
const DEV4_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.76),
    ("dates", 0.8),
    ("place", 0.85),
    ("online", 0.85),
    ("topics", 0.57),
    ("format", 0.9),
    ("language", 1.0),
];

/// A fifth development set by another writer: topics only described, organisations only in
/// signature blocks, requests after paragraphs of context, dates in many forms, homonym
/// communes with their department, formats implied, look-alike non-requests.
#[test]
fn mail_understanding_on_the_fifth_development_set() {
    check(
        "mail-dev5.toml",
        "mail-dev5.toml (development)",
        true,
        DEV5_FLOORS,
    );
}

/// Floors for the fifth development set, at its figures once its requests were recognised
/// (first run: requests 65.7 %, a ticket reply counted as a request because the set is tagged
/// as bot.toml ships, topics 16.7 %, format 20.8 %).
const DEV5_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.79),
    ("dates", 0.83),
    ("place", 0.91),
    ("online", 0.95),
    ("topics", 0.62),
    ("format", 0.87),
    ("language", 1.0),
];

/// A sixth development set by another writer: a village secretary's one paragraph, a
/// doctoral seminar, a union congress, Swiss, Luxembourg and Irish senders, overseas France, a
/// request inside a newsletter, a date given by another event, implied formats, look-alike
/// non-requests (calls for speakers, programmes, surveys, a DMARC report).
#[test]
fn mail_understanding_on_the_sixth_development_set() {
    check(
        "mail-dev6.toml",
        "mail-dev6.toml (development)",
        true,
        DEV6_FLOORS,
    );
}

/// Floors for the sixth development set, at its figures once tuned on (first run: requests
/// 90 %, two non-requests opening tickets, dates 55 %, online 75 %, topics 45 %, format 85 %).
const DEV6_FLOORS: &[(&str, f64)] = &[
    ("request", 0.96),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 0.95),
    ("forwarded_by", 0.95),
    ("organisation", 0.6),
    ("dates", 0.95),
    ("place", 0.75),
    ("online", 0.9),
    ("topics", 0.5),
    ("format", 0.85),
    ("language", 0.95),
];

/// A seventh development set by another writer: a chamber of commerce, a hospital group, a
/// fire service, a festival, a Belgian province, a Canadian city, a bulleted brief, the date
/// only in the subject, two contributions on two dates, a French body writing in English.
#[test]
fn mail_understanding_on_the_seventh_development_set() {
    check(
        "mail-dev7.toml",
        "mail-dev7.toml (development)",
        true,
        DEV7_FLOORS,
    );
}

/// Floors for the seventh development set, at its figures after one fix (first run: every
/// request recognised, dates, place and format 12/13, but a partner asking for the network's
/// logo opened a ticket).
const DEV7_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.69),
    ("dates", 0.92),
    ("place", 0.92),
    ("online", 1.0),
    ("topics", 0.46),
    ("format", 0.92),
    ("language", 1.0),
];

/// An eighth development set by another writer: a mayor's assistant, a research consortium,
/// a lycée, a newspaper, a science festival, an embassy, topics in everyday words, dates given
/// by another event, look-alike non-requests.
#[test]
fn mail_understanding_on_the_eighth_development_set() {
    check(
        "mail-dev8.toml",
        "mail-dev8.toml (development)",
        true,
        DEV8_FLOORS,
    );
}

/// Floors for the eighth development set, at its figures after the fixes it prompted (first
/// run: a lycée's class session not recognised, a vendor's free demo opening a ticket, format
/// 17/20, topics 4/20 as written and 8/20 once the writer's "open-data" beside a narrower topic
/// was dropped, as the README's conventions say).
const DEV8_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 1.0),
    ("dates", 1.0),
    ("place", 0.95),
    ("online", 1.0),
    ("topics", 0.45),
    ("format", 1.0),
    ("language", 1.0),
];

/// A ninth development set by another writer: a rural intercommunality's one paragraph, a
/// think tank, a doctoral committee, a national agency, a twinning committee, a mapping party,
/// dates written "le 2/3", a forward inside a forward, look-alike non-requests.
#[test]
fn mail_understanding_on_the_ninth_development_set() {
    check(
        "mail-dev9.toml",
        "mail-dev9.toml (development)",
        true,
        DEV9_FLOORS,
    );
}

/// Floors for the ninth development set, at its figures after the fixes it prompted (first
/// run: 13 of 15 requests recognised, a journalist asking for figures only opening a ticket,
/// dates 12/15, place 12/15, format 11/15, topics 9/15, organisation 9/15).
const DEV9_FLOORS: &[(&str, f64)] = &[
    ("request", 1.0),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 1.0),
    ("forwarded_by", 1.0),
    ("organisation", 0.73),
    ("dates", 0.93),
    ("place", 0.86),
    ("online", 0.93),
    ("topics", 0.66),
    ("format", 0.93),
    ("language", 1.0),
];

/// A tenth development set by another writer: a departmental council, a water agency, a
/// tourist office, an overseas library, a legal publisher, a chamber of agriculture, a campus
/// abroad, a European Commission unit, a newspaper's podcast, a request restated in a reply.
#[test]
fn mail_understanding_on_the_tenth_development_set() {
    check(
        "mail-dev10.toml",
        "mail-dev10.toml (development)",
        true,
        DEV10_FLOORS,
    );
}

/// Floors for the tenth development set, at its first run but for one fix (a place abroad,
/// Dubai, 9 -> 10/13): a request restated in a reply to its writer's own mail is not
/// recognised; topics are the weakest field.
const DEV10_FLOORS: &[(&str, f64)] = &[
    ("request", 0.95),
    ("opens no ticket", 1.0),
    ("kind", 1.0),
    ("requester", 0.92),
    ("forwarded_by", 0.92),
    ("organisation", 0.61),
    ("dates", 0.84),
    ("place", 0.76),
    ("online", 0.92),
    ("topics", 0.38),
    ("format", 0.92),
    ("language", 0.92),
];

/// Figures only: its failures are not shown, so that nobody tunes on them.
#[test]
fn mail_understanding_on_the_held_out_set() {
    check(
        "mail-holdout.toml",
        "mail-holdout.toml (held out, not tuned on)",
        false,
        HELD_OUT_FLOORS,
    );
}
