//! `bot.toml`: every option, with defaults, unknown keys rejected. Paths are relative to the
//! directory of the config file. Secrets never live here (see each connector's `*_env` keys).

use crate::core::lang::Lang;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub bot: BotConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub directory: DirectoryConfig,
    #[serde(default)]
    pub access: AccessConfig,
    #[serde(default)]
    pub search: SearchConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub routing: RoutingConfig,
    #[serde(default)]
    pub tickets: TicketsConfig,
    #[serde(default)]
    pub social: SocialConfig,
    #[serde(default)]
    pub connectors: ConnectorsConfig,
    /// Where relative paths start: the config file's directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotConfig {
    pub default_language: Lang,
    pub timezone: String,
    pub commands_dir: PathBuf,
    pub prompts_dir: PathBuf,
    pub log_level: String,
    /// Logs go here instead of stderr (keeps the console clean).
    pub log_file: Option<PathBuf>,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            default_language: Lang::Fr,
            timezone: "Europe/Paris".into(),
            commands_dir: "commands".into(),
            prompts_dir: "prompts".into(),
            log_level: "info".into(),
            log_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: u32,
    /// Instances sharing a store elect one leader for the singleton jobs (IMAP watch,
    /// reminders); its lease lasts this long and is renewed at a third of it.
    pub leader_lease_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://passerelle.db".into(),
            max_connections: 5,
            leader_lease_secs: 6,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    pub topics: PathBuf,
    pub geography_dir: PathBuf,
    pub organisations: Option<PathBuf>,
    pub seed_members: Option<PathBuf>,
    pub seed_interventions: Option<PathBuf>,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            topics: "data/topics.toml".into(),
            geography_dir: "data/geo".into(),
            organisations: Some("data/odf/organisations.csv".into()),
            seed_members: None,
            seed_interventions: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    pub admins: Vec<String>,
    pub core_team: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    pub max_results: usize,
    pub proposal_window_days: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            max_results: 5,
            proposal_window_days: 90,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Temporary failures are retried this long after the first one.
    pub retry_for_hours: u64,
    pub initial_backoff_ms: u64,
    pub max_backoff_secs: u64,
    pub lease_secs: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            retry_for_hours: 72,
            initial_backoff_ms: 2000,
            max_backoff_secs: 900,
            lease_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The bot's own address: sender of its mail, and the domain of its Message-IDs.
    pub address: String,
    /// Display name on the mail the bot sends.
    pub name: String,
    /// Ticket tag prefix in subjects: "ODF" gives "[ODF #12]".
    pub ticket_prefix: String,
    /// List-Id of the network's mailing list: its mail is discussion, not robot mail.
    pub watched_list: Option<String>,
    /// Where posts of the watched list are relayed (a connector, and a place in its terms such
    /// as `matrix:!room:server`): one message per email thread, replies in its thread.
    pub list_relay_connector: Option<String>,
    pub list_relay_target: Option<String>,
    /// Classification rules and keyword lists.
    pub rules: PathBuf,
    /// A reply on a closed ticket reopens it (true) or opens a new ticket linked to it (false).
    pub reopen_closed: bool,
    /// Days a hard-bounced address stays muted.
    pub mute_days: u32,
    /// Most mails to one address in the last hour, and in the last day.
    pub max_per_recipient_hour: u32,
    pub max_per_recipient_day: u32,
    /// Most mails on one ticket in the last hour.
    pub max_per_ticket_hour: u32,
    /// How a sender is proven before their mail runs a command or acts on a ticket.
    pub authentication: MailAuthConfig,
    /// The connector (its `[connectors.NAME]`) that sends the bot's mail.
    pub connector: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MailAuthConfig {
    pub method: crate::mail::auth::AuthMethod,
    /// With `authentication-results`: the authserv-id our MTA writes in that header.
    pub authserv_id: String,
    /// With `dkim`: DKIM key records used instead of DNS for their names
    /// (`"s1._domainkey.example.org" = "v=DKIM1; k=ed25519; p=…"`).
    pub dkim_keys: std::collections::BTreeMap<String, String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            address: "passerelle@localhost".into(),
            name: "Passerelle".into(),
            ticket_prefix: "ODF".into(),
            watched_list: None,
            list_relay_connector: None,
            list_relay_target: None,
            rules: "data/mail/rules.toml".into(),
            reopen_closed: true,
            mute_days: 60,
            max_per_recipient_hour: 10,
            max_per_recipient_day: 50,
            max_per_ticket_hour: 10,
            authentication: MailAuthConfig::default(),
            connector: "smtp".into(),
        }
    }
}

