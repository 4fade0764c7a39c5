//! What a client was told survives `kill -9`: the real binary, killed and started again on
//! the same state directory.

use crate::server::{json, poll_for};
use hearth::client::{HearthClient, Reply};
use hyper::Method;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    client: HearthClient,
}

impl Server {
    async fn start(state_dir: &std::path::Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--state-dir",
            ])
            .arg(state_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hearth");
        let client = HearthClient::new(&format!("http://127.0.0.1:{port}"));
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.send(Method::GET, "/health", &[], Vec::new()).await
                && r.status == 200
            {
                break;
            }
            assert!(Instant::now() < until, "hearth did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, client }
    }

    async fn call(&self, method: Method, path: &str, body: serde_json::Value) -> Reply {
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).expect("json")
        };
        self.client
            .send(method, path, &[], body)
            .await
            .expect("request")
    }

    /// SIGKILL: no shutdown path runs.
    fn kill_9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_acknowledged_survives_kill_9() {
    let state = tempfile::tempdir().expect("state dir");
    let port = free_port();
    let server = Server::start(state.path(), port).await;

    let mut request = crate::server::create_request("sleepy", "sleep");
    request["MemorySize"] = 256.into();
    request["Timeout"] = 10.into();
    request["Environment"] = serde_json::json!({"Variables": {"MODE": "durable"}});
    request["Tags"] = serde_json::json!({"team": "core"});
    let created = server
        .client
        .create_function(&request)
        .await
        .expect("create");
    assert_eq!(created.status, 201, "{}", created.error_text());
    assert_eq!(
        server
            .call(
                Method::POST,
                "/2015-03-31/functions/sleepy/versions",
                serde_json::json!({})
            )
            .await
            .status,
        201
    );
    assert_eq!(
        server
            .call(
                Method::POST,
                "/2015-03-31/functions/sleepy/aliases",
                serde_json::json!({"Name": "live", "FunctionVersion": "1"})
            )
            .await
            .status,
        201
    );
    assert_eq!(
        server
            .call(
                Method::PUT,
                "/2017-10-31/functions/sleepy/concurrency",
                serde_json::json!({"ReservedConcurrentExecutions": 0})
            )
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .call(
                Method::PUT,
                "/2019-09-25/functions/sleepy/event-invoke-config",
                serde_json::json!({"MaximumRetryAttempts": 1})
            )
            .await
            .status,
        200
    );
    let before = json(
        &server
            .call(
                Method::GET,
                "/2015-03-31/functions/sleepy",
                serde_json::Value::Null,
            )
            .await,
    );

    // Reserved concurrency 0 throttles every attempt, so the accepted Event cannot have run
    // (or finished) before the kill: it survives only if it was durably queued.
    let accepted = server
        .client
        .invoke("sleepy", br#"{"ms":1}"#.to_vec(), "Event", false)
        .await
        .expect("event");
    assert_eq!(accepted.status, 202);
    let request_id = accepted.header("x-amzn-RequestId").expect("id").to_owned();
    assert!(
        journal_mentions(state.path(), &request_id),
        "the 202 came before the event was in the journal"
    );
    let log = state.path().join("logs/sleepy.log");
    let before_kill = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!before_kill.contains(&format!("RequestId: {request_id}")));
    server.kill_9();

    let server = Server::start(state.path(), port).await;
    let after = json(
        &server
            .call(
                Method::GET,
                "/2015-03-31/functions/sleepy",
                serde_json::Value::Null,
            )
            .await,
    );
    assert_eq!(after["Configuration"], before["Configuration"]);
    assert_eq!(after["Tags"], serde_json::json!({"team": "core"}));
    assert_eq!(after["Concurrency"]["ReservedConcurrentExecutions"], 0);
    // Let it run again: the queued Event's throttle retry now goes through.
    let reopened = server
        .call(
            Method::PUT,
            "/2017-10-31/functions/sleepy/concurrency",
            serde_json::json!({"ReservedConcurrentExecutions": 5}),
        )
        .await;
    assert_eq!(reopened.status, 200);
    let alias = json(
        &server
            .call(
                Method::GET,
                "/2015-03-31/functions/sleepy/aliases/live",
                serde_json::Value::Null,
            )
            .await,
    );
    assert_eq!(alias["FunctionVersion"], "1");
    let config = json(
        &server
            .call(
                Method::GET,
                "/2019-09-25/functions/sleepy/event-invoke-config",
                serde_json::Value::Null,
            )
            .await,
    );
    assert_eq!(config["MaximumRetryAttempts"], 1);
    let invoked = server
        .client
        .invoke(
            "sleepy:live",
            br#"{"ms":1}"#.to_vec(),
            "RequestResponse",
            false,
        )
        .await
        .expect("invoke");
    assert_eq!(json(&invoked)["slept_ms"], 1);

    // The Event accepted before the kill runs after the restart.
    let report = format!("REPORT RequestId: {request_id}");
    let ran = poll_for(Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::future::ready(text.contains(&report).then_some(()))
    })
    .await;
    assert!(
        ran.is_some(),
        "the accepted Event never ran after the restart"
    );
    // And leaves the queue once finished.
    let drained = poll_for(Duration::from_secs(10), || async {
        let metrics = server
            .call(Method::GET, "/metrics", serde_json::Value::Null)
            .await;
        String::from_utf8_lossy(&metrics.body)
            .contains("hearth_async_queue_events 0")
            .then_some(())
    })
    .await;
    assert!(drained.is_some(), "the finished event is still queued");
}

/// Whether any journal segment under the state dir holds `needle` (an event's request id is
/// in its JSON record).
fn journal_mentions(state: &std::path::Path, needle: &str) -> bool {
    std::fs::read_dir(state.join("async-events"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            std::fs::read(entry.path())
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
}
