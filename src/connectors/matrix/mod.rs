//! Matrix (matrix-sdk): the bot in the network's rooms. Logs in once and then restores its
//! session and device from its encrypted store, so end-to-end encrypted rooms work across
//! restarts. Commands come from direct chats (any line) and from rooms (with the prefix, the
//! bot's name, or a mention); answers go back as `m.notice` in the thread of the command.
//!
//! Delivery is at least once, never twice: the sync position the connector trusts is its own,
//! saved only after every event of a sync batch went through the engine; after a crash the batch
//! comes again and the engine recognises each event by its id. The first sync after a fresh
//! login is history and is never answered.

mod doctor;
mod text;
mod trust;

pub use doctor::doctor;

use super::{Connector, InboundMode, Registration, Setup, check_as, secret};
use crate::core::address::Address;
use crate::core::directory::Role;
use crate::core::inbound::{Inbound, InboundKey, OutboxMessage, ReplyTo};
use crate::engine::{Delivered, DeliveryError, Engine, Outbound, Progress};
use async_trait::async_trait;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, SyncSettings, SyncToken};
use matrix_sdk::encryption::{BackupDownloadStrategy, EncryptionSettings};
use matrix_sdk::room::RoomMemberRole;
use matrix_sdk::ruma::api::client::filter::{Filter, FilterDefinition, RoomEventFilter};
use matrix_sdk::ruma::api::client::sync::sync_events;
use matrix_sdk::ruma::events::reaction::OriginalSyncReactionEvent;
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId};
use matrix_sdk::{Client, Room, RoomState};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub const REGISTRATION: Registration = Registration {
    kind: "matrix",
    enabled_by_default: false,
    check: check_as::<MatrixConfig>,
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixConfig {
    /// The homeserver's client API, e.g. "https://matrix.example.org".
    pub homeserver: String,
    /// The bot's account: a localpart or a full id.
    pub user: String,
    /// Environment variable holding the password (used for the first login only).
    pub password_env: String,
    /// Or a file holding it.
    pub password_file: Option<PathBuf>,
    /// The bot's own folder: its session and the SDK's encrypted stores (room keys). Keep it:
    /// losing it means a new device that cannot read older encrypted messages.
    pub store_dir: PathBuf,
    /// Environment variable holding the passphrase that encrypts the store.
    pub store_passphrase_env: String,
    /// Or a file holding it.
    pub store_passphrase_file: Option<PathBuf>,
    /// Environment variable holding the recovery key: the passphrase of the account's secret
    /// storage, which keeps the cross-signing keys and the key of the server-side backup of
    /// room keys. With it the bot's device is verified and a new device (after a lost store)
    /// gets the keys back. Optional: without it, no backup and no cross-signing.
    pub recovery_key_env: String,
    /// Or a file holding it.
    pub recovery_key_file: Option<PathBuf>,
    /// The device name other members see.
    pub device_name: String,
    /// In rooms, a line for the bot starts with this (or with the bot's name, or mentions it);
    /// in a direct chat every line is for the bot.
    pub prefix: String,
    /// Who may invite the bot into a room: user ids (`@camille:example.org`) or whole servers
    /// (`:example.org`). Nobody else: invitations from others are declined.
    pub invite_from: Vec<String>,
    /// Other bots whose messages are never read.
    pub ignore: Vec<String>,
    /// The network's own rooms (ids): a person's power level there is a role for the bot, on
    /// top of the directory and `[access]`: creator or administrator → admin, moderator →
    /// core team, anyone else there → member. Power levels in any other room count for nothing
    /// (anyone can create a room and be its administrator).
    pub role_rooms: Vec<String>,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        MatrixConfig {
            homeserver: "https://matrix.example.org".into(),
            user: "passerelle".into(),
            password_env: "PASSERELLE_MATRIX_PASSWORD".into(),
            password_file: None,
            store_dir: "state/matrix".into(),
            store_passphrase_env: "PASSERELLE_MATRIX_STORE_PASSPHRASE".into(),
            store_passphrase_file: None,
            recovery_key_env: "PASSERELLE_MATRIX_RECOVERY_KEY".into(),
            recovery_key_file: None,
            device_name: "Passerelle".into(),
            prefix: "!p".into(),
            invite_from: Vec::new(),
            ignore: Vec::new(),
            role_rooms: Vec::new(),
        }
    }
}

