use super::*;
use std::collections::BTreeSet;
use std::time::Duration;

fn open(dir: &Path) -> Streams {
    Streams::open(dir, StreamsConfig::default()).expect("open")
}

fn entry(key: &str, data: &str) -> PutEntry {
    PutEntry {
        data: data.as_bytes().to_vec(),
        partition_key: key.into(),
        explicit_hash_key: None,
    }
}

fn read_all(streams: &Streams, name: &str, shard: &str) -> Vec<Record> {
    let mut from = 0;
    let mut out = Vec::new();
    loop {
        let read = streams.read_shard(name, shard, from, 3).expect("read");
        if read.records.is_empty() {
            return out;
        }
        out.extend(read.records);
        match read.next {
            Some(n) => from = n,
            None => return out,
        }
    }
}

#[test]
fn four_shards_split_the_hash_space_as_kinesis_does() {
    let ranges = even_ranges(4);
    assert_eq!(ranges[0], (0, 85070591730234615865843651857942052863));
    assert_eq!(
        ranges[1].0, 85070591730234615865843651857942052864,
        "the starting hash keys AWS reports for 4 shards"
    );
    assert_eq!(ranges[3].1, u128::MAX);
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].1 + 1, pair[1].0);
    }
    assert_eq!(even_ranges(1), vec![(0, u128::MAX)]);
    assert_eq!(even_ranges(3).last().map(|r| r.1), Some(u128::MAX));
}

#[test]
fn sequence_numbers_round_trip_and_foreign_ones_are_refused() {
    let text = sequence_number(42);
    assert_eq!(text.len(), 56);
    assert_eq!(parse_sequence_number(&text), Some(42));
    assert_eq!(parse_sequence_number("42"), None);
    assert_eq!(parse_sequence_number(&"9".repeat(56)), None);
    assert!(
        sequence_number(9) < sequence_number(10),
        "ordered as strings too"
    );
}

#[tokio::test]
async fn records_go_to_the_shard_of_their_key_in_order_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tmp");
    let placed: Vec<Placed>;
    {
        let streams = open(dir.path());
        streams
            .create_stream("s", Some(4), false)
            .await
            .expect("create");
        let entries: Vec<PutEntry> = (0..40)
            .map(|i| entry(&format!("key-{}", i % 8), &format!("{i}")))
            .collect();
        placed = streams
            .put("s", entries)
            .await
            .expect("put")
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("placed");
        let view = streams.describe("s").expect("describe");
        for (i, p) in placed.iter().enumerate() {
            let hash = hash_key(&format!("key-{}", i % 8));
            let shard = view
                .shards
                .iter()
                .find(|s| s.id == p.shard_id)
                .expect("shard");
            assert!((shard.start_hash..=shard.end_hash).contains(&hash));
        }
    }
    let streams = open(dir.path());
    let mut seen = 0;
    for shard in streams.describe("s").expect("describe").shards {
        let records = read_all(&streams, "s", &shard.id);
        seen += records.len();
        assert!(records.windows(2).all(|w| w[0].seq < w[1].seq));
        // Per key, the data arrives in the order it was put.
        let mut last: HashMap<Arc<str>, i32> = HashMap::new();
        for r in records {
            let n: i32 = std::str::from_utf8(&r.data)
                .expect("utf8")
                .parse()
                .expect("n");
            if let Some(prev) = last.insert(r.partition_key.clone(), n) {
                assert!(prev < n);
            }
            let put = placed
                .iter()
                .find(|p| p.sequence_number == r.sequence_number);
            assert_eq!(put.map(|p| p.shard_id.as_str()), Some(shard.id.as_str()));
        }
    }
    assert_eq!(seen, 40);
}

