//! The `extern "C"` entry points. Each one checks its pointers, runs inside the panic barrier
//! and hands the work to the handle (`handle.rs`).

use std::ffi::{c_char, c_int, c_long, c_void};
use std::ptr;

use kcp_core::{FlushMode, Nodelay};

use super::handle::{self, window, IKCPCB, WND_RCV};
use super::{
    ikcpcb, IINT32, IKCP_ERR_INTERNAL, IKCP_ERR_INVALID, IKCP_ERR_NULL, IKCP_OVERHEAD, IUINT32,
};
use crate::guard::guard;

/// Runs `body` on the handle behind `kcp` inside the panic barrier. A null handle, or one that
/// was released from a callback or poisoned, gets `fail(code)` without running `body`; a panic
/// poisons the handle and gets `fail(IKCP_ERR_INTERNAL)`.
///
/// # Safety
///
/// `kcp` must be null or a handle from `ikcp_create` not yet released, with no reference to
/// it alive; `body` decides how it borrows it.
unsafe fn entry<T>(
    kcp: *mut IKCPCB,
    fail: impl Fn(c_int) -> T,
    body: impl FnOnce(*mut IKCPCB) -> T,
) -> T {
    if kcp.is_null() {
        return fail(IKCP_ERR_NULL);
    }
    // SAFETY: forwarded from the caller.
    if let Some(code) = unsafe { handle::refusal(kcp) } {
        return fail(code);
    }
    match guard(None, || Some(body(kcp))) {
        Some(value) => value,
        None => {
            // SAFETY: the handle is still allocated (only `drain` frees it, and not before it
            // is done with it), and the panic unwound every borrow of it.
            unsafe { (*kcp).poisoned = true };
            fail(IKCP_ERR_INTERNAL)
        }
    }
}

/// [`entry`] for a body that only needs a mutable reference (and calls no C callback).
///
/// # Safety
///
/// As [`entry`].
unsafe fn with_mut<T>(
    kcp: *mut IKCPCB,
    fail: impl Fn(c_int) -> T,
    body: impl FnOnce(&mut IKCPCB) -> T,
) -> T {
    // SAFETY: forwarded; the reference lives only while `body` runs, and `body` calls no C
    // code that could reach the handle.
    unsafe { entry(kcp, fail, |kcp| body(&mut *kcp)) }
}

/// [`entry`] for a body that only reads.
///
/// # Safety
///
/// As [`entry`].
unsafe fn with_ref<T>(
    kcp: *const IKCPCB,
    fail: impl Fn(c_int) -> T,
    body: impl FnOnce(&IKCPCB) -> T,
) -> T {
    // SAFETY: forwarded; the handle is only read through the shared reference (the cast lets
    // `entry` poison it after a panic, when no reference is alive).
    unsafe { entry(kcp.cast_mut(), fail, |kcp| body(&*kcp)) }
}

/// Identity for functions whose errors are their return value.
fn code(code: c_int) -> c_int {
    code
}

/// For functions that return nothing: errors are dropped.
fn nothing(_: c_int) {}

// ----- the reference API ----------------------------------------------------------------------

/// Creates the control block of conversation `conv`. `user` is passed to the callbacks as it
/// is. Both peers of a conversation must use the same `conv`.
///
/// The new handle has the reference's defaults: mtu 1400, send window 32, receive window 128,
/// interval 100 ms, no nodelay, no fast resend, congestion control on, message mode.
///
/// Returns NULL if memory runs out (or on an internal error). Free the handle with
/// `ikcp_release`.
#[no_mangle]
pub extern "C" fn ikcp_create(conv: IUINT32, user: *mut c_void) -> *mut ikcpcb {
    guard(ptr::null_mut(), || {
        IKCPCB::new(conv, user).map_or(ptr::null_mut(), |h| Box::into_raw(Box::new(h)))
    })
}

/// Frees a control block and everything queued in it. NULL is ignored.
///
/// Called from the handle's own output or log callback, the release is deferred until the
/// outermost `ikcp_update`/`ikcp_flush`/... on it returns; meanwhile nothing more is output and
/// other calls on it fail with `IKCP_ERR_RELEASED`.
///
/// # Safety
///
/// `kcp` must be NULL or a handle from `ikcp_create` that was not released before (releasing
/// twice is undefined behaviour, as in the reference).
#[no_mangle]
pub unsafe extern "C" fn ikcp_release(kcp: *mut ikcpcb) {
    if kcp.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: the caller passes a live handle; the borrow ends before it is freed.
        let h = unsafe { &mut *kcp };
        if h.depth > 0 {
            h.released = true;
        } else if !h.released {
            // SAFETY: from `Box::into_raw` in `ikcp_create`; no callback of it is running, so
            // nothing else refers to it.
            drop(unsafe { Box::from_raw(kcp) });
        }
    })
}

