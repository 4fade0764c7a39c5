//! Deployment packages: for the wasm runtime, a zip holding the component at the handler's
//! path, or a bare component; for the process runtimes, a zip with an executable `bootstrap`
//! at its root, unpacked once per code version into a directory every sandbox shares. Everything here reads untrusted bytes: sizes are checked against Lambda's
//! limits before anything is inflated, and decompression is bounded, so a zip bomb is
//! refused without filling memory or disk.

use crate::error::DeployError;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read;

/// Lambda's limit on a zipped deployment package uploaded directly: 50 MB.
pub const MAX_ZIPPED_BYTES: usize = 52_428_800;
/// Lambda's limit on the unzipped size of a package: 250 MB.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// The wasm magic and the component-model layer/version bytes.
const WASM_MAGIC: &[u8] = b"\0asm";

/// A package that passed the checks.
#[derive(Debug, Clone)]
pub struct Package {
    /// `CodeSha256`: base64 SHA-256 of the uploaded bytes.
    pub code_sha256: String,
    /// `CodeSize`: bytes uploaded.
    pub code_size: u64,
    /// What is stored: the component (wasm), or the zip itself (process runtimes).
    pub code: Vec<u8>,
    /// Hex SHA-256 of `code`: its name in the store and the key of the compiled-code cache.
    pub code_hash: String,
}

/// What kind of code a runtime runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A WASI component.
    Component,
    /// A tree of files with an executable `bootstrap` at its root (provided runtimes).
    Tree,
    /// A tree of source files a managed runtime's interpreter loads (Python).
    Source,
}

/// Reads a package for `kind`.
pub fn unpack(bytes: &[u8], kind: CodeKind, handler: &str) -> Result<Package, DeployError> {
    match kind {
        CodeKind::Component => unpack_component(bytes, handler),
        CodeKind::Tree => unpack_tree(bytes, true),
        CodeKind::Source => unpack_tree(bytes, false),
    }
}

