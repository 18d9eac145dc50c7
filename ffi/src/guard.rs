//! The panic barrier every `extern "C"` entry point runs inside.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`, returning `on_panic` if it panics, so that no unwind crosses into C.
///
/// The state a panicking call was touching may be half-updated; callers make sure a handle that
/// saw a panic is not trusted again (or that their updates are panic-free by construction).
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}
