//! Fuzz target: `hearth::fuzzing::runtime_api` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::runtime_api(data));
