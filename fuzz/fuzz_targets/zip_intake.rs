//! Fuzz target: `hearth::fuzzing::zip_intake` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::zip_intake(data));
