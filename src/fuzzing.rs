//! Entry points for the fuzz targets (`fuzz/`) and for the regression tests that replay what
//! they found (`tests/fuzz_regressions.rs`): raw mail → understanding and decision, chat line
//! → command and answer, dates typed in chat or mail, `bot.toml` text. Each runs the pure code
//! the bot runs, on the shipped data files, and must never panic.

use crate::commands::{Context, TicketData, handle_line};
use crate::config::Config;
use crate::core::directory::{Directory, DirectoryData, Member, Role};
use crate::core::lang::Lang;
use crate::core::search::Weights;
use crate::engine::Knowledge;
use crate::import::{self, ImportContext};
use crate::mail::decide::{MailCase, MailWorld, decide};
use crate::mail::extract::Knowledge as ExtractKnowledge;
use crate::mail::{MailContext, understand};
use chrono::NaiveDate;
use std::collections::HashSet;
use std::path::Path;

/// Everything the pure code reads, loaded once from a checkout: the shipped `bot.toml`, its
/// knowledge files and the sample directory.
pub struct World {
    knowledge: Knowledge,
    directory: Directory,
    context: MailContext,
    today: NaiveDate,
}

impl World {
    /// Loads from the repository at `root`; panics on a broken checkout (a setup error, not a
    /// finding).
    pub fn load(root: &Path) -> World {
        let config = Config::load(&root.join("bot.toml")).expect("bot.toml loads");
        let knowledge = crate::app::load_knowledge(&config).expect("knowledge files load");
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).expect("a date");
        let read = |p: &Option<std::path::PathBuf>| {
            std::fs::read(config.resolve(p.as_ref().expect("a sample file"))).expect("sample file")
        };
        let organisations = import::parse_organisations_csv(&read(&config.directory.organisations))
            .expect("organisations");
        let ids: HashSet<String> = organisations.iter().map(|o| o.id.clone()).collect();
        let empty = Directory::build(
            DirectoryData::default(),
            &knowledge.vocabulary,
            &knowledge.geography,
            today,
        );
        let checked = import::check_members_csv(
            &read(&config.directory.seed_members),
            &ImportContext {
                vocabulary: &knowledge.vocabulary,
                geography: &knowledge.geography,
                organisations: &ids,
                directory: &empty,
            },
        );
        let members: Vec<Member> = checked
            .valid
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                m.id = i as i64 + 1;
                m
            })
            .collect();
        let directory = Directory::build(
            DirectoryData {
                organisations,
                members,
                ..Default::default()
            },
            &knowledge.vocabulary,
            &knowledge.geography,
            today,
        );
        World {
            context: MailContext {
                ticket_prefix: config.mail.ticket_prefix.clone(),
                watched_list: config.mail.watched_list.clone(),
                loop_value: config.mail.address.clone(),
            },
            knowledge,
            directory,
            today,
        }
    }

    /// A raw mail through understanding and the decision for a new request.
    pub fn mail(&self, raw: &[u8]) {
        let k = &self.knowledge;
        let extract = ExtractKnowledge {
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            organisations: &self.directory.organisation_finder,
            domains: &Default::default(),
            directory: Some(&self.directory),
        };
        let mail = understand(
            raw,
            &k.mail_rules,
            &self.context,
            &extract,
            self.today,
            Lang::Fr,
        );
        let _ = crate::mail::auth::verdict_from_results(
            &mail.auth_results,
            "mx.example.org",
            mail.from.as_ref().map(|f| f.address.as_str()).unwrap_or(""),
        );
        let world = MailWorld {
            directory: &self.directory,
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            routing: &[],
            work: &Default::default(),
            weights: &Weights::default(),
            max_results: 5,
            today: self.today,
            ticket_prefix: &self.context.ticket_prefix,
            reopen_closed: true,
            default_lang: Lang::Fr,
            mute_until: chrono::DateTime::UNIX_EPOCH,
        };
        let case = MailCase {
            mail: &mail,
            ticket: None,
            new_number: Some(1),
            secret: "0badcafe",
            bounced_to: &[],
            threaded_by: None,
            sender_verified: false,
            // Trusted, so that forwards reach every branch of the decision.
            forward_trusted: true,
        };
        // Rendered as the engine would; a template error is an answer, not a crash: only
        // panics are findings.
        for action in decide(&case, &world) {
            if let crate::core::actions::Action::SendPromptedMail { body, .. } = action {
                let _ = k.prompts.render(body.lang, &body.key, &body.vars);
            }
        }
    }

    /// A chat line from the sample admin (who may run every command), answered in full.
    pub fn chat(&self, line: &str) {
        let k = &self.knowledge;
        let asker = self
            .directory
            .members
            .iter()
            .find(|m| m.access == Role::Admin);
        let tickets = TicketData::default();
        let ctx = Context {
            registry: &k.registry,
            prompts: &k.prompts,
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            directory: &self.directory,
            asker,
            role: Role::Admin,
            today: self.today,
            default_lang: Lang::Fr,
            max_results: 5,
            weights: &Weights::default(),
            tickets: &tickets,
            ticket_prefix: &self.context.ticket_prefix,
            thread_ticket: None,
            routing: &[],
            now: chrono::Utc::now(),
            sender: &crate::core::address::Address::Email("admin@example.org".into()),
            timezone: chrono_tz::Europe::Paris,
            news: &crate::commands::NewsData::default(),
        };
        let _ = handle_line(&ctx, line, None);
    }

    /// Dates as typed in chat and as found in mail.
    pub fn dates(&self, text: &str) {
        let _ = crate::core::dates::parse_date(text, self.today);
        let _ = crate::core::dates::parse_period(text, self.today);
        let _ = crate::core::dates::split_trailing_date(text, self.today);
        let _ = crate::mail::extract::find_dates(text, self.today);
    }
}

/// `bot.toml` text, loaded and validated as the bot would.
pub fn config(text: &str) {
    let _ = Config::parse(text, Path::new("/nonexistent/bot.toml"));
}
