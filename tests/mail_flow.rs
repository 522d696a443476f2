//! Mail through the one flow on the sample directory: requests become routed tickets with an
//! acknowledgement, replies thread onto them in every way clients allow, robots get nothing,
//! and Maildir intake files what it handled.

mod common;

use chrono::{DateTime, Utc};
use passerelle::app;
use passerelle::core::actions::MailEnvelope;
use passerelle::core::tickets::TicketState;
use passerelle::engine::{Engine, MailHandled};
use passerelle::mail::Class;
use passerelle::store::InboundKey;
use std::sync::Arc;

fn now() -> DateTime<Utc> {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

struct Bot {
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn new() -> Bot {
        Self::with(|_| {}).await
    }

    async fn with(adjust: impl FnOnce(&mut passerelle::config::Config)) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            common::config_with_store(&format!("sqlite://{}", dir.path().join("bot.db").display()));
        adjust(&mut config);
        Bot {
            engine: app::build_engine(&config).await.unwrap(),
            _dir: dir,
        }
    }

    async fn mail(&self, raw: &str) -> MailHandled {
        self.engine
            .handle_mail(raw.as_bytes(), now())
            .await
            .unwrap()
    }

    async fn fixture(&self, name: &str) -> MailHandled {
        let raw = std::fs::read_to_string(
            common::root()
                .join("tests/fixtures/mail-requests")
                .join(name),
        )
        .unwrap();
        self.mail(&raw).await
    }

    /// A fixture that must open a ticket: its number and outbox rows.
    async fn request(&self, name: &str) -> (i64, Vec<i64>) {
        match self.fixture(name).await {
            MailHandled::Done {
                ticket: Some(number),
                outbox_ids,
                ..
            } => (number, outbox_ids),
            other => panic!("{name} opened no ticket: {other:?}"),
        }
    }

    async fn envelope(&self, outbox_id: i64) -> MailEnvelope {
        let row = self
            .engine
            .store()
            .outbox_get(outbox_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.connector, "smtp");
        serde_json::from_str(&row.body).unwrap()
    }

    async fn events(&self, ticket: i64) -> Vec<String> {
        self.engine
            .store()
            .ticket_events(ticket)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{}: {}", e.kind, e.detail))
            .collect()
    }
}

/// A reply written by hand, with the headers a test wants.
fn reply(headers: &[&str], body: &str) -> String {
    let mut text = headers.join("\r\n");
    text.push_str("\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    text.push_str(&body.replace('\n', "\r\n"));
    text
}

#[tokio::test]
async fn a_french_request_becomes_a_routed_ticket_with_an_acknowledgement() {
    let bot = Bot::new().await;
    let MailHandled::Done {
        class,
        ticket: Some(number),
        outbox_ids,
        may_answer,
        command: None,
        ..
    } = bot.fixture("request-fr-round-table.eml").await
    else {
        panic!("no ticket")
    };
    assert_eq!(
        (class, may_answer, outbox_ids.len()),
        (Class::Request, true, 1)
    );
    let ticket = bot.engine.store().ticket(number).await.unwrap().unwrap();
    assert_eq!(ticket.state, TicketState::Assigned);
    assert_eq!(
        ticket.requester_email,
        "helene.vasseur@assoc-territoires.example"
    );
    // What the round table is said to be about: "une table ronde sur les licences ouvertes
    // (…) et la réutilisation des données" (extract::main_topics; tests/eval_mail.rs measures
    // the choice).
    assert_eq!(ticket.topics, vec!["licensing", "reuse"]);
    assert_eq!(ticket.places, vec!["Lyon"]);
    assert_eq!(ticket.dates, vec!["2027-03-12".parse().unwrap()]);
    assert_eq!(ticket.format.as_deref(), Some("round-table"));
    assert_eq!(
        ticket.event.as_deref(),
        Some("Rencontres de la donnée publique")
    );
    // Licensing is Camille Roux's by the routing rules of bot.toml.
    let directory = bot.engine.directory(bot.engine.today(now())).await.unwrap();
    let camille = directory.by_email("camille.roux@example.org").unwrap();
    assert_eq!(ticket.assignee, Some(camille.id));
    let events = bot.events(number).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("assigned: camille.roux@example.org: routing rule(s) #1")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.starts_with("suggested: ")),
        "{events:?}"
    );
    let suggested = bot.engine.store().ticket_suggestions(number).await.unwrap();
    assert!(!suggested.is_empty() && suggested.len() <= 5);

    let ack = bot.envelope(outbox_ids[0]).await;
    assert_eq!(ack.mail.to, "helene.vasseur@assoc-territoires.example");
    assert_eq!(
        ack.mail.subject,
        format!(
            "Re: [ODF #{number}] Demande d'intervenant : Rencontres de la donnée publique, Lyon"
        )
    );
    assert_eq!(
        ack.mail.in_reply_to.as_deref(),
        Some("req-fr-1@assoc-territoires.example")
    );
    assert_eq!(
        ack.mail.references,
        vec!["req-fr-1@assoc-territoires.example"]
    );
    assert_eq!(ack.mail.auto_submitted, "auto-replied");
    assert!(
        ack.mail.body.starts_with("Bonjour Hélène Vasseur,"),
        "{}",
        ack.mail.body
    );
    assert!(
        ack.mail
            .body
            .contains(&format!("enregistrée sous le numéro {number}")),
        "{}",
        ack.mail.body
    );
    assert!(ack.mail.body.contains("Camille Roux"), "{}", ack.mail.body);
    assert!(
        ack.mail
            .body
            .contains(&format!("[ODF-{number}-{}]", ticket.secret)),
        "{}",
        ack.mail.body
    );
    assert!(ack.message_id.ends_with("@localhost"), "{}", ack.message_id);
}

#[tokio::test]
async fn an_english_request_is_acknowledged_in_english() {
    let bot = Bot::new().await;
    let (number, outbox_ids) = bot.request("request-en-keynote.eml").await;
    let ack = bot.envelope(outbox_ids[0]).await;
    assert!(
        ack.mail.body.starts_with("Hello Tom Keller,"),
        "{}",
        ack.mail.body
    );
    assert!(
        ack.mail
            .body
            .contains(&format!("recorded it as number {number}"))
    );
    let ticket = bot.engine.store().ticket(number).await.unwrap().unwrap();
    assert_eq!(ticket.lang.code(), "en");
    assert_eq!(ticket.places, vec!["Bordeaux"]);
}

