//! Messages of random sizes through a pipe of random capacity, read with
//! random limits and buffers, checked against a `VecDeque` of the messages
//! sent (boundaries, bytes, `TooLong`, `BufferTooShort`, end of file).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shmsync::Pipe::fuzz_differential(data));
