//! Builds everything from the config: knowledge files, store, seed data, engine, connectors.

use crate::commands::{HANDLERS, Registry};
use crate::config::Config;
use crate::connectors::InboundMode;
use crate::core::directory::Directory;
use crate::core::geo::Geography;
use crate::core::inbound::ReplyTo;
use crate::core::search::Weights;
use crate::core::topics::Vocabulary;
use crate::engine::{Engine, EngineSettings, Knowledge, OutboxWorker, RetryPolicy};
use crate::import::{self, ImportContext};
use crate::prompts::Prompts;
use crate::store::{self, Store};
use crate::supervisor::{Backoff, Supervisor};
use anyhow::{Context as _, anyhow};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Loads commands, prompts, topics and geography; every problem is reported with its file.
pub fn load_knowledge(config: &Config) -> Result<Knowledge, Vec<String>> {
    let mut problems = Vec::new();
    let registry = Registry::load(&config.resolve(&config.bot.commands_dir), HANDLERS)
        .map_err(|errors| problems.extend(errors.iter().map(ToString::to_string)))
        .ok();
    let prompts = Prompts::load(&config.resolve(&config.bot.prompts_dir))
        .map_err(|errors| problems.extend(errors.iter().map(ToString::to_string)))
        .ok();
    let topics_path = config.resolve(&config.directory.topics);
    let vocabulary = std::fs::read_to_string(&topics_path)
        .map_err(|e| e.to_string())
        .and_then(|source| Vocabulary::from_toml(&source).map_err(|e| e.to_string()))
        .map_err(|e| problems.push(format!("{}: {e}", topics_path.display())))
        .ok();
    let geo_dir = config.resolve(&config.directory.geography_dir);
    let read = |name: &str| {
        std::fs::read_to_string(geo_dir.join(name))
            .map_err(|e| format!("{}: {e}", geo_dir.join(name).display()))
    };
    let geography = read("prefectures.csv")
        .and_then(|prefectures| Ok((prefectures, read("regions.csv")?, read("communes.csv")?)))
        .and_then(|(p, r, c)| {
            Geography::from_csv(&p, &r)
                .and_then(|g| g.with_communes(&c))
                .map_err(|e| format!("{}: {e}", geo_dir.display()))
        })
        .map_err(|e| problems.push(e))
        .ok();
    let rules_path = config.resolve(&config.mail.rules);
    let mail_rules = std::fs::read_to_string(&rules_path)
        .map_err(|e| e.to_string())
        .and_then(|source| crate::mail::MailRules::from_toml(&source))
        .map_err(|e| problems.push(format!("{}: {e}", rules_path.display())))
        .ok();
    match (registry, prompts, vocabulary, geography, mail_rules) {
        (Some(registry), Some(prompts), Some(vocabulary), Some(geography), Some(mail_rules))
            if problems.is_empty() =>
        {
            Ok(Knowledge {
                registry,
                prompts,
                vocabulary,
                geography,
                mail_rules,
            })
        }
        _ => Err(problems),
    }
}

