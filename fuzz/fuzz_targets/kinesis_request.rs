//! Fuzz target: `hearth::fuzzing::kinesis_request` (see its doc for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth::fuzzing::kinesis_request(data));