/// Sets the callback that puts a datagram on the network. `ikcp_update` and `ikcp_flush`
/// call it once per datagram, with `buf` valid for `len` bytes during the call only; its
/// return value is ignored. NULL unsets it: datagrams produced without a callback are dropped
/// (the peer sees them as lost).
///
/// # Safety
///
/// `kcp` must be NULL or a live handle; `output`, if not NULL, a function with this signature.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setoutput(
    kcp: *mut ikcpcb,
    output: Option<
        unsafe extern "C" fn(
            buf: *const c_char,
            len: c_int,
            kcp: *mut ikcpcb,
            user: *mut c_void,
        ) -> c_int,
    >,
) {
    // SAFETY: forwarded from the caller.
    unsafe { with_mut(kcp, nothing, |h| h.output = output) }
}

/// Reads the next message (stream mode: the next bytes) into `buffer`, of `len` bytes.
///
/// Returns the size read, or:
/// * -1: nothing to read (no complete message yet);
/// * -3: the next message is larger than `len` bytes (it stays queued: `ikcp_peeksize` says
///   how large it is); in stream mode, `len` is 0 and data is ready;
/// * `IKCP_ERR_NULL`: `kcp` is NULL.
///
/// A negative `len` peeks: `-len` is the buffer size, the data is copied but stays queued.
/// A NULL `buffer` drops the message unread (the reference's behaviour), returning its size.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle; `buffer` NULL or valid for writes of `|len|` bytes.
#[no_mangle]
pub unsafe extern "C" fn ikcp_recv(kcp: *mut ikcpcb, buffer: *mut c_char, len: c_int) -> c_int {
    let peek = len < 0;
    let cap = len.unsigned_abs() as usize;
    let out = (!buffer.is_null()).then_some(buffer.cast::<u8>());
    // SAFETY: forwarded from the caller, who guarantees `buffer` is valid for `cap` bytes.
    unsafe {
        with_mut(kcp, code, |h| {
            if h.core.config().stream {
                h.recv_stream(out, cap, peek)
            } else {
                h.recv_message(out, cap, peek)
            }
        })
    }
}

/// Queues `len` bytes of `buffer` for the peer: one message in message mode (cut into
/// fragments of at most mss bytes; `len` 0 sends an empty message), bytes of the stream in
/// stream mode. Nothing leaves before the next `ikcp_update` or `ikcp_flush`.
///
/// Returns the number of bytes queued, or:
/// * -1: `len` is negative;
/// * -2: the message would need more than 127 fragments (more than `127 * mss` bytes);
/// * `IKCP_ERR_QUEUE_FULL`: the send queue is full (nothing queued; in stream mode, a
///   partly queued write returns the bytes taken instead);
/// * `IKCP_ERR_NULL`: `kcp` is NULL, or `buffer` is NULL with `len` > 0.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle; `buffer` NULL or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ikcp_send(kcp: *mut ikcpcb, buffer: *const c_char, len: c_int) -> c_int {
    // SAFETY: forwarded from the caller, who guarantees `buffer` is valid for `len` bytes.
    unsafe {
        with_mut(kcp, code, |h| {
            if len < 0 {
                return -1;
            }
            if len == 0 {
                return h.send(&[]);
            }
            if buffer.is_null() {
                return IKCP_ERR_NULL;
            }
            h.send(std::slice::from_raw_parts(
                buffer.cast::<u8>(),
                len as usize,
            ))
        })
    }
}

/// Tells the control block the time, `current` in milliseconds (any origin; wraps). When the
/// next flush tick has come (every interval), flushes: acknowledgements, window probes,
/// retransmissions and new data go to the output callback, inside this call. Call it every 10
/// to 100 ms, or at the time `ikcp_check` names.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_update(kcp: *mut ikcpcb, current: IUINT32) {
    // SAFETY: forwarded; the borrow ends before `drain`, which calls the output callback.
    unsafe {
        entry(kcp, nothing, |kcp| {
            {
                let h = &mut *kcp;
                h.current = current;
                h.updated = true;
                h.core.handle_timeout(current);
            }
            handle::drain(kcp);
        })
    }
}

