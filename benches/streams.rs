//! The stream engine's own rates, beside the disk's floor, in one run: what the Kinesis API
//! and the stream pollers stand on.
//!
//! Run: `cargo bench --bench streams` (add `-- --quick` for a short run).
//!
//! - floor `fdatasync`: one 200-byte append and `fdatasync` on the state disk, repeated.
//! - `put`: 16 tasks putting batches of 500 records of 100 bytes (50 partition keys) into a
//!   4-shard stream; each batch is answered once the journal's group commit has synced it.
//! - `read`: every shard read from `TRIM_HORIZON` in reads of 10,000, as a poller does.
//! - `table put`: 32 tasks putting 100-byte items, one at a time, into a table whose stream
//!   keeps `NEW_AND_OLD_IMAGES`; each put is answered once its item and stream record are
//!   durable (what `PutItem` stands on).

#[path = "support/disk.rs"]
mod disk;
use disk::fsync_floor;
use hearth_streams::dynamodb::table::{KeyAttribute, TableMeta, Tables, TablesConfig};
use hearth_streams::dynamodb::value::{Item, Value};
use hearth_streams::kinesis::PutEntry;
use hearth_streams::{Streams, StreamsConfig};
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total: usize = if quick { 40_000 } else { 2_000_000 };
    let dir = tempfile::tempdir().expect("tmp");
    let floor = fsync_floor(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let streams = Streams::open(&dir.path().join("streams"), StreamsConfig::default())
            .expect("streams");
        streams.create_stream("bench", Some(4), false).await.expect("stream");
        let tasks = 16;
        let batches = total / 500 / tasks;
        let started = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let streams = streams.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..batches {
                    let batch: Vec<PutEntry> = (0..500)
                        .map(|i| PutEntry {
                            data: vec![b'x'; 100],
                            partition_key: format!("key-{}", i % 50),
                            explicit_hash_key: None,
                        })
                        .collect();
                    let placed = streams.put("bench", batch).await.expect("put");
                    assert!(placed.iter().all(Result::is_ok));
                }
            }));
        }
        for h in handles {
            h.await.expect("task");
        }
        let put_took = started.elapsed();
        let put = tasks * batches * 500;
        let started = Instant::now();
        let mut read = 0usize;
        for shard in streams.describe("bench").expect("describe").shards {
            let mut from = 0;
            loop {
                let got = streams
                    .read_shard("bench", &shard.id, from, 10_000)
                    .expect("read");
                if got.records.is_empty() {
                    break;
                }
                read += got.records.len();
                from = got.next.expect("open shard");
            }
        }
        let read_took = started.elapsed();
        assert_eq!(read, put);

        let tables = Tables::open(&dir.path().join("tables"), TablesConfig::default())
            .expect("tables");
        tables
            .create_table(TableMeta {
                name: "bench".into(),
                created_ms: 0,
                hash: KeyAttribute {
                    name: "pk".into(),
                    kind: "S".into(),
                },
                range: None,
                billing_mode: "PAY_PER_REQUEST".into(),
                read_capacity: 0,
                write_capacity: 0,
                stream_view_type: Some("NEW_AND_OLD_IMAGES".into()),
                stream_label: None,
            })
            .await
            .expect("table");
        let writers = 32;
        let each = if quick { 200 } else { 5_000 };
        let started = Instant::now();
        let mut handles = Vec::new();
        for w in 0..writers {
            let tables = tables.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..each {
                    let item = Item::from([
                        ("pk".to_owned(), Value::S(format!("key-{w}-{}", i % 100))),
                        ("v".to_owned(), Value::S("x".repeat(100))),
                    ]);
                    tables.put("bench", item, &None).await.expect("put item");
                }
            }));
        }
        for h in handles {
            h.await.expect("task");
        }
        let items_took = started.elapsed();
        let items = writers * each;
        let syncs = 1.0 / floor.as_secs_f64();
        println!("floor fdatasync : p50 {:>6.0} us = {syncs:.0}/s", floor.as_secs_f64() * 1e6);
        println!(
            "put (durable)   : {:>10.0} records/s  ({put} records, {tasks} tasks of 500-record batches, {:.2} s; {:.1} batches per bare fdatasync)",
            put as f64 / put_took.as_secs_f64(),
            put_took.as_secs_f64(),
            (put / 500) as f64 / put_took.as_secs_f64() / syncs
        );
        println!(
            "read            : {:>10.0} records/s  ({read} records in {:.2} s)",
            read as f64 / read_took.as_secs_f64(),
            read_took.as_secs_f64()
        );
        println!(
            "table put (durable, stream on): {:>8.0} items/s  ({items} puts, {writers} tasks, {:.2} s)",
            items as f64 / items_took.as_secs_f64(),
            items_took.as_secs_f64()
        );
    });
}
