//! The process backend: a function version is a directory of unpacked code with an
//! executable `bootstrap`; an execution environment is that program's process tree, started
//! with the Runtime API on a loopback port of its own (`AWS_LAMBDA_RUNTIME_API`).
//!
//! An environment is isolated by the layers [`isolation`] found on this host, frozen
//! (SIGSTOP of its process group) while idle in the pool and thawed for the next invocation,
//! and killed as a whole tree when it times out, crashes or is let go: SIGTERM, then SIGKILL
//! at most 2 s later.
//!
//! Layout:
//! - [`api`]: the HTTP Runtime API over the shared [`crate::conversation`].
//! - [`isolation`]: which layers this host allows, detected and reported.
//! - [`cgroup`]: memory and process limits, measured peak, OOM kills, killing the tree.
//! - [`launch`]: starting a process without copying the server's address space.
//! - [`spawn`]: the steps between the clone and exec.

mod api;
pub mod cgroup;
pub mod isolation;
pub mod launch;
pub mod spawn;

use crate::conversation::{self, Handle, InitEnd, InvokeOutcome, StartError};
use crate::function::FunctionSettings;
use crate::memory::HostMemory;
use crate::output::OutputBuffer;
use hearth_runtime_api::limits::INIT_TIMEOUT;
use hearth_runtime_api::{Invocation, SandboxFailure};
use isolation::Isolation;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a runtime has between SIGTERM and SIGKILL at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What a process sandbox runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entrypoint {
    /// The package's own `bootstrap` (provided runtimes).
    Bootstrap,
    /// An interpreter of the host's with arguments (`python3 -m awslambdaric HANDLER`).
    Interpreter { program: PathBuf, args: Vec<String> },
}

/// One function version of the process backend: its unpacked code and settings. Cheap to
/// clone.
#[derive(Clone)]
pub struct ProcessFunction {
    entrypoint: Arc<Entrypoint>,
    /// The package's `extensions/` executables (what a layer puts in `/opt/extensions`).
    extensions: Arc<Vec<PathBuf>>,
    settings: Arc<FunctionSettings>,
    task_root: Arc<PathBuf>,
    env: Arc<Vec<(String, String)>>,
    isolation: Arc<Isolation>,
    host_memory: Arc<HostMemory>,
    tmp: Arc<crate::tmp::TmpDirs>,
}