/// When to call `ikcp_update` next, as a time on the caller's clock: `current` if it has
/// work now, otherwise at most one interval later. Before the first `ikcp_update`, returns
/// `current`. Call `ikcp_update` at that time, or earlier after `ikcp_input` or `ikcp_send`.
///
/// The reference may answer earlier than the flush tick (a segment's resend time), though
/// `ikcp_update` does nothing before the tick; this one answers the tick.
///
/// Returns `current` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_check(kcp: *const ikcpcb, current: IUINT32) -> IUINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { with_ref(kcp, |_| current, |h| h.check(current)) }
}

/// Feeds one datagram received from the peer (`size` bytes at `data`). Acknowledgements,
/// data and window updates in it apply at once; replies leave on the next `ikcp_update` or
/// `ikcp_flush`.
///
/// Returns 0, or:
/// * -1: `data` is NULL, `size` is smaller than a segment header (24 bytes), or the datagram
///   belongs to another conversation;
/// * -2: a segment's length runs past the end of the datagram;
/// * -3: a segment has an unknown command;
/// * `IKCP_ERR_NULL`: `kcp` is NULL.
///
/// Unlike the reference, a datagram with a bad segment is rejected whole, before any of its
/// segments applies.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle; `data` NULL or valid for reads of `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ikcp_input(kcp: *mut ikcpcb, data: *const c_char, size: c_long) -> c_int {
    // SAFETY: forwarded; the log callback runs with no borrow alive, and `data` is valid for
    // `size` bytes by the caller's guarantee.
    unsafe {
        entry(kcp, code, |kcp| {
            if !handle::log(kcp, super::IKCP_LOG_INPUT, || format!("[RI] {size} bytes")) {
                return super::IKCP_ERR_RELEASED;
            }
            if data.is_null() || size < c_long::from(IKCP_OVERHEAD) {
                return -1;
            }
            let Ok(size) = usize::try_from(size) else {
                return -2;
            };
            (*kcp).input(std::slice::from_raw_parts(data.cast::<u8>(), size))
        })
    }
}

/// Flushes now, without waiting for the tick: pending acknowledgements, window probes, due
/// retransmissions and new data go to the output callback, inside this call. Does nothing
/// before the first `ikcp_update` (as in the reference).
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_flush(kcp: *mut ikcpcb) {
    // SAFETY: forwarded; the borrow ends before `drain`, which calls the output callback.
    unsafe {
        entry(kcp, nothing, |kcp| {
            {
                let h = &mut *kcp;
                if !h.updated {
                    return;
                }
                h.core.flush();
            }
            handle::drain(kcp);
        })
    }
}

/// Size of the next message `ikcp_recv` would return (stream mode: every byte ready), or -1
/// if nothing is ready; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_peeksize(kcp: *const ikcpcb) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with_ref(kcp, code, |h| h.peek_size()) }
}

/// Sets the MTU: the largest datagram this side sends, header included (default 1400).
/// Messages queued and not yet cut keep their bytes and are cut again for the new size.
///
/// Returns 0, or -1 if `mtu` is below 50 or above 65507; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setmtu(kcp: *mut ikcpcb, mtu: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| match u32::try_from(mtu) {
            Ok(mtu) if h.core.set_mtu(mtu).is_ok() => 0,
            _ => -1,
        })
    }
}

/// Sets the send window and the receive window, in segments. A value of 0 or less keeps the
/// current one; the receive window is at least 128 (the most fragments of one message) and
/// both are at most 65535.
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_wndsize(kcp: *mut ikcpcb, sndwnd: c_int, rcvwnd: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            let mut result = Ok(());
            if sndwnd > 0 {
                result = result.and(h.core.set_send_window(window(sndwnd, 1)));
            }
            if rcvwnd > 0 {
                result = result.and(h.core.set_recv_window(window(rcvwnd, WND_RCV)));
            }
            result.map_or(IKCP_ERR_INVALID, |()| 0)
        })
    }
}

/// Segments waiting to be sent or acknowledged (queued plus in flight); `IKCP_ERR_NULL` if
/// `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_waitsnd(kcp: *const ikcpcb) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_ref(kcp, code, |h| {
            c_int::try_from(h.core.wait_send()).unwrap_or(c_int::MAX)
        })
    }
}

