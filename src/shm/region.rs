//! A `MAP_SHARED` mapping, unmapped when the last handle in this process
//! lets go of it.
//!
//! Two sources: anonymous shared memory (`mmap(MAP_SHARED | MAP_ANONYMOUS)`,
//! which a forked child inherits and nobody else can reach), and a file
//! descriptor (a `shm_open` name or a memfd), mapped through memmap2's
//! `MmapMut::map_mut` — never memmap2's anonymous maps, which are private: a forked child's
//! writes to a private mapping stay in the child.

use super::error::SegmentError;
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
    ///
    /// # Errors
    ///
    /// [`SegmentError::Os`] if `mmap` fails.
    pub(crate) fn anonymous(len: usize) -> Result<Region, SegmentError> {
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
        }
        .map_err(|e| SegmentError::os("mmap", e))?;
        let base = NonNull::new(base.cast::<u8>()).ok_or(null_mapping())?;
        Ok(Region {
            base,
            len,
            owner: Owner::Anonymous,
        })
    }

    /// Maps all `len` bytes of `fd` shared, read-write.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Os`] if `mmap` fails.
    pub(crate) fn from_fd(fd: impl AsFd, len: usize) -> Result<Region, SegmentError> {
        // SAFETY: memmap2's caveat is that another process may change the
        // file under the mapping. That is the point here: every type placed
        // in a region is ShmSafe (valid for any bytes a peer can store
        // through its API), and handles give out only shared references.
        let mut map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(&fd.as_fd()) }
            .map_err(|e| SegmentError::os_io("mmap", &e))?;
        let base = NonNull::new(map.as_mut_ptr()).ok_or(null_mapping())?;
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

/// A mapping the kernel placed at address 0 (possible only where
/// `vm.mmap_min_addr` is 0), which a `NonNull` cannot hold: reported as no
/// room for it.
fn null_mapping() -> SegmentError {
    SegmentError::os("mmap", rustix::io::Errno::NOMEM)
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