pub fn engine_settings(config: &Config) -> anyhow::Result<EngineSettings> {
    let timezone = config.timezone().map_err(|e| anyhow!(e))?;
    let hours = |h: f64| chrono::Duration::minutes((h * 60.0).round() as i64);
    Ok(EngineSettings {
        calendar: crate::core::business_hours::BusinessCalendar {
            timezone,
            opens: config.tickets.opens,
            closes: config.tickets.closes,
            closed_days: config.tickets.closed_days.clone(),
        },
        reminders: crate::core::reminders::ReminderPolicy {
            remind_after: hours(config.tickets.remind_after_hours),
            escalate_after: hours(config.tickets.escalate_after_hours),
        },
        escalate_to: config.tickets.escalate_to.clone(),
        default_lang: config.bot.default_language,
        timezone: config.timezone().map_err(|e| anyhow!(e))?,
        max_results: config.search.max_results,
        weights: Weights::default(),
        admins: addresses(&config.access.admins)?,
        core_team: addresses(&config.access.core_team)?,
        proposal_window_days: config.search.proposal_window_days,
        mail_domain: config.mail.domain().to_string(),
        mail_connector: config.mail.connector.clone(),
        team: channel(&config.tickets.team_connector, &config.tickets.team_target),
        list_relay: channel(
            &config.mail.list_relay_connector,
            &config.mail.list_relay_target,
        ),
        social: crate::engine::SocialSettings {
            channels: social_channels(config)?,
            review: channel(
                &config.social.review_connector,
                &config.social.review_target,
            ),
        },
        mail: crate::engine::MailSettings {
            context: crate::mail::MailContext {
                ticket_prefix: config.mail.ticket_prefix.clone(),
                watched_list: config.mail.watched_list.clone(),
                loop_value: config.mail.address.clone(),
            },
            routing: config.routing.rules.clone(),
            mute_for: chrono::Duration::days(i64::from(config.mail.mute_days)),
            max_per_recipient_hour: i64::from(config.mail.max_per_recipient_hour),
            max_per_recipient_day: i64::from(config.mail.max_per_recipient_day),
            max_per_ticket_hour: i64::from(config.mail.max_per_ticket_hour),
            reopen_closed: config.mail.reopen_closed,
            authentication: config.mail.authentication.clone(),
        },
    })
}

/// The networks of `[social] networks`, each with the network its connector's type speaks to.
fn social_channels(config: &Config) -> anyhow::Result<Vec<crate::core::news::Channel>> {
    use crate::core::social::Network;
    config
        .social
        .networks
        .iter()
        .map(|name| {
            let section = config.connectors.0.get(name);
            let kind = section
                .and_then(|s| s.get("type"))
                .and_then(|t| t.as_str())
                .unwrap_or(name);
            let network = match kind {
                "mastodon" => Network::Mastodon,
                "bluesky" => Network::Bluesky,
                "x" => Network::X,
                other => {
                    return Err(anyhow!(
                        "social.networks: [connectors.{name}] is of type '{other}', not mastodon, bluesky or x"
                    ));
                }
            };
            Ok(crate::core::news::Channel {
                connector: name.clone(),
                network,
                visibility: config.social.mastodon_visibility,
            })
        })
        .collect()
}

/// The access lists of `bot.toml`, parsed (the config checked them on load).
/// A connector and a place in its terms, given together in `bot.toml` (checked at load).
fn channel(connector: &Option<String>, target: &Option<String>) -> Option<(String, ReplyTo)> {
    connector
        .clone()
        .zip(target.as_deref().map(ReplyTo::from_target))
}

fn addresses(list: &[String]) -> anyhow::Result<Vec<crate::core::address::Address>> {
    list.iter()
        .map(|a| crate::core::address::Address::parse(a).map_err(anyhow::Error::from))
        .collect()
}

pub fn retry_policy(config: &Config) -> RetryPolicy {
    RetryPolicy {
        retry_for: Duration::from_secs(config.outbox.retry_for_hours * 3600),
        initial_backoff: Duration::from_millis(config.outbox.initial_backoff_ms),
        max_backoff: Duration::from_secs(config.outbox.max_backoff_secs),
        lease: Duration::from_secs(config.outbox.lease_secs),
    }
}

/// Opens the store, runs migrations, seeds an empty store, and returns a ready engine.
pub async fn build_engine(config: &Config) -> anyhow::Result<Arc<Engine>> {
    let knowledge = load_knowledge(config)
        .map_err(|problems| anyhow!("invalid files:\n  {}", problems.join("\n  ")))?;
    let store = store::open(&config.store_url(), config.store.max_connections)
        .await
        .context("cannot open the store")?;
    // Instances started together on one empty database take turns: one migrates and loads
    // the seed data, the others find it done.
    store.lock_setup().await?;
    let setup = async {
        store.migrate().await.context("cannot migrate the store")?;
        seed(config, store.as_ref(), &knowledge).await
    }
    .await;
    store.unlock_setup().await?;
    setup?;
    Ok(Arc::new(Engine::new(
        store,
        Arc::new(knowledge),
        engine_settings(config)?,
    )?))
}

