//! A `MAP_SHARED` mapping, unmapped when the last handle in this process
//! lets go of it.
//!
//! Two sources: anonymous shared memory (`mmap(MAP_SHARED | MAP_ANONYMOUS)`,
//! which a forked child inherits and nobody else can reach), and a file
//! descriptor (a `shm_open` name or a memfd), mapped through memmap2's
//! `MmapMut::map_mut` — never memmap2's anonymous maps, which are private: a forked child's
//! writes to a private mapping stay in the child.

use std::io;
use std::os::fd::AsFd;
use std::ptr::NonNull;

/// One shared mapping of this process.
#[derive(Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    len: usize,
    owner: Owner,
}

#[derive(Debug)]
enum Owner {
    /// Our own `mmap`; `Drop` unmaps it.
    Anonymous,
    /// A file mapping; memmap2 unmaps it.
    File(#[allow(dead_code)] memmap2::MmapMut),
}

// SAFETY: the region is plain memory; every type placed in it is `Sync`
// (ShmSafe) and handles only give out shared references.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Zero-filled anonymous shared memory of at least `len` bytes (at least
    /// one page), page-aligned.
    pub(crate) fn anonymous(len: usize) -> io::Result<Region> {
        let len = len.max(1);
        // SAFETY: a fresh anonymous mapping at an address the kernel picks
        // aliases no Rust object.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
            )
        }?;
        let base = NonNull::new(base.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Region {
            base,
            len,
            owner: Owner::Anonymous,
        })
    }

    /// Maps all `len` bytes of `fd` shared, read-write.
    pub(crate) fn from_fd(fd: impl AsFd, len: usize) -> io::Result<Region> {
        // SAFETY: memmap2's caveat is that another process may change the
        // file under the mapping. That is the point here: every type placed
        // in a region is ShmSafe (valid for any bytes a peer can store
        // through its API), and handles give out only shared references.
        let mut map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(&fd.as_fd())? };
        let base =
            NonNull::new(map.as_mut_ptr()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Region {
            base,
            len,
            owner: Owner::File(map),
        })
    }

    /// The first byte.
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Owner::Anonymous = self.owner {
            // SAFETY: this mapping came from our mmap and no reference into
            // it outlives the Region (handles hold an Arc to it).
            let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
        }
    }
}
