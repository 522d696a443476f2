//! Each network's length rule, exact.
//!
//! - **Mastodon** (`app/validators/status_length_validator.rb`; docs.joinmastodon.org,
//!   "Posting", "Text"): the content warning and the text together may hold 500 characters,
//!   counted as grapheme clusters, where every link with a scheme (found by twitter-text's URL
//!   rule, `extract_url_without_protocol: false`, as Mastodon widens it: see
//!   [`entities::mastodon_urls`]) counts as 23 and a mention `@user@domain` counts as `@user`.
//! - **Bluesky** (lexicon `app.bsky.feed.post`: `text` has `maxGraphemes: 300`,
//!   `maxLength: 3000`): at most 300 grapheme clusters and 3,000 bytes of UTF-8; links count as
//!   what is shown (the facet carries the URI).
//! - **X** (twitter-text configuration v3, the one X uses: `maxWeightedTweetLength` 280,
//!   `scale` 100, `defaultWeight` 200, ranges U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
//!   U+2032-U+2037 weigh 100, `transformedURLLength` 23, `emojiParsingEnabled`): the weighted
//!   length of the NFC text, where a code point weighs 1 (100/100) or 2, an emoji sequence
//!   weighs 2 as a whole and every URL, with or without scheme, weighs 23. URLs are found by
//!   the `twitter-text` crate (a maintained Rust port of the reference library); the weights
//!   are computed here (see [`x`]).
//!
//! Grapheme clusters are extended grapheme clusters of UAX #29 (`unicode-segmentation`), as
//! Ruby's `each_grapheme_cluster` and the `Intl.Segmenter` used by Bluesky's app count them.

use serde::{Deserialize, Serialize};
use twitter_text::extractor::{Extract, Extractor};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::entities;

pub const MASTODON_MAX_CHARS: usize = 500;
pub const MASTODON_URL_LENGTH: usize = 23;
pub const BLUESKY_MAX_GRAPHEMES: usize = 300;
pub const BLUESKY_MAX_BYTES: usize = 3000;
pub const X_MAX_WEIGHTED_LENGTH: usize = 280;

/// What a post uses of its network's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measure {
    /// Mastodon: characters (content warning included); Bluesky: graphemes; X: weighted length
    /// in characters (weight units / scale).
    pub used: usize,
    pub limit: usize,
    /// UTF-8 bytes of the text.
    pub bytes: usize,
    /// Bluesky's 3,000 bytes; none elsewhere.
    pub byte_limit: Option<usize>,
}

impl Measure {
    pub fn fits(&self) -> bool {
        self.used <= self.limit && self.byte_limit.is_none_or(|limit| self.bytes <= limit)
    }
}