impl std::fmt::Debug for ProcessFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessFunction")
            .field("task_root", &self.task_root)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ProcessFunction {
    /// A function whose code is unpacked at `task_root`; refused when it has no executable
    /// `bootstrap`.
    pub fn prepare(
        isolation: Arc<Isolation>,
        host_memory: Arc<HostMemory>,
        task_root: PathBuf,
        entrypoint: Entrypoint,
        settings: FunctionSettings,
    ) -> Result<Self, crate::PrepareError> {
        match &entrypoint {
            Entrypoint::Bootstrap => check_bootstrap(&task_root),
            Entrypoint::Interpreter { program, .. } if program.is_file() => Ok(()),
            Entrypoint::Interpreter { program, .. } => Err(format!(
                "the runtime's interpreter {} is not on this host",
                program.display()
            )),
        }
        .map_err(crate::PrepareError::Link)?;
        Ok(Self {
            extensions: Arc::new(find_extensions(&task_root)),
            entrypoint: Arc::new(entrypoint),
            tmp: crate::tmp::TmpDirs::new(&settings.tmp_root),
            env: Arc::new(environment(&settings, &task_root)),
            settings: Arc::new(settings),
            task_root: Arc::new(task_root),
            isolation,
            host_memory,
        })
    }

    pub fn settings(&self) -> &FunctionSettings {
        &self.settings
    }

    /// The same code with another `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub fn with_initialization_type(&self, initialization_type: &str) -> Self {
        let mut settings = (*self.settings).clone();
        settings.initialization_type = initialization_type.to_owned();
        Self {
            env: Arc::new(environment(&settings, &self.task_root)),
            settings: Arc::new(settings),
            ..self.clone()
        }
    }

    /// Cold start: a listener, the process, INIT until its first `next` (at most 10 s).
    pub async fn start(&self) -> Result<ProcessSandbox, StartError> {
        let started = Instant::now();
        let capacity = |what: &str, e: std::io::Error| StartError::Capacity(format!("{what}: {e}"));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| capacity("Runtime API listener", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| capacity("Runtime API listener", e))?
            .port();
        let memory_bytes = self.settings.memory_mb * 1024 * 1024;
        let group = match &self.isolation.cgroups {
            Some(c) => Some(c.sandbox(memory_bytes).map_err(|e| capacity("cgroup", e))?),
            None => None,
        };
        // Without a mount namespace, /tmp is a private directory the runtime finds in TMPDIR.
        let tmp = if self.isolation.mount_namespace {
            None
        } else {
            Some(self.tmp.take().map_err(|e| capacity("/tmp", e))?)
        };
        let (reader, writer) = std::io::pipe().map_err(|e| capacity("output pipe", e))?;
        let log_stream = conversation::log_stream_name(&self.settings.version);

        let mut env: Vec<(String, String)> = self.env.to_vec();
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), format!("127.0.0.1:{port}")));
        env.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.clone()));
        if let Some(dir) = &tmp {
            env.push(("TMPDIR".into(), dir.path().display().to_string()));
        }
        let tmp_mb = self.settings.tmp_limit_mb;
        let mut prelude = spawn::Prelude {
            cgroup_procs: group.as_ref().map(|g| g.procs_files()).unwrap_or_default(),
            tmpfs_options: self
                .isolation
                .mount_namespace
                .then(|| std::ffi::CString::new(format!("size={tmp_mb}m,mode=1777")).ok())
                .flatten(),
            address_space: group
                .is_none()
                .then_some(memory_bytes + ADDRESS_SPACE_SLACK),
            processes: cgroup::MAX_PROCESSES,
            task_root: self
                .isolation
                .mount_namespace
                .then(|| spawn::TaskRoot::new(&self.task_root))
                .flatten(),
            join_mount_namespace: None,
        };
        let (conversation, inbox, handle) = conversation::channels(started + INIT_TIMEOUT);
        let api = api::Api::new(
            conversation,
            inbox,
            api::FunctionInfo {
                name: self.settings.function_name.clone(),
                version: self.settings.version.clone(),
                handler: self.settings.handler.clone(),
            },
        );
        // INIT ends when every extension has asked for its first event, and the runtime for
        // its first invocation.
        api.conversation().extensions_begin(self.extensions.len());
        let server = tokio::spawn(api::serve(listener, api.clone()));
        let output = Output::new(reader).map_err(|e| capacity("output pipe", e))?;
        let writer = std::os::fd::OwnedFd::from(writer);
        let group = group.map(Arc::new);

        // Extensions start first, as from /opt/extensions; every process after the first
        // joins the first one's mount namespace (one /tmp per environment).
        let (bootstrap, args) = match &*self.entrypoint {
            Entrypoint::Bootstrap => (self.task_root.join("bootstrap"), Vec::new()),
            Entrypoint::Interpreter { program, args } => (program.clone(), args.clone()),
        };
        let programs = self
            .extensions
            .iter()
            .map(|p| (p.clone(), Vec::new(), true))
            .chain(std::iter::once((bootstrap, args, false)));
        let mut extension_pids = Vec::new();
        let mut runtime = None;
        let mut failed = None;
        for (program, args, is_extension) in programs {
            let launched = match writer.try_clone().and_then(|out| {
                launch::Launch::new(
                    &program,
                    &args,
                    &self.task_root,
                    env.clone(),
                    out,
                    prelude.clone(),
                )
            }) {
                Ok(l) => spawn_retrying(l).await,
                Err(e) => Err(e),
            };
            let child = match launched {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, processes or memory is the host's problem, not the
                    // function's: the caller gets a service error, not Runtime.ExitError.
                    let host = matches!(
                        e.raw_os_error(),
                        Some(
                            nix::libc::EMFILE
                                | nix::libc::ENFILE
                                | nix::libc::ENOMEM
                                | nix::libc::EAGAIN
                        )
                    );
                    failed = Some((format!("cannot start {}: {e}", program.display()), host));
                    break;
                }
            };
            // The processes after this one join its mount namespace. Had it already ended
            // (an extension that exits at once), the next one makes a namespace of its own.
            if is_extension
                && prelude.join_mount_namespace.is_none()
                && prelude.tmpfs_options.is_some()
                && let Ok(ns) = std::fs::File::open(format!("/proc/{}/ns/mnt", child.pid()))
            {
                prelude.join_mount_namespace = Some(Arc::new(ns.into()));
            }
            if is_extension {
                extension_pids.push(child.pid());
                let name = program
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let api = api.clone();
                tokio::spawn(async move {
                    let status = child.wait().await;
                    tracing::debug!(extension = %name, ?status, "extension ended");
                    api.extension_exited(&name);
                });
            } else {
                runtime = Some(child);
            }
        }
        let Some(child) = runtime else {
            for pid in &extension_pids {
                let _ = nix::sys::signal::killpg(*pid, Signal::SIGKILL);
            }
            if let Some(g) = &group {
                g.kill_all();
                g.remove();
            }
            server.abort();
            let (detail, host) = failed.unwrap_or_else(|| ("no runtime started".into(), true));
            if host {
                return Err(StartError::Capacity(detail));
            }
            return Err(StartError::Sandbox {
                failure: SandboxFailure::Exited { detail },
                output: output.take(),
            });
        };
        drop(writer);
        let pid = child.pid();
        let watcher = tokio::spawn(watch(child, api.clone(), group.clone()));
        let mut sandbox = ProcessSandbox {
            isolation: self.isolation.clone(),
            api,
            extension_pids,
            handle,
            pid,
            group,
            server,
            watcher: Some(watcher),
            output,
            host_memory: self.host_memory.clone(),
            charged: 0,
            memory_mb: self.settings.memory_mb,
            timeout: self.settings.timeout,
            init_duration: Duration::ZERO,
            alive: true,
            frozen: false,
            _tmp: tmp,
        };
        match sandbox.handle.init(started, INIT_TIMEOUT).await {
            InitEnd::Ready => {
                sandbox.init_duration = started.elapsed();
                sandbox.measure();
                sandbox.freeze();
                Ok(sandbox)
            }
            InitEnd::InitError(error) => Err(StartError::Init {
                error,
                output: sandbox.stop_and_drain().await,
            }),
            InitEnd::Failed(failure) => Err(StartError::Sandbox {
                failure,
                output: sandbox.stop_and_drain().await,
            }),
        }
    }
}

