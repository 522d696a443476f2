//! One store test suite, run against SQLite and PostgreSQL.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{BACKENDS, Backend, test_store};
use passerelle::core::actions::Change;
use passerelle::core::directory::{Intervention, JobRole, Member, Organisation, Period, Role};
use passerelle::core::lang::Lang;
use passerelle::store::{Committed, InboundKey, NewMessage, OutboxMessage};

fn now() -> DateTime<Utc> {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn member(email: &str, topics: &[&str]) -> Member {
    Member {
        id: 0,
        email: email.into(),
        name: format!("Person {email}"),
        organisation: Some("213500010".into()),
        job_role: JobRole::Staff,
        department: Some("35".into()),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        languages: vec!["fr".into(), "en".into()],
        bio: "Invented.".into(),
        matrix_id: Some(format!("@{}:example.org", email.split('@').next().unwrap())),
        speaker_consent: true,
        access: Role::Member,
        preferred_lang: None,
        unavailable: vec![Period {
            start: day("2027-01-10"),
            end: day("2027-01-20"),
        }],
    }
}

fn key(id: &str) -> InboundKey {
    InboundKey {
        source: "test".into(),
        external_id: id.into(),
    }
}

fn message(key: &str, connector: &str) -> NewMessage {
    NewMessage {
        idempotency_key: key.into(),
        connector: connector.into(),
        target: "stdout".into(),
        body: format!("body {key}"),
        ticket: (connector == "matrix").then_some(7),
        thread_key: (connector == "matrix").then(|| "list:<root@example.org>".to_string()),
        not_before: None,
    }
}

/// Claims up to ten rows of `connector` for worker "w1", `after` seconds past `now()`, with a
/// 60-second lease.
async fn claim(t: &common::TestStore, connector: &str, after: i64) -> Vec<OutboxMessage> {
    claim_as(t, "w1", connector, after).await
}

async fn claim_as(
    t: &common::TestStore,
    worker: &str,
    connector: &str,
    after: i64,
) -> Vec<OutboxMessage> {
    t.store
        .claim_outbox(
            connector,
            worker,
            now() + Duration::seconds(after),
            Duration::seconds(60),
            10,
        )
        .await
        .unwrap()
}

async fn status(t: &common::TestStore, id: i64) -> String {
    t.store.outbox_get(id).await.unwrap().unwrap().status
}

async fn seeded(backend: Backend) -> (common::TestStore, i64) {
    let t = test_store(backend).await;
    let org = Organisation {
        id: "213500010".into(),
        name: "ACIGNE".into(),
        kind: "COM".into(),
        department: Some("35".into()),
    };
    t.store.upsert_organisations(&[org]).await.unwrap();
    t.store
        .import_members(&[member("ana@example.org", &["licensing", "legal"])], now())
        .await
        .unwrap();
    let data = t.store.load_directory(day("2026-01-01")).await.unwrap();
    let id = data.members[0].id;
    (t, id)
}

#[tokio::test]
async fn commit_applies_changes_and_queues_messages_once() {
    for backend in BACKENDS {
        let (t, id) = seeded(backend).await;
        let version = t.store.directory_version().await.unwrap();
        let changes = vec![
            Change::AddTopics {
                member_id: id,
                topics: vec!["standards".into()],
            },
            Change::SetLanguage {
                member_id: id,
                lang: Lang::En,
            },
            Change::RecordProposals {
                member_ids: vec![id],
                on: day("2026-11-26"),
            },
        ];
        let outcome = t
            .store
            .commit(
                &key("1"),
                &changes,
                &[message("k1", "console"), message("k2", "console")],
                now(),
            )
            .await
            .unwrap();
        let Committed::Applied { outbox_ids } = outcome else {
            panic!("{backend:?}: not applied")
        };
        assert_eq!(outbox_ids.len(), 2, "{backend:?}");
        assert!(t.store.is_seen(&key("1")).await.unwrap());
        assert!(
            t.store.directory_version().await.unwrap() > version,
            "{backend:?}: version not bumped"
        );

        // A second delivery of the same item does nothing at all.
        let again = t
            .store
            .commit(&key("1"), &changes, &[message("k3", "console")], now())
            .await
            .unwrap();
        assert_eq!(again, Committed::Duplicate, "{backend:?}");
        let claimed = claim(&t, "console", 0).await;
        assert_eq!(
            claimed
                .iter()
                .map(|m| m.idempotency_key.as_str())
                .collect::<Vec<_>>(),
            vec!["k1", "k2"],
            "{backend:?}"
        );

        let data = t.store.load_directory(day("2026-01-01")).await.unwrap();
        let m = &data.members[0];
        assert_eq!(
            m.topics,
            vec!["licensing", "legal", "standards"],
            "{backend:?}: topic order kept"
        );
        assert_eq!(m.preferred_lang, Some(Lang::En), "{backend:?}");
        assert_eq!(data.proposals.len(), 1, "{backend:?}");
        assert_eq!(data.proposals[0].recent, 1, "{backend:?}");
    }
}

#[tokio::test]
async fn a_failing_change_leaves_nothing_behind() {
    for backend in BACKENDS {
        let (t, _) = seeded(backend).await;
        // Member 999999 does not exist: the foreign key fails the whole transaction.
        let changes = vec![Change::AddTopics {
            member_id: 999_999,
            topics: vec!["legal".into()],
        }];
        let result = t
            .store
            .commit(&key("bad"), &changes, &[message("kb", "console")], now())
            .await;
        assert!(result.is_err(), "{backend:?}: expected an error");
        assert!(
            !t.store.is_seen(&key("bad")).await.unwrap(),
            "{backend:?}: half-written inbound"
        );
        assert!(
            claim(&t, "console", 0).await.is_empty(),
            "{backend:?}: half-written outbox"
        );
        // The same item can then be processed properly.
        assert!(matches!(
            t.store
                .commit(&key("bad"), &[], &[message("kb", "console")], now())
                .await
                .unwrap(),
            Committed::Applied { .. }
        ));
    }
}

#[tokio::test]
async fn member_import_is_idempotent_and_replaces_lists() {
    for backend in BACKENDS {
        let (t, id) = seeded(backend).await;
        let mut updated = member("ANA@example.org", &["reuse"]);
        updated.unavailable.clear();
        updated.access = Role::CoreTeam;
        let counts = t
            .store
            .import_members(
                &[updated.clone(), member("bo@example.org", &["legal"])],
                now(),
            )
            .await
            .unwrap();
        assert_eq!((counts.created, counts.updated), (1, 1), "{backend:?}");
        let counts = t.store.import_members(&[updated], now()).await.unwrap();
        assert_eq!((counts.created, counts.updated), (0, 1), "{backend:?}");
        assert_eq!(t.store.member_count().await.unwrap(), 2, "{backend:?}");
        let data = t.store.load_directory(day("2026-01-01")).await.unwrap();
        let ana = data.members.iter().find(|m| m.id == id).unwrap();
        assert_eq!(ana.topics, vec!["reuse"], "{backend:?}");
        assert!(ana.unavailable.is_empty(), "{backend:?}");
        assert_eq!(ana.access, Role::CoreTeam, "{backend:?}");
    }
}

#[tokio::test]
async fn directory_round_trips_every_field() {
    for backend in BACKENDS {
        let (t, id) = seeded(backend).await;
        let talk = Intervention {
            member_id: 0,
            date: day("2026-10-02"),
            topic: Some("legal".into()),
            event: "Forum".into(),
        };
        let rows = vec![
            ("ana@example.org".to_string(), talk.clone()),
            ("nobody@example.org".to_string(), talk.clone()),
        ];
        assert_eq!(
            t.store.import_interventions(&rows).await.unwrap(),
            1,
            "{backend:?}: unknown email skipped"
        );
        assert_eq!(
            t.store.import_interventions(&rows).await.unwrap(),
            0,
            "{backend:?}: talk not doubled"
        );
        let data = t.store.load_directory(day("2026-01-01")).await.unwrap();
        let mut expected = member("ana@example.org", &["licensing", "legal"]);
        expected.id = id;
        assert_eq!(data.members, vec![expected], "{backend:?}");
        assert_eq!(
            data.interventions,
            vec![Intervention {
                member_id: id,
                ..talk
            }],
            "{backend:?}"
        );
        assert_eq!(data.organisations.len(), 1, "{backend:?}");
        t.store
            .commit(
                &key("c"),
                &[
                    Change::ClearUnavailability {
                        member_id: id,
                        from: day("2027-01-15"),
                    },
                    Change::SetConsent {
                        member_id: id,
                        consent: false,
                    },
                ],
                &[],
                now(),
            )
            .await
            .unwrap();
        let data = t.store.load_directory(day("2026-01-01")).await.unwrap();
        assert!(
            data.members[0].unavailable.is_empty(),
            "{backend:?}: a period still running is cleared"
        );
        assert!(!data.members[0].speaker_consent, "{backend:?}");
    }
}

#[tokio::test]
async fn outbox_claims_lease_retries_and_gives_up() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let messages = [
            message("a", "console"),
            message("b", "console"),
            message("c", "matrix"),
        ];
        t.store
            .commit(&key("o"), &[], &messages, now())
            .await
            .unwrap();

        let first = claim(&t, "console", 0).await;
        assert_eq!(first.len(), 2, "{backend:?}: only this connector's rows");
        assert!(first.iter().all(|m| m.ticket.is_none()), "{backend:?}");
        assert!(first.iter().all(|m| m.attempts == 1), "{backend:?}");
        assert!(
            claim(&t, "console", 0).await.is_empty(),
            "{backend:?}: leased rows are not claimed twice"
        );

        t.store.outbox_delivered(first[0].id, now()).await.unwrap();
        t.store
            .outbox_retry(
                first[1].id,
                "w1",
                "server down",
                now() + Duration::seconds(30),
                now() + Duration::hours(72),
            )
            .await
            .unwrap();
        assert!(
            claim(&t, "console", 10).await.is_empty(),
            "{backend:?}: not due yet"
        );
        let retry = claim(&t, "console", 31).await;
        assert_eq!((retry.len(), retry[0].attempts), (1, 2), "{backend:?}");
        assert_eq!(retry[0].last_error.as_deref(), Some("server down"));
        assert_eq!(
            retry[0].retry_until,
            Some(now() + Duration::hours(72)),
            "{backend:?}: the give-up time is set at the first failure"
        );
        assert!(
            t.store
                .outbox_dead(retry[0].id, "w1", "gave up")
                .await
                .unwrap()
        );
        assert_eq!(status(&t, retry[0].id).await, "dead");
        assert_eq!(status(&t, first[0].id).await, "done");

        // A worker that died holding a claim: after the lease, another worker takes the row over.
        let matrix = claim(&t, "matrix", 0).await;
        assert_eq!(matrix.len(), 1);
        assert_eq!(
            (matrix[0].ticket, matrix[0].thread_key.as_deref()),
            (Some(7), Some("list:<root@example.org>")),
            "{backend:?}: the ticket and conversation a row is about"
        );
        let taken_over = claim_as(&t, "w2", "matrix", 61).await;
        assert_eq!(
            taken_over.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![matrix[0].id],
            "{backend:?}"
        );
        // The first worker's claim is gone: it can neither renew nor settle the row.
        let id = matrix[0].id;
        let later = now() + Duration::seconds(62);
        assert!(
            !t.store.outbox_renew(id, "w1", later).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            !t.store
                .outbox_retry(id, "w1", "late", later, later)
                .await
                .unwrap(),
            "{backend:?}"
        );
        assert!(
            !t.store.outbox_dead(id, "w1", "late").await.unwrap(),
            "{backend:?}"
        );
        assert!(
            t.store
                .outbox_renew(id, "w2", later + Duration::seconds(60))
                .await
                .unwrap()
        );
        assert!(
            claim_as(&t, "w3", "matrix", 121).await.is_empty(),
            "{backend:?}: a renewed claim is not taken over"
        );
        assert_eq!(
            t.store.outbox_next_due().await.unwrap(),
            Some(now()),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_claims_never_share_a_row() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let messages: Vec<NewMessage> = (0..60)
            .map(|i| message(&format!("m{i}"), "console"))
            .collect();
        t.store
            .commit(&key("many"), &[], &messages, now())
            .await
            .unwrap();
        let claims = (0..4).map(|_| {
            let store = t.store.clone();
            tokio::spawn(async move {
                store
                    .claim_outbox("console", "w", now(), Duration::seconds(60), 7)
                    .await
                    .unwrap()
            })
        });
        let mut ids: Vec<i64> = Vec::new();
        for claim in claims {
            ids.extend(claim.await.unwrap().iter().map(|m| m.id));
        }
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "{backend:?}: a row was claimed twice");
        assert_eq!(total, 28, "{backend:?}");
    }
}

