use super::*;

fn open(dir: &Path) -> Engine {
    Engine::open(dir, EngineConfig::default()).expect("open")
}

fn body(text: &str) -> NewMessage {
    NewMessage {
        body: text.into(),
        sender_id: "AKID".into(),
        ..Default::default()
    }
}

fn grouped(text: &str, group: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        ..body(text)
    }
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn receive(max: usize) -> ReceiveOptions {
    ReceiveOptions {
        max,
        wait_seconds: Some(0),
        visibility_timeout: None,
    }
}

fn bodies(received: &[Received]) -> Vec<&str> {
    received.iter().map(|r| r.body.as_str()).collect()
}

#[tokio::test]
async fn acknowledged_sends_survive_reopening_and_deletes_stay_deleted() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let engine = open(dir.path());
        engine
            .create_queue("q", attrs(&[("DelaySeconds", "0")]), BTreeMap::new())
            .await
            .expect("create");
        let sent = engine
            .send("q", vec![body("a"), body("b"), body("c")])
            .await
            .expect("send");
        assert!(sent.iter().all(Result::is_ok));
        let got = engine.receive("q", receive(1)).await.expect("receive");
        assert_eq!(bodies(&got), ["a"]);
        let deleted = engine
            .delete("q", &[got[0].receipt_handle.clone()])
            .await
            .expect("delete");
        assert_eq!(deleted, [Ok(())]);
        // "b" is in flight when the engine goes away.
        engine.receive("q", receive(1)).await.expect("receive");
        engine.sync().await.expect("receive count written");
    }
    let engine = open(dir.path());
    let got = engine.receive("q", receive(10)).await.expect("receive");
    assert_eq!(
        bodies(&got),
        ["b", "c"],
        "in-flight messages are visible after a restart"
    );
    assert_eq!(got[0].system["ApproximateReceiveCount"], "2");
    assert_eq!(engine.list(""), ["q"]);
}

