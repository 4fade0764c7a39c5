use super::*;
use crate::sim::{Op, SimDisk};
use std::collections::BTreeMap;

fn small() -> Options {
    Options { segment_bytes: 200 }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

#[test]
fn records_survive_reopening_and_removes_stick() {
    let dir = tempfile::tempdir().expect("tmp");
    runtime().block_on(async {
        let (journal, records) = Journal::open_dir(dir.path(), Options::default()).expect("open");
        assert!(records.is_empty());
        let a = journal.append(b"a".to_vec()).durable().await.expect("a");
        let b = journal.append(b"b".to_vec()).durable().await.expect("b");
        journal.remove(a);
        journal
            .replace(b, b"b2".to_vec())
            .durable()
            .await
            .expect("b2");
        journal.sync().await.expect("sync");
    });
    let (journal, records) = Journal::open_dir(dir.path(), Options::default()).expect("reopen");
    assert_eq!(
        records,
        [Record {
            id: 2,
            payload: b"b2".to_vec()
        }]
    );
    assert_eq!(journal.append(Vec::new()).id, 3, "ids are never reused");
}

#[test]
fn every_acknowledged_record_is_in_the_synced_image() {
    let disk = SimDisk::new();
    runtime().block_on(async {
        let (journal, _) = Journal::open(disk.clone(), small()).expect("open");
        let mut acked = Vec::new();
        for i in 0..50u8 {
            let id = journal.append(vec![i; 20]).durable().await.expect("append");
            acked.push(id);
            if i % 3 == 0 {
                journal.remove(acked.remove(0));
            }
            // What a power cut would leave now holds every record acknowledged so far.
            let mut durable = std::collections::HashSet::new();
            for (_, bytes) in disk.durable_image() {
                for entry in crate::format::decode(&bytes).0 {
                    if let crate::format::Entry::Put { id, .. } = entry {
                        durable.insert(id);
                    }
                }
            }
            for id in &acked {
                assert!(durable.contains(id), "acknowledged {id} is not synced");
            }
        }
    });
    let ops = disk.ops();
    assert!(
        ops.iter().any(|op| matches!(op, Op::Remove { .. })),
        "rotation removed segments"
    );
}

#[test]
fn a_failed_write_is_undone_and_refused() {
    let disk = SimDisk::new();
    runtime().block_on(async {
        let (journal, _) = Journal::open(disk.clone(), Options::default()).expect("open");
        journal
            .append(b"one".to_vec())
            .durable()
            .await
            .expect("one");
        disk.fail_next_appends(1);
        assert!(journal.append(b"two".to_vec()).durable().await.is_err());
        journal
            .append(b"three".to_vec())
            .durable()
            .await
            .expect("three");
    });
    let (_, records) = Journal::open(disk, Options::default()).expect("reopen");
    let payloads: Vec<_> = records.into_iter().map(|r| r.payload).collect();
    assert_eq!(payloads, [b"one".to_vec(), b"three".to_vec()]);
}

#[test]
fn corruption_before_the_newest_segment_refuses_to_open() {
    let dir = tempfile::tempdir().expect("tmp");
    runtime().block_on(async {
        let (journal, _) = Journal::open_dir(dir.path(), small()).expect("open");
        for _ in 0..20 {
            journal.append(vec![7; 50]).durable().await.expect("append");
        }
        assert!(std::fs::read_dir(dir.path()).expect("dir").count() >= 2);
    });
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    segments.sort();
    assert!(segments.len() >= 2);
    let first = &segments[0];
    let mut bytes = std::fs::read(first).expect("read");
    bytes[12] ^= 0xff;
    std::fs::write(first, bytes).expect("write");
    let err = Journal::open_dir(dir.path(), small()).expect_err("corrupt");
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("seg-"), "names the segment: {err}");
}

/// What the model knows about one id.
#[derive(Debug, Clone)]
enum Known {
    /// Acknowledged: must survive any crash with this payload.
    Acked(Vec<u8>),
    /// Removed after being acknowledged: may reappear (with its payload) until a sync
    /// acknowledged the remove.
    Removed(Vec<u8>),
    /// Removed and synced: must be gone.
    Gone,
    /// Sent but not acknowledged (the power went): present with this payload or absent.
    Unacked(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Step {
    Append(u8, usize),
    Remove(usize),
    Sync,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (any::<u8>(), 0usize..60).prop_map(|(b, n)| Step::Append(b, n)),
        2 => any::<usize>().prop_map(Step::Remove),
        1 => Just(Step::Sync),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// A power cut at any operation, keeping any share of the unsynced bytes, loses nothing
    /// that was acknowledged, never resurrects what a synced remove took away, and never
    /// returns bytes that were not written.
    #[test]
    fn power_cuts_lose_nothing_acknowledged(
        steps in proptest::collection::vec(step(), 1..60),
        cut_at in 1usize..200,
        share in 0.0f64..1.0,
    ) {
        let disk = SimDisk::new();
        let mut known: BTreeMap<u64, Known> = BTreeMap::new();
        runtime().block_on(async {
            let (journal, _) = Journal::open(disk.clone(), small()).expect("open");
            disk.cut_power_at(disk.ops().len() + cut_at, share);
            let mut order: Vec<u64> = Vec::new();
            for step in &steps {
                match step {
                    Step::Append(b, n) => {
                        let payload = vec![*b; *n];
                        let appended = journal.append(payload.clone());
                        let id = appended.id;
                        let known_now = match appended.durable().await {
                            Ok(_) => Known::Acked(payload),
                            Err(_) => Known::Unacked(payload),
                        };
                        known.insert(id, known_now);
                        order.push(id);
                    }
                    Step::Remove(i) if !order.is_empty() => {
                        let id = order[i % order.len()];
                        journal.remove(id);
                        if let Some(Known::Acked(p) | Known::Unacked(p)) = known.get(&id).cloned() {
                            known.insert(id, Known::Removed(p));
                        }
                    }
                    Step::Remove(_) => {}
                    Step::Sync => {
                        if journal.sync().await.is_ok() {
                            for k in known.values_mut() {
                                if matches!(k, Known::Removed(_)) {
                                    *k = Known::Gone;
                                }
                            }
                        }
                    }
                }
            }
            // Let the writer finish what it was sent (trailing removes) before the reopen.
            let _ = journal.sync().await;
        });
        disk.revive();
        let (_, records) = Journal::open(disk.clone(), small()).expect("reopen");
        let found: BTreeMap<u64, Vec<u8>> =
            records.into_iter().map(|r| (r.id, r.payload)).collect();
        for (id, k) in &known {
            match (k, found.get(id)) {
                (Known::Acked(p), Some(f)) => proptest::prop_assert_eq!(p, f),
                (Known::Acked(_), None) => proptest::prop_assert!(false, "acknowledged {id} lost"),
                (Known::Gone, Some(_)) => proptest::prop_assert!(false, "removed {id} came back"),
                (Known::Removed(p) | Known::Unacked(p), Some(f)) => proptest::prop_assert_eq!(p, f),
                (_, None) => {}
            }
        }
        for id in found.keys() {
            proptest::prop_assert!(known.contains_key(id), "{id} was never written");
        }
    }
}
