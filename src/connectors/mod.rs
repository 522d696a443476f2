//! One folder per outside system. A connector turns outside traffic into inbound items for the
//! engine and delivers outbox rows; it never decides anything.
//!
//! Each `[connectors.NAME]` section of `bot.toml` makes one connector. Its kind is the `type`
//! key, or NAME itself; `enabled` switches it. Everything else in the section is the
//! connector's own configuration, read by the kind's [`Registration`]. Adding a channel is a
//! folder here, a line in [`REGISTRY`] and a section in `bot.toml`.

pub mod bluesky;
pub mod console;
pub mod feeds;
pub mod imap;
pub mod maildir;
pub mod mastodon;
#[cfg(feature = "matrix")]
pub mod matrix;
pub mod mbox;
pub mod media;
pub mod smtp;
pub mod x;

use crate::config::Config;
use crate::engine::{Engine, Outbound};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tokio::sync::watch;

/// Every kind of connector the bot knows.
pub static REGISTRY: &[Registration] = &[
    console::REGISTRATION,
    maildir::REGISTRATION,
    imap::REGISTRATION,
    smtp::REGISTRATION,
    mastodon::REGISTRATION,
    x::REGISTRATION,
    bluesky::REGISTRATION,
    feeds::REGISTRATION,
    #[cfg(feature = "matrix")]
    matrix::REGISTRATION,
];

/// Where and how a connector's inbound side runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundMode {
    /// Nothing comes in through it (SMTP only sends).
    None,
    /// On every running instance (items are deduplicated by the store).
    EveryInstance,
    /// On the elected leader only: the source cannot be shared (an IMAP mailbox's UIDs).
    Leader,
    /// In the foreground: when it ends (the console's end of input), the bot stops.
    Foreground,
}

/// A channel to the outside world.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Its name in `bot.toml`: outbox rows for it carry this name.
    fn name(&self) -> &str;

    fn inbound_mode(&self) -> InboundMode {
        InboundMode::None
    }

    /// Receives until `shutdown` turns true, handing each item to the engine. An error or a
    /// panic restarts it with backoff (see [`crate::supervisor`]).
    async fn receive(
        &self,
        _engine: Arc<Engine>,
        _shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        Ok(())
    }

    /// What delivers its outbox rows, if it sends anything.
    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        None
    }

    /// What `passerelle doctor` says of it beyond its configuration: whether its server
    /// answers and takes the credentials (one line each, failures with the server's words).
    async fn health(&self) -> Vec<crate::doctor::Check> {
        Vec::new()
    }
}

/// What a registration gets to build a connector.
pub struct Setup<'a> {
    /// The section's name.
    pub name: &'a str,
    /// The section without `type` and `enabled`.
    pub section: &'a toml::Table,
    /// The whole configuration (the bot's mail address, paths relative to the file).
    pub config: &'a Config,
}

impl Setup<'_> {
    /// The section as the connector's own configuration type.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        parse_section(self.section)
    }
}

/// A kind of connector: how its section is checked and how it is built.
#[derive(Clone, Copy)]
pub struct Registration {
    pub kind: &'static str,
    /// Whether it runs when `bot.toml` has no section of that name.
    pub enabled_by_default: bool,
    /// Checks a section without building anything (no network, no secrets read).
    pub check: fn(&toml::Table) -> Result<(), String>,
    pub build: fn(&Setup<'_>) -> anyhow::Result<Arc<dyn Connector>>,
}

/// A secret a connector needs (a password, a store passphrase): never in `bot.toml`, but in a
/// file it names or else in an environment variable.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: cannot read: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
}

/// The secret in `file` (trimmed), or else in the environment variable `env`.
pub fn secret(file: Option<&std::path::Path>, env: &str) -> Result<String, SecretError> {
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|text| text.trim().to_string())
            .map_err(|source| SecretError::File {
                path: path.to_path_buf(),
                source,
            }),
        None => std::env::var(env).map_err(|_| SecretError::MissingEnv(env.to_string())),
    }
}

/// A section read as `T`; unknown keys are errors when `T` denies them.
pub fn parse_section<T: DeserializeOwned>(section: &toml::Table) -> Result<T, String> {
    toml::Value::Table(section.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}

/// A [`Registration::check`] that only parses the section.
pub fn check_as<T: DeserializeOwned>(section: &toml::Table) -> Result<(), String> {
    parse_section::<T>(section).map(|_: T| ())
}

/// Names of the tasks the app supervises besides the connectors.
const RESERVED_NAMES: &[&str] = &["outbox", "leadership", "reminders"];

/// One enabled `[connectors.NAME]` section, checked.
pub struct Instance<'r> {
    pub name: String,
    pub registration: &'r Registration,
    pub section: toml::Table,
}

