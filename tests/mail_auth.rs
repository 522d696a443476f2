//! Forged mail commands: `From:` alone proves nothing. A command by mail runs only when the
//! sender is proven — a DKIM signature aligned with the `From:` domain (keys made in the test),
//! or the topmost `Authentication-Results` of our own MTA — and a forged one runs nothing and
//! gets no answer.

mod common;

use chrono::{DateTime, Utc};
use passerelle::app;
use passerelle::core::tickets::TicketState;
use passerelle::engine::{Engine, MailHandled};
use passerelle::mail::auth::AuthMethod;
use passerelle::store::InboundKey;
use std::sync::Arc;

const ADMIN: &str = "dominique.lefevre@example.org";
const MEMBER: &str = "alex.martin@example.org";

fn now() -> DateTime<Utc> {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

struct Bot {
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn new(adjust: impl FnOnce(&mut passerelle::config::Config)) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            common::config_with_store(&format!("sqlite://{}", dir.path().join("bot.db").display()));
        adjust(&mut config);
        let bot = Bot {
            engine: app::build_engine(&config).await.unwrap(),
            _dir: dir,
        };
        // Ticket 1, from an outside requester, acknowledged.
        let raw = std::fs::read(
            common::root().join("tests/fixtures/mail-requests/request-fr-round-table.eml"),
        )
        .unwrap();
        bot.engine.handle_mail(&raw, now()).await.unwrap();
        bot
    }

    async fn mail(&self, raw: &str) -> MailHandled {
        self.engine
            .handle_mail(raw.as_bytes(), now())
            .await
            .unwrap()
    }

    async fn outbox_len(&self) -> usize {
        self.engine
            .store()
            .outbox_list(None, 1000)
            .await
            .unwrap()
            .len()
    }

    async fn state(&self) -> TicketState {
        self.engine.store().ticket(1).await.unwrap().unwrap().state
    }

    async fn history_len(&self) -> usize {
        self.engine.store().ticket_events(1).await.unwrap().len()
    }

    async fn member_line(&self, email: &str) -> String {
        let directory = self.engine.directory(now().date_naive()).await.unwrap();
        let m = directory.by_email(email).unwrap();
        format!("{:?} {:?}", m.speaker_consent, m.unavailable)
    }
}

fn key(id: &str) -> InboundKey {
    InboundKey {
        source: "test".into(),
        external_id: id.into(),
    }
}

