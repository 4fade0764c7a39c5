//! What `hearth bench` measures: a function deployed on a running server, or a local package
//! run in process with no server, and the floors each is measured beside.

use crate::client::HearthClient;
use crate::client::SigningKey;
use anyhow::{Context as _, bail};
use base64::Engine as _;
use hearth_scheduler::{InvokeError, InvokeRequest, Scheduler, SchedulerConfig};
use hyper::{Method, StatusCode};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One measured invocation: the caller's whole wait and the phases the REPORT line names.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub total: Duration,
    /// `Init Duration` (or `Restore Duration`): set exactly when the invocation started a
    /// new environment.
    pub init: Option<Duration>,
    /// The new environment was restored from a SnapStart snapshot: `init` is its
    /// `Restore Duration`.
    pub restored: bool,
    pub duration: Duration,
}

/// What the density scenario found.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Density {
    pub requested: usize,
    /// What the scheduler's MemorySize budget admitted of them.
    pub admitted: usize,
    /// Warm sandboxes live at the end (fewer than requested when the memory budget ran out).
    pub sandboxes: usize,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    pub rss_per_sandbox_bytes: u64,
    pub seconds: f64,
}

/// The process's resident set, from `/proc/self/status`.
fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .context("no VmRSS in /proc/self/status")
}

/// A function to invoke.
pub enum Target {
    /// In process: a scheduler of its own under a temporary state directory.
    Local {
        scheduler: Scheduler,
        name: String,
        /// `1` for a `:snap-start` target (its published, snapshotted version).
        qualifier: Option<String>,
        runtime: String,
        /// The same component prepared on an engine of its own, for the instantiation floor.
        floor: Option<Box<hearth_sandbox::WasmFunction>>,
        /// A process runtime's package unpacked for the process-per-invoke baseline.
        per_invoke: Option<PathBuf>,
        _state: tempfile::TempDir,
    },
    /// On a server, through the Invoke API (signed like the CLI's other commands).
    Remote {
        client: HearthClient,
        name: String,
        qualifier: Option<String>,
    },
}

/// What a package is: a wasm component, or a zip (or directory) with a `bootstrap` for a
/// process runtime.
fn runtime_of(zip: &[u8]) -> anyhow::Result<&'static str> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).context("the package is not a zip")?;
    if archive.by_name("bootstrap").is_ok() {
        return Ok("provided.al2023");
    }
    let mut wasm = false;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let mut magic = [0u8; 4];
        if file.name().ends_with(".wasm") && file.read_exact(&mut magic).is_ok() {
            wasm |= &magic == b"\0asm";
        }
    }
    if wasm {
        Ok("wasm32-wasip2")
    } else {
        bail!("the package has neither a `bootstrap` nor a .wasm component")
    }
}

/// The component in a wasm package (`function.wasm`, else the first `.wasm`).
fn component_of(zip: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))?;
    let name = if archive.by_name("function.wasm").is_ok() {
        "function.wasm".to_owned()
    } else {
        archive
            .file_names()
            .find(|n| n.ends_with(".wasm"))
            .map(str::to_owned)
            .context("no .wasm in the package")?
    };
    let mut wasm = Vec::new();
    archive.by_name(&name)?.read_to_end(&mut wasm)?;
    Ok(wasm)
}

/// A wasm function's settings as `hearth deploy` would leave them (128 MB, 3 s), its
/// sandboxes' `/tmp` under `tmp_root`.
pub fn default_settings(name: &str, tmp_root: PathBuf) -> hearth_sandbox::FunctionSettings {
    hearth_sandbox::FunctionSettings {
        function_name: name.into(),
        version: "$LATEST".into(),
        memory_mb: 128,
        timeout: Duration::from_secs(3),
        handler: "function.wasm".into(),
        region: "us-east-1".into(),
        initialization_type: "on-demand".into(),
        environment: vec![],
        tmp_root,
        tmp_limit_mb: 512,
        execution_env: None,
    }
}