/// The section, its paths resolved against `bot.toml`'s folder.
fn config_of(setup: &Setup<'_>) -> anyhow::Result<MatrixConfig> {
    let mut config: MatrixConfig = setup.parse().map_err(anyhow::Error::msg)?;
    let resolve = |path: Option<PathBuf>| path.map(|p| setup.config.resolve(&p));
    config.store_dir = setup.config.resolve(&config.store_dir);
    config.password_file = resolve(config.password_file);
    config.store_passphrase_file = resolve(config.store_passphrase_file);
    config.recovery_key_file = resolve(config.recovery_key_file);
    Ok(config)
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let shared = Arc::new(Shared::default());
    Ok(Arc::new(Matrix {
        name: setup.name.to_string(),
        config: config_of(setup)?,
        shared,
        default_lang: setup.config.bot.default_language,
    }))
}

/// The recovery key, when one is configured. A named file that cannot be read is an error;
/// an unset variable means none.
fn recovery_key(config: &MatrixConfig) -> anyhow::Result<Option<String>> {
    match secret(
        config.recovery_key_file.as_deref(),
        &config.recovery_key_env,
    ) {
        Ok(key) if !key.is_empty() => Ok(Some(key)),
        Ok(_) | Err(super::SecretError::MissingEnv(_)) => Ok(None),
        Err(error) => Err(anyhow::anyhow!("matrix recovery key: {error}")),
    }
}

/// A client on the bot's encrypted store, not logged in yet.
async fn open_client(
    config: &MatrixConfig,
    encryption: EncryptionSettings,
) -> anyhow::Result<Client> {
    let passphrase = secret(
        config.store_passphrase_file.as_deref(),
        &config.store_passphrase_env,
    )
    .map_err(|e| anyhow::anyhow!("matrix store passphrase: {e}"))?;
    Ok(Client::builder()
        .homeserver_url(&config.homeserver)
        .sqlite_store(&config.store_dir, Some(&passphrase))
        // A login answer naming another base URL must not move the bot off the configured one.
        .respect_login_well_known(false)
        .with_encryption_settings(encryption)
        .request_config(
            RequestConfig::new()
                .timeout(Duration::from_secs(30))
                .max_retry_time(Duration::from_secs(60)),
        )
        .build()
        .await?)
}

/// Where the session of the bot's device is saved.
fn session_path(config: &MatrixConfig) -> PathBuf {
    config.store_dir.join("session.json")
}

/// The session saved at the first login, if there is one.
fn saved_session(config: &MatrixConfig) -> anyhow::Result<Option<MatrixSession>> {
    let path = session_path(config);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(serde_json::from_str(&std::fs::read_to_string(
        &path,
    )?)?))
}

/// The logged-in client and the engine, once there are, for the outbound side.
#[derive(Default)]
struct Shared {
    session: Mutex<Option<(Client, Arc<Engine>)>>,
}

impl Shared {
    fn session(&self) -> Option<(Client, Arc<Engine>)> {
        self.session.lock().ok().and_then(|c| c.clone())
    }

    fn set(&self, session: Option<(Client, Arc<Engine>)>) {
        if let Ok(mut slot) = self.session.lock() {
            *slot = session;
        }
    }
}

/// Connector-state keys of a ticket's thread, both ways.
fn ticket_thread_key(ticket: i64) -> String {
    format!("ticket-thread:{ticket}")
}

/// The thread of a conversation that is not a ticket (an email thread of the list).
fn conversation_thread_key(key: &str) -> String {
    format!("thread:{key}")
}

/// The room a ticket's thread is in, for links to it.
fn ticket_room_key(ticket: i64) -> String {
    format!("ticket-room:{ticket}")
}

/// The direct chat the bot opened with a user: remembered at once, since the SDK learns a new
/// room is direct only from a later sync.
fn direct_room_key(user: &str) -> String {
    format!("direct:{user}")
}

fn thread_ticket_key(root: &str) -> String {
    format!("thread-ticket:{root}")
}

