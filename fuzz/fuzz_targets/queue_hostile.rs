//! Queue operations with random bytes written into the queues' shared
//! state and buffers between them: every call returns a value or an error
//! (checked by the hook; a panic or a fault is a finding).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shmsync::ByteQueue::fuzz_hostile(data));
