//! The directory half of [`Segment`]: finding, reserving and initialising
//! named objects under the directory lock, and validating every entry on
//! the way (see the parent module's docs for the protocol).

use super::{Segment, SegmentError};
use crate::raw::{LockHold, RawLock};
use crate::shm::header::{
    self, header_of, Entry, EntryInfo, EntryState, Header, DIRECTORY_OFFSET, ENTRY_SIZE,
    INITIALISING, READY,
};
use crate::shm::shared::{Shared, SharedTail, ShmSafe};
use crate::sys::Deadline;
use core::mem::{align_of, size_of};
use core::sync::atomic::Ordering;
use std::sync::Arc;

/// Where a lookup found a name.
enum Found {
    Ready(EntryInfo),
    Initialising(u32, EntryInfo),
    /// Not there; `free` is the first empty slot, if any.
    Missing {
        free: Option<u32>,
    },
}

/// Holds the directory lock; gives its hold back when dropped (also when
/// `init` panics).
struct DirectoryGuard<'a> {
    lock: &'a RawLock,
    hold: LockHold,
}

impl Drop for DirectoryGuard<'_> {
    fn drop(&mut self) {
        // Err only if a peer released the lock under us (any-thread
        // release): then there is nothing of ours to give back.
        let _ = self.lock.unlock(self.hold);
    }
}

impl Segment {
    /// Returns the object called `name`, creating it with `init` if no
    /// process has yet: every process that asks for the same name (and
    /// type) gets a handle to the same value.
    ///
    /// `init` runs at most once per object in the usual case, while this
    /// process holds the segment's directory lock (so keep it short: other
    /// `get_or_init`s on this segment wait for it, at most for their
    /// [`directory_lock_timeout`](crate::SegmentOptions::directory_lock_timeout)).
    /// If it panics, or its process dies, the object stays unfinished and
    /// the next `get_or_init` for the name runs its own `init` instead:
    /// nobody waits for a dead initialiser for longer than it takes the
    /// lock to notice (about 100 ms).
    ///
    /// # Errors
    ///
    /// [`SegmentError::DirectoryBusy`] if the directory lock stayed held
    /// by a live thread for the whole bound (five seconds by default);
    /// [`SegmentError::TypeMismatch`] if the name holds another type;
    /// [`SegmentError::DirectoryFull`], [`SegmentError::OutOfSpace`] if a
    /// new object does not fit; [`SegmentError::InvalidName`] /
    /// [`SegmentError::NameTooLong`] for names that are empty, contain NUL
    /// or exceed [`MAX_OBJECT_NAME`](Segment::MAX_OBJECT_NAME) bytes;
    /// [`SegmentError::Reentrant`] if called from inside `init` (of any
    /// handle of this segment) and the lookup needs the directory lock: a
    /// name that is there and finished is still found;
    /// [`SegmentError::Corrupted`] (and the header errors of
    /// [`open`](Segment::open)) if a peer has corrupted the segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let a = seg.get_or_init("counter", || AtomicU64::new(5))?;
    /// let b = seg.get_or_init("counter", || -> AtomicU64 { unreachable!() })?;
    /// a.fetch_add(1, Ordering::Relaxed);
    /// assert_eq!(b.load(Ordering::Relaxed), 6);
    /// assert!(seg.get_or_init("counter", || 0u32).is_err()); // another type
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn get_or_init<T: ShmSafe>(
        &self,
        name: &str,
        init: impl FnOnce() -> T,
    ) -> Result<Shared<T>, SegmentError> {
        let layout = ObjectLayout::of::<T>();
        let offset = self.get_or_init_raw(name, layout, |at| {
            // SAFETY: `at` is the object's first byte, aligned for T with
            // `size_of::<T>()` bytes reserved (`get_or_init_raw`'s
            // contract); the pointer comes from the mapping's base.
            unsafe { at.cast::<T>().write(init()) }
        })?;
        // SAFETY: the object at `offset` is a T, written above or by the
        // process that made it, inside the mapping `self.region` keeps.
        Ok(unsafe { Shared::from_region(Arc::clone(&self.region), offset) })
    }

