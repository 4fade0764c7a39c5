//! A Python interpreter with AWS's runtime interface client, for the python3.x tests: a
//! virtualenv at `target/python-venv` made from `examples/python-echo/host-requirements.txt`
//! once (again only when that file changes), and the python-echo example zipped.

use crate::guests::workspace_root;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The venv's interpreter, made on first use.
pub fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = workspace_root();
        let venv = root.join("target/python-venv");
        let requirements = root.join("examples/python-echo/host-requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).expect("host requirements");
        let stamp = venv.join(".requirements");
        let python = venv.join("bin/python3");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            let _ = std::fs::remove_dir_all(&venv);
            let run = |program: &std::path::Path, args: &[&std::ffi::OsStr]| {
                let status = std::process::Command::new(program)
                    .args(args)
                    .status()
                    .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
                assert!(status.success(), "{} {args:?} failed", program.display());
            };
            run(
                "python3".as_ref(),
                &["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
            );
            run(
                &python,
                &[
                    "-m".as_ref(),
                    "pip".as_ref(),
                    "install".as_ref(),
                    "--quiet".as_ref(),
                    "--disable-pip-version-check".as_ref(),
                    "-r".as_ref(),
                    requirements.as_os_str(),
                ],
            );
            std::fs::write(&stamp, wanted).expect("stamp");
        }
        python
    })
}

/// The python-echo example as a deployment package (`lambda_function.py` at the root).
pub fn python_echo_zip() -> Vec<u8> {
    use std::io::Write;
    let source = std::fs::read(workspace_root().join("examples/python-echo/lambda_function.py"))
        .expect("python-echo source");
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file(
        "lambda_function.py",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("zip entry");
    zip.write_all(&source).expect("zip write");
    zip.finish().expect("zip finish");
    out.into_inner()
}
