//! Loom models of shmsync's raw primitives live in `tests/`; this crate has
//! no code of its own. Run them with
//! `RUSTFLAGS="--cfg loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 cargo test -p shmsync-loom-tests --release`.
