//! The queue engine's own rates, beside the disk's floor, in one run.
//!
//! Run: `cargo bench --bench queue` (add `-- --quick` for a short run).
//!
//! - floor `fdatasync`: one 200-byte append and `fdatasync` on the state disk, repeated.
//! - `send`: 32 tasks sending batches of 10 messages of 100 bytes into one queue; each
//!   batch is answered once the journal's group commit has synced it.
//! - `receive + delete`: 8 tasks receiving 10 and deleting them (the delete answered once
//!   synced) until the queue is empty.
//!
//! With `--features compare-stores`, the same sends (32 tasks, batches of 10 messages, each
//! batch durable before it is answered) into the embedded stores the journal was chosen
//! over, each used as its documentation says for durable commits, from blocking threads:
//! SQLite (WAL, `synchronous=FULL`, one transaction per batch) and redb (one write
//! transaction per batch, default `Durability::Immediate`). Neither groups the commits of
//! concurrent writers; the journal does.

#[path = "support/disk.rs"]
mod disk;
use disk::fsync_floor;
use hearth_queue::{Engine, EngineConfig, NewMessage, ReceiveOptions};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total: usize = if quick { 20_000 } else { 320_000 };
    let dir = tempfile::tempdir().expect("tmp");
    let floor = fsync_floor(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    #[cfg(feature = "compare-stores")]
    let compared = runtime.block_on(compare::all(dir.path(), total / 4));
    runtime.block_on(async move {
        let engine = Engine::open(&dir.path().join("queues"), EngineConfig::default()).expect("engine");
        engine.create_queue("bench", BTreeMap::new(), BTreeMap::new()).await.expect("queue");
        let senders = 32;
        let batches = total / 10 / senders;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..senders {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(batches);
                for _ in 0..batches {
                    let batch: Vec<NewMessage> = (0..10)
                        .map(|_| NewMessage {
                            body: "x".repeat(100),
                            sender_id: "bench".into(),
                            ..Default::default()
                        })
                        .collect();
                    let t = Instant::now();
                    let sent = engine.send("bench", batch).await.expect("send");
                    assert!(sent.iter().all(Result::is_ok));
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.expect("join"));
        }
        let send_time = started.elapsed();
        latencies.sort();
        let sent = batches * senders * 10;

        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = 0usize;
                loop {
                    let options = ReceiveOptions { max: 10, wait_seconds: Some(0), visibility_timeout: Some(60) };
                    let messages = engine.receive("bench", options).await.expect("receive");
                    if messages.is_empty() {
                        return got;
                    }
                    let handles: Vec<String> = messages.iter().map(|m| m.receipt_handle.clone()).collect();
                    engine.delete("bench", &handles).await.expect("delete");
                    got += messages.len();
                }
            }));
        }
        let mut received = 0;
        for t in tasks {
            received += t.await.expect("join");
        }
        let drain_time = started.elapsed();
        assert_eq!(received, sent, "every message received once");

        println!("| case | rate | p50 | p99 |");
        println!("|---|---:|---:|---:|");
        println!(
            "| floor: fdatasync of a 200-byte append | {:.0} syncs/s | {:.1} µs | — |",
            1.0 / floor.as_secs_f64(),
            floor.as_secs_f64() * 1e6
        );
        println!(
            "| send, batches of 10, 32 tasks ({sent} messages) | {:.0} msg/s | {:.1} µs/batch | {:.1} µs/batch |",
            sent as f64 / send_time.as_secs_f64(),
            percentile(&latencies, 0.5).as_secs_f64() * 1e6,
            percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        );
        println!(
            "| receive 10 + delete, 8 tasks | {:.0} msg/s | — | — |",
            received as f64 / drain_time.as_secs_f64()
        );
        #[cfg(feature = "compare-stores")]
        for (name, rate, p50, p99) in compared {
            println!(
                "| {name}: send, batches of 10, 32 tasks | {rate:.0} msg/s | {:.1} µs/batch | {:.1} µs/batch |",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    });
}

#[cfg(feature = "compare-stores")]
mod compare {
    use super::percentile;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    type Commit = Arc<dyn Fn(&[Vec<u8>]) + Send + Sync>;

    /// 32 tasks committing batches of 10 through `commit` on blocking threads.
    async fn run(commit: Commit, total: usize) -> (f64, Duration, Duration) {
        let senders = 32;
        let batches = total / 10 / senders;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..senders {
            let commit = commit.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(batches);
                for _ in 0..batches {
                    let batch: Vec<Vec<u8>> = (0..10).map(|_| vec![b'x'; 100]).collect();
                    let commit = commit.clone();
                    let t = Instant::now();
                    tokio::task::spawn_blocking(move || commit(&batch))
                        .await
                        .expect("commit");
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.expect("join"));
        }
        let rate = (batches * senders * 10) as f64 / started.elapsed().as_secs_f64();
        latencies.sort();
        (
            rate,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        )
    }

    pub async fn all(
        dir: &std::path::Path,
        total: usize,
    ) -> Vec<(&'static str, f64, Duration, Duration)> {
        let sqlite = rusqlite::Connection::open(dir.join("compare.sqlite")).expect("sqlite");
        sqlite
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
                 CREATE TABLE m (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
            )
            .expect("schema");
        let sqlite = Arc::new(Mutex::new(sqlite));
        let commit: Commit = Arc::new(move |batch: &[Vec<u8>]| {
            let mut conn = sqlite.lock().expect("lock");
            let tx = conn.transaction().expect("begin");
            for body in batch {
                tx.execute("INSERT INTO m (body) VALUES (?1)", [body])
                    .expect("insert");
            }
            tx.commit().expect("commit");
        });
        let (sqlite_rate, sqlite_p50, sqlite_p99) = run(commit, total).await;

        const TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("m");
        let db = Arc::new(redb::Database::create(dir.join("compare.redb")).expect("redb"));
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let commit: Commit = Arc::new(move |batch: &[Vec<u8>]| {
            let txn = db.begin_write().expect("begin");
            {
                let mut table = txn.open_table(TABLE).expect("table");
                for body in batch {
                    let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    table.insert(id, body.as_slice()).expect("insert");
                }
            }
            txn.commit().expect("commit");
        });
        let (redb_rate, redb_p50, redb_p99) = run(commit, total).await;
        vec![
            (
                "SQLite WAL synchronous=FULL",
                sqlite_rate,
                sqlite_p50,
                sqlite_p99,
            ),
            ("redb, Durability::Immediate", redb_rate, redb_p50, redb_p99),
        ]
    }
}
