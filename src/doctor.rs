//! `hearth doctor`: which runtimes this host can run, and what isolates a process sandbox
//! here. Every isolation layer is tried for real (a cgroup is made, a child starts in a new
//! mount namespace), exactly as `hearth serve` detects them at start.

use hearth_sandbox::Isolation;
use std::fmt::Write as _;

/// The report, as printed.
pub fn report() -> String {
    let isolation = Isolation::detect();
    let mut out = String::new();
    let _ = writeln!(out, "runtimes");
    let runtimes: [(&str, bool, String); 5] = [
        (
            "wasm32-wasip2",
            true,
            "WASI components under wasmtime; MemorySize up to 4096 MB".into(),
        ),
        (
            "provided.al2023",
            true,
            "the package's ./bootstrap in a process sandbox; MemorySize up to 10240 MB".into(),
        ),
        ("provided.al2", true, "as provided.al2023".into()),
        python(),
        (
            "nodejs*",
            false,
            "not in this hearth yet; run Node.js code as provided.al2023 with a bootstrap that starts aws-lambda-ric".into(),
        ),
    ];
    for (name, available, detail) in runtimes {
        let _ = writeln!(
            out,
            "  {name:<20} {:<4} {detail}",
            if available { "yes" } else { "no" }
        );
    }
    let _ = writeln!(out, "\nprocess sandbox isolation");
    for layer in isolation.layers() {
        let _ = writeln!(
            out,
            "  {:<20} {:<4} {}",
            layer.name,
            if layer.enabled { "on" } else { "off" },
            layer.detail
        );
    }
    out
}

/// Whether python3.x functions can run here, and on what.
fn python() -> (&'static str, bool, String) {
    match hearth_scheduler::backends::find_python() {
        Some(python) => {
            let version = std::process::Command::new(&python)
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            (
                "python3.x",
                true,
                format!(
                    "{} ({version}) with awslambdaric: every python3.x function runs on it",
                    python.display()
                ),
            )
        }
        None => (
            "python3.x",
            false,
            "no python3 with awslambdaric on PATH: pip install awslambdaric (examples/python-echo/host-requirements.txt), or start hearth serve with --python PATH".into(),
        ),
    }
}