/// The enabled connectors of `config`, each section checked by its kind; every problem is
/// named with its section.
pub fn instances<'r>(
    config: &Config,
    registry: &'r [Registration],
) -> Result<Vec<Instance<'r>>, Vec<String>> {
    let mut problems = Vec::new();
    let mut found = Vec::new();
    let mut kinds_named = std::collections::HashSet::new();
    let sections = &config.connectors.0;
    for (name, section) in sections {
        if RESERVED_NAMES.contains(&name.as_str()) {
            problems.push(format!(
                "connectors.{name}: '{name}' names one of the bot's own tasks; choose another name"
            ));
            continue;
        }
        let mut section = section.clone();
        let kind = match section.remove("type") {
            None => name.clone(),
            Some(toml::Value::String(kind)) => kind,
            Some(_) => {
                problems.push(format!("connectors.{name}.type must be a string"));
                continue;
            }
        };
        let enabled = match section.remove("enabled") {
            None => None,
            Some(toml::Value::Boolean(on)) => Some(on),
            Some(_) => {
                problems.push(format!("connectors.{name}.enabled must be true or false"));
                continue;
            }
        };
        kinds_named.insert(kind.clone());
        let Some(registration) = registry.iter().find(|r| r.kind == kind) else {
            let known: Vec<&str> = registry.iter().map(|r| r.kind).collect();
            problems.push(format!(
                "connectors.{name}: unknown connector type '{kind}' (known: {})",
                known.join(", ")
            ));
            continue;
        };
        if let Err(problem) = (registration.check)(&section) {
            problems.push(format!("connectors.{name}: {problem}"));
            continue;
        }
        if enabled.unwrap_or(registration.enabled_by_default) {
            found.push(Instance {
                name: name.clone(),
                registration,
                section,
            });
        }
    }
    // A kind on by default runs under its own name when no section is of that kind.
    for registration in registry.iter().filter(|r| r.enabled_by_default) {
        if !kinds_named.contains(registration.kind) {
            found.push(Instance {
                name: registration.kind.to_string(),
                registration,
                section: toml::Table::new(),
            });
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// Builds the enabled connectors of `config`.
pub fn build(
    config: &Config,
    registry: &[Registration],
) -> anyhow::Result<Vec<Arc<dyn Connector>>> {
    let instances = instances(config, registry)
        .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?;
    instances
        .iter()
        .map(|instance| {
            (instance.registration.build)(&Setup {
                name: &instance.name,
                section: &instance.section,
                config,
            })
            .map_err(|e| e.context(format!("connectors.{}", instance.name)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn names(source: &str) -> Result<Vec<(String, &'static str)>, Vec<String>> {
        let config = Config::parse(source, Path::new("bot.toml")).expect("config parses");
        instances(&config, REGISTRY).map(|found| {
            found
                .into_iter()
                .map(|i| (i.name, i.registration.kind))
                .collect()
        })
    }

    #[test]
    fn sections_become_connectors_by_name_or_type() {
        // (bot.toml, the (name, kind) pairs that run, or a problem reported).
        type Expected = Result<Vec<(&'static str, &'static str)>, &'static str>;
        let cases: Vec<(&str, Expected)> = vec![
            ("", Ok(vec![("console", "console")])),
            ("[connectors.console]\nenabled = false\n", Ok(vec![])),
            (
                "[connectors.maildir]\nenabled = true\npath = \"in\"\n",
                Ok(vec![("maildir", "maildir"), ("console", "console")]),
            ),
            (
                "[connectors.maildir]\npath = \"in\"\n",
                Ok(vec![("console", "console")]),
            ),
            (
                "[connectors.list]\ntype = \"imap\"\nenabled = true\nmailbox = \"Lists\"\n[connectors.console]\nenabled = false\n",
                Ok(vec![("list", "imap")]),
            ),
            (
                "[connectors.telegram]\nenabled = true\n",
                Err("unknown connector type 'telegram'"),
            ),
            (
                "[connectors.maildir]\nenabled = true\ncolour = \"blue\"\n",
                Err("connectors.maildir: unknown field `colour`"),
            ),
            (
                "[connectors.smtp]\nenabled = \"yes\"\n",
                Err("enabled must be true or false"),
            ),
            (
                "[connectors.terminal]\ntype = \"console\"\n",
                Ok(vec![("terminal", "console")]),
            ),
            (
                "[connectors.outbox]\ntype = \"smtp\"\nenabled = true\n",
                Err("names one of the bot's own tasks"),
            ),
        ];
        for (source, expected) in cases {
            match (names(source), expected) {
                (Ok(found), Ok(wanted)) => {
                    let found: Vec<(&str, &str)> =
                        found.iter().map(|(n, k)| (n.as_str(), *k)).collect();
                    assert_eq!(found, wanted, "{source}");
                }
                (Err(problems), Err(wanted)) => {
                    assert!(
                        problems.iter().any(|p| p.contains(wanted)),
                        "{source}: {problems:?}"
                    );
                }
                (found, wanted) => panic!("{source}: {found:?}, expected {wanted:?}"),
            }
        }
    }
}
