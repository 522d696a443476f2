//! Links, mentions and hashtags found in a post's text, at UTF-8 byte offsets.
//!
//! The detection follows the Bluesky reference client's rich-text detection
//! (`@atproto/api`, `packages/api/src/rich-text/detection.ts` and `util.ts`):
//! - mention: `(^|\s|\()@([a-zA-Z0-9.-]+)\b` whose last label is a known TLD (or `.test`);
//! - link: `(^|\s|\()(https?://\S+ | domain\S*)` case-insensitive and multi-line, where a bare
//!   `domain` must end in a known TLD and gets `https://` prepended; then one trailing character
//!   of `.,;:!?` is dropped, and a trailing `)` when the link has no `(`;
//! - hashtag: `(^|\s)[#＃]` then a run of non-space characters (the zero-width characters
//!   U+00AD, U+2060, U+200A-U+200D and U+20E2 end it too) that does not start with U+FE0F and
//!   holds one character that is not an ASCII digit nor punctuation; trailing punctuation is
//!   dropped and the tag may have at most 64 UTF-16 units.
//!
//! The TLD list is twitter-text's (IANA root zone), where atproto uses the npm `tlds` package
//! (also the IANA list).
//!
//! The same spans tell the thread splitter where it must never cut.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// What a span of text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A link; `uri` is the full URI (with `https://` added to a bare domain).
    Link { uri: String },
    /// `@handle`, without the `@`.
    Mention { handle: String },
    /// `#tag`, without the `#`.
    Tag { tag: String },
}

/// An entity and its byte range in the text (the `@` and `#` included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    pub entity: Entity,
}

static MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s|\()@([a-zA-Z0-9.-]+)(?-u:\b)").expect("mention regex"));
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)(?:^|\s|\()((?:https?://\S+)|(?:(?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)\S*))",
    )
    .expect("link regex")
});
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|\s)[#＃]([^\s\u{00AD}\u{2060}\u{200A}\u{200B}\u{200C}\u{200D}\u{20E2}]*)")
        .expect("tag regex")
});
/// A Mastodon remote mention, `@user@domain` (Mastodon's `Account::MENTION_RE`:
/// `(?<![=/[:word:]])@((USERNAME_RE)(?:@[[:word:].-]+[[:word:]]+)?)`,
/// `USERNAME_RE = [a-z0-9_]+([.-]+[a-z0-9_]+)*`, case-insensitive).
static MASTODON_MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(@[\w.-]+\w+)?").expect("mastodon mention")
});

/// Mastodon's URL rule (`config/initializers/twitter_regex.rb`, which widens twitter-text's
/// `valid_url`): a scheme (`https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini`), a domain with a known
/// TLD, an optional port, a path of any non-space characters but `<>()?` (balanced parentheses
/// allowed) not ending in `!*"'「」<>;:=,.$%[]~&|@`, and a query of ASCII URL characters or any
/// non-ASCII letter (`UCHARS`) ending in `[a-z0-9_&=#/-]` or such a letter.
static MASTODON_URL: LazyLock<Regex> = LazyLock::new(|| {
    let pc = r"[^\s<>()?]";
    let bp = format!(r"\((?:{pc}+|{pc}*\({pc}+\){pc}*)\)");
    let pe = format!(r#"(?:[^\s()?!*"'「」<>;:=,.$%\[\]~&|@]|{bp})"#);
    let path = format!(r"(?:{pc}*(?:{bp}{pc}*)*{pe}|{pc}+/)");
    let uchars = r"\u{A0}-\u{D7FF}\u{F900}-\u{FDCF}\u{FDF0}-\u{FFEF}\u{10000}-\u{1FFFD}\u{20000}-\u{2FFFD}\u{30000}-\u{3FFFD}\u{E000}-\u{F8FF}\u{F0000}-\u{10FFFD}";
    let query = format!(r"\?[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@^{uchars}]*[a-z0-9_&=#/\-{uchars}]");
    Regex::new(&format!(
        r"(?i)(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://(?P<domain>(?:[\p{{L}}\p{{N}}_](?:[\p{{L}}\p{{N}}_-]*[\p{{L}}\p{{N}}_])?\.)+[\p{{L}}\p{{N}}-]+)(?::[0-9]+)?(?:/{path}*)?(?:{query})?"
    ))
    .expect("mastodon url regex")
});

/// Links as Mastodon finds them when it counts a status (scheme required).
pub fn mastodon_urls(text: &str) -> Vec<Range<usize>> {
    if !text.contains("://") {
        return Vec::new();
    }
    MASTODON_URL
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            // twitter-text's valid_url_preceding_chars: not after a letter, digit, @, $ or #.
            let before = text[..whole.start()].chars().next_back();
            if before.is_some_and(|b| b.is_alphanumeric() || "@＠$#＃".contains(b)) {
                return None;
            }
            has_known_tld(c.name("domain")?.as_str()).then(|| whole.range())
        })
        .collect()
}

/// True when the last label of `domain` is a known top-level domain.
pub fn has_known_tld(domain: &str) -> bool {
    match domain.rsplit_once('.') {
        Some((head, tld)) => {
            !head.is_empty() && twitter_text::tlds::is_valid_tld_case_insensitive(tld)
        }
        None => false,
    }
}

