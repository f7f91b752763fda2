//! A child's panic message goes straight to file descriptor 2.
//!
//! std's default panic hook writes to the output capture of the panicking
//! thread when there is one, and a forked child inherits the capture that
//! the test harness set on the thread that forked: the message would go
//! into memory that `_exit` throws away. It would also take the `stderr`
//! lock, which another parent thread may have held at the fork. So, before
//! the first fork, the parent installs a hook that chains to the one it
//! replaces; in a child spawned here (where `child::current` is set) it
//! formats the message on the stack and `write`s it to fd 2 itself, once,
//! taking no lock and allocating nothing.
//!
//! The hook lock itself is taken for writing only by `set_hook` and
//! `take_hook`: installing ours once, in the parent, before any fork, means
//! no fork of ours happens while we hold it.

use super::child::{self, Identity};
use std::any::Any;
use std::fmt::{self, Write as _};
use std::panic::Location;
use std::sync::Once;

/// Installs the chaining hook, once per program. Call before forking.
pub(super) fn install_hook() {
    static INSTALLED: Once = Once::new();
    // `set_hook` panics when called while panicking (a spawn from a
    // destructor during unwinding): leave the hook as it is then, and try
    // again at the next spawn.
    if std::thread::panicking() {
        return;
    }
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| match child::current() {
            Some(me) => report(me, info.payload(), info.location()),
            None => previous(info),
        }));
    });
}

/// Writes `thread '<t>' in process '<p>' (pid N) panicked at <loc>:\n<msg>`
/// to fd 2, as std's default hook would (without a backtrace, which would
/// need locks and allocation).
fn report(me: &Identity, payload: &(dyn Any + Send), location: Option<&Location<'_>>) {
    let thread = std::thread::current();
    let message = match payload.downcast_ref::<&str>() {
        Some(s) => *s,
        None => match payload.downcast_ref::<String>() {
            Some(s) => s.as_str(),
            None => "Box<dyn Any>",
        },
    };
    let mut out = Stderr::new();
    let _ = write!(
        out,
        "thread '{}' in process '{}' (pid {}) panicked",
        thread.name().unwrap_or("<unnamed>"),
        me.name(),
        std::process::id(),
    );
    if let Some(location) = location {
        let _ = write!(out, " at {location}");
    }
    let _ = writeln!(out, ":\n{message}");
    out.flush();
}

/// A small stack buffer in front of `write(2, ...)`: one `write` for a
/// message that fits, several for a longer one, nothing lost.
struct Stderr {
    buf: [u8; 512],
    len: usize,
}

impl Stderr {
    fn new() -> Stderr {
        Stderr {
            buf: [0; 512],
            len: 0,
        }
    }

    fn flush(&mut self) {
        let mut rest = &self.buf[..self.len];
        while !rest.is_empty() {
            // SAFETY: `rest` is a live, initialised byte slice, and write
            // reads at most `rest.len()` bytes from it; fd 2 needs no
            // ownership (a closed fd 2 just fails with EBADF).
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            match usize::try_from(n) {
                Ok(0) => break,
                Ok(n) => rest = &rest[n..],
                Err(_) if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
                Err(_) => break,
            }
        }
        self.len = 0;
    }
}

impl fmt::Write for Stderr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Bytes, not chars: a character split across two writes is whole
        // again on the terminal.
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = rest.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&rest[..n]);
            self.len += n;
            rest = &rest[n..];
        }
        Ok(())
    }
}