/// A process runtime's zip: every entry checked (paths, sizes, no links), and an executable
/// `bootstrap` at the root. Nothing is inflated here; [`extract_tree`] does that once.
fn unpack_tree(bytes: &[u8], needs_bootstrap: bool) -> Result<Package, DeployError> {
    check_zipped_size(bytes)?;
    if !bytes.starts_with(b"PK") {
        return Err(DeployError::InvalidZip(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
                .into(),
        ));
    }
    let mut archive = open_zip(bytes)?;
    let mut declared: u64 = 0;
    let mut bootstrap = None;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| invalid_zip(e.to_string()))?;
        let path = safe_path(&entry)?;
        declared = declared.saturating_add(entry.size());
        if declared > MAX_UNZIPPED_BYTES {
            return Err(unzipped_too_large());
        }
        let mode = entry.unix_mode().unwrap_or(0);
        if mode & S_IFMT == S_IFLNK {
            return Err(DeployError::InvalidParameter(format!(
                "{} is a symbolic link: links in deployment packages are not supported",
                entry.name()
            )));
        }
        if path.to_str() == Some("bootstrap") && entry.is_file() {
            bootstrap = Some(mode);
        }
    }
    match bootstrap {
        _ if !needs_bootstrap => {}
        None => {
            return Err(DeployError::InvalidParameter(
                "The deployment package has no bootstrap file at its root: a provided runtime runs ./bootstrap.".into(),
            ));
        }
        Some(mode) if mode & 0o111 == 0 => {
            return Err(DeployError::InvalidParameter(
                "The deployment package's bootstrap is not executable: zip it with its mode (chmod 755 bootstrap; zip keeps Unix permissions).".into(),
            ));
        }
        Some(_) => {}
    }
    // The zip is both what was uploaded and what is stored: one digest names it both ways.
    let digest = Sha256::digest(bytes);
    Ok(Package {
        code_sha256: base64::engine::general_purpose::STANDARD.encode(digest),
        code_size: bytes.len() as u64,
        code_hash: hex::encode(digest),
        code: bytes.to_vec(),
    })
}

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// Inflates a zip [`unpack_tree`] accepted into `dest` (which must not exist): into a
/// temporary sibling first, renamed into place when complete, so a crash never leaves a
/// partial tree under the final name. Modes keep their permission bits, without set-id bits.
/// Blocking.
pub fn extract_tree(zip: &[u8], dest: &std::path::Path) -> Result<(), DeployError> {
    use std::os::unix::fs::PermissionsExt;
    let internal = |e: std::io::Error| DeployError::Internal(format!("unpacking code: {e}"));
    let parent = dest
        .parent()
        .ok_or_else(|| DeployError::Internal("code directory has no parent".into()))?;
    std::fs::create_dir_all(parent).map_err(internal)?;
    let staging = parent.join(format!(
        ".{}.tmp-{}",
        dest.file_name().and_then(|f| f.to_str()).unwrap_or("tree"),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut archive = open_zip(zip)?;
        let mut budget = MAX_UNZIPPED_BYTES;
        for i in 0..archive.len() {
            let entry = archive
                .by_index(i)
                .map_err(|e| invalid_zip(e.to_string()))?;
            let path = staging.join(safe_path(&entry)?);
            if entry.is_dir() {
                std::fs::create_dir_all(&path).map_err(internal)?;
                continue;
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(internal)?;
            }
            let mode = entry.unix_mode().unwrap_or(0o644) & 0o777;
            let mut file = std::fs::File::create(&path).map_err(internal)?;
            // Declared sizes may lie: the whole tree never inflates past the limit.
            let written = std::io::copy(&mut entry.take(budget + 1), &mut file)
                .map_err(|e| invalid_zip(e.to_string()))?;
            if written > budget {
                return Err(unzipped_too_large());
            }
            budget -= written;
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(internal)?;
        }
        hearth_journal::atomic::sync_dir(&staging).map_err(internal)?;
        std::fs::rename(&staging, dest).map_err(internal)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn open_zip(bytes: &[u8]) -> Result<zip::ZipArchive<std::io::Cursor<&[u8]>>, DeployError> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| invalid_zip(e.to_string()))
}

fn invalid_zip(why: String) -> DeployError {
    DeployError::InvalidZip(format!(
        "Could not unzip uploaded file. Please check your file, then try to upload again. ({why})"
    ))
}

fn unzipped_too_large() -> DeployError {
    DeployError::InvalidParameter(format!(
        "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
    ))
}

/// The entry's path inside the package, refusing names that could leave it.
fn safe_path<R: std::io::Read>(
    entry: &zip::read::ZipFile<'_, R>,
) -> Result<std::path::PathBuf, DeployError> {
    entry.enclosed_name().ok_or_else(|| {
        invalid_zip(format!(
            "entry {:?} has an absolute or parent-relative path",
            entry.name()
        ))
    })
}

fn check_zipped_size(bytes: &[u8]) -> Result<(), DeployError> {
    if bytes.len() > MAX_ZIPPED_BYTES {
        return Err(DeployError::TooLarge(format!(
            "Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes, got {} bytes",
            bytes.len()
        )));
    }
    Ok(())
}

/// Reads a wasm package: a zip (the component at `handler`) or a bare component.
fn unpack_component(bytes: &[u8], handler: &str) -> Result<Package, DeployError> {
    check_zipped_size(bytes)?;
    let wasm = if bytes.starts_with(WASM_MAGIC) {
        bytes.to_vec()
    } else if bytes.starts_with(b"PK") {
        extract(bytes, handler)?
    } else {
        return Err(DeployError::InvalidZip(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
                .into(),
        ));
    };
    if !wasm.starts_with(WASM_MAGIC) {
        return Err(DeployError::InvalidCode(format!(
            "{handler} in the deployment package is not a WebAssembly component"
        )));
    }
    Ok(Package {
        code_sha256: base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes)),
        code_size: bytes.len() as u64,
        code_hash: hex::encode(Sha256::digest(&wasm)),
        code: wasm,
    })
}