/// The news draft whose review thread starts at `root`.
fn thread_draft_key(root: &str) -> String {
    format!("thread-draft:{root}")
}

pub struct Matrix {
    name: String,
    config: MatrixConfig,
    shared: Arc<Shared>,
    /// The words a reaction stands for are the network's language's.
    default_lang: crate::core::lang::Lang,
}

/// The connector-state key of the sync position the connector trusts.
const SYNC_KEY: &str = "sync-token";

impl Matrix {
    /// A client with the encrypted store, logged in: the saved session restored, or a first
    /// password login whose session is saved (readable by the bot's user only).
    async fn connect(&self, recovering: bool) -> anyhow::Result<(Client, bool)> {
        let config = &self.config;
        std::fs::create_dir_all(&config.store_dir)?;
        let mut encryption = EncryptionSettings::default();
        if recovering {
            // A message the device has no key for (sent before a lost store) fetches its key
            // from the backup; the SDK's one-shot download of every key does not scale.
            encryption.backup_download_strategy = BackupDownloadStrategy::AfterDecryptionFailure;
        }
        let client = open_client(config, encryption).await?;
        if let Some(session) = saved_session(config)? {
            client.restore_session(session).await?;
            return Ok((client, false));
        }
        let password = secret(config.password_file.as_deref(), &config.password_env)
            .map_err(|e| anyhow::anyhow!("matrix password: {e}"))?;
        client
            .matrix_auth()
            .login_username(&config.user, &password)
            .initial_device_display_name(&config.device_name)
            .await?;
        let session = client
            .matrix_auth()
            .session()
            .ok_or_else(|| anyhow::anyhow!("logged in without a session"))?;
        write_private(&session_path(config), &serde_json::to_string(&session)?)?;
        tracing::info!(user = %session.meta.user_id, device = %session.meta.device_id, "matrix: logged in, new device");
        Ok((client, true))
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// What the message handler needs, shared by every call.
struct Context {
    engine: Arc<Engine>,
    connector: String,
    prefix: String,
    names: Vec<String>,
    me: OwnedUserId,
    ignore: Vec<String>,
    role_rooms: Vec<String>,
    default_lang: crate::core::lang::Lang,
}

impl Context {
    /// The role `user`'s power level gives in `room`, when it is one of the network's rooms.
    async fn role_in(&self, room: &Room, user: &OwnedUserId) -> Option<Role> {
        if !self
            .role_rooms
            .iter()
            .any(|r| r.as_str() == room.room_id().as_str())
        {
            return None;
        }
        match room.get_suggested_user_role(user).await {
            Ok(role) => Some(role_of(role)),
            Err(error) => {
                tracing::warn!(room = %room.room_id(), %user, %error, "matrix: cannot read power levels");
                None
            }
        }
    }

    /// The ticket whose thread starts at `root`, if it is one.
    async fn ticket_of_thread(&self, root: &str) -> Option<i64> {
        self.engine
            .connector_state(&self.connector, &thread_ticket_key(root))
            .await
            .ok()
            .flatten()
            .and_then(|n| n.parse().ok())
    }

    /// The news draft whose review thread starts at `root`, if it is one.
    async fn draft_of_thread(&self, root: &str) -> Option<i64> {
        self.engine
            .connector_state(&self.connector, &thread_draft_key(root))
            .await
            .ok()
            .flatten()
            .and_then(|n| n.parse().ok())
    }

    /// A reaction on a ticket's first message is an action on the ticket: ✅ or 🙋 accepts it
    /// (and takes it when nobody has); ❌ by the assignee hands it back, and it goes to the next
    /// best member. On a news draft's preview, 👍 or ✅ approves it and 👎 or ❌ rejects it.
    /// Reactions anywhere else mean nothing to the bot.
    async fn on_reaction(&self, event: OriginalSyncReactionEvent, room: Room) {
        if event.sender == self.me || room.state() != RoomState::Joined {
            return;
        }
        let annotation = &event.content.relates_to;
        let root = annotation.event_id.to_string();
        let (ticket, text) = match self.ticket_of_thread(&root).await {
            Some(ticket) => match reaction_command(&annotation.key) {
                Some(action) => (Some(ticket), action.to_string()),
                None => return,
            },
            None => match (
                self.draft_of_thread(&root).await,
                draft_reaction_command(&annotation.key),
            ) {
                (Some(draft), Some(action)) => {
                    (None, draft_command(action, draft, self.default_lang))
                }
                _ => return,
            },
        };
        let Ok(sender) = Address::parse(event.sender.as_str()) else {
            return;
        };
        let inbound = Inbound {
            key: InboundKey::new(self.connector.as_str(), event.event_id.as_str()),
            connector: self.connector.clone(),
            reply_to: ReplyTo::Matrix {
                room: room.room_id().to_string(),
                thread: Some(root),
            },
            sender,
            text,
            lang: None,
            vouched_role: self.role_in(&room, &event.sender).await,
            ticket,
        };
        if let Err(error) = self.engine.handle(&inbound).await {
            tracing::error!(source = %self.connector, id = %inbound.key.external_id, %error, "cannot handle a matrix reaction");
        }
    }

    async fn on_message(&self, event: OriginalSyncRoomMessageEvent, room: Room) {
        tracing::debug!(room = %room.room_id(), sender = %event.sender, id = %event.event_id, "matrix: message");
        if room.state() != RoomState::Joined
            || event.sender == self.me
            || self
                .ignore
                .iter()
                .any(|u| u.as_str() == event.sender.as_str())
        {
            return;
        }
        // Notices are what bots write; edits would run a command twice.
        let MessageType::Text(text) = &event.content.msgtype else {
            return;
        };
        if matches!(event.content.relates_to, Some(Relation::Replacement(_))) {
            return;
        }
        let direct = room.is_direct().await.unwrap_or(false) || room.joined_members_count() == 2;
        let mentioned = event
            .content
            .mentions
            .as_ref()
            .is_some_and(|m| m.user_ids.contains(&self.me));
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let thread_root = match &event.content.relates_to {
            Some(Relation::Thread(thread)) => Some(thread.event_id.clone()),
            _ => None,
        };
        // In a ticket's thread every line is for the bot: a note, a reply, a command.
        let ticket = match &thread_root {
            Some(root) => self.ticket_of_thread(root.as_str()).await,
            None => None,
        };
        let Some(command) = text::command_in(
            &text.body,
            direct || ticket.is_some(),
            &self.prefix,
            &names,
            mentioned,
        ) else {
            return;
        };
        let Ok(sender) = Address::parse(event.sender.as_str()) else {
            return;
        };
        let vouched_role = self.role_in(&room, &event.sender).await;
        let thread = thread_root.unwrap_or_else(|| event.event_id.clone());
        let inbound = Inbound {
            key: InboundKey::new(self.connector.as_str(), event.event_id.as_str()),
            connector: self.connector.clone(),
            reply_to: ReplyTo::Matrix {
                room: room.room_id().to_string(),
                thread: Some(thread.to_string()),
            },
            sender,
            text: command.to_string(),
            lang: None,
            vouched_role,
            ticket,
        };
        if let Err(error) = self.engine.handle(&inbound).await {
            tracing::error!(source = %self.connector, id = %inbound.key.external_id, %error, "cannot handle a matrix message");
            // The store is down: say so directly, the outbox cannot carry it.
            if let Some(text) = self.engine.unavailable_message(&inbound) {
                let content = notice(&text, Some(thread));
                if let Err(error) = room.send(content).await {
                    tracing::warn!(%error, "cannot tell the sender the bot is unavailable");
                }
            }
        }
    }
}

/// The command a reaction on a ticket's first message stands for (read in the ticket's
/// thread, where the ticket goes without saying). Emoji come with or without the variation
/// selector, and with any skin tone.
fn reaction_command(key: &str) -> Option<&'static str> {
    let bare: String = key
        .chars()
        .filter(|c| *c != '\u{fe0f}' && !('\u{1f3fb}'..='\u{1f3ff}').contains(c))
        .collect();
    match bare.as_str() {
        "✅" | "✔" | "☑" | "🙋" | "🙋\u{200d}♀" | "🙋\u{200d}♂" => Some("accept"),
        "❌" | "✖" | "❎" | "🙅" | "🙅\u{200d}♀" | "🙅\u{200d}♂" => Some("pass"),
        _ => None,
    }
}

/// The command a reaction on a news draft's preview stands for, followed by the draft's number.
fn draft_reaction_command(key: &str) -> Option<&'static str> {
    let bare: String = key
        .chars()
        .filter(|c| *c != '\u{fe0f}' && !('\u{1f3fb}'..='\u{1f3ff}').contains(c))
        .collect();
    match bare.as_str() {
        "👍" | "✅" | "✔" | "☑" | "🚀" => Some("approve"),
        "👎" | "❌" | "✖" | "❎" | "🚫" => Some("reject"),
        _ => None,
    }
}

