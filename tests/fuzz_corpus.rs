//! Replays every saved fuzz input (`fuzz/corpus/<target>/*`, and crashes saved under
//! `fuzz/artifacts/<target>/`) through its target, on stable Rust: what the fuzzer once
//! found stays fixed. `cargo fuzz run <target>` grows the corpora (see `fuzz/README.md`).

#[test]
fn every_saved_fuzz_input_still_passes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, target) in hearth::fuzzing::TARGETS {
        let mut inputs = 0;
        for dir in [
            root.join("corpus").join(name),
            root.join("artifacts").join(name),
        ] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("corpus entry").path();
                let data = std::fs::read(&path).expect("corpus file");
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name}: {} panics", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "fuzz target {name} has no saved corpus");
        replayed += inputs;
    }
    eprintln!("replayed {replayed} fuzz inputs");
}
