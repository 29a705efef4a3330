#![no_main]
//! See `multistore::fuzzing::harness::xml_delete` for the input format and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| multistore::fuzzing::harness::xml_delete(data));