/// Tunes the protocol; a negative argument keeps the current value.
///
/// * `nodelay`: 0 (default) adds RTO/8 before a first retransmission and doubles the RTO per
///   timeout, minimum RTO 100 ms; 1 does neither (RTO grows by half), minimum RTO 30 ms; 2 or
///   more grows the RTO by half the smoothed RTO per timeout, minimum RTO 30 ms.
/// * `interval`: the flush tick in ms, clamped to 10..=5000 (default 100).
/// * `resend`: fast retransmission after this many later segments were acknowledged; 0 (the
///   default) turns it off.
/// * `nc`: 1 turns congestion control off, 0 on (default).
///
/// "Fastest": `ikcp_nodelay(kcp, 1, 20, 2, 1)`.
///
/// May be called at any time, as in the reference: new values apply from the next flush and
/// the next RTT sample; segments in flight keep their timers.
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_nodelay(
    kcp: *mut ikcpcb,
    nodelay: c_int,
    interval: c_int,
    resend: c_int,
    nc: c_int,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            h.tune(|c| {
                if let Ok(level) = u32::try_from(nodelay) {
                    c.nodelay = Nodelay::from_level(level);
                    c.min_rto = if level == 0 { 100 } else { 30 };
                }
                if interval >= 0 {
                    c.interval = interval.clamp(10, 5000) as u32;
                }
                if let Ok(resend) = u32::try_from(resend) {
                    c.fast_resend = resend;
                }
                if nc >= 0 {
                    c.congestion_control = nc == 0;
                }
            })
        })
    }
}

/// Sets the flush tick in milliseconds, clamped to 10..=5000 (as `ikcp_nodelay`'s
/// `interval`).
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_interval(kcp: *mut ikcpcb, interval: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            h.tune(|c| c.interval = interval.clamp(10, 5000) as u32)
        })
    }
}

/// The reference's log entry point, declared `void ikcp_log(ikcpcb *kcp, int mask, const char
/// *fmt, ...)` in the header: if `mask` is enabled (see `ikcp_setlog`), passes `fmt` to the
/// log callback as it is. Format arguments are not applied (stable Rust cannot define
/// C-variadic functions; the extra arguments are ignored). NULL `kcp` or `fmt` is ignored.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle; `fmt` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ikcp_log(kcp: *mut ikcpcb, mask: c_int, fmt: *const c_char) {
    if fmt.is_null() {
        return;
    }
    // SAFETY: forwarded; the borrow ends before the callback, which gets `fmt` unchanged.
    unsafe {
        entry(kcp, nothing, |kcp| {
            let (writelog, user) = {
                let h = &*kcp;
                match h.writelog {
                    Some(f) if mask & h.logmask != 0 => (f, h.user),
                    _ => return,
                }
            };
            handle::callback(kcp, || writelog(fmt, kcp, user));
        })
    }
}

/// Accepted for compatibility and ignored: the library allocates with Rust's global allocator
/// (the system `malloc`), whatever is passed here.
#[no_mangle]
pub extern "C" fn ikcp_allocator(
    new_malloc: Option<unsafe extern "C" fn(size: usize) -> *mut c_void>,
    new_free: Option<unsafe extern "C" fn(ptr: *mut c_void)>,
) {
    let _ = (new_malloc, new_free);
}

/// The conversation id of a raw datagram: its first 4 bytes, little-endian. Use it to find
/// the control block a received datagram belongs to. Returns 0 if `ptr` is NULL.
///
/// # Safety
///
/// `ptr` must be NULL or valid for reads of 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getconv(ptr: *const c_void) -> IUINT32 {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: the caller guarantees 4 readable bytes; read unaligned, byte by byte.
    let bytes = unsafe { ptr::read_unaligned(ptr.cast::<[u8; 4]>()) };
    u32::from_le_bytes(bytes)
}

// ----- setters for what C programs assign to fields -------------------------------------------

/// Stream mode on (non-zero) or off (0, the default), the reference's `kcp->stream`: in
/// stream mode data is a byte stream (small writes coalesce into full segments, reads return
/// any number of bytes) instead of messages. Data queued and not yet sent is cut again for
/// the new mode.
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setstream(kcp: *mut ikcpcb, stream: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with_mut(kcp, code, |h| h.tune(|c| c.stream = stream != 0)) }
}