#[tokio::test]
async fn create_is_idempotent_for_equal_attributes_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    let a = attrs(&[("VisibilityTimeout", "60")]);
    engine
        .create_queue("q", a.clone(), BTreeMap::new())
        .await
        .expect("create");
    engine
        .create_queue("q", a, BTreeMap::new())
        .await
        .expect("same again");
    engine
        .create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("no attributes");
    let clash = engine
        .create_queue("q", attrs(&[("VisibilityTimeout", "61")]), BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(clash.kind, ErrorKind::QueueNameExists);
    let fifo_name = engine
        .create_queue("plain", attrs(&[("FifoQueue", "true")]), BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(fifo_name.kind, ErrorKind::InvalidParameterValue);
    let dlq_missing = engine
        .create_queue(
            "src",
            attrs(&[(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":2}"#,
            )]),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(dlq_missing.kind, ErrorKind::InvalidAttributeValue);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_queue_name_is_taken_for_sixty_seconds() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    let create = |name: &'static str| engine.create_queue(name, BTreeMap::new(), BTreeMap::new());
    create("q").await.expect("create");
    engine.delete_queue("q").await.expect("delete");
    tokio::time::advance(std::time::Duration::from_secs(59)).await;
    assert_eq!(
        create("q").await.unwrap_err().kind,
        ErrorKind::QueueDeletedRecently
    );
    create("other").await.expect("other names are free");
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    create("q").await.expect("free after 60 s");
}

#[tokio::test(start_paused = true)]
async fn long_polling_answers_when_a_message_arrives() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    engine
        .create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("create");
    let poller = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let options = ReceiveOptions {
                max: 10,
                wait_seconds: Some(20),
                visibility_timeout: None,
            };
            let started = engine.clock().now_ms();
            let got = engine.receive("q", options).await.expect("receive");
            (got, engine.clock().now_ms() - started)
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    engine.send("q", vec![body("late")]).await.expect("send");
    let (got, waited) = poller.await.expect("join");
    assert_eq!(bodies(&got), ["late"]);
    assert!(
        (3_000..4_000).contains(&waited),
        "answered on arrival, after {waited} ms"
    );

    // With nothing arriving it waits the whole wait time, and no longer.
    let started = engine.clock().now_ms();
    let options = ReceiveOptions {
        max: 1,
        wait_seconds: Some(5),
        visibility_timeout: None,
    };
    assert!(
        engine
            .receive("q", options)
            .await
            .expect("empty")
            .is_empty()
    );
    assert_eq!(engine.clock().now_ms() - started, 5_000);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_sees_a_message_whose_visibility_timeout_ends() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    engine
        .create_queue("q", attrs(&[("VisibilityTimeout", "2")]), BTreeMap::new())
        .await
        .expect("create");
    engine.send("q", vec![body("m")]).await.expect("send");
    assert_eq!(engine.receive("q", receive(1)).await.expect("r").len(), 1);
    let started = engine.clock().now_ms();
    let options = ReceiveOptions {
        max: 1,
        wait_seconds: Some(20),
        visibility_timeout: None,
    };
    let again = engine.receive("q", options).await.expect("again");
    assert_eq!(bodies(&again), ["m"]);
    assert_eq!(engine.clock().now_ms() - started, 2_000);
}

#[tokio::test(start_paused = true)]
async fn delays_and_visibility_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    engine
        .create_queue("q", attrs(&[("DelaySeconds", "5")]), BTreeMap::new())
        .await
        .expect("create");
    engine
        .send("q", vec![body("queue delay")])
        .await
        .expect("send");
    let mut own = body("own delay");
    own.delay_seconds = Some(1);
    engine.send("q", vec![own]).await.expect("send");
    let counts = engine
        .attributes("q", &["ApproximateNumberOfMessagesDelayed".to_owned()])
        .expect("attrs");
    assert_eq!(counts["ApproximateNumberOfMessagesDelayed"], "2");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = engine.receive("q", receive(10)).await.expect("r");
    assert_eq!(bodies(&got), ["own delay"]);
    let changed = engine
        .change_visibility("q", &[(got[0].receipt_handle.clone(), 0)])
        .expect("change");
    assert_eq!(changed, [Ok(())]);
    assert_eq!(
        bodies(&engine.receive("q", receive(10)).await.expect("r")),
        ["own delay"]
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let got = engine.receive("q", receive(10)).await.expect("r");
    assert_eq!(bodies(&got), ["queue delay"]);
    let bad = engine
        .change_visibility("q", &[("nonsense".into(), 1)])
        .expect("batch");
    assert_eq!(
        bad[0].as_ref().unwrap_err().kind,
        ErrorKind::ReceiptHandleIsInvalid
    );
}

#[tokio::test(start_paused = true)]
async fn the_redrive_policy_moves_messages_to_the_dead_letter_queue() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    engine
        .create_queue("dlq", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("dlq");
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"2"}}"#,
        engine.arn("dlq")
    );
    engine
        .create_queue(
            "src",
            attrs(&[("RedrivePolicy", &policy), ("VisibilityTimeout", "0")]),
            BTreeMap::new(),
        )
        .await
        .expect("src");
    let sent = engine
        .send("src", vec![body("poison")])
        .await
        .expect("send");
    let id = sent[0].as_ref().expect("sent").message_id.clone();
    for _ in 0..2 {
        assert_eq!(engine.receive("src", receive(1)).await.expect("r").len(), 1);
    }
    assert!(
        engine
            .receive("src", receive(1))
            .await
            .expect("r")
            .is_empty()
    );
    let dead = engine.receive("dlq", receive(1)).await.expect("dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, id, "the message keeps its id");
    assert_eq!(engine.dead_letter_sources("dlq").expect("sources"), ["src"]);

    // Redrive it back to where it came from.
    engine
        .change_visibility("dlq", &[(dead[0].receipt_handle.clone(), 0)])
        .expect("visible");
    let task = engine
        .start_move(&engine.arn("dlq"), None, None)
        .await
        .expect("move");
    for _ in 0..100 {
        if engine.move_tasks(&engine.arn("dlq"), 1)[0].status == "COMPLETED" {
            break;
        }
        tokio::task::yield_now().await;
    }
    let tasks = engine.move_tasks(&engine.arn("dlq"), 10);
    assert_eq!(
        (
            tasks[0].handle.as_str(),
            tasks[0].status.as_str(),
            tasks[0].moved
        ),
        (task.as_str(), "COMPLETED", 1)
    );
    let back = engine.receive("src", receive(1)).await.expect("back");
    assert_eq!(back[0].message_id, id);
    assert_eq!(back[0].system["ApproximateReceiveCount"], "1");
}

