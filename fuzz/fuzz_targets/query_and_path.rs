//! Fuzz target: `hearth::fuzzing::query_and_path` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::query_and_path(data));
