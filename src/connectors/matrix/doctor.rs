//! `passerelle doctor` for a Matrix connector: the homeserver, the saved session, the device's
//! trust, the rooms. Nothing is synced and nobody logs in: the session the bot saved is
//! restored from its store, which the running bot may be using at the same time.

use super::{MatrixConfig, config_of, open_client, saved_session, session_path, trust};
use crate::connectors::Setup;
use crate::core::inbound::ReplyTo;
use crate::doctor::Check;
use matrix_sdk::Client;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::encryption::EncryptionSettings;
use matrix_sdk::ruma::api::client::discovery::get_supported_versions;
use matrix_sdk::ruma::api::client::membership::joined_rooms;
use matrix_sdk::ruma::api::client::state::get_state_event_for_key;
use matrix_sdk::ruma::events::StateEventType;
use matrix_sdk::ruma::{OwnedRoomId, RoomId};
use std::time::Duration;

/// Records one line per check, each failing one naming its fix. A check that needs what an
/// earlier one failed to get is not made.
pub async fn doctor(setup: &Setup<'_>, record: &mut dyn FnMut(Check)) {
    let name = setup.name;
    let config = match config_of(setup) {
        Ok(config) => config,
        Err(error) => return record(Check::fail(format!("{name}: {error}"))),
    };
    let url = &config.homeserver;
    match versions(&config).await {
        Ok(versions) => record(Check::ok(format!(
            "{name}: homeserver {url} answers (client API {})",
            versions
                .last()
                .map(String::as_str)
                .unwrap_or("of no version")
        ))),
        Err(error) => {
            return record(Check::fail(format!(
                "{name}: homeserver {url} unreachable: {error} (check `homeserver` in \
                 [connectors.{name}] and that the server is up)"
            )));
        }
    }
    let Some(client) = logged_in(name, &config, record).await else {
        return;
    };
    device(name, &client, &config, record).await;
    rooms(name, &client, &config, setup, record).await;
}

/// `GET /_matrix/client/versions`, without the store and without retrying.
async fn versions(config: &MatrixConfig) -> anyhow::Result<Vec<String>> {
    let client = Client::builder()
        .homeserver_url(&config.homeserver)
        .request_config(
            RequestConfig::new()
                .timeout(Duration::from_secs(10))
                .disable_retry(),
        )
        .build()
        .await?;
    Ok(client
        .send(get_supported_versions::Request::new())
        .await?
        .versions)
}

/// The client of the saved session, once `whoami` accepts it.
async fn logged_in(
    name: &str,
    config: &MatrixConfig,
    record: &mut dyn FnMut(Check),
) -> Option<Client> {
    let dir = config.store_dir.display();
    let session = match saved_session(config) {
        Ok(Some(session)) => session,
        Ok(None) => {
            record(Check::fail(format!(
                "{name}: no saved session in {dir}: run the bot once to log in"
            )));
            return None;
        }
        Err(error) => {
            record(Check::fail(format!(
                "{name}: {}: {error} (delete it and run the bot to log in again, as a new device)",
                session_path(config).display()
            )));
            return None;
        }
    };
    let device = session.meta.device_id.clone();
    let opened = match open_client(config, EncryptionSettings::default()).await {
        Ok(client) => client.restore_session(session).await.map(|()| client),
        Err(error) if is_locked(&error) => {
            // Not a problem: the bot has it; what needs it is checked another time.
            record(Check::ok(format!(
                "{name}: note: the store {dir} is locked (by the running bot?); session, \
                 device and rooms not checked"
            )));
            return None;
        }
        Err(error) => {
            record(Check::fail(format!(
                "{name}: cannot open the store {dir}: {error} (the store passphrase must be set, \
                 and be the one the store was made with)"
            )));
            return None;
        }
    };
    let client = match opened {
        Ok(client) => client,
        Err(error) => {
            record(Check::fail(format!(
                "{name}: cannot restore the saved session: {error} (delete {} and run the bot \
                 to log in again, as a new device)",
                session_path(config).display()
            )));
            return None;
        }
    };
    match client.whoami().await {
        Ok(me) => {
            record(Check::ok(format!(
                "{name}: logged in as {} (device {device})",
                me.user_id
            )));
            Some(client)
        }
        Err(error) => {
            record(Check::fail(format!(
                "{name}: the saved session is refused: {error} (delete {} and run the bot to \
                 log in again, as a new device)",
                session_path(config).display()
            )));
            None
        }
    }
}

/// Whether opening the store failed because another process holds it.
fn is_locked(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let text = cause.to_string();
        text.contains("database is locked") || text.contains("database is busy")
    })
}

async fn device(name: &str, client: &Client, config: &MatrixConfig, record: &mut dyn FnMut(Check)) {
    let fix = format!(
        "set the recovery key ({} or recovery_key_file) and restart the bot",
        config.recovery_key_env
    );
    record(match trust::state(client).await {
        Ok((true, true)) => Check::ok(format!(
            "{name}: device cross-signed by the bot's identity, room keys backed up"
        )),
        Ok((true, false)) => Check::fail(format!(
            "{name}: device cross-signed, but room keys are not backed up: {fix}"
        )),
        Ok((false, _)) => Check::fail(format!(
            "{name}: device not cross-signed by the bot's identity: {fix}"
        )),
        Err(error) => Check::fail(format!(
            "{name}: cannot read the device's keys from the homeserver: {error}"
        )),
    });
}

async fn rooms(
    name: &str,
    client: &Client,
    config: &MatrixConfig,
    setup: &Setup<'_>,
    record: &mut dyn FnMut(Check),
) {
    let joined = match client.send(joined_rooms::v3::Request::new()).await {
        Ok(response) => response.joined_rooms,
        Err(error) => {
            return record(Check::fail(format!(
                "{name}: cannot list the joined rooms: {error}"
            )));
        }
    };
    let tickets = &setup.config.tickets;
    let team_room = match (&tickets.team_connector, &tickets.team_target) {
        (Some(connector), Some(target)) if connector == name => {
            match ReplyTo::from_target(target) {
                ReplyTo::Matrix { room, .. } => Some(room),
                _ => None,
            }
        }
        _ => None,
    };
    match team_room {
        Some(room) if joined.iter().any(|r| r.as_str() == room) => record(Check::ok(format!(
            "{name}: {} room(s) joined, the team room {room} among them",
            joined.len()
        ))),
        Some(room) => record(Check::fail(format!(
            "{name}: {} room(s) joined, not the team room {room} ([tickets] team_target): \
             invite the bot from an account in invite_from",
            joined.len()
        ))),
        None => record(Check::ok(format!(
            "{name}: {} room(s) joined",
            joined.len()
        ))),
    }
    for room in &config.role_rooms {
        let room_id: OwnedRoomId = match RoomId::parse(room) {
            Ok(id) => id,
            Err(error) => {
                record(Check::fail(format!(
                    "{name}: role_rooms: '{room}' is not a room id: {error}"
                )));
                continue;
            }
        };
        let request = get_state_event_for_key::v3::Request::new(
            room_id,
            StateEventType::RoomPowerLevels,
            String::new(),
        );
        record(match client.send(request).await {
            Ok(_) => Check::ok(format!("{name}: power levels of {room} readable")),
            Err(error) => Check::fail(format!(
                "{name}: cannot read the power levels of {room}: {error} (invite the bot \
                 into it, or remove it from role_rooms)"
            )),
        });
    }
}
