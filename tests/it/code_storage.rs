//! Stored code: what no version references is deleted (the component and its compiled
//! code), and the code storage quota is enforced at every change that adds a package.

use crate::guests::guest;
use crate::server::{TestServer, json, poll_for};
use hyper::Method;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// The hashes of the components stored under `<state>/code`.
fn stored_code(state: &Path) -> BTreeSet<String> {
    files(&state.join("code"))
        .into_iter()
        .filter_map(|f| f.strip_suffix(".wasm").map(str::to_owned))
        .collect()
}

/// The components compiled code is cached for (`<sha>-<engine>.cwasm`).
fn cached_code(state: &Path) -> BTreeSet<String> {
    files(&state.join("cache"))
        .into_iter()
        .filter_map(|f| f.split_once('-').map(|(sha, _)| sha.to_owned()))
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn sha_hex(wasm: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(wasm))
}

async fn delete(s: &TestServer, path: &str) -> u16 {
    s.client
        .send(Method::DELETE, path, &[], Vec::new())
        .await
        .expect("delete")
        .status
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_no_version_references_is_deleted_with_its_compiled_code() {
    let s = TestServer::start().await;
    let state = s.scheduler.config().state_dir.clone();
    let (echo, counter) = (sha_hex(&guest("echo")), sha_hex(&guest("counter")));

    s.deployed("f", "echo", None, None).await;
    s.deployed("g", "echo", None, None).await;
    assert_eq!(stored_code(&state), BTreeSet::from([echo.clone()]));
    assert_eq!(cached_code(&state), BTreeSet::from([echo.clone()]));

    // Version 1 keeps echo referenced while $LATEST moves on.
    s.publish_versions("f", 1).await;
    let reply = s.update_code("f", "counter").await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    assert_eq!(
        stored_code(&state),
        BTreeSet::from([echo.clone(), counter.clone()])
    );

    // g still runs echo: deleting f's version 1 must not take it.
    assert_eq!(delete(&s, "/2015-03-31/functions/f?Qualifier=1").await, 204);
    assert_eq!(
        stored_code(&state),
        BTreeSet::from([echo.clone(), counter.clone()])
    );
    assert_eq!(s.invoke("g", r#"{"still":"here"}"#).await.status, 200);

    // Replacing g's code leaves echo referenced by nothing.
    let reply = s.update_code("g", "counter").await;
    assert_eq!(reply.status, 200, "{}", reply.error_text());
    assert_eq!(stored_code(&state), BTreeSet::from([counter.clone()]));
    assert_eq!(cached_code(&state), BTreeSet::from([counter.clone()]));

    assert_eq!(delete(&s, "/2015-03-31/functions/f").await, 204);
    assert_eq!(stored_code(&state), BTreeSet::from([counter.clone()]));
    assert_eq!(delete(&s, "/2015-03-31/functions/g").await, 204);
    assert_eq!(stored_code(&state), BTreeSet::new());
    assert_eq!(cached_code(&state), BTreeSet::new());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_a_crash_left_behind_is_collected_at_start() {
    let state_dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(state_dir.path().join("code")).expect("code dir");
    let stray = "0".repeat(64);
    std::fs::write(
        state_dir.path().join(format!("code/{stray}.wasm")),
        guest("echo"),
    )
    .expect("stray component");
    std::fs::write(
        state_dir.path().join("code/interrupted.tmp-1-1"),
        b"half a write",
    )
    .expect("stray temp file");
    let path = state_dir.path().to_owned();
    let s = TestServer::start_with(move |c| c.state_dir = path).await;
    let state = s.scheduler.config().state_dir.clone();
    let collected = poll_for(Duration::from_secs(10), || {
        let state = state.clone();
        async move { files(&state.join("code")).is_empty().then_some(()) }
    })
    .await;
    assert!(
        collected.is_some(),
        "left: {:?}",
        files(&state.join("code"))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_storage_quota_is_enforced_at_create_update_and_publish() {
    let echo_zip = json(&{
        let probe = TestServer::start().await;
        let reply = probe.deploy("probe", "echo", None, None).await;
        probe.stop().await;
        reply
    })["CodeSize"]
        .as_u64()
        .expect("CodeSize");
    // Room for exactly two copies of echo's package.
    let limit = 2 * echo_zip;
    let s = TestServer::start_with(move |c| c.code_storage_limit = limit).await;
    s.deployed("a", "echo", None, None).await;
    s.deployed("b", "echo", None, None).await;

    let refused = s.deploy("c", "echo", None, None).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.header("x-amzn-ErrorType"),
        Some("CodeStorageExceededException")
    );
    assert!(
        json(&refused)["Message"]
            .as_str()
            .is_some_and(|m| m.contains("Code storage limit exceeded")),
        "{}",
        refused.error_text()
    );
    assert_eq!(s.get("/2015-03-31/functions/c").await.status, 404);

    // A version is another copy of the package.
    let publish = s
        .client
        .send_json(
            Method::POST,
            "/2015-03-31/functions/a/versions",
            &serde_json::json!({}),
        )
        .await
        .expect("publish");
    assert_eq!(
        publish.header("x-amzn-ErrorType"),
        Some("CodeStorageExceededException")
    );
    // Replacing $LATEST with a package of the same size fits.
    assert_eq!(s.update_code("a", "echo").await.status, 200);

    let settings = json(&s.get("/2016-08-19/account-settings").await);
    assert_eq!(settings["AccountLimit"]["TotalCodeSize"], limit);
    assert_eq!(settings["AccountUsage"]["TotalCodeSize"], limit);

    assert_eq!(delete(&s, "/2015-03-31/functions/b").await, 204);
    s.deployed("c", "echo", None, None).await;
    s.stop().await;
}
