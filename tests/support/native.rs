//! Builds the native example runtimes (`examples/native`) once per test binary and zips
//! them as `provided.al2023` packages.

use crate::guests::workspace_root;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Builds the native example runtimes (`examples/native`, host target) into `target/native`
/// once per test binary (a target dir of its own, like the guests'): the debug build for
/// tests, the release build for benchmarks.
fn build_native_once(release: bool) -> &'static PathBuf {
    static DEBUG: OnceLock<PathBuf> = OnceLock::new();
    static RELEASE: OnceLock<PathBuf> = OnceLock::new();
    let build = || {
        let root = workspace_root();
        let target_dir = root.join("target/native");
        let mut cargo = std::process::Command::new(env!("CARGO"));
        cargo
            .current_dir(&root)
            .args([
                "build",
                "--quiet",
                "-p",
                "hearth-native-examples",
                "--target-dir",
            ])
            .arg(&target_dir);
        if release {
            cargo.arg("--release");
        }
        let status = cargo
            .status()
            .expect("running cargo to build the native examples");
        assert!(status.success(), "building the native examples failed");
        target_dir.join(if release { "release" } else { "debug" })
    };
    if release {
        RELEASE.get_or_init(build)
    } else {
        DEBUG.get_or_init(build)
    }
}

/// A `provided.al2023` deployment package: native example `name` (debug build) as an
/// executable `bootstrap` at the zip's root.
pub fn native_zip(name: &str) -> Vec<u8> {
    zip_binary(&build_native_once(false).join(name))
}

/// [`native_zip`] of the example's release build, what benchmarks measure.
#[allow(dead_code)] // the tests use only the debug build
pub fn native_release_zip(name: &str) -> Vec<u8> {
    zip_binary(&build_native_once(true).join(name))
}

/// A package of native example `runtime` as `bootstrap` and example `extension` in
/// `extensions/` (debug builds).
#[allow(dead_code)] // the benchmarks run no extension
pub fn native_zip_with_extension(runtime: &str, extension: &str) -> Vec<u8> {
    let dir = build_native_once(false);
    zip_binaries(&[
        ("bootstrap".to_owned(), dir.join(runtime)),
        (format!("extensions/{extension}"), dir.join(extension)),
    ])
}

fn zip_binary(path: &std::path::Path) -> Vec<u8> {
    zip_binaries(&[("bootstrap".to_owned(), path.to_path_buf())])
}

fn zip_binaries(entries: &[(String, PathBuf)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    for (name, path) in entries {
        let binary =
            std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(&binary).expect("zip write");
    }
    zip.finish().expect("zip finish");
    out.into_inner()
}
