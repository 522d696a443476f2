//! What the Matrix connector reads and writes, without the SDK: which messages are commands for
//! the bot, and how its answers are made safe to post.

/// The command in a room message, if it is one: in a direct chat every line is; elsewhere the
/// line must start with the prefix (`!p aide`) or with the bot's name or id (`Passerelle: aide`,
/// `@passerelle:example.org aide`), or mention the bot by id.
pub fn command_in<'a>(
    body: &'a str,
    direct: bool,
    prefix: &str,
    names: &[&str],
    mentioned: bool,
) -> Option<&'a str> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    if direct {
        return Some(strip_address(body, prefix, names).unwrap_or(body));
    }
    if let Some(rest) = strip_address(body, prefix, names) {
        return (!rest.is_empty()).then_some(rest);
    }
    mentioned.then_some(body)
}

/// `body` without a leading prefix or name and the punctuation after a name.
fn strip_address<'a>(body: &'a str, prefix: &str, names: &[&str]) -> Option<&'a str> {
    if !prefix.is_empty()
        && let Some(rest) = body.strip_prefix(prefix)
        && (rest.is_empty() || rest.starts_with(char::is_whitespace))
    {
        return Some(rest.trim());
    }
    for name in names.iter().filter(|n| !n.is_empty()) {
        if let Some(head) = body.get(..name.len())
            && head.eq_ignore_ascii_case(name)
        {
            let rest = &body[name.len()..];
            if rest.is_empty() || rest.starts_with([':', ',', ' ', '\u{a0}']) {
                return Some(rest.trim_start_matches([':', ',']).trim());
            }
        }
    }
    None
}

/// A word that would notify everyone in the room: `@room`. A zero-width joiner after the `@`
/// keeps it readable and inert.
fn defuse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        if rest
            .get(..4)
            .is_some_and(|word| word.eq_ignore_ascii_case("room"))
        {
            out.push('\u{2060}');
        }
    }
    out.push_str(rest);
    out
}

/// The plain body and the HTML body of an answer: every character of outside text escaped,
/// line breaks kept, mass mentions defused in both.
pub fn notice_bodies(text: &str) -> (String, String) {
    let plain = defuse(text);
    let mut html = String::with_capacity(plain.len() + 16);
    for c in plain.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            '\n' => html.push_str("<br>"),
            c => html.push(c),
        }
    }
    (plain, html)
}

/// A transaction id from an outbox idempotency key: the same key always gives the same id, so
/// a resend after a crash is recognised by the homeserver. Only characters safe in a URL path.
pub fn transaction_id(idempotency_key: &str) -> String {
    let mut id = String::with_capacity(idempotency_key.len() + 8);
    for byte in idempotency_key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            id.push(char::from(byte));
        } else {
            id.push_str(&format!(".{byte:02X}"));
        }
    }
    format!("passerelle.{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_addressed_to_the_bot() {
        let names = ["Passerelle", "@passerelle:example.org"];
        let cases = [
            // (body, direct, mentioned, command)
            ("aide", true, false, Some("aide")),
            ("!p aide", true, false, Some("aide")),
            ("aide", false, false, None),
            ("!p aide", false, false, Some("aide")),
            ("!paide", false, false, None),
            ("!p", false, false, None),
            (
                "Passerelle: trouve un intervenant",
                false,
                false,
                Some("trouve un intervenant"),
            ),
            ("passerelle, aide", false, false, Some("aide")),
            ("@passerelle:example.org help", false, false, Some("help")),
            ("Passerellement vôtre", false, false, None),
            (
                "qui parle de RGPD ?",
                false,
                true,
                Some("qui parle de RGPD ?"),
            ),
            ("   ", true, false, None),
        ];
        for (body, direct, mentioned, expected) in cases {
            assert_eq!(
                command_in(body, direct, "!p", &names, mentioned),
                expected,
                "{body:?} direct={direct}"
            );
        }
    }

    #[test]
    fn answers_are_escaped_and_never_ping_the_room() {
        let (plain, html) = notice_bodies("<b>Camille</b> & \"co\"\n@room @Room @roomie a@room.fr");
        assert!(
            !plain.contains("@room") && !plain.contains("@Room"),
            "{plain}"
        );
        assert!(
            html.starts_with("&lt;b&gt;Camille&lt;/b&gt; &amp; &quot;co&quot;<br>"),
            "{html}"
        );
        assert!(!html.contains("<b>"));
        assert_eq!(
            plain.replace('\u{2060}', ""),
            "<b>Camille</b> & \"co\"\n@room @Room @roomie a@room.fr"
        );
    }

    #[test]
    fn transaction_ids_are_stable_and_distinct() {
        let keys = ["console:1:0", "console:1:1", "console.1:0", "mail:a@b:0"];
        let ids: Vec<String> = keys.iter().map(|k| transaction_id(k)).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{ids:?}");
        assert_eq!(ids[0], transaction_id("console:1:0"));
        assert!(ids.iter().all(|id| {
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }));
    }
}