/// A reaction's decision on a draft as a command line in the network's language, so the
/// answer is in that language too (unless the member chose another).
fn draft_command(action: &str, draft: i64, lang: crate::core::lang::Lang) -> String {
    use crate::core::lang::Lang;
    match (action, lang) {
        ("approve", Lang::Fr) => format!("valide le brouillon {draft}"),
        ("reject", Lang::Fr) => format!("refuse le brouillon {draft}"),
        (action, _) => format!("{action} draft {draft}"),
    }
}

/// The bot's role for the SDK's suggested role in one of the network's rooms.
fn role_of(role: RoomMemberRole) -> Role {
    match role {
        RoomMemberRole::Creator | RoomMemberRole::Administrator => Role::Admin,
        RoomMemberRole::Moderator => Role::CoreTeam,
        RoomMemberRole::User => Role::Member,
    }
}

/// An answer as it is posted: a notice, escaped, in the thread when there is one.
fn notice(text: &str, thread: Option<OwnedEventId>) -> RoomMessageEventContent {
    let (plain, html) = text::notice_bodies(text);
    let mut content = RoomMessageEventContent::notice_html(plain, html);
    // No one is pinged by an answer: intentional mentions, none.
    content.mentions = Some(Default::default());
    if let Some(root) = thread {
        content.relates_to = Some(Relation::Thread(Thread::without_fallback(root)));
    }
    content
}

