//! Supervised tasks: a task that panics or fails is restarted with backoff and its trouble is
//! recorded where `doctor` reads it, while the other tasks go on.

mod common;

use passerelle::supervisor::{Backoff, Supervisor};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_is_restarted_and_recorded_while_the_others_go_on() {
    let t = common::test_store(common::Backend::Sqlite).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut supervisor = Supervisor::new(
        t.store.clone(),
        "test:1".into(),
        stopped,
        Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(40),
            healthy_after: Duration::from_secs(60),
        },
    );
    let starts = Arc::new(AtomicUsize::new(0));
    let ticks = Arc::new(AtomicUsize::new(0));
    {
        let starts = starts.clone();
        supervisor.spawn("flaky", move |mut stop| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("boom on a poisoned item"),
                    1 => anyhow::bail!("mailbox unreachable"),
                    2 => Ok(()),
                    _ => {
                        let _ = stop.changed().await;
                        Ok(())
                    }
                }
            }
        });
    }
    {
        let ticks = ticks.clone();
        supervisor.spawn("steady", move |mut stop| {
            let ticks = ticks.clone();
            async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                        _ = stop.changed() => return Ok(()),
                    }
                }
            }
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while starts.load(Ordering::SeqCst) < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        starts.load(Ordering::SeqCst),
        4,
        "restarted after each failure"
    );
    let health = t.store.task_health().await.unwrap();
    let flaky = health.iter().find(|h| h.name == "flaky").unwrap();
    assert_eq!((flaky.state.as_str(), flaky.restarts), ("running", 3));
    assert_eq!(flaky.last_error.as_deref(), Some("ended on its own"));
    let steady = health.iter().find(|h| h.name == "steady").unwrap();
    assert_eq!((steady.state.as_str(), steady.restarts), ("running", 0));
    assert!(ticks.load(Ordering::SeqCst) > 1, "the other task went on");

    stop.send(true).unwrap();
    supervisor.join().await;
    let health = t.store.task_health().await.unwrap();
    assert!(health.iter().all(|h| h.state == "stopped"), "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panic_message_is_what_doctor_shows() {
    let t = common::test_store(common::Backend::Sqlite).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut supervisor = Supervisor::new(
        t.store.clone(),
        "test:2".into(),
        stopped,
        Backoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
        },
    );
    supervisor.spawn("intake", |_| async { panic!("index out of bounds") });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let restarting = loop {
        let health = t.store.task_health().await.unwrap();
        if let Some(h) = health.into_iter().find(|h| h.state == "restarting") {
            break h;
        }
        assert!(tokio::time::Instant::now() < deadline, "never recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(restarting.restarts, 1);
    assert_eq!(
        restarting.last_error.as_deref(),
        Some("panicked: index out of bounds")
    );
    // Stopping does not wait for the backoff.
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), supervisor.join())
        .await
        .unwrap();
}
