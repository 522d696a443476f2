//! A channel is a plug-in: a connector written here, outside `src/`, registered the way the
//! built-in ones are (a `Registration` in the list given to the app, a `[connectors.NAME]`
//! section), runs inside the real bot: supervised, fed to the engine, answered through the
//! outbox. Nothing in the core, the engine, the commands or the store knows it.

mod common;

use async_trait::async_trait;
use passerelle::app;
use passerelle::connectors::{Connector, InboundMode, Registration, Setup, check_as};
use passerelle::core::address::Address;
use passerelle::core::inbound::{Inbound, InboundKey, OutboxMessage, ReplyTo};
use passerelle::engine::{Delivered, DeliveryError, Engine, Outbound, Progress};
use serde::Deserialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Lines typed in the pretend chat room, and what the bot wrote back (target, text).
static TYPED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
static WRITTEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
/// How many times the inbound side was started: the first start fails on purpose.
static STARTS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomConfig {
    room: String,
    speaker: String,
}

const ROOM: Registration = Registration {
    kind: "room",
    enabled_by_default: false,
    check: check_as::<RoomConfig>,
    build,
};

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let config: RoomConfig = setup.parse().map_err(anyhow::Error::msg)?;
    Ok(Arc::new(Room {
        name: setup.name.to_string(),
        speaker: Address::parse(&config.speaker)?,
        room: config.room,
    }))
}

struct Room {
    name: String,
    room: String,
    speaker: Address,
}

#[async_trait]
impl Connector for Room {
    fn name(&self) -> &str {
        &self.name
    }

    fn inbound_mode(&self) -> InboundMode {
        InboundMode::EveryInstance
    }

    async fn receive(
        &self,
        engine: Arc<Engine>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        if STARTS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the room connector's first start fails");
        }
        let mut line = 0;
        loop {
            let typed: Vec<&str> = std::mem::take(&mut *TYPED.lock().unwrap());
            for text in typed {
                line += 1;
                engine
                    .handle(&Inbound {
                        key: InboundKey::new(self.name.as_str(), format!("line-{line}")),
                        connector: self.name.clone(),
                        reply_to: ReplyTo::Native(self.room.clone()),
                        sender: self.speaker.clone(),
                        text: text.to_string(),
                        lang: None,
                        vouched_role: None,
                        ticket: None,
                    })
                    .await?;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        Some(Arc::new(RoomOutbound))
    }
}

struct RoomOutbound;

#[async_trait]
impl Outbound for RoomOutbound {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        WRITTEN
            .lock()
            .unwrap()
            .push((message.target.clone(), message.body.clone()));
        Ok(Delivered::default())
    }
}

#[tokio::test]
async fn a_connector_defined_outside_the_crate_runs_supervised_and_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        common::config_with_store(&format!("sqlite://{}", dir.path().join("bot.db").display()));
    config.connectors.set("console", "enabled", false);
    config.connectors.set("maildir", "enabled", false);
    config.connectors.set("salle", "type", "room");
    config.connectors.set("salle", "enabled", true);
    config.connectors.set("salle", "room", "!salle-des-fetes");
    config
        .connectors
        .set("salle", "speaker", "dominique.lefevre@example.org");
    let mut registry = passerelle::connectors::REGISTRY.to_vec();
    registry.push(ROOM);

    // A section the kind does not know is refused before anything starts.
    let mut wrong = config.clone();
    wrong.connectors.set("salle", "colour", "blue");
    let refused = app::run_with(wrong, &registry, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("connectors.salle: unknown field `colour`"),
        "{refused}"
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bot = tokio::spawn(async move {
        app::run_with(config.clone(), &registry, async {
            let _ = stopped.await;
        })
        .await
    });
    TYPED.lock().unwrap().push("aide");
    let started = Instant::now();
    let answer = loop {
        if let Some(found) = WRITTEN.lock().unwrap().first().cloned() {
            break found;
        }
        if bot.is_finished() {
            panic!("bot ended: {:?}", bot.await);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no answer in the room"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer.0, "!salle-des-fetes");
    assert!(answer.1.contains("trouve"), "the French help: {}", answer.1);
    assert!(
        STARTS.load(Ordering::SeqCst) >= 2,
        "restarted after its panic"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), bot)
        .await
        .expect("the bot stops")
        .unwrap()
        .unwrap();
    let store = passerelle::store::open(
        &format!("sqlite://{}", dir.path().join("bot.db").display()),
        1,
    )
    .await
    .unwrap();
    let health = store.task_health().await.unwrap();
    let salle = health
        .iter()
        .find(|t| t.name == "salle")
        .expect("the connector is a supervised task");
    assert!(salle.restarts >= 1, "{salle:?}");
    assert!(
        salle
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("first start fails")),
        "{salle:?}"
    );
}
