//! Every message of the real-world corpus goes through the mail pipeline: no panic, a class for
//! each, no answer to any robot, and golden files for a representative set.

mod common;

use passerelle::core::lang::Lang;
use passerelle::mail::extract::Knowledge;
use passerelle::mail::{Class, MailContext, MailRules, Understanding, understand};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    common::root().join("tests/fixtures/mail-corpus")
}

fn rules() -> MailRules {
    MailRules::from_toml(
        &std::fs::read_to_string(common::root().join("data/mail/rules.toml")).unwrap(),
    )
    .unwrap()
}

fn context() -> MailContext {
    MailContext {
        ticket_prefix: "ODF".into(),
        watched_list: Some("membres.opendatafrance.example".into()),
        loop_value: "passerelle@odf.example".into(),
    }
}

/// (path relative to the corpus, category) from INDEX.csv.
fn index() -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(corpus().join("INDEX.csv")).unwrap();
    reader
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[0].to_string(), r[3].to_string()))
        .collect()
}

/// Runs the pipeline over files with the real rules, vocabulary and geography.
struct Pipeline {
    knowledge: passerelle::engine::Knowledge,
    rules: MailRules,
    organisations: passerelle::core::directory::OrganisationFinder,
}

impl Pipeline {
    fn new() -> Self {
        let organisations = passerelle::core::directory::OrganisationFinder::new(
            ["Rennes Métropole", "Région Occitanie", "Métropole de Lyon"].into_iter(),
        );
        Pipeline {
            knowledge: common::knowledge(),
            rules: rules(),
            organisations,
        }
    }

    fn run(&self, path: &Path) -> Understanding {
        let k = Knowledge {
            vocabulary: &self.knowledge.vocabulary,
            geography: &self.knowledge.geography,
            organisations: &self.organisations,
            domains: &Default::default(),
            directory: None,
        };
        let raw = std::fs::read(path).unwrap();
        understand(
            &raw,
            &self.rules,
            &context(),
            &k,
            "2026-11-26".parse().unwrap(),
            Lang::Fr,
        )
    }
}

#[test]
fn every_corpus_message_gets_a_class_and_robots_never_get_answers() {
    let pipeline = Pipeline::new();
    let entries = index();
    assert!(entries.len() >= 190, "{}", entries.len());
    let mut wrong = Vec::new();
    for (path, category) in &entries {
        let understood = pipeline.run(&corpus().join(path));
        let robot = category.starts_with("bounce") && category != "not-bounce"
            || category.starts_with("autoreply")
            || category == "arf-feedback";
        if robot && understood.may_answer() {
            wrong.push(format!(
                "{path} ({category}): {:?} {}",
                understood.classification.class, understood.classification.reason
            ));
        }
        if category.starts_with("bounce") && understood.classification.class != Class::Bounce {
            wrong.push(format!(
                "{path} ({category}) is {:?}: {}",
                understood.classification.class, understood.classification.reason
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} problems:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A representative set: every kind of robot mail, real client replies, malformed MIME,
/// attachments, charsets, and the invented requests of tests/fixtures/mail-requests.
const GOLDEN: &[&str] = &[
    "mail-corpus/sisimai-bounces-autoreplies/arf-feedback/arf-01.eml",
    "mail-corpus/sisimai-bounces-autoreplies/autoreply-rfc3834/rfc3834-01.eml",
    "mail-corpus/sisimai-bounces-autoreplies/autoreply-rfc3834/rfc3834-02.eml",
    "mail-corpus/sisimai-bounces-autoreplies/bounce-mta/lhost-amazonses-01.eml",
    "mail-corpus/sisimai-bounces-autoreplies/bounce-mta/lhost-mailru-01.eml",
    "mail-corpus/sisimai-bounces-autoreplies/bounce-orange-france/rhost-franceptt-01.eml",
    "mail-corpus/sisimai-bounces-autoreplies/bounce-rfc3464/rfc3464-01.eml",
    "mail-corpus/flanker/bounce/broken-mime.eml",
    "mail-corpus/flanker/complaints/aol.eml",
    "mail-corpus/talon-replies/android.eml",
    "mail-corpus/talon-replies/apple_mail_2.eml",
    "mail-corpus/talon-replies/hotmail.eml",
    "mail-corpus/talon-replies/thunderbird.eml",
    "mail-corpus/dovecot-malformed/000.eml",
    "mail-corpus/dovecot-thirdparty/003.eml",
    "mail-corpus/stalwart-rfc/001.eml",
    "mail-corpus/ruby-mail-gem/attachment_emails/attachment_content_disposition.eml",
    "mail-requests/request-fr-round-table.eml",
    "mail-requests/request-en-keynote.eml",
    "mail-requests/request-fr-html-training.eml",
    "mail-requests/reply-fr-ticket.eml",
    "mail-requests/news-fr.eml",
    "mail-requests/autoreply-fr-no-headers.eml",
    "mail-requests/list-fr-discussion.eml",
    "mail-requests/forward-gmail-fr.eml",
    "mail-requests/forward-outlook-en.eml",
    "mail-requests/request-fr-signature-org.eml",
    "mail-requests/request-fr-podcast.eml",
    "mail-requests/request-fr-course.eml",
    "mail-requests/request-fr-working-group.eml",
    "mail-requests/invitation-fr-attend.eml",
    "mail-requests/bounce-5.7.606.eml",
    "mail-requests/bounce-post-master-text.eml",
    "mail-requests/bounce-exim-header-only.eml",
    "mail-requests/contact-form-noreply.eml",
    "mail-requests/forward-attached-rfc822.eml",
    // A service's notice from a noreply address with a person in Reply-To: no form, no request.
    "mail-corpus/ruby-mail-gem/mime_emails/raw_email_encoded_stack_level_too_deep.eml",
    "mail-corpus/ruby-mail-gem/error_emails/encoding_madness.eml",
];

/// Compares each golden message's understanding with `tests/golden/mail/*.json`.
/// `PASSERELLE_BLESS=1` rewrites the files; review the diff before committing it.
#[test]
fn golden_messages_are_understood_as_recorded() {
    let pipeline = Pipeline::new();
    let golden_dir = common::root().join("tests/golden/mail");
    let bless = std::env::var("PASSERELLE_BLESS").is_ok_and(|v| v == "1");
    let mut mismatches = Vec::new();
    for name in GOLDEN {
        let understood = pipeline.run(&common::root().join("tests/fixtures").join(name));
        let mut value = serde_json::to_value(&understood).unwrap();
        // Keep the golden files readable: the first 400 characters of the new text are enough.
        if let Some(text) = value.get_mut("new_text") {
            let short: String = text.as_str().unwrap_or("").chars().take(400).collect();
            *text = serde_json::Value::String(short);
        }
        let actual = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let file = golden_dir.join(name.replace('/', "__").replace(".eml", ".json"));
        if bless {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&file, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => mismatches.push(format!(
                "{name}: differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
                file.display()
            )),
            Err(_) => mismatches.push(format!("{name}: no golden file {}", file.display())),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