/// Spawns `command`, retrying while the kernel says the executable is busy: a process this
/// server forked for another reason (another sandbox's start) may still hold a descriptor of
/// the just-unpacked `bootstrap` open for writing between its fork and its exec.
async fn spawn_retrying(launch: launch::Launch) -> std::io::Result<launch::Child> {
    let launch = std::sync::Arc::new(launch);
    let mut attempts = 0;
    loop {
        let attempt = launch.clone();
        match launch::spawn_shared(attempt).await {
            Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            other => return other,
        }
    }
}

/// Address space beyond MemorySize a runtime may reserve when no memory cgroup limits it:
/// thread stacks and allocator arenas are reserved, not used (glibc reserves 64 MiB per
/// arena), and a Rust or Go runtime fails at start with `RLIMIT_AS` at MemorySize.
const ADDRESS_SPACE_SLACK: u64 = 1 << 30;

/// The environment of the function's processes: the Lambda variables with `LAMBDA_TASK_ROOT`
/// naming the unpacked code.
fn environment(settings: &FunctionSettings, task_root: &Path) -> Vec<(String, String)> {
    let mut env = settings.environment();
    for (k, v) in env.iter_mut() {
        if k == "LAMBDA_TASK_ROOT" {
            *v = task_root.display().to_string();
        }
    }
    env
}