#[test]
fn a_running_move_task_goes_on_after_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime")
    };
    // The first run starts a task at one message a second and dies after the first.
    let first = runtime();
    let handle = first.block_on(async {
        let engine = open(dir.path());
        engine
            .create_queue("dlq", BTreeMap::new(), BTreeMap::new())
            .await
            .expect("dlq");
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"2"}}"#,
            engine.arn("dlq")
        );
        engine
            .create_queue("src", attrs(&[("RedrivePolicy", &policy)]), BTreeMap::new())
            .await
            .expect("src");
        engine
            .create_queue("out", BTreeMap::new(), BTreeMap::new())
            .await
            .expect("out");
        engine
            .send("dlq", vec![body("a"), body("b"), body("c")])
            .await
            .expect("send");
        let handle = engine
            .start_move(&engine.arn("dlq"), Some(engine.arn("out")), Some(1))
            .await
            .expect("start");
        // Not waiting on anything else: an idle paused runtime would move the clock on.
        while engine.move_tasks(&engine.arn("dlq"), 1)[0].moved < 1 {
            tokio::task::yield_now().await;
        }
        handle
    });
    drop(first);
    // The second run finds it running and finishes it.
    runtime().block_on(async {
        let engine = open(dir.path());
        let arn = engine.arn("dlq");
        let task = engine.move_tasks(&arn, 1)[0].clone();
        assert_eq!(
            (task.handle.as_str(), task.status.as_str()),
            (handle.as_str(), "RUNNING")
        );
        while engine.move_tasks(&arn, 1)[0].status == "RUNNING" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let done = engine.move_tasks(&arn, 1)[0].clone();
        assert_eq!(done.status, "COMPLETED");
        let mut got = bodies(&engine.receive("out", receive(10)).await.expect("r"))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        got.sort();
        got.dedup();
        assert_eq!(got, ["a", "b", "c"]);
        assert!(
            engine
                .receive("dlq", receive(10))
                .await
                .expect("r")
                .is_empty()
        );
        // Only the newest tasks of a source are kept.
        for _ in 0..12 {
            engine.start_move(&arn, None, None).await.expect("start");
            while engine.move_tasks(&arn, 1)[0].status == "RUNNING" {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(engine.move_tasks(&arn, 100).len(), 10);
    });
}

#[tokio::test(start_paused = true)]
async fn fifo_deduplicates_and_keeps_groups_in_order_across_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let engine = open(dir.path());
        engine
            .create_queue(
                "q.fifo",
                attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
                BTreeMap::new(),
            )
            .await
            .expect("create");
        let first = engine
            .send("q.fifo", vec![grouped("a1", "a")])
            .await
            .expect("s");
        let again = engine
            .send("q.fifo", vec![grouped("a1", "a")])
            .await
            .expect("s");
        assert_eq!(
            first[0].as_ref().expect("ok").message_id,
            again[0].as_ref().expect("ok").message_id,
            "a duplicate inside the window is the same message"
        );
        engine
            .send("q.fifo", vec![grouped("a2", "a"), grouped("b1", "b")])
            .await
            .expect("s");
        let missing_group = engine.send("q.fifo", vec![body("x")]).await.expect("s");
        assert_eq!(
            missing_group[0].as_ref().unwrap_err().kind,
            ErrorKind::MissingParameter
        );
    }
    let engine = open(dir.path());
    let got = engine.receive("q.fifo", receive(10)).await.expect("r");
    assert_eq!(bodies(&got), ["a1", "a2", "b1"]);
    assert!(got[0].system["SequenceNumber"] < got[1].system["SequenceNumber"]);
    let again = engine
        .send("q.fifo", vec![grouped("a1", "a")])
        .await
        .expect("s");
    assert_eq!(
        again[0].as_ref().expect("ok").message_id,
        got[0].message_id,
        "deduplication remembers queued messages across a restart"
    );
}