/// What the bot syncs: no presence, no typing or read receipts, room members loaded lazily.
/// The bot reads none of it, and every event synced is parsed and stored: less CPU per sync.
fn sync_filter() -> sync_events::v3::Filter {
    let mut definition = FilterDefinition::with_lazy_loading();
    definition.presence = Filter::ignore_all();
    definition.room.ephemeral = RoomEventFilter::ignore_all();
    sync_events::v3::Filter::FilterDefinition(definition)
}

/// Long-polls until shutdown. Each sync runs its event handlers before it returns, so its
/// position is saved only once the engine has every event of it. An error ends the loop (the
/// supervisor restarts the connector with backoff).
async fn sync_forever(
    client: &Client,
    engine: &Engine,
    connector: &str,
    settings: SyncSettings,
    mut token: String,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let response = tokio::select! {
            response = client.sync_once(settings.clone().token(SyncToken::Specific(token.clone()))) => response?,
            _ = shutdown.changed() => return Ok(()),
        };
        token = response.next_batch;
        if let Err(error) = engine
            .save_connector_state(connector, SYNC_KEY, &token)
            .await
        {
            tracing::warn!(%error, "matrix: cannot save the sync position");
        }
    }
}

/// Whether `user` may invite the bot: listed by id, or on a listed server (`:example.org`).
fn may_invite(allowed: &[String], user: &str) -> bool {
    allowed.iter().any(|entry| {
        if entry.starts_with(':') {
            user.ends_with(entry.as_str())
        } else {
            entry == user
        }
    })
}

/// Joins a room, retrying: a homeserver may announce an invite before the join can succeed.
async fn join(room: Room) {
    let mut delay = Duration::from_secs(1);
    for _ in 0..8 {
        match room.join().await {
            Ok(()) => {
                tracing::info!(room = %room.room_id(), "matrix: joined");
                return;
            }
            Err(error) => {
                tracing::warn!(room = %room.room_id(), %error, "matrix: join failed; will retry");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(120));
            }
        }
    }
}