/// Minimum retransmission timeout in ms, the reference's `kcp->rx_minrto` (100 by default, 30
/// after `ikcp_nodelay` with nodelay on; `ikcp_nodelay` resets it). Applies from the next RTT
/// sample.
///
/// Returns 0; `IKCP_ERR_INVALID` outside 1..=60000; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setminrto(kcp: *mut ikcpcb, minrto: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| match u32::try_from(minrto) {
            Ok(ms) if (1..=kcp_core::arq::RTO_MAX).contains(&ms) => h.tune(|c| c.min_rto = ms),
            _ => IKCP_ERR_INVALID,
        })
    }
}

/// Fast retransmission threshold, the reference's `kcp->fastresend` (as `ikcp_nodelay`'s
/// `resend`; 0 turns fast retransmission off).
///
/// Returns 0; `IKCP_ERR_INVALID` if negative; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setfastresend(kcp: *mut ikcpcb, resend: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| match u32::try_from(resend) {
            Ok(resend) => h.tune(|c| c.fast_resend = resend),
            Err(_) => IKCP_ERR_INVALID,
        })
    }
}

/// Most transmissions after which a segment is no longer fast-retransmitted, the reference's
/// `kcp->fastlimit` (default 5; 0 or less: no limit).
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setfastlimit(kcp: *mut ikcpcb, limit: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            h.tune(|c| c.fast_resend_limit = limit.max(0) as u32)
        })
    }
}

/// Transmissions of one segment after which the link counts as dead (`ikcp_getstate` then
/// returns `(IUINT32)-1`), the reference's `kcp->dead_link` (default 20). The control block
/// keeps retrying; the caller decides when to give up.
///
/// Returns 0; `IKCP_ERR_INVALID` if below 1; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setdeadlink(kcp: *mut ikcpcb, dead_link: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| match u32::try_from(dead_link) {
            Ok(n) if n >= 1 => h.tune(|c| c.dead_link = n),
            _ => IKCP_ERR_INVALID,
        })
    }
}

/// Sets the log callback and the mask of events it receives (`IKCP_LOG_*` bits), the
/// reference's `kcp->writelog` and `kcp->logmask`. NULL `writelog` turns logging off. May be
/// called at any time.
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle; `writelog`, if not NULL, a function with this
/// signature.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setlog(
    kcp: *mut ikcpcb,
    logmask: c_int,
    writelog: Option<unsafe extern "C" fn(log: *const c_char, kcp: *mut ikcpcb, user: *mut c_void)>,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            h.logmask = logmask;
            h.writelog = writelog;
            0
        })
    }
}

/// Sets the `user` pointer passed to the callbacks, the reference's `kcp->user`. May be
/// called at any time.
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setuser(kcp: *mut ikcpcb, user: *mut c_void) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            h.user = user;
            0
        })
    }
}

/// Most segments the send queue holds before `ikcp_send` refuses data with
/// `IKCP_ERR_QUEUE_FULL` (default 8192; the reference has no limit).
///
/// Returns 0; `IKCP_ERR_INVALID` if below 1; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_setsendqueue(kcp: *mut ikcpcb, segments: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| match u32::try_from(segments) {
            Ok(n) if n >= 1 => h.tune(|c| c.send_queue_limit = n),
            _ => IKCP_ERR_INVALID,
        })
    }
}

/// Eager flushing on (non-zero) or off (0, the default; an extension of this library). Off,
/// datagrams leave exactly as in the reference: on the flush tick. On, new data, fast
/// retransmissions and timeouts leave at the next `ikcp_update` or `ikcp_flush` as soon as
/// they are ready, without waiting for the tick; acknowledgements wait at most one interval
/// for a datagram to ride on; a datagram with room to spare also carries segments overdue for
/// an acknowledgement. Call `ikcp_update` right after `ikcp_send` and `ikcp_input` (or when
/// `ikcp_check` says) to get the benefit. Same wire format; any peer works.
///
/// Returns 0; `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_seteager(kcp: *mut ikcpcb, eager: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(kcp, code, |h| {
            h.tune(|c| {
                c.flush = if eager != 0 {
                    FlushMode::Eager
                } else {
                    FlushMode::Interval
                };
                c.resend_in_spare_room = eager != 0;
            })
        })
    }
}

// ----- getters for what C programs read from fields -------------------------------------------

/// The conversation id of the control block (the reference's `kcp->conv`); 0 if `kcp` is
/// NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_conv(kcp: *const ikcpcb) -> IUINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { with_ref(kcp, |_| 0, |h| h.conv) }
}

