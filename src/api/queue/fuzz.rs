//! Fuzz hooks (cfg `fuzzing`, and unit tests): bytes decoded into queue
//! operations, checked against a `VecDeque` model; and the same with
//! random bytes written into the queue's shared state between operations,
//! where every call must return a value or an error (never panic, never
//! reach outside the buffer, never allocate beyond the largest message).

use super::bytes::ByteQueue;
use super::error::{GetError, PutError};
use super::pod::Queue;
use crate::ring::{record_size, IMMEDIATE};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Reads the fuzzer's bytes one at a time; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the model says the queues hold.
struct Model {
    values: VecDeque<u32>,
    capacity: usize,
    messages: VecDeque<Vec<u8>>,
    bytes_used: usize,
    byte_capacity: usize,
    shut: bool,
    immediate: bool,
}

impl Model {
    fn get_error(&self) -> GetError {
        if self.shut {
            GetError::ShutDown
        } else {
            GetError::Empty
        }
    }
}

/// Random puts, gets, batches, handles and shutdowns on a `Queue<u32>` and
/// a `ByteQueue`, each checked against a `VecDeque`.
pub(crate) fn differential(data: &[u8]) {
    let mut input = Input(data);
    let capacity = 1 + (input.byte() % 8) as usize;
    let q = Queue::<u32>::new(capacity).expect("queue");
    let bq = ByteQueue::new(64 << (input.byte() % 4)).expect("byte queue");
    let mut m = Model {
        values: VecDeque::new(),
        capacity,
        messages: VecDeque::new(),
        bytes_used: 0,
        byte_capacity: bq.capacity(),
        shut: false,
        immediate: false,
    };
    let zero = Some(Duration::ZERO);
    while !input.is_empty() {
        match input.byte() % 12 {
            0 => {
                let v = input.u32();
                let r = q.try_put(v);
                if m.shut {
                    assert!(matches!(r, Err(PutError::ShutDown(x)) if x == v));
                } else if m.values.len() < m.capacity {
                    assert!(r.is_ok());
                    m.values.push_back(v);
                } else {
                    assert!(matches!(r, Err(PutError::Full(x)) if x == v));
                }
            }
            1 => match m.values.pop_front() {
                Some(v) => assert_eq!(q.try_get(), Ok(v)),
                None => assert_eq!(q.try_get(), Err(m.get_error())),
            },
            2 => {
                let n = (input.byte() % 10) as usize;
                let values: Vec<u32> = (0..n).map(|_| input.u32()).collect();
                let room = m.capacity - m.values.len();
                match q.put_many(&values, zero) {
                    Ok(()) => assert!(!m.shut && n <= room),
                    Err(PutError::ShutDown(0)) => assert!(m.shut),
                    Err(PutError::Timeout(done)) => assert!(!m.shut && n > room && done == room),
                    Err(e) => panic!("put_many: {e}"),
                }
                if !m.shut {
                    m.values.extend(values.iter().take(room));
                }
            }
            3 => {
                let k = 1 + (input.byte() % 10) as usize;
                let mut out = vec![0; k];
                match q.get_many(&mut out, zero) {
                    Ok(n) => {
                        assert_eq!(n, k.min(m.values.len()));
                        for got in &out[..n] {
                            assert_eq!(Some(*got), m.values.pop_front());
                        }
                    }
                    Err(GetError::Timeout) => assert!(m.values.is_empty() && !m.shut),
                    Err(GetError::ShutDown) => assert!(m.values.is_empty() && m.shut),
                    Err(e) => panic!("get_many: {e}"),
                }
            }
            4 | 5 => {
                let immediate = input.byte() % 2 == 1;
                if input.byte() % 2 == 0 {
                    q.shutdown(immediate);
                    m.shut = true;
                    m.immediate |= immediate;
                    if m.immediate {
                        m.values.clear();
                    }
                } else {
                    bq.shutdown(immediate);
                    // The byte queue shares the model's shutdown state only
                    // through its own calls below.
                    bq_shut(&mut m, immediate);
                }
            }
            6 => {
                assert_eq!(q.qsize(), m.values.len());
                assert_eq!(q.empty(), m.values.is_empty());
                assert_eq!(q.full(), m.values.len() == m.capacity);
            }
            7 => {
                if let Ok(mut tx) = q.producer() {
                    let v = input.u32();
                    match tx.try_put(v) {
                        Ok(()) => m.values.push_back(v),
                        Err(PutError::Full(_)) => assert_eq!(m.values.len(), m.capacity),
                        Err(PutError::ShutDown(_)) => assert!(m.shut),
                        Err(e) => panic!("producer: {e}"),
                    }
                }
            }
            8 => {
                if let Ok(mut rx) = q.consumer() {
                    match m.values.pop_front() {
                        Some(v) => assert_eq!(rx.try_get(), Ok(v)),
                        None => assert_eq!(rx.try_get(), Err(m.get_error())),
                    }
                }
            }
            9 | 10 => {
                let len = input.byte() as usize * 3;
                let msg: Vec<u8> = (0..len).map(|i| i as u8 ^ len as u8).collect();
                let size = record_size(len as u32).unwrap_or(u32::MAX) as usize;
                let r = bq.try_put(&msg);
                if len > bq.max_message() {
                    assert!(matches!(r, Err(PutError::TooLarge { .. })));
                } else if bq.is_shut_down() {
                    assert!(matches!(r, Err(PutError::ShutDown(()))));
                } else if m.bytes_used + size <= m.byte_capacity {
                    assert!(r.is_ok());
                    m.bytes_used += size;
                    m.messages.push_back(msg);
                } else {
                    assert!(matches!(r, Err(PutError::Full(()))));
                }
            }
            _ => match m.messages.pop_front() {
                Some(msg) => {
                    m.bytes_used -= record_size(msg.len() as u32).unwrap_or(0) as usize;
                    assert_eq!(bq.try_get(), Ok(msg));
                }
                None if bq.is_shut_down() => assert_eq!(bq.try_get(), Err(GetError::ShutDown)),
                None => assert_eq!(bq.try_get(), Err(GetError::Empty)),
            },
        }
        assert_eq!(bq.bytes_used(), m.bytes_used);
    }
}