async fn on_invite(
    event: StrippedRoomMemberEvent,
    room: Room,
    client: Client,
    allowed: Vec<String>,
) {
    let Some(me) = client.user_id() else {
        return;
    };
    if event.state_key != me || event.content.membership != MembershipState::Invite {
        return;
    }
    if may_invite(&allowed, event.sender.as_str()) {
        tokio::spawn(join(room));
    } else {
        tracing::warn!(room = %room.room_id(), inviter = %event.sender, "matrix: invitation declined (not in invite_from)");
        if let Err(error) = room.leave().await {
            tracing::warn!(%error, "matrix: cannot decline an invitation");
        }
    }
}

#[async_trait]
impl Connector for Matrix {
    fn name(&self) -> &str {
        &self.name
    }

    /// One device, one store: the session runs on the elected leader only.
    fn inbound_mode(&self) -> InboundMode {
        InboundMode::Leader
    }

    async fn receive(
        &self,
        engine: Arc<Engine>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let recovery_key = recovery_key(&self.config)?;
        let (client, fresh) = self.connect(recovery_key.is_some()).await?;
        let me = client
            .user_id()
            .ok_or_else(|| anyhow::anyhow!("no user id after login"))?
            .to_owned();
        let allowed = self.config.invite_from.clone();
        client.add_event_handler(
            move |event: StrippedRoomMemberEvent, room: Room, client: Client| {
                on_invite(event, room, client, allowed.clone())
            },
        );
        // Invitations that came while the bot was away.
        for room in client.invited_rooms() {
            if let Ok(details) = room.invite_details().await
                && may_invite(&self.config.invite_from, details.inviter_id.as_str())
            {
                tokio::spawn(join(room));
            }
        }
        let context = Arc::new(Context {
            engine: engine.clone(),
            connector: self.name.clone(),
            prefix: self.config.prefix.clone(),
            names: vec![
                me.to_string(),
                me.localpart().to_string(),
                self.config.device_name.clone(),
            ],
            me: me.clone(),
            ignore: self.config.ignore.clone(),
            role_rooms: self.config.role_rooms.clone(),
            default_lang: self.default_lang,
        });
        let saved = engine.connector_state(&self.name, SYNC_KEY).await?;
        let settings = SyncSettings::default()
            .timeout(Duration::from_secs(30))
            .filter(sync_filter());
        let register = |client: &Client| {
            let on_message = context.clone();
            client.add_event_handler(move |event: OriginalSyncRoomMessageEvent, room: Room| {
                let context = on_message.clone();
                async move { context.on_message(event, room).await }
            });
            let on_reaction = context.clone();
            client.add_event_handler(move |event: OriginalSyncReactionEvent, room: Room| {
                let context = on_reaction.clone();
                async move { context.on_reaction(event, room).await }
            });
        };
        // From where the engine last saw everything: the batch a crash interrupted comes
        // again (the engine drops what it already handled). Without that position (a fresh
        // login, a new store), the first sync is history: synced, never answered.
        let first = match saved.filter(|_| !fresh) {
            Some(token) => {
                register(&client);
                client
                    .sync_once(settings.clone().token(SyncToken::Specific(token)))
                    .await?
            }
            None => {
                let response = client.sync_once(settings.clone()).await?;
                register(&client);
                response
            }
        };
        engine
            .save_connector_state(&self.name, SYNC_KEY, &first.next_batch)
            .await?;
        // After the first sync, which uploads a new device's keys: cross-signing signs them.
        match &recovery_key {
            Some(key) => trust::establish(&client, &self.config, key).await,
            None => tracing::warn!(
                variable = %self.config.recovery_key_env,
                "matrix: no recovery key; the device is not cross-signed and room keys are not backed up"
            ),
        }
        self.shared.set(Some((client.clone(), engine.clone())));
        // Answers queued while the bot was away can go now.
        engine.outbox_signal().notify_one();
        tracing::info!(user = %me, "matrix: syncing");
        // Our own loop of single syncs: the SDK's loop sleeps a second whenever two answers
        // come less than a second apart (the echo of the bot's own reply always does), which
        // delayed a command sent right after an answer by up to a second.
        let outcome = sync_forever(
            &client,
            &engine,
            &self.name,
            settings,
            first.next_batch,
            &mut shutdown,
        )
        .await;
        self.shared.set(None);
        outcome
    }

    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        Some(Arc::new(MatrixOutbound {
            name: self.name.clone(),
            shared: self.shared.clone(),
        }))
    }
}

