//! The one flow end to end on the sample directory: inbound → handler → store + outbox →
//! delivery, with the phrasings users type and the bad input they send.

mod common;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use passerelle::app;
use passerelle::engine::{
    Delivered, DeliveryError, Engine, Handled, Inbound, Outbound, OutboxWorker, Progress,
};
use passerelle::store::{InboundKey, OutboxMessage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ADMIN: &str = "dominique.lefevre@example.org";
const MEMBER: &str = "alex.martin@example.org";

fn now() -> DateTime<Utc> {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

/// Records what it delivers; fails the first `failures` deliveries.
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<String>>,
    failures: AtomicUsize,
    permanent: bool,
}

#[async_trait]
impl Outbound for Recorder {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(if self.permanent {
                DeliveryError::Permanent("rejected".into())
            } else {
                DeliveryError::Transient("server down".into())
            });
        }
        self.delivered.lock().unwrap().push(message.body.clone());
        Ok(Delivered::default())
    }
}

struct Bot {
    engine: Arc<Engine>,
    worker: OutboxWorker,
    recorder: Arc<Recorder>,
    counter: AtomicUsize,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn new() -> Bot {
        Self::with_recorder(Recorder::default()).await
    }

    async fn with_recorder(recorder: Recorder) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let config =
            common::config_with_store(&format!("sqlite://{}", dir.path().join("bot.db").display()));
        let engine = app::build_engine(&config).await.unwrap();
        let recorder = Arc::new(recorder);
        let mut worker = OutboxWorker::new(
            engine.store().clone(),
            app::retry_policy(&config),
            engine.outbox_signal(),
        );
        worker.register("test", recorder.clone());
        Bot {
            engine,
            worker,
            recorder,
            counter: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    fn inbound(&self, sender: &str, text: &str) -> Inbound {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        Inbound {
            key: InboundKey {
                source: "test".into(),
                external_id: n.to_string(),
            },
            connector: "test".into(),
            reply_to: passerelle::core::inbound::ReplyTo::Native("room".into()),
            sender: passerelle::core::address::Address::parse(sender).unwrap(),
            text: text.into(),
            lang: None,
            vouched_role: None,
            ticket: None,
        }
    }

    async fn outbox_row(&self, id: i64) -> OutboxMessage {
        self.engine.store().outbox_get(id).await.unwrap().unwrap()
    }

    /// Sends a line and returns the one reply delivered for it.
    async fn say(&self, sender: &str, text: &str) -> String {
        let handled = self
            .engine
            .handle_at(&self.inbound(sender, text), now())
            .await
            .unwrap();
        assert!(
            matches!(handled, Handled::Done { .. }),
            "{text}: {handled:?}"
        );
        self.worker.run_once(now()).await.unwrap();
        let mut delivered = self.recorder.delivered.lock().unwrap();
        assert_eq!(delivered.len(), 1, "{text}: {delivered:?}");
        delivered.pop().unwrap()
    }
}

fn assert_contains(reply: &str, expected: &[&str]) {
    for e in expected {
        assert!(reply.contains(e), "expected {e:?} in:\n{reply}");
    }
}

#[tokio::test]
async fn the_issue_phrasings_get_sensible_answers_in_both_languages() {
    let bot = Bot::new().await;
    let cases: &[(&str, &[&str])] = &[
        (
            "find a speaker on licensing",
            &["Speakers for Licensing", "Why:", "Contact:"],
        ),
        (
            "find a speaker on RGPD in Occitanie in English on 2027-03-12",
            &[
                "Data protection (Occitanie) speaking English, available on 12 March 2027",
                "same region",
            ],
        ),
        (
            "trouve un intervenant sur les licences ouvertes en Bretagne",
            &["Intervenants pour Licences (Bretagne)", "Pourquoi", "même"],
        ),
        (
            "qui peut parler de normalisation ?",
            &["Intervenants pour", "Pourquoi"],
        ),
        ("who can talk about SCDL schemas?", &["Speakers for"]),
        // Free phrasing (issue 9): what the line says shows in the answer's first lines.
        (
            "trouve-moi quelqu'un pour parler d'open data à Rennes le 3 mars",
            &[
                "Intervenants pour Open data (Rennes), disponibles le 3 mars 2027",
                "L'open data en général",
            ],
        ),
        (
            "qui connaît les données de mobilité en Bretagne ?",
            &["Intervenants pour Transports (Bretagne)"],
        ),
        (
            "intervenant budget participatif Grenoble",
            &["Intervenants pour Citoyenneté (Grenoble)"],
        ),
        (
            "on cherche qqn pour une table ronde en visio sur le RGPD en juin",
            &[
                "Protection des données personnelles, pour une table ronde, en ligne, du 1er juin 2027 au 30 juin 2027",
            ],
        ),
        (
            "any speakers on data quality for a conference in Brussels?",
            &["Speakers for Data quality (Brussels, outside France: no distance), for a talk"],
        ),
        // No topic, but a format, a place and a day: every speaker weighed by those.
        (
            "qqn pour un jury à Rennes le 6 décembre ?",
            &[
                "Intervenants tous thèmes confondus (Rennes), pour un jury, disponibles le 6 décembre 2026",
                "Pourquoi : même département",
            ],
        ),
        (
            "anyone for a round table in Lyon next month?",
            &["Speakers on any topic (Lyon), for a round table, from 1 December 2026"],
        ),
    ];
    for (text, expected) in cases {
        let reply = bot.say(MEMBER, text).await;
        assert_contains(&reply, expected);
        assert!(
            !reply.contains("Nadia Perrin"),
            "a member without consent was proposed:\n{reply}"
        );
    }
}

#[tokio::test]
async fn results_say_why_and_respect_language_and_place() {
    let bot = Bot::new().await;
    let reply = bot
        .say(
            MEMBER,
            "find a speaker on RGPD in Occitanie in English on 2027-03-12",
        )
        .await;
    let directory = bot.engine.directory(bot.engine.today(now())).await.unwrap();
    let proposed: Vec<_> = directory
        .members
        .iter()
        .filter(|m| reply.contains(&format!(". {}", m.name)))
        .collect();
    let eligible = directory
        .members
        .iter()
        .filter(|m| {
            m.speaker_consent
                && m.speaks("en")
                && m.topics.iter().any(|t| t == "data-protection")
                && !m.unavailable_on("2027-03-12".parse().unwrap())
        })
        .count();
    assert!(
        eligible >= 2,
        "the sample directory has English-speaking DPOs"
    );
    assert_eq!(proposed.len(), eligible.min(5), "{reply}");
    for member in proposed {
        assert!(
            member.speaks("en"),
            "{} does not speak English:\n{reply}",
            member.name
        );
        assert!(member.speaker_consent);
        assert!(
            member.topics.iter().any(|t| t == "data-protection"),
            "{}",
            member.name
        );
    }
    // The first result is in Occitanie.
    let first = directory
        .members
        .iter()
        .find(|m| reply.lines().nth(1).is_some_and(|l| l.contains(&m.name)))
        .expect("first result");
    let geography = &bot.engine.knowledge().geography;
    let department = geography.department(
        geography
            .department_by_code(first.department.as_deref().unwrap())
            .unwrap(),
    );
    assert_eq!(geography.region(department.region).name, "Occitanie");
}

#[tokio::test]
async fn searching_again_rotates_who_is_proposed() {
    let bot = Bot::new().await;
    let first = bot.say(MEMBER, "find a speaker on licensing").await;
    let second = bot.say(MEMBER, "find a speaker on licensing").await;
    let top = |reply: &str| reply.lines().nth(1).unwrap().to_string();
    assert_ne!(
        top(&first),
        top(&second),
        "the same person stays first:\n{first}\n---\n{second}"
    );
}

#[tokio::test]
async fn the_same_inbound_item_twice_is_handled_once() {
    let bot = Bot::new().await;
    let inbound = bot.inbound(MEMBER, "my topics add GDPR");
    let first = bot.engine.handle_at(&inbound, now()).await.unwrap();
    assert!(matches!(first, Handled::Done { ref outbox_ids, .. } if outbox_ids.len() == 1));
    assert_eq!(
        bot.engine.handle_at(&inbound, now()).await.unwrap(),
        Handled::Duplicate
    );
    bot.worker.run_once(now()).await.unwrap();
    bot.worker.run_once(now()).await.unwrap();
    assert_eq!(bot.recorder.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_later_and_delivered_once() {
    let bot = Bot::with_recorder(Recorder {
        failures: AtomicUsize::new(2),
        ..Default::default()
    })
    .await;
    let handled = bot
        .engine
        .handle_at(&bot.inbound(MEMBER, "aide"), now())
        .await
        .unwrap();
    let Handled::Done { outbox_ids, .. } = handled else {
        panic!()
    };
    let report = bot.worker.run_once(now()).await.unwrap();
    assert_eq!((report.delivered, report.retried), (0, 1));
    // Not due yet: nothing happens.
    assert_eq!(bot.worker.run_once(now()).await.unwrap().retried, 0);
    let later = now() + chrono::Duration::hours(1);
    assert_eq!(bot.worker.run_once(later).await.unwrap().retried, 1);
    assert_eq!(
        bot.worker
            .run_once(later + chrono::Duration::hours(1))
            .await
            .unwrap()
            .delivered,
        1
    );
    assert_eq!(bot.recorder.delivered.lock().unwrap().len(), 1);
    let row = bot.outbox_row(outbox_ids[0]).await;
    assert_eq!((row.status.as_str(), row.attempts), ("done", 3));
}

#[tokio::test]
async fn a_rejected_delivery_is_kept_as_dead() {
    let bot = Bot::with_recorder(Recorder {
        failures: AtomicUsize::new(1),
        permanent: true,
        ..Default::default()
    })
    .await;
    let Handled::Done { outbox_ids, .. } = bot
        .engine
        .handle_at(&bot.inbound(MEMBER, "help"), now())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(bot.worker.run_once(now()).await.unwrap().dead, 1);
    let row = bot.outbox_row(outbox_ids[0]).await;
    assert_eq!(row.status, "dead");
    assert!(row.last_error.unwrap().contains("rejected"));
}

#[tokio::test]
async fn members_edit_their_own_profile_from_chat() {
    let bot = Bot::new().await;
    assert_contains(
        &bot.say(MEMBER, "my topics add GDPR and metadata").await,
        &["Added: Data protection", "Metadata"],
    );
    assert_contains(
        &bot.say(MEMBER, "mes thèmes retire RGPD").await,
        &["Retiré : Protection des données personnelles"],
    );
    assert_contains(
        &bot.say(MEMBER, "away from 10 March to 14 March").await,
        &["away from 10 March 2027 to 14 March 2027"],
    );
    let profile = bot.say(MEMBER, "my profile").await;
    assert_contains(
        &profile,
        &[
            "Your entry",
            "Metadata",
            "Away: 10 March 2027 to 14 March 2027",
        ],
    );
    assert!(!profile.contains("Data protection"), "{profile}");
    // Away on the day: not proposed for it, proposed for another day.
    let name = "Alex Martin";
    let other_day = bot
        .say(
            ADMIN,
            "find a speaker on metadata in Loire-Atlantique on 2027-03-20",
        )
        .await;
    assert!(other_day.contains(name), "{other_day}");
    let on_day = bot
        .say(
            ADMIN,
            "find a speaker on metadata in Loire-Atlantique on 2027-03-12",
        )
        .await;
    assert!(!on_day.contains(name), "{on_day}");
    assert_contains(
        &bot.say(MEMBER, "speak to me in French").await,
        &["je vous répondrai désormais en français"],
    );
    assert_contains(&bot.say(MEMBER, "my profile").await, &["Votre fiche"]);
    assert_contains(
        &bot.say(MEMBER, "stop suggesting me").await,
        &["ne serez plus proposé"],
    );
    let profile = bot.say(ADMIN, "profile of Alex Martin").await;
    assert_contains(&profile, &["Suggested as a speaker: no"]);
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_in_the_users_language() {
    let bot = Bot::new().await;
    let cases: &[(&str, &str, &[&str])] = &[
        (
            MEMBER,
            "xyzzy plugh",
            &["Je n'ai pas compris « xyzzy plugh »", "aide"],
        ),
        (
            MEMBER,
            "please find me the speakr",
            &["I did not understand", "Did you mean"],
        ),
        (
            MEMBER,
            "trouve un intervnant sur les licences",
            &[
                "Je n'ai pas compris",
                "Vouliez-vous dire",
                "trouve un intervenant sur les licences",
            ],
        ),
        (
            MEMBER,
            "find a speaker",
            &[
                "Missing: the topic of the talk",
                "find a speaker on licensing",
            ],
        ),
        (
            MEMBER,
            "trouve un intervenant",
            &["Il manque le thème de l'intervention"],
        ),
        // Outside a ticket's thread, taking "it" asks which one.
        (
            ADMIN,
            "ok je prends",
            &["Il manque le numéro de la demande"],
        ),
        (
            MEMBER,
            "find a speaker on basket weaving",
            &["I don't know the topic \"basket weaving\"", "topics"],
        ),
        (
            MEMBER,
            "trouve un intervenant sur le RGPD en Narnie",
            &["Je ne connais pas le lieu « Narnie »"],
        ),
        (
            MEMBER,
            // A name spelt like no French place is a place abroad.
            "need a speaker on licensing in Bengaluru on 3rd February",
            &["Speakers for Licensing (Bengaluru, outside France: no distance)"],
        ),
        (
            MEMBER,
            // Numbers in words, a value corrected on the way.
            "trouve un intervenant sur les licences à Grenoble, euh non, Échirolles, le douze mars",
            &["Licences (Échirolles)", "12 mars 2027"],
        ),
        (
            MEMBER,
            // A one-letter slip in a region's name is read through, not refused.
            "find a speaker on licensing in Bretagn",
            &["Speakers for Licensing (Bretagne)"],
        ),
        (
            MEMBER,
            "find a speaker on licensing on 2020-03-12",
            &["in the past"],
        ),
        (
            MEMBER,
            "trouve un intervenant sur les licences le 31/02/2027",
            &["n'existe pas"],
        ),
        (
            MEMBER,
            "absent jusqu'au blabla",
            &["Je n'ai pas compris la date « jusqu'au blabla »"],
        ),
        (MEMBER, "away until 2020-01-01", &["in the past"]),
        (
            MEMBER,
            "my topics add underwater hockey",
            &["I don't know the topic"],
        ),
        (
            MEMBER,
            "speak to me in klingon",
            &["I don't know the language \"klingon\""],
        ),
        (
            MEMBER,
            "speak to me in german",
            &["only answer in French or English"],
        ),
        (MEMBER, "stats", &["réservé à l'équipe d'animation"]),
        (
            MEMBER,
            "profile of Camille Roux",
            &["is for the core team only"],
        ),
        (
            "stranger@example.com",
            "find a speaker on licensing",
            &["network members", "ask the core team to add your address"],
        ),
        (
            "stranger@example.com",
            "mon profil",
            &["réservé aux membres du réseau"],
        ),
        (
            ADMIN,
            "fiche de Personne Inconnue",
            &["Personne ne s'appelle « Personne Inconnue »"],
        ),
    ];
    for (sender, text, expected) in cases {
        let reply = bot.say(sender, text).await;
        assert_contains(&reply, expected);
    }
    // Nothing half-written: the failed edits changed nothing.
    let profile = bot.say(MEMBER, "my profile").await;
    assert_contains(
        &profile,
        &["Topics: Reuse, APIs and formats", "Languages: fr, en"],
    );
    assert!(!profile.contains("Away"), "{profile}");
}

#[tokio::test]
async fn help_is_generated_from_the_command_files_in_the_askers_language() {
    let bot = Bot::new().await;
    let aide = bot.say(MEMBER, "aide").await;
    assert_contains(
        &aide,
        &[
            "Voici ce que je sais faire",
            "Trouver un intervenant sur un thème",
            "« thèmes »",
        ],
    );
    assert!(
        !aide.contains("Chiffres de l'annuaire"),
        "a member sees core-team commands:\n{aide}"
    );
    let help = bot.say(ADMIN, "help").await;
    assert_contains(
        &help,
        &[
            "Here is what I can do",
            "Directory and request figures",
            "Find a speaker on a topic",
        ],
    );
    assert_contains(
        &bot.say(MEMBER, "help find-speaker").await,
        &[
            "Find a speaker on a topic (find-speaker)",
            "Examples:",
            "Available to: network members",
        ],
    );
    assert_contains(
        &bot.say(MEMBER, "aide absent").await,
        &["Signaler une absence"],
    );
    assert_contains(
        &bot.say(MEMBER, "thèmes").await,
        &[
            "Pratiques de l'open data",
            "Thématiques de l'Observatoire",
            "Licences",
        ],
    );
}

#[tokio::test]
async fn a_topic_nobody_covers_suggests_nearby_topics() {
    let bot = Bot::new().await;
    let reply = bot
        .say(MEMBER, "trouve un intervenant sur les crèches")
        .await;
    assert_contains(
        &reply,
        &[
            "Personne dans l'annuaire ne peut intervenir sur Enfance",
            "Thèmes proches",
        ],
    );
}

#[tokio::test]
async fn a_fediverse_account_is_not_taken_for_the_matrix_id_it_resembles() {
    let bot = Bot::new().await;
    // Yanis Benali is core team, known by email and by his Matrix id.
    let by_matrix = bot.say("@yanis.benali:example.org", "statistiques").await;
    assert!(by_matrix.starts_with("Annuaire :"), "{by_matrix}");
    // The same name on a fediverse server is nobody in the directory.
    let by_fediverse = bot.say("@yanis.benali@example.org", "statistiques").await;
    assert!(
        by_fediverse.contains("réservé à l'équipe d'animation"),
        "{by_fediverse}"
    );
}
