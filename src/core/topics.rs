//! The topic vocabulary (data/topics.toml): labels in both languages, synonyms, related topics,
//! and matching of free text against it — accent- and case-insensitive, stemmed in French and
//! English, synonym-aware and tolerant of small typos.

use super::lang::Lang;
use super::text::{
    JaroProbe, Letters, close_enough, content_words, jaro_winkler, normalize, stems,
};
use serde::Deserialize;
use std::collections::HashMap;

/// Index of a topic in the vocabulary: cheap to copy and to compare in the ranking loop.
pub type TopicIdx = u16;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub id: String,
    pub group: TopicGroup,
    pub fr: String,
    pub en: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    /// The observatory theme this sector topic comes from.
    pub observatory: Option<String>,
    /// Phrases found in the whole text, filler words included, and only when no other topic
    /// is: the network's general field ("open data", "données ouvertes") is made of the very
    /// words the matcher drops, and "licences open data" is about licences.
    #[serde(default)]
    pub field_phrases: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopicGroup {
    OpenData,
    Sector,
}

impl Topic {
    pub fn label(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("{0}")]
    Syntax(String),
    #[error("topic '{id}' is defined twice")]
    DuplicateId { id: String },
    #[error("topic '{topic}' lists unknown related topic '{related}'")]
    UnknownRelated { topic: String, related: String },
    #[error("'{phrase}' means both '{first}' and '{second}'")]
    Ambiguous {
        phrase: String,
        first: String,
        second: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicFile {
    topic: Vec<Topic>,
    #[serde(default)]
    ignore: Ignore,
}

/// Words and phrases that look like topics and never are ("environ 300 agents", "frais de
/// déplacement", "Hôtel de Région").
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Ignore {
    phrases: Vec<String>,
}

/// A piece of a query recognised as a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicHit {
    pub topic: TopicIdx,
    /// The words as the user typed them (normalised).
    pub matched: String,
    /// True when recognised only through typo tolerance.
    pub fuzzy: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicMatch {
    pub hits: Vec<TopicHit>,
    /// Content words that matched nothing.
    pub leftover: Vec<String>,
    /// The field named by one of its phrases, whether or not it is among the hits.
    pub field: Option<TopicIdx>,
}

impl TopicMatch {
    pub fn topics(&self) -> Vec<TopicIdx> {
        let mut out: Vec<TopicIdx> = Vec::new();
        for hit in &self.hits {
            if !out.contains(&hit.topic) {
                out.push(hit.topic);
            }
        }
        out
    }
}

#[derive(Debug)]
pub struct Vocabulary {
    topics: Vec<Topic>,
    by_id: HashMap<String, TopicIdx>,
    /// Normalised phrase (content words joined by one space) → topic.
    exact: HashMap<String, TopicIdx>,
    /// First words of every phrase, as typed and as stemmed, with the most words a phrase
    /// starting with it has: a word not in here starts no phrase, which spares joining and
    /// looking up every phrase length at most positions, and one in here is tried only at the
    /// lengths its phrases have.
    starts: HashMap<String, usize>,
    /// Stemmed phrase → topic, under both stemmers.
    phrases: HashMap<String, TopicIdx>,
    /// The phrases with "et", "and", "ou" or "or" between their words ("économie sociale et
    /// solidaire"), as typed and stemmed: the only ones read across a conjunction, which
    /// otherwise separates topics ("licences ouvertes et réutilisation" is not "licence de
    /// réutilisation").
    conjoined: HashMap<String, TopicIdx>,
    /// Single-word phrases, unstemmed, for typo tolerance, by first letter: typos rarely touch
    /// it, so a word is compared with those sharing it only. Each list is sorted by length (a
    /// typo changes it by two at most) and keeps each word's place in the file, which breaks
    /// ties between equally close words.
    words: HashMap<u8, Vec<(String, TopicIdx, usize)>>,
    related: Vec<Vec<TopicIdx>>,
    /// Every topic's names and synonyms, normalised, with their letters, for suggestions.
    labels: Vec<Vec<(String, Letters)>>,
    /// The ignored phrases and the field's phrases, normalised, found in one pass over a text.
    phrases_finder: Option<aho_corasick::AhoCorasick>,
    /// For each pattern of `phrases_finder`: the field topic it names, or none for an ignored
    /// phrase.
    finder_topics: Vec<Option<TopicIdx>>,
}

impl Vocabulary {
    pub fn from_toml(source: &str) -> Result<Self, VocabularyError> {
        let file: TopicFile =
            toml::from_str(source).map_err(|e| VocabularyError::Syntax(e.to_string()))?;
        Self::with_ignored(file.topic, &file.ignore.phrases)
    }

    pub fn new(topics: Vec<Topic>) -> Result<Self, VocabularyError> {
        Self::with_ignored(topics, &[])
    }

    fn with_ignored(topics: Vec<Topic>, ignored: &[String]) -> Result<Self, VocabularyError> {
        let mut by_id = HashMap::new();
        for (i, topic) in topics.iter().enumerate() {
            if by_id.insert(topic.id.clone(), i as TopicIdx).is_some() {
                return Err(VocabularyError::DuplicateId {
                    id: topic.id.clone(),
                });
            }
        }
        let mut related = Vec::with_capacity(topics.len());
        for topic in &topics {
            let mut list = Vec::new();
            for id in &topic.related {
                let idx = by_id
                    .get(id)
                    .ok_or_else(|| VocabularyError::UnknownRelated {
                        topic: topic.id.clone(),
                        related: id.clone(),
                    })?;
                list.push(*idx);
            }
            related.push(list);
        }
        let mut vocabulary = Vocabulary {
            topics,
            by_id,
            exact: HashMap::new(),
            starts: HashMap::new(),
            phrases: HashMap::new(),
            conjoined: HashMap::new(),
            words: HashMap::new(),
            related,
            labels: Vec::new(),
            phrases_finder: None,
            finder_topics: Vec::new(),
        };
        vocabulary.index()?;
        let mut patterns: Vec<String> = ignored.iter().map(|p| normalize(p)).collect();
        vocabulary.finder_topics = vec![None; patterns.len()];
        for (i, topic) in vocabulary.topics.iter().enumerate() {
            for phrase in &topic.field_phrases {
                patterns.push(normalize(phrase));
                vocabulary.finder_topics.push(Some(i as TopicIdx));
            }
        }
        if !patterns.is_empty() {
            vocabulary.phrases_finder = Some(
                // A DFA: past a hundred patterns the default is a slower NFA, and every mail
                // body goes through this search.
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&patterns)
                    .map_err(|e| VocabularyError::Syntax(format!("[ignore] phrases: {e}")))?,
            );
        }
        Ok(vocabulary)
    }

    fn index(&mut self) -> Result<(), VocabularyError> {
        // Stems of synonyms, claimed after every topic's names.
        let mut synonym_stems: Vec<(String, TopicIdx)> = Vec::new();
        for (i, topic) in self.topics.iter().enumerate() {
            let idx = i as TopicIdx;
            self.labels.push(
                [&topic.fr, &topic.en]
                    .into_iter()
                    .chain(&topic.synonyms)
                    .map(|label| {
                        let label = normalize(label);
                        let letters = Letters::of(&label);
                        (label, letters)
                    })
                    .collect(),
            );
            let id_words = topic.id.replace('-', " ");
            let names = [id_words.as_str(), topic.fr.as_str(), topic.en.as_str()];
            for (n, phrase) in names
                .into_iter()
                .chain(topic.synonyms.iter().map(String::as_str))
                .enumerate()
            {
                let normalized = normalize(phrase);
                let words = content_words(&normalized);
                if words.is_empty() {
                    continue;
                }
                if let [word] = words[..] {
                    let same_start = self.words.entry(word.as_bytes()[0]).or_default();
                    if !same_start.iter().any(|(w, _, _)| w == word) {
                        let order = same_start.len();
                        same_start.push((word.to_string(), idx, order));
                    }
                }
                let exact = words.join(" ");
                let conjoined = words.len() > 1 && normalized.split(' ').any(is_conjunction);
                if conjoined {
                    self.conjoined.insert(exact.clone(), idx);
                }
                for start in stems(words[0]).into_iter().chain([words[0].to_string()]) {
                    let longest = self.starts.entry(start).or_default();
                    *longest = (*longest).max(words.len());
                }
                match self.exact.get(&exact) {
                    Some(&other) if other != idx => {
                        return Err(VocabularyError::Ambiguous {
                            phrase: phrase.to_string(),
                            first: self.topics[other as usize].id.clone(),
                            second: topic.id.clone(),
                        });
                    }
                    _ => {
                        self.exact.insert(exact, idx);
                    }
                }
                // Stems from the two languages can collide ("training" and "trains" both stem
                // to "train" in English): a topic's name keeps its stem ("formation", not the
                // synonym "formats" of APIs and formats), else the first topic does; exact
                // phrases still win.
                for lang in 0..2 {
                    let key = words
                        .iter()
                        .map(|w| stems(w)[lang].clone())
                        .collect::<Vec<_>>()
                        .join(" ");
                    if conjoined {
                        self.conjoined.entry(key.clone()).or_insert(idx);
                    }
                    if n < names.len() {
                        self.phrases.entry(key).or_insert(idx);
                    } else {
                        synonym_stems.push((key, idx));
                    }
                }
            }
        }
        for (key, idx) in synonym_stems {
            self.phrases.entry(key).or_insert(idx);
        }
        for same_start in self.words.values_mut() {
            same_start.sort_by_key(|(word, _, _)| word.len());
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    pub fn get(&self, idx: TopicIdx) -> &Topic {
        &self.topics[idx as usize]
    }

    pub fn by_id(&self, id: &str) -> Option<TopicIdx> {
        self.by_id.get(id).copied()
    }

    pub fn related(&self, idx: TopicIdx) -> &[TopicIdx] {
        &self.related[idx as usize]
    }

    /// One topic named by its id, a label or a synonym (import files, `my topics add …`).
    pub fn resolve(&self, label: &str) -> Option<TopicIdx> {
        if let Some(idx) = self.by_id(label.trim()) {
            return Some(idx);
        }
        let found = self.match_text(label);
        match (found.topics().as_slice(), found.leftover.is_empty()) {
            ([only], true) => Some(*only),
            _ => None,
        }
    }

    /// Every topic named in free text, longest phrases first, then single words within the typo
    /// budget.
    pub fn match_text(&self, text: &str) -> TopicMatch {
        self.scan(text, true, true)
    }

    /// Like [`Vocabulary::match_text`] without typo tolerance: for long texts such as mail
    /// bodies, where comparing every word with the vocabulary would cost more than it finds.
    /// There, "open data" is the setting of most requests, so the field is named only when no
    /// narrower topic is, even when listed beside one.
    pub fn match_phrases(&self, text: &str) -> TopicMatch {
        self.scan(text, false, false)
    }

    /// Like [`Vocabulary::match_phrases`], but the field counts next to narrower topics when it
    /// is an item of its own ("sur l'ouverture des données et sur la transparence des
    /// algorithmes"): for a clause that says what a talk is about.
    pub fn match_clause(&self, text: &str) -> TopicMatch {
        self.scan(text, false, true)
    }

    fn scan(&self, text: &str, typos: bool, field_alone: bool) -> TopicMatch {
        let mut padded = format!(" {} ", normalize(text));
        // The first field phrase: its topic, where it was and its words.
        let mut field: Option<(TopicIdx, usize, usize, String)> = None;
        if let Some(finder) = &self.phrases_finder {
            // Whole words only: "environ" goes, "environnement" stays. Ignored phrases and
            // field phrases are both blanked: "open government data" is the field, not
            // "government" (governance).
            let bytes = padded.as_bytes();
            let spans: Vec<(usize, usize, Option<TopicIdx>)> = finder
                .find_iter(&padded)
                .filter(|m| bytes[m.start() - 1] == b' ' && bytes[m.end()] == b' ')
                .map(|m| {
                    (
                        m.start(),
                        m.end(),
                        self.finder_topics[m.pattern().as_usize()],
                    )
                })
                .collect();
            for (start, end, topic) in spans {
                if let (None, Some(topic)) = (&field, topic) {
                    field = Some((topic, start, end, padded[start..end].to_string()));
                }
                padded.replace_range(start..end, &" ".repeat(end - start));
            }
        }
        let mut result = self.scan_words(&padded, typos);
        if let Some((topic, start, end, matched)) = field {
            result.field = Some(topic);
            if result.hits.is_empty()
                || (field_alone
                    && self.field_stands_alone(&padded[..start], &padded[end..], &result))
            {
                result.hits.push(TopicHit {
                    topic,
                    matched,
                    fuzzy: false,
                });
            }
        }
        result
    }

    /// Whether the field's phrase is an item of its own ("l'open data et le RGPD") rather than
    /// a qualifier of a narrower topic next to it ("licences open data", "open data quality"):
    /// `before` and `after` are the text on either side of it.
    fn field_stands_alone(&self, before: &str, after: &str, found: &TopicMatch) -> bool {
        let hit_word = |w: &str| {
            found
                .hits
                .iter()
                .any(|h| h.matched.split(' ').any(|m| m == w))
        };
        let side = |words: &mut dyn Iterator<Item = &str>| {
            for w in words {
                if matches!(w, "et" | "and" | "ou" | "or" | "puis" | "plus" | "ainsi") {
                    return true;
                }
                if !crate::core::text::is_stopword(w) {
                    return !hit_word(w);
                }
            }
            true
        };
        side(&mut before.split_whitespace().rev()) && side(&mut after.split_whitespace())
    }

    fn scan_words(&self, normalized: &str, typos: bool) -> TopicMatch {
        let words = content_words(normalized);
        // Stems of each distinct word, computed once (long texts repeat their words); each
        // word points at its pair.
        let mut distinct: HashMap<&str, usize> = HashMap::new();
        let mut pairs: Vec<[String; 2]> = Vec::new();
        let stemmed: Vec<&[String; 2]> = {
            let at: Vec<usize> = words
                .iter()
                .map(|w| {
                    *distinct.entry(w).or_insert_with(|| {
                        pairs.push(stems(w));
                        pairs.len() - 1
                    })
                })
                .collect();
            at.into_iter().map(|k| &pairs[k]).collect()
        };
        // Keys are built in these two buffers rather than in a new string per window.
        let (mut exact, mut key) = (String::new(), String::new());
        let join = |buffer: &mut String, parts: &mut dyn Iterator<Item = &str>| {
            buffer.clear();
            for (k, part) in parts.enumerate() {
                if k > 0 {
                    buffer.push(' ');
                }
                buffer.push_str(part);
            }
        };
        let mut result = TopicMatch::default();
        let mut i = 0;
        'words: while i < words.len() {
            let longest = [words[i], &stemmed[i][0], &stemmed[i][1]]
                .iter()
                .filter_map(|w| self.starts.get(*w))
                .max()
                .copied()
                .unwrap_or(0);
            for len in (1..=longest.min(words.len() - i)).rev() {
                join(&mut exact, &mut words[i..i + len].iter().copied());
                let (exact_index, stem_index) =
                    if len > 1 && crosses_conjunction(normalized, words[i], words[i + len - 1]) {
                        (&self.conjoined, &self.conjoined)
                    } else {
                        (&self.exact, &self.phrases)
                    };
                // The phrase as typed first, then its French and its English stems.
                let mut found = exact_index.get(exact.as_str()).copied();
                for lang in 0..2 {
                    if found.is_some() {
                        break;
                    }
                    join(
                        &mut key,
                        &mut stemmed[i..i + len].iter().map(|s| s[lang].as_str()),
                    );
                    found = stem_index.get(key.as_str()).copied();
                }
                if let Some(topic) = found {
                    result.hits.push(TopicHit {
                        topic,
                        matched: exact.clone(),
                        fuzzy: false,
                    });
                    i += len;
                    continue 'words;
                }
            }
            match if typos {
                self.closest_word(words[i])
            } else {
                None
            } {
                Some(topic) => result.hits.push(TopicHit {
                    topic,
                    matched: words[i].to_string(),
                    fuzzy: true,
                }),
                None => result.leftover.push(words[i].to_string()),
            }
            i += 1;
        }
        result
    }

    fn closest_word(&self, word: &str) -> Option<TopicIdx> {
        let first = word.as_bytes().first()?;
        let same_start = self.words.get(first)?;
        let (shortest, longest) = (word.len().saturating_sub(2), word.len() + 2);
        let from = same_start.partition_point(|(w, _, _)| w.len() < shortest);
        let to = same_start.partition_point(|(w, _, _)| w.len() <= longest);
        same_start[from..to]
            .iter()
            .filter(|(candidate, _, _)| close_enough(word, candidate))
            .min_by_key(|(candidate, _, order)| {
                (strsim::damerau_levenshtein(word, candidate), *order)
            })
            .map(|(_, topic, _)| *topic)
    }

    /// Topics whose labels look most like the text: suggestions when nothing matched.
    pub fn look_alikes(&self, text: &str, limit: usize) -> Vec<TopicIdx> {
        let query = normalize(text);
        if limit == 0 {
            return Vec::new();
        }
        // Scoring the text against every label (near a thousand) was most of the slowest
        // lines' time. A label is scored only if its bound (JaroProbe::bound) reaches both
        // what its topic already scores and the score a topic needs to enter the list: the
        // limit-th best so far, or the 0.75 floor. Each topic's most promising label is scored
        // first, so that this score rises early. Bounds are compared with room for rounding.
        const ROOM: f64 = 1e-9;
        let probe = JaroProbe::new(&query);
        let bounds: Vec<Vec<f64>> = self
            .labels
            .iter()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(label, letters)| probe.bound(label, letters))
                    .collect()
            })
            .collect();
        let mut best = vec![0.0f64; self.labels.len()];
        let entry = |best: &[f64]| {
            let mut scores: Vec<f64> = best.iter().copied().filter(|s| *s > 0.75).collect();
            if scores.len() < limit {
                return 0.75;
            }
            scores.sort_by(|a, b| b.total_cmp(a));
            scores[limit - 1]
        };
        let likeliest: Vec<Option<usize>> = bounds
            .iter()
            .enumerate()
            .map(|(topic, bounds)| {
                let i = (0..bounds.len())
                    .max_by(|&a, &b| bounds[a].total_cmp(&bounds[b]))
                    .filter(|&i| bounds[i] + ROOM >= 0.75)?;
                best[topic] = jaro_winkler(&query, &self.labels[topic][i].0);
                Some(i)
            })
            .collect();
        let mut floor = entry(&best);
        for (topic, bounds) in bounds.iter().enumerate() {
            for (i, bound) in bounds.iter().enumerate() {
                if bound + ROOM < floor.max(best[topic]) || likeliest[topic] == Some(i) {
                    continue;
                }
                let score = jaro_winkler(&query, &self.labels[topic][i].0);
                if score > best[topic] {
                    best[topic] = score;
                    floor = entry(&best);
                }
            }
        }
        let mut scored: Vec<(f64, TopicIdx)> = best
            .into_iter()
            .enumerate()
            .map(|(i, score)| (score, i as TopicIdx))
            .filter(|(score, _)| *score > 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(limit).map(|(_, idx)| idx).collect()
    }
}

