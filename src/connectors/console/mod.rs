//! The console: chat on stdin/stdout, as the configured user. Also prints `passerelle ask`'s answer.

use super::{Connector, InboundMode, Registration, Setup, parse_section};
use crate::core::address::Address;
use crate::core::inbound::{Inbound, InboundKey, OutboxMessage, ReplyTo};
use crate::engine::{Delivered, DeliveryError, Engine, Outbound, Progress};
use async_trait::async_trait;
use serde::Deserialize;
use std::io::Write;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

pub const REGISTRATION: Registration = Registration {
    kind: "console",
    enabled_by_default: true,
    check: |section| parse_section::<ConsoleConfig>(section)?.user().map(|_| ()),
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// The address the console speaks as: a member's email or Matrix id.
    pub user: String,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            user: "console@localhost".into(),
        }
    }
}

impl ConsoleConfig {
    pub fn user(&self) -> Result<Address, String> {
        Address::parse(&self.user).map_err(|e| format!("user: {e}"))
    }
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let config: ConsoleConfig = setup.parse().map_err(anyhow::Error::msg)?;
    Ok(Arc::new(Console {
        name: setup.name.to_string(),
        user: config.user().map_err(anyhow::Error::msg)?,
    }))
}

/// Chat on the terminal: lines in, answers out, as one configured user.
pub struct Console {
    name: String,
    user: Address,
}

#[async_trait]
impl Connector for Console {
    fn name(&self) -> &str {
        &self.name
    }

    fn inbound_mode(&self) -> InboundMode {
        InboundMode::Foreground
    }

    async fn receive(
        &self,
        engine: Arc<Engine>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        welcome(&engine, &self.user).await?;
        tokio::select! {
            result = run(engine, &self.name, self.user.clone()) => Ok(result?),
            _ = shutdown.changed() => Ok(()),
        }
    }

    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        Some(Arc::new(ConsoleOutbound))
    }
}

/// Greets the user by name, in their language when the directory knows it.
async fn welcome(engine: &Engine, user: &Address) -> anyhow::Result<()> {
    let today = engine.today(chrono::Utc::now());
    let directory = engine.directory(today).await?;
    let member = directory.by_address(user);
    let lang = member
        .and_then(|m| m.preferred_lang)
        .unwrap_or(engine.settings().default_lang);
    let name = member
        .map(|m| m.name.clone())
        .unwrap_or_else(|| user.to_string());
    println!(
        "{}\n",
        engine.knowledge().prompts.render(
            lang,
            "console/welcome",
            serde_json::json!({ "name": name })
        )?
    );
    Ok(())
}

/// Writes each message to stdout, followed by a blank line.
pub struct ConsoleOutbound;

#[async_trait]
impl Outbound for ConsoleOutbound {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        let mut out = std::io::stdout().lock();
        // The body may quote what someone typed: no escape sequence reaches the terminal.
        writeln!(out, "{}\n", crate::core::text::for_terminal(&message.body))
            .and_then(|_| out.flush())
            .map(|()| Delivered::default())
            .map_err(|e| DeliveryError::Transient(e.to_string()))
    }
}

/// A name unique to this process run, so console line numbers never collide across runs.
pub fn session_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}-{}", std::process::id())
}

/// Reads lines until end of input; each line goes through the engine. Bytes that are not
/// UTF-8 are replaced (and logged), never fatal: a stray byte must not stop the bot.
pub async fn run(engine: Arc<Engine>, connector: &str, user: Address) -> std::io::Result<()> {
    let session = session_id();
    let mut input = BufReader::new(tokio::io::stdin());
    let mut raw = Vec::new();
    let mut number = 0u64;
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw).await? == 0 {
            return Ok(());
        }
        number += 1;
        let id = format!("{session}:{number}");
        let line = match String::from_utf8(raw.clone()) {
            Ok(line) => line,
            Err(_) => {
                tracing::warn!(source = "console", %id, "console line is not valid UTF-8; invalid bytes replaced");
                String::from_utf8_lossy(&raw).into_owned()
            }
        };
        let inbound = Inbound {
            key: InboundKey::new("console", id),
            connector: connector.to_string(),
            reply_to: ReplyTo::Console,
            sender: user.clone(),
            text: line.trim_end_matches(['\n', '\r']).to_string(),
            lang: None,
            vouched_role: None,
            ticket: None,
        };
        if let Err(error) = engine.handle(&inbound).await {
            tracing::error!(source = "console", id = %inbound.key.external_id, %error, "cannot handle console line");
            if let Some(text) = engine.unavailable_message(&inbound) {
                println!("{text}\n");
            }
        }
    }
}
