//! A hearth server on an ephemeral port, and the client calls tests make against it.

use crate::guests::guest;
use base64::Engine as _;
use hearth::client::{self, HearthClient, Reply};
use hearth_scheduler::{Scheduler, SchedulerConfig};
use hyper::Method;
use std::time::Duration;
use tokio::sync::oneshot;

pub struct TestServer {
    pub client: HearthClient,
    pub endpoint: String,
    pub scheduler: Scheduler,
    _state_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed the scheduler's defaults.
    pub async fn start_with(adjust: impl FnOnce(&mut SchedulerConfig)) -> Self {
        Self::start_full(adjust, |_| {}).await
    }

    /// A server that requires SigV4 signatures by `credentials`.
    pub async fn start_signed(credentials: hearth::auth::Credentials) -> Self {
        Self::start_full(|_| {}, |s| s.credentials = Some(credentials)).await
    }

    /// A server whose front door settings `front` has changed.
    pub async fn start_front(front: impl FnOnce(&mut hearth::ServerConfig)) -> Self {
        Self::start_full(|_| {}, front).await
    }

    pub async fn start_full(
        adjust: impl FnOnce(&mut SchedulerConfig),
        front: impl FnOnce(&mut hearth::ServerConfig),
    ) -> Self {
        let state_dir = tempfile::tempdir().expect("temp state dir");
        let mut config = SchedulerConfig::new(state_dir.path());
        config.pool.memory_budget_mb = 8 * 1024;
        // Lambda's account limit as it is; fewer sandbox slots than a server's default, so
        // the address space the engines of many parallel test servers reserve stays small.
        config.pool.max_sandboxes = 256;
        config.shutdown_grace = Duration::from_secs(5);
        adjust(&mut config);
        let scheduler = Scheduler::new(config).expect("scheduler");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let mut server = hearth::ServerConfig {
            shutdown_grace: Duration::from_secs(5),
            ..Default::default()
        };
        front(&mut server);
        let task = tokio::spawn(hearth::serve(listener, scheduler.clone(), server, async {
            let _ = stopped.await;
        }));
        Self {
            client: HearthClient::signed(&endpoint, signing_key("AKIDEXAMPLE", "secret")),
            endpoint,
            scheduler,
            _state_dir: state_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Deploys example guest `example` as function `name`.
    pub async fn deploy(
        &self,
        name: &str,
        example: &str,
        memory_mb: Option<u32>,
        timeout_s: Option<u32>,
    ) -> Reply {
        let mut request = create_request(name, example);
        if let Some(m) = memory_mb {
            request["MemorySize"] = m.into();
        }
        if let Some(t) = timeout_s {
            request["Timeout"] = t.into();
        }
        self.create(&request).await
    }

    /// UpdateFunctionCode of `name` with example guest `example`, zipped as `deploy` does.
    pub async fn update_code(&self, name: &str, example: &str) -> Reply {
        let body = serde_json::json!({
            "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip_of(example)),
        });
        self.client
            .send_json(
                Method::PUT,
                &format!("/2015-03-31/functions/{name}/code"),
                &body,
            )
            .await
            .expect("update code")
    }

    /// Sends a CreateFunction request.
    pub async fn create(&self, request: &serde_json::Value) -> Reply {
        self.client.create_function(request).await.expect("create")
    }

    /// Deploys and asserts it worked.
    pub async fn deployed(
        &self,
        name: &str,
        example: &str,
        memory_mb: Option<u32>,
        timeout_s: Option<u32>,
    ) {
        let reply = self.deploy(name, example, memory_mb, timeout_s).await;
        assert_eq!(reply.status, 201, "{}", reply.error_text());
    }

    pub async fn invoke(&self, name: &str, payload: &str) -> Reply {
        self.client
            .invoke(name, payload.as_bytes().to_vec(), "RequestResponse", false)
            .await
            .expect("invoke")
    }

    pub async fn invoke_as(&self, name: &str, payload: &str, kind: &str, tail: bool) -> Reply {
        self.client
            .invoke(name, payload.as_bytes().to_vec(), kind, tail)
            .await
            .expect("invoke")
    }

    /// The value of a metric line `name` (with its labels) on `/metrics`, if present.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = String::from_utf8(self.get("/metrics").await.body.to_vec()).ok()?;
        text.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().ok())?
        })
    }

    /// Waits (bounded) until `done` holds, polling observable state.
    pub async fn wait_for<F, Fut>(&self, what: &str, mut done: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let found = poll_for(Duration::from_secs(30), || {
            let check = done();
            async move { check.await.then_some(()) }
        })
        .await;
        assert!(found.is_some(), "timed out waiting for {what}");
    }

    /// Publishes `count` new versions of `name`, changing its Timeout before each (a publish
    /// with nothing changed returns the newest version instead of a new one).
    pub async fn publish_versions(&self, name: &str, count: u32) {
        for i in 0..count {
            let updated = self
                .client
                .send_json(
                    Method::PUT,
                    &format!("/2015-03-31/functions/{name}/configuration"),
                    &serde_json::json!({ "Timeout": 10 + i }),
                )
                .await
                .expect("update");
            assert_eq!(updated.status, 200, "{}", updated.error_text());
            let published = self
                .client
                .send(
                    Method::POST,
                    &format!("/2015-03-31/functions/{name}/versions"),
                    &[],
                    "{}",
                )
                .await
                .expect("publish");
            assert_eq!(published.status, 201, "{}", published.error_text());
        }
    }

    /// The address as `host:port`.
    pub fn addr(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.client
            .send(Method::GET, path, &[], Vec::new())
            .await
            .expect("get")
    }

    /// Stops the server the way SIGTERM does and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The one polling loop of the tests: asks `probe` about observable state (a metric, a log
/// line, a file, a process) until it answers `Some`, for at most `limit`; `None` when it never
/// did. Every wait in the tests goes through here, never a sleep that hopes.
pub async fn poll_for<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = std::time::Instant::now() + limit;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if std::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The body as JSON.
pub fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&reply.body)))
}

/// The decoded `X-Amz-Log-Result`.
pub fn log_tail(reply: &Reply) -> String {
    let tail = reply
        .header("X-Amz-Log-Result")
        .expect("X-Amz-Log-Result header");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(tail)
            .expect("base64"),
    )
    .expect("utf8")
}

/// A signing key in us-east-1.
pub fn signing_key(id: &str, secret: &str) -> Option<hearth::client::SigningKey> {
    Some(hearth::client::SigningKey {
        access_key_id: id.into(),
        secret_access_key: secret.into(),
        region: "us-east-1".into(),
    })
}

/// The CreateFunction body `hearth deploy` would send for example guest `example`, with
/// Lambda's defaults; tests adjust members before sending it.
pub fn create_request(name: &str, example: &str) -> serde_json::Value {
    client::create_function_request(name, &zip_of(example), "function.wasm", None, None, &[])
}

/// The zip `hearth deploy` makes of example guest `example` (`function.wasm` inside).
pub fn zip_of(example: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    let wasm = dir.path().join("f.wasm");
    std::fs::write(&wasm, guest(example)).expect("write wasm");
    client::package(&wasm, "function.wasm").expect("zip")
}
