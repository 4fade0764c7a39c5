//! The control plane beyond create/delete: updates, versions, aliases, event-invoke config
//! and destinations, tags, account settings.

use crate::server::{TestServer, json};
use hyper::Method;
use std::time::{Duration, Instant};

async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> hearth::client::Reply {
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).expect("json")
    };
    s.client
        .send(method, path, &[], body)
        .await
        .expect("request")
}

/// The base64 zip of an example guest, as `Code.ZipFile` carries it.
fn zip_b64(example: &str) -> serde_json::Value {
    crate::server::create_request("any", example)["Code"]["ZipFile"].take()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_code_and_configuration() {
    let s = TestServer::start().await;
    s.deployed("f", "echo", None, None).await;
    let before = json(&s.get("/2015-03-31/functions/f/configuration").await);
    assert_eq!(
        s.invoke("f", r#"{"x":1}"#).await.body,
        r#"{"x":1}"#.as_bytes()
    );

    let stale = call(
        &s,
        Method::PUT,
        "/2015-03-31/functions/f/code",
        serde_json::json!({"ZipFile": zip_b64("counter"), "RevisionId": "not-the-current-one"}),
    )
    .await;
    assert_eq!(stale.status, 412);
    assert_eq!(
        stale.header("x-amzn-ErrorType"),
        Some("PreconditionFailedException")
    );

    let updated = call(
        &s,
        Method::PUT,
        "/2015-03-31/functions/f/code",
        serde_json::json!({"ZipFile": zip_b64("counter"), "RevisionId": before["RevisionId"]}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.error_text());
    let updated = json(&updated);
    assert_ne!(updated["CodeSha256"], before["CodeSha256"]);
    assert_ne!(updated["RevisionId"], before["RevisionId"]);
    assert_eq!(
        json(&s.invoke("f", "{}").await)["count"],
        1,
        "new code runs"
    );

    let config = call(&s, Method::PUT, "/2015-03-31/functions/f/configuration",
        serde_json::json!({"MemorySize": 256, "Timeout": 5, "Environment": {"Variables": {"GREETING": "hi"}}})).await;
    assert_eq!(config.status, 200, "{}", config.error_text());
    let config = json(&config);
    assert_eq!(
        (config["MemorySize"].as_u64(), config["Timeout"].as_u64()),
        (Some(256), Some(5))
    );
    assert_eq!(config["Environment"]["Variables"]["GREETING"], "hi");
    assert_eq!(
        config["CodeSha256"], updated["CodeSha256"],
        "configuration changes keep the code"
    );
    assert_eq!(
        json(&s.invoke("f", "{}").await)["count"],
        1,
        "new configuration, new sandbox"
    );

    let invalid = call(
        &s,
        Method::PUT,
        "/2015-03-31/functions/f/configuration",
        serde_json::json!({"Timeout": 0}),
    )
    .await;
    assert_eq!(invalid.status, 400);
    let after = json(&s.get("/2015-03-31/functions/f/configuration").await);
    assert_eq!(after["Timeout"], 5, "a refused update changes nothing");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_aliases() {
    let s = TestServer::start().await;
    s.deployed("f", "echo", None, None).await;
    let v1 = call(
        &s,
        Method::POST,
        "/2015-03-31/functions/f/versions",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(v1.status, 201, "{}", v1.error_text());
    let v1 = json(&v1);
    assert_eq!(v1["Version"], "1");
    assert_eq!(
        v1["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:f:1"
    );
    let again = json(
        &call(
            &s,
            Method::POST,
            "/2015-03-31/functions/f/versions",
            serde_json::json!({}),
        )
        .await,
    );
    assert_eq!(
        again["Version"], "1",
        "nothing changed: the same version comes back"
    );

    call(
        &s,
        Method::PUT,
        "/2015-03-31/functions/f/code",
        serde_json::json!({"ZipFile": zip_b64("counter")}),
    )
    .await;
    let v2 = json(
        &call(
            &s,
            Method::POST,
            "/2015-03-31/functions/f/versions",
            serde_json::json!({"Description": "counter"}),
        )
        .await,
    );
    assert_eq!(v2["Version"], "2");
    let versions = json(&s.get("/2015-03-31/functions/f/versions").await);
    let names: Vec<_> = versions["Versions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v["Version"].clone())
        .collect();
    assert_eq!(names, ["$LATEST", "1", "2"]);

    let alias = call(
        &s,
        Method::POST,
        "/2015-03-31/functions/f/aliases",
        serde_json::json!({"Name": "live", "FunctionVersion": "1"}),
    )
    .await;
    assert_eq!(alias.status, 201, "{}", alias.error_text());
    assert_eq!(
        json(&alias)["AliasArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:f:live"
    );
    let dup = call(
        &s,
        Method::POST,
        "/2015-03-31/functions/f/aliases",
        serde_json::json!({"Name": "live", "FunctionVersion": "1"}),
    )
    .await;
    assert_eq!(dup.status, 409);

    // Version 1 is echo, 2 and $LATEST are counter.
    let by_qualifier = s
        .client
        .send(
            Method::POST,
            "/2015-03-31/functions/f/invocations?Qualifier=live",
            &[],
            r#"{"v":1}"#,
        )
        .await
        .expect("invoke");
    assert_eq!(by_qualifier.body, r#"{"v":1}"#.as_bytes());
    assert_eq!(by_qualifier.header("X-Amz-Executed-Version"), Some("1"));
    let by_arn = s
        .invoke(
            "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af%3Alive",
            r#"{"v":2}"#,
        )
        .await;
    assert_eq!(by_arn.body, r#"{"v":2}"#.as_bytes());
    assert_eq!(json(&s.invoke("f:2", "{}").await)["count"], 1);

    let moved = call(
        &s,
        Method::PUT,
        "/2015-03-31/functions/f/aliases/live",
        serde_json::json!({"FunctionVersion": "2"}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.error_text());
    assert_eq!(
        json(&s.invoke("f:live", "{}").await)["count"],
        2,
        "the alias now runs version 2 (warm)"
    );

    let in_use = call(
        &s,
        Method::DELETE,
        "/2015-03-31/functions/f?Qualifier=2",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(in_use.status, 409, "an alias still points at version 2");
    let deleted = call(
        &s,
        Method::DELETE,
        "/2015-03-31/functions/f?Qualifier=1",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(s.invoke("f:1", "{}").await.status, 404);
    assert_eq!(s.invoke("f:nope", "{}").await.status, 404);

    let aliases = json(&s.get("/2015-03-31/functions/f/aliases").await);
    assert_eq!(aliases["Aliases"][0]["FunctionVersion"], "2");
    assert_eq!(
        call(
            &s,
            Method::DELETE,
            "/2015-03-31/functions/f/aliases/live",
            serde_json::Value::Null
        )
        .await
        .status,
        204
    );
    assert_eq!(
        s.get("/2015-03-31/functions/f/aliases/live").await.status,
        404
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_events_reach_the_on_failure_destination() {
    let s = TestServer::start().await;
    s.deployed("failing", "error", None, None).await;
    s.deployed("sink", "logger", None, None).await;
    let bad = call(
        &s,
        Method::PUT,
        "/2019-09-25/functions/failing/event-invoke-config",
        serde_json::json!({"MaximumRetryAttempts": 3}),
    )
    .await;
    assert_eq!(bad.status, 400);
    let put = call(&s, Method::PUT, "/2019-09-25/functions/failing/event-invoke-config", serde_json::json!({
        "MaximumRetryAttempts": 0,
        "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:000000000000:function:sink"}}
    })).await;
    assert_eq!(put.status, 200, "{}", put.error_text());
    let got = json(
        &s.get("/2019-09-25/functions/failing/event-invoke-config")
            .await,
    );
    assert_eq!(got["MaximumRetryAttempts"], 0);
    assert_eq!(
        got["DestinationConfig"]["OnFailure"]["Destination"],
        "arn:aws:lambda:us-east-1:000000000000:function:sink"
    );

    let accepted = s
        .invoke_as("failing", r#"{"order":42}"#, "Event", false)
        .await;
    assert_eq!(accepted.status, 202);
    let request_id = accepted.header("x-amzn-RequestId").expect("id").to_owned();
    let log = s.scheduler.logs().path("sink");
    let until = Instant::now() + Duration::from_secs(20);
    let record = loop {
        s.scheduler.logs().flush();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("event ")) {
            break line.split_once(": ").expect("event line").1.to_owned();
        }
        assert!(Instant::now() < until, "no destination record arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let record: serde_json::Value = serde_json::from_str(&record).expect("record is JSON");
    assert_eq!(record["version"], "1.0");
    assert_eq!(record["requestContext"]["requestId"], request_id.as_str());
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        record["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:failing:$LATEST"
    );
    assert_eq!(record["requestPayload"]["order"], 42);
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["responsePayload"]["errorType"], "ValidationError");
    assert_eq!(
        call(
            &s,
            Method::DELETE,
            "/2019-09-25/functions/failing/event-invoke-config",
            serde_json::Value::Null
        )
        .await
        .status,
        204
    );
    assert_eq!(
        s.get("/2019-09-25/functions/failing/event-invoke-config")
            .await
            .status,
        404
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_account_settings() {
    let s = TestServer::start().await;
    s.deployed("f", "echo", None, None).await;
    let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af";
    let tag = call(
        &s,
        Method::POST,
        &format!("/2017-03-31/tags/{arn}"),
        serde_json::json!({"Tags": {"team": "a", "env": "ci"}}),
    )
    .await;
    assert_eq!(tag.status, 204, "{}", tag.error_text());
    let untag = call(
        &s,
        Method::DELETE,
        &format!("/2017-03-31/tags/{arn}?tagKeys=env"),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(untag.status, 204);
    assert_eq!(
        json(&s.get(&format!("/2017-03-31/tags/{arn}")).await)["Tags"],
        serde_json::json!({"team": "a"})
    );
    assert_eq!(
        json(&s.get("/2015-03-31/functions/f").await)["Tags"]["team"],
        "a"
    );
    let settings = json(&s.get("/2016-08-19/account-settings").await);
    assert_eq!(
        settings["AccountLimit"]["ConcurrentExecutions"],
        hearth_scheduler::config::DEFAULT_ACCOUNT_CONCURRENCY
    );
    assert_eq!(settings["AccountUsage"]["FunctionCount"], 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_deploy_updates_and_reads_logs() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (echo, counter) = (
        dir.path().join("echo.wasm"),
        dir.path().join("counter.wasm"),
    );
    std::fs::write(&echo, crate::guests::guest("echo")).expect("write");
    std::fs::write(&counter, crate::guests::guest("counter")).expect("write");
    let deploy = |file: &std::path::Path, memory| hearth::cli::Deploy {
        name: "f",
        file: Box::leak(file.to_path_buf().into_boxed_path()),
        handler: "function.wasm",
        runtime: "wasm32-wasip2",
        memory_mb: memory,
        timeout_s: None,
        env: &[],
    };
    hearth::cli::deploy(&s.client, &deploy(&echo, None))
        .await
        .expect("create");
    let updated = hearth::cli::deploy(&s.client, &deploy(&counter, Some(256)))
        .await
        .expect("update");
    let updated: serde_json::Value = serde_json::from_str(&updated).expect("json");
    assert_eq!(updated["MemorySize"], 256);
    assert_eq!(json(&s.invoke("f", "{}").await)["count"], 1);

    let mut out = Vec::new();
    hearth::cli::logs(&s.client, "f", false, &mut out)
        .await
        .expect("logs");
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains("count=1") && text.contains("REPORT RequestId:"),
        "{text}"
    );
    let mut listing = Vec::new();
    hearth::cli::functions(&s.client, &mut listing)
        .await
        .expect("functions");
    assert!(String::from_utf8(listing).expect("utf8").contains("\nf "));
    assert_eq!(s.get("/hearth/v1/logs/missing").await.status, 404);
    assert_eq!(s.get("/hearth/v1/logs/..%2Fetc").await.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_concurrency_keeps_sandboxes_initialised() {
    let s = TestServer::start().await;
    s.deployed("f", "env", None, None).await;
    let path = "/2019-09-30/functions/f/provisioned-concurrency";
    let latest = call(
        &s,
        Method::PUT,
        &format!("{path}?Qualifier=$LATEST"),
        serde_json::json!({"ProvisionedConcurrentExecutions": 2}),
    )
    .await;
    assert_eq!(latest.status, 400, "not on unpublished versions");
    assert_eq!(
        call(
            &s,
            Method::POST,
            "/2015-03-31/functions/f/versions",
            serde_json::json!({})
        )
        .await
        .status,
        201
    );
    assert_eq!(
        call(
            &s,
            Method::POST,
            "/2015-03-31/functions/f/aliases",
            serde_json::json!({"Name": "live", "FunctionVersion": "1"})
        )
        .await
        .status,
        201
    );
    assert_eq!(s.get(&format!("{path}?Qualifier=live")).await.status, 404);
    let put = call(
        &s,
        Method::PUT,
        &format!("{path}?Qualifier=live"),
        serde_json::json!({"ProvisionedConcurrentExecutions": 2}),
    )
    .await;
    assert_eq!(put.status, 202, "{}", put.error_text());
    s.wait_for("the provisioned config to be READY", || async {
        json(&s.get(&format!("{path}?Qualifier=live")).await)["Status"] == "READY"
    })
    .await;
    let status = json(&s.get(&format!("{path}?Qualifier=live")).await);
    assert_eq!(status["AllocatedProvisionedConcurrentExecutions"], 2);
    // An invocation of the alias runs in an initialised sandbox: no INIT in its log.
    let reply = s.invoke_as("f:live", "{}", "RequestResponse", true).await;
    assert_eq!(
        json(&reply)["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
    assert_eq!(json(&reply)["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "1");
    assert!(!crate::server::log_tail(&reply).contains("Init Duration"));
    assert_eq!(
        call(
            &s,
            Method::DELETE,
            &format!("{path}?Qualifier=live"),
            serde_json::Value::Null
        )
        .await
        .status,
        204
    );
    assert_eq!(s.get(&format!("{path}?Qualifier=live")).await.status, 404);
    s.stop().await;
}
