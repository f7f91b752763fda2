//! `wait`: Python's `multiprocessing.connection.wait` for connections,
//! sleeping in the kernel on every ring at once.
//!
//! On the futex backend the sleep is one `futex_waitv` over the data
//! signals of every ring (Linux 5.16; checked here on 6.18): any commit
//! wakes it. Where that is missing (the POSIX-semaphore backend, older
//! kernels), connections made by `Pipe::new` wait in `poll(2)` on their
//! sockets, having declared themselves waiting so that writers send wake
//! tokens; pipes in a segment, which have no socket, sleep on their first
//! ring in slices of 10 ms and look at the others between slices. The death
//! of an end is asked of the kernel on the probe schedule (1 ms into the
//! wait, then doubling up to every 100 ms), and at once when a handle of it
//! is closed: each end counts its closed handles, and a closer nudges the
//! rings, which ends the sleep.

use super::connection::{CloseCount, Connection};
use super::end::EndKind;
use crate::raw::Probe;
use crate::ring::{wait_for_any_data, RawRing};
use crate::shim::{self, Deadline};
use crate::sys;
use std::os::fd::BorrowedFd;
use std::time::Duration;

/// Waits until at least one of `connections` is ready, or `timeout` runs
/// out, and returns the ready ones, in their order (Python's
/// `multiprocessing.connection.wait(object_list, timeout)`).
///
/// A connection is ready when [`Connection::poll`] would say so: a message
/// is waiting, or end of file is (the other end is gone; for the sending
/// end of a one-way pipe, only that). `timeout` `None` waits as long as it
/// takes; an empty result means the time ran out. Sleeps in the kernel
/// while nothing is ready, never in a busy loop.
///
/// # Examples
///
/// ```
/// use shmsync::{wait, Pipe, Process};
/// use std::time::Duration;
///
/// let (a1, b1) = Pipe::new(true)?;
/// let (a2, b2) = Pipe::new(true)?;
/// let child = Process::spawn(move || b2.send_bytes(b"from two").unwrap())?;
/// let ready = wait(&[&a1, &a2], Some(Duration::from_secs(10)));
/// assert_eq!(ready.len(), 1);
/// assert!(std::ptr::eq(ready[0], &a2));
/// assert_eq!(a2.recv_bytes(64)?, b"from two");
/// assert!(wait(&[&a1], Some(Duration::ZERO)).is_empty());
/// # drop(b1);
/// # child.join()?;
/// # Ok::<(), shmsync::Error>(())
/// ```
pub fn wait<'c, E: EndKind>(
    connections: &[&'c Connection<E>],
    timeout: Option<Duration>,
) -> Vec<&'c Connection<E>> {
    wait_deadline(
        connections,
        timeout.map_or(Deadline::NEVER, Deadline::after),
    )
}

/// [`wait`] until `deadline`.
pub(super) fn wait_deadline<'c, E: EndKind>(
    connections: &[&'c Connection<E>],
    deadline: Deadline,
) -> Vec<&'c Connection<E>> {
    let mut gone = vec![false; connections.len()];
    // The other ends' close counts as last asked about: one that moved is
    // asked about at once (see `PeerWatch`).
    let mut closes: Vec<CloseCount> = connections
        .iter()
        .map(|conn| CloseCount::of(conn))
        .collect();
    let mut probe = Probe::start();
    let mut ask_kernel = true;
    loop {
        let mut ready = Vec::new();
        for ((conn, gone), seen) in connections.iter().zip(&mut gone).zip(&mut closes) {
            if conn.readable() && conn.has_message() {
                ready.push(*conn);
                continue;
            }
            // Both: a close is counted even when the schedule asks.
            if !*gone && (seen.take(conn) | ask_kernel) {
                *gone = conn.peer_is_gone();
            }
            if *gone {
                ready.push(*conn);
            }
        }
        if !ready.is_empty() || deadline.has_passed() {
            return ready;
        }
        sleep(connections, &closes, deadline.min(probe.at()));
        ask_kernel = probe.due();
    }
}

/// Sleeps until a message may have come to one of `connections`, or a
/// handle of one's other end was closed (its count moved from `closes`),
/// or `until`.
fn sleep<E: EndKind>(connections: &[&Connection<E>], closes: &[CloseCount], until: Deadline) {
    // A receiving end sleeps on the ring it receives on; the sending end of
    // a one-way pipe, which waits only for its peer to go, on the ring it
    // sends on, which a closing peer nudges too (its deaths are for the
    // probe schedule).
    let rings: Vec<&RawRing> = connections
        .iter()
        .map(|conn| conn.rings()[usize::from(!conn.readable())])
        .collect();
    if rings.is_empty() {
        // No connections: nothing to wait for but the time.
        std::thread::sleep(until.remaining());
        return;
    }
    let any = || {
        connections.iter().zip(closes).any(|(conn, seen)| {
            (conn.readable() && conn.rings()[0].is_ready_to_get()) || seen.moved(conn)
        })
    };
    // A sending end's socket polls readable too once its peer is gone.
    let fds: Vec<BorrowedFd<'_>> = connections
        .iter()
        .filter_map(|conn| conn.end.token_fd())
        .collect();
    if sys::WAIT_ANY_MAX == 0 && fds.len() == connections.len() {
        // No multi-word sleep on this backend: sleep on the sockets, having
        // asked the writers for wake tokens (the readers' half of the
        // Dekker pair, as in `Connection::try_recv_bytes`). Tokens an
        // earlier wait asked for, and whose message a `recv` took since,
        // are dropped first: left in the socket, they would keep it
        // readable and turn this sleep into a busy loop. A token may
        // instead answer another reader of the same end, which then finds
        // its message on its own schedule (its probe, or the timer event
        // loops keep, see `try_recv_bytes`); so nothing is drained when a
        // message is there already.
        if any() {
            return;
        }
        for conn in connections.iter().filter(|conn| conn.readable()) {
            if let Some(fd) = conn.end.token_fd() {
                sys::socket::drain_tokens(fd);
            }
            conn.mem.state().ends[conn.me].declare_fd_waiting();
        }
        shim::heavy_fence();
        if !any() {
            sys::socket::wait_readable(&fds, until);
        }
        return;
    }
    wait_for_any_data(&rings, until, any);
}
