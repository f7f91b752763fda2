//! The test helpers now live in the `shmsync-testkit` crate; this module
//! only re-exports them, all of them, for the test files that still say
//! `mod common;` (each uses a different few).

pub use shmsync_testkit::*;