    /// [`get_or_init`](Segment::get_or_init) for an `H` followed by a
    /// buffer (`tail_len` bytes aligned to `tail_align`): a ring or an array
    /// with a size chosen at run time. The buffer starts zeroed. The size is
    /// part of the object's type: asking for the name with another buffer
    /// size is a [`SegmentError::TypeMismatch`].
    pub(crate) fn get_or_init_with_tail<H: ShmSafe>(
        &self,
        name: &str,
        tail_len: usize,
        tail_align: usize,
        init: impl FnOnce() -> H,
    ) -> Result<SharedTail<H>, SegmentError> {
        let tail_at = SharedTail::<H>::tail_offset(tail_align);
        let layout = ObjectLayout::with_tail::<H>(tail_at, tail_len, tail_align)?;
        let offset = self.get_or_init_raw(name, layout, |at| {
            // SAFETY: `at` is the object's first byte, aligned for H and for
            // the tail, with `tail_at + tail_len` bytes reserved
            // (`get_or_init_raw`'s contract); nobody else writes it.
            unsafe {
                at.cast::<H>().write(init());
                at.add(tail_at).write_bytes(0, tail_len);
            }
        })?;
        // SAFETY: as in `get_or_init`: an H at `offset`, then `tail_len`
        // bytes at `offset + tail_at`, inside the mapping.
        Ok(unsafe {
            SharedTail::from_parts(
                Shared::from_region(Arc::clone(&self.region), offset),
                offset + tail_at,
                tail_len,
            )
        })
    }

    /// The directory protocol behind every `get_or_init`: finds the object
    /// `name` of `layout`, or reserves space for it and lets `write` fill it
    /// in (under the directory lock, while the entry is INITIALISING), and
    /// returns its offset in the mapping.
    ///
    /// `write` gets a pointer to the object's first byte, aligned to
    /// `layout.align`, with `layout.size` bytes reserved inside the
    /// mapping, which no other thread reads or writes until `write` returns.
    fn get_or_init_raw(
        &self,
        name: &str,
        layout: ObjectLayout,
        write: impl FnOnce(*mut u8),
    ) -> Result<usize, SegmentError> {
        let key = self.checked_key(name)?;
        // Fast path, without the lock: a READY entry never changes.
        if let Found::Ready(entry) = self.find(&key)? {
            return layout.check(name, &entry);
        }

        let directory = self.lock_directory()?;
        let (index, offset) = match self.find(&key)? {
            Found::Ready(entry) => return layout.check(name, &entry),
            Found::Initialising(index, entry) => {
                // Initialisation only runs under the lock, which this thread
                // holds: the entry's initialiser died or panicked. Its space
                // is reserved; initialise it again.
                layout.check(name, &entry)?;
                self.cover_with_cursor(&entry);
                (index, entry.offset)
            }
            Found::Missing { free: None } => {
                return Err(SegmentError::DirectoryFull {
                    capacity: self.info.capacity,
                })
            }
            Found::Missing { free: Some(index) } => (index, self.reserve(index, &key, layout)?),
        };

        // SAFETY: `offset` is aligned to `layout.align` and `offset +
        // layout.size` lies inside the mapping (checked by `reserve`, or by
        // `check_entry` + `layout.check`), which `self.region` keeps mapped.
        // The entry is INITIALISING, so no handle to the object exists, and
        // this thread holds the directory lock, so no other initialiser
        // writes it.
        write(unsafe { self.region.base().as_ptr().add(offset) });
        // Release: pairs with the Acquire load of `state` in
        // `Entry::fields`; whoever reads READY also reads the value.
        self.entry(index).state.store(READY, Ordering::Release);
        drop(directory);
        Ok(offset)
    }