fn is_conjunction(word: &str) -> bool {
    matches!(word, "et" | "and" | "ou" | "or")
}

/// Whether a conjunction stands between two words of `normalized` (slices of it, in order).
fn crosses_conjunction(normalized: &str, first: &str, last: &str) -> bool {
    let from = first.as_ptr() as usize - normalized.as_ptr() as usize + first.len();
    let to = last.as_ptr() as usize - normalized.as_ptr() as usize;
    normalized[from..to].split(' ').any(is_conjunction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The look-alikes as found before labels were bounded: every label scored.
    fn every_label_scored(vocabulary: &Vocabulary, text: &str) -> Vec<TopicIdx> {
        let query = normalize(text);
        let mut scored: Vec<(f64, TopicIdx)> = vocabulary
            .labels
            .iter()
            .enumerate()
            .map(|(i, labels)| {
                let best = labels
                    .iter()
                    .map(|(label, _)| jaro_winkler(&query, label))
                    .fold(0.0, f64::max);
                (best, i as TopicIdx)
            })
            .filter(|(score, _)| *score > 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().map(|(_, idx)| idx).collect()
    }

    #[test]
    fn bounded_look_alikes_are_those_of_every_label_scored() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let vocabulary =
            Vocabulary::from_toml(&std::fs::read_to_string(root.join("data/topics.toml")).unwrap())
                .unwrap();
        // Labels, their words, and slips of them; the chat evaluation's lines and their words.
        let mut texts: Vec<String> = Vec::new();
        for label in vocabulary.labels.iter().flatten().map(|(l, _)| l) {
            texts.push(label.clone());
            for word in label.split(' ') {
                texts.push(word.to_string());
                if word.len() > 3 {
                    texts.push(format!("{}{}", &word[..2], &word[3..]));
                    texts.push(format!("{}x{}", &word[..1], &word[2..]));
                }
            }
        }
        let set: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("tests/eval/chat.toml")).unwrap())
                .unwrap();
        for case in set["case"].as_array().unwrap() {
            let line = case["line"].as_str().unwrap();
            texts.push(line.to_string());
            texts.extend(line.split_whitespace().map(String::from));
        }
        texts.sort();
        texts.dedup();
        assert!(texts.len() > 2000, "{}", texts.len());
        for text in &texts {
            let all = every_label_scored(&vocabulary, text);
            for limit in 0..=4 {
                assert_eq!(
                    vocabulary.look_alikes(text, limit),
                    all[..limit.min(all.len())],
                    "{text:?}, {limit}"
                );
            }
        }
    }

    fn sample() -> Vocabulary {
        Vocabulary::from_toml(
            r#"
[[topic]]
id = "licensing"
group = "open-data"
fr = "Licences"
en = "Licensing"
synonyms = ["licence ouverte", "Etalab", "ODbL", "open license"]
related = ["legal"]

[[topic]]
id = "legal"
group = "open-data"
fr = "Juridique"
en = "Legal"
synonyms = ["RGPD", "GDPR", "données personnelles"]
related = ["licensing"]

[[topic]]
id = "standards"
group = "open-data"
fr = "Standards et schémas"
en = "Standards and schemas"
synonyms = ["normalisation", "standardisation", "SCDL", "socle commun des données locales"]
related = ["legal"]

[[topic]]
id = "transport"
group = "sector"
fr = "Transport"
en = "Transport"
synonyms = ["mobilité", "bus", "GTFS"]
related = []
observatory = "Transport"
"#,
        )
        .unwrap()
    }

    #[test]
    fn the_shipped_vocabulary_reads_everyday_words_as_people_mean_them() {
        let vocabulary = Vocabulary::from_toml(include_str!("../../data/topics.toml")).unwrap();
        let cases: &[(&str, &[&str])] = &[
            // The network's general field, only when nothing narrower is named.
            ("parler d'open data", &["open-data"]),
            ("l'ouverture des données", &["open-data"]),
            ("les données ouvertes", &["open-data"]),
            ("licences open data", &["licensing"]),
            ("l'open data et le RGPD", &["data-protection", "open-data"]),
            ("open data quality", &["data-quality"]),
            ("le budget", &["finance"]),
            ("budget participatif", &["citizenship"]),
            ("les données de mobilité", &["transport"]),
            ("l'accessibilité", &["accessibility"]),
            ("RGPD", &["data-protection"]),
            // Ordinary words are not topics.
            ("environ 300 agents", &[]),
            ("à l'Hôtel de Région", &[]),
            ("frais de déplacement pris en charge", &[]),
            ("la qualité de vie", &[]),
            // A conjunction separates topics, unless the phrase has it.
            ("les licences et la réutilisation", &["licensing", "reuse"]),
            ("l'économie sociale et solidaire", &["economy"]),
            ("le gouvernement", &[]),
            // A field phrase's own words are the field ("government" is not governance).
            ("open government data", &["open-data"]),
        ];
        let mut failures = Vec::new();
        for (text, expected) in cases {
            let ids: Vec<&str> = vocabulary
                .match_text(text)
                .topics()
                .iter()
                .map(|&t| vocabulary.get(t).id.as_str())
                .collect();
            if ids != *expected {
                failures.push(format!("{text:?}: got {ids:?}, want {expected:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
        // In mail, open data is the setting: named only when nothing narrower is.
        let in_mail = vocabulary.match_phrases("l'open data et le RGPD").topics();
        assert_eq!(in_mail, vec![vocabulary.by_id("data-protection").unwrap()]);
    }

    #[test]
    fn matches_phrasings_in_both_languages() {
        let vocabulary = sample();
        let cases = [
            ("licensing", vec!["licensing"]),
            ("les licences ouvertes", vec!["licensing"]),
            ("la Licence Ouverte d'Etalab", vec!["licensing"]),
            ("ODbL", vec!["licensing"]),
            ("RGPD", vec!["legal"]),
            ("données personnelles", vec!["legal"]),
            ("normalisation", vec!["standards"]),
            ("le socle commun des données locales", vec!["standards"]),
            ("licneces", vec!["licensing"]),
            ("normalisaton", vec!["standards"]),
            ("licences and GDPR", vec!["licensing", "legal"]),
            ("Mobilités", vec!["transport"]),
        ];
        for (text, expected) in cases {
            let found = vocabulary.match_text(text);
            let ids: Vec<&str> = found
                .topics()
                .iter()
                .map(|&t| vocabulary.get(t).id.as_str())
                .collect();
            assert_eq!(ids, expected, "{text}: {found:?}");
        }
    }

    #[test]
    fn unknown_words_are_left_over() {
        let found = sample().match_text("basket-ball");
        assert!(found.hits.is_empty());
        assert_eq!(found.leftover, vec!["basket", "ball"]);
    }

    #[test]
    fn resolve_accepts_ids_labels_and_synonyms_only_when_unambiguous() {
        let vocabulary = sample();
        let id = |s: &str| vocabulary.resolve(s).map(|t| vocabulary.get(t).id.clone());
        assert_eq!(id("legal").as_deref(), Some("legal"));
        assert_eq!(id("Juridique").as_deref(), Some("legal"));
        assert_eq!(id("SCDL").as_deref(), Some("standards"));
        assert_eq!(id("licences et RGPD"), None);
        assert_eq!(id("basket"), None);
    }

    #[test]
    fn rejects_broken_vocabularies() {
        let unknown = "[[topic]]\nid='a'\ngroup='sector'\nfr='A'\nen='A'\nrelated=['zzz']\n";
        assert!(matches!(
            Vocabulary::from_toml(unknown),
            Err(VocabularyError::UnknownRelated { .. })
        ));
        let twice = "[[topic]]\nid='a'\ngroup='sector'\nfr='A'\nen='A'\n[[topic]]\nid='a'\ngroup='sector'\nfr='B'\nen='B'\n";
        assert!(matches!(
            Vocabulary::from_toml(twice),
            Err(VocabularyError::DuplicateId { .. })
        ));
        let ambiguous = "[[topic]]\nid='a'\ngroup='sector'\nfr='Bus'\nen='Bus'\n[[topic]]\nid='b'\ngroup='sector'\nfr='B'\nen='B'\nsynonyms=['bus']\n";
        assert!(matches!(
            Vocabulary::from_toml(ambiguous),
            Err(VocabularyError::Ambiguous { .. })
        ));
        assert!(matches!(
            Vocabulary::from_toml("[[topic]]\nid=1"),
            Err(VocabularyError::Syntax(_))
        ));
    }
}