/// Fills an empty store from the files named in `[directory]`: organisations, then members,
/// then past talks. A store that already has them is left alone.
async fn seed(config: &Config, store: &dyn Store, knowledge: &Knowledge) -> anyhow::Result<()> {
    if let Some(path) = &config.directory.organisations
        && store.organisation_count().await? == 0
    {
        let path = config.resolve(path);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let organisations = import::parse_organisations_csv(&bytes)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let n = store.upsert_organisations(&organisations).await?;
        tracing::info!(organisations = n, file = %path.display(), "organisations loaded");
    }
    if let Some(path) = &config.directory.seed_members
        && store.member_count().await? == 0
    {
        let path = config.resolve(path);
        let checked = check_members_file(store, knowledge, &path).await?;
        if !checked.fatal.is_empty() || !checked.errors.is_empty() {
            let mut lines = checked.fatal.clone();
            lines.extend(
                checked
                    .errors
                    .iter()
                    .map(|e| format!("line {}: {}", e.line, e.reason)),
            );
            return Err(anyhow!(
                "{}: invalid seed members:\n  {}",
                path.display(),
                lines.join("\n  ")
            ));
        }
        let counts = store
            .import_members(&checked.valid, chrono::Utc::now())
            .await?;
        tracing::info!(members = counts.created, file = %path.display(), "sample members loaded");
        if let Some(path) = &config.directory.seed_interventions {
            let path = config.resolve(path);
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let emails: HashSet<String> = checked.valid.iter().map(|m| m.email.clone()).collect();
            let talks = import::check_interventions_csv(
                &bytes,
                &emails,
                &knowledge.vocabulary,
                chrono::Utc::now().date_naive(),
            );
            if let Some(problem) = talks.fatal.first().cloned().or_else(|| {
                talks
                    .errors
                    .first()
                    .map(|e| format!("line {}: {}", e.line, e.reason))
            }) {
                return Err(anyhow!("{}: {problem}", path.display()));
            }
            let added = store.import_interventions(&talks.valid).await?;
            tracing::info!(interventions = added, file = %path.display(), "sample talks loaded");
        }
    }
    Ok(())
}

/// Validates a members file (CSV, or TOML by extension) against the store's organisations and
/// directory.
pub async fn check_members_file(
    store: &dyn Store,
    knowledge: &Knowledge,
    path: &Path,
) -> anyhow::Result<import::Checked<crate::core::directory::Member>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let today = chrono::Utc::now().date_naive();
    let data = store.load_directory(today).await?;
    let organisations: HashSet<String> = data.organisations.iter().map(|o| o.id.clone()).collect();
    let directory = Directory::build(data, &knowledge.vocabulary, &knowledge.geography, today);
    let ctx = ImportContext {
        vocabulary: &knowledge.vocabulary,
        geography: &knowledge.geography,
        organisations: &organisations,
        directory: &directory,
    };
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    Ok(if is_toml {
        import::check_members_toml(&bytes, &ctx)
    } else {
        import::check_members_csv(&bytes, &ctx)
    })
}

/// The outbox worker with the console connector registered under `name`.
pub fn console_worker(config: &Config, engine: &Engine, name: &str) -> OutboxWorker {
    let mut worker = OutboxWorker::new(
        engine.store().clone(),
        retry_policy(config),
        engine.outbox_signal(),
    );
    worker.register(name, Arc::new(crate::connectors::console::ConsoleOutbound));
    worker
}

/// A name for this running process, unique across the instances sharing a store.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}

