//! The one place primitive code gets its atomics, cells and spin hints from.
//!
//! Outside `cfg(loom)` these are `core`'s; under `cfg(loom)` they are loom's,
//! so the same primitive source runs unchanged inside `loom::model`. Code in
//! `raw/` and `ring/` imports from here and from `sys`, never from `core::sync`
//! directly.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, Ordering};

/// Declares a constructor that is `const` in normal builds and a plain `fn`
/// under loom, whose atomics cannot be built in const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;
