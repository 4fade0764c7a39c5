//! The claims the documentation makes, each checked end to end: a guest has no network,
//! `/metrics` and `/health` stay open under credentials, the real binary's refusals and its
//! signing CLI, error and throttle metrics, `RevisionId` and weighted aliases.

use crate::server::{TestServer, json};
use hearth::client::HearthClient;
use hyper::Method;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

fn credentials() -> hearth::auth::Credentials {
    hearth::auth::Credentials::parse("AKIDEXAMPLE secret\n").expect("credentials")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// What a finished run of the real binary left behind.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs the real `hearth` binary with `args` (and `env`) until it exits, its output in files
/// under `out` (no pipe to fill up). A run still going after 30 s is killed and fails the
/// test: the claims checked with this say it ends by itself.
async fn run_to_exit(args: &[&str], env: &[(&str, &str)], out: &Path) -> Finished {
    let stdout = out.join("stdout");
    let stderr = out.join("stderr");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hearth"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("HEARTH_ENDPOINT")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"));
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn hearth");
    let exited = crate::server::poll_for(Duration::from_secs(30), || {
        std::future::ready(child.try_wait().expect("try_wait"))
    })
    .await;
    let Some(status) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "hearth {args:?} was still running after 30 s; stderr:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };
    Finished {
        status,
        stdout: std::fs::read_to_string(&stdout).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr).unwrap_or_default(),
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_has_no_network() {
    let s = TestServer::start().await;
    s.deployed("hostile", "hostile", None, Some(10)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reply = s
        .invoke("hostile", &format!(r#"{{"mode":"connect","n":{port}}}"#))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("X-Amz-Function-Error"), None);
    let body = json(&reply);
    assert!(
        body["connect"]
            .as_str()
            .is_some_and(|c| c.starts_with("refused")),
        "{body}"
    );
    // A connect that got through would sit in the accept queue by now (its handshake
    // completed before the guest answered): a non-blocking accept finds nothing.
    let listener = listener.into_std().expect("std listener");
    listener.set_nonblocking(true).expect("nonblocking");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the guest reached the listener from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_stay_open_under_credentials() {
    let s = TestServer::start_signed(credentials()).await;
    let unsigned = HearthClient::new(&s.endpoint);
    // The server does require signatures elsewhere.
    let listed = unsigned
        .send(Method::GET, "/2015-03-31/functions", &[], Vec::new())
        .await
        .expect("list");
    assert_eq!(listed.status, 403, "{}", listed.error_text());
    let metrics = unsigned
        .send(Method::GET, "/metrics", &[], Vec::new())
        .await
        .expect("metrics");
    assert_eq!(metrics.status, 200, "{}", metrics.error_text());
    assert!(String::from_utf8_lossy(&metrics.body).contains("hearth_"));
    let health = unsigned
        .send(Method::GET, "/health", &[], Vec::new())
        .await
        .expect("health");
    assert_eq!(health.status, 200, "{}", health.error_text());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_listen_address_needs_credentials_or_an_explicit_opt_out() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf8 path");
    let refused = run_to_exit(
        &["serve", "--listen", "0.0.0.0:0", "--state-dir", state_arg],
        &[],
        dir.path(),
    )
    .await;
    assert!(!refused.status.success(), "{:?}", refused.status);
    assert!(
        refused.stderr.contains("--credentials"),
        "{}",
        refused.stderr
    );

    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--listen", &format!("0.0.0.0:{port}")])
        .arg("--state-dir")
        .arg(&state)
        .arg("--allow-unauthenticated")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hearth");
    let mut running = Running(child);
    let client = HearthClient::new(&format!("http://127.0.0.1:{port}"));
    let up = crate::server::poll_for(Duration::from_secs(30), || {
        if let Some(status) = running.0.try_wait().expect("try_wait") {
            panic!("hearth --allow-unauthenticated exited: {status:?}");
        }
        let client = client.clone();
        async move {
            let health = client.send(Method::GET, "/health", &[], Vec::new()).await;
            health.is_ok_and(|r| r.status == 200).then_some(())
        }
    })
    .await;
    assert!(up.is_some(), "hearth did not come up");
    assert!(
        running.0.try_wait().expect("try_wait").is_none(),
        "the server that answered is ours and still running"
    );
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_signs_with_the_aws_environment_keys() {
    let s = TestServer::start_signed(credentials()).await;
    s.deployed("listed", "echo", None, None).await;
    let dir = tempfile::tempdir().expect("tmp");
    let args = ["functions", "--endpoint", s.endpoint.as_str()];
    let ok = run_to_exit(
        &args,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
        dir.path(),
    )
    .await;
    assert!(ok.status.success(), "{:?}: {}", ok.status, ok.stderr);
    assert!(ok.stdout.contains("listed"), "{}", ok.stdout);
    let wrong = run_to_exit(
        &args,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
        dir.path(),
    )
    .await;
    assert!(!wrong.status.success(), "{:?}", wrong.status);
    assert!(!wrong.stdout.contains("listed"), "{}", wrong.stdout);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_throttles_are_counted_per_function() {
    let s = TestServer::start().await;
    s.deployed("failing", "error", None, None).await;
    let failed = s.invoke("failing", "{}").await;
    assert_eq!(failed.status, 200);
    assert_eq!(failed.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(json(&failed)["errorType"], "ValidationError");
    let put = s
        .client
        .send(
            Method::PUT,
            "/2017-10-31/functions/failing/concurrency",
            &[],
            r#"{"ReservedConcurrentExecutions":0}"#,
        )
        .await
        .expect("put");
    assert_eq!(put.status, 200, "{}", put.error_text());
    let throttled = s.invoke("failing", "{}").await;
    assert_eq!(throttled.status, 429, "{}", throttled.error_text());
    let errors = r#"hearth_errors_total{function="failing"}"#;
    let throttles = r#"hearth_throttles_total{function="failing"}"#;
    s.wait_for("the error to be counted", || async {
        s.metric(errors).await == Some(1.0)
    })
    .await;
    s.wait_for("the throttle to be counted", || async {
        s.metric(throttles).await == Some(1.0)
    })
    .await;
    // Exactly one each: the throttled invoke is not also an error.
    assert_eq!(s.metric(errors).await, Some(1.0));
    assert_eq!(s.metric(throttles).await, Some(1.0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_function_configuration_checks_the_revision_id() {
    let s = TestServer::start().await;
    s.deployed("revised", "echo", None, Some(3)).await;
    let path = "/2015-03-31/functions/revised/configuration";
    let stale = s
        .client
        .send_json(
            Method::PUT,
            path,
            &serde_json::json!({"RevisionId": "wrong", "Timeout": 5}),
        )
        .await
        .expect("update");
    assert_eq!(stale.status, 412, "{}", stale.error_text());
    assert_eq!(
        stale.header("x-amzn-ErrorType"),
        Some("PreconditionFailedException")
    );
    let config = json(&s.get(path).await);
    assert_eq!(config["Timeout"], 3, "the refused update changed nothing");
    let revision = config["RevisionId"]
        .as_str()
        .expect("RevisionId")
        .to_owned();
    let current = s
        .client
        .send_json(
            Method::PUT,
            path,
            &serde_json::json!({"RevisionId": revision, "Timeout": 5}),
        )
        .await
        .expect("update");
    assert_eq!(current.status, 200, "{}", current.error_text());
    assert_eq!(json(&current)["Timeout"], 5);
    assert_ne!(json(&current)["RevisionId"], revision.as_str());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_aliases_are_refused() {
    let s = TestServer::start().await;
    s.deployed("weighted", "echo", None, None).await;
    s.publish_versions("weighted", 2).await;
    let reply = s
        .client
        .send_json(
            Method::POST,
            "/2015-03-31/functions/weighted/aliases",
            &serde_json::json!({
                "Name": "w",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}
            }),
        )
        .await
        .expect("create alias");
    assert_eq!(reply.status, 400, "{}", reply.error_text());
    assert_eq!(
        reply.header("x-amzn-ErrorType"),
        Some("InvalidParameterValueException")
    );
    assert!(
        reply.error_text().contains("AdditionalVersionWeights"),
        "{}",
        reply.error_text()
    );
    // Nothing was created.
    assert_eq!(
        s.get("/2015-03-31/functions/weighted/aliases/w")
            .await
            .status,
        404
    );
    // The same alias without weights is fine.
    let plain = s
        .client
        .send_json(
            Method::POST,
            "/2015-03-31/functions/weighted/aliases",
            &serde_json::json!({"Name": "w", "FunctionVersion": "1"}),
        )
        .await
        .expect("create alias");
    assert_eq!(plain.status, 201, "{}", plain.error_text());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_function_record_stops_the_start_and_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let state: PathBuf = dir.path().join("state");
    std::fs::create_dir_all(state.join("functions")).expect("functions dir");
    std::fs::write(state.join("functions/bad.json"), b"{ not json at all").expect("write");
    let run = run_to_exit(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state.to_str().expect("utf8 path"),
        ],
        &[],
        dir.path(),
    )
    .await;
    assert!(!run.status.success(), "{:?}", run.status);
    assert!(run.stderr.contains("bad.json"), "{}", run.stderr);
}