/// The floor of a wasm cold start: the component prepared on an engine of its own, to be
/// instantiated from its `InstancePre` with none of the guest run.
fn instantiation_floor(zip: &[u8], dir: &Path) -> anyhow::Result<hearth_sandbox::WasmFunction> {
    let wasm = component_of(zip)?;
    let engine = hearth_sandbox::WasmEngine::new(hearth_sandbox::EngineConfig {
        cache_dir: dir.join("floor-cache"),
        max_instances: 16,
        host_memory: std::sync::Arc::new(hearth_sandbox::HostMemory::unlimited()),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let settings = default_settings("floor", dir.join("floor-tmp"));
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm));
    hearth_sandbox::WasmFunction::prepare(&engine, &sha, &wasm, settings)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Publishes version 1 of a SnapStart function and waits until its snapshot is taken.
async fn publish_snapshot(scheduler: &Scheduler, name: &str) -> anyhow::Result<String> {
    let published = scheduler
        .publish_version(name, Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("publishing {name}: {e}"))?;
    loop {
        let config = scheduler.get_function(name, Some(&published.version))?;
        match config.state.as_str() {
            "Pending" => tokio::time::sleep(Duration::from_millis(10)).await,
            "Active" => return Ok(published.version),
            state => bail!(
                "{name}'s snapshot: {state}: {}",
                config.state_reason.unwrap_or_default()
            ),
        }
    }
}

/// A directory zipped as Lambda would take it (executable bits kept).
fn zip_dir(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&at)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .strip_prefix(dir)?
                .to_str()
                .context("a file name that is not UTF-8")?
                .to_owned();
            zip.start_file(
                name,
                zip::write::SimpleFileOptions::default()
                    .unix_permissions(meta.permissions().mode()),
            )?;
            zip.write_all(&std::fs::read(&path)?)?;
        }
    }
    zip.finish()?;
    Ok(out.into_inner())
}

/// The deployment package of a local file or directory.
pub fn local_package(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.is_dir() {
        return zip_dir(path);
    }
    crate::client::package(path, "function.wasm")
}