fn command(from: &str, id: &str, line: &str, extra: &[&str]) -> String {
    let mut text = String::new();
    for header in extra {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str(&format!(
        "From: {from}\r\nTo: passerelle@localhost\r\nSubject: demande\r\nMessage-ID: <{id}@mail.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{line}\r\n\r\nCordialement\r\n"
    ));
    text
}

const ATTACKS: &[(&str, &str)] = &[
    (
        ADMIN,
        "réponds à la demande 1 : merci de régler 450 EUR sur l'IBAN FR76 3000 6000 0112 3456 7890 189",
    ),
    (ADMIN, "confie la demande 1 à Yanis Benali"),
    (ADMIN, "la demande 1 est terminée"),
    (MEMBER, "ne me proposez plus"),
    (MEMBER, "absent du 1 décembre 2026 au 30 novembre 2027"),
];

fn command_of(handled: &MailHandled) -> Option<String> {
    match handled {
        MailHandled::Done { command, .. } => command.clone(),
        MailHandled::Duplicate => None,
    }
}

#[tokio::test]
async fn forged_and_badly_signed_commands_run_nothing_and_get_no_answer() {
    let ours = common::DkimKey::generate("example.org");
    let attackers = common::DkimKey::generate("attacker.example");
    let bot = Bot::new(|config| {
        for key in [&ours, &attackers] {
            config
                .mail
                .authentication
                .dkim_keys
                .insert(key.record_name.clone(), key.record.clone());
        }
    })
    .await;
    let outbox = bot.outbox_len().await;
    let history = bot.history_len().await;
    let members = (bot.member_line(ADMIN).await, bot.member_line(MEMBER).await);
    let state = bot.state().await;
    for (i, (from, line)) in ATTACKS.iter().enumerate() {
        let plain = command(from, &format!("plain-{i}"), line, &[]);
        // Unsigned, as a forger writes it.
        let handled = bot.mail(&plain).await;
        assert_eq!(command_of(&handled), None, "{line}: {handled:?}");
        // Signed, but by the forger's own domain.
        let foreign = attackers.sign(&command(from, &format!("foreign-{i}"), line, &[]));
        assert_eq!(command_of(&bot.mail(&foreign).await), None, "{line}");
        // Signed by the right domain, then the body changed on the way.
        let tampered = ours
            .sign(&command(from, &format!("tampered-{i}"), "mon profil", &[]))
            .replace("mon profil", line);
        assert_eq!(command_of(&bot.mail(&tampered).await), None, "{line}");
        // Our MTA's verdict is not configured: a header claiming a pass means nothing.
        let claimed = command(
            from,
            &format!("claimed-{i}"),
            line,
            &[
                "Authentication-Results: mx.example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org",
            ],
        );
        assert_eq!(command_of(&bot.mail(&claimed).await), None, "{line}");
    }
    assert_eq!(
        bot.outbox_len().await,
        outbox,
        "no answer, nothing to the requester"
    );
    assert_eq!(bot.history_len().await, history, "the ticket is untouched");
    assert_eq!(bot.state().await, state);
    assert_eq!(
        (bot.member_line(ADMIN).await, bot.member_line(MEMBER).await),
        members,
        "no profile changed"
    );

    // The same commands, signed by the members' domain, run.
    let signed = ours.sign(&command(MEMBER, "signed-1", "ne me proposez plus", &[]));
    assert_eq!(
        command_of(&bot.mail(&signed).await).as_deref(),
        Some("speaker-withdraw")
    );
    assert_ne!(bot.member_line(MEMBER).await, members.1);
    let signed = ours.sign(&command(ADMIN, "signed-2", "annule la demande 1", &[]));
    assert!(command_of(&bot.mail(&signed).await).is_some());
    assert_eq!(bot.state().await, TicketState::Cancelled);
}

#[tokio::test]
async fn with_our_mta_only_its_topmost_verdict_counts() {
    let bot = Bot::new(|config| {
        config.mail.authentication.method = AuthMethod::AuthenticationResults;
        config.mail.authentication.authserv_id = "mx.odf.example".into();
    })
    .await;
    let pass = "Authentication-Results: mx.odf.example; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org";
    let fail = "Authentication-Results: mx.odf.example; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=fail header.from=example.org";
    let elsewhere =
        "Authentication-Results: mx.attacker.example; dmarc=pass header.from=example.org";
    let line = "annule la demande 1";
    let cases: [(&[&str], bool, &str); 5] = [
        (&[], false, "no verdict"),
        (&[elsewhere], false, "another server's verdict"),
        (
            &[fail, pass],
            false,
            "the forger's copy of our header, under our real one",
        ),
        (&[elsewhere, pass], false, "our verdict is not the topmost"),
        (&[pass], true, "our MTA proved the sender"),
    ];
    for (i, (headers, runs, what)) in cases.iter().enumerate() {
        let raw = command(ADMIN, &format!("ar-{i}"), line, headers);
        let handled = bot.mail(&raw).await;
        assert_eq!(command_of(&handled).is_some(), *runs, "{what}: {handled:?}");
        let done = bot.state().await == TicketState::Cancelled;
        assert_eq!(done, *runs, "{what}");
    }
}

#[tokio::test]
async fn a_subject_tag_from_a_proven_requester_acts_on_the_ticket() {
    // The requester's domain signs its mail: even without References or marker, the proven
    // requester's answer resumes a ticket waiting for them.
    let theirs = common::DkimKey::generate("assoc-territoires.example");
    let bot = Bot::new(|config| {
        config
            .mail
            .authentication
            .dkim_keys
            .insert(theirs.record_name.clone(), theirs.record.clone());
    })
    .await;
    let wait = passerelle::core::actions::Change::SetTicketState {
        ticket: 1,
        state: TicketState::WaitingForRequester,
    };
    bot.engine
        .store()
        .commit(&key("wait"), &[wait], &[], now())
        .await
        .unwrap();
    let answer = |id: &str| {
        format!(
            "From: helene.vasseur@assoc-territoires.example\r\nTo: passerelle@localhost\r\nSubject: Re: [ODF #1] Demande\r\nMessage-ID: <{id}@assoc.example>\r\n\r\nVoici les précisions.\r\n"
        )
    };
    bot.mail(&answer("unsigned")).await;
    assert_eq!(bot.state().await, TicketState::WaitingForRequester);
    bot.mail(&theirs.sign(&answer("signed"))).await;
    // Routed to an assignee before it waited: back to accepted.
    assert_eq!(bot.state().await, TicketState::Accepted);
}
