//! The `hearth` command: a thin layer over the library (`serve`, `deploy`, `invoke`).

use anyhow::{Context as _, bail};
use base64::Engine as _;
use clap::{Parser, Subcommand, ValueEnum};
use hearth::client::HearthClient;
use hearth_scheduler::{Scheduler, SchedulerConfig};
use hyper::StatusCode;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Self-hosted, Lambda-compatible function runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: Lambda's Invoke and control-plane APIs on one port.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9001")]
        listen: SocketAddr,
        /// Where functions, compiled code, logs and sandboxes' /tmp live.
        #[arg(long, default_value = "./.hearth")]
        state_dir: PathBuf,
        /// Seconds an idle sandbox is kept warm.
        #[arg(long, default_value_t = 600)]
        keep_alive: u64,
        /// Memory all live sandboxes may really hold together, MB (default: 80% of the
        /// machine's memory). A sandbox that would grow past it gets Runtime.OutOfMemory.
        #[arg(long)]
        memory_budget: Option<u64>,
        /// How many times the memory budget the MemorySizes of live sandboxes may add up to
        /// (functions rarely touch all of theirs; 1 = no overcommit).
        #[arg(long, default_value_t = hearth_pool::config::DEFAULT_MEMORY_OVERCOMMIT)]
        memory_overcommit: u64,
        /// Percent of the memory budget kept for busy sandboxes to grow into: cold starts are
        /// refused (429) once sandboxes hold more than the rest.
        #[arg(long, default_value_t = hearth_scheduler::config::DEFAULT_MEMORY_MARGIN_PERCENT)]
        memory_margin: u64,
        /// Account concurrency limit.
        #[arg(long, default_value_t = 1000)]
        account_concurrency: u32,
        /// Most live sandboxes (warm, busy and provisioned) at once, over all functions; idle
        /// ones are evicted least recently used first to stay within it. Each reserves ~4 GiB
        /// of address space, not memory.
        #[arg(long, default_value_t = hearth_pool::config::DEFAULT_MAX_SANDBOXES)]
        max_sandboxes: usize,
        /// Storage quota for deployment packages (every version's zip, all functions), MiB;
        /// Lambda's default is 75 GiB.
        #[arg(long, default_value_t = 76_800)]
        code_storage_limit: u64,
        /// File of access keys (`KEY SECRET` per line, or AWS's credentials INI format):
        /// every request must then carry a valid SigV4 signature by one of them.
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// Serve a non-loopback address without credentials: anyone who can reach it can
        /// deploy and run code.
        #[arg(long)]
        allow_unauthenticated: bool,
        /// A host name clients may use to reach hearth besides its listen address and
        /// `localhost` (requests naming any other `Host` are refused); repeat for more.
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
        /// A web origin (`https://app.example:8443`) whose pages may call hearth; requests
        /// with any other `Origin` are refused. Repeat for more.
        #[arg(long = "allow-origin")]
        allow_origins: Vec<String>,
        /// Most client connections open at once.
        #[arg(long, default_value_t = 4096)]
        max_connections: usize,
        /// Seconds a client has to send a request's headers.
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Seconds a client has to send a request's body.
        #[arg(long, default_value_t = 120)]
        body_timeout: u64,
        /// Seconds a connection may stay open with no request in progress.
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
        /// Request-body bytes held in memory across all connections at once, MB; a request
        /// beyond it gets a 429 to retry.
        #[arg(long, default_value_t = 1024)]
        body_budget: usize,
        /// The Python interpreter python3.x functions run on; it must have awslambdaric
        /// (default: python3 on PATH, when it has it).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// Deploy a function from a .wasm component or a zip holding one (or, for a process
    /// runtime, a zip with an executable `bootstrap`): CreateFunction, or UpdateFunctionCode
    /// (and Configuration) when it exists.
    Deploy {
        name: String,
        file: PathBuf,
        /// `wasm32-wasip2`, `provided.al2023` or `provided.al2`.
        #[arg(long, default_value = "wasm32-wasip2")]
        runtime: String,
        /// MemorySize, MB (128–4096 for wasm functions, up to 10240 for process runtimes).
        #[arg(long)]
        memory: Option<u32>,
        /// Timeout, seconds (1–900).
        #[arg(long)]
        timeout: Option<u32>,
        /// Environment variable, KEY=VALUE; repeat for more.
        #[arg(long = "env", value_parser = parse_env)]
        env: Vec<(String, String)>,
        /// The component's path inside the zip (wasm; default `function.wasm`), or the
        /// `_HANDLER` a process runtime is given (default `bootstrap`).
        #[arg(long)]
        handler: Option<String>,
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// List functions.
    Functions {
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// List SQS queues: messages visible, in flight and delayed, the oldest's age, the DLQ.
    Queues {
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// List Kinesis streams: each shard's records, oldest record and state, and the lag of
    /// every mapping that reads the stream.
    Streams {
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// List DynamoDB tables: key, items, bytes, and the stream's view type and label.
    Tables {
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// List event source mappings (queues and streams): function, source, state, records
    /// delivered, errors, lag.
    Mappings {
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// Print a function's log (START / output / END / REPORT of every invocation).
    Logs {
        name: String,
        /// Keep printing new lines as invocations happen.
        #[arg(long, short)]
        follow: bool,
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
    /// Check what this host gives process sandboxes (each isolation layer, tried for real)
    /// and which runtimes hearth can run here.
    Doctor,
    /// Measure a function: cold starts, warm invokes or throughput, split into the phases
    /// of Lambda's REPORT line, beside the machine's floors measured in the same run.
    /// TARGET is a function on --endpoint (NAME or NAME:QUALIFIER), or a local .wasm, zip
    /// or directory run in process with no server.
    Bench {
        #[arg(value_enum)]
        scenario: hearth::bench::Scenario,
        target: String,
        /// A running server to measure TARGET on (signed when AWS_ACCESS_KEY_ID and
        /// AWS_SECRET_ACCESS_KEY are set); without it TARGET is a local package.
        #[arg(long, env = "HEARTH_ENDPOINT")]
        endpoint: Option<String>,
        /// Samples per target.
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        /// Callers at once (throughput).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Share of cold samples (mixed), 0–1.
        #[arg(long, default_value_t = 0.1)]
        cold_ratio: f64,
        /// A second target run interleaved with the first (A B A B), compared by the ratio
        /// of medians with a 95 % confidence interval.
        #[arg(long)]
        compare: Option<String>,
        /// JSON payload, or @FILE.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// MemorySize, MB (a server's function is updated to it first); a list such as
        /// 128,512,1769 runs the scenario once per size.
        #[arg(long, value_delimiter = ',')]
        memory: Vec<u32>,
        /// Write every sample and the summaries as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write every sample as CSV.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Write a self-contained HTML report (CDF, histograms, phases).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Keep this run under NAME, to compare a later run against.
        #[arg(long)]
        save: Option<String>,
        /// Compare this run against the run saved as NAME.
        #[arg(long)]
        baseline: Option<String>,
        /// Where --save keeps runs.
        #[arg(long, default_value = "./.hearth/bench")]
        runs_dir: PathBuf,
    },
    /// Invoke a function and print its response.
    Invoke {
        name: String,
        /// JSON payload, or @FILE to read it from a file.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Invocation type (default: a synchronous RequestResponse).
        #[arg(long = "type", value_enum)]
        kind: Option<InvokeKind>,
        /// Print the last 4 KB of the invocation's log to stderr.
        #[arg(long)]
        log_tail: bool,
        #[arg(long, env = "HEARTH_ENDPOINT", default_value = "http://127.0.0.1:9001")]
        endpoint: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum InvokeKind {
    Event,
    DryRun,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn main() -> std::process::ExitCode {
    // Before the runtime starts its threads: growing the table later stalls on RCU.
    hearth::server::prepare_descriptor_table();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // A benchmark's in-process scheduler would log every start-up step over its table.
    let default_filter = match cli.command {
        Command::Bench { .. } => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve {
            listen,
            state_dir,
            keep_alive,
            memory_budget,
            memory_overcommit,
            memory_margin,
            account_concurrency,
            code_storage_limit,
            max_sandboxes,
            credentials,
            allow_unauthenticated,
            allow_hosts,
            allow_origins,
            max_connections,
            header_timeout,
            body_timeout,
            idle_timeout,
            body_budget,
            python,
        } => {
            let credentials = match credentials {
                Some(path) => {
                    let creds = hearth::auth::Credentials::load(&path)?;
                    if creds.is_empty() {
                        bail!("{} holds no access keys", path.display());
                    }
                    tracing::info!(keys = ?creds.access_key_ids(), "requests must be signed");
                    Some(creds)
                }
                None if !listen.ip().is_loopback() && !allow_unauthenticated => bail!(
                    "refusing to serve {listen} without --credentials: anyone who can reach it could deploy and run code (pass --allow-unauthenticated to do it anyway)"
                ),
                None => None,
            };
            let mut config = SchedulerConfig::new(state_dir);
            config.pool.keep_alive = Duration::from_secs(keep_alive);
            if let Some(mb) = memory_budget {
                config.pool.memory_budget_mb = mb;
            }
            config.account_concurrency = account_concurrency;
            config.pool.max_sandboxes = max_sandboxes;
            config.pool.overcommit = memory_overcommit.max(1);
            config.memory_margin_percent = memory_margin.min(100);
            tracing::info!(
                memory_budget_mb = config.pool.memory_budget_mb,
                overcommit = config.pool.overcommit,
                margin_percent = config.memory_margin_percent,
                max_sandboxes = config.pool.max_sandboxes,
                account_concurrency = config.account_concurrency,
                "sandboxes hold at most the memory budget (growth past it is Runtime.OutOfMemory); MemorySizes may add up to budget × overcommit; cold starts stop at budget − margin"
            );
            config.code_storage_limit = code_storage_limit.saturating_mul(1024 * 1024);
            config.python = python;
            let scheduler = Scheduler::new(config).context("starting the scheduler")?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "hearth is serving Lambda's API");
            let server = hearth::ServerConfig {
                credentials,
                max_connections,
                header_read_timeout: Duration::from_secs(header_timeout),
                body_read_timeout: Duration::from_secs(body_timeout),
                idle_timeout: Duration::from_secs(idle_timeout),
                body_budget_bytes: body_budget.saturating_mul(1024 * 1024),
                allowed_hosts: allow_hosts,
                allowed_origins: allow_origins,
                ..Default::default()
            };
            hearth::serve(listener, scheduler, server, shutdown_signal()).await?;
            Ok(())
        }
        Command::Deploy {
            name,
            file,
            memory,
            timeout,
            env,
            handler,
            runtime,
            endpoint,
        } => {
            let handler = handler.unwrap_or_else(|| {
                if runtime == "wasm32-wasip2" {
                    "function.wasm"
                } else {
                    "bootstrap"
                }
                .into()
            });
            let deploy = hearth::cli::Deploy {
                name: &name,
                file: &file,
                handler: &handler,
                runtime: &runtime,
                memory_mb: memory,
                timeout_s: timeout,
                env: &env,
            };
            let config = hearth::cli::deploy(&client(&endpoint), &deploy).await?;
            println!("{config}");
            Ok(())
        }
        Command::Doctor => {
            let report = hearth::doctor::report();
            print!("{report}");
            Ok(())
        }
        Command::Functions { endpoint } => {
            hearth::cli::functions(&client(&endpoint), &mut std::io::stdout()).await
        }
        Command::Queues { endpoint } => {
            hearth::cli::queues(&client(&endpoint), &mut std::io::stdout()).await
        }
        Command::Tables { endpoint } => {
            hearth::cli::tables(&client(&endpoint), &mut std::io::stdout()).await
        }
        Command::Streams { endpoint } => {
            hearth::cli::streams(&client(&endpoint), &mut std::io::stdout()).await
        }
        Command::Mappings { endpoint } => {
            hearth::cli::mappings(&client(&endpoint), &mut std::io::stdout()).await
        }
        Command::Logs {
            name,
            follow,
            endpoint,
        } => hearth::cli::logs(&client(&endpoint), &name, follow, &mut std::io::stdout()).await,
        Command::Bench {
            scenario,
            target,
            endpoint,
            samples,
            concurrency,
            cold_ratio,
            compare,
            payload,
            memory,
            json,
            csv,
            report,
            save,
            baseline,
            runs_dir,
        } => {
            let payload = read_payload(payload)?;
            // On a worker, as the server's connection tasks run: from `block_on`'s thread
            // every wake-up would be a cross-thread hand-off the server never pays.
            let options = hearth::bench::BenchOptions {
                scenario,
                target,
                endpoint,
                samples,
                concurrency,
                cold_ratio,
                compare,
                payload,
                memory_mb: memory,
                json,
                csv,
                report,
                save,
                baseline,
                runs_dir,
                signing: hearth::client::SigningKey::from_env(),
            };
            tokio::spawn(hearth::bench::main(options)).await?
        }
        Command::Invoke {
            name,
            payload,
            kind,
            log_tail,
            endpoint,
        } => {
            let payload = read_payload(payload)?;
            let kind = match kind {
                None => "RequestResponse",
                Some(InvokeKind::Event) => "Event",
                Some(InvokeKind::DryRun) => "DryRun",
            };
            let reply = client(&endpoint)
                .invoke(&name, payload, kind, log_tail)
                .await?;
            if !reply.status.is_success() {
                bail!("invoke failed: {}", reply.error_text());
            }
            if let Some(tail) = reply.header("X-Amz-Log-Result") {
                let log = base64::engine::general_purpose::STANDARD.decode(tail)?;
                eprint!("{}", String::from_utf8_lossy(&log));
            }
            match reply.status {
                StatusCode::ACCEPTED => eprintln!(
                    "queued as {}",
                    reply.header("x-amzn-RequestId").unwrap_or("?")
                ),
                StatusCode::NO_CONTENT => eprintln!("dry run: the invocation would be accepted"),
                _ => println!("{}", String::from_utf8_lossy(&reply.body)),
            }
            if let Some(error) = reply.header("X-Amz-Function-Error") {
                bail!("the function failed ({error})");
            }
            Ok(())
        }
    }
}

/// A `--payload`: the JSON itself, or `@FILE` to read it from a file.
fn read_payload(payload: String) -> anyhow::Result<Vec<u8>> {
    match payload.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}")),
        None => Ok(payload.into_bytes()),
    }
}

/// A client for the CLI's subcommands: signed when `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` are set, as the AWS CLI would be.
fn client(endpoint: &str) -> HearthClient {
    HearthClient::signed(endpoint, hearth::client::SigningKey::from_env())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
