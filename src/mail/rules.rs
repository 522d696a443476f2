//! The mail rules file (`data/mail/rules.toml`), compiled once.

use regex::{Regex, RegexSet};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    tags: Tags,
    auto_reply: AutoReply,
    bounce: Bounce,
    request: Request,
    organisation: Organisation,
    format: Vec<Format>,
    quotes: Quotes,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tags {
    news: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoReply {
    subject_prefixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bounce {
    senders: Vec<String>,
    subject_markers: Vec<String>,
    body_markers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    keywords: Vec<String>,
    asks: Vec<String>,
    ask_weight: i32,
    against: Vec<String>,
    against_weight: i32,
    minimum_score: i32,
    logistics: Vec<String>,
    topic_cues: Vec<String>,
    topic_prepositions: Vec<String>,
    topic_preposition_after: Vec<String>,
    named_bodies: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Organisation {
    body_patterns: Vec<String>,
    title_words: Vec<String>,
    signature_lines: usize,
    shared_domains: Vec<String>,
    field_labels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    pub name: String,
    pub words: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quotes {
    quote_intros: Vec<String>,
    original_markers: Vec<String>,
    forward_markers: Vec<String>,
    forward_subjects: Vec<String>,
    forward_from: String,
    forward_subject: String,
    forward_other: String,
    header_block_first: Vec<String>,
    header_block_next: Vec<String>,
    signature_markers: Vec<String>,
}

/// One phrase of `[request]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestCue {
    pub phrase: String,
    /// Weight in the text; negative for phrases against a request.
    pub weight: i32,
    pub kind: CueKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueKind {
    Keyword,
    Ask,
    Against,
}

/// Phrases found as whole words in one pass over a folded text, each in a group (a format, or
/// the one group of a list): what `classify::contains_word` does phrase by phrase, for texts
/// of thousands of characters.
#[derive(Debug)]
pub struct Phrases {
    finder: aho_corasick::AhoCorasick,
    groups: Vec<usize>,
}

impl Phrases {
    fn new<'a>(phrases: impl IntoIterator<Item = (usize, &'a str)>) -> Result<Self, String> {
        let (groups, phrases): (Vec<usize>, Vec<&str>) =
            phrases.into_iter().filter(|(_, p)| !p.is_empty()).unzip();
        let finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(phrases)
            .map_err(|e| e.to_string())?;
        Ok(Phrases { finder, groups })
    }

    /// The groups of the phrases standing as whole words in `text`.
    pub fn groups_in<'t>(&'t self, text: &'t str) -> impl Iterator<Item = usize> + 't {
        self.finder
            .find_overlapping_iter(text)
            .filter_map(move |m| {
                let before = text[..m.start()].chars().next_back();
                let after = text[m.end()..].chars().next();
                // A phrase ending on an apostrophe ("formation d'") runs on into its word
                // ("formation d'1h30").
                let ends_a_word = text[..m.end()].ends_with(char::is_alphanumeric);
                let runs_on = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
                let cut = runs_on(before) || (ends_a_word && runs_on(after));
                (!cut).then(|| self.groups[m.pattern().as_usize()])
            })
    }

    /// Whether any phrase stands as whole words in `text`.
    pub fn any_in(&self, text: &str) -> bool {
        self.groups_in(text).next().is_some()
    }

    /// Where the phrases stand as whole words in `text`, as byte ranges, leftmost-longest.
    pub fn spans_in(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let bytes = text.as_bytes();
        let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
        for m in self.finder.find_overlapping_iter(text) {
            let whole = (m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric())
                && (!bytes[m.end() - 1].is_ascii_alphanumeric()
                    || bytes
                        .get(m.end())
                        .is_none_or(|b| !b.is_ascii_alphanumeric()));
            if !whole {
                continue;
            }
            match spans.last_mut() {
                // Overlapping phrases ("sur", "porterait sur") make one span.
                Some(last) if m.start() < last.end => last.end = last.end.max(m.end()),
                _ => spans.push(m.range()),
            }
        }
        spans
    }
}

/// The rules, folded and compiled.
#[derive(Debug)]
pub struct MailRules {
    pub news_tags: Vec<String>,
    pub auto_reply_prefixes: Vec<String>,
    /// Squashed (see [`squash`]): compare with [`MailRules::is_robot_address`].
    robot_senders: Vec<String>,
    pub bounce_subjects: Vec<String>,
    pub bounce_texts: Vec<String>,
    /// Request keywords, asking phrases and phrases against a request, with what each weighs
    /// in the text (see `[request]` of the rules file).
    pub request_cues: Vec<RequestCue>,
    /// The cues as one automaton: a text is scanned once whatever their number.
    pub request_finder: aho_corasick::AhoCorasick,
    pub request_minimum: i32,
    /// Phrases of sentences about practical arrangements, left out of topic matching.
    pub logistics: Phrases,
    /// Words after which a request says what the contribution is about (folded text).
    pub topic_cues: Phrases,
    /// "sur", "on": cues only right after one of `topic_preposition_after`.
    pub topic_prepositions: Phrases,
    pub topic_preposition_after: Phrases,
    /// A body's name in quotes after one of these words is who asks, not what about.
    pub named_bodies: Regex,
    /// Signature lines (folded) that name the requester's body.
    pub body_patterns: Vec<Regex>,
    /// Words of job titles and units (folded), never a body's name.
    pub title_words: Vec<String>,
    pub signature_lines: usize,
    pub shared_domains: Vec<String>,
    /// Labels of a form's field that holds the body ("Organisme : Ville de Quimperlé").
    pub field_labels: Regex,
    pub formats: Vec<Format>,
    /// Every format's words: a text's format is the first format with a word in it.
    pub format_words: Phrases,
    /// The first word of every format's words ("formation", "atelier"): a topic phrase opening
    /// with one names the event's kind, not its subject.
    pub format_starts: std::collections::HashSet<String>,
    pub quote_intros: RegexSet,
    pub original_markers: RegexSet,
    pub forward_markers: RegexSet,
    pub forward_subjects: RegexSet,
    /// Header lines of a forwarded message: From, Subject, any other.
    pub forward_headers: [Regex; 3],
    pub header_block_first: RegexSet,
    pub header_block_next: RegexSet,
    pub signature_markers: RegexSet,
}

/// Lowercase ASCII with accents removed, as the rules are written (line breaks kept).
pub fn fold(text: &str) -> String {
    crate::core::text::ascii_fold(text)
}

/// The phrases as one regex alternation, each matched as written.
fn alternation(phrases: &[String]) -> String {
    phrases
        .iter()
        .map(|p| regex::escape(p))
        .collect::<Vec<_>>()
        .join("|")
}

fn compile(list: &[String], key: &str) -> Result<Vec<Regex>, String> {
    list.iter()
        .enumerate()
        .map(|(i, p)| Regex::new(p).map_err(|e| format!("{key}[{i}]: {e}")))
        .collect()
}

/// Lowercase, without the dots, dashes and underscores that vary between robot addresses.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '.' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A list of regexes matched in one pass; a bad one is named by its key and position.
fn compile_set(list: &[String], key: &str) -> Result<RegexSet, String> {
    compile(list, key)?;
    RegexSet::new(list).map_err(|e| format!("{key}: {e}"))
}

fn one(pattern: &str, key: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("{key}: {e}"))
}

impl MailRules {
    /// An address whose local part names a robot (mailer-daemon, post_master, no-reply…).
    pub fn is_robot_address(&self, address: &str) -> bool {
        let local = squash(address.split('@').next().unwrap_or(""));
        self.robot_senders
            .iter()
            .any(|r| local.contains(r.as_str()))
    }

    pub fn from_toml(source: &str) -> Result<Self, String> {
        let file: RulesFile = toml::from_str(source).map_err(|e| e.to_string())?;
        let folded = |list: Vec<String>| list.iter().map(|s| fold(s)).collect::<Vec<_>>();
        let request = file.request;
        let cue = |weight: i32, kind: CueKind| {
            move |phrase: &String| RequestCue {
                phrase: fold(phrase),
                weight,
                kind,
            }
        };
        let request_cues: Vec<RequestCue> = (request.keywords.iter())
            .map(cue(1, CueKind::Keyword))
            .chain(
                request
                    .asks
                    .iter()
                    .map(cue(request.ask_weight, CueKind::Ask)),
            )
            .chain(
                request
                    .against
                    .iter()
                    .map(cue(-request.against_weight, CueKind::Against)),
            )
            .collect();
        let request_finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(request_cues.iter().map(|c| &c.phrase))
            .map_err(|e| format!("request: {e}"))?;
        let formats: Vec<Format> = file
            .format
            .into_iter()
            .map(|f| Format {
                name: f.name,
                words: folded(f.words),
            })
            .collect();
        Ok(MailRules {
            request_finder,
            news_tags: folded(file.tags.news),
            auto_reply_prefixes: folded(file.auto_reply.subject_prefixes),
            robot_senders: file.bounce.senders.iter().map(|s| squash(s)).collect(),
            bounce_subjects: folded(file.bounce.subject_markers),
            bounce_texts: folded(file.bounce.body_markers),
            request_cues,
            request_minimum: request.minimum_score,
            logistics: Phrases::new(folded(request.logistics).iter().map(|p| (0, p.as_str())))
                .map_err(|e| format!("request.logistics: {e}"))?,
            topic_cues: Phrases::new(folded(request.topic_cues).iter().map(|p| (0, p.as_str())))
                .map_err(|e| format!("request.topic_cues: {e}"))?,
            topic_prepositions: Phrases::new(
                folded(request.topic_prepositions)
                    .iter()
                    .map(|p| (0, p.as_str())),
            )
            .map_err(|e| format!("request.topic_prepositions: {e}"))?,
            topic_preposition_after: Phrases::new(
                folded(request.topic_preposition_after)
                    .iter()
                    .map(|p| (0, p.as_str())),
            )
            .map_err(|e| format!("request.topic_preposition_after: {e}"))?,
            named_bodies: one(
                &format!(
                    r#"(?i)\b(?:{})\s*(?:«[^»]*»|“[^”]*”|"[^"\n]*")"#,
                    alternation(&request.named_bodies)
                ),
                "request.named_bodies",
            )?,
            body_patterns: compile(
                &file.organisation.body_patterns,
                "organisation.body_patterns",
            )?,
            title_words: folded(file.organisation.title_words),
            signature_lines: file.organisation.signature_lines,
            shared_domains: file.organisation.shared_domains,
            field_labels: one(
                &format!(
                    r"(?im)^[ \t>]*(?:{})[ \t]*:[ \t]*(\S.*)$",
                    alternation(&file.organisation.field_labels)
                ),
                "organisation.field_labels",
            )?,
            format_words: Phrases::new(
                formats
                    .iter()
                    .enumerate()
                    .flat_map(|(i, f)| f.words.iter().map(move |w| (i, w.as_str()))),
            )
            .map_err(|e| format!("format: {e}"))?,
            format_starts: formats
                .iter()
                .flat_map(|f| &f.words)
                .filter_map(|w| w.split([' ', '\'', '-']).next())
                .map(str::to_string)
                .collect(),
            formats,
            quote_intros: compile_set(&file.quotes.quote_intros, "quotes.quote_intros")?,
            original_markers: compile_set(
                &file.quotes.original_markers,
                "quotes.original_markers",
            )?,
            forward_markers: compile_set(&file.quotes.forward_markers, "quotes.forward_markers")?,
            forward_subjects: compile_set(
                &file.quotes.forward_subjects,
                "quotes.forward_subjects",
            )?,
            forward_headers: [
                one(&file.quotes.forward_from, "quotes.forward_from")?,
                one(&file.quotes.forward_subject, "quotes.forward_subject")?,
                one(&file.quotes.forward_other, "quotes.forward_other")?,
            ],
            header_block_first: compile_set(
                &file.quotes.header_block_first,
                "quotes.header_block_first",
            )?,
            header_block_next: compile_set(
                &file.quotes.header_block_next,
                "quotes.header_block_next",
            )?,
            signature_markers: compile_set(
                &file.quotes.signature_markers,
                "quotes.signature_markers",
            )?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rules() -> MailRules {
        MailRules::from_toml(include_str!("../../data/mail/rules.toml")).unwrap()
    }

    #[test]
    fn phrase_spans_are_whole_words_with_overlaps_merged() {
        let phrases = Phrases::new([(0, "sur"), (0, "porterait sur"), (0, "on")]).unwrap();
        let text = "elle porterait sur; surtout on monday, not bonus";
        let spans: Vec<&str> = (phrases.spans_in(text).into_iter())
            .map(|r| &text[r])
            .collect();
        assert_eq!(spans, ["porterait sur", "on"]);
    }

    #[test]
    fn a_phrase_ending_on_an_apostrophe_runs_on_into_its_word() {
        let phrases = Phrases::new([(0, "formation d'"), (1, "formation")]).unwrap();
        let found = |text: &str| phrases.groups_in(text).collect::<Vec<_>>();
        // Overlapping phrases are all found: the longer one too, now.
        assert!(found("une formation d'1h30").contains(&0));
        assert_eq!(found("la formation"), [1]);
        assert_eq!(found("les reformations"), Vec::<usize>::new());
        let text = "une formation d'1h30";
        let spans: Vec<&str> = phrases
            .spans_in(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(spans, ["formation d'"]);
    }

    #[test]
    fn the_shipped_rules_load_and_bad_ones_are_named() {
        assert!(rules().formats.len() >= 5);
        let broken = include_str!("../../data/mail/rules.toml").replace("'^-- ?$'", "'(unclosed'");
        let error = MailRules::from_toml(&broken).unwrap_err();
        assert!(error.contains("quotes.signature_markers[0]"), "{error}");
    }
}