/// The `user` pointer (the reference's `kcp->user`); NULL if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getuser(kcp: *const ikcpcb) -> *mut c_void {
    // SAFETY: forwarded from the caller.
    unsafe { with_ref(kcp, |_| ptr::null_mut(), |h| h.user) }
}

/// The reference's `kcp->state`: 0 while the link is alive, `(IUINT32)-1` once a segment was
/// transmitted `dead_link` times (see `ikcp_setdeadlink`). `(IUINT32)-1` too if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getstate(kcp: *const ikcpcb) -> IUINT32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_ref(
            kcp,
            |_| u32::MAX,
            |h| if h.core.is_dead() { u32::MAX } else { 0 },
        )
    }
}

/// Reads one number from a live handle for the getters below.
///
/// # Safety
///
/// As [`entry`].
unsafe fn get(kcp: *const ikcpcb, field: impl FnOnce(&IKCPCB) -> u32) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_ref(kcp, code, |h| {
            IINT32::try_from(field(h)).unwrap_or(IINT32::MAX)
        })
    }
}

/// Smoothed round-trip time in ms (the reference's `kcp->rx_srtt`; 0 before the first
/// sample); `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getsrtt(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.srtt()) }
}

/// Round-trip time variation in ms (the reference's `kcp->rx_rttval`); `IKCP_ERR_NULL` if
/// `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getrttval(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.rttvar()) }
}

/// Current retransmission timeout in ms (the reference's `kcp->rx_rto`); `IKCP_ERR_NULL` if
/// `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getrto(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.rto()) }
}

/// Minimum retransmission timeout in ms (the reference's `kcp->rx_minrto`); `IKCP_ERR_NULL`
/// if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getminrto(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.config().min_rto) }
}

/// The MTU in bytes (the reference's `kcp->mtu`); `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getmtu(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.config().mtu) }
}

/// Payload bytes per segment, MTU minus the 24-byte header (the reference's `kcp->mss`);
/// `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getmss(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.mss()) }
}

/// The flush tick in ms (the reference's `kcp->interval`); `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getinterval(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.config().interval) }
}

/// The send window in segments (the reference's `kcp->snd_wnd`); `IKCP_ERR_NULL` if `kcp` is
/// NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getsndwnd(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| u32::from(h.core.config().send_window)) }
}

/// The receive window in segments (the reference's `kcp->rcv_wnd`); `IKCP_ERR_NULL` if `kcp`
/// is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getrcvwnd(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| u32::from(h.core.config().recv_window)) }
}

/// The peer's last advertised receive window in segments (the reference's `kcp->rmt_wnd`);
/// `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getrmtwnd(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.remote_window()) }
}

/// The congestion window in segments (the reference's `kcp->cwnd`; meaningful while
/// congestion control is on); `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getcwnd(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.congestion_window()) }
}

/// Segments sent and not yet acknowledged (the reference's `kcp->nsnd_buf`, the in-flight
/// part of `ikcp_waitsnd`); `IKCP_ERR_NULL` if `kcp` is NULL.
///
/// # Safety
///
/// `kcp` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ikcp_getnsndbuf(kcp: *const ikcpcb) -> IINT32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(kcp, |h| h.core.in_flight()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_poisons_the_handle_and_release_still_frees_it() {
        let kcp = ikcp_create(1, ptr::null_mut());
        assert!(!kcp.is_null());
        // SAFETY: a live handle from `ikcp_create`, released once at the end.
        unsafe {
            let result = with_mut(kcp, code, |_| -> c_int { panic!("a bug") });
            assert_eq!(result, IKCP_ERR_INTERNAL);
            assert_eq!(ikcp_send(kcp, b"x".as_ptr().cast(), 1), IKCP_ERR_INTERNAL);
            assert_eq!(ikcp_waitsnd(kcp), IKCP_ERR_INTERNAL);
            assert_eq!(ikcp_check(kcp, 77), 77);
            ikcp_update(kcp, 0);
            ikcp_release(kcp);
        }
    }

    #[test]
    fn getconv_reads_little_endian_at_any_alignment() {
        let bytes = [0u8, 0x44, 0x33, 0x22, 0x11, 0];
        // SAFETY: 4 readable bytes at an odd address.
        assert_eq!(
            unsafe { ikcp_getconv(bytes[1..].as_ptr().cast()) },
            0x1122_3344
        );
    }
}