/// Extended grapheme clusters.
pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// Byte offset of a UTF-16 offset of `text` (twitter-text reports UTF-16 offsets).
fn utf16_to_byte(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (byte, c) in text.char_indices() {
        if units >= utf16 {
            return byte;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// Byte ranges of the URLs twitter-text finds: with a scheme only, or also bare domains (X's
/// rule).
pub fn twitter_urls(text: &str, without_scheme: bool) -> Vec<std::ops::Range<usize>> {
    if !text.contains(if without_scheme { "." } else { "://" }) {
        return Vec::new();
    }
    let mut extractor = Extractor::new();
    extractor.set_extract_url_without_protocol(without_scheme);
    extractor
        .extract_urls_with_indices(text)
        .iter()
        .map(|url| {
            let start = utf16_to_byte(text, url.get_start().max(0) as usize);
            let end = utf16_to_byte(text, url.get_end().max(0) as usize);
            start..end
        })
        .collect()
}

/// The text Mastodon counts: links with a scheme replaced by 23 characters, remote mentions
/// reduced to `@user`.
pub fn mastodon_countable(text: &str) -> String {
    let mut spans: Vec<(std::ops::Range<usize>, String)> = entities::mastodon_urls(text)
        .into_iter()
        .map(|range| (range, "x".repeat(MASTODON_URL_LENGTH)))
        .collect();
    if text.contains('@') {
        for (range, user) in entities::mastodon_mentions(text) {
            if !spans
                .iter()
                .any(|(r, _)| r.start < range.end && range.start < r.end)
            {
                spans.push((range, format!("@{user}")));
            }
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, replacement) in spans {
        out.push_str(&text[last..range.start]);
        out.push_str(&replacement);
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Mastodon: content warning + text, in characters as Mastodon counts them.
pub fn mastodon(text: &str, content_warning: &str) -> Measure {
    Measure {
        used: if content_warning.is_empty() {
            graphemes(&mastodon_countable(text))
        } else {
            // Counted joined, as Mastodon does: a cluster may span the junction.
            graphemes(&(content_warning.to_string() + mastodon_countable(text).as_str()))
        },
        limit: MASTODON_MAX_CHARS,
        bytes: text.len(),
        byte_limit: None,
    }
}

/// Bluesky: graphemes and bytes.
pub fn bluesky(text: &str) -> Measure {
    Measure {
        used: graphemes(text),
        limit: BLUESKY_MAX_GRAPHEMES,
        bytes: text.len(),
        byte_limit: Some(BLUESKY_MAX_BYTES),
    }
}

/// twitter-text v3's weight of one code point, in units of 1/100 character.
fn x_code_point_weight(c: char) -> usize {
    match c as u32 {
        0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037 => 100,
        _ => 200,
    }
}

/// An emoji sequence of several code points (ZWJ sequence, skin tone, flag, keycap, tag
/// sequence, emoji presentation selector): twitter-text v3 weighs it 200 as a whole.
fn is_emoji_sequence(cluster: &str) -> bool {
    let mut chars = cluster.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if chars.next().is_none() {
        return false;
    }
    let base = first as u32 >= 0x2000 || matches!(first, '0'..='9' | '#' | '*');
    base && cluster.chars().any(|c| {
        matches!(c as u32,
            0x200D | 0xFE0F | 0x20E3 | 0x1F3FB..=0x1F3FF | 0x1F1E6..=0x1F1FF | 0xE0020..=0xE007F)
    })
}

/// Weight of plain text (no URL), in units of 1/100 character.
fn x_text_units(text: &str) -> usize {
    text.graphemes(true)
        .map(|cluster| {
            if is_emoji_sequence(cluster) {
                200
            } else {
                cluster.chars().map(x_code_point_weight).sum()
            }
        })
        .sum()
}

/// X: the weighted length of twitter-text v3, computed from the published configuration.
///
/// URLs are those twitter-text finds (`twitter-text` crate's extractor, bare domains
/// included), 23 each. A link that Bluesky's rules find and twitter-text's extractor misses (it
/// misses `www.exemple.fr.` before a full stop, for one) counts as the larger of 23 and its
/// text, so that a post measured here is never longer on X. The weights are computed here
/// rather than by `twitter_text::parse`, which in version 0.3.1 counts two flags in a row as 8
/// instead of 4 and bare domains as text.
pub fn x(text: &str) -> Measure {
    let nfc: String;
    let text = if unicode_normalization::is_nfc(text) {
        text
    } else {
        nfc = text.nfc().collect();
        &nfc
    };
    let mut spans: Vec<(std::ops::Range<usize>, bool)> = twitter_urls(text, true)
        .into_iter()
        .map(|r| (r, true))
        .collect();
    for link in entities::links(text) {
        let r = link.range;
        if !spans
            .iter()
            .any(|(s, _)| s.start < r.end && r.start < s.end)
        {
            spans.push((r, false));
        }
    }
    spans.sort_by_key(|(r, _)| r.start);
    let url_units = 100 * MASTODON_URL_LENGTH; // transformedURLLength is 23 on X too
    let mut units = 0;
    let mut last = 0;
    for (range, certain) in spans {
        if range.start < last {
            continue;
        }
        units += x_text_units(&text[last..range.start]);
        units += if certain {
            url_units
        } else {
            url_units.max(x_text_units(&text[range.clone()]))
        };
        last = range.end;
    }
    units += x_text_units(&text[last..]);
    Measure {
        used: units / 100,
        limit: X_MAX_WEIGHTED_LENGTH,
        bytes: text.len(),
        byte_limit: None,
    }
}