/// Bluesky's mentions: `@handle` where the handle looks like a domain.
pub fn mentions(text: &str) -> Vec<Span> {
    MENTION
        .captures_iter(text)
        .filter_map(|c| {
            let handle = c.get(1)?;
            let h = handle.as_str();
            if !has_known_tld(h) && !h.ends_with(".test") {
                return None;
            }
            Some(Span {
                range: handle.start() - 1..handle.end(),
                entity: Entity::Mention {
                    handle: h.to_string(),
                },
            })
        })
        .collect()
}

/// Bluesky's links, with their URIs.
pub fn links(text: &str) -> Vec<Span> {
    LINK.captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(1)?;
            let mut uri = whole.as_str().to_string();
            let mut end = whole.end();
            if !starts_with_http(&uri) {
                let domain = c.name("domain")?.as_str();
                if !has_known_tld(domain) {
                    return None;
                }
                uri = format!("https://{uri}");
            }
            if uri.ends_with(['.', ',', ';', ':', '!', '?']) {
                uri.pop();
                end -= 1;
            }
            if uri.ends_with(')') && !uri.contains('(') {
                uri.pop();
                end -= 1;
            }
            Some(Span {
                range: whole.start()..end,
                entity: Entity::Link { uri },
            })
        })
        .collect()
}

fn starts_with_http(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("http"))
}

fn is_punctuation(c: char) -> bool {
    // Unicode general category P*, as `\p{P}` in the reference regexes.
    static P: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\p{P}$").expect("punct"));
    let mut buf = [0u8; 4];
    P.is_match(c.encode_utf8(&mut buf))
}

/// Bluesky's hashtags.
pub fn tags(text: &str) -> Vec<Span> {
    TAG.captures_iter(text)
        .filter_map(|c| {
            let run = c.get(1)?;
            let s = run.as_str();
            if s.starts_with('\u{FE0F}') {
                return None;
            }
            if !s
                .chars()
                .any(|ch| !ch.is_ascii_digit() && !ch.is_whitespace() && !is_punctuation(ch))
            {
                return None;
            }
            let tag = s.trim_end_matches(is_punctuation);
            let utf16 = tag.encode_utf16().count();
            if tag.is_empty() || utf16 > 64 {
                return None;
            }
            // The `#` (or the full-width `＃`) just before the run.
            let hash_len = text[..run.start()]
                .chars()
                .next_back()
                .map_or(1, char::len_utf8);
            Some(Span {
                range: run.start() - hash_len..run.start() + tag.len(),
                entity: Entity::Tag {
                    tag: tag.to_string(),
                },
            })
        })
        .collect()
}

/// Every link, mention and hashtag of `text` as Bluesky detects them, in text order.
pub fn detect(text: &str) -> Vec<Span> {
    let mut all = links(text);
    all.extend(mentions(text));
    all.extend(tags(text));
    all.sort_by_key(|s| (s.range.start, s.range.end));
    all
}

/// The byte ranges a thread must never be cut inside: links (as Bluesky and as twitter-text find
/// them), mentions (Bluesky's and Mastodon's `@user@domain`) and hashtags. Sorted, possibly
/// overlapping.
pub fn protected_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans: Vec<Range<usize>> = detect(text).into_iter().map(|s| s.range).collect();
    spans.extend(super::length::twitter_urls(text, true));
    spans.extend(mastodon_urls(text));
    spans.extend(mastodon_mentions(text).into_iter().map(|(r, _)| r));
    spans.sort_by_key(|r| (r.start, r.end));
    spans
}

/// Mastodon mentions `@user` and `@user@domain`: the byte range and the username alone.
pub fn mastodon_mentions(text: &str) -> Vec<(Range<usize>, &str)> {
    MASTODON_MENTION
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let before = text[..whole.start()].chars().next_back();
            if before.is_some_and(|b| b == '=' || b == '/' || b.is_alphanumeric() || b == '_') {
                return None;
            }
            Some((whole.range(), c.get(1)?.as_str()))
        })
        .collect()
}

/// A link shown shorter than its URI: the display text and the full URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortLink {
    pub display: String,
    pub uri: String,
}

/// Links shortened for display on Bluesky, as its app shows them: a link written with its
/// scheme is shown as its host and at most 15 characters of path (13 then `…`), the full URI
/// staying in the link facet. Returns the new text and, in text order, the links shortened.
/// Links whose host has no known TLD (an IP address, a port, user info) are left whole, since
/// the display text must still be detected as a link.
pub fn shorten_links_for_display(text: &str) -> (String, Vec<ShortLink>) {
    let mut out = String::with_capacity(text.len());
    let mut short = Vec::new();
    let mut last = 0;
    for span in links(text) {
        let Entity::Link { uri } = span.entity else {
            continue;
        };
        if let Some(display) = display_form(&text[span.range.clone()]) {
            out.push_str(&text[last..span.range.start]);
            out.push_str(&display);
            last = span.range.end;
            short.push(ShortLink { display, uri });
        }
    }
    out.push_str(&text[last..]);
    (out, short)
}

/// The display form of a link written with its scheme, when it is shorter.
pub fn display_form(link: &str) -> Option<String> {
    let rest = link.split_once("://")?.1;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    if host.contains(['@', ':']) || !has_known_tld(host) {
        return None;
    }
    let path = if path == "/" { "" } else { path };
    let display = if path.chars().count() > 15 {
        let cut: String = path.chars().take(13).collect();
        format!("{host}{cut}…")
    } else {
        format!("{host}{path}")
    };
    // The display text must still be found as one whole link (a host with a hyphen is not).
    let found = links(&display);
    let whole = found.len() == 1 && found[0].range == (0..display.len());
    (whole && display.len() < link.len()).then_some(display)
}
