#![no_main]
//! See `multistore::fuzzing::harness::post_form` for the input format and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| multistore::fuzzing::harness::post_form(data));