    /// Returns the object called `name`, which some process made with
    /// [`get_or_init`](Segment::get_or_init). If it is being initialised
    /// right now, waits for that to finish, at most for the segment's
    /// [`directory_lock_timeout`](crate::SegmentOptions::directory_lock_timeout).
    ///
    /// # Errors
    ///
    /// [`SegmentError::NoSuchObject`] if there is none;
    /// [`SegmentError::DirectoryBusy`] if its initialiser held the
    /// directory lock for the whole bound;
    /// [`SegmentError::Abandoned`] if its initialiser died or panicked
    /// (a `get_or_init` will finish it); otherwise as for
    /// [`get_or_init`](Segment::get_or_init).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// assert!(matches!(seg.get::<u64>("config"), Err(SegmentError::NoSuchObject { .. })));
    /// seg.get_or_init("config", || 3u64)?;
    /// assert_eq!(*seg.get::<u64>("config")?, 3);
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn get<T: ShmSafe>(&self, name: &str) -> Result<Shared<T>, SegmentError> {
        let offset = self.get_raw(name, ObjectLayout::of::<T>())?;
        // SAFETY: a READY object of T's layout and type tag at `offset`
        // (`get_raw`), inside the mapping `self.region` keeps; T: ShmSafe
        // keeps it valid whatever peers have written since.
        Ok(unsafe { Shared::from_region(Arc::clone(&self.region), offset) })
    }

