//! Builds the example guests (`examples/`, `wasm32-wasip2`) once per test binary and hands
//! out their bytes. Shared by every test binary that runs real guests (`#[path]`-included).

use std::path::PathBuf;
use std::sync::OnceLock;

/// The workspace root, from any member's manifest dir.
pub fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("examples").is_dir() {
        assert!(dir.pop(), "workspace root not found");
    }
    dir
}

/// Builds all example guests with the `guest` profile into `target/guests` (a target dir of
/// its own, so this nested cargo never waits on the lock of the cargo running the tests).
fn build_once() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = workspace_root();
        let target_dir = root.join("target/guests");
        let status = std::process::Command::new(env!("CARGO"))
            .current_dir(&root)
            .args([
                "build",
                "--quiet",
                "--profile",
                "guest",
                "--target",
                "wasm32-wasip2",
                "-p",
                "hearth-examples",
                "--target-dir",
            ])
            .arg(&target_dir)
            .status()
            .expect("running cargo to build the example guests");
        assert!(
            status.success(),
            "building the example guests failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
        );
        target_dir.join("wasm32-wasip2/guest")
    })
}

/// The bytes of example guest `name` (`echo`, `counter`, `sleep`, `alloc`, `crash`, …).
pub fn guest(name: &str) -> Vec<u8> {
    let path = build_once().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