struct MatrixOutbound {
    name: String,
    shared: Arc<Shared>,
}

#[async_trait]
impl Outbound for MatrixOutbound {
    fn ready(&self) -> bool {
        self.shared.session().is_some()
    }

    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        let (client, engine) = self
            .shared
            .session()
            .ok_or_else(|| DeliveryError::Transient("not connected to the homeserver".into()))?;
        let ReplyTo::Matrix { room, thread } = ReplyTo::from_target(&message.target) else {
            return Err(DeliveryError::Permanent(format!(
                "'{}' is not a Matrix room",
                message.target
            )));
        };
        // A user id stands for the direct chat with that user: a note to one member, with a
        // link to the ticket's thread, never inside a thread.
        if room.starts_with('@') {
            return self
                .deliver_direct(&client, &engine, &room, message)
                .await
                .map(|()| Delivered::default());
        }
        let room_id: OwnedRoomId = room
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("room '{room}': {e}")))?;
        // A row about a ticket, or of a conversation (an email thread of the list), goes in
        // its thread; the first one starts it.
        let conversation = match (&thread, message.ticket, &message.thread_key) {
            (None, Some(ticket), _) => Some(ticket_thread_key(ticket)),
            (None, None, Some(key)) => Some(conversation_thread_key(key)),
            _ => None,
        };
        let known_root = match &conversation {
            Some(key) => engine
                .connector_state(&self.name, key)
                .await
                .map_err(|e| DeliveryError::Transient(e.to_string()))?,
            None => None,
        };
        let thread = known_root.clone().or(thread);
        let thread: Option<OwnedEventId> = match thread {
            Some(id) => Some(
                id.parse()
                    .map_err(|e| DeliveryError::Permanent(format!("event '{id}': {e}")))?,
            ),
            None => None,
        };
        let room = client
            .get_room(&room_id)
            .ok_or_else(|| DeliveryError::Transient(format!("room {room_id} not known yet")))?;
        if room.state() != RoomState::Joined {
            return Err(DeliveryError::Permanent(format!(
                "not in room {room_id} any more"
            )));
        }
        // The same outbox row always has the same transaction id: a resend after a crash is
        // the same event to the homeserver.
        let transaction = OwnedTransactionId::from(text::transaction_id(&message.idempotency_key));
        let sent = room
            .send(notice(&message.body, thread))
            .with_transaction_id(transaction)
            .await
            .map_err(|error| match error.as_client_api_error() {
                Some(api)
                    if api.status_code.is_client_error() && api.status_code.as_u16() != 429 =>
                {
                    DeliveryError::Permanent(error.to_string())
                }
                _ => DeliveryError::Transient(error.to_string()),
            })?;
        // A new thread is remembered (a ticket's both ways, with its room for links). A crash
        // before this resends with the same transaction id, which the homeserver answers with
        // the same event.
        if let Some(conversation) = conversation.filter(|_| known_root.is_none()) {
            let root = sent.response.event_id.to_string();
            let mut remembered = vec![(conversation, root.clone())];
            if let Some(ticket) = message.ticket {
                remembered.push((ticket_room_key(ticket), room_id.to_string()));
                remembered.push((thread_ticket_key(&root), ticket.to_string()));
            }
            // A news draft's preview: a reaction on it decides the draft.
            if let Some(draft) = message
                .thread_key
                .as_deref()
                .and_then(|k| k.strip_prefix("news:"))
            {
                remembered.push((thread_draft_key(&root), draft.to_string()));
            }
            for (key, value) in remembered {
                engine
                    .save_connector_state(&self.name, &key, &value)
                    .await
                    .map_err(|e| DeliveryError::Transient(e.to_string()))?;
            }
        }
        Ok(Delivered::default())
    }
}

