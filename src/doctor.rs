//! `passerelle doctor`: checks the config, the command, prompt and data files, the store, and
//! what the running instances recorded. Every problem is reported; one does not hide the next.

use crate::app;
use crate::config::Config;
use crate::store::Store;
use std::fmt;
use std::path::Path;

/// One finding, printed as `ok   …` or `FAIL …`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub ok: bool,
    pub summary: String,
    /// Lines printed under the summary, such as the quarantined items.
    pub details: Vec<String>,
}

impl Check {
    pub fn ok(summary: impl Into<String>) -> Self {
        Check {
            ok: true,
            summary: summary.into(),
            details: Vec::new(),
        }
    }

    pub fn fail(summary: impl Into<String>) -> Self {
        Check {
            ok: false,
            ..Check::ok(summary)
        }
    }

    fn new(ok: bool, summary: String) -> Self {
        if ok {
            Check::ok(summary)
        } else {
            Check::fail(summary)
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            if self.ok { "ok   " } else { "FAIL " },
            self.summary
        )?;
        for detail in &self.details {
            write!(f, "\n       {detail}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
    /// False when the config could not be loaded, so nothing else was checked.
    pub config_loaded: bool,
}

impl DoctorReport {
    pub fn problems(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }

    /// The closing line, when there are problems to count; a config that cannot be loaded is
    /// the only problem there can be, and its line says so.
    pub fn conclusion(&self) -> Option<String> {
        let problems = self.problems();
        (self.config_loaded && problems > 0).then(|| format!("{problems} problem(s)"))
    }
}

/// Checks everything `path` configures; `on_check` hears each finding as it is made, since
/// opening a remote store can take a while.
pub async fn doctor(path: &Path, mut on_check: impl FnMut(&Check)) -> anyhow::Result<DoctorReport> {
    let mut report = DoctorReport::default();
    let mut record = |check: Check| {
        on_check(&check);
        report.checks.push(check);
    };
    let config = match Config::load(path) {
        Ok(config) => {
            record(Check::ok(format!("config {}", path.display())));
            config
        }
        Err(e) => {
            record(Check::fail(e.to_string()));
            return Ok(report);
        }
    };
    match app::load_knowledge(&config) {
        Ok(knowledge) => {
            record(Check::ok(format!(
                "{} commands, {} prompts per language, {} topics, {} departments",
                knowledge.registry.commands().len(),
                knowledge.prompts.keys().count(),
                knowledge.vocabulary.len(),
                knowledge.geography.departments().len()
            )));
            let samples = config.resolve(&config.bot.prompts_dir).join("samples.toml");
            match crate::prompts::render_samples(&knowledge.prompts, &samples) {
                Ok(n) => record(Check::ok(format!(
                    "{n} prompt renderings from {}",
                    samples.display()
                ))),
                Err(errors) => errors
                    .into_iter()
                    .for_each(|e| record(Check::fail(e.to_string()))),
            }
        }
        Err(errors) => errors.into_iter().for_each(|e| record(Check::fail(e))),
    }
    match crate::connectors::instances(&config, crate::connectors::REGISTRY) {
        Ok(found) => {
            record(Check::ok(format!(
                "connectors: {}",
                if found.is_empty() {
                    "none enabled".to_string()
                } else {
                    found
                        .iter()
                        .map(|c| match c.registration.kind {
                            kind if kind == c.name => c.name.clone(),
                            kind => format!("{} ({kind})", c.name),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
            social(&config, &found, &mut record);
            // The homeserver, the bot's session, device and rooms.
            #[cfg(feature = "matrix")]
            for instance in found
                .iter()
                .filter(|i| i.registration.kind == crate::connectors::matrix::REGISTRATION.kind)
            {
                let setup = crate::connectors::Setup {
                    name: &instance.name,
                    section: &instance.section,
                    config: &config,
                };
                crate::connectors::matrix::doctor(&setup, &mut record).await;
            }
            // Every other connector that can say more (a social network's account).
            for instance in found.iter().filter(|i| i.registration.kind != "matrix") {
                let setup = crate::connectors::Setup {
                    name: &instance.name,
                    section: &instance.section,
                    config: &config,
                };
                match (instance.registration.build)(&setup) {
                    Ok(connector) => connector.health().await.into_iter().for_each(&mut record),
                    Err(e) => record(Check::fail(format!("{}: {e:#}", instance.name))),
                }
            }
        }
        Err(problems) => problems.into_iter().for_each(|p| record(Check::fail(p))),
    }
    match crate::store::open(&config.store_url(), 1).await {
        Ok(store) => match store.migrate().await {
            Ok(()) => {
                record(Check::ok(format!(
                    "store {} migrated: {} members, {} organisations",
                    store.backend(),
                    store.member_count().await.unwrap_or(-1),
                    store.organisation_count().await.unwrap_or(-1)
                )));
                runtime(store.as_ref(), &mut record).await?;
            }
            Err(e) => record(Check::fail(format!("store: {e}"))),
        },
        Err(e) => record(Check::fail(format!("store {}: {e}", config.store_url()))),
    }
    report.config_loaded = true;
    Ok(report)
}

/// What the running instances recorded: task health, the outbox, quarantined items.
/// The social relay's settings against the connectors that run: each network enabled and of a
/// social kind, and a review place when drafts can come from the list or from feeds.
fn social(
    config: &Config,
    found: &[crate::connectors::Instance<'_>],
    record: &mut impl FnMut(Check),
) {
    let social = &config.social;
    if social.networks.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    for name in &social.networks {
        match found.iter().find(|i| &i.name == name) {
            None => problems.push(format!(
                "social.networks: [connectors.{name}] is not enabled: approved drafts would wait for it forever"
            )),
            Some(i) if !["mastodon", "bluesky", "x"].contains(&i.registration.kind) => problems
                .push(format!(
                    "social.networks: [connectors.{name}] is of type {}, not mastodon, bluesky or x",
                    i.registration.kind
                )),
            Some(_) => {}
        }
    }
    let from_outside =
        config.mail.watched_list.is_some() || found.iter().any(|i| i.registration.kind == "feeds");
    if social.review_connector.is_none() && from_outside {
        problems.push(
            "social: drafts from the list or from feeds are shown to nobody: set review_connector and review_target (a room of the core team)".into(),
        );
    }
    if problems.is_empty() {
        record(Check::ok(format!(
            "social relay: {} ; drafts reviewed {}",
            social.networks.join(", "),
            match (&social.review_connector, &social.review_target) {
                (Some(connector), Some(target)) => format!("in {target} ({connector})"),
                _ => "where they are proposed".into(),
            }
        )));
    }
    problems.into_iter().for_each(|p| record(Check::fail(p)));
}

async fn runtime(store: &dyn Store, record: &mut impl FnMut(Check)) -> anyhow::Result<()> {
    if let Some((holder, until)) = store.lease_holder(crate::leadership::LEASE).await? {
        let live = until > chrono::Utc::now();
        record(Check::ok(format!(
            "leader for the singleton jobs: {holder}, lease {} {}",
            if live { "until" } else { "ran out at" },
            until.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    for task in store.task_health().await? {
        record(Check::new(
            task.state != "restarting",
            format!(
                "task {} on {}: {} since {}, {} restart(s){}",
                task.name,
                task.instance,
                task.state,
                task.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
                task.restarts,
                task.last_error
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let counts = store.outbox_counts().await?;
    let count = |status: &str| {
        counts
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let dead = count("dead");
    record(Check::new(
        dead == 0,
        format!(
            "outbox: {} waiting, {} sent, {dead} dead, {} dropped{}",
            count("pending"),
            count("done"),
            count("dropped"),
            if dead > 0 {
                " (passerelle outbox list --dead; passerelle outbox retry --all-dead)"
            } else {
                ""
            }
        ),
    ));
    let quarantined = store.quarantine_count().await?;
    if quarantined > 0 {
        let mut check = Check::fail(format!(
            "{quarantined} inbound item(s) quarantined after failing:"
        ));
        check.details = store
            .quarantined(10)
            .await?
            .into_iter()
            .map(|item| {
                format!(
                    "{} {} at {}: {}{}",
                    item.source,
                    item.external_id,
                    item.at.format("%Y-%m-%d %H:%M"),
                    item.error,
                    item.location
                        .map(|l| format!(" (moved to {l})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        record(check);
    } else {
        record(Check::ok("no inbound item quarantined"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_prints_its_verdict_then_its_details_indented() {
        assert_eq!(
            Check::ok("config bot.toml").to_string(),
            "ok   config bot.toml"
        );
        let mut check = Check::fail("2 inbound item(s) quarantined after failing:");
        check.details = vec!["imap 17 at 2026-01-05 09:12: boom".into(), "cli 3".into()];
        assert_eq!(
            check.to_string(),
            "FAIL 2 inbound item(s) quarantined after failing:\n       \
             imap 17 at 2026-01-05 09:12: boom\n       cli 3"
        );
    }

    #[test]
    fn the_conclusion_counts_failed_checks_not_lines() {
        let mut quarantine = Check::fail("1 inbound item(s) quarantined after failing:");
        quarantine.details = vec!["a".into(), "b".into()];
        let report = DoctorReport {
            checks: vec![Check::ok("config"), quarantine, Check::fail("store: down")],
            config_loaded: true,
        };
        assert_eq!(report.problems(), 2);
        assert_eq!(report.conclusion().as_deref(), Some("2 problem(s)"));
    }

    #[test]
    fn no_conclusion_when_all_is_well_or_the_config_did_not_load() {
        let healthy = DoctorReport {
            checks: vec![Check::ok("config"), Check::ok("store")],
            config_loaded: true,
        };
        assert_eq!(healthy.problems(), 0);
        assert_eq!(healthy.conclusion(), None);
        let unreadable = DoctorReport {
            checks: vec![Check::fail("bot.toml: no such file")],
            config_loaded: false,
        };
        assert_eq!(unreadable.problems(), 1);
        assert_eq!(unreadable.conclusion(), None);
    }

    #[tokio::test]
    async fn a_missing_config_is_the_one_finding() {
        let mut heard = Vec::new();
        let report = doctor(Path::new("/nonexistent/bot.toml"), |c| {
            heard.push(c.clone())
        })
        .await
        .unwrap();
        assert!(!report.config_loaded);
        assert_eq!(report.checks.len(), 1);
        assert!(!report.checks[0].ok);
        assert_eq!(heard, report.checks);
    }
}