#[tokio::test]
async fn replies_thread_onto_their_ticket_whatever_the_client_kept() {
    let bot = Bot::new().await;
    let (number, outbox_ids) = bot.request("request-fr-round-table.eml").await;
    let ack = bot.envelope(outbox_ids[0]).await;
    let ticket = bot.engine.store().ticket(number).await.unwrap().unwrap();
    let marker = format!("[ODF-{number}-{}]", ticket.secret);
    let in_reply_to = format!("In-Reply-To: <{}>", ack.message_id);
    let cases: Vec<(&str, String)> = vec![
        // A normal reply: In-Reply-To names the acknowledgement.
        (
            "by In-Reply-To",
            reply(
                &[
                    "From: helene.vasseur@assoc-territoires.example",
                    "To: passerelle@localhost",
                    "Subject: Re: something else entirely",
                    "Message-ID: <r1@assoc.example>",
                    &in_reply_to,
                ],
                "Merci !",
            ),
        ),
        // A client that dropped References and changed the subject: the quoted marker remains.
        (
            "by marker",
            reply(
                &[
                    "From: collegue@assoc-territoires.example",
                    "To: passerelle@localhost",
                    "Subject: notre conférence",
                    "Message-ID: <r2@assoc.example>",
                ],
                &format!(
                    "Je complète la demande.\n\nLe 26 nov. 2026, Passerelle a écrit :\n> Réf. : {marker}"
                ),
            ),
        ),
        // Forwarded by someone in Cc: only the subject tag survives.
        (
            "by subject tag",
            reply(
                &[
                    "From: elu@ville.example",
                    "To: passerelle@localhost",
                    &format!("Subject: TR: Re: [ODF #{number}] Demande"),
                    "Message-ID: <r3@ville.example>",
                ],
                "Pour information, je suis aussi concerné.",
            ),
        ),
    ];
    for (how, raw) in cases {
        match bot.mail(&raw).await {
            MailHandled::Done {
                ticket, outbox_ids, ..
            } => {
                // (The subject tag alone is kept on the ticket, as an unverified note.)
                assert_eq!(ticket, Some(number), "{how}");
                assert!(outbox_ids.is_empty(), "{how}: replies are not acknowledged");
            }
            other => panic!("{how}: {other:?}"),
        }
    }
    let events = bot.events(number).await;
    let messages: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("message: ") || e.starts_with("unverified-message: "))
        .collect();
    assert_eq!(messages.len(), 3, "{events:?}");
    assert!(
        messages[2].starts_with("unverified-message: Pour information"),
        "a stranger's mail matched only by its subject tag is not trusted: {events:?}"
    );
    assert!(
        messages[1].contains("Je complète la demande.") && !messages[1].contains("Réf."),
        "{events:?}"
    );
    // A guessed marker with the wrong secret does not thread.
    let guessed = reply(
        &[
            "From: x@example.com",
            "To: passerelle@localhost",
            "Subject: hello",
            "Message-ID: <r4@example.com>",
        ],
        &format!("[ODF-{number}-00000000]"),
    );
    assert!(matches!(
        bot.mail(&guessed).await,
        MailHandled::Done { ticket: None, .. }
    ));
}