#[tokio::test]
async fn iterators_start_where_their_type_says() {
    let dir = tempfile::tempdir().expect("tmp");
    let streams = open(dir.path());
    streams
        .create_stream("s", Some(1), false)
        .await
        .expect("create");
    let shard = shard_id(0);
    let latest = streams
        .shard_iterator("s", &shard, &StartAt::Latest)
        .expect("latest");
    let first = streams
        .put("s", vec![entry("k", "a"), entry("k", "b")])
        .await
        .expect("put");
    let second = first[1].clone().expect("b").sequence_number;
    let at = |start: StartAt| {
        let it = streams
            .shard_iterator("s", &shard, &start)
            .expect("iterator");
        let got = streams.get_records(&it, 10).expect("get");
        got.read
            .records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(at(StartAt::TrimHorizon), ["a", "b"]);
    assert_eq!(at(StartAt::AtSequence(second.clone())), ["b"]);
    assert_eq!(at(StartAt::AfterSequence(second)), Vec::<String>::new());
    assert_eq!(at(StartAt::Latest), Vec::<String>::new());
    let got = streams.get_records(&latest, 10).expect("get");
    assert_eq!(
        got.read.records.len(),
        2,
        "LATEST taken before the puts sees them"
    );
    let next = got.next_iterator.expect("open shard: more to come");
    streams.put("s", vec![entry("k", "c")]).await.expect("put");
    let got = streams.get_records(&next, 10).expect("get");
    assert_eq!(&*got.read.records[0].data, b"c");
    assert!(matches!(
        streams.shard_iterator("s", &shard, &StartAt::AtSequence("12".into())),
        Err(StreamError {
            kind: ErrorKind::InvalidArgument,
            ..
        })
    ));
    assert!(matches!(
        streams.get_records("bm90IGFuIGl0ZXJhdG9y", 10),
        Err(StreamError {
            kind: ErrorKind::InvalidArgument,
            ..
        })
    ));
    assert!(matches!(
        streams.shard_iterator("s", "shardId-000000000009", &StartAt::Latest),
        Err(StreamError {
            kind: ErrorKind::ResourceNotFound,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn at_timestamp_iterator_expiry_and_retention_follow_the_clock() {
    let dir = tempfile::tempdir().expect("tmp");
    let streams = open(dir.path());
    streams
        .create_stream("s", Some(1), false)
        .await
        .expect("create");
    let shard = shard_id(0);
    streams
        .put("s", vec![entry("k", "old")])
        .await
        .expect("put");
    tokio::time::advance(Duration::from_secs(10)).await;
    let middle = streams.clock().now_ms();
    tokio::time::advance(Duration::from_secs(10)).await;
    streams
        .put("s", vec![entry("k", "new")])
        .await
        .expect("put");
    let it = streams
        .shard_iterator("s", &shard, &StartAt::AtTimestamp(middle))
        .expect("it");
    let got = streams.get_records(&it, 10).expect("get");
    assert_eq!(got.read.records.len(), 1);
    assert_eq!(&*got.read.records[0].data, b"new");

    tokio::time::advance(Duration::from_millis(ITERATOR_TTL_MS + 1)).await;
    assert!(matches!(
        streams.get_records(&it, 10),
        Err(StreamError {
            kind: ErrorKind::ExpiredIterator,
            ..
        })
    ));

    let before = streams.bytes();
    // Now 24 h and 10 s after the old record, 23 h 59 min 50 s after the new one.
    tokio::time::advance(
        Duration::from_secs(24 * 3600 + 10) - Duration::from_millis(20_000 + ITERATOR_TTL_MS + 1),
    )
    .await;
    streams.expire();
    assert_eq!(
        read_all(&streams, "s", &shard).len(),
        1,
        "the old one is past 24 h"
    );
    assert!(streams.bytes() < before);
}

#[tokio::test(start_paused = true)]
async fn closed_shards_are_removed_once_their_retention_has_passed() {
    let dir = tempfile::tempdir().expect("tmp");
    let streams = open(dir.path());
    streams
        .create_stream("s", Some(1), false)
        .await
        .expect("create");
    let ids = |streams: &Streams| -> Vec<String> {
        let view = streams.describe("s").expect("describe");
        view.shards.into_iter().map(|s| s.id).collect()
    };
    let hour = Duration::from_secs(3600);
    streams.put("s", vec![entry("k", "a")]).await.expect("put");
    streams
        .split_shard("s", &shard_id(0), &(u128::MAX / 2 + 1).to_string())
        .await
        .expect("split");
    tokio::time::advance(12 * hour).await;
    streams.put("s", vec![entry("k", "b")]).await.expect("put");
    streams
        .merge_shards("s", &shard_id(1), &shard_id(2))
        .await
        .expect("merge");
    tokio::time::advance(12 * hour + Duration::from_secs(1)).await;
    streams.expire();
    assert_eq!(
        ids(&streams),
        [shard_id(1), shard_id(2), shard_id(3)],
        "the parent closed 24 h ago goes; the children closed 12 h ago stay"
    );
    tokio::time::advance(12 * hour).await;
    streams.expire();
    assert_eq!(ids(&streams), [shard_id(3)]);
    streams.sync().await.expect("sync");
    drop(streams);
    let streams = open(dir.path());
    assert_eq!(ids(&streams), [shard_id(3)], "removed for good");
}

#[tokio::test]
async fn splitting_and_merging_close_parents_and_name_them_in_the_children() {
    let dir = tempfile::tempdir().expect("tmp");
    let streams = open(dir.path());
    streams
        .create_stream("s", Some(1), false)
        .await
        .expect("create");
    let parent = shard_id(0);
    streams.put("s", vec![entry("a", "1")]).await.expect("put");
    let half = (u128::MAX / 2 + 1).to_string();
    streams
        .split_shard("s", &parent, &half)
        .await
        .expect("split");
    assert!(matches!(
        streams.split_shard("s", &parent, &half).await,
        Err(StreamError {
            kind: ErrorKind::InvalidArgument,
            ..
        })
    ));
    let view = streams.describe("s").expect("describe");
    assert_eq!(view.open_shards, 2);
    let children: Vec<&ShardMeta> = view.shards.iter().filter(|s| s.is_open()).collect();
    assert!(
        children
            .iter()
            .all(|c| c.parent.as_deref() == Some(parent.as_str()))
    );
    assert_eq!(children[0].end_hash + 1, children[1].start_hash);

    // The parent reads to its end, then names its children and ends.
    let it = streams
        .shard_iterator("s", &parent, &StartAt::TrimHorizon)
        .expect("it");
    let got = streams.get_records(&it, 10).expect("get");
    assert_eq!(got.read.records.len(), 1);
    assert!(got.next_iterator.is_none());
    assert_eq!(got.read.children.len(), 2);

    let placed = streams.put("s", vec![entry("a", "2")]).await.expect("put");
    let child = &placed[0].as_ref().expect("placed").shard_id;
    assert_ne!(child, &parent, "new records go to the children");

    let (a, b) = (children[0].id.clone(), children[1].id.clone());
    streams.merge_shards("s", &a, &b).await.expect("merge");
    drop(streams);
    let streams = open(dir.path());
    let view = streams.describe("s").expect("describe");
    let merged: Vec<&ShardMeta> = view.shards.iter().filter(|s| s.is_open()).collect();
    assert_eq!(merged.len(), 1);
    assert_eq!(
        (
            merged[0].parent.as_deref(),
            merged[0].adjacent_parent.as_deref()
        ),
        (Some(a.as_str()), Some(b.as_str()))
    );
    assert_eq!((merged[0].start_hash, merged[0].end_hash), (0, u128::MAX));
    assert!(
        merged[0].starting_seq
            > placed[0]
                .as_ref()
                .map(|p| parse_sequence_number(&p.sequence_number).unwrap_or(0))
                .unwrap_or(0)
    );
}

#[tokio::test]
async fn update_shard_count_scales_uniformly_through_closed_parents() {
    let dir = tempfile::tempdir().expect("tmp");
    let streams = open(dir.path());
    streams
        .create_stream("s", Some(3), false)
        .await
        .expect("create");
    let keys: Vec<String> = (0..40).map(|k| format!("key-{k}")).collect();
    let put_round = |round: usize| {
        let entries: Vec<PutEntry> = keys
            .iter()
            .map(|k| entry(k, &format!("{k}:{round}")))
            .collect();
        streams.put("s", entries)
    };
    put_round(0).await.expect("put");
    for (target, before) in [(5, 3), (10, 5), (5, 10), (3, 5)] {
        assert_eq!(
            streams
                .update_shard_count("s", target)
                .await
                .expect("scale"),
            before
        );
        let view = streams.describe("s").expect("describe");
        let mut open: Vec<(u128, u128)> = view
            .shards
            .iter()
            .filter(|s| s.is_open())
            .map(|s| (s.start_hash, s.end_hash))
            .collect();
        open.sort();
        assert_eq!(open, even_ranges(target), "{target} shards of equal size");
        put_round(target as usize).await.expect("put");
    }
    // Every record is still there, each key's records in order when every shard is read
    // after its parents, and the scaling survives reopening.
    drop(streams);
    let streams = open(dir.path());
    let view = streams.describe("s").expect("describe");
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while done.len() < view.shards.len() {
        for shard in &view.shards {
            let ready = [&shard.parent, &shard.adjacent_parent]
                .into_iter()
                .flatten()
                .all(|p| done.contains(p));
            if ready && !done.contains(&shard.id) {
                for r in read_all(&streams, "s", &shard.id) {
                    let text = String::from_utf8(r.data.to_vec()).expect("utf8");
                    let (key, round) = text.split_once(':').expect("key:round");
                    seen.entry(key.to_owned())
                        .or_default()
                        .push(round.to_owned());
                }
                done.insert(shard.id.clone());
            }
        }
    }
    for k in &keys {
        assert_eq!(seen[k], ["0", "5", "10", "5", "3"], "{k}");
    }
    let refused = |r: Result<u32, StreamError>| r.err().map(|e| e.kind);
    assert_eq!(
        refused(streams.update_shard_count("s", 7).await),
        Some(ErrorKind::LimitExceeded),
        "more than double"
    );
    assert_eq!(
        refused(streams.update_shard_count("s", 1).await),
        Some(ErrorKind::LimitExceeded),
        "below half"
    );
    streams
        .create_stream("od", None, true)
        .await
        .expect("on-demand");
    assert_eq!(
        refused(streams.update_shard_count("od", 4).await),
        Some(ErrorKind::InvalidArgument)
    );
    assert_eq!(streams.describe("s").expect("describe").open_shards, 3);
}

#[tokio::test]
async fn bounds_and_bad_input_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = StreamsConfig {
        max_bytes: 2 * RECORD_OVERHEAD + 4,
        max_shards: 3,
        ..Default::default()
    };
    let streams = Streams::open(dir.path(), config).expect("open");
    assert!(matches!(
        streams.create_stream("bad name", Some(1), false).await,
        Err(StreamError {
            kind: ErrorKind::Validation,
            ..
        })
    ));
    assert!(matches!(
        streams.create_stream("big", Some(4), false).await,
        Err(StreamError {
            kind: ErrorKind::LimitExceeded,
            ..
        })
    ));
    streams
        .create_stream("s", Some(1), false)
        .await
        .expect("create");
    assert!(matches!(
        streams.create_stream("s", Some(1), false).await,
        Err(StreamError {
            kind: ErrorKind::ResourceInUse,
            ..
        })
    ));
    let results = streams
        .put("s", vec![entry("k", "1"), entry("k", "2"), entry("k", "3")])
        .await
        .expect("put");
    assert!(results[0].is_ok() && results[1].is_ok());
    assert!(matches!(
        results[2],
        Err(StreamError {
            kind: ErrorKind::ProvisionedThroughputExceeded,
            ..
        })
    ));
    let bad_hash = PutEntry {
        explicit_hash_key: Some("-1".into()),
        ..entry("k", "x")
    };
    assert!(matches!(
        streams.put("s", vec![bad_hash]).await.expect("put")[0],
        Err(StreamError {
            kind: ErrorKind::InvalidArgument,
            ..
        })
    ));
    assert_eq!(read_all(&streams, "s", &shard_id(0)).len(), 2);
    assert!(matches!(
        streams.set_retention("s", 12, false).await,
        Err(StreamError {
            kind: ErrorKind::InvalidArgument,
            ..
        })
    ));
    streams
        .set_retention("s", 48, true)
        .await
        .expect("increase");
    assert!(matches!(
        streams.set_retention("s", 24, true).await,
        Err(StreamError {
            kind: ErrorKind::InvalidArgument,
            ..
        })
    ));
    streams.delete_stream("s").await.expect("delete");
    assert_eq!(streams.bytes(), 0);
    assert!(matches!(
        streams.put("s", vec![entry("k", "1")]).await,
        Err(StreamError {
            kind: ErrorKind::ResourceNotFound,
            ..
        })
    ));
}
