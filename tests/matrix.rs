//! The bot in Matrix rooms, against a real Synapse (`scripts/synapse.sh`, started by
//! `scripts/test.sh`), driven by a real second client (matrix-sdk, as a member would use
//! Element): commands in a room and a direct chat, a refusal, an encrypted room, invitations
//! from allowed and foreign people, and a restart in the middle; cross-signing and the key
//! backup across a lost store; Synapse restarted under the bot; `doctor`'s Matrix lines.

#![cfg(feature = "matrix")]

mod common;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::{
    AnySyncMessageLikeEvent, AnySyncTimelineEvent, InitialStateEvent, SyncMessageLikeEvent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room};
use passerelle::app;
use passerelle::config::Config;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// Every test holds it to read; the one that restarts Synapse holds it to write, alone.
static SYNAPSE: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(Default::default);

fn homeserver() -> String {
    std::env::var("PASSERELLE_TEST_SYNAPSE").unwrap_or_else(|_| "http://127.0.0.1:8008".into())
}

/// A user name no earlier run used: each run gets fresh accounts and devices.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}{nanos:x}")
}

/// How long to wait for an answer that must come: the wait ends at the answer, so the bound
/// only has to survive a loaded machine (a debug build deriving a recovery key beside it).
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(60);

const PASSWORD: &str = "secret-passphrase";

/// Registers a user on the test homeserver; returns its id.
fn register(name: &str) -> OwnedUserId {
    register_as(name, false)
}

/// Registers a user, a server admin when `admin`; returns its id.
fn register_as(name: &str, admin: bool) -> OwnedUserId {
    let status = std::process::Command::new(common::root().join("scripts/synapse.sh"))
        .args(["register", name, PASSWORD])
        .args(admin.then_some("--admin"))
        .status()
        .expect("scripts/synapse.sh runs");
    assert!(
        status.success(),
        "cannot register {name}: is Synapse up (scripts/synapse.sh start)?"
    );
    UserId::parse(format!("@{name}:localhost")).unwrap()
}

/// A person with a Matrix client (in-memory stores, its own device).
async fn person(name: &str) -> Client {
    let client = Client::builder()
        .homeserver_url(homeserver())
        .respect_login_well_known(false)
        .build()
        .await
        .unwrap();
    client
        .matrix_auth()
        .login_username(name, PASSWORD)
        .initial_device_display_name("test person")
        .await
        .unwrap();
    client
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .unwrap();
    client
}

/// The bot's config: Matrix on, the console and Maildir off, `admin` an admin by the config.
fn bot_config(dir: &std::path::Path, bot: &str, admin: &UserId, invite_from: &[&str]) -> Config {
    bot_config_with_roles(dir, bot, admin, invite_from, &[])
}

/// [`bot_config`], with rooms whose power levels give roles.
fn bot_config_with_roles(
    dir: &std::path::Path,
    bot: &str,
    admin: &UserId,
    invite_from: &[&str],
    role_rooms: &[&str],
) -> Config {
    let mut config =
        common::config_with_store(&format!("sqlite://{}", dir.join("bot.db").display()));
    config.access.admins = vec![admin.to_string()];
    config.connectors.set("console", "enabled", false);
    config.connectors.set("maildir", "enabled", false);
    std::fs::write(dir.join("password"), PASSWORD).unwrap();
    std::fs::write(dir.join("store-passphrase"), "store secret").unwrap();
    let set = |config: &mut Config, key: &str, value: toml::Value| {
        config.connectors.set("matrix", key, value)
    };
    set(&mut config, "enabled", true.into());
    set(&mut config, "homeserver", homeserver().into());
    set(&mut config, "user", bot.into());
    set(
        &mut config,
        "password_file",
        dir.join("password").display().to_string().into(),
    );
    set(
        &mut config,
        "store_dir",
        dir.join("matrix").display().to_string().into(),
    );
    set(
        &mut config,
        "store_passphrase_file",
        dir.join("store-passphrase").display().to_string().into(),
    );
    set(
        &mut config,
        "invite_from",
        toml::Value::Array(invite_from.iter().map(|s| (*s).into()).collect()),
    );
    set(
        &mut config,
        "role_rooms",
        toml::Value::Array(role_rooms.iter().map(|s| (*s).into()).collect()),
    );
    config
}

/// `passerelle run` in the background, as the binary runs it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start(config: &Config) -> Running {
    // RUST_LOG shows more, e.g. the SDK's warnings: "passerelle=info,matrix_sdk_crypto=warn".
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "passerelle=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = config.clone();
    let task = tokio::spawn(async move {
        app::run_with(config, passerelle::connectors::REGISTRY, async {
            let _ = stopped.await;
        })
        .await
    });
    Running { stop, task }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the bot stops")
            .unwrap()
            .unwrap();
    }
}

async fn create_room(client: &Client, invite: &UserId, direct: bool, encrypted: bool) -> Room {
    let mut request = CreateRoomRequest::new();
    request.invite = vec![invite.to_owned()];
    request.is_direct = direct;
    request.preset = Some(RoomPreset::PrivateChat);
    if encrypted {
        request.initial_state = vec![
            InitialStateEvent::with_empty_state_key(
                RoomEncryptionEventContent::with_recommended_defaults(),
            )
            .to_raw_any(),
        ];
    }
    client.create_room(request).await.unwrap()
}

async fn membership(client: &Client, room: &RoomId, who: &UserId) -> Option<MembershipState> {
    client
        .sync_once(SyncSettings::default().timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    let room = client.get_room(room)?;
    let member = room.get_member_no_sync(who).await.ok()??;
    Some(member.membership().clone())
}

async fn wait_membership(client: &Client, room: &RoomId, who: &UserId, wanted: MembershipState) {
    let started = Instant::now();
    while membership(client, room, who).await != Some(wanted.clone()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{who} never reached {wanted:?} in {room}"
        );
    }
}

/// Messages from `from` in `room` arriving within `within` (stops early once `enough` came).
async fn messages_from(
    client: &Client,
    room: &RoomId,
    from: &UserId,
    within: Duration,
    enough: usize,
) -> Vec<(OriginalSyncRoomMessageEvent, bool)> {
    let started = Instant::now();
    let mut found = Vec::new();
    while started.elapsed() < within && found.len() < enough {
        let response = client
            .sync_once(SyncSettings::default().timeout(Duration::from_millis(500)))
            .await
            .unwrap();
        let Some(update) = response.rooms.joined.get(room) else {
            continue;
        };
        for event in &update.timeline.events {
            let encrypted = event.encryption_info().is_some();
            if let Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                SyncMessageLikeEvent::Original(message),
            ))) = event.raw().deserialize()
                && message.sender == from
            {
                found.push((message, encrypted));
            }
        }
    }
    found
}