#[tokio::test]
async fn a_reply_on_a_closed_ticket_reopens_it_and_the_requester_answer_resumes_the_work() {
    let bot = Bot::new().await;
    let (number, outbox_ids) = bot.request("request-fr-round-table.eml").await;
    let ack = bot.envelope(outbox_ids[0]).await;
    let store = bot.engine.store();
    let set = |state| passerelle::core::actions::Change::SetTicketState {
        ticket: number,
        state,
    };
    let key = |id: &str| InboundKey {
        source: "test-admin".into(),
        external_id: id.into(),
    };
    let state = || async { store.ticket(number).await.unwrap().unwrap().state };
    store
        .commit(
            &key("wait"),
            &[set(TicketState::WaitingForRequester)],
            &[],
            now(),
        )
        .await
        .unwrap();
    // Anyone can type the subject tag and the requester's address: without a reference to our
    // mail (or a proven sender) it is a note, and the ticket keeps waiting.
    let forged = reply(
        &[
            "From: Helene.Vasseur@assoc-territoires.example",
            "To: passerelle@localhost",
            &format!("Subject: Re: [ODF #{number}] Demande"),
            "Message-ID: <forged-1@attacker.example>",
        ],
        "Merci de régler 450 EUR sur l'IBAN FR76 …",
    );
    bot.mail(&forged).await;
    assert_eq!(state().await, TicketState::WaitingForRequester);
    let in_reply_to = format!("In-Reply-To: <{}>", ack.message_id);
    let answer = reply(
        &[
            "From: Helene.Vasseur@assoc-territoires.example",
            "To: passerelle@localhost",
            &format!("Subject: Re: [ODF #{number}] Demande"),
            "Message-ID: <w1@assoc.example>",
            &in_reply_to,
        ],
        "Voici les précisions demandées.",
    );
    bot.mail(&answer).await;
    assert_eq!(state().await, TicketState::Accepted);

    store
        .commit(&key("done"), &[set(TicketState::Done)], &[], now())
        .await
        .unwrap();
    // A stranger guessing the tag does not reopen a closed ticket.
    let guessed = reply(
        &[
            "From: stranger@example.com",
            "To: passerelle@localhost",
            &format!("Subject: [ODF #{number}] hello"),
            "Message-ID: <guess-1@example.com>",
        ],
        "Reopen please.",
    );
    bot.mail(&guessed).await;
    assert_eq!(state().await, TicketState::Done);
    let late = reply(
        &[
            "From: helene.vasseur@assoc-territoires.example",
            "To: passerelle@localhost",
            &format!("Subject: Re: [ODF #{number}] Demande"),
            "Message-ID: <w2@assoc.example>",
            "References: <w1@assoc.example>",
        ],
        "Une dernière question.",
    );
    bot.mail(&late).await;
    assert_eq!(state().await, TicketState::New);
    let events = bot.events(number).await;
    assert!(events.iter().any(|e| e.starts_with("reopened: ")));
    let unverified: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("unverified-message: "))
        .collect();
    assert_eq!(
        unverified,
        vec![
            "unverified-message: Merci de régler 450 EUR sur l'IBAN FR76 …",
            "unverified-message: Reopen please."
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn the_same_message_twice_does_nothing_the_second_time() {
    let bot = Bot::new().await;
    assert!(matches!(
        bot.fixture("request-fr-round-table.eml").await,
        MailHandled::Done {
            ticket: Some(1),
            ..
        }
    ));
    assert_eq!(
        bot.fixture("request-fr-round-table.eml").await,
        MailHandled::Duplicate
    );
    assert_eq!(bot.engine.store().ticket(2).await.unwrap(), None);
}

#[tokio::test]
async fn robots_and_other_mail_open_no_ticket_and_get_no_answer() {
    let bot = Bot::new().await;
    for (name, class) in [
        ("autoreply-fr-no-headers.eml", Class::AutoReply),
        ("news-fr.eml", Class::News),
        ("list-fr-discussion.eml", Class::ListDiscussion),
    ] {
        match bot.fixture(name).await {
            MailHandled::Done {
                class: got,
                ticket,
                outbox_ids,
                ..
            } => {
                assert_eq!((got, ticket, outbox_ids.len()), (class, None, 0), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // The whole real-world corpus: no robot (bounce, auto-reply, abuse report) gets a mail.
    let index = csv::Reader::from_path(common::root().join("tests/fixtures/mail-corpus/INDEX.csv"))
        .unwrap()
        .into_records();
    let mut answered_robots = Vec::new();
    let mut robots = 0;
    for record in index {
        let record = record.unwrap();
        let category = &record[3];
        let robot = (category.starts_with("bounce")
            || category.starts_with("autoreply")
            || category == "arf-feedback"
            || category == "complaints")
            && category != "not-bounce";
        let path = common::root()
            .join("tests/fixtures/mail-corpus")
            .join(&record[0]);
        let raw = std::fs::read(&path).unwrap();
        let handled = bot.engine.handle_mail(&raw, now()).await.unwrap();
        if robot {
            robots += 1;
            if let MailHandled::Done { outbox_ids, .. } = handled
                && !outbox_ids.is_empty()
            {
                answered_robots.push(record[0].to_string());
            }
        }
    }
    assert!(robots >= 50, "{robots}");
    assert!(answered_robots.is_empty(), "{answered_robots:?}");
}

#[tokio::test]
async fn maildir_intake_files_what_it_handled_and_ignores_a_redelivery() {
    let bot = Bot::new().await;
    let root = bot._dir.path().join("inbox");
    passerelle::connectors::maildir::prepare(&root).unwrap();
    let source = common::root().join("tests/fixtures/mail-requests/request-en-keynote.eml");
    std::fs::copy(&source, root.join("new/1700000000.1.host")).unwrap();
    std::fs::copy(
        common::root().join("tests/fixtures/mail-requests/news-fr.eml"),
        root.join("new/1700000001.2.host"),
    )
    .unwrap();
    let report = passerelle::connectors::maildir::scan_once(&bot.engine, "maildir", &root)
        .await
        .unwrap();
    assert_eq!((report.handled, report.duplicates), (2, 0));
    assert_eq!(std::fs::read_dir(root.join("new")).unwrap().count(), 0);
    assert!(root.join("cur/1700000000.1.host:2,S").exists());
    // The same message delivered again under another name (a crash before the move, a copy).
    std::fs::copy(&source, root.join("new/1700000002.3.host")).unwrap();
    let report = passerelle::connectors::maildir::scan_once(&bot.engine, "maildir", &root)
        .await
        .unwrap();
    assert_eq!((report.handled, report.duplicates), (0, 1));
    assert_eq!(bot.engine.store().ticket(2).await.unwrap(), None);
}

#[tokio::test]
async fn maildir_moves_aside_what_it_cannot_handle_and_goes_on_with_the_rest() {
    // French acknowledgements fail to render (a broken template): every French request fails
    // the same way each time, so it must not block the mail after it.
    let prompts = tempfile::tempdir().unwrap();
    common::copy_dir(&common::root().join("prompts"), prompts.path());
    std::fs::write(prompts.path().join("fr/mail/ack.j2"), "{{ missing.field }}").unwrap();
    let prompts_dir = prompts.path().to_path_buf();
    let bot = Bot::with(|config| config.bot.prompts_dir = prompts_dir).await;
    let root = bot._dir.path().join("inbox");
    passerelle::connectors::maildir::prepare(&root).unwrap();
    let fixtures = common::root().join("tests/fixtures/mail-requests");
    std::fs::copy(
        fixtures.join("request-fr-round-table.eml"),
        root.join("new/1700000000.1.host"),
    )
    .unwrap();
    std::fs::write(root.join("new/1700000001.2.host"), b"").unwrap();
    // A legal 252-byte name: with ":2,S" it would pass the 255-byte limit of file names.
    let long = format!("1700000002.3.{}", "h".repeat(239));
    assert_eq!(long.len(), 252);
    std::fs::copy(
        fixtures.join("request-en-keynote.eml"),
        root.join("new").join(&long),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("news-fr.eml"),
        root.join("new/1700000003.4.host"),
    )
    .unwrap();

    let report = passerelle::connectors::maildir::scan_once(&bot.engine, "maildir", &root)
        .await
        .unwrap();
    assert_eq!(
        (report.handled, report.quarantined),
        (3, 2),
        "the empty file is handled (recorded as seen) and quarantined: {report:?}"
    );
    assert_eq!(std::fs::read_dir(root.join("new")).unwrap().count(), 0);
    assert!(root.join("quarantine/1700000000.1.host:2,S").exists());
    assert!(root.join("quarantine/1700000001.2.host:2,S").exists());
    assert!(root.join("cur/1700000003.4.host:2,S").exists());
    let cur: Vec<String> = std::fs::read_dir(root.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cur.iter()
            .any(|n| n.starts_with("1700000002.3.hhh") && n.len() <= 255),
        "{cur:?}"
    );
    // The English request got its ticket; the French one is recorded with its error.
    // (Number 1 was reserved by the French one: a gap, as after a crash.)
    let ticket = bot.engine.store().ticket(2).await.unwrap().unwrap();
    assert_eq!(ticket.lang, passerelle::core::lang::Lang::En);
    let quarantined = bot.engine.store().quarantined(10).await.unwrap();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert!(
        quarantined[0].error.starts_with("unreadable message"),
        "{quarantined:?}"
    );
    assert!(quarantined[1].error.contains("missing"), "{quarantined:?}");
    // Nothing comes back on the next scan.
    let report = passerelle::connectors::maildir::scan_once(&bot.engine, "maildir", &root)
        .await
        .unwrap();
    assert_eq!(report, Default::default());
}

#[tokio::test]
async fn unaccepted_tickets_get_one_reminder_then_one_escalation_in_business_hours() {
    let bot = Bot::new().await;
    // Handled Thursday 26 November 2026 at 11:00 in Paris.
    let (number, _) = bot.request("request-fr-round-table.eml").await;
    let paris = |d: u32, h: u32| {
        use chrono::TimeZone;
        chrono_tz::Europe::Paris
            .with_ymd_and_hms(2026, 11, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let engine = &bot.engine;
    assert_eq!(
        engine.send_reminders(paris(26, 14)).await.unwrap(),
        0,
        "3 business hours: too early"
    );
    assert_eq!(
        engine.send_reminders(paris(26, 16)).await.unwrap(),
        1,
        "5 business hours: remind the assignee"
    );
    assert_eq!(
        engine.send_reminders(paris(26, 17)).await.unwrap(),
        0,
        "once per level"
    );
    assert_eq!(
        engine.send_reminders(paris(26, 23)).await.unwrap(),
        0,
        "never at night"
    );
    // Thursday 7 h + Friday 9 h + Monday 2 h = 18 business hours: escalate to the admins.
    assert_eq!(engine.send_reminders(paris(30, 11)).await.unwrap(), 1);
    let events = bot.events(number).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("reminder: 5.0 business hours; to camille.roux@example.org")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e
                .starts_with("escalation: 18.0 business hours; to dominique.lefevre@example.org")),
        "{events:?}"
    );
}

static LINES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sends a chat line as `sender` and returns the answer, through the whole engine.
async fn chat(bot: &Bot, sender: &str, text: &str) -> String {
    use passerelle::engine::{Handled, Inbound};
    let inbound = Inbound {
        key: InboundKey {
            source: "chat-test".into(),
            external_id: format!(
                "{}",
                LINES.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ),
        },
        connector: "console".into(),
        reply_to: passerelle::core::inbound::ReplyTo::Console,
        sender: passerelle::core::address::Address::parse(sender).unwrap(),
        text: text.into(),
        lang: None,
        vouched_role: None,
        ticket: None,
    };
    let Handled::Done { outbox_ids, .. } = bot.engine.handle_at(&inbound, now()).await.unwrap()
    else {
        panic!("{text}")
    };
    // Every answer to the asker, in order.
    let mut answers = Vec::new();
    for id in outbox_ids {
        let row = bot.engine.store().outbox_get(id).await.unwrap().unwrap();
        if row.connector == "console" {
            answers.push(row.body);
        }
    }
    answers.join("\n")
}

#[tokio::test]
async fn the_core_team_works_tickets_from_chat_with_full_history() {
    let bot = Bot::new().await;
    let (n, _) = bot.request("request-fr-round-table.eml").await;
    const CAMILLE: &str = "camille.roux@example.org";
    let shown = chat(&bot, CAMILLE, &format!("demande {n}")).await;
    assert!(
        shown.contains(&format!("Demande n° {n}"))
            && shown.contains("attribuée")
            && shown.contains("Responsable : Camille Roux"),
        "{shown}"
    );
    assert!(
        shown.contains("Lieux : Lyon") && shown.contains("Thèmes : Licences"),
        "{shown}"
    );
    assert!(
        chat(&bot, CAMILLE, &format!("j'accepte la demande {n}"))
            .await
            .contains("est acceptée")
    );
    // Accepted: no more reminders, even days later.
    let monday: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
    assert_eq!(bot.engine.send_reminders(monday).await.unwrap(), 0);
    assert!(
        chat(
            &bot,
            CAMILLE,
            &format!("la demande {n} est en attente du demandeur")
        )
        .await
        .contains("rappels sont suspendus")
    );
    // Only a closed request can be reopened.
    let refused = chat(&bot, CAMILLE, &format!("rouvre la demande {n}")).await;
    assert!(refused.contains("ne peut pas passer"), "{refused}");
    assert!(
        chat(&bot, CAMILLE, &format!("assign ticket {n} to Yanis Benali"))
            .await
            .contains("handled by Yanis Benali")
    );
    assert!(
        chat(
            &bot,
            CAMILLE,
            &format!("confie la demande {n} à Alex Martin")
        )
        .await
        .contains("ne fait pas partie de l'équipe")
    );
    assert!(
        chat(&bot, CAMILLE, "demande 999")
            .await
            .contains("pas de demande n° 999")
    );
    assert!(
        chat(&bot, "yanis.benali@example.org", "my tickets")
            .await
            .contains(&format!("#{n}"))
    );
    assert!(
        chat(&bot, "alex.martin@example.org", &format!("demande {n}"))
            .await
            .contains("réservé à l'équipe d'animation")
    );
    // The team's lists, as people ask for them.
    let open = chat(&bot, CAMILLE, "quelles sont les demandes en cours ?").await;
    assert!(
        open.contains(&format!("n° {n}")) && open.contains("confiée, Yanis Benali"),
        "{open}"
    );
    let unassigned = chat(&bot, CAMILLE, "show me the unassigned requests").await;
    assert!(!unassigned.contains(&format!("#{n}")), "{unassigned}");
    // Yanis cannot take it: it goes to someone else in the team, never back to him.
    let store = bot.engine.store();
    let directory = bot.engine.directory(now().date_naive()).await.unwrap();
    let id_of = |email: &str| directory.by_email(email).unwrap().id;
    let passed = chat(
        &bot,
        "yanis.benali@example.org",
        &format!("I can't take ticket {n}"),
    )
    .await;
    assert!(passed.contains("no longer yours"), "{passed}");
    let ticket = store.ticket(n).await.unwrap().unwrap();
    assert!(
        ticket.assignee.is_some() && ticket.assignee != Some(id_of("yanis.benali@example.org")),
        "{ticket:?}"
    );
    assert_eq!(ticket.state.as_str(), "assigned");
    // Closed with the speaker named: the talk counts for her from now on.
    let closed = chat(
        &bot,
        CAMILLE,
        &format!("clore la demande {n}, intervenante : Camille Roux"),
    )
    .await;
    assert!(
        closed.contains("est terminée")
            && closed.contains("Intervention enregistrée pour Camille Roux"),
        "{closed}"
    );
    let talks = store
        .load_directory(now().date_naive())
        .await
        .unwrap()
        .interventions;
    assert!(
        talks
            .iter()
            .any(|t| t.member_id == id_of(CAMILLE) && t.event.contains(&format!("#{n})"))),
        "{talks:?}"
    );
    let stats = chat(&bot, CAMILLE, "statistiques des demandes").await;
    assert!(
        stats.contains("1 demande reçue, 1 acceptée ; délai médian avant acceptation"),
        "{stats}"
    );
    let reopened = chat(&bot, CAMILLE, &format!("rouvre la demande {n}")).await;
    assert!(reopened.contains("est rouverte"), "{reopened}");
    assert_eq!(
        store.ticket(n).await.unwrap().unwrap().state.as_str(),
        "assigned"
    );
    let kinds: Vec<String> = bot
        .engine
        .store()
        .ticket_events(n)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} by {}", e.kind, e.actor))
        .collect();
    for expected in [
        "created by helene.vasseur@assoc-territoires.example",
        "accepted by camille.roux@example.org",
        "waiting by camille.roux@example.org",
        "assigned by camille.roux@example.org",
        "passed by yanis.benali@example.org",
        "intervention by camille.roux@example.org",
        "reopened by camille.roux@example.org",
    ] {
        assert!(kinds.iter().any(|k| k == expected), "{expected}: {kinds:?}");
    }
}

#[tokio::test]
async fn a_hard_bounce_mutes_the_address_and_caps_stop_a_flood() {
    let bot = Bot::new().await;
    const REQUESTER: &str = "helene.vasseur@assoc-territoires.example";
    let (number, outbox_ids) = bot.request("request-fr-round-table.eml").await;
    let ack = bot.envelope(outbox_ids[0]).await;
    // A delivery report for `recipient`, returning the message `original` (if any).
    let report = |id: &str,
                  recipient: &str,
                  status: &str,
                  diagnostic: &str,
                  original: Option<&str>| {
        let returned = original
            .map(|o| format!("--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Passerelle <passerelle@localhost>\r\nTo: {recipient}\r\nMessage-ID: <{o}>\r\nSubject: Re: Demande\r\n"))
            .unwrap_or_default();
        format!(
            "From: MAILER-DAEMON@mx.assoc-territoires.example\r\nTo: passerelle@localhost\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}@mx.example>\r\nAuto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n{returned}--b--\r\n"
        )
    };
    let muted = |address: &'static str| {
        let store = bot.engine.store().clone();
        async move { store.muted_until(address, now()).await.unwrap() }
    };
    let cases = [
        // Forged: names the requester but returns no mail of ours.
        report(
            "dsn-forged",
            REQUESTER,
            "5.1.1",
            "550 5.1.1 user unknown",
            None,
        ),
        // Returns our acknowledgement, but names someone we never wrote to.
        report(
            "dsn-other",
            "victim@example.com",
            "5.1.1",
            "550 5.1.1 user unknown",
            Some(&ack.message_id),
        ),
        // Returns our acknowledgement, but the block is on our side: the address is fine.
        report(
            "dsn-policy",
            REQUESTER,
            "5.7.606",
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1]",
            Some(&ack.message_id),
        ),
    ];
    for raw in &cases {
        match bot.mail(raw).await {
            MailHandled::Done {
                class, outbox_ids, ..
            } => assert_eq!((class, outbox_ids.len()), (Class::Bounce, 0)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        muted(REQUESTER).await,
        None,
        "no report above proves a dead address"
    );
    assert_eq!(muted("victim@example.com").await, None);
    // The real thing: our acknowledgement came back, the mailbox does not exist.
    let real = report(
        "dsn-real",
        REQUESTER,
        "5.1.1",
        "550 5.1.1 user unknown",
        Some(&ack.message_id),
    );
    bot.mail(&real).await;
    assert!(muted(REQUESTER).await.is_some());
    let events = bot.events(number).await;
    let bounces: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("bounce: "))
        .collect();
    assert_eq!(
        bounces,
        vec![
            "bounce: victim@example.com (5.1.1, not muted: the report does not answer mail we sent there)",
            "bounce: helene.vasseur@assoc-territoires.example (5.7.606, not muted: not a dead address)",
            "bounce: helene.vasseur@assoc-territoires.example (5.1.1, dead address, muted)",
        ],
        "reports returning our mail thread onto its ticket: {events:?}"
    );

    // A new request from the muted address still opens a ticket, but nothing is written back.
    let raw = std::fs::read_to_string(
        common::root().join("tests/fixtures/mail-requests/request-fr-round-table.eml"),
    )
    .unwrap()
    .replace("Message-ID: <", "Message-ID: <again-");
    let MailHandled::Done {
        ticket: Some(n),
        outbox_ids,
        ..
    } = bot.mail(&raw).await
    else {
        panic!("no ticket")
    };
    assert!(outbox_ids.is_empty());
    let events = bot.events(n).await;
    assert!(
        events.iter().any(|e| e.starts_with(
            "mail-suppressed: helene.vasseur@assoc-territoires.example is muted until 2027-01-25"
        )),
        "{events:?}"
    );

    // A flood from one sender: only the hourly cap of acknowledgements goes out.
    let mut sent = 0;
    for i in 0..12 {
        let raw = reply(
            &[
                "From: flood@example.com",
                "To: passerelle@localhost",
                &format!("Subject: Demande d'intervenant n°{i} pour une conférence"),
                &format!("Message-ID: <flood-{i}@example.com>"),
            ],
            "Nous cherchons un intervenant pour une table ronde sur les licences ouvertes à Lyon.",
        );
        if let MailHandled::Done { outbox_ids, .. } = bot.mail(&raw).await {
            sent += outbox_ids.len();
        }
    }
    assert_eq!(sent, 10);
}

#[tokio::test]
async fn members_get_command_answers_by_mail_and_strangers_do_not() {
    // The members' domain signs its mail (DKIM); the key is pinned since tests have no DNS.
    let key = common::DkimKey::generate("example.org");
    let bot = Bot::with(|config| {
        config
            .mail
            .authentication
            .dkim_keys
            .insert(key.record_name.clone(), key.record.clone());
    })
    .await;
    let ask = |from: &str, id: &str| {
        reply(
            &[
                &format!("From: {from}"),
                "To: passerelle@localhost",
                "Subject: question",
                &format!("Message-ID: <{id}@example.org>"),
            ],
            "trouve un intervenant sur les licences en Bretagne\n\nMerci,\nAlex",
        )
    };
    let MailHandled::Done {
        command,
        outbox_ids,
        ticket,
        ..
    } = bot
        .mail(&key.sign(&ask("alex.martin@example.org", "cmd-1")))
        .await
    else {
        panic!()
    };
    assert_eq!(
        (command.as_deref(), outbox_ids.len(), ticket),
        (Some("find-speaker"), 1, None)
    );
    let answer = bot.envelope(outbox_ids[0]).await;
    assert_eq!(answer.mail.to, "alex.martin@example.org");
    assert_eq!(answer.mail.subject, "Re: question");
    assert_eq!(
        answer.mail.in_reply_to.as_deref(),
        Some("cmd-1@example.org")
    );
    assert!(
        answer
            .mail
            .body
            .starts_with("Intervenants pour Licences (Bretagne)"),
        "{}",
        answer.mail.body
    );
    // A stranger writing the same gets nothing (it is not a request either).
    let MailHandled::Done {
        command,
        outbox_ids,
        ticket,
        ..
    } = bot.mail(&ask("stranger@example.com", "cmd-2")).await
    else {
        panic!()
    };
    assert_eq!((command, outbox_ids.len(), ticket), (None, 0, None));
}

#[tokio::test]
async fn with_reopening_off_a_message_on_a_closed_ticket_opens_a_linked_follow_up() {
    let bot = Bot::with(|config| config.mail.reopen_closed = false).await;
    let (first, acks) = bot.request("request-fr-round-table.eml").await;
    let in_reply_to = format!("In-Reply-To: <{}>", bot.envelope(acks[0]).await.message_id);
    let close = passerelle::core::actions::Change::SetTicketState {
        ticket: first,
        state: TicketState::Done,
    };
    let key = InboundKey {
        source: "test-admin".into(),
        external_id: "close".into(),
    };
    bot.engine
        .store()
        .commit(&key, &[close], &[], now())
        .await
        .unwrap();
    let late = reply(
        &[
            "From: helene.vasseur@assoc-territoires.example",
            "To: passerelle@localhost",
            &format!("Subject: Re: [ODF #{first}] Demande"),
            "Message-ID: <late@assoc.example>",
            &in_reply_to,
        ],
        "Nous organisons une nouvelle édition, le même format.",
    );
    let MailHandled::Done {
        ticket: Some(second),
        outbox_ids,
        ..
    } = bot.mail(&late).await
    else {
        panic!()
    };
    assert_ne!(second, first);
    assert_eq!(outbox_ids.len(), 1, "the follow-up is acknowledged");
    assert_eq!(
        bot.engine
            .store()
            .ticket(first)
            .await
            .unwrap()
            .unwrap()
            .state,
        TicketState::Done
    );
    let follow_up = bot.engine.store().ticket(second).await.unwrap().unwrap();
    assert_eq!(
        follow_up.requester_email,
        "helene.vasseur@assoc-territoires.example"
    );
    assert!(
        bot.events(first)
            .await
            .iter()
            .any(|e| e == &format!("linked: follow-up opened as #{second}"))
    );
    assert!(
        bot.events(second)
            .await
            .iter()
            .any(|e| e == &format!("created: follow-up of closed ticket #{first}"))
    );
}

#[tokio::test]
async fn a_batch_threads_onto_tickets_it_opened_and_skips_its_own_repeats() {
    let bot = Bot::new().await;
    let request = std::fs::read(
        common::root().join("tests/fixtures/mail-requests/request-fr-round-table.eml"),
    )
    .unwrap();
    let answer = reply(
        &[
            "From: helene.vasseur@assoc-territoires.example",
            "To: passerelle@localhost",
            "Subject: précision",
            "Message-ID: <batch-reply@assoc.example>",
            "In-Reply-To: <req-fr-1@assoc-territoires.example>",
        ],
        "La table ronde aura lieu l'après-midi.",
    );
    let items = [
        passerelle::engine::MailItem {
            raw: &request,
            extra: vec![],
        },
        passerelle::engine::MailItem {
            raw: answer.as_bytes(),
            extra: vec![],
        },
        passerelle::engine::MailItem {
            raw: &request,
            extra: vec![],
        },
    ];
    let handled = bot.engine.handle_mails(&items, now(), false).await.unwrap();
    let MailHandled::Done {
        ticket: Some(n),
        outbox_ids,
        ..
    } = &handled[0]
    else {
        panic!("{handled:?}")
    };
    assert!(outbox_ids.is_empty(), "a backfill writes to nobody");
    assert!(
        matches!(&handled[1], MailHandled::Done { ticket: Some(m), .. } if m == n),
        "{handled:?}"
    );
    assert_eq!(handled[2], MailHandled::Duplicate);
    assert!(
        bot.events(*n)
            .await
            .iter()
            .any(|e| e.contains("La table ronde aura lieu"))
    );
    // Backfilled suggestions do not count against the speakers' rotation.
    let directory = bot.engine.directory(bot.engine.today(now())).await.unwrap();
    assert!(directory.histories.iter().all(|h| h.recent_proposals == 0));
}

#[tokio::test]
async fn the_team_writes_to_the_requester_from_chat_and_the_answer_threads_back() {
    let bot = Bot::new().await;
    let (n, _) = bot.request("request-fr-round-table.eml").await;
    let confirmation = chat(
        &bot,
        "camille.roux@example.org",
        &format!("réponds à la demande {n} : Bonjour, Camille Roux pourra intervenir le 12 mars."),
    )
    .await;
    assert!(
        confirmation.contains("Message envoyé à helene.vasseur@assoc-territoires.example"),
        "{confirmation}"
    );
    // The mail itself is the next outbox row.
    let mut row = None;
    for id in 1..10 {
        if let Some(found) = bot
            .engine
            .store()
            .outbox_get(id)
            .await
            .unwrap()
            .filter(|r| r.connector == "smtp" && r.body.contains("pourra intervenir"))
        {
            row = Some(found);
        }
    }
    let envelope: MailEnvelope =
        serde_json::from_str(&row.expect("the mail to the requester").body).unwrap();
    assert_eq!(envelope.mail.to, "helene.vasseur@assoc-territoires.example");
    assert!(
        envelope
            .mail
            .subject
            .starts_with(&format!("Re: [ODF #{n}] "))
    );
    assert!(
        envelope
            .mail
            .body
            .contains("— Camille Roux, pour l'équipe d'animation du réseau"),
        "{}",
        envelope.mail.body
    );
    // It answers her request (and the acknowledgement the bot sent): one conversation in her
    // mail client, not a new one.
    let request_id = "req-fr-1@assoc-territoires.example";
    assert_eq!(envelope.mail.in_reply_to.as_deref(), Some(request_id));
    assert_eq!(
        envelope.mail.references.first().map(String::as_str),
        Some(request_id)
    );
    assert_eq!(
        envelope.mail.references.len(),
        2,
        "{:?}",
        envelope.mail.references
    );
    let answer = reply(
        &[
            "From: helene.vasseur@assoc-territoires.example",
            "To: passerelle@localhost",
            "Subject: Re: merci",
            "Message-ID: <thanks@assoc.example>",
            &format!("In-Reply-To: <{}>", envelope.message_id),
        ],
        "Parfait, merci !",
    );
    assert!(matches!(bot.mail(&answer).await, MailHandled::Done { ticket: Some(t), .. } if t == n));
    let events = bot.events(n).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("reply: Bonjour, Camille Roux pourra intervenir")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "message: Parfait, merci !"),
        "{events:?}"
    );
}

#[tokio::test]
async fn attachments_are_kept_as_metadata_on_the_ticket() {
    let bot = Bot::new().await;
    let raw = "From: Orga <orga@asso.example>\r\nTo: passerelle@localhost\r\nSubject: Demande d'intervenant pour notre conférence\r\nMessage-ID: <att-1@asso.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNous cherchons un intervenant pour une table ronde sur les licences ouvertes, programme joint.\r\n--m\r\nContent-Type: application/pdf; name=\"programme.pdf\"\r\nContent-Disposition: attachment; filename=\"programme.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKNSAwIG9iago=\r\n--m--\r\n";
    let MailHandled::Done {
        ticket: Some(n), ..
    } = bot.mail(raw).await
    else {
        panic!()
    };
    let events = bot.events(n).await;
    assert!(
        events
            .iter()
            .any(|e| e == "attachments: programme.pdf (application/pdf, 23 bytes)"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_mail_without_message_id_read_by_two_intake_nodes_is_one_item() {
    let bot = Bot::new().await;
    let request = std::fs::read_to_string(
        common::root().join("tests/fixtures/mail-requests/request-fr-round-table.eml"),
    )
    .unwrap();
    let bare: String = request
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    // The same mail as each node's delivery left it: different trace headers on top.
    let node_a = format!(
        "Received: from mx1 by node-a; Thu, 26 Nov 2026 10:00:01 +0100\r\nDelivered-To: passerelle@node-a\r\n{bare}"
    );
    let node_b = format!(
        "Return-Path: <helene.vasseur@assoc-territoires.example>\r\nReceived: from mx1 by node-b; Thu, 26 Nov 2026 10:00:03 +0100\r\n{bare}"
    );
    let MailHandled::Done {
        ticket: Some(_), ..
    } = bot.mail(&node_a).await
    else {
        panic!("the first copy opens a ticket")
    };
    assert_eq!(bot.mail(&node_b).await, MailHandled::Duplicate);
    // Another mail without Message-ID is another item.
    let other = bare.replace("Bonjour", "Rebonjour");
    assert!(matches!(bot.mail(&other).await, MailHandled::Done { .. }));
}

#[tokio::test]
async fn a_reply_from_chat_to_a_muted_address_is_held_and_the_team_member_is_told() {
    let bot = Bot::new().await;
    let (number, _) = bot.request("request-fr-round-table.eml").await;
    let mute = passerelle::core::actions::Change::MuteAddress {
        address: "helene.vasseur@assoc-territoires.example".into(),
        until: now() + chrono::Duration::days(60),
        reason: "550 5.1.1 user unknown".into(),
    };
    let key = InboundKey {
        source: "test-admin".into(),
        external_id: "mute".into(),
    };
    bot.engine
        .store()
        .commit(&key, &[mute], &[], now())
        .await
        .unwrap();
    let before = bot
        .engine
        .store()
        .outbox_list(None, 100)
        .await
        .unwrap()
        .len();
    let answer = chat(
        &bot,
        "dominique.lefevre@example.org",
        &format!("réponds à la demande {number} : Bonjour, pouvez-vous confirmer la date ?"),
    )
    .await;
    assert_eq!(
        answer,
        "Message non envoyé à helene.vasseur@assoc-territoires.example : cette adresse est mise en sourdine jusqu'au 25 janvier 2027, car sa messagerie a rejeté définitivement un envoi. Rien n'est parti ; l'historique de la demande le note."
    );
    let rows = bot.engine.store().outbox_list(None, 100).await.unwrap();
    assert_eq!(rows.len(), before + 1, "only the chat answer");
    let to_requester = rows
        .iter()
        .filter(|r| r.connector == "smtp" && r.target == "helene.vasseur@assoc-territoires.example")
        .count();
    assert_eq!(
        to_requester, 1,
        "the acknowledgement of the request, nothing more"
    );
    assert!(bot.events(number).await.iter().any(|e| {
        e.starts_with("mail-suppressed: helene.vasseur@assoc-territoires.example is muted")
    }),);
}

#[tokio::test]
async fn a_mail_that_panics_the_parser_is_quarantined_and_the_next_one_is_handled() {
    let bot = Bot::new().await;
    let root = bot._dir.path().join("inbox");
    passerelle::connectors::maildir::prepare(&root).unwrap();
    // Found by fuzzing: mail-parser 0.11 panics on it ("Invalid part ID").
    std::fs::copy(
        common::root().join("tests/fixtures/poison/mail-parser-invalid-part-id.eml"),
        root.join("new/1700000000.1.host"),
    )
    .unwrap();
    std::fs::copy(
        common::root().join("tests/fixtures/mail-requests/request-en-keynote.eml"),
        root.join("new/1700000001.2.host"),
    )
    .unwrap();
    let report = passerelle::connectors::maildir::scan_once(&bot.engine, "maildir", &root)
        .await
        .unwrap();
    assert_eq!((report.handled, report.quarantined), (2, 1), "{report:?}");
    assert!(root.join("quarantine/1700000000.1.host:2,S").exists());
    assert!(root.join("cur/1700000001.2.host:2,S").exists());
    assert!(bot.engine.store().ticket(1).await.unwrap().is_some());
    let quarantined = bot.engine.store().quarantined(5).await.unwrap();
    assert!(
        quarantined[0].error.contains("Invalid part ID"),
        "{quarantined:?}"
    );
}

#[tokio::test]
async fn the_lists_posts_are_relayed_one_thread_per_email_thread_without_quotes() {
    const LIST: &str = "membres.opendatafrance.example";
    let bot = Bot::with(|config| {
        config.mail.watched_list = Some(LIST.into());
        config.mail.list_relay_connector = Some("matrix".into());
        config.mail.list_relay_target = Some("matrix:!relay:example.org".into());
    })
    .await;
    let post = |id: &str, list: &str, headers: &str, body: &str| {
        format!(
            "From: Hélène Vasseur <helene@ville.example>\r\nTo: membres@opendatafrance.example\r\nSubject: Re: Atelier SCDL à Nantes\r\nMessage-ID: <{id}@ville.example>\r\nList-Id: Membres <{list}>\r\nPrecedence: list\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
    };
    let relayed = |handled: MailHandled| async {
        let MailHandled::Done { outbox_ids, .. } = handled else {
            panic!("{handled:?}")
        };
        let mut rows = Vec::new();
        for id in outbox_ids {
            let row = bot.engine.store().outbox_get(id).await.unwrap().unwrap();
            if row.connector == "matrix" {
                rows.push(row);
            }
        }
        rows
    };
    let first = relayed(
        bot.mail(&post(
            "root",
            LIST,
            "",
            "Bonjour à toutes et tous,\r\nles supports de l'atelier sont en ligne.\r\n-- \r\nHélène",
        ))
        .await,
    )
    .await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].target, "matrix:!relay:example.org");
    assert_eq!(
        first[0].thread_key.as_deref(),
        Some("list:root@ville.example")
    );
    assert!(
        first[0]
            .body
            .contains("Hélène Vasseur sur la liste : Atelier SCDL à Nantes")
            && first[0]
                .body
                .contains("les supports de l'atelier sont en ligne.")
            && !first[0].body.contains("-- "),
        "{}",
        first[0].body
    );
    // A reply of the same email thread: its Matrix thread, without the quoted mail.
    let reply = relayed(
        bot.mail(&post(
            "reply",
            LIST,
            "In-Reply-To: <root@ville.example>\r\nReferences: <root@ville.example>\r\n",
            "Merci, très utile !\r\n\r\nLe 12/03/2027, Hélène Vasseur a écrit :\r\n> Bonjour à toutes et tous,\r\n> les supports de l'atelier sont en ligne.",
        ))
        .await,
    )
    .await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    assert_eq!(reply[0].thread_key, first[0].thread_key);
    assert!(
        reply[0].body.starts_with("↪ Hélène Vasseur :")
            && reply[0].body.contains("Merci, très utile !")
            && !reply[0].body.contains("> Bonjour"),
        "{}",
        reply[0].body
    );
    // Another list's mail, and an auto-reply sent to the list, are not relayed.
    assert!(
        relayed(
            bot.mail(&post("other", "annonces.example.com", "", "Promo !"))
                .await
        )
        .await
        .is_empty()
    );
    assert!(
        relayed(
            bot.mail(&post(
                "away",
                LIST,
                "Auto-Submitted: auto-replied\r\n",
                "Je suis absente."
            ))
            .await
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_list_post_tagged_news_becomes_one_draft_for_the_team() {
    const LIST: &str = "membres.opendatafrance.example";
    let bot = Bot::with(|config| {
        config.mail.watched_list = Some(LIST.into());
        config.social.review_connector = Some("matrix".into());
        config.social.review_target = Some("matrix:!news:example.org".into());
    })
    .await;
    let post = |id: &str, subject: &str, headers: &str| {
        format!(
            "From: Hélène Vasseur <helene@ville.example>\r\nTo: membres@opendatafrance.example\r\nSubject: {subject}\r\nMessage-ID: <{id}@ville.example>\r\nList-Id: Membres <{LIST}>\r\nPrecedence: list\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nle portail est ouvert : https://data.ville.example/portail.\r\n-- \r\nHélène\r\n"
        )
    };
    let raw = post(
        "news",
        "[odf-membres] [Actu] Nantes ouvre son portail de données",
        "",
    );
    bot.mail(&raw).await;
    let drafts = bot.engine.store().recent_drafts(10).await.unwrap();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    assert_eq!(
        drafts[0].text,
        "Nantes ouvre son portail de données https://data.ville.example/portail"
    );
    assert_eq!(
        (drafts[0].source.as_str(), drafts[0].author.as_str()),
        ("mail", "helene@ville.example")
    );
    // Its preview waits in the review room's thread for the draft.
    let rows = bot.engine.store().outbox_list(None, 20).await.unwrap();
    let preview = rows
        .iter()
        .find(|r| r.thread_key.as_deref() == Some("news:1"))
        .expect("a preview in the review room");
    assert_eq!(preview.target, "matrix:!news:example.org");
    assert!(
        preview.body.contains("Nantes ouvre son portail"),
        "{}",
        preview.body
    );
    // The same mail again, a reply in its thread and an untagged post make no other draft.
    bot.mail(&raw).await;
    bot.mail(&post(
        "news-reply",
        "Re: [odf-membres] [Actu] Nantes ouvre son portail de données",
        "In-Reply-To: <news@ville.example>\r\n",
    ))
    .await;
    bot.mail(&post("plain", "[odf-membres] Atelier SCDL", ""))
        .await;
    assert_eq!(bot.engine.store().recent_drafts(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn real_list_mail_from_the_corpus_is_relayed_and_a_real_bounce_is_not() {
    // Mail nobody here wrote: a list post with an empty In-Reply-To and a List-Id without
    // angle brackets, and a delivery report whose returned mail names a list.
    let relayed = |file: &'static str, list: &'static str| async move {
        let bot = Bot::with(|config| {
            config.mail.watched_list = Some(list.into());
            config.mail.list_relay_connector = Some("matrix".into());
            config.mail.list_relay_target = Some("matrix:!relay:example.org".into());
        })
        .await;
        let raw =
            std::fs::read(common::root().join("tests/fixtures/mail-corpus").join(file)).unwrap();
        let MailHandled::Done { outbox_ids, .. } =
            bot.engine.handle_mail(&raw, now()).await.unwrap()
        else {
            panic!("{file}")
        };
        let mut rows = Vec::new();
        for id in outbox_ids {
            let row = bot.engine.store().outbox_get(id).await.unwrap().unwrap();
            if row.connector == "matrix" {
                rows.push(row);
            }
        }
        rows
    };
    let post = relayed(
        "ruby-mail-gem/error_emails/empty_in_reply_to.eml",
        "abuser@rg.com",
    )
    .await;
    assert_eq!(post.len(), 1, "{post:?}");
    assert!(
        post[0]
            .body
            .contains("Andrey Kuznetsov sur la liste : illegal copy"),
        "{}",
        post[0].body
    );
    // An empty In-Reply-To starts a thread of its own, keyed by the post's Message-ID.
    assert_eq!(
        post[0].thread_key.as_deref(),
        Some("list:F194F88AF3E341A6B2B135CC17912811@articondell")
    );
    assert!(
        relayed(
            "sisimai-bounces-autoreplies/bounce-rfc3464/rfc3464-09.eml",
            "neko.example.org",
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_members_forward_makes_the_original_sender_the_requester() {
    // The members' domain signs its mail (DKIM); the key is pinned since tests have no DNS.
    let key = common::DkimKey::generate("example.org");
    let bot = Bot::with(|config| {
        config
            .mail
            .authentication
            .dkim_keys
            .insert(key.record_name.clone(), key.record.clone());
    })
    .await;
    let raw = |name: &str| {
        std::fs::read_to_string(
            common::root()
                .join("tests/fixtures/mail-requests")
                .join(name),
        )
        .unwrap()
    };
    let MailHandled::Done {
        class,
        ticket: Some(number),
        outbox_ids,
        ..
    } = bot.mail(&key.sign(&raw("forward-gmail-fr.eml"))).await
    else {
        panic!("the forward opened no ticket")
    };
    assert_eq!((class, outbox_ids.len()), (Class::Request, 2));
    let ticket = bot.engine.store().ticket(number).await.unwrap().unwrap();
    assert_eq!(
        (
            ticket.requester_email.as_str(),
            ticket.requester_name.as_deref()
        ),
        (
            "s.lemaire@quimper-bretagne-occidentale.example",
            Some("Sophie Lemaire")
        )
    );
    assert_eq!(ticket.subject, "Demande d'intervention - datathon mobilité");
    assert_eq!(ticket.format.as_deref(), Some("hackathon"));
    assert_eq!(
        ticket.dates,
        vec!["2027-02-05".parse().unwrap(), "2027-02-06".parse().unwrap()]
    );
    assert_eq!(
        ticket.organisation.as_deref(),
        Some("Quimper Bretagne Occidentale - Communauté d'agglomération")
    );
    let events = bot.events(number).await;
    assert!(
        events
            .iter()
            .any(|e| e == "forwarded: Alex Martin <alex.martin@example.org>"),
        "{events:?}"
    );
    // The requester is acknowledged in a conversation of their own; the member is told the
    // number on the thread of their forward.
    let ack = bot.envelope(outbox_ids[0]).await;
    assert_eq!(
        ack.mail.to,
        "s.lemaire@quimper-bretagne-occidentale.example"
    );
    assert_eq!(ack.mail.in_reply_to, None);
    assert!(
        ack.mail.body.starts_with("Bonjour Sophie Lemaire,"),
        "{}",
        ack.mail.body
    );
    let told = bot.envelope(outbox_ids[1]).await;
    assert_eq!(told.mail.to, "alex.martin@example.org");
    assert_eq!(
        told.mail.in_reply_to.as_deref(),
        Some("fwd-gmail-1@example.org")
    );
    assert!(
        told.mail
            .body
            .contains(&format!("enregistrée sous le numéro {number}")),
        "{}",
        told.mail.body
    );

    // An English request forwarded from Outlook is acknowledged in English.
    let MailHandled::Done {
        ticket: Some(number),
        outbox_ids,
        ..
    } = bot.mail(&key.sign(&raw("forward-outlook-en.eml"))).await
    else {
        panic!("the Outlook forward opened no ticket")
    };
    let ticket = bot.engine.store().ticket(number).await.unwrap().unwrap();
    assert_eq!(ticket.requester_email, "tom.keller@opencities.example");
    assert_eq!(ticket.format.as_deref(), Some("round-table"));
    let ack = bot.envelope(outbox_ids[0]).await;
    assert_eq!(ack.mail.to, "tom.keller@opencities.example");
    assert!(
        ack.mail.body.starts_with("Hello Tom Keller,"),
        "{}",
        ack.mail.body
    );

    // The same forward unsigned proves nothing: its sender stays the requester, and nobody
    // else is written to.
    let unsigned = raw("forward-gmail-fr.eml").replace("fwd-gmail-1@", "fwd-gmail-2@");
    let MailHandled::Done {
        ticket: Some(number),
        outbox_ids,
        ..
    } = bot.mail(&unsigned).await
    else {
        panic!("the unsigned forward opened no ticket")
    };
    let ticket = bot.engine.store().ticket(number).await.unwrap().unwrap();
    assert_eq!(ticket.requester_email, "alex.martin@example.org");
    assert_eq!(outbox_ids.len(), 1);
    assert_eq!(
        bot.envelope(outbox_ids[0]).await.mail.to,
        "alex.martin@example.org"
    );
}

#[tokio::test]
async fn a_plain_text_bounce_mutes_and_backfill_mutes_only_within_the_mute_period() {
    let bot = Bot::new().await;
    const REQUESTER: &str = "helene.vasseur@assoc-territoires.example";
    let (_, outbox_ids) = bot.request("request-fr-round-table.eml").await;
    let ack = bot.envelope(outbox_ids[0]).await;
    // A carrier's notice without report, from post_master@, answering our acknowledgement.
    let notice = |id: &str, date: &str| {
        format!(
            "From: post_master@mx.assoc-territoires.example\r\nTo: passerelle@localhost\r\nMessage-ID: <{id}@mx.example>\r\nIn-Reply-To: <{}>\r\nSubject: Re:Test message\r\nDate: {date}\r\nContent-Type: text/plain\r\n\r\nError: Invalid user address\r\n\r\nError message below:\r\n550 - Requested action not taken: no such user here\r\n\r\nMessage details:\r\n  RCPT TO: {REQUESTER}\r\n",
            ack.message_id
        )
    };
    let muted = || {
        let store = bot.engine.store().clone();
        async move { store.muted_until(REQUESTER, now()).await.unwrap() }
    };
    let backfill = |raw: String| {
        let engine = bot.engine.clone();
        async move {
            engine
                .handle_mail_with(
                    raw.as_bytes(),
                    now(),
                    passerelle::engine::MailOptions {
                        extra: Vec::new(),
                        send_replies: false,
                    },
                )
                .await
                .unwrap()
        }
    };
    // Two years old in an archive: it says nothing of the address today.
    let MailHandled::Done { class, .. } =
        backfill(notice("old", "Mon, 26 Nov 2024 10:00:00 +0000")).await
    else {
        panic!()
    };
    assert_eq!(class, Class::Bounce);
    assert_eq!(muted().await, None);
    // Ten days old: muted for the rest of the 60 days after it.
    backfill(notice("recent", "Mon, 16 Nov 2026 10:00:00 +0000")).await;
    assert_eq!(muted().await, Some("2027-01-15T10:00:00Z".parse().unwrap()));
    // Live, it mutes for the whole period from now.
    bot.mail(&notice("live", "Thu, 26 Nov 2026 09:59:00 +0000"))
        .await;
    assert_eq!(muted().await, Some("2027-01-25T10:00:00Z".parse().unwrap()));
}
