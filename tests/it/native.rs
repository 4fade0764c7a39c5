//! Process sandboxes (`provided.al2023`): unmodified `bootstrap` runtimes, the official Rust
//! client and a hostile one, through the Invoke API; isolation, failure reporting, and
//! nothing left behind.

use crate::native_examples::native_zip;
use crate::server::{TestServer, json, log_tail, poll_for};
use hearth::client::Reply;
use std::time::Duration;

/// A CreateFunction body for native example `example` on `provided.al2023`.
fn native_request(name: &str, example: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut request = hearth::client::create_function_request(
        name,
        &native_zip(example),
        "bootstrap",
        None,
        None,
        &env,
    );
    request["Runtime"] = "provided.al2023".into();
    request
}

async fn deploy_native(
    server: &TestServer,
    name: &str,
    example: &str,
    adjust: impl FnOnce(&mut serde_json::Value),
) {
    let mut request = native_request(name, example, &[]);
    adjust(&mut request);
    let reply = server.create(&request).await;
    assert_eq!(reply.status, 201, "{}", reply.error_text());
}

fn error_of(reply: &Reply) -> (String, String) {
    assert_eq!(reply.header("X-Amz-Function-Error"), Some("Unhandled"));
    let body = json(reply);
    (
        body["errorType"].as_str().unwrap_or_default().to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn the_official_rust_client_runs_unchanged() {
    let server = TestServer::start().await;
    deploy_native(&server, "rusty", "native-rust", |_| {}).await;
    let reply = server
        .invoke_as("rusty", r#"{"hello":"native"}"#, "RequestResponse", true)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    assert_eq!(json(&reply), serde_json::json!({"hello": "native"}));
    let log = log_tail(&reply);
    assert!(log.contains("native-rust handled"), "{log}");
    assert!(
        log.contains("Init Duration"),
        "a cold start reports INIT: {log}"
    );

    // Warm: same environment, no INIT.
    let reply = server
        .invoke_as("rusty", r#"{"n":2}"#, "RequestResponse", true)
        .await;
    assert_eq!(json(&reply), serde_json::json!({"n": 2}));
    assert!(!log_tail(&reply).contains("Init Duration"));

    // A handled error, as the client posts it to /error.
    let reply = server.invoke("rusty", r#"{"fail":"no good"}"#).await;
    assert_eq!(reply.status, 200);
    let (_, message) = error_of(&reply);
    assert_eq!(message, "no good");

    // Event invocations run too.
    let reply = server
        .invoke_as("rusty", r#"{"async":true}"#, "Event", false)
        .await;
    assert_eq!(reply.status, 202);
    server
        .wait_for("the Event invocation", || async {
            server
                .metric("hearth_invocations_total{function=\"rusty\"}")
                .await
                .is_some_and(|n| n >= 4.0)
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn a_package_without_an_executable_bootstrap_is_refused_at_create() {
    use std::io::Write;
    let server = TestServer::start().await;
    for (name, mode) in [("other", 0o755), ("bootstrap", 0o644)] {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        zip.start_file(
            name,
            zip::write::SimpleFileOptions::default().unix_permissions(mode),
        )
        .expect("entry");
        zip.write_all(b"#!/bin/sh\n").expect("write");
        zip.finish().expect("finish");
        let mut request = native_request("nobootstrap", "native-hostile", &[]);
        request["Code"]["ZipFile"] =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out.into_inner())
                .into();
        let reply = server.create(&request).await;
        assert_eq!(reply.status, 400, "{name} {mode:o}");
        assert_eq!(
            reply.header("x-amzn-ErrorType"),
            Some("InvalidParameterValueException")
        );
        assert!(
            reply.error_text().contains("bootstrap"),
            "{}",
            reply.error_text()
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn the_environment_is_lambdas_and_nothing_of_the_hosts() {
    let server = TestServer::start().await;
    let mut request = native_request("envy", "native-hostile", &[("MY_VAR", "mine")]);
    request["MemorySize"] = 6144.into();
    assert_eq!(server.create(&request).await.status, 201);
    let reply = server.invoke("envy", r#"{"mode":"env"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    let env = json(&reply);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "envy");
    assert_eq!(
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "6144",
        "more than wasm32 can address"
    );
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["MY_VAR"], "mine");
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert!(
        env["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:"))
    );
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .is_some_and(|s| s.contains("[$LATEST]"))
    );
    assert!(
        env.get("AWS_EXECUTION_ENV").is_none(),
        "provided runtimes have none"
    );
    for host_only in ["HOME", "CARGO", "RUST_LOG", "USER"] {
        assert!(
            env.get(host_only).is_none(),
            "{host_only} leaked into the sandbox"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn exits_crashes_and_init_failures_are_reported_as_lambda_does() {
    let server = TestServer::start().await;
    deploy_native(&server, "quitter", "native-hostile", |_| {}).await;
    let (kind, message) = error_of(
        &server
            .invoke("quitter", r#"{"mode":"exit","code":7}"#)
            .await,
    );
    assert_eq!(kind, "Runtime.ExitError");
    assert!(
        message.ends_with("Runtime exited with error: exit status 7"),
        "{message}"
    );
    let (kind, message) = error_of(&server.invoke("quitter", r#"{"mode":"crash"}"#).await);
    assert_eq!(kind, "Runtime.ExitError");
    assert!(message.ends_with("signal: aborted"), "{message}");
    // The environment was reset: the next invoke is a cold start that works.
    let reply = server
        .invoke_as("quitter", r#"{"mode":"echo"}"#, "RequestResponse", true)
        .await;
    assert_eq!(json(&reply), serde_json::json!({"mode": "echo"}));
    assert!(log_tail(&reply).contains("Init Duration"));

    let mut request = native_request("initfail", "native-hostile", &[("HOSTILE_INIT", "error")]);
    assert_eq!(server.create(&request).await.status, 201);
    let (kind, message) = error_of(&server.invoke("initfail", "{}").await);
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("Hostile.InitError", "init failed on purpose")
    );

    request = native_request("initexit", "native-hostile", &[("HOSTILE_INIT", "exit")]);
    assert_eq!(server.create(&request).await.status, 201);
    let (kind, message) = error_of(&server.invoke("initexit", "{}").await);
    assert_eq!(kind, "Runtime.ExitError");
    assert!(message.ends_with("exit status 3"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn the_runtime_api_refuses_repeated_and_stale_answers_and_oversize_ones() {
    let server = TestServer::start().await;
    deploy_native(&server, "twice", "native-hostile", |_| {}).await;
    let reply = server
        .invoke_as("twice", r#"{"mode":"twice"}"#, "RequestResponse", true)
        .await;
    assert_eq!(json(&reply), "first");
    // The statuses are printed after the answer, before the next `next`, which is when the
    // invocation ends: in this invocation's log.
    let log = log_tail(&reply);
    assert!(
        log.contains("statuses: first=202 again=400 wrong=400"),
        "{log}"
    );

    let reply = server
        .invoke_as(
            "twice",
            r#"{"mode":"big","bytes":7000000}"#,
            "RequestResponse",
            true,
        )
        .await;
    let (kind, _) = error_of(&reply);
    assert_eq!(kind, "Function.ResponseSizeTooLarge");
    let log = log_tail(&reply);
    assert!(log.contains("big response status: 413"), "{log}");
    // The environment survives its refused answer.
    let reply = server
        .invoke_as("twice", r#"{"mode":"echo"}"#, "RequestResponse", true)
        .await;
    assert!(!log_tail(&reply).contains("Init Duration"));
    server.stop().await;
}

/// Pids of live (not zombie) processes whose environment names function `name`.
fn processes_of(name: &str) -> Vec<u32> {
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={name}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie
            && environ
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn a_timeout_kills_the_whole_tree_and_the_next_invoke_is_cold() {
    let server = TestServer::start().await;
    deploy_native(&server, "forker", "native-hostile", |r| {
        r["Timeout"] = 1.into()
    })
    .await;
    let reply = server
        .invoke_as(
            "forker",
            r#"{"mode":"fork-sleep"}"#,
            "RequestResponse",
            true,
        )
        .await;
    let (kind, message) = error_of(&reply);
    assert_eq!(kind, "Sandbox.Timedout");
    assert!(
        message.ends_with("Task timed out after 1.00 seconds"),
        "{message}"
    );
    assert!(
        log_tail(&reply).contains("forked sleep: Ok("),
        "{}",
        log_tail(&reply)
    );
    let gone = poll_for(Duration::from_secs(10), || async {
        processes_of("forker").is_empty().then_some(())
    })
    .await;
    assert!(gone.is_some(), "left behind: {:?}", processes_of("forker"));
    let reply = server
        .invoke_as("forker", r#"{"mode":"echo"}"#, "RequestResponse", true)
        .await;
    assert!(log_tail(&reply).contains("Init Duration"));
    server.stop().await;
}

#[tokio::test]
async fn memory_past_memory_size_is_out_of_memory_where_a_cgroup_enforces_it() {
    let server = TestServer::start().await;
    deploy_native(&server, "hog", "native-hostile", |r| {
        r["MemorySize"] = 128.into()
    })
    .await;
    // Within the limit: measured, not configured.
    let reply = server
        .invoke_as(
            "hog",
            r#"{"mode":"alloc","mib":40}"#,
            "RequestResponse",
            true,
        )
        .await;
    assert_eq!(json(&reply), "allocated");
    let log = log_tail(&reply);
    let used: u64 = log
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("Max Memory Used");
    assert!((40..128).contains(&used), "measured {used} MB: {log}");

    let reply = server.invoke("hog", r#"{"mode":"alloc","mib":400}"#).await;
    let (kind, message) = error_of(&reply);
    if server.scheduler.isolation().has_cgroup() {
        assert_eq!(kind, "Runtime.OutOfMemory", "{message}");
        assert!(message.ends_with("signal: killed"), "{message}");
    } else {
        // RLIMIT_AS: the allocation fails and the runtime aborts.
        assert_eq!(kind, "Runtime.ExitError", "{message}");
    }
    server.stop().await;
}

#[tokio::test]
async fn tmp_is_private_and_bounded_by_ephemeral_storage_where_mounts_are_allowed() {
    let server = TestServer::start().await;
    deploy_native(&server, "filler", "native-hostile", |r| {
        r["MemorySize"] = 2048.into()
    })
    .await;
    let layers = server.scheduler.isolation().layers().to_vec();
    let mount = layers
        .iter()
        .any(|l| l.name == "mount-namespace" && l.enabled);
    let reply = server.invoke("filler", r#"{"mode":"tmp","mib":600}"#).await;
    let answer = json(&reply);
    if mount {
        assert!(
            answer.as_str().is_some_and(|a| a.contains("No space left")),
            "{answer}"
        );
        assert!(
            !std::path::Path::new("/tmp/fill").exists(),
            "the host's /tmp was written"
        );
    } else {
        assert_eq!(answer, "written");
    }
    server.stop().await;
}

#[tokio::test]
async fn concurrent_invokes_get_separate_environments() {
    let server = TestServer::start().await;
    deploy_native(&server, "para", "native-hostile", |_| {}).await;
    let slow = r#"{"mode":"env","ms":300}"#;
    let (a, b) = tokio::join!(server.invoke("para", slow), server.invoke("para", slow));
    let (a, b) = (json(&a), json(&b));
    assert_ne!(
        a["AWS_LAMBDA_LOG_STREAM_NAME"],
        b["AWS_LAMBDA_LOG_STREAM_NAME"]
    );
    assert_ne!(a["AWS_LAMBDA_RUNTIME_API"], b["AWS_LAMBDA_RUNTIME_API"]);
    server.stop().await;
}

/// Children of this (test) process that exited and were not reaped. Other tests' environments
/// pass through this state for an instant; a leak stays in it.
fn zombie_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            let mut rest = stat
                .rsplit(')')
                .next()
                .unwrap_or_default()
                .split_whitespace();
            rest.next() == Some("Z") && rest.next() == Some(me.as_str())
        })
        .count()
}

/// Ports in LISTEN state on this host's loopback (IPv4).
fn listening_ports() -> Vec<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let port = cols.get(1)?.rsplit(':').next()?;
            (cols.get(3) == Some(&"0A")).then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

#[tokio::test]
async fn a_thousand_invokes_then_shutdown_leave_no_process_and_no_port() {
    let server = TestServer::start().await;
    deploy_native(&server, "many", "native-hostile", |_| {}).await;
    let mut ports = std::collections::HashSet::new();
    for round in 0..125 {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let client = server.client.clone();
                let mode = if i == 0 {
                    r#"{"mode":"env"}"#
                } else {
                    r#"{"mode":"echo"}"#
                };
                tokio::spawn(async move {
                    client
                        .invoke("many", mode.as_bytes().to_vec(), "RequestResponse", false)
                        .await
                        .expect("invoke")
                })
            })
            .collect();
        for call in calls {
            let reply = call.await.expect("task");
            assert_eq!(reply.status, 200, "round {round}: {}", reply.error_text());
            if let Some(api) = json(&reply)["AWS_LAMBDA_RUNTIME_API"].as_str() {
                ports.insert(
                    api.rsplit(':')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok())
                        .expect("port"),
                );
            }
        }
    }
    assert!(!processes_of("many").is_empty());
    server.stop().await;
    let clean = poll_for(Duration::from_secs(10), || async {
        let open = listening_ports();
        (processes_of("many").is_empty()
            && ports.iter().all(|p| !open.contains(p))
            && zombie_children() == 0)
            .then_some(())
    })
    .await;
    assert!(
        clean.is_some(),
        "left: processes {:?}, ports {:?}, zombies {}",
        processes_of("many"),
        ports
            .iter()
            .filter(|p| listening_ports().contains(p))
            .collect::<Vec<_>>(),
        zombie_children()
    );
}

#[tokio::test]
async fn health_and_doctor_report_each_isolation_layer() {
    let server = TestServer::start().await;
    let health = json(&server.get("/health").await);
    assert_eq!(health["status"], "ok");
    let layers = health["isolation"].as_array().expect("isolation layers");
    for name in ["process-group", "rlimits", "cgroup", "mount-namespace"] {
        let layer = layers
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {health}"));
        assert!(layer["enabled"].is_boolean() && layer["detail"].is_string());
    }
    server.stop().await;

    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("doctor")
        .output()
        .expect("hearth doctor");
    assert!(doctor.status.success());
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains("provided.al2023") && text.contains("wasm32-wasip2"),
        "{text}"
    );
    for line in ["  cgroup ", "  mount-namespace "] {
        let found = text
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(found.contains(" on ") || found.contains(" off "), "{found}");
    }
}

/// CreateFunction of python-echo on python3.12 (the default handler).
fn python_echo_request(name: &str) -> serde_json::Value {
    serde_json::json!({
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::000000000000:role/hearth",
        "Code": { "ZipFile": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            crate::python::python_echo_zip(),
        ) },
    })
}

#[tokio::test]
async fn a_plain_python_handler_runs_under_awslambdaric() {
    let interpreter = crate::python::python().clone();
    let server = TestServer::start_with(|c| c.python = Some(interpreter)).await;
    let reply = server.create(&python_echo_request("py")).await;
    assert_eq!(reply.status, 201, "{}", reply.error_text());
    let reply = server
        .invoke_as("py", r#"{"hello":"python"}"#, "RequestResponse", true)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    assert_eq!(
        json(&reply),
        serde_json::json!({"hello": "python"}),
        "{}",
        log_tail(&reply)
    );
    assert!(
        log_tail(&reply).contains("python-echo handled"),
        "{}",
        log_tail(&reply)
    );
    let (kind, message) = error_of(&server.invoke("py", r#"{"fail":"snake"}"#).await);
    assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "snake"));
    server.stop().await;
}

#[tokio::test]
async fn a_python_function_without_an_interpreter_is_refused_with_the_reason() {
    let server = TestServer::start_with(|c| c.python = Some("/nonexistent/python3".into())).await;
    let reply = server.create(&python_echo_request("nopy")).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error_text().contains("interpreter"),
        "{}",
        reply.error_text()
    );
    server.stop().await;
}

#[tokio::test]
async fn provisioned_concurrency_and_eviction_work_as_for_wasm() {
    use hyper::Method;
    // Room for two 128 MB environments by MemorySize.
    let server = TestServer::start_with(|c| {
        c.pool.memory_budget_mb = 256;
        c.pool.overcommit = 1;
    })
    .await;
    for name in ["pa", "pb", "pc"] {
        deploy_native(&server, name, "native-hostile", |_| {}).await;
    }
    // Provisioned: initialised ahead of demand, as provisioned-concurrency.
    let publish = server
        .client
        .send_json(
            Method::POST,
            "/2015-03-31/functions/pa/versions",
            &serde_json::json!({}),
        )
        .await
        .expect("publish");
    assert_eq!(publish.status, 201, "{}", publish.error_text());
    let path = "/2019-09-30/functions/pa/provisioned-concurrency?Qualifier=1";
    let put = server
        .client
        .send_json(
            Method::PUT,
            path,
            &serde_json::json!({"ProvisionedConcurrentExecutions": 1}),
        )
        .await
        .expect("put");
    assert_eq!(put.status, 202, "{}", put.error_text());
    server
        .wait_for("the provisioned environment", || async {
            json(&server.get(path).await)["Status"] == "READY"
        })
        .await;
    let reply = server
        .invoke_as("pa:1", r#"{"mode":"env"}"#, "RequestResponse", true)
        .await;
    assert_eq!(
        json(&reply)["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
    assert!(!log_tail(&reply).contains("Init Duration"));

    // The provisioned one holds 128 MB: pb warm fills the budget, pc evicts it (its process
    // tree ends).
    assert_eq!(server.invoke("pb", r#"{"mode":"echo"}"#).await.status, 200);
    assert!(!processes_of("pb").is_empty());
    assert_eq!(server.invoke("pc", r#"{"mode":"echo"}"#).await.status, 200);
    let evicted = poll_for(Duration::from_secs(10), || async {
        processes_of("pb").is_empty().then_some(())
    })
    .await;
    assert!(evicted.is_some(), "pb's environment was not shut down");
    assert!(!processes_of("pc").is_empty());
    server.stop().await;
}

#[tokio::test]
async fn an_external_extension_gets_invoke_and_shutdown_events() {
    let server = TestServer::start().await;
    let marker = crate::guests::workspace_root().join("target").join(format!(
        "extension-shutdown-{}-{}.json",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let marker_env = marker.display().to_string();
    let mut request = native_request(
        "ext",
        "native-rust",
        &[("EXTENSION_SHUTDOWN_FILE", &marker_env)],
    );
    request["Code"]["ZipFile"] = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        crate::native_examples::native_zip_with_extension("native-rust", "native-extension"),
    )
    .into();
    let reply = server.create(&request).await;
    assert_eq!(reply.status, 201, "{}", reply.error_text());

    let reply = server
        .invoke_as("ext", r#"{"with":"extension"}"#, "RequestResponse", true)
        .await;
    assert_eq!(json(&reply), serde_json::json!({"with": "extension"}));
    let log = log_tail(&reply);
    assert!(
        log.contains(r#"extension native-extension registered for "ext""#),
        "{log}"
    );
    let id = reply.header("x-amzn-RequestId").expect("request id");
    assert!(
        log.contains(&format!(r#"extension saw INVOKE "{id}""#)),
        "{log}"
    );

    // Warm: the extension is asked again, and the invocation waited for it.
    let reply = server.invoke_as("ext", "{}", "RequestResponse", true).await;
    let id = reply.header("x-amzn-RequestId").expect("request id");
    assert!(log_tail(&reply).contains(&format!(r#"extension saw INVOKE "{id}""#)));

    // Deleting the function shuts its environment down: the extension gets SHUTDOWN.
    let deleted = server
        .client
        .send(
            hyper::Method::DELETE,
            "/2015-03-31/functions/ext",
            &[],
            Vec::new(),
        )
        .await
        .expect("delete");
    assert_eq!(deleted.status, 204);
    let shutdown = poll_for(Duration::from_secs(10), || async {
        std::fs::read_to_string(&marker).ok()
    })
    .await
    .expect("the extension was not told SHUTDOWN");
    let _ = std::fs::remove_file(&marker);
    let event: serde_json::Value = serde_json::from_str(&shutdown).expect("event");
    assert_eq!(event["eventType"], "SHUTDOWN");
    assert_eq!(event["shutdownReason"], "spindown");
    server.stop().await;
}

#[tokio::test]
async fn a_server_holding_more_descriptors_than_a_sandbox_may_still_starts_sandboxes() {
    // A busy server holds thousands of sockets; until exec closes them, a new runtime process
    // holds them too, past the 1,024 it is limited to.
    let held: Vec<std::fs::File> = (0..1_100)
        .map(|_| std::fs::File::open("/dev/null").expect("open"))
        .collect();
    let server = TestServer::start().await;
    deploy_native(&server, "crowded", "native-hostile", |_| {}).await;
    let reply = server.invoke("crowded", r#"{"mode":"echo"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        json(&reply),
        serde_json::json!({"mode": "echo"}),
        "{}",
        reply.error_text()
    );
    drop(held);
    server.stop().await;
}

/// The events of an `InvokeWithResponseStream` answer, read as they arrive.
struct EventStream {
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl EventStream {
    /// The next event's `:event-type` and payload; `None` at the end of the body.
    async fn next(&mut self) -> Option<(String, Vec<u8>)> {
        use http_body_util::BodyExt as _;
        loop {
            if self.buf.len() >= 12 {
                let total = u32::from_be_bytes(self.buf[0..4].try_into().unwrap()) as usize;
                if self.buf.len() >= total {
                    let message: Vec<u8> = self.buf.drain(..total).collect();
                    let headers_len =
                        u32::from_be_bytes(message[4..8].try_into().unwrap()) as usize;
                    let (mut at, mut event_type) = (12, String::new());
                    while at < 12 + headers_len {
                        let n = message[at] as usize;
                        let name =
                            String::from_utf8_lossy(&message[at + 1..at + 1 + n]).into_owned();
                        let len =
                            u16::from_be_bytes([message[at + 2 + n], message[at + 3 + n]]) as usize;
                        let value = &message[at + 4 + n..at + 4 + n + len];
                        if name == ":event-type" {
                            event_type = String::from_utf8_lossy(value).into_owned();
                        }
                        at += 4 + n + len;
                    }
                    return Some((event_type, message[12 + headers_len..total - 4].to_vec()));
                }
            }
            let frame = self.body.frame().await?.expect("body frame");
            if let Ok(data) = frame.into_data() {
                self.buf.extend_from_slice(&data);
            }
        }
    }
}

/// `InvokeWithResponseStream` of `name`, unsigned: its status and, on 200, its events.
async fn stream_invoke(server: &TestServer, name: &str, payload: &str) -> (u16, EventStream) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let request = hyper::Request::post(format!(
        "http://{}/2021-11-15/functions/{name}/response-streaming-invocations",
        server.addr()
    ))
    .body(http_body_util::Full::new(bytes::Bytes::from(
        payload.to_owned(),
    )))
    .expect("request");
    let response = client.request(request).await.expect("stream invoke");
    let status = response.status().as_u16();
    (
        status,
        EventStream {
            body: response.into_body(),
            buf: Vec::new(),
        },
    )
}

#[tokio::test]
async fn a_streamed_response_reaches_the_caller_while_the_function_still_runs() {
    use tokio::io::AsyncWriteExt as _;
    let server = TestServer::start().await;
    deploy_native(&server, "streamer", "native-hostile", |_| {}).await;
    let gate = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("gate");
    let port = gate.local_addr().expect("addr").port();
    let payload =
        serde_json::json!({"mode": "stream", "chunks": ["one", "two", "three"], "gate": port});
    let (status, mut events) = stream_invoke(&server, "streamer", &payload.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        events.next().await,
        Some(("PayloadChunk".into(), b"one".to_vec()))
    );
    // The function waits at the gate after its first chunk: that chunk could only have
    // arrived if it was sent on while the function was still running.
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(30), gate.accept())
        .await
        .expect("the function reaches its gate")
        .expect("accept");
    conn.write_all(b"!").await.expect("open the gate");
    let mut rest = Vec::new();
    let mut complete = None;
    while let Some((kind, payload)) = events.next().await {
        match kind.as_str() {
            "PayloadChunk" => rest.extend_from_slice(&payload),
            "InvokeComplete" => complete = Some(payload),
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(rest, b"twothree");
    assert_eq!(complete.as_deref(), Some(&b"{}"[..]));

    // An error in the trailers ends the stream with that error, after what was sent.
    let payload = r#"{"mode":"stream","chunks":["partial"],"fail":"broke mid-stream"}"#;
    let (status, mut events) = stream_invoke(&server, "streamer", payload).await;
    assert_eq!(status, 200);
    assert_eq!(
        events.next().await,
        Some(("PayloadChunk".into(), b"partial".to_vec()))
    );
    let (kind, complete) = events.next().await.expect("InvokeComplete");
    assert_eq!(kind, "InvokeComplete");
    let complete: serde_json::Value = serde_json::from_slice(&complete).expect("json");
    assert_eq!(complete["ErrorCode"], "Hostile.StreamError");
    assert_eq!(complete["ErrorDetails"], "broke mid-stream");
    assert_eq!(events.next().await, None);

    // A caller of the plain Invoke API gets the streamed answer whole.
    let reply = server
        .invoke("streamer", r#"{"mode":"stream","chunks":["a","b","c"]}"#)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"abc");

    // A buffered answer is one chunk; an unknown function is an ordinary 404.
    let (_, mut events) = stream_invoke(&server, "streamer", r#"{"mode":"echo"}"#).await;
    assert_eq!(
        events.next().await,
        Some(("PayloadChunk".into(), br#"{"mode":"echo"}"#.to_vec()))
    );
    assert_eq!(
        events.next().await.map(|e| e.0).as_deref(),
        Some("InvokeComplete")
    );
    let (status, _) = stream_invoke(&server, "nothing-here", "{}").await;
    assert_eq!(status, 404);
    server.stop().await;
}
