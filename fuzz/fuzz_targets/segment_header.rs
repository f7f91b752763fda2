//! Arbitrary bytes as a segment image: the header parser and the entry
//! validator must never panic, and every entry they accept must lie inside
//! the bytes, past the directory (checked by the hook).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shmsync::Segment::fuzz_header(data));
