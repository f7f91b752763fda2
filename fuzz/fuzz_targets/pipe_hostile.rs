//! Random bytes written over a pipe's shared state and ring buffers between
//! sends and receives that may not wait: no panic, no access outside the
//! mapping, no allocation beyond what a receive asked for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shmsync::Pipe::fuzz_hostile(data));