/// The byte queue was shut down: an immediate shutdown discards its
/// messages.
fn bq_shut(m: &mut Model, immediate: bool) {
    if immediate {
        m.messages.clear();
        m.bytes_used = 0;
    }
}

/// Random bytes written into a queue's shared state and buffer between
/// operations: every operation returns a value or an error, gets allocate
/// at most the largest message, and nothing reaches outside the buffer
/// (the buffer copies are bounds-checked; a panic or a fault here is the
/// bug this hook looks for).
pub(crate) fn hostile(data: &[u8]) {
    let mut input = Input(data);
    let q = Queue::<u64>::new(1 + (input.byte() % 8) as usize).expect("queue");
    let bq = ByteQueue::with_max_message(256, 100).expect("byte queue");
    while !input.is_empty() {
        match input.byte() % 8 {
            0 => {
                let _ = q.try_put(u64::from(input.u32()));
            }
            1 => {
                let _ = q.try_get();
            }
            2 => {
                let mut out = [0u64; 4];
                let n = q.get_many(&mut out, Some(Duration::ZERO)).unwrap_or(0);
                assert!(n <= out.len());
                let _ = q.qsize();
            }
            3 => {
                let len = input.byte() as usize;
                let _ = bq.try_put(&vec![0x5A; len]);
            }
            4 => {
                if let Ok(msg) = bq.try_get() {
                    assert!(msg.len() <= bq.max_message());
                }
            }
            5 => scribble(&q.ring, &mut input),
            6 => scribble(&bq.ring, &mut input),
            _ => {
                let at = input.u32() as usize;
                let bytes = [input.byte(); 8];
                let ring = if at % 2 == 0 { &q.ring } else { &bq.ring };
                // Out-of-range offsets are refused by the bounds check.
                let _ = ring.buf.write(at % (ring.buf.len() + 16), &bytes);
            }
        }
    }
}

/// Writes a random value into one word of the queue's shared state, as a
/// peer process could.
fn scribble(ring: &super::shared::Ring, input: &mut Input<'_>) {
    let state = ring.state();
    let raw = &state.ring;
    let words: [&AtomicU32; 13] = [
        &raw.config.capacity,
        &raw.config.slots,
        &raw.config.slot_size,
        &raw.config.state,
        &raw.producer.seen,
        &raw.consumer.seen,
        &raw.producer.slip,
        &raw.consumer.slip,
        &raw.tail,
        &raw.head,
        &state.meta.tasks_done,
        &raw.tail,
        &raw.head,
    ];
    let which = input.byte() as usize % words.len();
    let value = match input.byte() % 4 {
        // Small moves of a counter, the likeliest garbage to slip through.
        0 => words[which]
            .load(Ordering::Relaxed)
            .wrapping_add(u32::from(input.byte() % 8)),
        1 => IMMEDIATE,
        _ => input.u32(),
    };
    // Relaxed: a peer's write, ordered with nothing.
    words[which].store(value, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    /// The hooks on pseudo-random inputs, so that `cargo test` runs them
    /// without a fuzzer.
    #[test]
    fn the_fuzz_hooks_hold_on_ten_thousand_random_inputs() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut data = Vec::new();
        for round in 0..10_000 {
            data.clear();
            let len = 1 + round % 200;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data.push(x as u8);
            }
            super::differential(&data);
            super::hostile(&data);
        }
    }
}