impl MailConfig {
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    /// Business hours after which an unaccepted ticket's assignee (or the team) is reminded.
    pub remind_after_hours: f64,
    /// Business hours after which the escalation list is told.
    pub escalate_after_hours: f64,
    /// Who hears about escalations (emails); empty means the directory's admins.
    pub escalate_to: Vec<String>,
    /// Working hours, local time of `bot.timezone`; weekends and French public holidays are off.
    pub opens: chrono::NaiveTime,
    pub closes: chrono::NaiveTime,
    /// Extra days off (team seminar…), as dates.
    pub closed_days: Vec<chrono::NaiveDate>,
    /// How often tickets are checked for reminders.
    pub check_interval_secs: u64,
    /// The connector where the core team follows tickets (e.g. "matrix"), and the place in
    /// that connector's terms (`matrix:!room:server`): each new ticket starts a thread there.
    pub team_connector: Option<String>,
    pub team_target: Option<String>,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        TicketsConfig {
            remind_after_hours: 4.0,
            escalate_after_hours: 16.0,
            escalate_to: Vec::new(),
            opens: chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            closes: chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("valid time"),
            closed_days: Vec::new(),
            check_interval_secs: 300,
            team_connector: None,
            team_target: None,
        }
    }
}

/// The social relay: where news drafts are reviewed and which networks they go to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocialConfig {
    /// The connectors (names of `[connectors.*]` sections of type mastodon, bluesky or x) an
    /// approved draft is published on. Empty: drafts can be written and previewed, not
    /// published.
    pub networks: Vec<String>,
    /// Where drafts are previewed and decided, one thread per draft (a Matrix room): a
    /// connector and a place in its terms. Unset: the preview answers where the draft was
    /// proposed.
    pub review_connector: Option<String>,
    pub review_target: Option<String>,
    /// Who sees the Mastodon posts: "public", "unlisted" (not in public timelines), "private"
    /// (followers only).
    pub mastodon_visibility: crate::core::social::Visibility,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Requests on these topics or in these regions go to these core-team members first.
    pub rules: Vec<crate::core::tickets::RoutingRule>,
}

/// `[connectors.NAME]` sections, kept as written: each connector reads its own (see
/// [`crate::connectors`]), so a new channel adds no field here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ConnectorsConfig(pub std::collections::BTreeMap<String, toml::Table>);

impl ConnectorsConfig {
    /// The section `name` as `T`, or `T`'s defaults when there is none (`type` and `enabled`
    /// are the registry's, not the connector's).
    pub fn section<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, String> {
        match self.0.get(name) {
            None => Ok(T::default()),
            Some(section) => {
                let mut section = section.clone();
                section.remove("type");
                section.remove("enabled");
                crate::connectors::parse_section(&section)
                    .map_err(|e| format!("connectors.{name}: {e}"))
            }
        }
    }

    /// Sets `key` of the section `name` (created when missing), as a test or a tool would.
    pub fn set(&mut self, name: &str, key: &str, value: impl Into<toml::Value>) {
        self.0
            .entry(name.to_string())
            .or_default()
            .insert(key.to_string(), value.into());
    }
}