#[tokio::test]
async fn migrations_run_twice_without_harm() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        t.store.migrate().await.unwrap();
        assert_eq!(t.store.member_count().await.unwrap(), 0, "{backend:?}");
    }
}

fn ticket(number: i64, assignee: Option<i64>) -> passerelle::core::tickets::Ticket {
    passerelle::core::tickets::Ticket {
        number,
        state: passerelle::core::tickets::TicketState::Assigned,
        subject: "Rencontres".into(),
        requester_email: "req@example.org".into(),
        requester_name: Some("Req".into()),
        lang: Lang::En,
        organisation: Some("ACIGNE".into()),
        event: Some("Forum".into()),
        dates: vec![day("2027-03-12"), day("2027-03-13")],
        places: vec!["Rhône".into()],
        topics: vec!["licensing".into(), "legal".into()],
        format: Some("talk".into()),
        assignee,
        secret: "k3f9a0c1".into(),
    }
}

#[tokio::test]
async fn tickets_round_trip_with_history_threading_and_workload() {
    use passerelle::core::tickets::TicketState;
    for backend in BACKENDS {
        let (t, id) = seeded(backend).await;
        let n = t.store.allocate_ticket_number().await.unwrap();
        assert_eq!(
            t.store.allocate_ticket_number().await.unwrap(),
            n + 1,
            "{backend:?}: numbers never reused"
        );
        let version = t.store.directory_version().await.unwrap();
        let changes = vec![
            Change::CreateTicket(ticket(n, Some(id))),
            Change::LinkMessage {
                ticket: n,
                message_id: "req-1@example.org".into(),
                direction: "in",
            },
            Change::TicketEvent {
                ticket: n,
                actor: "req@example.org".into(),
                kind: "created".into(),
                detail: "request".into(),
            },
            Change::TicketEvent {
                ticket: n,
                actor: "passerelle".into(),
                kind: "assigned".into(),
                detail: "rule #1".into(),
            },
            Change::SuggestSpeakers {
                ticket: n,
                member_ids: vec![id],
            },
            Change::MuteAddress {
                address: "Gone@Example.org".into(),
                until: now() + Duration::days(60),
                reason: "5.1.1".into(),
            },
            Change::ConnectorState {
                connector: "imap".into(),
                key: "INBOX".into(),
                value: "42:7".into(),
            },
        ];
        // Both rows go to "stdout"; only the SMTP one counts as mail to that address.
        t.store
            .commit(
                &key("mail-1"),
                &changes,
                &[message("ack-1", "smtp"), message("chat-1", "console")],
                now(),
            )
            .await
            .unwrap();
        assert_eq!(
            t.store.directory_version().await.unwrap(),
            version,
            "{backend:?}: tickets do not touch the directory"
        );
        assert_eq!(
            t.store.ticket(n).await.unwrap(),
            Some(ticket(n, Some(id))),
            "{backend:?}"
        );
        assert_eq!(
            t.store
                .ticket_for_messages(&["other@x".into(), "req-1@example.org".into()])
                .await
                .unwrap(),
            Some(n),
            "{backend:?}"
        );
        let kinds: Vec<String> = t
            .store
            .ticket_events(n)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec!["created", "assigned"], "{backend:?}");
        assert_eq!(
            t.store.ticket_suggestions(n).await.unwrap(),
            vec![id],
            "{backend:?}"
        );
        let work = t.store.workload().await.unwrap();
        assert_eq!(work.open_tickets.get(&id), Some(&1), "{backend:?}");
        assert_eq!(
            work.last_assigned.get(&id),
            Some(&now().date_naive()),
            "{backend:?}"
        );
        assert_eq!(
            t.store.tickets_awaiting_team().await.unwrap().len(),
            1,
            "{backend:?}"
        );
        assert_eq!(
            t.store.open_tickets_of(id).await.unwrap().len(),
            1,
            "{backend:?}"
        );
        assert!(
            t.store
                .muted_until("gone@example.org", now())
                .await
                .unwrap()
                .is_some(),
            "{backend:?}"
        );
        assert!(
            t.store
                .muted_until("gone@example.org", now() + Duration::days(61))
                .await
                .unwrap()
                .is_none(),
            "{backend:?}"
        );
        assert_eq!(
            t.store
                .mails_to_since("smtp", "stdout", now() - Duration::hours(1))
                .await
                .unwrap(),
            1,
            "{backend:?}: only smtp rows count"
        );
        assert_eq!(
            t.store
                .mails_to_since("smtp", "stdout", now() + Duration::seconds(1))
                .await
                .unwrap(),
            0,
            "{backend:?}: the window slides"
        );
        assert_eq!(
            t.store.connector_state("imap", "INBOX").await.unwrap(),
            Some("42:7".into()),
            "{backend:?}"
        );
        t.store
            .save_connector_state("imap", "INBOX", "42:9")
            .await
            .unwrap();
        assert_eq!(
            t.store.connector_state("imap", "INBOX").await.unwrap(),
            Some("42:9".into()),
            "{backend:?}"
        );
        assert_eq!(
            t.store.connector_state("list", "INBOX").await.unwrap(),
            None,
            "{backend:?}: each connector has its own state"
        );

        let done = vec![
            Change::SetTicketState {
                ticket: n,
                state: TicketState::Done,
            },
            Change::AssignTicket {
                ticket: n,
                member_id: id,
            },
            Change::LinkMessage {
                ticket: n,
                message_id: "out-1@bot".into(),
                direction: "out",
            },
        ];
        t.store
            .commit(&key("done"), &done, &[], now())
            .await
            .unwrap();
        assert_eq!(
            t.store
                .mails_for_ticket_since(n, now() - Duration::hours(1))
                .await
                .unwrap(),
            1,
            "{backend:?}"
        );
        assert!(
            t.store.tickets_awaiting_team().await.unwrap().is_empty(),
            "{backend:?}"
        );
        assert!(
            t.store.open_tickets_of(id).await.unwrap().is_empty(),
            "{backend:?}"
        );
        assert_eq!(
            t.store.workload().await.unwrap().open_tickets.get(&id),
            None,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn team_work_open_lists_accept_times_handing_back_and_talks_given() {
    use passerelle::core::tickets::TicketState;
    for backend in BACKENDS {
        let (t, id) = seeded(backend).await;
        let first = t.store.allocate_ticket_number().await.unwrap();
        let second = t.store.allocate_ticket_number().await.unwrap();
        let created = now() - Duration::days(3);
        t.store
            .commit(
                &key("in"),
                &[
                    Change::CreateTicket(ticket(first, Some(id))),
                    Change::CreateTicket(ticket(second, None)),
                ],
                &[],
                created,
            )
            .await
            .unwrap();
        let accepted = |n| Change::TicketEvent {
            ticket: n,
            actor: "a@example.org".into(),
            kind: "accepted".into(),
            detail: String::new(),
        };
        // Accepted 5 hours in, then again a day later: the first time counts.
        t.store
            .commit(
                &key("acc-1"),
                &[accepted(first)],
                &[],
                created + Duration::hours(5),
            )
            .await
            .unwrap();
        t.store
            .commit(
                &key("acc-2"),
                &[accepted(first)],
                &[],
                created + Duration::days(1),
            )
            .await
            .unwrap();
        let open: Vec<i64> = t
            .store
            .open_tickets()
            .await
            .unwrap()
            .iter()
            .map(|t| t.number)
            .collect();
        assert_eq!(open, vec![first, second], "{backend:?}: oldest first");
        let timings = t
            .store
            .ticket_timings(now() - Duration::days(90))
            .await
            .unwrap();
        assert_eq!(timings.len(), 2, "{backend:?}");
        assert_eq!(
            timings[0].accepted_at.map(|at| at - timings[0].created_at),
            Some(Duration::hours(5)),
            "{backend:?}"
        );
        assert_eq!(timings[1].accepted_at, None, "{backend:?}");
        assert!(
            t.store.ticket_timings(now()).await.unwrap().is_empty(),
            "{backend:?}: outside the window"
        );

        let version = t.store.directory_version().await.unwrap();
        t.store
            .commit(
                &key("pass-and-done"),
                &[
                    Change::UnassignTicket { ticket: first },
                    Change::SetTicketState {
                        ticket: second,
                        state: TicketState::Done,
                    },
                    Change::RecordIntervention {
                        member_id: id,
                        day: day("2027-03-12"),
                        topic: Some("licensing".into()),
                        event: "Forum, Rhône (ODF #2)".into(),
                    },
                ],
                &[],
                now(),
            )
            .await
            .unwrap();
        assert_eq!(
            t.store.ticket(first).await.unwrap().unwrap().assignee,
            None,
            "{backend:?}"
        );
        assert_eq!(
            t.store.open_tickets().await.unwrap().len(),
            1,
            "{backend:?}"
        );
        assert!(
            t.store.directory_version().await.unwrap() > version,
            "{backend:?}: a talk given changes the directory's history"
        );
        let data = t.store.load_directory(day("2026-01-01")).await.unwrap();
        assert!(
            data.interventions.iter().any(|i| i.member_id == id
                && i.date == day("2027-03-12")
                && i.event == "Forum, Rhône (ODF #2)"),
            "{backend:?}: {:?}",
            data.interventions
        );
    }
}

#[tokio::test]
async fn dead_rows_are_listed_requeued_and_dropped() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let messages = [
            message("a", "smtp"),
            message("b", "smtp"),
            message("c", "smtp"),
        ];
        t.store
            .commit(&key("dead"), &[], &messages, now())
            .await
            .unwrap();
        let rows = claim(&t, "smtp", 0).await;
        for row in &rows {
            assert!(
                t.store
                    .outbox_dead(row.id, "w1", "server down")
                    .await
                    .unwrap()
            );
        }
        let dead = t.store.outbox_list(Some("dead"), 10).await.unwrap();
        assert_eq!(dead.len(), 3, "{backend:?}");
        assert_eq!(dead[0].id, rows[2].id, "{backend:?}: newest first");
        assert!(
            t.store.outbox_drop(rows[0].id).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            !t.store.outbox_drop(rows[0].id).await.unwrap(),
            "{backend:?}: dropped once"
        );
        assert_eq!(
            t.store
                .outbox_requeue(Some(rows[1].id), now())
                .await
                .unwrap(),
            1,
            "{backend:?}"
        );
        assert_eq!(
            t.store.outbox_requeue(None, now()).await.unwrap(),
            1,
            "{backend:?}"
        );
        assert_eq!(
            t.store.outbox_counts().await.unwrap(),
            vec![("dropped".to_string(), 1), ("pending".to_string(), 2)],
            "{backend:?}"
        );
        let again = claim(&t, "smtp", 1).await;
        assert_eq!(again.len(), 2, "{backend:?}: requeued rows are due");
        assert!(again.iter().all(|m| m.retry_until.is_none()), "{backend:?}");
        // A row being delivered is not requeued under its worker's feet.
        assert_eq!(
            t.store
                .outbox_requeue(Some(again[0].id), now() + Duration::seconds(2))
                .await
                .unwrap(),
            0,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn health_quarantine_and_leases() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let health = passerelle::store::TaskHealth {
            name: "maildir".into(),
            instance: "host:1".into(),
            state: "restarting".into(),
            restarts: 2,
            last_error: Some("panicked: boom".into()),
            updated_at: now(),
        };
        t.store.record_task_health(&health).await.unwrap();
        let running = passerelle::store::TaskHealth {
            state: "running".into(),
            ..health.clone()
        };
        t.store.record_task_health(&running).await.unwrap();
        assert_eq!(
            t.store.task_health().await.unwrap(),
            vec![running],
            "{backend:?}"
        );

        let item = passerelle::store::Quarantined {
            source: "maildir".into(),
            external_id: "1.bad".into(),
            error: "panicked".into(),
            location: Some("/m/quarantine/1.bad".into()),
            at: now(),
        };
        t.store.quarantine(&item).await.unwrap();
        t.store.quarantine(&item).await.unwrap();
        assert_eq!(t.store.quarantine_count().await.unwrap(), 1, "{backend:?}");
        assert_eq!(
            t.store.quarantined(5).await.unwrap(),
            vec![item],
            "{backend:?}"
        );

        let ttl = Duration::seconds(10);
        assert!(
            t.store.try_lease("imap", "a", now(), ttl).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            !t.store.try_lease("imap", "b", now(), ttl).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            t.store
                .try_lease("imap", "a", now() + Duration::seconds(5), ttl)
                .await
                .unwrap(),
            "{backend:?}: the holder renews"
        );
        assert!(
            !t.store
                .try_lease("imap", "b", now() + Duration::seconds(12), ttl)
                .await
                .unwrap(),
            "{backend:?}: the renewed lease still runs"
        );
        assert!(
            t.store
                .try_lease("imap", "b", now() + Duration::seconds(16), ttl)
                .await
                .unwrap(),
            "{backend:?}: an expired lease is taken over"
        );
        t.store.release_lease("imap", "a").await.unwrap();
        assert!(
            !t.store
                .try_lease("imap", "a", now() + Duration::seconds(17), ttl)
                .await
                .unwrap(),
            "{backend:?}: releasing another holder's lease does nothing"
        );
        t.store.release_lease("imap", "b").await.unwrap();
        assert!(
            t.store
                .try_lease("imap", "a", now() + Duration::seconds(17), ttl)
                .await
                .unwrap(),
            "{backend:?}: a released lease is free at once"
        );
    }
}

/// A full disk makes SQLite roll back a transaction whose COMMIT failed; the driver's own
/// ROLLBACK then fails and the connection believed itself inside a transaction for good, so
/// the store refused every write until a restart. The same state, made by hand: the store must
/// replace that connection and go on.
#[tokio::test]
async fn a_connection_left_inside_a_dead_transaction_is_replaced() {
    use passerelle::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    let store = passerelle::store::SqliteStore::connect(&url, 1)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    {
        let mut tx = store.pool().begin().await.unwrap();
        // What SQLite does itself on SQLITE_FULL: the transaction is gone under the driver.
        sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
    }
    for i in 0..3 {
        let committed = store
            .commit(
                &key(&format!("after-{i}")),
                &[],
                &[message(&format!("m{i}"), "console")],
                now(),
            )
            .await;
        assert!(
            committed.is_ok(),
            "write {i} after the broken transaction: {committed:?}"
        );
    }
}
