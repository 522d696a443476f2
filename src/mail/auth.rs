//! Is the `From:` of a mail proven? The verdict decides whether a mail may run a chat command
//! or act on a ticket it reached by subject tag alone. Two ways, chosen in `bot.toml`: check
//! DKIM and DMARC here (the engine does the DNS part), or trust the `Authentication-Results`
//! header that the network's own MTA writes — only the topmost one, only with its authserv-id,
//! since anyone can write such a header into the mail they send.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// DKIM signatures and DMARC alignment, checked by the bot.
    #[default]
    Dkim,
    /// The `Authentication-Results` of the network's own MTA.
    AuthenticationResults,
    /// Nothing is proven: no command runs by mail.
    Off,
}

/// Whether the author domain of a mail is proven, and why (for logs and ticket history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderAuth {
    Pass(String),
    Fail(String),
}

impl SenderAuth {
    pub fn is_pass(&self) -> bool {
        matches!(self, SenderAuth::Pass(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            SenderAuth::Pass(r) | SenderAuth::Fail(r) => r,
        }
    }
}

/// The domain of an address, lowercased.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Relaxed alignment (RFC 7489 §3.1): one domain is the other or a subdomain of it, both below
/// a registrable domain. Without a public-suffix list, two labels stand for the organisational
/// domain, which errs on the strict side for suffixes like `gouv.fr` (`a.gouv.fr` and
/// `b.gouv.fr` do not align).
pub fn aligned(signing: &str, author: &str) -> bool {
    let signing = signing.trim_end_matches('.').to_ascii_lowercase();
    let author = author.trim_end_matches('.').to_ascii_lowercase();
    if signing == author {
        return true;
    }
    let organisational = |d: &str| {
        let labels: Vec<&str> = d.split('.').collect();
        labels[labels.len().saturating_sub(2)..].join(".")
    };
    let org = organisational(&author);
    org.contains('.')
        && organisational(&signing) == org
        && !PUBLIC_SECOND_LEVEL.contains(&org.as_str())
}

/// Second-level suffixes common in the network's mail, under which two labels are not yet
/// an organisation.
const PUBLIC_SECOND_LEVEL: &[&str] = &["gouv.fr", "asso.fr", "co.uk", "com.fr", "nom.fr"];

/// One method's result in an `Authentication-Results` header: `dkim=pass header.d=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    /// Properties such as (`header.from`, domain) or (`header.d`, domain).
    pub properties: Vec<(String, String)>,
}

/// One `Authentication-Results` header (RFC 8601): its authserv-id and each method's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// Removes RFC 5322 comments (parenthesised, possibly nested).
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

pub fn parse_auth_results(value: &str) -> Option<AuthResults> {
    let value = strip_comments(&value.replace(['\r', '\n'], " "));
    let mut parts = value.split(';');
    let authserv_id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    let mut results = Vec::new();
    for part in parts {
        let mut tokens = part.split_whitespace();
        let Some((method, result)) = tokens.next().and_then(|t| t.split_once('=')) else {
            continue;
        };
        let properties = tokens
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_string()))
            .collect();
        results.push(MethodResult {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            properties,
        });
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// The verdict from the topmost `Authentication-Results` header (`headers` in message order),
/// which must carry `authserv_id`: DMARC pass for the author domain, or a DKIM pass aligned
/// with it.
pub fn verdict_from_results(headers: &[String], authserv_id: &str, author: &str) -> SenderAuth {
    let Some(domain) = domain_of(author) else {
        return SenderAuth::Fail("no author address".into());
    };
    let Some(top) = headers.first() else {
        return SenderAuth::Fail("no Authentication-Results header".into());
    };
    let Some(results) = parse_auth_results(top) else {
        return SenderAuth::Fail("unreadable Authentication-Results header".into());
    };
    if !results.authserv_id.eq_ignore_ascii_case(authserv_id) {
        return SenderAuth::Fail(format!(
            "the topmost Authentication-Results is from '{}', not our MTA '{authserv_id}'",
            results.authserv_id
        ));
    }
    let property = |props: &[(String, String)], name: &str| {
        props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim_start_matches('@').to_ascii_lowercase())
    };
    for MethodResult {
        method,
        result,
        properties: props,
    } in &results.results
    {
        if result != "pass" {
            continue;
        }
        match method.as_str() {
            "dmarc" if property(props, "header.from").is_none_or(|d| d == domain) => {
                return SenderAuth::Pass(format!("dmarc=pass by {authserv_id}"));
            }
            "dkim" => {
                let signer = property(props, "header.d")
                    .or_else(|| property(props, "header.i").and_then(|i| domain_of(&i)));
                if let Some(signer) = signer
                    && aligned(&signer, &domain)
                {
                    return SenderAuth::Pass(format!("dkim=pass d={signer} by {authserv_id}"));
                }
            }
            _ => {}
        }
    }
    let summary: Vec<String> = results
        .results
        .iter()
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    SenderAuth::Fail(format!(
        "{authserv_id} proved nothing for {domain}: {}",
        if summary.is_empty() {
            "no result".to_string()
        } else {
            summary.join(" ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_relaxed_but_stays_inside_one_organisation() {
        let cases = [
            ("example.org", "example.org", true),
            ("mail.example.org", "example.org", true),
            ("example.org", "lists.example.org", true),
            ("EXAMPLE.org.", "example.org", true),
            ("example.net", "example.org", false),
            ("evil-example.org", "example.org", false),
            ("a.gouv.fr", "b.gouv.fr", false),
            ("org", "example.org", false),
        ];
        for (signing, author, expected) in cases {
            assert_eq!(aligned(signing, author), expected, "{signing} / {author}");
        }
    }

    #[test]
    fn only_the_topmost_header_of_our_mta_counts() {
        let ours = "mx.odf.example; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org header.s=s1; dmarc=pass (p=reject) header.from=example.org".to_string();
        let forged_ours = "mx.odf.example; dmarc=pass header.from=example.org".to_string();
        let theirs = "mx.elsewhere.example; dmarc=pass header.from=example.org".to_string();
        let failing = "mx.odf.example; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=fail header.from=example.org".to_string();
        let author = "camille.roux@example.org";
        let id = "mx.odf.example";
        let cases: Vec<(Vec<String>, bool, &str)> = vec![
            (vec![ours.clone()], true, "ours says pass"),
            (
                vec![failing.clone(), forged_ours.clone()],
                false,
                "the sender's copy of our header, below ours",
            ),
            (vec![theirs.clone()], false, "another server's verdict"),
            (vec![theirs, ours.clone()], false, "ours must be on top"),
            (vec![], false, "no header"),
            (vec![failing], false, "a fail"),
            (
                vec![
                    "MX.ODF.EXAMPLE (comment; dmarc=pass); dkim=pass header.d=mail.example.org"
                        .into(),
                ],
                true,
                "aligned dkim, comments removed",
            ),
            (
                vec!["mx.odf.example; dkim=pass header.d=attacker.example".into()],
                false,
                "unaligned dkim",
            ),
            (
                vec!["mx.odf.example; dmarc=pass header.from=attacker.example".into()],
                false,
                "dmarc for another domain",
            ),
        ];
        for (headers, pass, what) in cases {
            assert_eq!(
                verdict_from_results(&headers, id, author).is_pass(),
                pass,
                "{what}: {:?}",
                verdict_from_results(&headers, id, author)
            );
        }
    }
}