impl MatrixOutbound {
    /// Sends a row addressed to a user in the direct chat with them, opening one if needed.
    async fn deliver_direct(
        &self,
        client: &Client,
        engine: &Engine,
        user: &str,
        message: &OutboxMessage,
    ) -> Result<(), DeliveryError> {
        let transient = |e: &dyn std::fmt::Display| DeliveryError::Transient(e.to_string());
        let user_id: OwnedUserId = user
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("user '{user}': {e}")))?;
        let key = direct_room_key(user);
        let saved = engine
            .connector_state(&self.name, &key)
            .await
            .map_err(|e| transient(&e))?
            .and_then(|id| id.parse::<OwnedRoomId>().ok())
            .and_then(|id| client.get_room(&id))
            .filter(|room| room.state() == RoomState::Joined);
        // Remembered once, when first found or opened.
        let room = match saved {
            Some(room) => room,
            None => {
                let room = match client.get_dm_room(&user_id) {
                    Some(room) => room,
                    None => {
                        let room = client
                            .create_dm(&user_id)
                            .await
                            .map_err(|e| transient(&e))?;
                        tracing::info!(%user, room = %room.room_id(), "matrix: opened a direct chat");
                        room
                    }
                };
                engine
                    .save_connector_state(&self.name, &key, room.room_id().as_str())
                    .await
                    .map_err(|e| transient(&e))?;
                room
            }
        };
        let mut body = message.body.clone();
        if let Some(ticket) = message.ticket
            && let Some(link) = self.thread_link(engine, ticket).await
        {
            body = format!("{}\n{link}", body.trim_end());
        }
        let transaction = OwnedTransactionId::from(text::transaction_id(&message.idempotency_key));
        room.send(notice(&body, None))
            .with_transaction_id(transaction)
            .await
            .map_err(|e| transient(&e))?;
        Ok(())
    }

    /// A matrix.to link to a ticket's thread, once its first message is posted.
    async fn thread_link(&self, engine: &Engine, ticket: i64) -> Option<String> {
        let state = |key: String| async move {
            engine
                .connector_state(&self.name, &key)
                .await
                .ok()
                .flatten()
        };
        let root: OwnedEventId = state(ticket_thread_key(ticket)).await?.parse().ok()?;
        let room: OwnedRoomId = state(ticket_room_key(ticket)).await?.parse().ok()?;
        Some(room.matrix_to_event_uri(root).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_on_a_draft_approve_or_reject_it_whatever_their_variant() {
        let cases = [
            ("👍", Some("approve")),
            ("👍🏽", Some("approve")),
            ("✅\u{fe0f}", Some("approve")),
            ("👎", Some("reject")),
            ("❌", Some("reject")),
            ("🎉", None),
            ("🙋", None),
        ];
        for (key, expected) in cases {
            assert_eq!(draft_reaction_command(key), expected, "{key:?}");
        }
    }

    #[test]
    fn reactions_stand_for_accept_or_pass_whatever_their_variant() {
        let cases = [
            ("✅", Some("accept")),
            ("✅\u{fe0f}", Some("accept")),
            ("🙋🏽", Some("accept")),
            // A thumbs-up says "seen", not "mine".
            ("👍", None),
            ("🙋\u{200d}♀\u{fe0f}", Some("accept")),
            ("❌", Some("pass")),
            ("🙅🏿\u{200d}♂\u{fe0f}", Some("pass")),
            ("🎉", None),
            ("", None),
        ];
        for (key, expected) in cases {
            assert_eq!(reaction_command(key), expected, "{key:?}");
        }
    }

    #[test]
    fn invitations_are_accepted_from_listed_people_and_servers_only() {
        let allowed = vec![
            "@camille:example.org".to_string(),
            ":opendatafrance.example".to_string(),
        ];
        let cases = [
            ("@camille:example.org", true),
            ("@camille:example.org.evil", false),
            ("@yanis:opendatafrance.example", true),
            ("@yanis:evil-opendatafrance.example", false),
            ("@mallory:example.org", false),
        ];
        for (user, expected) in cases {
            assert_eq!(may_invite(&allowed, user), expected, "{user}");
        }
        assert!(
            !may_invite(&[], "@camille:example.org"),
            "nobody by default"
        );
    }
}