async fn say(room: &Room, text: &str) -> OwnedEventId {
    room.send(RoomMessageEventContent::text_plain(text))
        .await
        .unwrap()
        .response
        .event_id
}

fn notice_body(message: &OriginalSyncRoomMessageEvent) -> &str {
    match &message.content.msgtype {
        MessageType::Notice(notice) => &notice.body,
        other => panic!("the bot answers with notices, not {other:?}"),
    }
}

fn thread_root(message: &OriginalSyncRoomMessageEvent) -> Option<&OwnedEventId> {
    match &message.content.relates_to {
        Some(Relation::Thread(thread)) => Some(&thread.event_id),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_rooms_and_direct_chats_are_answered_in_their_thread_once_across_a_restart() {
    let _shared = SYNAPSE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name, olivia_name) = (unique("bot"), unique("alice"), unique("olivia"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    register(&olivia_name);
    let config = bot_config(dir.path(), &bot_name, &alice, &[":localhost"]);
    let running = start(&config);

    let alice_client = person(&alice_name).await;
    let room = create_room(&alice_client, &bot, false, false).await;
    wait_membership(&alice_client, room.room_id(), &bot, MembershipState::Join).await;
    // A third member, so the room is not taken for a direct chat.
    let olivia_client = person(&olivia_name).await;
    room.invite_user_by_id(olivia_client.user_id().unwrap())
        .await
        .unwrap();
    olivia_client.join_room_by_id(room.room_id()).await.unwrap();

    let asked = say(&room, "!p aide").await;
    say(&room, "bonjour à tous, réunion demain").await;
    let answers = messages_from(&alice_client, room.room_id(), &bot, FIRST_ANSWER_WITHIN, 1).await;
    assert_eq!(answers.len(), 1, "one answer");
    let (answer, _) = &answers[0];
    assert!(
        notice_body(answer).contains("Voici ce que je sais faire"),
        "{}",
        notice_body(answer)
    );
    assert_eq!(
        thread_root(answer),
        Some(&asked),
        "answered in the command's thread"
    );
    let html = match &answer.content.msgtype {
        MessageType::Notice(notice) => notice.formatted.clone().map(|f| f.body).unwrap_or_default(),
        _ => String::new(),
    };
    // Line breaks are the only markup: every other character is text, escaped.
    assert!(
        html.contains("<br>") && !html.replace("<br>", "").contains('<'),
        "{html}"
    );
    assert!(html.contains("jusqu&#39;au"), "{html}");

    // A direct chat needs no prefix; an outsider is told which role a command needs.
    let direct = create_room(&olivia_client, &bot, true, false).await;
    wait_membership(
        &olivia_client,
        direct.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;
    say(&direct, "mes demandes").await;
    let refused = messages_from(
        &olivia_client,
        direct.room_id(),
        &bot,
        FIRST_ANSWER_WITHIN,
        1,
    )
    .await;
    assert_eq!(refused.len(), 1);
    assert!(
        notice_body(&refused[0].0).contains("réservé à l'équipe d'animation"),
        "{}",
        notice_body(&refused[0].0)
    );

    // Stopped, a command waits; started again, the bot answers it once and nothing older.
    running.stop().await;
    let while_away = say(&room, "!p help").await;
    let running = start(&config);
    let later = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(25),
        2,
    )
    .await;
    assert_eq!(
        later.len(),
        1,
        "only the command sent while away is answered: {later:?}"
    );
    assert!(notice_body(&later[0].0).contains("Here is what I can do"));
    assert_eq!(thread_root(&later[0].0), Some(&while_away));
    let quiet = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(3),
        1,
    )
    .await;
    assert!(quiet.is_empty(), "nothing answered twice: {quiet:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_room_is_read_and_answered_encrypted() {
    let _shared = SYNAPSE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name) = (unique("bot"), unique("alice"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let running = start(&bot_config(dir.path(), &bot_name, &alice, &[":localhost"]));
    let alice_client = person(&alice_name).await;
    let room = create_room(&alice_client, &bot, false, true).await;
    wait_membership(&alice_client, room.room_id(), &bot, MembershipState::Join).await;
    say(&room, "!p help").await;
    let answers = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(30),
        1,
    )
    .await;
    assert_eq!(
        answers.len(),
        1,
        "the bot read the encrypted command and answered"
    );
    let (answer, encrypted) = &answers[0];
    assert!(encrypted, "the answer was encrypted");
    assert!(notice_body(answer).contains("Here is what I can do"));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_from_people_not_allowed_are_declined() {
    let _shared = SYNAPSE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name, mallory_name) = (unique("bot"), unique("alice"), unique("mallory"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    register(&mallory_name);
    let running = start(&bot_config(
        dir.path(),
        &bot_name,
        &alice,
        &[alice.as_str()],
    ));
    let mallory_client = person(&mallory_name).await;
    let foreign = create_room(&mallory_client, &bot, false, false).await;
    wait_membership(
        &mallory_client,
        foreign.room_id(),
        &bot,
        MembershipState::Leave,
    )
    .await;
    let alice_client = person(&alice_name).await;
    let allowed = create_room(&alice_client, &bot, false, false).await;
    wait_membership(
        &alice_client,
        allowed.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_levels_give_roles_in_the_networks_rooms_and_nowhere_else() {
    let _shared = SYNAPSE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name, olivia_name) = (unique("bot"), unique("alice"), unique("olivia"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let olivia = register(&olivia_name);
    let alice_client = person(&alice_name).await;
    let olivia_client = person(&olivia_name).await;
    // The network's room, where Olivia (in no directory, on no list) is a moderator.
    let mut request = CreateRoomRequest::new();
    request.invite = vec![bot.clone(), olivia.clone()];
    request.preset = Some(RoomPreset::PrivateChat);
    let levels = serde_json::json!({ "users": { alice.as_str(): 100, olivia.as_str(): 50 } });
    request.power_level_content_override = Some(matrix_sdk::ruma::serde::Raw::from_json(
        serde_json::value::to_raw_value(&levels).unwrap(),
    ));
    let network = alice_client.create_room(request).await.unwrap();
    olivia_client
        .join_room_by_id(network.room_id())
        .await
        .unwrap();
    // Her own room, where she is the administrator.
    let own = create_room(&olivia_client, &bot, false, false).await;
    let config = bot_config_with_roles(
        dir.path(),
        &bot_name,
        &alice,
        &[":localhost"],
        &[network.room_id().as_str()],
    );
    let running = start(&config);
    wait_membership(
        &olivia_client,
        network.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;
    wait_membership(&olivia_client, own.room_id(), &bot, MembershipState::Join).await;
    let network = olivia_client.get_room(network.room_id()).unwrap();

    say(&own, "!p demande 1").await;
    let refused = messages_from(&olivia_client, own.room_id(), &bot, FIRST_ANSWER_WITHIN, 1).await;
    assert_eq!(refused.len(), 1);
    assert!(
        notice_body(&refused[0].0).contains("réservé à l'équipe d'animation"),
        "{}",
        notice_body(&refused[0].0)
    );
    say(&network, "!p demande 1").await;
    let served = messages_from(
        &olivia_client,
        network.room_id(),
        &bot,
        FIRST_ANSWER_WITHIN,
        1,
    )
    .await;
    assert_eq!(served.len(), 1);
    assert_eq!(
        notice_body(&served[0].0),
        "Il n'y a pas de demande n° 1.",
        "a moderator of the network's room is core team"
    );
    running.stop().await;
}

/// The (UIDVALIDITY, last UID) of a test mailbox's INBOX, as the IMAP connector saves its
/// checkpoint: a bot starting there reads only mail that arrives after.
async fn imap_position(user: &str) -> String {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", common::IMAP_PORT))
        .await
        .expect("Dovecot on 1143 (scripts/mail-servers.sh start)");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    let mut session = client
        .login(user, "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let inbox = session.examine("INBOX").await.unwrap();
    session.logout().await.unwrap();
    format!(
        "{}:{}",
        inbox.uid_validity.unwrap(),
        inbox.uid_next.unwrap() - 1
    )
}

/// A room message from `from` whose body contains `text`, within 30 s.
async fn wait_for_text(
    client: &Client,
    room: &RoomId,
    from: &UserId,
    text: &str,
) -> OriginalSyncRoomMessageEvent {
    let started = Instant::now();
    loop {
        for (message, _) in messages_from(client, room, from, Duration::from_secs(2), 1).await {
            if message.content.body().contains(text) {
                return message;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no message with {text:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_team_works_a_ticket_from_its_thread() {
    let _shared = SYNAPSE.read().await;
    use passerelle::core::directory::{JobRole, Member, Role};
    use passerelle::core::inbound::ReplyTo;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name, bob_name) = (unique("bot"), unique("alice"), unique("bob"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let bob = register(&bob_name);
    let alice_client = person(&alice_name).await;
    let bob_client = person(&bob_name).await;
    let team_room = create_room(&alice_client, &bot, false, false).await;

    // Mail goes through the real Postfix → Dovecot pair (scripts/mail-servers.sh): the bot
    // watches bot@example.test over IMAP and sends through SMTP; the requester is
    // alice@example.test, whose mailbox the test reads.
    let (bot_mail, requester) = ("bot@example.test", "alice@example.test");
    let mut config = bot_config(dir.path(), &bot_name, &alice, &[":localhost"]);
    config.mail.address = bot_mail.into();
    std::fs::write(dir.path().join("imap-password"), "secret\n").unwrap();
    config.connectors.set("imap", "enabled", true);
    config
        .connectors
        .set("imap", "port", i64::from(common::IMAP_PORT));
    config.connectors.set("imap", "tls", false);
    config.connectors.set("imap", "username", bot_mail);
    config.connectors.set(
        "imap",
        "password_file",
        dir.path().join("imap-password").display().to_string(),
    );
    config.connectors.set("smtp", "enabled", true);
    config
        .connectors
        .set("smtp", "port", i64::from(common::SMTP_PORT));
    config.tickets.team_connector = Some("matrix".into());
    config.tickets.team_target = Some(
        ReplyTo::Matrix {
            room: team_room.room_id().to_string(),
            thread: None,
        }
        .target(),
    );
    // Alice and Bob are the directory, core team, with their Matrix ids. Routing gives a
    // new ticket to Alice (same load, the first imported).
    config.directory.seed_members = None;
    config.directory.seed_interventions = None;
    let engine = app::build_engine(&config).await.unwrap();
    let alice_member = Member {
        id: 0,
        email: "alice@team.example".into(),
        name: "Alice Martin".into(),
        organisation: None,
        job_role: JobRole::Staff,
        department: None,
        topics: Vec::new(),
        languages: vec!["fr".into()],
        bio: String::new(),
        matrix_id: Some(alice.to_string()),
        speaker_consent: false,
        access: Role::CoreTeam,
        preferred_lang: None,
        unavailable: Vec::new(),
    };
    let bob_member = Member {
        email: "bob@team.example".into(),
        name: "Bob Durand".into(),
        matrix_id: Some(bob.to_string()),
        ..alice_member.clone()
    };
    engine
        .store()
        .import_members(&[alice_member, bob_member], chrono::Utc::now())
        .await
        .unwrap();
    // The mailbox keeps earlier runs' mail: the bot starts past it, as after a restart.
    engine
        .save_connector_state("imap", "INBOX", &imap_position(bot_mail).await)
        .await
        .unwrap();
    let running = start(&config);
    wait_membership(
        &alice_client,
        team_room.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;

    // A request arrives by mail (SMTP → Postfix → Dovecot → IMAP IDLE): its ticket is the root
    // of a thread in the team's room.
    let run = unique("run");
    let request_id = format!("request-{run}@example.test");
    let subject = format!("Speaker request - Open Data Summit 2027 ({run})");
    let request = std::fs::read_to_string(
        common::root().join("tests/fixtures/mail-requests/request-en-keynote.eml"),
    )
    .unwrap()
    .replace("tom.keller@civicdata.example", requester)
    .replace("contact@odf.example", bot_mail)
    .replace("req-en-1@civicdata.example", &request_id)
    .replace("Speaker request - Open Data Summit 2027", &subject)
    .replace('\n', "\r\n");
    common::send(requester, bot_mail, &request).await;
    let root = wait_for_text(&alice_client, team_room.room_id(), &bot, "Demande n° ").await;
    assert!(thread_root(&root).is_none(), "a new thread: {root:?}");
    let body = root.content.body().to_string();
    assert!(
        body.contains("Tom Keller") && body.contains("Open Data Summit 2027"),
        "{body}"
    );
    let number: i64 = body
        .split("Demande n° ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the ticket number");
    // No organisation: the mail names only the event's city, which is not the requester's body.
    assert!(
        body.contains(&format!("De : Tom Keller <{requester}>\n")),
        "one line each: {body}"
    );
    // Alice, its assignee, hears of it in a direct chat, with a link to the thread.
    let direct = direct_message(&alice_client, &bot, &format!("demande n° {number}")).await;
    let link = format!("{}/{}", team_room.room_id(), root.event_id);
    assert!(
        direct.contains("https://matrix.to/#/") && direct.contains(&link),
        "{direct}"
    );
    let thread = |text: &str| {
        let mut content = RoomMessageEventContent::text_plain(text);
        content.relates_to = Some(Relation::Thread(
            matrix_sdk::ruma::events::relation::Thread::without_fallback(root.event_id.clone()),
        ));
        content
    };
    let team_room = alice_client.get_room(team_room.room_id()).unwrap();

    // A plain message in the thread is an internal note.
    team_room
        .send(thread("Camille connaît bien le sujet, je lui demande."))
        .await
        .unwrap();
    let noted = wait_for_text(&alice_client, team_room.room_id(), &bot, "Note ajoutée").await;
    assert_eq!(thread_root(&noted), Some(&root.event_id));
    // "réponse : …" writes to the requester.
    team_room
        .send(thread("réponse : Bonjour, Camille Roux pourra intervenir."))
        .await
        .unwrap();
    wait_for_text(&alice_client, team_room.room_id(), &bot, requester).await;
    let events = engine.store().ticket_events(number).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "comment" && e.actor == "alice@team.example"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e.kind == "reply"), "{events:?}");

    // The acknowledgement, then the reply, arrive in the requester's mailbox, threaded on the
    // ticket.
    let in_mailbox = async |what: &str, wanted: &dyn Fn(&mail_parser::Message) -> bool| {
        let (raw, _) = common::eventually(what, async || {
            common::mailbox(requester).await.into_iter().find(|raw| {
                mail_parser::MessageParser::default()
                    .parse(raw)
                    .is_some_and(|m| wanted(&m))
            })
        })
        .await;
        raw
    };
    let threaded_on_request = |m: &mail_parser::Message| {
        m.header_raw("References")
            .is_some_and(|ids| ids.contains(&format!("<{request_id}>")))
    };
    let tagged = format!("Re: [ODF #{number}] {subject}");
    let ack = in_mailbox("the acknowledgement", &|m| {
        threaded_on_request(m) && !m.body_text(0).unwrap_or_default().contains("Camille Roux")
    })
    .await;
    let ack = mail_parser::MessageParser::default().parse(&ack).unwrap();
    assert_eq!(ack.subject(), Some(tagged.as_str()));
    assert_eq!(ack.in_reply_to().as_text(), Some(request_id.as_str()));
    let reply = in_mailbox("the reply to the requester", &|m| {
        m.subject().is_some_and(|s| s.contains(&run))
            && m.body_text(0)
                .unwrap_or_default()
                .contains("Camille Roux pourra intervenir")
    })
    .await;
    let reply = mail_parser::MessageParser::default().parse(&reply).unwrap();
    let reply_subject = reply.subject().unwrap_or_default().to_string();
    assert_eq!(reply_subject, tagged);
    assert_eq!(
        reply.from().unwrap().first().unwrap().address(),
        Some(bot_mail)
    );
    let ticket = engine.store().ticket(number).await.unwrap().unwrap();
    let body = reply.body_text(0).unwrap().to_string();
    assert!(
        body.contains(&format!("[ODF-{number}-{}]", ticket.secret)),
        "{body}"
    );
    let reply_id = reply
        .message_id()
        .expect("the reply's Message-ID")
        .to_string();
    // It answers the requester's mail: their client shows one conversation.
    assert_eq!(reply.in_reply_to().as_text(), Some(request_id.as_str()));
    let references = reply.references().as_text_list().unwrap_or_default();
    assert!(
        references.first().map(|r| r.as_ref()) == Some(request_id.as_str()),
        "{references:?}"
    );

    // The requester answers that mail by SMTP: it shows in the same thread.
    let answer = format!(
        "From: Tom Keller <{requester}>\r\nTo: {bot_mail}\r\nSubject: Re: {reply_subject}\r\nDate: {date}\r\nMessage-ID: <answer-{run}@example.test>\r\nIn-Reply-To: <{reply_id}>\r\nReferences: <{request_id}> <{reply_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMerci, parfait pour nous.\r\n",
        date = chrono::Utc::now().to_rfc2822(),
    );
    common::send(requester, bot_mail, &answer).await;
    let echoed = wait_for_text(&alice_client, team_room.room_id(), &bot, "Merci, parfait").await;
    assert_eq!(thread_root(&echoed), Some(&root.event_id));

    // ✅ on the ticket's first message accepts it, answered once, in the thread.
    team_room
        .send(
            matrix_sdk::ruma::events::reaction::ReactionEventContent::new(
                matrix_sdk::ruma::events::relation::Annotation::new(
                    root.event_id.clone(),
                    "✅".into(),
                ),
            ),
        )
        .await
        .unwrap();
    let accepted = wait_for_text(&alice_client, team_room.room_id(), &bot, "acceptée").await;
    assert_eq!(thread_root(&accepted), Some(&root.event_id));
    let ticket = engine.store().ticket(number).await.unwrap().unwrap();
    assert_eq!(ticket.state.as_str(), "accepted");
    let more = messages_from(
        &alice_client,
        team_room.room_id(),
        &bot,
        Duration::from_secs(3),
        1,
    )
    .await;
    assert!(more.is_empty(), "said once, not twice: {more:?}");

    // ❌ by Alice hands it back: it goes to Bob, who hears of it directly.
    team_room
        .send(
            matrix_sdk::ruma::events::reaction::ReactionEventContent::new(
                matrix_sdk::ruma::events::relation::Annotation::new(
                    root.event_id.clone(),
                    "❌".into(),
                ),
            ),
        )
        .await
        .unwrap();
    let passed = wait_for_text(
        &alice_client,
        team_room.room_id(),
        &bot,
        "ne vous est plus confiée",
    )
    .await;
    assert_eq!(thread_root(&passed), Some(&root.event_id));
    assert!(
        passed.content.body().contains("Bob Durand"),
        "{}",
        passed.content.body()
    );
    let to_bob = direct_message(&bob_client, &bot, &format!("demande n° {number}")).await;
    assert!(to_bob.contains(&link), "{to_bob}");
    let ticket = engine.store().ticket(number).await.unwrap().unwrap();
    let bob_id = engine
        .directory(chrono::Utc::now().date_naive())
        .await
        .unwrap()
        .by_email("bob@team.example")
        .unwrap()
        .id;
    assert_eq!(
        (ticket.state.as_str(), ticket.assignee),
        ("assigned", Some(bob_id))
    );
    running.stop().await;
}

/// The text of a message from `from` containing `text` in a direct chat `client` was invited
/// to (joined here), within 30 s.
/// mastodon-mock's statuses of its seeded account holding `mark`.
async fn mastodon_statuses(mark: &str) -> usize {
    let server = std::env::var("PASSERELLE_TEST_MASTODON")
        .unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let client = reqwest::Client::new();
    let get = async |path: String| -> serde_json::Value {
        client
            .get(format!("{server}{path}"))
            .bearer_auth("mock_token")
            .send()
            .await
            .expect("mastodon-mock answers (scripts/mastodon-mock.sh start)")
            .json()
            .await
            .unwrap()
    };
    let me = get("/api/v1/accounts/verify_credentials".into()).await;
    let statuses = get(format!(
        "/api/v1/accounts/{}/statuses?limit=40",
        me["id"].as_str().unwrap()
    ))
    .await;
    statuses
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["content"].as_str().unwrap().contains(mark))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_typed_in_the_news_room_is_approved_by_a_reaction_and_published_once() {
    let _shared = SYNAPSE.read().await;
    use passerelle::core::inbound::ReplyTo;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name) = (unique("bot"), unique("alice"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let alice_client = person(&alice_name).await;
    let news_room = create_room(&alice_client, &bot, false, false).await;
    let mut config = bot_config(dir.path(), &bot_name, &alice, &[":localhost"]);
    // The news room is where drafts are previewed and decided; Mastodon is the network.
    config.social.review_connector = Some("matrix".into());
    config.social.review_target = Some(
        ReplyTo::Matrix {
            room: news_room.room_id().to_string(),
            thread: None,
        }
        .target(),
    );
    std::fs::write(dir.path().join("mastodon-token"), "mock_token").unwrap();
    config.connectors.set("masto", "type", "mastodon");
    config.connectors.set("masto", "enabled", true);
    config.connectors.set(
        "masto",
        "base_url",
        std::env::var("PASSERELLE_TEST_MASTODON")
            .unwrap_or_else(|_| "http://127.0.0.1:3000".into()),
    );
    config.connectors.set(
        "masto",
        "access_token_file",
        dir.path().join("mastodon-token").display().to_string(),
    );
    config.social.networks = vec!["masto".into()];
    let running = start(&config);
    wait_membership(
        &alice_client,
        news_room.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;

    let mark = unique("news");
    say(
        &news_room,
        &format!("actu : Le guide des données ouvertes est en ligne https://example.org/guide #OpenData {mark}"),
    )
    .await;
    // The preview starts the draft's thread: the exact post and its length on Mastodon.
    let preview = wait_for_text(
        &alice_client,
        news_room.room_id(),
        &bot,
        "Nouveau brouillon n° 1",
    )
    .await;
    let body = preview.content.body().to_string();
    assert!(
        body.contains("Mastodon :") && body.contains("/500 caractères") && body.contains(&mark),
        "{body}"
    );
    assert_eq!(mastodon_statuses(&mark).await, 0, "nothing before approval");

    // 👍 on the preview approves it; the post's link comes back in the thread.
    let react = async |key: &str| {
        news_room
            .send(
                matrix_sdk::ruma::events::reaction::ReactionEventContent::new(
                    matrix_sdk::ruma::events::relation::Annotation::new(
                        preview.event_id.clone(),
                        key.into(),
                    ),
                ),
            )
            .await
            .unwrap();
    };
    react("👍").await;
    let published = wait_for_text(
        &alice_client,
        news_room.room_id(),
        &bot,
        "publié sur Mastodon",
    )
    .await;
    assert_eq!(thread_root(&published), Some(&preview.event_id));
    assert_eq!(mastodon_statuses(&mark).await, 1);

    // A second approval by reaction publishes nothing more, and says why.
    react("✅").await;
    let refused = wait_for_text(&alice_client, news_room.room_id(), &bot, "déjà publié").await;
    assert_eq!(thread_root(&refused), Some(&preview.event_id));
    assert_eq!(mastodon_statuses(&mark).await, 1, "published once");
    running.stop().await;
}

async fn direct_message(client: &Client, from: &UserId, text: &str) -> String {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no direct message with {text:?}"
        );
        let response = client
            .sync_once(SyncSettings::default().timeout(Duration::from_millis(500)))
            .await
            .unwrap();
        for room in client.invited_rooms() {
            room.join().await.unwrap();
        }
        for update in response.rooms.joined.values() {
            for event in &update.timeline.events {
                if let Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                    SyncMessageLikeEvent::Original(message),
                ))) = event.raw().deserialize()
                    && message.sender == from
                    && message.content.body().contains(text)
                {
                    return message.content.body().to_string();
                }
            }
        }
    }
}

const RECOVERY_KEY: &str = "correct horse battery staple, for the bot";

/// [`bot_config`] with a recovery key (from a file).
fn with_recovery_key(mut config: Config, dir: &std::path::Path) -> Config {
    std::fs::write(dir.join("recovery-key"), RECOVERY_KEY).unwrap();
    config.connectors.set(
        "matrix",
        "recovery_key_file",
        dir.join("recovery-key").display().to_string(),
    );
    config
}

/// The device of the session the bot saved in its store.
fn bot_session(dir: &std::path::Path) -> matrix_sdk::authentication::matrix::MatrixSession {
    serde_json::from_str(&std::fs::read_to_string(dir.join("matrix/session.json")).unwrap())
        .unwrap()
}

/// The bot's own store and session, opened as the bot opens them (the bot stopped).
async fn bot_store(dir: &std::path::Path) -> Client {
    let client = Client::builder()
        .homeserver_url(homeserver())
        .sqlite_store(dir.join("matrix"), Some("store secret"))
        .build()
        .await
        .unwrap();
    client.restore_session(bot_session(dir)).await.unwrap();
    client
}

/// Whether `client` sees `device` signed by its owner's cross-signing identity (as fetched
/// from the homeserver now). Nobody verified the bot's identity, so `is_verified()` is false
/// for a third party; being signed by that identity is what the bot can make true.
async fn cross_signed(client: &Client, user: &UserId, device: &matrix_sdk::ruma::DeviceId) -> bool {
    let encryption = client.encryption();
    assert!(
        encryption
            .request_user_identity(user)
            .await
            .unwrap()
            .is_some(),
        "{user} has a cross-signing identity"
    );
    encryption
        .get_device(user, device)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{user} has no device {device}"))
        .is_cross_signed_by_owner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_key_verifies_the_device_and_brings_the_backup_to_a_new_device_after_a_lost_store()
 {
    let _shared = SYNAPSE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name) = (unique("bot"), unique("alice"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let config = with_recovery_key(
        bot_config(dir.path(), &bot_name, &alice, &[":localhost"]),
        dir.path(),
    );
    let running = start(&config);
    let alice_client = person(&alice_name).await;
    let room = create_room(&alice_client, &bot, false, true).await;
    wait_membership(&alice_client, room.room_id(), &bot, MembershipState::Join).await;
    // An answer means the bot set up its trust (that comes before it listens).
    let before = say(&room, "!p help").await;
    let answers = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(60),
        1,
    )
    .await;
    assert_eq!(answers.len(), 1, "the bot answered in the encrypted room");
    let first_device = bot_session(dir.path()).meta.device_id;
    assert!(
        cross_signed(&alice_client, &bot, &first_device).await,
        "the bot's device is signed by the bot's identity"
    );
    // Time for the key backup upload the sync triggers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.stop().await;
    {
        let store = bot_store(dir.path()).await;
        assert!(
            store.encryption().backups().are_enabled().await,
            "backup on"
        );
        let backup = store
            .send(matrix_sdk::ruma::api::client::backup::get_latest_backup_info::v3::Request::new())
            .await
            .unwrap();
        assert!(
            u64::from(backup.count) > 0,
            "room keys are in the backup: {}",
            backup.count
        );
    }

    // The store is lost: a new login, a new device, the same recovery key.
    std::fs::remove_dir_all(dir.path().join("matrix")).unwrap();
    let running = start(&config);
    // Signed once it recovered the keys, which comes after its first sync (history, not
    // answered): a command from then on is answered.
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the new device is never signed by the bot's identity"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !dir.path().join("matrix/session.json").exists() {
            continue;
        }
        let device = bot_session(dir.path()).meta.device_id;
        if device != first_device && cross_signed(&alice_client, &bot, &device).await {
            break;
        }
    }
    say(&room, "!p aide").await;
    let answers = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(60),
        1,
    )
    .await;
    assert_eq!(
        answers.len(),
        1,
        "the new device read the command and answered"
    );
    running.stop().await;

    // The new device holds the backup key it recovered; with the room's keys from the backup
    // it reads the message sent before the store was lost (Alice never shared that key with it).
    let store = bot_store(dir.path()).await;
    assert!(
        store.encryption().backups().are_enabled().await,
        "backup on for the new device"
    );
    store
        .encryption()
        .backups()
        .download_room_keys_for_room(room.room_id())
        .await
        .unwrap();
    let event = store
        .get_room(room.room_id())
        .expect("the new device knows the room")
        .event(&before, None)
        .await
        .unwrap();
    assert!(event.encryption_info().is_some(), "decrypted: {event:?}");
    let body = match event.raw().deserialize().unwrap() {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
            SyncMessageLikeEvent::Original(message),
        )) => message.content.body().to_string(),
        other => panic!("not a message: {other:?}"),
    };
    assert_eq!(body, "!p help");
}

/// Runs `scripts/synapse.sh COMMAND`.
fn synapse(command: &str) {
    let status = std::process::Command::new(common::root().join("scripts/synapse.sh"))
        .arg(command)
        .status()
        .expect("scripts/synapse.sh runs");
    assert!(status.success(), "scripts/synapse.sh {command} failed");
}

/// Starts Synapse again when dropped, so a failing test leaves it up for the others.
struct SynapseBackUp;

impl Drop for SynapseBackUp {
    fn drop(&mut self) {
        let _ = std::process::Command::new(common::root().join("scripts/synapse.sh"))
            .arg("start")
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_after_synapse_restarts_under_the_bot_is_answered_once() {
    // Alone: the other tests need Synapse up.
    let _alone = SYNAPSE.write().await;
    let _back_up = SynapseBackUp;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name) = (unique("bot"), unique("alice"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let running = start(&bot_config(dir.path(), &bot_name, &alice, &[":localhost"]));
    let alice_client = person(&alice_name).await;
    let room = create_room(&alice_client, &bot, false, false).await;
    wait_membership(&alice_client, room.room_id(), &bot, MembershipState::Join).await;
    say(&room, "!p help").await;
    let answers = messages_from(&alice_client, room.room_id(), &bot, FIRST_ANSWER_WITHIN, 1).await;
    assert_eq!(answers.len(), 1, "answered before the restart");

    synapse("stop");
    // Long enough for the bot's long poll to fail and its retries to start.
    tokio::time::sleep(Duration::from_secs(3)).await;
    synapse("start");
    let asked = say(&room, "!p aide").await;
    let answers = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(120),
        1,
    )
    .await;
    assert_eq!(answers.len(), 1, "answered after the restart");
    assert_eq!(thread_root(&answers[0].0), Some(&asked));
    let more = messages_from(
        &alice_client,
        room.room_id(),
        &bot,
        Duration::from_secs(5),
        1,
    )
    .await;
    assert!(more.is_empty(), "answered once: {more:?}");
    running.stop().await;
}

/// `doctor`'s lines for the Matrix connector of `config`.
async fn doctor_lines(config: &Config) -> Vec<passerelle::doctor::Check> {
    let found =
        passerelle::connectors::instances(config, passerelle::connectors::REGISTRY).unwrap();
    let matrix = found
        .iter()
        .find(|i| i.registration.kind == "matrix")
        .expect("matrix on");
    let setup = passerelle::connectors::Setup {
        name: &matrix.name,
        section: &matrix.section,
        config,
    };
    let mut lines = Vec::new();
    passerelle::connectors::matrix::doctor(&setup, &mut |check| lines.push(check)).await;
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_homeserver_the_session_the_device_and_the_rooms() {
    use passerelle::core::inbound::ReplyTo;
    let _shared = SYNAPSE.read().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name) = (unique("bot"), unique("alice"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let alice_client = person(&alice_name).await;
    let team_room = create_room(&alice_client, &bot, false, false).await;
    let mut config = with_recovery_key(
        bot_config_with_roles(
            dir.path(),
            &bot_name,
            &alice,
            &[":localhost"],
            &[team_room.room_id().as_str()],
        ),
        dir.path(),
    );
    config.tickets.team_connector = Some("matrix".into());
    config.tickets.team_target = Some(
        ReplyTo::Matrix {
            room: team_room.room_id().to_string(),
            thread: None,
        }
        .target(),
    );

    // Before the bot ever ran: no session, and doctor does not log in.
    let lines = doctor_lines(&config).await;
    let texts: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert!(
        texts[0].starts_with("ok   matrix: homeserver"),
        "{texts:#?}"
    );
    assert!(
        texts[1].starts_with("FAIL ") && texts[1].contains("run the bot once to log in"),
        "{texts:#?}"
    );
    assert!(
        !dir.path().join("matrix/session.json").exists(),
        "doctor logged nobody in"
    );

    // The bot running, its trust set up (it answers only after).
    let running = start(&config);
    wait_membership(
        &alice_client,
        team_room.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;
    say(&team_room, "!p help").await;
    let answers = messages_from(
        &alice_client,
        team_room.room_id(),
        &bot,
        Duration::from_secs(60),
        1,
    )
    .await;
    assert_eq!(answers.len(), 1);
    let lines = doctor_lines(&config).await;
    let texts: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert!(lines.iter().all(|c| c.ok), "{texts:#?}");
    let expected = [
        "homeserver http://127.0.0.1:8008 answers",
        &format!("logged in as {bot}"),
        "device cross-signed by the bot's identity, room keys backed up",
        &format!(
            "1 room(s) joined, the team room {} among them",
            team_room.room_id()
        ),
        &format!("power levels of {} readable", team_room.room_id()),
    ];
    assert_eq!(texts.len(), expected.len(), "{texts:#?}");
    for (text, wanted) in texts.iter().zip(expected) {
        assert!(text.contains(wanted), "{text:?} should say {wanted:?}");
    }

    // A wrong port: one failing line, which says what to check.
    let mut wrong = config.clone();
    wrong
        .connectors
        .set("matrix", "homeserver", "http://127.0.0.1:1");
    let lines = doctor_lines(&wrong).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(!lines[0].ok);
    assert!(
        lines[0].summary.contains("unreachable")
            && lines[0]
                .summary
                .contains("check `homeserver` in [connectors.matrix]"),
        "{}",
        lines[0]
    );
    running.stop().await;

    // Without the recovery key, a device that was never cross-signed fails its line.
    let dir2 = tempfile::tempdir().unwrap();
    let bot2_name = unique("bot");
    register(&bot2_name);
    let plain = bot_config(dir2.path(), &bot2_name, &alice, &[":localhost"]);
    let running = start(&plain);
    let started = Instant::now();
    while !dir2.path().join("matrix/session.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the bot logged in"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lines = doctor_lines(&plain).await;
    let device = lines
        .iter()
        .find(|c| c.summary.contains("cross-signed"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(
        !device.ok && device.summary.contains("set the recovery key"),
        "{device}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lists_posts_appear_in_the_relay_room_one_thread_per_email_thread() {
    let _shared = SYNAPSE.read().await;
    const LIST: &str = "membres.opendatafrance.example";
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name) = (unique("bot"), unique("alice"));
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    let alice_client = person(&alice_name).await;
    let relay_room = create_room(&alice_client, &bot, false, false).await;
    let mut config = bot_config(dir.path(), &bot_name, &alice, &[":localhost"]);
    let inbox = dir.path().join("inbox");
    config.connectors.set("maildir", "enabled", true);
    config
        .connectors
        .set("maildir", "path", inbox.display().to_string());
    config.connectors.set("maildir", "scan_interval_ms", 100);
    config.mail.watched_list = Some(LIST.into());
    config.mail.list_relay_connector = Some("matrix".into());
    config.mail.list_relay_target = Some(format!("matrix:{}", relay_room.room_id()));
    let running = start(&config);
    wait_membership(
        &alice_client,
        relay_room.room_id(),
        &bot,
        MembershipState::Join,
    )
    .await;
    passerelle::connectors::maildir::prepare(&inbox).unwrap();
    let post = |id: &str, headers: &str, body: &str| {
        format!(
            "From: Hélène Vasseur <helene@ville.example>\r\nTo: membres@opendatafrance.example\r\nSubject: Atelier SCDL à Nantes\r\nMessage-ID: <{id}@ville.example>\r\nList-Id: Membres <{LIST}>\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
    };
    deliver(
        &inbox,
        "1.post",
        &post(
            "root",
            "",
            "Les supports de l'atelier sont en ligne.\r\n-- \r\nHélène",
        ),
    );
    let root = wait_for_text(
        &alice_client,
        relay_room.room_id(),
        &bot,
        "Atelier SCDL à Nantes",
    )
    .await;
    assert!(thread_root(&root).is_none(), "{root:?}");
    assert!(
        root.content
            .body()
            .contains("supports de l'atelier sont en ligne")
    );
    deliver(
        &inbox,
        "2.reply",
        &post(
            "reply",
            "In-Reply-To: <root@ville.example>\r\nReferences: <root@ville.example>\r\n",
            "Merci <b>beaucoup</b> @room !\r\n\r\n> Les supports de l'atelier sont en ligne.",
        ),
    );
    let reply = wait_for_text(&alice_client, relay_room.room_id(), &bot, "Merci").await;
    assert_eq!(
        thread_root(&reply),
        Some(&root.event_id),
        "in the post's thread"
    );
    let body = reply.content.body();
    assert!(!body.contains("> Les supports"), "quotes stripped: {body}");
    // Outside text is text: no markup, nobody pinged.
    let MessageType::Notice(notice) = &reply.content.msgtype else {
        panic!("{reply:?}")
    };
    let html = &notice.formatted.as_ref().unwrap().body;
    assert!(html.contains("&lt;b&gt;beaucoup&lt;/b&gt;"), "{html}");
    assert!(!html.contains("@room"), "{html}");
    running.stop().await;
}

/// Every room message `from` sent in `room`, from the room's history (up to 200 events).
async fn history_from(room: &Room, from: &UserId) -> Vec<OriginalSyncRoomMessageEvent> {
    let mut options = matrix_sdk::room::MessagesOptions::backward();
    options.limit = 200u32.into();
    let messages = room.messages(options).await.unwrap();
    messages
        .chunk
        .iter()
        .filter_map(|event| match event.raw().deserialize() {
            Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                SyncMessageLikeEvent::Original(message),
            ))) if message.sender == from => Some(message),
            _ => None,
        })
        .collect()
}

/// A request to the homeserver with an access token: the status and the JSON answer.
async fn homeserver_request(
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = homeserver();
    let host = server
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let body = body.map(ToString::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    let (head, rest) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    // The JSON object, whether or not the body came in chunks.
    let json = match (rest.find('{'), rest.rfind('}')) {
        (Some(start), Some(end)) => serde_json::from_str(&rest[start..=end]).unwrap(),
        _ => serde_json::Value::Null,
    };
    (status, json)
}

/// The Synapse database file named by the test homeserver's config (SQLite).
fn synapse_database() -> std::path::PathBuf {
    let config = std::env::var("PASSERELLE_TEST_SYNAPSE_CONFIG").unwrap_or_else(|_| {
        common::root()
            .join(".run/synapse/homeserver.yaml")
            .display()
            .to_string()
    });
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("name: sqlite3"), "{config}: SQLite expected");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("database:"))
        .map(str::trim)
        .find(|value| !value.is_empty())
        .map(std::path::PathBuf::from)
        .expect("database.args.database")
}

/// Puts `user` on its own message limit (`rc_message` for that user alone), through the admin
/// API when Synapse accepts the values. Its admin API takes whole messages per second only (a
/// float such as Synapse's default 0.2 is refused with 400), so a fractional rate is written
/// in the same table, `ratelimit_override`, before the user's first request (Synapse caches
/// the row once read). Either way, the admin API must read back the limit asked for.
async fn limit_messages(user: &UserId, admin_token: &str, per_second: f64, burst: u32) {
    let path = format!("/_synapse/admin/v1/users/{user}/override_ratelimit");
    let wanted = serde_json::json!({ "messages_per_second": per_second, "burst_count": burst });
    let (status, answer) = homeserver_request("POST", &path, admin_token, Some(&wanted)).await;
    if status == 400 && per_second.fract() != 0.0 {
        use sqlx::Connection;
        let database = synapse_database();
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO ratelimit_override (user_id, messages_per_second, burst_count) VALUES (?, ?, ?)",
        )
        .bind(user.as_str())
        .bind(per_second)
        .bind(i64::from(burst))
        .execute(&mut db)
        .await
        .unwrap();
        db.close().await.unwrap();
    } else {
        assert_eq!(status, 200, "{answer}");
    }
    let (status, answer) = homeserver_request("GET", &path, admin_token, None).await;
    assert_eq!(
        (status, &answer),
        (200, &wanted),
        "the limit Synapse applies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_synapses_default_message_limit_every_answer_arrives_once() {
    // Synapse's default rc_message (the test homeserver raises it for everyone else).
    const PER_SECOND: f64 = 0.2;
    const BURST: u32 = 10;
    const COMMANDS: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    let (bot_name, alice_name, olivia_name, admin_name) = (
        unique("bot"),
        unique("alice"),
        unique("olivia"),
        unique("admin"),
    );
    let bot = register(&bot_name);
    let alice = register(&alice_name);
    register(&olivia_name);
    register_as(&admin_name, true);
    let admin_client = person(&admin_name).await;
    limit_messages(
        &bot,
        &admin_client.access_token().expect("the admin's token"),
        PER_SECOND,
        BURST,
    )
    .await;

    let config = bot_config(dir.path(), &bot_name, &alice, &[":localhost"]);
    let engine = app::build_engine(&config).await.unwrap();
    let running = start(&config);
    let alice_client = person(&alice_name).await;
    let room = create_room(&alice_client, &bot, false, false).await;
    wait_membership(&alice_client, room.room_id(), &bot, MembershipState::Join).await;
    let olivia_client = person(&olivia_name).await;
    room.invite_user_by_id(olivia_client.user_id().unwrap())
        .await
        .unwrap();
    olivia_client.join_room_by_id(room.room_id()).await.unwrap();

    // As fast as a client can: more than the burst the bot may answer at once.
    let started = Instant::now();
    let mut asked = Vec::new();
    for _ in 0..COMMANDS {
        asked.push(say(&room, "!p aide").await);
    }
    let sent_in = started.elapsed();
    let floor = Duration::from_secs_f64((COMMANDS as u32 - BURST) as f64 / PER_SECOND);
    let bound = Duration::from_secs_f64(COMMANDS as f64 / PER_SECOND) + Duration::from_secs(15);
    // Read from the room's history, not from syncs: a sync after many events returns only
    // the last few (a limited timeline).
    let took = loop {
        if history_from(&room, &bot).await.len() >= COMMANDS || started.elapsed() >= bound {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // A second answer to any command would come within this quiet time.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let answers: Vec<_> = history_from(&room, &bot)
        .await
        .into_iter()
        .map(|m| (m, false))
        .collect();
    let rows = engine.store().outbox_list(None, 100).await.unwrap();
    assert_eq!(
        answers.len(),
        COMMANDS,
        "every command answered within {bound:?} ({took:?}); outbox: {:#?}",
        rows.iter()
            .map(|m| (m.id, &m.status, m.attempts, &m.last_error))
            .collect::<Vec<_>>()
    );
    let mut answered: std::collections::HashMap<OwnedEventId, usize> = Default::default();
    for (answer, _) in &answers {
        assert!(
            notice_body(answer).contains("Voici ce que je sais faire"),
            "{}",
            notice_body(answer)
        );
        *answered
            .entry(thread_root(answer).expect("in a thread").clone())
            .or_default() += 1;
    }
    for command in &asked {
        assert_eq!(answered.get(command), Some(&1), "{command} answered once");
    }
    assert_eq!(answered.len(), COMMANDS, "no answer to anything else");

    // The limit was in force: past the burst, one message every 1/PER_SECOND seconds, so the
    // last answer cannot come sooner than `floor` after the first (1 s of slack for the
    // homeserver's clock and timestamps). The commands all went in at once, so the bot was
    // refused (429) and waited at least (COMMANDS - BURST) times.
    let stamps: Vec<u64> = answers
        .iter()
        .map(|(answer, _)| u64::from(answer.origin_server_ts.0))
        .collect();
    let spread = Duration::from_millis(stamps.iter().max().unwrap() - stamps.iter().min().unwrap());
    eprintln!(
        "{COMMANDS} commands sent in {sent_in:?}; answers spread over {spread:?} (floor {floor:?}); last answer after {took:?} (bound {bound:?})"
    );
    assert!(
        spread + Duration::from_secs(1) >= floor,
        "answers spread over {spread:?}, faster than the limit allows ({floor:?}): the limit was not applied"
    );
    assert!(
        sent_in < Duration::from_secs(5),
        "the commands went in together: {sent_in:?}"
    );

    // In the store: one row per answer, all delivered, none dead.
    let rows = engine.store().outbox_list(None, 100).await.unwrap();
    let dead: Vec<_> = rows.iter().filter(|m| m.status == "dead").collect();
    assert!(dead.is_empty(), "{dead:?}");
    let to_room: Vec<_> = rows
        .iter()
        .filter(|m| m.connector == "matrix" && m.target.contains(room.room_id().as_str()))
        .collect();
    assert_eq!(to_room.len(), COMMANDS, "{to_room:?}");
    assert!(to_room.iter().all(|m| m.status == "done"), "{to_room:?}");
    running.stop().await;
}

/// Delivers a mail into a Maildir as an MTA does: written in tmp/, then moved into new/, so the
/// running bot never reads half a file.
fn deliver(maildir: &std::path::Path, name: &str, raw: &str) {
    let written = maildir.join("tmp").join(name);
    std::fs::write(&written, raw).unwrap();
    std::fs::rename(&written, maildir.join("new").join(name)).unwrap();
}