/// A regular file someone may execute.
fn is_executable_file(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

/// The executables in the package's `extensions/` directory, by name.
fn find_extensions(task_root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(task_root.join("extensions"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| is_executable_file(&m)))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Refuses a task root without a regular, executable `bootstrap`.
pub fn check_bootstrap(task_root: &Path) -> Result<(), String> {
    let path = task_root.join("bootstrap");
    match std::fs::metadata(&path) {
        Ok(m) if is_executable_file(&m) => Ok(()),
        Ok(m) if m.is_file() => Err("the deployment package's bootstrap is not executable (zip it with its mode, e.g. chmod 755 bootstrap)".into()),
        _ => Err("the deployment package has no bootstrap file at its root: a provided runtime runs ./bootstrap".into()),
    }
}

/// Waits for the runtime to end and tells the conversation how.
async fn watch(child: launch::Child, api: Arc<api::Api>, group: Option<Arc<cgroup::Group>>) {
    use nix::sys::wait::WaitStatus;
    let status = child.wait().await;
    let oom = group.as_ref().is_some_and(|g| g.oom_kills() > 0);
    let (detail, on_its_own) = match status {
        Ok(WaitStatus::Exited(_, code)) => (format!("exit status {code}"), true),
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            (format!("signal: {}", signal_name(sig as i32)), false)
        }
        Ok(other) => (format!("{other:?}"), false),
        Err(e) => (format!("waiting for the runtime: {e}"), false),
    };
    // Whatever it died of, a tree the OOM killer reached ran out of memory.
    let failure = if oom {
        SandboxFailure::OutOfMemory { detail }
    } else {
        SandboxFailure::Exited { detail }
    };
    api.conversation().exited(failure, on_its_own);
}

/// Go's names for the signals a runtime dies of, as Lambda reports them (`signal: killed`).
fn signal_name(sig: i32) -> String {
    match Signal::try_from(sig) {
        Ok(Signal::SIGKILL) => "killed".into(),
        Ok(Signal::SIGSEGV) => "segmentation fault".into(),
        Ok(Signal::SIGABRT) => "aborted".into(),
        Ok(Signal::SIGTERM) => "terminated".into(),
        Ok(Signal::SIGBUS) => "bus error".into(),
        Ok(Signal::SIGILL) => "illegal instruction".into(),
        Ok(Signal::SIGFPE) => "floating point exception".into(),
        Ok(s) => s.as_str().trim_start_matches("SIG").to_lowercase(),
        Err(_) => format!("signal {sig}"),
    }
}

/// The runtime's stdout and stderr (one pipe), drained by a task as it fills and at the end
/// of each invocation, so a log is complete when the invocation's answer is.
struct Output {
    buffer: OutputBuffer,
    pipe: Arc<Pipe>,
    task: tokio::task::JoinHandle<()>,
}

/// The read end, non-blocking, with a lock that serialises the two drainers (so output stays
/// in order).
struct Pipe {
    rx: tokio::net::unix::pipe::Receiver,
    reading: std::sync::Mutex<()>,
}

impl Output {
    fn new(reader: std::io::PipeReader) -> std::io::Result<Self> {
        let pipe = Arc::new(Pipe {
            rx: tokio::net::unix::pipe::Receiver::from_owned_fd(std::os::fd::OwnedFd::from(
                reader,
            ))?,
            reading: std::sync::Mutex::new(()),
        });
        let buffer = OutputBuffer::new();
        let task = {
            let (buffer, pipe) = (buffer.clone(), pipe.clone());
            tokio::spawn(async move {
                while pipe.rx.readable().await.is_ok() {
                    if pipe.drain(&buffer) {
                        return;
                    }
                }
            })
        };
        Ok(Self { buffer, pipe, task })
    }

    fn take(&self) -> Vec<u8> {
        self.pipe.drain(&self.buffer);
        self.buffer.take()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Pipe {
    /// Reads what the pipe holds into `buffer`; true at end of file.
    fn drain(&self, buffer: &OutputBuffer) -> bool {
        let _reading = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.rx.try_read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => buffer.append(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }
}

/// One execution environment: the runtime's process tree, its Runtime API and its limits.
pub struct ProcessSandbox {
    isolation: Arc<Isolation>,
    api: Arc<api::Api>,
    /// The extensions' processes (each a process group of its own).
    extension_pids: Vec<Pid>,
    handle: Handle,
    /// The runtime's process (the leader of its process group).
    pid: Pid,
    group: Option<Arc<cgroup::Group>>,
    server: tokio::task::JoinHandle<()>,
    watcher: Option<tokio::task::JoinHandle<()>>,
    output: Output,
    host_memory: Arc<HostMemory>,
    /// Bytes charged to the host ledger for this environment (its last measured usage).
    charged: u64,
    memory_mb: u64,
    timeout: Duration,
    init_duration: Duration,
    alive: bool,
    frozen: bool,
    _tmp: Option<crate::tmp::TmpDir>,
}

impl std::fmt::Debug for ProcessSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessSandbox")
            .field("pid", &self.pid)
            .field("alive", &self.alive)
            .finish_non_exhaustive()
    }
}

impl ProcessSandbox {
    /// Runs one invocation to its end (see [`crate::WasmSandbox::invoke_streaming`]); what
    /// the runtime streams (`Lambda-Runtime-Function-Response-Mode: streaming`) goes to
    /// `stream` as it arrives.
    pub async fn invoke_streaming(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
        stream: Option<crate::ResponseSink>,
    ) -> InvokeOutcome {
        if !self.is_alive() {
            return InvokeOutcome::Failed(self.handle.exited_while_idle().unwrap_or(
                SandboxFailure::Exited {
                    detail: "sandbox is no longer running".into(),
                },
            ));
        }
        self.thaw();
        let outcome = self
            .handle
            .invoke(invocation, deadline, self.timeout, stream)
            .await;
        self.measure();
        match outcome {
            InvokeOutcome::Failed(_) => {
                self.alive = false;
                self.kill_tree();
            }
            _ => self.freeze(),
        }
        outcome
    }

    /// Sends `signal` to the runtime's process group (its whole tree unless something in it
    /// started a session of its own; the cgroup catches those).
    fn signal_group(&self, signal: Signal) {
        for pid in self.processes() {
            let _ = nix::sys::signal::killpg(pid, signal);
        }
    }

    /// The process groups of the environment: the runtime's, then each extension's.
    fn processes(&self) -> impl Iterator<Item = Pid> + '_ {
        std::iter::once(self.pid).chain(self.extension_pids.iter().copied())
    }

    fn freeze(&mut self) {
        if !self.frozen {
            self.signal_group(Signal::SIGSTOP);
            self.frozen = true;
        }
    }

    fn thaw(&mut self) {
        if self.frozen {
            self.signal_group(Signal::SIGCONT);
            self.frozen = false;
        }
    }

    fn kill_tree(&mut self) {
        self.signal_group(Signal::SIGKILL);
        if let Some(g) = &self.group {
            g.kill_all();
        }
    }

    /// Updates the host ledger with what the environment holds now.
    fn measure(&mut self) {
        let now = match &self.group {
            Some(g) => g.memory_current(),
            None => proc_status_kib(self.pid, "VmRSS:").map(|k| k * 1024),
        };
        if let Some(now) = now {
            let now = now + crate::memory::SANDBOX_OVERHEAD_BYTES;
            if now > self.charged {
                self.host_memory.charge(now - self.charged);
            } else {
                self.host_memory.release(self.charged - now);
            }
            self.charged = now;
        }
    }

    /// Ends a failed start: kills the tree, waits for the exit, and returns what it printed.
    async fn stop_and_drain(&mut self) -> Vec<u8> {
        self.alive = false;
        self.kill_tree();
        if let Some(w) = self.watcher.take() {
            let _ = w.await;
        }
        self.output.take()
    }

    pub fn take_output(&self) -> Vec<u8> {
        self.output.take()
    }

    /// Bytes this environment holds in the host's ledger (its last measured usage).
    pub fn held_bytes(&self) -> u64 {
        self.charged
    }

    /// `Max Memory Used`: the cgroup's peak, or the runtime process's high-water mark.
    pub fn max_memory_used_mb(&self) -> u64 {
        let bytes = match &self.group {
            Some(g) => g.memory_peak().unwrap_or(0),
            None => proc_status_kib(self.pid, "VmHWM:").map_or(0, |k| k * 1024),
        };
        bytes.div_ceil(1024 * 1024)
    }

    pub fn memory_mb(&self) -> u64 {
        self.memory_mb
    }

    pub fn init_duration(&self) -> Duration {
        self.init_duration
    }

    pub fn is_alive(&self) -> bool {
        self.alive && self.watcher.as_ref().is_some_and(|w| !w.is_finished())
    }
}

impl Drop for ProcessSandbox {
    /// SHUTDOWN: the SHUTDOWN event to extensions that asked for it and SIGTERM to the
    /// runtime, then SIGKILL to every process of the environment after [`SHUTDOWN_GRACE`] if
    /// the runtime is still there, then the cgroup is removed. Runs on its own task; the
    /// ledger is given back at once.
    fn drop(&mut self) {
        self.server.abort();
        self.host_memory.release(self.charged);
        let groups: Vec<Pid> = self.processes().collect();
        let pid = self.pid;
        let group = self.group.take();
        let watcher = self.watcher.take();
        let alive = self.alive;
        let frozen = self.frozen;
        let api = self.api.clone();
        let extension_groups = self.extension_pids.clone();
        let any_alive = move || {
            extension_groups
                .iter()
                .any(|g| nix::sys::signal::killpg(*g, None).is_ok())
        };
        let signal_all = move |signal: Signal| {
            for g in &groups {
                let _ = nix::sys::signal::killpg(*g, signal);
            }
        };
        let teardown = async move {
            if alive {
                let deadline = hearth_runtime_api::invocation::deadline_unix_ms(
                    Instant::now() + SHUTDOWN_GRACE,
                );
                api.shutdown_extensions(deadline);
                let _ = nix::sys::signal::killpg(pid, Signal::SIGTERM);
                if frozen {
                    signal_all(Signal::SIGCONT);
                }
            }
            let until = Instant::now() + SHUTDOWN_GRACE;
            if let Some(mut w) = watcher {
                let ended = tokio::time::timeout_at(until.into(), &mut w).await.is_ok();
                // Extensions finish their SHUTDOWN within the same grace.
                while Instant::now() < until && any_alive() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                signal_all(Signal::SIGKILL);
                if !ended {
                    let _ = w.await;
                }
            } else {
                signal_all(Signal::SIGKILL);
            }
            if let Some(group) = group {
                let _ = tokio::task::spawn_blocking(move || {
                    for _ in 0..100 {
                        group.kill_all();
                        if group.remove() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                })
                .await;
            }
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let done = self.isolation.shutdowns.begin();
            runtime.spawn(async move {
                teardown.await;
                drop(done);
            });
        } else {
            self.signal_group(Signal::SIGKILL);
        }
    }
}

/// A `kB` figure of `/proc/<pid>/status`.
fn proc_status_kib(pid: Pid, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