    /// [`get`](Segment::get) for an object made by `get_or_init_with_tail`.
    // Used by the rings and arrays being built on it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn get_with_tail<H: ShmSafe>(
        &self,
        name: &str,
        tail_len: usize,
        tail_align: usize,
    ) -> Result<SharedTail<H>, SegmentError> {
        let tail_at = SharedTail::<H>::tail_offset(tail_align);
        let layout = ObjectLayout::with_tail::<H>(tail_at, tail_len, tail_align)?;
        let offset = self.get_raw(name, layout)?;
        // SAFETY: as in `get_or_init_with_tail`.
        Ok(unsafe {
            SharedTail::from_parts(
                Shared::from_region(Arc::clone(&self.region), offset),
                offset + tail_at,
                tail_len,
            )
        })
    }

    /// The offset of the READY object `name` of `layout`.
    fn get_raw(&self, name: &str, layout: ObjectLayout) -> Result<usize, SegmentError> {
        let key = self.checked_key(name)?;
        match self.find(&key)? {
            Found::Ready(entry) => return layout.check(name, &entry),
            Found::Missing { .. } => return Err(SegmentError::NoSuchObject { name: name.into() }),
            Found::Initialising(..) => {}
        }
        // Someone is initialising it, or died doing so: the lock waits for
        // the former (boundedly) and detects the latter.
        let _directory = self.lock_directory()?;
        match self.find(&key)? {
            Found::Ready(entry) => layout.check(name, &entry),
            Found::Initialising(..) => Err(SegmentError::Abandoned { name: name.into() }),
            Found::Missing { .. } => Err(SegmentError::NoSuchObject { name: name.into() }),
        }
    }

    /// The directory key for `name`, once the type fits a segment and the
    /// header still checks out: what every lookup starts with.
    fn checked_key(&self, name: &str) -> Result<[u8; header::NAME_BYTES], SegmentError> {
        let key = header::object_key(name)?;
        self.check_header()?;
        Ok(key)
    }

    /// The header; its bytes may say anything.
    fn header(&self) -> &Header {
        header_of(&self.region)
    }

    /// Directory slot `index`, which must be below the validated capacity.
    fn entry(&self, index: u32) -> &Entry {
        assert!(index < self.info.capacity, "directory index out of range");
        let offset = DIRECTORY_OFFSET + index as usize * ENTRY_SIZE;
        // SAFETY: check_header verified, against this mapping's length, that
        // the directory of `capacity` entries ends before `heap_offset <=
        // len`, so the entry lies inside the mapping; DIRECTORY_OFFSET and
        // ENTRY_SIZE are multiples of 8 and the base is page-aligned, so it
        // is aligned. An Entry is atomics only: every byte pattern is
        // valid, and peers writing it concurrently is what atomics are for.
        unsafe { &*self.region.base().as_ptr().add(offset).cast::<Entry>() }
    }

    /// Re-validates the header against this handle's view: peers may have
    /// changed it since it was opened.
    fn check_header(&self) -> Result<(), SegmentError> {
        let now = header::check_header(&self.header().fields(), self.region.len())?;
        if now.capacity != self.info.capacity {
            return Err(SegmentError::Corrupted(
                "directory capacity changed after creation",
            ));
        }
        Ok(())
    }

    /// Looks `key` up. Entries are used in slot order and never freed, so
    /// the first empty slot ends the search. Every entry passed on the way
    /// is validated: a corrupted directory is an error, not a skip.
    fn find(&self, key: &[u8; 48]) -> Result<Found, SegmentError> {
        for index in 0..self.info.capacity {
            let Some(entry) = header::check_entry(&self.entry(index).fields(), &self.info)? else {
                return Ok(Found::Missing { free: Some(index) });
            };
            if entry.raw_name() == key {
                return Ok(match entry.state {
                    EntryState::Ready => Found::Ready(entry),
                    EntryState::Initialising => Found::Initialising(index, entry),
                });
            }
        }
        Ok(Found::Missing { free: None })
    }

    /// Takes the directory lock, waiting at most this handle's bound. A
    /// previous holder that died cannot have left the directory
    /// inconsistent (see the module docs), so the lock is marked consistent
    /// at once.
    fn lock_directory(&self) -> Result<DirectoryGuard<'_>, SegmentError> {
        let lock = &self.header().lock;
        if lock.is_held_by_current_thread() {
            return Err(SegmentError::Reentrant);
        }
        let Some(locked) = lock.try_lock_until(Deadline::after(self.lock_timeout)) else {
            return Err(SegmentError::DirectoryBusy {
                holder: lock.holder_tid(),
                waited: self.lock_timeout,
            });
        };
        if locked.owner_died() {
            // This thread holds the lock, so this cannot fail.
            let _ = lock.mark_consistent();
        }
        Ok(DirectoryGuard {
            lock,
            hold: locked.hold,
        })
    }

    /// Reserves space for an object of `layout` and fills slot `index` in
    /// as INITIALISING. The caller holds the directory lock.
    fn reserve(
        &self,
        index: u32,
        key: &[u8; 48],
        layout: ObjectLayout,
    ) -> Result<usize, SegmentError> {
        let header = self.header();
        // Relaxed unless noted: the directory and cursor change only under
        // the directory lock, whose release publishes them to the next
        // holder; lock-free lookups read through `state`.
        let cursor = header::check_cursor(
            header.cursor.load(Ordering::Relaxed),
            self.info.heap_offset,
            self.info.size,
        )?;
        let len = self.info.size as u64;
        let (align, size) = (layout.align as u64, layout.size as u64);
        let offset = header::align_up(cursor as u64, align);
        let end = offset.and_then(|offset| offset.checked_add(size));
        let (offset, end) = match (offset, end) {
            (Some(offset), Some(end)) if end <= len => (offset, end),
            _ => {
                let padding = offset.map_or(align - 1, |offset| offset - cursor as u64);
                return Err(SegmentError::OutOfSpace {
                    needed: padding.saturating_add(size),
                    available: len - cursor as u64,
                });
            }
        };
        let entry = self.entry(index);
        for (cell, &byte) in entry.name.iter().zip(key) {
            cell.store(byte, Ordering::Relaxed);
        }
        entry.reserved.store(0, Ordering::Relaxed);
        entry.type_tag.store(layout.tag, Ordering::Relaxed);
        entry.offset.store(offset, Ordering::Relaxed);
        entry.size.store(size, Ordering::Relaxed);
        // Cursor before state: a death in between leaks space, never
        // leaves an entry the cursor does not cover.
        header.cursor.store(end, Ordering::Relaxed);
        // Release: pairs with the Acquire load of `state` in `Entry::fields`
        // by lock-free lookups, which then see this entry's name and fields
        // (not the zeros before them) and go on to wait for the lock.
        entry.state.store(INITIALISING, Ordering::Release);
        Ok(offset as usize)
    }

    /// Moves the cursor past an abandoned entry if it is not already (it
    /// always is, unless a peer moved it back). Under the directory lock.
    fn cover_with_cursor(&self, entry: &EntryInfo) {
        let end = (entry.offset + entry.size) as u64;
        // Relaxed: under the directory lock, as in `reserve`.
        let cursor = &self.header().cursor;
        if cursor.load(Ordering::Relaxed) < end {
            cursor.store(end, Ordering::Relaxed);
        }
    }
}

/// What a directory entry must say for an object of one type: its type
/// tag, size and alignment.
#[derive(Clone, Copy, Debug)]
struct ObjectLayout {
    tag: u64,
    size: usize,
    align: usize,
    type_name: &'static str,
}

