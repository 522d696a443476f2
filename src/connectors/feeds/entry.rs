//! What the relay takes from a feed entry: a stable id (so a restart or a re-ordered feed never
//! makes a second draft) and the text of the draft, a plain social post.

use feed_rs::model::{Entry, Text};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

static TAGS: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"<[^>]*>").expect("a valid pattern"));

/// The longest summary put in a draft, in characters: the team edits the rest if it wants more.
const SUMMARY_CHARS: usize = 280;

/// The entry's own id (RSS guid, Atom id, JSON Feed id), else its link, else a hash of its title
/// and date. The parser must leave missing ids empty (see [`super::parser`]): its own fallback
/// would be a random UUID for an entry without a link, a new draft at every poll.
pub fn id(entry: &Entry) -> Option<String> {
    let own = entry.id.trim();
    if !own.is_empty() {
        return Some(own.to_string());
    }
    if let Some(link) = link(entry) {
        return Some(link);
    }
    let title = entry.title.as_ref().map(plain_text).unwrap_or_default();
    let date = entry.published.or(entry.updated);
    if title.is_empty() && date.is_none() {
        return None;
    }
    let digest = Sha256::digest(format!(
        "{title}\n{}",
        date.map(|d| d.to_rfc3339()).unwrap_or_default()
    ));
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("sha256:{hex}"))
}

/// The page the entry is about: its alternate link (RSS `<link>`, Atom `rel="alternate"` or no
/// rel, JSON Feed `url`), else its first link.
pub fn link(entry: &Entry) -> Option<String> {
    entry
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or(entry.links.first())
        .map(|l| l.href.trim().to_string())
        .filter(|href| !href.is_empty())
}

/// The draft's text: the title and the link, which is what a feed's post on a social network
/// usually is. An entry without a title (RSS 2.0 and JSON Feed allow it: short posts) gets its
/// summary, else its content, cut short, instead. None for an entry with nothing to say.
pub fn text(entry: &Entry) -> Option<String> {
    let title = entry.title.as_ref().map(plain_text);
    let summary = || {
        let summary = entry.summary.as_ref().map(plain_text);
        let content = || {
            let content = entry.content.as_ref()?;
            let html = content.content_type.subty().as_str().contains("html");
            Some(plain(content.body.as_deref()?, html))
        };
        [summary, content()]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .map(|s| shorten(&s, SUMMARY_CHARS))
    };
    let words = title.filter(|t| !t.is_empty()).or_else(summary);
    let text = [words, link(entry)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

/// A feed text as plain text: HTML tags dropped (titles and summaries are often HTML), the usual
/// entities decoded, whitespace collapsed.
fn plain(text: &str, html: bool) -> String {
    let stripped = if html {
        TAGS.replace_all(text, " ")
            .replace("&nbsp;", " ")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    } else {
        text.to_string()
    };
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn plain_text(text: &Text) -> String {
    plain(
        &text.content,
        text.content_type.subty().as_str().contains("html"),
    )
}

/// `text` cut at a word boundary to at most `max` characters, an ellipsis marking the cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    format!("{}…", cut.trim_end_matches([' ', ',', ';', ':']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Vec<Entry> {
        super::super::parser("https://example.org/feed.xml")
            .parse(xml.as_bytes())
            .unwrap()
            .entries
    }

    #[test]
    fn ids_fall_back_from_guid_to_link_to_a_hash_of_title_and_date() {
        // Invented items.
        let entries = parse(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><guid>tag:example.org,2026:1</guid><title>A</title><link>https://example.org/a</link></item>
            <item><title>B</title><link>https://example.org/b</link></item>
            <item><title>C</title><pubDate>Thu, 26 Nov 2026 10:00:00 GMT</pubDate></item>
            <item><title>C</title><pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate></item>
            </channel></rss>"#,
        );
        let ids: Vec<String> = entries.iter().map(|e| id(e).unwrap()).collect();
        assert_eq!(ids[0], "tag:example.org,2026:1");
        assert_eq!(ids[1], "https://example.org/b");
        assert!(ids[2].starts_with("sha256:") && ids[3].starts_with("sha256:"));
        assert_ne!(
            ids[2], ids[3],
            "the date tells two same-titled entries apart"
        );
        // Stable: parsing again gives the same ids.
        let again: Vec<String> = parse(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>C</title><pubDate>Thu, 26 Nov 2026 10:00:00 GMT</pubDate></item>
            </channel></rss>"#,
        )
        .iter()
        .map(|e| id(e).unwrap())
        .collect();
        assert_eq!(again[0], ids[2]);
    }

    #[test]
    fn the_text_is_the_title_and_the_link_or_a_short_summary_without_a_title() {
        let long = "Mot ".repeat(120);
        let entries = parse(&format!(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>Open data &amp; territoires</title><link>https://example.org/a</link>
              <description>Ignored when there is a title.</description></item>
            <item><description>&lt;p&gt;Le &lt;b&gt;guide&lt;/b&gt; est en ligne&lt;/p&gt;</description><link>https://example.org/b</link></item>
            <item><description>{long}</description></item>
            <item><guid>empty</guid></item>
            </channel></rss>"#
        ));
        assert_eq!(
            text(&entries[0]).unwrap(),
            "Open data & territoires https://example.org/a"
        );
        assert_eq!(
            text(&entries[1]).unwrap(),
            "Le guide est en ligne https://example.org/b"
        );
        let cut = text(&entries[2]).unwrap();
        assert!(
            cut.ends_with("Mot…") && cut.chars().count() <= SUMMARY_CHARS,
            "{cut}"
        );
        assert_eq!(text(&entries[3]), None);

        // A JSON Feed short post: no title, its content (HTML here) instead.
        let post = super::super::parser("https://example.org/feed.json")
            .parse(
                br#"{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
                {"id": "1", "url": "https://example.org/p/1",
                 "content_html": "<p>Atelier <em>open data</em> jeudi</p>"}]}"#
                    .as_slice(),
            )
            .unwrap();
        assert_eq!(
            text(&post.entries[0]).unwrap(),
            "Atelier open data jeudi https://example.org/p/1"
        );
    }
}
