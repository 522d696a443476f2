//! Starting up against stores that are not what they should be: two instances at once on an
//! empty PostgreSQL, a server that is not there, a SQLite file emptied behind our back.

mod common;

use passerelle::app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_on_an_empty_postgres_both_come_up_once_loaded() {
    let (url, _) = common::new_url(common::Backend::Postgres).await;
    let config = common::config_with_store(&url);
    let (a, b) = tokio::join!(app::build_engine(&config), app::build_engine(&config));
    let (a, b) = (a.unwrap(), b.unwrap());
    let today = chrono::Utc::now().date_naive();
    assert_eq!(a.store().member_count().await.unwrap(), 240);
    assert_eq!(b.directory(today).await.unwrap().members.len(), 240);
    assert_eq!(a.store().organisation_count().await.unwrap(), 891);
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_with_its_cause() {
    // Nothing listens on port 1.
    let error = passerelle::store::open("postgres://passerelle:secret@127.0.0.1:1/network", 2)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("PostgreSQL at 127.0.0.1:1 (database network, user passerelle)"),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(!error.contains("secret"), "the password stays out: {error}");
}

#[tokio::test]
async fn sqlite_errors_name_the_file_and_an_emptied_file_is_not_refilled() {
    let dir = tempfile::tempdir().unwrap();
    let emptied = dir.path().join("passerelle.db");
    std::fs::write(&emptied, b"").unwrap();
    let error = passerelle::store::open(&format!("sqlite://{}", emptied.display()), 2)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&emptied.display().to_string()) && error.contains("empty (0 bytes)"),
        "{error}"
    );
    assert_eq!(
        std::fs::metadata(&emptied).unwrap().len(),
        0,
        "left as found"
    );

    let missing_dir = dir.path().join("no/such/dir/passerelle.db");
    let error = passerelle::store::open(&format!("sqlite://{}", missing_dir.display()), 2)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&missing_dir.display().to_string()),
        "{error}"
    );

    let not_a_database = dir.path().join("notes.db");
    std::fs::write(
        &not_a_database,
        b"these are not the tables you are looking for",
    )
    .unwrap();
    let url = format!("sqlite://{}", not_a_database.display());
    let error = match passerelle::store::open(&url, 2).await {
        Err(e) => e.to_string(),
        Ok(store) => store.migrate().await.unwrap_err().to_string(),
    };
    assert!(
        error.contains(&not_a_database.display().to_string()),
        "{error}"
    );
}
