//! A text too long for one post becomes a numbered thread.
//!
//! Each post is filled as far as it fits (the network's own measure, numbering suffix included)
//! and is cut, in this order of preference:
//! 1. at a sentence boundary (UAX #29 sentence breaks, which include paragraph breaks);
//! 2. for a sentence longer than a post, at a word boundary: after a space, or beside an
//!    ideograph or kana (CJK writes no spaces);
//! 3. for a single word longer than a post, between two grapheme clusters.
//!
//! A cut never falls inside a link, a mention or a hashtag (the `protected` spans), and in
//! steps 1 and 2 never between two letters or digits. Only a protected span longer than a post
//! by itself (which the networks' own rules make near impossible) is cut, as a last resort.
//!
//! Posts are numbered `"1/3"` at their end. The total is found by packing with a guess and
//! packing again with the count found until it holds: a larger total never gives fewer posts,
//! and a smaller one never makes a post longer.

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

fn numbered(body: &str, index: usize, total: usize) -> String {
    if total <= 1 {
        body.to_string()
    } else {
        format!("{body} {index}/{total}")
    }
}

fn inside(protected: &[Range<usize>], p: usize) -> bool {
    protected.iter().any(|r| r.start < p && p < r.end)
}

/// Ideographs, kana and full-width forms: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF | 0x20000..=0x3134F)
}

fn around(text: &str, p: usize) -> (Option<char>, Option<char>) {
    (text[..p].chars().next_back(), text[p..].chars().next())
}

/// Candidate cut positions, one list per level of preference; each list is sorted and ends with
/// the end of the text.
struct Breaks<'a> {
    text: &'a str,
    protected: &'a [Range<usize>],
    levels: [Option<Vec<usize>>; 4],
}

impl<'a> Breaks<'a> {
    fn new(text: &'a str, protected: &'a [Range<usize>]) -> Self {
        Breaks {
            text,
            protected,
            levels: [None, None, None, None],
        }
    }

    fn level(&mut self, level: usize) -> &[usize] {
        let (text, protected) = (self.text, self.protected);
        self.levels[level].get_or_insert_with(|| {
            let free = |p: usize| p > 0 && p < text.len() && !inside(protected, p);
            let mut list: Vec<usize> = match level {
                0 => text
                    .split_sentence_bound_indices()
                    .map(|(p, _)| p)
                    .filter(|&p| free(p))
                    .filter(|&p| {
                        let (a, b) = around(text, p);
                        !(a.is_some_and(char::is_alphanumeric)
                            && b.is_some_and(char::is_alphanumeric))
                    })
                    .collect(),
                1 => text
                    .split_word_bound_indices()
                    .map(|(p, _)| p)
                    .filter(|&p| free(p))
                    .filter(|&p| match around(text, p) {
                        (Some(a), Some(b)) => {
                            a.is_whitespace() || (!b.is_whitespace() && (is_cjk(a) || is_cjk(b)))
                        }
                        _ => false,
                    })
                    .collect(),
                2 => text
                    .grapheme_indices(true)
                    .map(|(p, _)| p)
                    .filter(|&p| free(p))
                    .collect(),
                _ => text
                    .grapheme_indices(true)
                    .map(|(p, _)| p)
                    .filter(|&p| p > 0)
                    .collect(),
            };
            list.push(text.len());
            list
        })
    }
}

/// Fills posts from `text`, each numbered `i/total`; returns the bodies (without numbering).
fn pack(breaks: &mut Breaks, total: usize, fits: &impl Fn(&str) -> bool) -> Vec<String> {
    let text = breaks.text;
    let mut bodies = Vec::new();
    let mut start = 0;
    loop {
        start += text[start..].len() - text[start..].trim_start().len();
        if start >= text.len() {
            return bodies;
        }
        let index = bodies.len() + 1;
        let body_fits = |end: usize| fits(&numbered(text[start..end].trim_end(), index, total));
        let mut end = None;
        for level in 0..4 {
            let list = breaks.level(level);
            let from = list.partition_point(|&p| p <= start);
            let candidates = &list[from..];
            if candidates.is_empty() || !body_fits(candidates[0]) {
                continue;
            }
            // The furthest candidate that fits: lengths only grow with the end.
            let (mut lo, mut hi) = (0, candidates.len());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if body_fits(candidates[mid]) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            end = Some(candidates[lo]);
            break;
        }
        // Not even one grapheme fits with its number: post it alone rather than loop.
        let end = end.unwrap_or_else(|| {
            text[start..]
                .grapheme_indices(true)
                .nth(1)
                .map_or(text.len(), |(p, _)| start + p)
        });
        bodies.push(text[start..end].trim_end().to_string());
        start = end;
    }
}

/// Splits `text` into the posts of a thread, numbered when there are several. `protected` are
/// byte ranges of `text` never to cut inside; `fits` tells whether a post's full text fits.
pub fn split_thread(
    text: &str,
    protected: &[Range<usize>],
    fits: impl Fn(&str) -> bool,
) -> Vec<String> {
    let whole = text.trim();
    if whole.is_empty() || fits(whole) {
        return vec![whole.to_string()];
    }
    let mut breaks = Breaks::new(text, protected);
    let mut total = 2;
    loop {
        let bodies = pack(&mut breaks, total, &fits);
        if bodies.len() <= total {
            let count = bodies.len();
            return bodies
                .into_iter()
                .enumerate()
                .map(|(i, body)| numbered(&body, i + 1, count))
                .collect();
        }
        total = bodies.len();
    }
}
