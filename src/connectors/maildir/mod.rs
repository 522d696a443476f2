//! Maildir intake: each file in `new/` goes through the engine, then moves to `cur/`. A crash
//! between the two leaves the file in `new/`; the next scan hands it over again and the engine
//! recognises its Message-ID, so nothing is lost or doubled.

use super::{Connector, InboundMode, Registration, Setup, check_as};
use crate::engine::{Engine, EngineError, MailHandled};
use async_trait::async_trait;
use futures::FutureExt;
use serde::Deserialize;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const REGISTRATION: Registration = Registration {
    kind: "maildir",
    enabled_by_default: false,
    check: check_as::<MaildirConfig>,
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaildirConfig {
    /// The Maildir folder whose `new/` is read (relative to `bot.toml`).
    pub path: PathBuf,
    /// How often `new/` is looked at.
    pub scan_interval_ms: u64,
}

impl Default for MaildirConfig {
    fn default() -> Self {
        MaildirConfig {
            path: "mail/inbox".into(),
            scan_interval_ms: 2000,
        }
    }
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let config: MaildirConfig = setup.parse().map_err(anyhow::Error::msg)?;
    let root = setup.config.resolve(&config.path);
    prepare(&root)?;
    Ok(Arc::new(Maildir {
        name: setup.name.to_string(),
        root,
        interval: Duration::from_millis(config.scan_interval_ms.max(10)),
    }))
}

/// Mail dropped in a Maildir folder by the MTA (or by hand).
pub struct Maildir {
    name: String,
    root: PathBuf,
    interval: Duration,
}

#[async_trait]
impl Connector for Maildir {
    fn name(&self) -> &str {
        &self.name
    }

    fn inbound_mode(&self) -> InboundMode {
        InboundMode::EveryInstance
    }

    async fn receive(
        &self,
        engine: Arc<Engine>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        tracing::info!(maildir = %self.root.display(), "reading mail dropped in the maildir");
        run(
            engine,
            &self.name,
            self.root.clone(),
            self.interval,
            shutdown,
        )
        .await;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Creates `new/`, `cur/`, `tmp/` and `quarantine/` when missing.
pub fn prepare(root: &Path) -> Result<(), MaildirError> {
    for sub in ["new", "cur", "tmp", QUARANTINE] {
        let path = root.join(sub);
        std::fs::create_dir_all(&path).map_err(|source| MaildirError::Io { path, source })?;
    }
    Ok(())
}

/// Where files that cannot be handled go, beside `cur/`; `doctor` lists them.
pub const QUARANTINE: &str = "quarantine";

/// The longest file name most file systems accept, in bytes.
const NAME_MAX: usize = 255;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub handled: usize,
    pub duplicates: usize,
    pub quarantined: usize,
}

/// The name a handled file takes in `cur/`: its own with ":2,S" (seen, in Maildir's info
/// syntax), shortened with a hash of the whole name when that would be too long.
fn cur_name(name: &str) -> String {
    const INFO: &str = ":2,S";
    if name.len() + INFO.len() <= NAME_MAX {
        return format!("{name}{INFO}");
    }
    let hash = {
        use std::hash::{Hash, Hasher};
        // FNV-style stable hash: the same long name always maps to the same short one.
        let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
        name.hash(&mut hasher);
        hasher.finish()
    };
    let mut cut = 200.min(name.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}.{hash:016x}{INFO}", &name[..cut])
}

struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Hands every message waiting in `new/` to the engine, oldest name first, and files it in
/// `cur/` once handled. A message whose handling panics, fails for a reason that retrying
/// cannot fix, or that cannot be parsed at all is moved to `quarantine/`, recorded, and the
/// scan goes on. A store error stops the scan: the rest waits for the next one.
pub async fn scan_once(
    engine: &Engine,
    connector: &str,
    root: &Path,
) -> Result<ScanReport, MaildirError> {
    let new = root.join("new");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
        .map_err(|source| MaildirError::Io {
            path: new.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut report = ScanReport::default();
    for path in names {
        let raw = std::fs::read(&path).map_err(|source| MaildirError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outcome = AssertUnwindSafe(engine.handle_mail(&raw, chrono::Utc::now()))
            .catch_unwind()
            .await;
        let problem = match outcome {
            Ok(Ok(MailHandled::Done { unreadable, .. })) => {
                report.handled += 1;
                unreadable.map(|reason| format!("unreadable message: {reason}"))
            }
            Ok(Ok(MailHandled::Duplicate)) => {
                report.duplicates += 1;
                None
            }
            Ok(Err(error)) if error.is_transient() => return Err(error.into()),
            Ok(Err(error)) => Some(error.to_string()),
            Err(panic) => Some(format!(
                "handling panicked: {}",
                crate::panic_message(panic.as_ref())
            )),
        };
        match problem {
            None => {
                // Already committed: a file that cannot be moved is a duplicate on the next
                // scan, so it is logged and the scan goes on.
                let target = root.join("cur").join(cur_name(&name));
                if let Err(error) = std::fs::rename(&path, &target) {
                    tracing::error!(source = "maildir", id = %name, %error, "cannot move a handled message to cur/");
                }
            }
            Some(error) => {
                report.quarantined += 1;
                let target = root.join(QUARANTINE).join(cur_name(&name));
                tracing::warn!(source = "maildir", id = %name, %error, moved_to = %target.display(), "message quarantined");
                std::fs::create_dir_all(root.join(QUARANTINE))
                    .and_then(|()| std::fs::rename(&path, &target))
                    .map_err(|source| MaildirError::Io {
                        path: path.clone(),
                        source,
                    })?;
                engine
                    .quarantine(
                        connector,
                        &name,
                        &error,
                        Some(&target.display().to_string()),
                    )
                    .await?;
            }
        }
    }
    Ok(report)
}

/// Scans every `interval` until `shutdown` turns true; errors are logged and retried.
pub async fn run(
    engine: Arc<Engine>,
    connector: &str,
    root: PathBuf,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match scan_once(&engine, connector, &root).await {
            Ok(report) if report.handled + report.duplicates + report.quarantined > 0 => {
                tracing::info!(maildir = %root.display(), handled = report.handled, duplicates = report.duplicates, quarantined = report.quarantined, "maildir scanned");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(maildir = %root.display(), %error, "maildir scan failed; will retry")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