impl Config {
    /// Reads and validates a config file. `DATABASE_URL`, when set, overrides `store.url`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&source, path)?;
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            config.store.url = url;
        }
        Ok(config)
    }

    pub fn parse(source: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut config: Config = toml::from_str(source).map_err(|e| invalid(e.to_string()))?;
        config.path = path.to_path_buf();
        config.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.timezone().map_err(invalid)?;
        if config.search.max_results == 0 {
            return Err(invalid("search.max_results must be at least 1".into()));
        }
        if !config.mail.address.contains('@') {
            return Err(invalid(format!(
                "mail.address: '{}' is not an email address",
                config.mail.address
            )));
        }
        for (key, list) in [
            ("access.admins", &config.access.admins),
            ("access.core_team", &config.access.core_team),
        ] {
            for address in list {
                crate::core::address::Address::parse(address)
                    .map_err(|e| invalid(format!("{key}: {e}")))?;
            }
        }
        if config.tickets.opens >= config.tickets.closes {
            return Err(invalid(
                "tickets.opens must be before tickets.closes".into(),
            ));
        }
        if !(config.tickets.remind_after_hours > 0.0
            && config.tickets.escalate_after_hours >= config.tickets.remind_after_hours)
        {
            return Err(invalid("tickets: remind_after_hours must be positive and escalate_after_hours at least as long".into()));
        }
        if config.mail.authentication.method == crate::mail::auth::AuthMethod::AuthenticationResults
            && config.mail.authentication.authserv_id.trim().is_empty()
        {
            return Err(invalid(
                "mail.authentication.authserv_id must name our MTA when method = \"authentication-results\"".into(),
            ));
        }
        if config.mail.list_relay_connector.is_some() != config.mail.list_relay_target.is_some() {
            return Err(invalid(
                "mail: list_relay_connector and list_relay_target go together".into(),
            ));
        }
        if config.mail.list_relay_connector.is_some() && config.mail.watched_list.is_none() {
            return Err(invalid(
                "mail: list_relay_connector needs watched_list (the List-Id of the list to relay)"
                    .into(),
            ));
        }
        if config.tickets.team_connector.is_some() != config.tickets.team_target.is_some() {
            return Err(invalid(
                "tickets: team_connector and team_target go together".into(),
            ));
        }
        if config.social.review_connector.is_some() != config.social.review_target.is_some() {
            return Err(invalid(
                "social: review_connector and review_target go together".into(),
            ));
        }
        for network in &config.social.networks {
            if !config.connectors.0.contains_key(network) {
                return Err(invalid(format!(
                    "social.networks: '{network}' is not a [connectors.{network}] section"
                )));
            }
        }
        if config.store.leader_lease_secs < 3 {
            return Err(invalid("store.leader_lease_secs must be at least 3".into()));
        }
        if config.outbox.retry_for_hours < 1 {
            return Err(invalid("outbox.retry_for_hours must be at least 1".into()));
        }
        if config.outbox.lease_secs < 1 {
            return Err(invalid("outbox.lease_secs must be at least 1".into()));
        }
        Ok(config)
    }

    pub fn timezone(&self) -> Result<chrono_tz::Tz, String> {
        self.bot
            .timezone
            .parse()
            .map_err(|_| format!("bot.timezone: unknown time zone '{}'", self.bot.timezone))
    }

    /// A path from the config, made relative to the config file.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The store URL, with a relative SQLite file made relative to the config file.
    pub fn store_url(&self) -> String {
        match self.store.url.strip_prefix("sqlite://") {
            Some(file) if !file.starts_with('/') && !file.starts_with(':') => {
                format!("sqlite://{}", self.resolve(Path::new(file)).display())
            }
            _ => self.store.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let error = Config::parse(
            "[bot]\ndefault_language = \"fr\"\ncolour = \"blue\"\n",
            Path::new("bot.toml"),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("bot.toml"), "{message}");
        assert!(message.contains("colour"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("[bot]\ndefault_language = \"de\"\n", "default_language"),
            ("[bot]\ntimezone = \"Mars/Olympus\"\n", "timezone"),
            ("[search]\nmax_results = 0\n", "max_results"),
            (
                "[mail]\nlist_relay_connector = \"matrix\"\n",
                "list_relay_target go together",
            ),
            (
                "[mail]\nlist_relay_connector = \"matrix\"\nlist_relay_target = \"matrix:!r:x\"\n",
                "needs watched_list",
            ),
        ];
        for (source, expected) in cases {
            let message = Config::parse(source, Path::new("bot.toml"))
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{source}: {message}");
        }
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let config = Config::parse(
            "[store]\nurl = \"sqlite://state/bot.db\"\n",
            Path::new("/etc/passerelle/bot.toml"),
        )
        .unwrap();
        assert_eq!(config.store_url(), "sqlite:///etc/passerelle/state/bot.db");
        assert_eq!(
            config.resolve(Path::new("commands")),
            PathBuf::from("/etc/passerelle/commands")
        );
    }
}