/// `passerelle run`: every enabled connector, the reminders and the outbox worker, until Ctrl-C
/// or the end of the console's input.
pub async fn run(config: Config) -> anyhow::Result<()> {
    run_with(config, crate::connectors::REGISTRY, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Runs the bot with the connector kinds of `registry` until `stop` completes or a foreground
/// connector (the console) ends. Each connector's inbound side is supervised: restarted with
/// backoff when it fails or panics while the others go on; a connector that must not run twice
/// (an IMAP mailbox) runs on the elected leader only.
pub async fn run_with(
    config: Config,
    registry: &[crate::connectors::Registration],
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let connectors = crate::connectors::build(&config, registry)?;
    let engine = build_engine(&config).await?;
    engine.store().claim_instance()?;
    let (stop_all, stopped) = tokio::sync::watch::channel(false);
    let instance = instance_name();
    let mut supervisor = Supervisor::new(
        engine.store().clone(),
        instance.clone(),
        stopped.clone(),
        Backoff::default(),
    );
    let mut worker = OutboxWorker::new(
        engine.store().clone(),
        retry_policy(&config),
        engine.outbox_signal(),
    );
    worker.report_receipts(engine.clone());
    for connector in &connectors {
        if let Some(outbound) = connector.outbound() {
            worker.register(connector.name(), outbound);
        }
    }
    if !connectors.iter().any(|c| c.name() == config.mail.connector) {
        tracing::warn!(connector = %config.mail.connector, "mail.connector names no enabled connector: mail waits in the outbox");
    }
    let worker = Arc::new(worker);
    supervisor.spawn("outbox", move |stop| {
        let worker = worker.clone();
        async move {
            worker.run(stop).await;
            Ok(())
        }
    });
    // The singleton jobs run on the elected leader only.
    let (leader, leads) = tokio::sync::watch::channel(false);
    {
        let (store, instance) = (engine.store().clone(), instance.clone());
        let ttl = Duration::from_secs(config.store.leader_lease_secs);
        supervisor.spawn("leadership", move |stop| {
            crate::leadership::campaign(store.clone(), instance.clone(), ttl, leader.clone(), stop)
        });
    }
    let mut foreground = None;
    for connector in connectors {
        let name = connector.name().to_string();
        let engine = engine.clone();
        match connector.inbound_mode() {
            InboundMode::None => {}
            InboundMode::EveryInstance => supervisor.spawn(&name, move |stop| {
                let (connector, engine) = (connector.clone(), engine.clone());
                async move { connector.receive(engine, stop).await }
            }),
            InboundMode::Leader => {
                let leads = leads.clone();
                supervisor.spawn(&name, move |stop| {
                    let (connector, engine) = (connector.clone(), engine.clone());
                    crate::leadership::while_leader(leads.clone(), stop, move |halt| {
                        let (connector, engine) = (connector.clone(), engine.clone());
                        async move { connector.receive(engine, halt).await }
                    })
                })
            }
            InboundMode::Foreground if foreground.is_some() => {
                anyhow::bail!("connectors.{name}: only one connector can run in the foreground")
            }
            InboundMode::Foreground => foreground = Some(connector),
        }
    }
    {
        let engine = engine.clone();
        let interval = Duration::from_secs(config.tickets.check_interval_secs.max(1));
        supervisor.spawn("reminders", move |stop| {
            let engine = engine.clone();
            crate::leadership::while_leader(leads.clone(), stop, move |halt| {
                let engine = engine.clone();
                async move {
                    engine.run_reminders(interval, halt).await;
                    Ok(())
                }
            })
        });
    }
    tracing::info!(store = engine.store().backend(), %instance, "passerelle running");
    let result = match foreground {
        Some(connector) => tokio::select! {
            result = connector.receive(engine.clone(), stopped.clone()) => result,
            () = stop => Ok(()),
        },
        None => {
            stop.await;
            Ok(())
        }
    };
    let _ = stop_all.send(true);
    supervisor.join().await;
    result
}