impl ObjectLayout {
    /// A `T`.
    fn of<T: ShmSafe>() -> ObjectLayout {
        const {
            assert!(
                align_of::<T>() <= 4096,
                "ShmSafe types must not need more than page alignment"
            )
        };
        ObjectLayout {
            tag: header::type_tag::<T>(),
            size: size_of::<T>(),
            align: align_of::<T>(),
            type_name: core::any::type_name::<T>(),
        }
    }

    /// An `H`, then `tail_len` bytes at `tail_at` aligned to `tail_align`.
    fn with_tail<H: ShmSafe>(
        tail_at: usize,
        tail_len: usize,
        tail_align: usize,
    ) -> Result<ObjectLayout, SegmentError> {
        let head = ObjectLayout::of::<H>();
        if !tail_align.is_power_of_two() || tail_align > 4096 {
            return Err(SegmentError::Corrupted(
                "buffer alignment must be a power of two of at most 4096",
            ));
        }
        let size = tail_at
            .checked_add(tail_len)
            .filter(|&size| size <= isize::MAX as usize)
            .ok_or(SegmentError::OutOfSpace {
                needed: u64::MAX,
                available: 0,
            })?;
        Ok(ObjectLayout {
            tag: header::tail_tag(head.tag, tail_len, tail_align),
            size,
            align: head.align.max(tail_align),
            type_name: head.type_name,
        })
    }

    /// The offset of the object `entry` describes, if it has this layout.
    fn check(&self, name: &str, entry: &EntryInfo) -> Result<usize, SegmentError> {
        if entry.type_tag != self.tag || entry.size != self.size {
            return Err(SegmentError::TypeMismatch {
                name: name.into(),
                requested: self.type_name,
            });
        }
        if entry.offset % self.align != 0 {
            return Err(SegmentError::Corrupted(
                "directory entry misaligned for its type",
            ));
        }
        Ok(entry.offset)
    }
}

#[cfg(test)]
mod tests {
    use crate::shm::{Segment, SegmentError, SharedTail};
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn an_object_with_a_tail_is_found_again_with_the_same_tail_only() {
        let seg = Segment::anonymous(Segment::MIN_SIZE + 8192).unwrap();
        let made = seg
            .get_or_init_with_tail("ring", 1000, 64, || AtomicU32::new(7))
            .unwrap();
        assert_eq!(made.tail_len(), 1000);
        assert_eq!(made.tail().as_ptr() as usize % 64, 0);
        // SAFETY: the buffer is 1000 bytes inside the mapping.
        unsafe { made.tail().as_ptr().add(999).write(42) };
        let found: SharedTail<AtomicU32> = seg.get_with_tail("ring", 1000, 64).unwrap();
        assert_eq!(found.head().load(Ordering::Relaxed), 7);
        // SAFETY: as above.
        assert_eq!(unsafe { found.tail().as_ptr().add(999).read() }, 42);
        let again = seg
            .get_or_init_with_tail("ring", 1000, 64, || -> AtomicU32 { unreachable!() })
            .unwrap();
        assert_eq!(again.tail(), made.tail());
        assert!(matches!(
            seg.get_with_tail::<AtomicU32>("ring", 999, 64),
            Err(SegmentError::TypeMismatch { .. })
        ));
        assert!(matches!(
            seg.get::<AtomicU32>("ring"),
            Err(SegmentError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn a_fresh_tail_is_zeroed_and_its_own_mapping_when_not_in_a_segment() {
        let own = SharedTail::new(AtomicU32::new(1), 4096 * 3 + 5, 128).unwrap();
        assert_eq!(own.tail().as_ptr() as usize % 128, 0);
        // SAFETY: the buffer is tail_len bytes inside the mapping.
        let bytes = unsafe { std::slice::from_raw_parts(own.tail().as_ptr(), own.tail_len()) };
        assert!(bytes.iter().all(|&b| b == 0));
        assert!(SharedTail::new(AtomicU32::new(1), 10, 3).is_err());
        assert!(SharedTail::new(AtomicU32::new(1), usize::MAX, 8).is_err());
    }
}