#[tokio::test(start_paused = true)]
async fn deduplication_outlives_a_deleted_message_and_a_restart_for_five_minutes() {
    let dir = tempfile::tempdir().expect("tmp");
    // One clock across the restarts, so paused time moves it for every engine.
    let clock = Clock::new();
    let open = |dir: &Path| {
        Engine::open_with_clock(dir, EngineConfig::default(), clock.clone()).expect("open")
    };
    let fifo = attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]);
    let first_id = {
        let engine = open(dir.path());
        engine
            .create_queue("q.fifo", fifo, BTreeMap::new())
            .await
            .expect("create");
        let sent = engine
            .send("q.fifo", vec![grouped("once", "g")])
            .await
            .expect("send");
        let got = engine.receive("q.fifo", receive(1)).await.expect("r");
        engine
            .delete("q.fifo", &[got[0].receipt_handle.clone()])
            .await
            .expect("delete");
        sent[0].as_ref().expect("sent").message_id.clone()
    };
    tokio::time::advance(std::time::Duration::from_secs(200)).await;
    let engine = open(dir.path());
    let retry = engine
        .send("q.fifo", vec![grouped("once", "g")])
        .await
        .expect("send");
    assert_eq!(
        retry[0].as_ref().expect("ok").message_id,
        first_id,
        "a producer's retry after the crash is still a duplicate"
    );
    assert!(
        engine
            .receive("q.fifo", receive(1))
            .await
            .expect("r")
            .is_empty()
    );
    assert_eq!(engine.bytes(), 0, "the id's record holds no message bytes");

    // Past the window the id's record goes, and the same body is a new message.
    tokio::time::advance(std::time::Duration::from_secs(101)).await;
    engine.expire();
    engine.sync().await.expect("sync");
    drop(engine);
    let engine = open(dir.path());
    let later = engine
        .send("q.fifo", vec![grouped("once", "g")])
        .await
        .expect("send");
    assert_ne!(later[0].as_ref().expect("ok").message_id, first_id);
    assert_eq!(
        bodies(&engine.receive("q.fifo", receive(1)).await.expect("r")),
        ["once"]
    );
}

#[tokio::test]
async fn purge_delete_queue_and_limits() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = EngineConfig {
        max_bytes: 10,
        ..Default::default()
    };
    let engine = Engine::open(dir.path(), config.clone()).expect("open");
    engine
        .create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("create");
    let sent = engine
        .send("q", vec![body("12345"), body("67890"), body("x")])
        .await
        .expect("send");
    assert!(sent[0].is_ok() && sent[1].is_ok());
    assert_eq!(sent[2].as_ref().unwrap_err().kind, ErrorKind::OverLimit);
    engine.purge("q").await.expect("purge");
    assert_eq!(
        engine.purge("q").await.unwrap_err().kind,
        ErrorKind::PurgeQueueInProgress
    );
    assert_eq!(engine.bytes(), 0);
    engine
        .send("q", vec![body("again")])
        .await
        .expect("room again");
    engine.delete_queue("q").await.expect("delete");
    assert_eq!(
        engine.receive("q", receive(1)).await.unwrap_err().kind,
        ErrorKind::QueueDoesNotExist
    );
    drop(engine);
    let engine = Engine::open(dir.path(), config).expect("reopen");
    assert!(engine.list("").is_empty());
    assert_eq!(engine.bytes(), 0);
}

#[tokio::test]
async fn attributes_report_settings_and_counts() {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = open(dir.path());
    engine
        .create_queue("q", BTreeMap::new(), attrs(&[("team", "a")]))
        .await
        .expect("create");
    engine
        .set_attributes("q", attrs(&[("VisibilityTimeout", "99")]))
        .await
        .expect("set");
    engine.send("q", vec![body("m")]).await.expect("send");
    let all = engine.attributes("q", &["All".to_owned()]).expect("all");
    assert_eq!(all["VisibilityTimeout"], "99");
    assert_eq!(all["ApproximateNumberOfMessages"], "1");
    assert_eq!(all["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:q");
    assert!(!all.contains_key("FifoQueue"));
    let unknown = engine.attributes("q", &["Nope".to_owned()]).unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::InvalidAttributeName);
    engine
        .retag("q", attrs(&[("env", "ci")]), &["team".to_owned()])
        .await
        .expect("tag");
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(engine.tags("q").expect("tags"), attrs(&[("env", "ci")]));
    assert_eq!(
        engine.attributes("q", &["All".to_owned()]).expect("all")["VisibilityTimeout"],
        "99"
    );
}

#[tokio::test]
async fn receives_stop_at_the_in_flight_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = EngineConfig {
        max_in_flight: 5,
        ..Default::default()
    };
    let engine = Engine::open(dir.path(), config).expect("open");
    engine
        .create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .expect("create");
    let batch: Vec<NewMessage> = (0..10).map(|i| body(&format!("m{i}"))).collect();
    engine.send("q", batch).await.expect("send");
    assert_eq!(
        engine
            .receive("q", receive(5))
            .await
            .expect("first five")
            .len(),
        5
    );
    let refused = engine.receive("q", receive(1)).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::OverLimit);
}
