//! Who sent something, parsed once: an email address, a Matrix id, a fediverse account or a
//! Bluesky handle. Each channel names people its own way, and `@user@host` (fediverse) must
//! never be taken for a Matrix id (`@user:server`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// `local@domain`, lowercased.
    Email(String),
    /// `@localpart:server`, as written (Matrix ids are case-sensitive in their server part).
    Matrix(String),
    /// `@user@host` on Mastodon and the rest of the fediverse, lowercased.
    Fediverse { user: String, host: String },
    /// A Bluesky handle (`alice.bsky.social`, written with or without `@`) or a DID, lowercased.
    Bluesky(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not an email address, a Matrix id (@name:server), a fediverse account (@name@host) or a Bluesky handle (@name.bsky.social)"
)]
pub struct AddressError(pub String);

impl Address {
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let text = text.trim();
        let bad = || AddressError(text.to_string());
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        if let Some(did) = text.strip_prefix("did:") {
            return if did.starts_with("plc:") || did.starts_with("web:") {
                Ok(Address::Bluesky(text.to_ascii_lowercase()))
            } else {
                Err(bad())
            };
        }
        if let Some(rest) = text.strip_prefix('@') {
            if let Some((local, server)) = rest.split_once(':') {
                if local.is_empty() || server.is_empty() || rest.contains('@') {
                    return Err(bad());
                }
                return Ok(Address::Matrix(text.to_string()));
            }
            if let Some((user, host)) = rest.split_once('@') {
                if user.is_empty() || !is_host(host) {
                    return Err(bad());
                }
                return Ok(Address::Fediverse {
                    user: user.to_lowercase(),
                    host: host.to_ascii_lowercase(),
                });
            }
            return if is_host(rest) {
                Ok(Address::Bluesky(rest.to_ascii_lowercase()))
            } else {
                Err(bad())
            };
        }
        match text.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(Address::Email(text.to_lowercase()))
            }
            _ => Err(bad()),
        }
    }
}

/// A DNS name with at least two labels.
fn is_host(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Email(a) | Address::Matrix(a) => f.write_str(a),
            Address::Fediverse { user, host } => write!(f, "@{user}@{host}"),
            Address::Bluesky(handle) if handle.starts_with("did:") => f.write_str(handle),
            Address::Bluesky(handle) => write!(f, "@{handle}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_names_people_its_own_way() {
        let email = |a: &str| Ok(Address::Email(a.into()));
        let cases: Vec<(&str, Result<Address, ()>)> = vec![
            (
                "Camille.Roux@Example.org",
                email("camille.roux@example.org"),
            ),
            ("passerelle@localhost", email("passerelle@localhost")),
            (
                "@camille.roux:example.org",
                Ok(Address::Matrix("@camille.roux:example.org".into())),
            ),
            (
                "@camille@Mastodon.Example",
                Ok(Address::Fediverse {
                    user: "camille".into(),
                    host: "mastodon.example".into(),
                }),
            ),
            (
                "@opendatafrance.bsky.social",
                Ok(Address::Bluesky("opendatafrance.bsky.social".into())),
            ),
            (
                "did:plc:z72i7hdynmk6r22z27h6tvur",
                Ok(Address::Bluesky("did:plc:z72i7hdynmk6r22z27h6tvur".into())),
            ),
            (
                "  alex.martin@example.org ",
                email("alex.martin@example.org"),
            ),
            ("", Err(())),
            ("camille", Err(())),
            ("@camille", Err(())),
            ("@:example.org", Err(())),
            ("@camille@", Err(())),
            ("@camille@localhost", Err(())),
            ("a@b@c.example", Err(())),
            ("camille roux@example.org", Err(())),
            ("did:key:abc", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(Address::parse(text).map_err(|_| ()), expected, "{text:?}");
        }
    }

    #[test]
    fn written_back_as_each_channel_writes_it() {
        for text in [
            "camille.roux@example.org",
            "@camille.roux:example.org",
            "@camille@mastodon.example",
            "@opendatafrance.bsky.social",
            "did:plc:z72i7hdynmk6r22z27h6tvur",
        ] {
            assert_eq!(Address::parse(text).unwrap().to_string(), text);
        }
    }
}
