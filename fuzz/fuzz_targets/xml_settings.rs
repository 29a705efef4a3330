#![no_main]
//! See `multistore::fuzzing::harness::xml_settings` for the input format and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| multistore::fuzzing::harness::xml_settings(data));