/// Finds `handler` in the zip and inflates it, refusing unsafe paths and oversize content.
fn extract(bytes: &[u8], handler: &str) -> Result<Vec<u8>, DeployError> {
    let invalid = invalid_zip;
    let mut archive = open_zip(bytes)?;
    let wanted = handler.trim_start_matches("./");
    let mut declared: u64 = 0;
    let mut found = None;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| invalid(e.to_string()))?;
        let Some(path) = entry.enclosed_name() else {
            return Err(invalid(format!(
                "entry {:?} has an absolute or parent-relative path",
                entry.name()
            )));
        };
        declared = declared.saturating_add(entry.size());
        if declared > MAX_UNZIPPED_BYTES {
            return Err(DeployError::InvalidParameter(format!(
                "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )));
        }
        if path.to_str() == Some(wanted) && entry.is_file() {
            found = Some(i);
        }
    }
    let Some(index) = found else {
        return Err(DeployError::InvalidParameter(format!(
            "The handler {handler} was not found in the deployment package: it names the component's path in the zip"
        )));
    };
    let entry = archive
        .by_index(index)
        .map_err(|e| invalid(e.to_string()))?;
    let declared_size = entry.size();
    let mut wasm = Vec::with_capacity(declared_size.min(64 << 20) as usize);
    // The declared size may lie: never inflate more than the limit allows.
    entry
        .take(MAX_UNZIPPED_BYTES + 1)
        .read_to_end(&mut wasm)
        .map_err(|e| invalid(e.to_string()))?;
    if wasm.len() as u64 > MAX_UNZIPPED_BYTES {
        return Err(DeployError::InvalidParameter(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
        )));
    }
    Ok(wasm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish");
        out.into_inner()
    }

    const COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn bare_component_and_zip_are_accepted() {
        let p = unpack(COMPONENT, CodeKind::Component, "function.wasm").expect("bare");
        assert_eq!(p.code, COMPONENT);
        let z = zip_with(&[("function.wasm", COMPONENT)]);
        let p = unpack(&z, CodeKind::Component, "function.wasm").expect("zip");
        assert_eq!(p.code, COMPONENT);
        assert_eq!(p.code_size, z.len() as u64);
        assert_eq!(p.code_sha256.len(), 44);
    }

    #[test]
    fn garbage_missing_handler_and_non_wasm_are_refused() {
        assert!(matches!(
            unpack(b"hello", CodeKind::Component, "f.wasm"),
            Err(DeployError::InvalidZip(_))
        ));
        assert!(matches!(
            unpack(b"PKgarbage", CodeKind::Component, "f.wasm"),
            Err(DeployError::InvalidZip(_))
        ));
        let z = zip_with(&[("other.wasm", COMPONENT)]);
        assert!(matches!(
            unpack(&z, CodeKind::Component, "function.wasm"),
            Err(DeployError::InvalidParameter(_))
        ));
        let z = zip_with(&[("function.wasm", b"not wasm")]);
        assert!(matches!(
            unpack(&z, CodeKind::Component, "function.wasm"),
            Err(DeployError::InvalidCode(_))
        ));
    }

    #[test]
    fn traversal_paths_are_refused() {
        let z = zip_with(&[("../evil.wasm", COMPONENT)]);
        assert!(matches!(
            unpack(&z, CodeKind::Component, "function.wasm"),
            Err(DeployError::InvalidZip(_))
        ));
    }

    #[test]
    fn a_zip_bomb_is_refused_by_declared_size() {
        // 300 MB of zeros deflates to a few hundred KB.
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("function.wasm", opts).expect("start");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..300 {
            w.write_all(&chunk).expect("write");
        }
        w.finish().expect("finish");
        let z = out.into_inner();
        assert!(z.len() < MAX_ZIPPED_BYTES);
        let e = unpack(&z, CodeKind::Component, "function.wasm").expect_err("bomb");
        assert!(e.to_string().contains("Unzipped size"), "{e}");
    }

    /// A zip of the component and a stored (uncompressed) padding entry, exactly `len`
    /// bytes long.
    fn stored_zip_of_len(len: usize) -> Vec<u8> {
        let build = |pad: usize| {
            let mut out = std::io::Cursor::new(Vec::new());
            let mut w = zip::ZipWriter::new(&mut out);
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            w.start_file("function.wasm", stored).expect("start");
            w.write_all(COMPONENT).expect("write");
            w.start_file("pad", stored).expect("start");
            w.write_all(&vec![b'p'; pad]).expect("write");
            w.finish().expect("finish");
            out.into_inner()
        };
        let overhead = build(0).len();
        let zip = build(len - overhead);
        assert_eq!(zip.len(), len);
        zip
    }

    #[test]
    fn a_zip_of_exactly_50_mb_is_accepted_and_one_byte_more_is_refused() {
        let at = stored_zip_of_len(MAX_ZIPPED_BYTES);
        let package = unpack(&at, CodeKind::Component, "function.wasm").expect("50 MB zip");
        assert_eq!(package.code_size, MAX_ZIPPED_BYTES as u64);
        let over = stored_zip_of_len(MAX_ZIPPED_BYTES + 1);
        let e = unpack(&over, CodeKind::Component, "function.wasm").expect_err("over 50 MB");
        assert!(matches!(e, DeployError::TooLarge(_)), "{e}");
    }

    #[test]
    fn a_zip_that_understates_its_inflated_size_is_refused_without_inflating_past_the_limit() {
        // 300 MB of zeros, deflated, declared as 8 bytes in both the local header and the
        // central directory.
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("function.wasm", opts).expect("start");
        w.write_all(COMPONENT).expect("write");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..300 {
            w.write_all(&chunk).expect("write");
        }
        w.finish().expect("finish");
        let mut z = out.into_inner();
        let lie = 8u32.to_le_bytes();
        // Local file header: uncompressed size at offset 22.
        assert_eq!(&z[..4], b"PK\x03\x04");
        z[22..26].copy_from_slice(&lie);
        // Central directory header: uncompressed size at offset 24.
        let central = z
            .windows(4)
            .rposition(|w| w == b"PK\x01\x02")
            .expect("central directory");
        z[central + 24..central + 28].copy_from_slice(&lie);
        let e =
            unpack(&z, CodeKind::Component, "function.wasm").expect_err("the lie must not pass");
        assert!(
            matches!(
                e,
                DeployError::InvalidZip(_) | DeployError::InvalidParameter(_)
            ),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Untrusted bytes never panic the unpacker: any input is a package or an error.
        #[test]
        fn arbitrary_packages_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..2048), zip_magic in proptest::bool::ANY) {
            let mut bytes = if zip_magic { b"PK\x03\x04".to_vec() } else { b"\0asm".to_vec() };
            bytes.extend_from_slice(&tail);
            let _ = unpack(&bytes, CodeKind::Component, "function.wasm");
        }

        /// A real zip with arbitrary entry names: an entry whose name could leave the code
        /// directory on Linux (absolute, or climbing above it with `..`) is refused, whatever else
        /// the zip holds; nothing panics.
        #[test]
        fn unsafe_entry_names_are_refused(
            name in proptest::prop_oneof!["\\PC{1,40}", "(\\.\\./|/|a/|\\./){0,4}[a-z.]{1,10}"]
        ) {
            let z = zip_with(&[(name.as_str(), COMPONENT), ("function.wasm", COMPONENT)]);
            let result = unpack(&z, CodeKind::Component, "function.wasm");
            let mut depth = 0i32;
            let mut escapes = name.starts_with('/');
            for part in name.split('/') {
                match part {
                    "" | "." => {}
                    ".." => {
                        depth -= 1;
                        escapes |= depth < 0;
                    }
                    _ => depth += 1,
                }
            }
            let unsafe_name = escapes;
            if unsafe_name {
                proptest::prop_assert!(
                    matches!(result, Err(DeployError::InvalidZip(_))),
                    "{name:?} was accepted"
                );
            }
        }
    }
}
