//! Random puts, gets, batches, handles and shutdowns on a `Queue<u32>` and
//! a `ByteQueue`, checked against a `VecDeque` (by the hook).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shmsync::ByteQueue::fuzz_ops(data));
