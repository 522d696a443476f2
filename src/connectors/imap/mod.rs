//! IMAP intake with IDLE push. On each connection: select the mailbox, check UIDVALIDITY
//! against the checkpoint (a change restarts from the first UID; Message-ID dedupe keeps that
//! safe), fetch every UID above the checkpoint, then IDLE until the server announces mail or
//! the IDLE is renewed (before the 29 minutes RFC 2177 allows). Each message's checkpoint is
//! committed with its processing. Lost connections reconnect with backoff and catch up.

use super::{Connector, InboundMode, Registration, Setup, check_as};
use crate::core::actions::Change;
use crate::engine::{Engine, EngineError, MailHandled, MailOptions};
use async_trait::async_trait;
use futures::{FutureExt, TryStreamExt};
use serde::Deserialize;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

pub const REGISTRATION: Registration = Registration {
    kind: "imap",
    enabled_by_default: false,
    check: check_as::<ImapConfig>,
    build,
};

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let mut config: ImapConfig = setup.parse().map_err(anyhow::Error::msg)?;
    config.password_file = config.password_file.map(|p| setup.config.resolve(&p));
    Ok(Arc::new(Imap {
        name: setup.name.to_string(),
        config,
    }))
}

/// A mailbox watched with IDLE. One reader per mailbox: it runs on the leader only.
pub struct Imap {
    name: String,
    config: ImapConfig,
}

#[async_trait]
impl Connector for Imap {
    fn name(&self) -> &str {
        &self.name
    }

    fn inbound_mode(&self) -> InboundMode {
        InboundMode::Leader
    }

    async fn receive(
        &self,
        engine: Arc<Engine>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        tracing::info!(host = %self.config.host, mailbox = %self.config.mailbox, "watching the mailbox with IMAP IDLE");
        run(engine, &self.name, self.config.clone(), shutdown).await;
        Ok(())
    }
}

