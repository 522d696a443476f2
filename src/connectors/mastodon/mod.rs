//! Mastodon: publishes the social relay's threads (and deletes them) through the instance's
//! REST API. Nothing comes in through it.
//!
//! - [`api`]: the HTTP calls and what each failure means for a retry (rate-limit headers).
//! - [`outbound`]: a thread posted in order, resumable after a crash at any point.

pub mod api;
pub mod outbound;

use super::{Connector, Registration, Setup, parse_section};
use crate::doctor::Check;
use crate::engine::Outbound;
use async_trait::async_trait;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use outbound::MastodonOutbound;

pub const REGISTRATION: Registration = Registration {
    kind: "mastodon",
    enabled_by_default: false,
    check,
    build,
};

/// `[connectors.mastodon]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonConfig {
    /// The instance, e.g. `https://mastodon.social`.
    pub base_url: String,
    /// A file holding the access token (relative to `bot.toml`); else `access_token_env`.
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    #[serde(default = "default_token_env")]
    pub access_token_env: String,
    /// Longest wait for one HTTP call, image uploads included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_token_env() -> String {
    "PASSERELLE_MASTODON_TOKEN".into()
}

fn default_timeout_secs() -> u64 {
    30
}

impl MastodonConfig {
    fn checked(section: &toml::Table) -> Result<MastodonConfig, String> {
        let config: MastodonConfig = parse_section(section)?;
        api::base_url_of(&config.base_url)?;
        if config.timeout_secs == 0 {
            return Err("timeout_secs must be at least 1".into());
        }
        Ok(config)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

fn check(section: &toml::Table) -> Result<(), String> {
    MastodonConfig::checked(section).map(drop)
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let config = MastodonConfig::checked(setup.section).map_err(anyhow::Error::msg)?;
    let file = config
        .access_token_file
        .as_ref()
        .map(|p| setup.config.resolve(p));
    let token = super::secret(file.as_deref(), &config.access_token_env)
        .map_err(|e| anyhow::anyhow!("mastodon access token: {e}"))?;
    if token.is_empty() {
        anyhow::bail!("mastodon access token: it is empty");
    }
    let outbound = MastodonOutbound::new(&config.base_url, token, config.timeout())
        .map_err(anyhow::Error::msg)?;
    Ok(Arc::new(Mastodon {
        name: setup.name.to_string(),
        outbound: Arc::new(outbound),
    }))
}

/// Publishes to one Mastodon account.
pub struct Mastodon {
    name: String,
    outbound: Arc<MastodonOutbound>,
}

#[async_trait]
impl Connector for Mastodon {
    fn name(&self) -> &str {
        &self.name
    }

    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        Some(self.outbound.clone())
    }

    /// Whether the instance answers and takes the token, and whose account it is.
    async fn health(&self) -> Vec<Check> {
        let api = self.outbound.api();
        vec![match api.verify_credentials().await {
            Ok(account) => Check::ok(format!(
                "{}: @{} on {}",
                self.name,
                account.acct,
                api.base_url()
            )),
            Err(error) => Check::fail(format!("{}: {}", self.name, outbound::reason(&error))),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_checked_before_anything_is_built() {
        // (section, the problem reported or None)
        let cases = [
            ("base_url = \"https://mastodon.social\"", None),
            (
                "base_url = \"http://127.0.0.1:3000\"\naccess_token_file = \"token\"\ntimeout_secs = 5",
                None,
            ),
            ("", Some("missing field `base_url`")),
            ("base_url = \"mastodon.social\"", Some("is not a URL")),
            (
                "base_url = \"https://mastodon.social\"\naccess_token = \"x\"",
                Some("unknown field `access_token`"),
            ),
            (
                "base_url = \"https://mastodon.social\"\ntimeout_secs = 0",
                Some("timeout_secs must be at least 1"),
            ),
        ];
        for (source, problem) in cases {
            let section: toml::Table = source.parse().unwrap();
            match (check(&section), problem) {
                (Ok(()), None) => {}
                (Err(found), Some(wanted)) => assert!(found.contains(wanted), "{source}: {found}"),
                (found, wanted) => panic!("{source}: {found:?}, expected {wanted:?}"),
            }
        }
    }
}
