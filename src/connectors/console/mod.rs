//! The console: chat on stdin/stdout, as the configured user. Also prints `passerelle ask`'s answer.

use crate::engine::{DeliveryError, Engine, Inbound, Outbound};
use crate::store::{InboundKey, OutboxMessage};
use async_trait::async_trait;
use std::io::Write;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Writes each message to stdout, followed by a blank line.
pub struct ConsoleOutbound;

#[async_trait]
impl Outbound for ConsoleOutbound {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let mut out = std::io::stdout().lock();
        // The body may quote what someone typed: no escape sequence reaches the terminal.
        writeln!(out, "{}\n", crate::core::text::for_terminal(&message.body))
            .and_then(|_| out.flush())
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
pub async fn run(engine: Arc<Engine>, user: String) -> std::io::Result<()> {
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
            key: InboundKey {
                source: "console".into(),
                external_id: id,
            },
            connector: "console".into(),
            reply_to: "stdout".into(),
            sender: user.clone(),
            text: line.trim_end_matches(['\n', '\r']).to_string(),
            lang: None,
        };
        if let Err(error) = engine.handle(&inbound).await {
            tracing::error!(source = "console", id = %inbound.key.external_id, %error, "cannot handle console line");
            if let Some(text) = engine.unavailable_message(&inbound) {
                println!("{text}\n");
            }
        }
    }
}