impl Target {
    /// `TARGET` on `endpoint` (`NAME` or `NAME:QUALIFIER`), or a local package.
    pub async fn open(
        target: &str,
        endpoint: Option<&str>,
        signing: Option<SigningKey>,
        memory_mb: Option<u32>,
    ) -> anyhow::Result<Self> {
        if let Some(endpoint) = endpoint {
            let (name, qualifier) = match target.split_once(':') {
                Some((n, q)) if !target.starts_with("arn:") => (n.to_owned(), Some(q.to_owned())),
                _ => (target.to_owned(), None),
            };
            let client = HearthClient::signed(endpoint, signing);
            if let Some(memory) = memory_mb {
                if qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
                    bail!(
                        "--memory changes $LATEST's configuration: {target} names another qualifier"
                    );
                }
                let reply = client
                    .send_json(
                        Method::PUT,
                        &format!("/2015-03-31/functions/{name}/configuration"),
                        &serde_json::json!({ "MemorySize": memory }),
                    )
                    .await?;
                if !reply.status.is_success() {
                    bail!(
                        "cannot set {name}'s MemorySize to {memory} MB: {}",
                        reply.error_text()
                    );
                }
            }
            return Ok(Self::Remote {
                client,
                name,
                qualifier,
            });
        }
        // `PATH:snap-start`: deployed with SnapStart on, version 1 published and benchmarked.
        let (path, snap_start) = match target.strip_suffix(":snap-start") {
            Some(path) => (Path::new(path), true),
            None => (Path::new(target), false),
        };
        let zip = {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || local_package(&path)).await??
        };
        let runtime = runtime_of(&zip)?;
        let state = tempfile::tempdir().context("a temporary state directory")?;
        let mut config = SchedulerConfig::new(state.path());
        // A benchmark's cold samples come faster than Lambda's scaling rate allows a function,
        // and the density scenario provisions more sandboxes than an account's default.
        config.scale_up_per_10s = u32::MAX;
        config.account_concurrency = 1_000_000;
        let scheduler = Scheduler::new(config).context("starting a scheduler")?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
            .unwrap_or("bench")
            .to_owned();
        let mut request = serde_json::json!({
            "FunctionName": name,
            "Runtime": runtime,
            "Role": "arn:aws:iam::000000000000:role/hearth",
            "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(&zip) },
        });
        if runtime != "wasm32-wasip2" {
            request["Handler"] = "bootstrap".into();
        }
        if let Some(m) = memory_mb {
            request["MemorySize"] = m.into();
        }
        if snap_start {
            if runtime != "wasm32-wasip2" {
                bail!("{target}: SnapStart snapshots wasm components only");
            }
            request["SnapStart"] = serde_json::json!({ "ApplyOn": "PublishedVersions" });
        }
        let request = serde_json::from_value(request)?;
        scheduler
            .create_function(request)
            .await
            .map_err(|e| anyhow::anyhow!("deploying {target}: {e}"))?;
        let qualifier = if snap_start {
            Some(publish_snapshot(&scheduler, &name).await?)
        } else {
            None
        };
        let per_invoke = if runtime == "wasm32-wasip2" {
            None
        } else {
            let dir = state.path().join("per-invoke");
            let zip = zip.clone();
            let at = dir.clone();
            tokio::task::spawn_blocking(move || hearth_scheduler::code::extract_tree(&zip, &at))
                .await?
                .map_err(|e| anyhow::anyhow!("unpacking {target}: {e}"))?;
            Some(dir)
        };
        let floor = if runtime == "wasm32-wasip2" {
            let dir = state.path().to_path_buf();
            Some(Box::new(
                tokio::task::spawn_blocking(move || instantiation_floor(&zip, &dir)).await??,
            ))
        } else {
            None
        };
        Ok(Self::Local {
            scheduler,
            name,
            qualifier,
            per_invoke,
            runtime: runtime.to_owned(),
            floor,
            _state: state,
        })
    }

    /// What the target is called in reports.
    pub fn label(&self) -> String {
        match self {
            Self::Local {
                name,
                qualifier: Some(_),
                ..
            } => format!("{name}:snap-start (in process)"),
            Self::Local { name, .. } => format!("{name} (in process)"),
            Self::Remote {
                name, qualifier, ..
            } => match qualifier {
                Some(q) => format!("{name}:{q}"),
                None => name.clone(),
            },
        }
    }

    pub fn is_native(&self) -> bool {
        matches!(self, Self::Local { runtime, .. } if runtime != "wasm32-wasip2")
    }

    /// One synchronous invocation. A throttle (Lambda's scaling rate, reserved concurrency)
    /// is waited out and retried, and counted in `throttled`; it is never a sample.
    pub async fn invoke(&self, payload: &[u8], throttled: &mut u64) -> anyhow::Result<Timing> {
        loop {
            let started = Instant::now();
            let result = match self {
                Self::Local {
                    scheduler,
                    name,
                    qualifier,
                    ..
                } => {
                    let request = InvokeRequest {
                        function: name.clone(),
                        qualifier: qualifier.clone(),
                        payload: payload.to_vec(),
                        ..Default::default()
                    };
                    match scheduler.invoke(request).await {
                        Ok(r) => Ok((
                            started.elapsed(),
                            r.function_error,
                            r.payload,
                            r.init_duration.map(|d| (d, r.restored)),
                            r.duration,
                        )),
                        Err(InvokeError::Throttled { .. } | InvokeError::Capacity(_)) => Err(None),
                        Err(e) => Err(Some(anyhow::anyhow!("{e}"))),
                    }
                }
                Self::Remote {
                    client,
                    name,
                    qualifier,
                } => {
                    let path = match qualifier {
                        Some(q) => format!("{name}:{q}"),
                        None => name.clone(),
                    };
                    let reply = client
                        .invoke(&path, payload.to_vec(), "RequestResponse", true)
                        .await?;
                    let total = started.elapsed();
                    if reply.status == StatusCode::TOO_MANY_REQUESTS {
                        Err(None)
                    } else if !reply.status.is_success() {
                        Err(Some(anyhow::anyhow!(
                            "invoke failed: {}",
                            reply.error_text()
                        )))
                    } else {
                        let log = reply
                            .header("x-amz-log-result")
                            .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
                            .unwrap_or_default();
                        let (init, duration) = parse_report(&String::from_utf8_lossy(&log))
                            .context("the answer's log tail has no REPORT line")?;
                        let error = reply.header("x-amz-function-error").map(|_| "Unhandled");
                        Ok((total, error, reply.body.to_vec(), init, duration))
                    }
                }
            };
            match result {
                Ok((total, None, _, init, duration)) => {
                    return Ok(Timing {
                        total,
                        init: init.map(|(d, _)| d),
                        restored: init.is_some_and(|(_, restored)| restored),
                        duration,
                    });
                }
                Ok((_, Some(_), body, _, _)) => {
                    bail!(
                        "the function failed: {}",
                        String::from_utf8_lossy(&body[..body.len().min(500)])
                    )
                }
                Err(None) => {
                    *throttled += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(Some(e)) => return Err(e),
            }
        }
    }

    /// The density scenario: publishes a version, provisions `n` warm sandboxes of it, and
    /// measures the process's RSS before and after; later samples invoke that version.
    pub async fn densify(
        &mut self,
        n: usize,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<Density> {
        let Self::Local {
            scheduler, name, ..
        } = self
        else {
            bail!("density runs in process: give a local package, not --endpoint");
        };
        let fail = |e: hearth_scheduler::DeployError| anyhow::anyhow!("{e}");
        let published = scheduler
            .publish_version(name, Default::default())
            .await
            .map_err(fail)?;
        let version = published.version.clone();
        let before = rss_bytes()?;
        let started = Instant::now();
        // The scheduler admits provisioned sandboxes by MemorySize against its budget: ask
        // for fewer until it accepts (what it accepts is reported beside what was asked).
        let mut asked = n.max(1);
        loop {
            let request = hearth_scheduler::provisioned::PutProvisioned {
                provisioned_concurrent_executions: asked as i64,
            };
            match scheduler
                .put_provisioned_concurrency(name, &version, request)
                .await
            {
                Ok(_) => break,
                Err(e) if asked > 1 && e.to_string().contains("memory budget") => {
                    asked = asked * 3 / 4;
                }
                Err(e) => return Err(fail(e)),
            }
        }
        bar.set_length(asked as u64);
        // READY, or no progress for 2 s (the memory budget is full).
        let (mut last, mut since) = (0u32, Instant::now());
        let sandboxes = loop {
            let status = scheduler
                .get_provisioned_concurrency(name, &version)
                .map_err(fail)?;
            let live = status.allocated_provisioned_concurrent_executions;
            bar.set_position(u64::from(live));
            if status.status == "READY" {
                break live;
            }
            if live != last {
                (last, since) = (live, Instant::now());
            } else if since.elapsed() > Duration::from_secs(2) {
                break live;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let seconds = started.elapsed().as_secs_f64();
        let after = rss_bytes()?;
        let sandboxes = sandboxes as usize;
        *name = format!("{name}:{version}");
        Ok(Density {
            requested: n,
            admitted: asked,
            sandboxes,
            rss_before_bytes: before,
            rss_after_bytes: after,
            rss_per_sandbox_bytes: after.saturating_sub(before) / sandboxes.max(1) as u64,
            seconds,
        })
    }

    /// Makes the next invocation start a new environment: the function's idle sandboxes go.
    pub async fn evict(&self) -> anyhow::Result<()> {
        match self {
            Self::Local {
                scheduler, name, ..
            } => {
                scheduler
                    .evict_idle(name)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Self::Remote { client, name, .. } => {
                let reply = client
                    .send(
                        Method::DELETE,
                        &format!("/hearth/v1/functions/{name}/sandboxes"),
                        &[],
                        Vec::new(),
                    )
                    .await?;
                if !reply.status.is_success() {
                    bail!(
                        "cannot drop the idle sandboxes of {name}: {}",
                        reply.error_text()
                    );
                }
            }
        }
        Ok(())
    }

    /// The floors and baselines this target's samples are read against, each measured `n`
    /// times: for a server its `GET /health`; in process, for a process runtime fork+exec
    /// of `/bin/true` and a process-per-invoke runner of the same package, and for wasm
    /// wasmtime's instantiation of the component from its `InstancePre`.
    pub async fn floors(
        &self,
        n: usize,
        payload: &[u8],
    ) -> anyhow::Result<Vec<(&'static str, Vec<Duration>)>> {
        let mut all = vec![self.floor(n).await?];
        if let Self::Local {
            per_invoke: Some(dir),
            ..
        } = self
        {
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                samples.push(process_per_invoke(dir, payload).await?);
            }
            all.push(("process per invoke", samples));
        }
        Ok(all)
    }

    async fn floor(&self, n: usize) -> anyhow::Result<(&'static str, Vec<Duration>)> {
        let mut samples = Vec::with_capacity(n);
        match self {
            Self::Remote { client, .. } => {
                for _ in 0..n {
                    let t = Instant::now();
                    let reply = client.send(Method::GET, "/health", &[], Vec::new()).await?;
                    samples.push(t.elapsed());
                    if !reply.status.is_success() {
                        bail!("GET /health answered {}", reply.status);
                    }
                }
                Ok(("GET /health", samples))
            }
            Self::Local { runtime, .. } if runtime != "wasm32-wasip2" => {
                for _ in 0..n {
                    let t = Instant::now();
                    tokio::process::Command::new("/bin/true").status().await?;
                    samples.push(t.elapsed());
                }
                Ok(("fork+exec /bin/true", samples))
            }
            Self::Local { floor, .. } => {
                let floor = floor.as_ref().context("no instantiation floor")?;
                for _ in 0..n {
                    let t = Instant::now();
                    floor
                        .instantiate_only()
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    samples.push(t.elapsed());
                }
                Ok(("wasmtime instantiate", samples))
            }
        }
    }
}

/// One invocation the way SAM local and the runtime interface emulator run one: a new
/// process of the package's `bootstrap` per request, its Runtime API a loopback listener of
/// its own that hands out this one event. Timed from the spawn to the runtime's response
/// arriving; the process is killed after.
async fn process_per_invoke(dir: &Path, payload: &[u8]) -> anyhow::Result<Duration> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(dir.join("bootstrap"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("_HANDLER", "bootstrap")
        .env("LAMBDA_TASK_ROOT", dir)
        .env("AWS_LAMBDA_FUNCTION_NAME", "per-invoke")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/per-invoke")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "per-invoke")
        .env("AWS_REGION", "us-east-1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", dir.join("bootstrap").display()))?;
    let answered = async {
        let mut served = false;
        loop {
            let (mut conn, _) = listener.accept().await?;
            let mut buf = Vec::with_capacity(4096);
            // Requests on one connection (keep-alive) until the response arrives.
            loop {
                let mut chunk = [0u8; 4096];
                let read = conn.read(&mut chunk).await?;
                if read == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..read]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let line = head.lines().next().unwrap_or_default().to_owned();
                if line.starts_with("GET ") && line.contains("/invocation/next") && !served {
                    served = true;
                    buf.drain(..end + 4);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: per-invoke-1\r\nLambda-Runtime-Deadline-Ms: {}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:per-invoke\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        hearth_runtime_api::invocation::deadline_unix_ms(
                            Instant::now() + Duration::from_secs(30)
                        ),
                        payload.len()
                    );
                    conn.write_all(answer.as_bytes()).await?;
                    conn.write_all(payload).await?;
                } else if line.starts_with("POST ") && line.contains("/response") {
                    let took = started.elapsed();
                    let _ = conn
                        .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return Ok::<_, anyhow::Error>(took);
                } else if line.starts_with("POST ") && line.contains("/error") {
                    bail!("the runtime reported an error: {line}");
                } else {
                    bail!("unexpected Runtime API request: {line}");
                }
            }
        }
    };
    let took = tokio::time::timeout(Duration::from_secs(30), answered)
        .await
        .context("the runtime did not answer within 30 s")?;
    let _ = child.kill().await;
    took
}

/// `Init Duration` (if any) and `Duration` from a REPORT line in a log tail.
pub fn parse_report(log: &str) -> Option<(Option<(Duration, bool)>, Duration)> {
    let line = log.lines().rev().find(|l| l.starts_with("REPORT "))?;
    let ms = |field: &str| {
        line.split('\t')
            .find_map(|f| f.trim().strip_prefix(field))
            .and_then(|v| v.trim().strip_suffix(" ms"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| Duration::from_secs_f64(v / 1000.0))
    };
    let duration = ms("Duration: ")?;
    let start = ms("Init Duration: ")
        .map(|d| (d, false))
        .or(ms("Restore Duration: ").map(|d| (d, true)));
    Some((start, duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_give_their_phases() {
        let log = "START RequestId: x Version: $LATEST\nhello\nEND RequestId: x\nREPORT RequestId: x\tDuration: 0.05 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 3 MB\tInit Duration: 1.25 ms\t\n";
        let (init, duration) = parse_report(log).expect("report");
        assert_eq!(duration, Duration::from_micros(50));
        assert_eq!(init, Some((Duration::from_micros(1250), false)));
        let restored = "REPORT RequestId: z\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 3 MB\tRestore Duration: 0.31 ms\tBilled Restore Duration: 1 ms\t\n";
        assert_eq!(
            parse_report(restored).and_then(|(start, _)| start),
            Some((Duration::from_micros(310), true))
        );
        let warm = "REPORT RequestId: y\tDuration: 2.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 3 MB\t\n";
        assert_eq!(parse_report(warm), Some((None, Duration::from_millis(2))));
        assert!(parse_report("no report here").is_none());
    }
}
