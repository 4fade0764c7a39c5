//! Builds the native example runtimes (`examples/native`) once per test binary and zips
//! them as `provided.al2023` packages.

use crate::guests::workspace_root;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Builds the native example runtimes (`examples/native`, host target) into `target/native`
/// once per test binary (a target dir of its own, like the guests').
fn build_native_once() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = workspace_root();
        let target_dir = root.join("target/native");
        let status = std::process::Command::new(env!("CARGO"))
            .current_dir(&root)
            .args([
                "build",
                "--quiet",
                "-p",
                "hearth-native-examples",
                "--target-dir",
            ])
            .arg(&target_dir)
            .status()
            .expect("running cargo to build the native examples");
        assert!(status.success(), "building the native examples failed");
        target_dir.join("debug")
    })
}

/// A `provided.al2023` deployment package: native example `name` as an executable
/// `bootstrap` at the zip's root.
pub fn native_zip(name: &str) -> Vec<u8> {
    use std::io::Write;
    let path = build_native_once().join(name);
    let binary = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("zip entry");
    zip.write_all(&binary).expect("zip write");
    zip.finish().expect("zip finish");
    out.into_inner()
}
