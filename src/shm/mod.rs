//! Where the bytes live: [`Shared`] (one value in its own mapping) and
//! [`Segment`] (a named or memfd segment with a directory of named values),
//! with their one error, [`SegmentError`].
//!
//! Handles hold an `Arc` of the mapping and an offset into it, never a
//! pointer that another process would have to share.

mod error;
mod header;
mod region;
mod segment;
mod shared;

pub use error::SegmentError;
pub use header::{EntryInfo, EntryState, HeaderInfo};
pub(crate) use region::Region;
pub use segment::{Segment, SegmentOptions};
pub(crate) use shared::SharedTail;
pub use shared::{Shared, ShmSafe};
