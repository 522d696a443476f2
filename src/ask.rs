//! `passerelle ask`: one line through the engine, answered on stdout.

use crate::app;
use crate::config::Config;
use crate::connectors::console::ConsoleConfig;
use crate::core::address::Address;
use crate::core::inbound::{Inbound, InboundKey, ReplyTo};
use crate::core::lang::Lang;
use crate::engine::Handled;
use anyhow::anyhow;
use std::time::Duration;

/// Handles `text` as if `as_member` (by default the console user of the config) typed it, and
/// returns once the answer is printed on stdout by the console connector.
pub async fn ask(
    config: &Config,
    text: String,
    lang: Option<Lang>,
    as_member: Option<String>,
) -> anyhow::Result<()> {
    let sender = match as_member {
        Some(member) => Address::parse(&member)?,
        None => config
            .connectors
            .section::<ConsoleConfig>("console")
            .and_then(|console| console.user())
            .map_err(|e| anyhow!(e))?,
    };
    let engine = app::build_engine(config).await?;
    let inbound = Inbound {
        key: InboundKey::new("cli", crate::connectors::console::session_id()),
        connector: "cli".into(),
        reply_to: ReplyTo::Console,
        sender,
        text,
        lang,
        vouched_role: None,
        ticket: None,
    };
    let outbox_ids = match engine.handle(&inbound).await? {
        Handled::Done { outbox_ids, .. } => outbox_ids,
        Handled::Duplicate | Handled::Ignored => return Ok(()),
    };
    let worker = app::console_worker(config, &engine, "cli");
    // The answer goes through the outbox like any other; wait until it is delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        worker.run_once(chrono::Utc::now()).await?;
        let mut pending = false;
        for id in &outbox_ids {
            let message = engine
                .store()
                .outbox_get(*id)
                .await?
                .ok_or_else(|| anyhow!("outbox row {id} vanished"))?;
            match message.status.as_str() {
                "done" => {}
                "dead" => {
                    return Err(anyhow!(
                        "could not print the answer: {}",
                        message.last_error.unwrap_or_default()
                    ));
                }
                _ => pending = true,
            }
        }
        if !pending {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(anyhow!("the answer is still queued after 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