/// The keyword set on a message moved aside; `doctor` lists such messages too.
pub const QUARANTINE_KEYWORD: &str = "$PasserelleQuarantine";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    /// TLS from the first byte (port 993). Plain IMAP is only for a server on this machine.
    pub tls: bool,
    pub username: String,
    /// Name of the environment variable holding the password.
    pub password_env: String,
    /// A file holding the password (read at each connection); used instead of `password_env`.
    pub password_file: Option<std::path::PathBuf>,
    pub mailbox: String,
    /// IDLE is ended and restarted after this many seconds (servers drop it after 30 min).
    pub idle_renew_secs: u64,
    /// Longest wait between reconnection attempts.
    pub reconnect_max_secs: u64,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: 993,
            tls: true,
            username: String::new(),
            password_env: "PASSERELLE_IMAP_PASSWORD".into(),
            password_file: None,
            mailbox: "INBOX".into(),
            idle_renew_secs: 25 * 60,
            reconnect_max_secs: 300,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("imap: {0}")]
    Protocol(#[from] async_imap::error::Error),
    #[error("imap: {0}")]
    Io(#[from] std::io::Error),
    #[error("imap password: {0}")]
    Password(#[from] super::SecretError),
    #[error("imap: the server closed the connection before its greeting")]
    NoGreeting,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

async fn connect(config: &ImapConfig) -> Result<Box<dyn Stream>, ImapError> {
    let tcp = tokio::net::TcpStream::connect((config.host.as_str(), config.port)).await?;
    if !config.tls {
        return Ok(Box::new(tcp));
    }
    let roots = tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(config.host.clone())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await?;
    Ok(Box::new(stream))
}

async fn login(config: &ImapConfig) -> Result<async_imap::Session<Box<dyn Stream>>, ImapError> {
    let password = super::secret(config.password_file.as_deref(), &config.password_env)?;
    let mut client = async_imap::Client::new(connect(config).await?);
    client.read_response().await?.ok_or(ImapError::NoGreeting)?;
    Ok(client
        .login(&config.username, &password)
        .await
        .map_err(|(e, _)| e)?)
}

/// Whether the mailbox of `config` holds a message with this Message-ID (without brackets).
pub async fn holds_message_id(config: &ImapConfig, message_id: &str) -> Result<bool, ImapError> {
    let mut session = login(config).await?;
    session.examine(&config.mailbox).await?;
    // Quoted for IMAP: a Message-ID of ours never holds a quote or a backslash.
    let query = format!(
        "HEADER Message-ID \"<{}>\"",
        message_id.replace(['"', '\\'], "")
    );
    let found = session.uid_search(query).await?;
    session.logout().await?;
    Ok(!found.is_empty())
}

/// Runs until `shutdown` turns true, reconnecting after every failure with a doubling delay.
pub async fn run(
    engine: Arc<Engine>,
    connector: &str,
    config: ImapConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut delay = Duration::from_secs(1);
    loop {
        match session(&engine, connector, &config, &mut shutdown).await {
            Ok(()) => return,
            Err(error) => {
                tracing::error!(host = %config.host, mailbox = %config.mailbox, %error, retry_in_s = delay.as_secs(), "imap connection lost")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        delay = (delay * 2).min(Duration::from_secs(config.reconnect_max_secs.max(1)));
    }
}

/// `UIDVALIDITY:UID`, as saved in the connector's state.
fn checkpoint_value(uid_validity: u32, uid: i64) -> String {
    format!("{uid_validity}:{uid}")
}

fn parse_checkpoint(value: &str) -> Option<(u32, i64)> {
    let (validity, uid) = value.split_once(':')?;
    Some((validity.parse().ok()?, uid.parse().ok()?))
}

/// One connection: catch up, then IDLE and catch up again on each change. Returns Ok only on
/// shutdown.
async fn session(
    engine: &Engine,
    connector: &str,
    config: &ImapConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), ImapError> {
    let mut session = login(config).await?;
    let selected = session.select(&config.mailbox).await?;
    let uid_validity = selected.uid_validity.unwrap_or(0);
    let saved = engine
        .connector_state(connector, &config.mailbox)
        .await?
        .as_deref()
        .and_then(parse_checkpoint);
    let mut last_uid = match saved {
        Some((validity, uid)) if validity == uid_validity => uid,
        Some((validity, _)) => {
            tracing::warn!(mailbox = %config.mailbox, old = validity, new = uid_validity, "UIDVALIDITY changed: resynchronising from the first message");
            0
        }
        None => 0,
    };
    tracing::info!(mailbox = %config.mailbox, uid_validity, last_uid, "imap connected");
    let renew = Duration::from_secs(config.idle_renew_secs.clamp(10, 29 * 60));
    loop {
        // Catch up on everything above the checkpoint.
        let fetched: Vec<_> = session
            .uid_fetch(format!("{}:*", last_uid + 1), "(UID BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        for fetch in fetched {
            let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
                continue;
            };
            let uid = i64::from(uid);
            // "n:*" always returns the last message, even when it is below n.
            if uid <= last_uid {
                continue;
            }
            let checkpoint = checkpoint_value(uid_validity, uid);
            let outcome = AssertUnwindSafe(engine.handle_mail_with(
                body,
                chrono::Utc::now(),
                MailOptions {
                    extra: vec![Change::ConnectorState {
                        connector: connector.to_string(),
                        key: config.mailbox.clone(),
                        value: checkpoint.clone(),
                    }],
                    ..Default::default()
                },
            ))
            .catch_unwind()
            .await;
            let (problem, committed) = match outcome {
                Ok(Ok(MailHandled::Done { unreadable, .. })) => (
                    unreadable.map(|reason| format!("unreadable message: {reason}")),
                    true,
                ),
                Ok(Ok(MailHandled::Duplicate)) => (None, false),
                Ok(Err(error)) if error.is_transient() => return Err(error.into()),
                Ok(Err(error)) => (Some(error.to_string()), false),
                Err(panic) => (
                    Some(format!(
                        "handling panicked: {}",
                        crate::panic_message(panic.as_ref())
                    )),
                    false,
                ),
            };
            if let Some(error) = problem {
                // Marked on the server and recorded, then passed: it never blocks the next one.
                let marked = session
                    .uid_store(
                        uid.to_string(),
                        format!("+FLAGS ({QUARANTINE_KEYWORD} \\Flagged)"),
                    )
                    .await;
                let location = match marked {
                    Ok(stream) => {
                        let _: Vec<_> = stream.try_collect().await.unwrap_or_default();
                        format!(
                            "{} UID {uid} (flagged {QUARANTINE_KEYWORD})",
                            config.mailbox
                        )
                    }
                    Err(flag_error) => {
                        tracing::warn!(uid, %flag_error, "cannot flag a quarantined message");
                        format!("{} UID {uid}", config.mailbox)
                    }
                };
                tracing::warn!(source = connector, uid, %error, %location, "message quarantined");
                engine
                    .quarantine(
                        connector,
                        &format!("{}:{uid_validity}:{uid}", config.mailbox),
                        &error,
                        Some(&location),
                    )
                    .await?;
            }
            if !committed {
                // Nothing else to keep atomic with: move the checkpoint on alone.
                engine
                    .save_connector_state(connector, &config.mailbox, &checkpoint)
                    .await?;
            }
            last_uid = uid;
        }
        if *shutdown.borrow() {
            session.logout().await?;
            return Ok(());
        }
        let mut idle = session.idle();
        idle.init().await?;
        let (wait, stop) = idle.wait_with_timeout(renew);
        // The server's keep-alives reset the library's timeout, so renew on the wall clock too.
        tokio::select! {
            result = wait => { result?; }
            _ = tokio::time::sleep(renew) => {}
            _ = shutdown.changed() => {}
        }
        drop(stop);
        session = idle.done().await?;
    }
}
