//! The fuzz hooks (`cfg(fuzzing)`): bytes decoded into operations on a
//! pipe, checked against a `VecDeque` of messages (differential), or with
//! random bytes written over the pipe's shared state between operations
//! (hostile).

use super::recv::{Sink, Waits};
use super::{Pipe, RecvError};
use crate::shim::Deadline;
use std::collections::VecDeque;
use std::time::Duration;

/// Decodes fuzz input: bytes read one at a time, zeroes past the end.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The bytes of message `i` of length `len`.
fn message(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (j * 31 + i * 7) as u8).collect()
}

impl Pipe {
    /// Differential fuzz hook: a writer thread sends messages of the sizes
    /// the input says (whole and streamed, in a ring of 16 to 2048 bytes)
    /// and drops its end; the reader receives with the limits and buffers
    /// the input says, and every answer is checked against a `VecDeque` of
    /// the messages sent: same bytes, same boundaries, `TooLong` leaving
    /// the message in place, `BufferTooShort` handing it back, end of file
    /// after the last.
    #[doc(hidden)]
    pub fn fuzz_differential(data: &[u8]) {
        let mut input = Input(data);
        let capacity = 16usize << (input.byte() % 8);
        let max_len = capacity * 3;
        let mut sends = Vec::new();
        let mut reads = Vec::new();
        while !input.is_empty() {
            match input.byte() % 3 {
                0 => sends.push(input.u16() as usize % max_len),
                1 => reads.push((true, input.u16() as usize % max_len, 0)),
                _ => reads.push((false, input.u16() as usize % max_len, input.byte() as usize)),
            }
        }
        let (reader, writer) = Pipe::options()
            .duplex(false)
            .capacity(capacity)
            .create()
            .expect("pipe");
        let sent = sends.clone();
        let thread = std::thread::spawn(move || {
            for (i, len) in sent.into_iter().enumerate() {
                if writer.send_bytes(&message(i, len)).is_err() {
                    // The reader is done and gone.
                    return;
                }
            }
        });
        let mut model: VecDeque<(usize, usize)> = sends.into_iter().enumerate().collect();
        for (as_vec, limit, offset) in reads {
            let expected = model.front().map(|&(i, len)| (len, message(i, len)));
            if as_vec {
                match (reader.recv_bytes(limit), expected) {
                    (Ok(got), Some((_, want))) => {
                        assert_eq!(got, want);
                        assert!(got.capacity() <= limit.max(got.len()));
                        model.pop_front();
                    }
                    (Err(RecvError::TooLong { len, max }), Some((want, _))) => {
                        assert!(len as usize == want && want > limit && max == limit);
                    }
                    (Err(RecvError::Eof), None) => {}
                    (got, want) => panic!("got {got:?}, expected {want:?}"),
                }
            } else {
                let mut buf = vec![0u8; limit];
                let offset = offset.min(limit);
                match (reader.recv_bytes_into(&mut buf, offset), expected) {
                    (Ok(n), Some((want_len, want))) => {
                        assert_eq!(n, want_len);
                        assert_eq!(&buf[offset..offset + n], &want[..]);
                        model.pop_front();
                    }
                    (Err(RecvError::BufferTooShort(got)), Some((want_len, want))) => {
                        assert!(want_len > limit - offset);
                        assert_eq!(got, want);
                        model.pop_front();
                    }
                    (Err(RecvError::Eof), None) => {}
                    (got, want) => panic!("got {got:?}, expected {want:?}"),
                }
            }
        }
        // Dropping the reader ends a writer blocked on a full ring.
        drop(reader);
        thread.join().expect("writer thread");
    }

    /// Hostile fuzz hook: operations on both ends of one pipe in one
    /// thread, none of which may wait (every deadline is now), with bytes
    /// of the input written over the pipe's shared state and buffers
    /// between them. Nothing may panic, touch memory outside the mapping,
    /// or allocate beyond what a receive asked for.
    #[doc(hidden)]
    pub fn fuzz_hostile(data: &[u8]) {
        let mut input = Input(data);
        let capacity = 16usize << (input.byte() % 7);
        let (a, b) = Pipe::options().capacity(capacity).create().expect("pipe");
        let (base, len) = a.mem.raw_bytes();
        let now = Waits {
            start: Deadline::now(),
            body: Deadline::now(),
            arm: false,
        };
        let mut i = 0;
        while !input.is_empty() {
            i += 1;
            let conn = if input.byte() % 2 == 0 { &a } else { &b };
            match input.byte() % 6 {
                0 => {
                    let len = input.u16() as usize % (capacity * 3);
                    let _ = conn.send_until(&message(i, len), Deadline::now());
                }
                1 => {
                    let max = input.u16() as usize;
                    let mut vec = Vec::new();
                    let _ = conn.recv_into_sink(&mut Sink::Vec { vec: &mut vec, max }, now);
                    assert!(vec.capacity() <= max, "allocated beyond the limit asked");
                }
                2 => {
                    let mut buf = vec![0u8; input.byte() as usize];
                    let _ = conn.recv_into_sink(&mut Sink::Slice(&mut buf), now);
                }
                3 => {
                    let _ = conn.poll(Some(Duration::ZERO));
                    let _ = super::wait(&[&a, &b], Some(Duration::ZERO));
                }
                _ => {
                    // A peer scribbles: a few bytes anywhere in the object.
                    let at = input.u16() as usize % len;
                    for k in 0..(input.byte() % 8) as usize {
                        let byte = input.byte();
                        if at + k < len {
                            // SAFETY: `at + k` lies inside the pipe's object
                            // in this process's mapping (`raw_bytes`); no
                            // other thread uses it, and every value it holds
                            // is atomics and bytes, valid whatever is
                            // written (that is the point of this test).
                            unsafe { base.as_ptr().add(at + k).write_volatile(byte) };
                        }
                    }
                }
            }
        }
    }
}
