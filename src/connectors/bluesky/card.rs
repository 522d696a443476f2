//! The link card of a first post with a link and no image (`app.bsky.embed.external`), as the
//! Bluesky app makes it: the page's `og:title` and `og:description`, else its `<title>`.
//!
//! The page is fetched once, with a short timeout and a size cap; a page that does not answer
//! in time, is not HTML or has no title gives no card, and the post goes without one (a card is
//! a nicety, never a reason to hold a post back). No thumbnail: it would mean downloading and
//! uploading a third-party image on every publication.

use regex::Regex;
use std::sync::LazyLock;
use std::time::Duration;

/// How long the page may take, all included.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// The head of a page is enough for its meta tags.
const MAX_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub title: String,
    pub description: String,
}

impl Card {
    /// The `app.bsky.embed.external` embed for `uri`.
    pub fn embed(&self, uri: &str) -> serde_json::Value {
        serde_json::json!({
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": uri,
                "title": self.title,
                "description": self.description,
            }
        })
    }
}

/// The card of the page at `uri`, if it can be had within [`TIMEOUT`].
pub async fn fetch(http: &reqwest::Client, uri: &str) -> Option<Card> {
    tokio::time::timeout(TIMEOUT, fetch_page(http, uri))
        .await
        .ok()
        .flatten()
        .and_then(|page| parse(&page))
}

async fn fetch_page(http: &reqwest::Client, uri: &str) -> Option<String> {
    let mut response = http.get(uri).send().await.ok()?;
    let html = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    if !response.status().is_success() || !html {
        return None;
    }
    let mut page = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        page.extend_from_slice(&chunk);
        if page.len() >= MAX_BYTES {
            break;
        }
    }
    Some(String::from_utf8_lossy(&page).into_owned())
}

static META: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)<meta\b[^>]*>").unwrap());
static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)\b(property|name|content)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).unwrap()
});
static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<title\b[^>]*>(.*?)</title>").unwrap());

/// The card of an HTML page: `og:title` else `<title>` (required), `og:description` else the
/// `description` meta (may be empty).
pub fn parse(page: &str) -> Option<Card> {
    let mut og_title = None;
    let mut og_description = None;
    let mut description = None;
    for tag in META.find_iter(page) {
        let mut key = None;
        let mut content = None;
        for attribute in ATTRIBUTE.captures_iter(tag.as_str()) {
            let value = attribute
                .get(2)
                .or(attribute.get(3))
                .map_or("", |m| m.as_str());
            if attribute[1].eq_ignore_ascii_case("content") {
                content = Some(value);
            } else {
                key = Some(value.to_ascii_lowercase());
            }
        }
        let (Some(key), Some(content)) = (key, content) else {
            continue;
        };
        let slot = match key.as_str() {
            "og:title" => &mut og_title,
            "og:description" => &mut og_description,
            "description" => &mut description,
            _ => continue,
        };
        slot.get_or_insert_with(|| clean(content));
    }
    let title = og_title
        .filter(|t| !t.is_empty())
        .or_else(|| TITLE.captures(page).map(|c| clean(&c[1])))
        .filter(|t| !t.is_empty())?;
    Some(Card {
        title,
        description: og_description.or(description).unwrap_or_default(),
    })
}

/// Entities decoded, whitespace collapsed.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| entity.strip_prefix('#').map(str::parse))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_come_from_open_graph_tags_else_the_title() {
        let page = r#"<html><head>
            <title>Ignored when og:title is there</title>
            <meta content="Le guide des &lt;données&gt; ouvertes" property="og:title">
            <meta property='og:description' content='Publier,
               réutiliser &amp; partager &#233;&#x2014;simplement'>
            <meta name="description" content="second choice">
        </head></html>"#;
        assert_eq!(
            parse(page),
            Some(Card {
                title: "Le guide des <données> ouvertes".into(),
                description: "Publier, réutiliser & partager é—simplement".into(),
            })
        );
        let plain = "<HTML><TITLE>\n  Données ouvertes\n</TITLE><meta name=\"Description\" content=\"Tout savoir\"></HTML>";
        assert_eq!(
            parse(plain),
            Some(Card {
                title: "Données ouvertes".into(),
                description: "Tout savoir".into(),
            })
        );
        assert_eq!(parse("<p>no title & no meta</p>"), None);
        assert_eq!(clean("A &unknown; & B &#xZZ;"), "A &unknown; & B &#xZZ;");
    }
}
