//! The mail rules file (`data/mail/rules.toml`), compiled once.

use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    tags: Tags,
    auto_reply: AutoReply,
    bounce: Bounce,
    request: Request,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    keywords: Vec<String>,
    minimum_score: usize,
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
    header_block_first: Vec<String>,
    header_block_next: Vec<String>,
    signature_markers: Vec<String>,
}

/// The rules, folded and compiled.
#[derive(Debug)]
pub struct MailRules {
    pub news_tags: Vec<String>,
    pub auto_reply_prefixes: Vec<String>,
    pub robot_senders: Vec<String>,
    pub bounce_subjects: Vec<String>,
    pub request_keywords: Vec<String>,
    /// The request keywords as one automaton: a text is scanned once whatever their number.
    pub request_finder: aho_corasick::AhoCorasick,
    pub request_minimum: usize,
    pub formats: Vec<Format>,
    pub quote_intros: Vec<Regex>,
    pub original_markers: Vec<Regex>,
    pub header_block_first: Vec<Regex>,
    pub header_block_next: Vec<Regex>,
    pub signature_markers: Vec<Regex>,
}

/// Lowercase ASCII with accents removed, as the rules are written (line breaks kept).
pub fn fold(text: &str) -> String {
    crate::core::text::ascii_fold(text)
}

fn compile(list: &[String], key: &str) -> Result<Vec<Regex>, String> {
    list.iter()
        .enumerate()
        .map(|(i, p)| Regex::new(p).map_err(|e| format!("{key}[{i}]: {e}")))
        .collect()
}

impl MailRules {
    pub fn from_toml(source: &str) -> Result<Self, String> {
        let file: RulesFile = toml::from_str(source).map_err(|e| e.to_string())?;
        let folded = |list: Vec<String>| list.iter().map(|s| fold(s)).collect::<Vec<_>>();
        let request_keywords = folded(file.request.keywords);
        let request_finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(&request_keywords)
            .map_err(|e| format!("request.keywords: {e}"))?;
        Ok(MailRules {
            request_finder,
            news_tags: folded(file.tags.news),
            auto_reply_prefixes: folded(file.auto_reply.subject_prefixes),
            robot_senders: folded(file.bounce.senders),
            bounce_subjects: folded(file.bounce.subject_markers),
            request_keywords,
            request_minimum: file.request.minimum_score,
            formats: file
                .format
                .into_iter()
                .map(|f| Format {
                    name: f.name,
                    words: folded(f.words),
                })
                .collect(),
            quote_intros: compile(&file.quotes.quote_intros, "quotes.quote_intros")?,
            original_markers: compile(&file.quotes.original_markers, "quotes.original_markers")?,
            header_block_first: compile(
                &file.quotes.header_block_first,
                "quotes.header_block_first",
            )?,
            header_block_next: compile(&file.quotes.header_block_next, "quotes.header_block_next")?,
            signature_markers: compile(&file.quotes.signature_markers, "quotes.signature_markers")?,
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
    fn the_shipped_rules_load_and_bad_ones_are_named() {
        assert!(rules().formats.len() >= 5);
        let broken = include_str!("../../data/mail/rules.toml").replace("'^-- ?$'", "'(unclosed'");
        let error = MailRules::from_toml(&broken).unwrap_err();
        assert!(error.contains("quotes.signature_markers[0]"), "{error}");
    }
}
