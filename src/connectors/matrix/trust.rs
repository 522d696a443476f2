//! Cross-signing and the server-side backup of room keys, both held in the account's secret
//! storage, which the recovery key opens. With it the bot's device is verified (signed by the
//! bot's own cross-signing identity), its room keys are backed up as they come, and a new
//! device after a lost store gets the cross-signing keys and the backup key back.
//!
//! The SDK's `recovery()` drives both: `enable()` creates the backup and the secret storage
//! (the configured key is its passphrase) and stores the cross-signing and backup keys in it;
//! `recover_and_fix_backup()` imports them on a new device, signs that device and resumes the
//! backup. Cross-signing itself is bootstrapped here first, since `enable()` only stores the
//! keys a device already has, and uploading a new identity asks for the password.

use super::{MatrixConfig, secret};
use matrix_sdk::Client;
use matrix_sdk::encryption::recovery::{RecoveryError, RecoveryState};
use matrix_sdk::ruma::api::client::uiaa::{
    AuthData, MatrixUserIdentifier, Password, UserIdentifier,
};

/// Makes the device verified and its room keys backed up. A failure is logged, not returned:
/// the bot still answers (`passerelle doctor` shows the device unverified).
pub(super) async fn establish(client: &Client, config: &MatrixConfig, recovery_key: &str) {
    match set_up(client, config, recovery_key).await {
        Ok(()) => match state(client).await {
            Ok((true, true)) => {
                tracing::info!("matrix: device cross-signed, room keys backed up")
            }
            Ok((verified, backed_up)) => tracing::warn!(
                verified,
                backed_up,
                "matrix: recovery done, but the device is not fully set up"
            ),
            Err(error) => tracing::warn!(%error, "matrix: cannot read the device's trust"),
        },
        Err(error) => tracing::error!(
            %error,
            "matrix: cross-signing and key backup not set up (is the recovery key the account's?)"
        ),
    }
}

async fn set_up(client: &Client, config: &MatrixConfig, recovery_key: &str) -> anyhow::Result<()> {
    let encryption = client.encryption();
    // The recovery state comes from the task the SDK starts at login or restore.
    encryption.wait_for_e2ee_initialization_tasks().await;
    let recovery = encryption.recovery();
    if recovery.state() == RecoveryState::Enabled {
        return Ok(());
    }
    // Asked of the server, not taken from the state: enabling over an existing secret storage
    // would replace it and lose what it holds.
    if encryption.secret_storage().is_enabled().await? {
        // A new device (a lost store), or one that never had the secrets. `_and_fix_backup`:
        // a backup whose key the secret storage does not hold is of no use to the bot's own
        // account, so it is replaced rather than left without uploads.
        tracing::info!("matrix: recovering the cross-signing and backup keys");
        recovery.recover_and_fix_backup(recovery_key).await?;
        return Ok(());
    }
    cross_sign(client, config).await?;
    tracing::info!("matrix: creating the key backup and the secret storage");
    match recovery.enable().with_passphrase(recovery_key).await {
        Err(RecoveryError::BackupExistsOnServer) => {
            // A backup with no secret storage holding its key (an earlier start stopped
            // between the two): nobody can read it; start a new one.
            encryption.backups().disable_and_delete().await?;
            recovery.enable().with_passphrase(recovery_key).await?;
        }
        outcome => {
            outcome?;
        }
    }
    Ok(())
}

/// Creates the bot's cross-signing identity, which signs this device, unless the device
/// already is signed by one whose keys it holds. An identity whose keys only a lost device had
/// is replaced. Uploading it needs the password (user-interactive auth) unless the server
/// accepts a first upload without.
async fn cross_sign(client: &Client, config: &MatrixConfig) -> anyhow::Result<()> {
    let encryption = client.encryption();
    let complete = encryption
        .cross_signing_status()
        .await
        .is_some_and(|status| status.is_complete());
    if complete && state(client).await?.0 {
        return Ok(());
    }
    tracing::info!("matrix: creating the cross-signing identity");
    let Err(error) = encryption.bootstrap_cross_signing(None).await else {
        return Ok(());
    };
    let Some(uiaa) = error.as_uiaa_response() else {
        return Err(error.into());
    };
    let password = secret(config.password_file.as_deref(), &config.password_env)
        .map_err(|e| anyhow::anyhow!("cross-signing needs the account password: {e}"))?;
    let me = client
        .user_id()
        .ok_or_else(|| anyhow::anyhow!("not logged in"))?;
    let mut auth = Password::new(
        UserIdentifier::Matrix(MatrixUserIdentifier::new(me.to_string())),
        password,
    );
    auth.session = uiaa.session.clone();
    encryption
        .bootstrap_cross_signing(Some(AuthData::Password(auth)))
        .await?;
    Ok(())
}

/// Whether this device is signed by the bot's identity as the server has it, and whether its
/// room keys go to a backup.
pub(super) async fn state(client: &Client) -> anyhow::Result<(bool, bool)> {
    let encryption = client.encryption();
    let me = client
        .user_id()
        .ok_or_else(|| anyhow::anyhow!("not logged in"))?;
    // A keys query: the identity and this device's signatures as the server has them now.
    encryption.request_user_identity(me).await?;
    let verified = encryption
        .get_own_device()
        .await?
        .is_some_and(|device| device.is_cross_signed_by_owner());
    Ok((verified, encryption.backups().are_enabled().await))
}
