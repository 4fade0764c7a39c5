//! Fuzz target: `hearth::fuzzing::sigv4` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::sigv4(data));
