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
        writeln!(out, "{}\n", message.body)
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

/// Reads lines until end of input; each line goes through the engine.
pub async fn run(engine: Arc<Engine>, user: String) -> std::io::Result<()> {
    let session = session_id();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut number = 0u64;
    while let Some(line) = lines.next_line().await? {
        number += 1;
        let inbound = Inbound {
            key: InboundKey {
                source: "console".into(),
                external_id: format!("{session}:{number}"),
            },
            connector: "console".into(),
            reply_to: "stdout".into(),
            sender: user.clone(),
            text: line,
            lang: None,
        };
        if let Err(error) = engine.handle(&inbound).await {
            tracing::error!(source = "console", id = %inbound.key.external_id, %error, "cannot handle console line");
            if let Some(text) = engine.unavailable_message(&inbound) {
                println!("{text}\n");
            }
        }
    }
    Ok(())
}
