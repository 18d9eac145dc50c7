//! The `ikcp.h`-compatible API: the reference C implementation's functions (skywind3000/kcp),
//! with the same names, argument types, return codes and semantics, over [`kcp_core::Kcp`].
//! Header: `ffi/include/ikcp.h`, generated from this module by cbindgen.
//!
//! A C program written for `ikcp.c` compiles against `ikcp.h` and links against `libkcp`; the
//! only change it may need is where it assigns fields of `ikcpcb` (which is opaque here): each
//! such field has a setter (`ikcp_setstream`, `ikcp_setminrto`, `ikcp_setfastresend`,
//! `ikcp_setdeadlink`, `ikcp_setlog`, ...) and the state it reads has a getter (`ikcp_getstate`,
//! `ikcp_getsrtt`, ...).
//!
//! # Timing
//!
//! The state machine runs in [`FlushMode::Interval`](kcp_core::FlushMode::Interval): given the
//! same calls, it produces the same datagrams at the same moments as the reference code.
//! `ikcp_update` flushes when `current` reaches the next tick and calls the output callback
//! once per datagram, inside the call; `ikcp_flush` does the same at once; `ikcp_check` says
//! when `ikcp_update` has work next. `ikcp_seteager` opts into the eager mode of `kcp-core`
//! (data and retransmissions leave as soon as they are ready, at the next `ikcp_update` or
//! `ikcp_flush`, without waiting for the tick).
//!
//! # Ownership, threads, re-entrancy
//!
//! * `ikcp_create` returns a handle the caller owns; `ikcp_release` frees it. Using a released
//!   handle, or releasing one twice, is undefined behaviour, as in the reference.
//! * A handle is not thread-safe: calls on one handle must not overlap. Different handles are
//!   independent and may be used from different threads.
//! * The output and log callbacks may call back into the library, on any handle, including the
//!   one that is calling them: a call such as `ikcp_input` or `ikcp_send` on the flushing
//!   handle takes effect between two datagrams. `ikcp_release` of the flushing handle from
//!   its own output callback is deferred: no further datagram is output, every later call on
//!   the handle returns [`IKCP_ERR_RELEASED`] (or does nothing), and the memory is freed when
//!   the outermost `ikcp_update`/`ikcp_flush` returns.
//! * No Rust panic crosses into C. A panic inside the library (a bug) makes the call return
//!   [`IKCP_ERR_INTERNAL`] and poisons the handle: every later call on it fails the same way
//!   except `ikcp_release`, which still frees it.
//!
//! # Error codes
//!
//! Where the reference defines a return code, the same code is returned for the same reason.
//! Where it would crash (a null handle, a null buffer) or has no such failure, a documented
//! negative code below -99 is returned instead: [`IKCP_ERR_NULL`], [`IKCP_ERR_INVALID`],
//! [`IKCP_ERR_QUEUE_FULL`], [`IKCP_ERR_RELEASED`], [`IKCP_ERR_INTERNAL`].
//!
//! # Differences from `ikcp.c`
//!
//! * **Configuration at any time.** As in the reference, `ikcp_nodelay`, `ikcp_interval`,
//!   `ikcp_setmtu`, `ikcp_wndsize` and the setters of this API work at any time: new values
//!   apply from the next flush and the next RTT sample, and segments in flight keep their
//!   timers. Unlike the reference, data queued and not yet sent is cut again after a change
//!   of MTU or stream mode.
//! * **Bounded send queue.** `ikcp_send` refuses data beyond 8192 queued segments with
//!   [`IKCP_ERR_QUEUE_FULL`] (the reference queue is unbounded); `ikcp_setsendqueue` changes
//!   the limit.
//! * **Whole-datagram validation.** `ikcp_input` checks every segment header of a datagram
//!   before it applies any; a bad one rejects the whole datagram with the reference's code,
//!   where the reference would already have applied the segments before it. Segments that
//!   decode but make no sense (acknowledging data never sent, larger than
//!   `max(mtu, 1500) - 24` bytes, ...) are dropped one by one.
//! * **Peeking.** `ikcp_recv` with a negative length moves the message out of the receive
//!   queue into a holding area of the handle (the next `ikcp_recv` or `ikcp_peeksize` sees it
//!   first), so the receive window advertised to the peer reopens at the peek, not at the
//!   read.
//! * **Incomplete messages.** `ikcp_recv` returns -1 where the reference returns -2 (a message
//!   whose first fragments are ready and the rest are not); both mean "nothing to read yet".
//! * **Stream mode.** `ikcp_recv` returns as many bytes as fit, across segment boundaries (the
//!   reference returns one segment, or -3 if it does not fit); `ikcp_peeksize` counts every
//!   byte ready; `ikcp_send` accepts any length the send queue has room for (the reference
//!   refuses more than 127 segments in one call with -2).
//! * **Limits.** `ikcp_setmtu` also refuses more than 65507 bytes; `ikcp_wndsize` caps windows
//!   at 65535 segments; `ikcp_check` never answers earlier than the next flush tick (the
//!   reference may name a segment's resend time, but nothing happens before the tick).
//! * **Allocator and log.** `ikcp_allocator` is accepted and ignored: memory comes from Rust's
//!   global allocator (the system `malloc`). `ikcp_log` passes `fmt` to the log callback as it
//!   is, without applying the arguments (stable Rust cannot define C-variadic functions); the
//!   library itself logs only [`IKCP_LOG_OUTPUT`] and [`IKCP_LOG_INPUT`] events.

use std::ffi::{c_char, c_int, c_longlong, c_short, c_uchar, c_uint, c_ulonglong, c_ushort};

mod api;
mod handle;

pub use api::*;
pub use handle::IKCPCB;

/// The reference's signed 8-bit integer (`char`).
pub type IINT8 = c_char;
/// The reference's unsigned 8-bit integer.
pub type IUINT8 = c_uchar;
/// The reference's signed 16-bit integer.
pub type IINT16 = c_short;
/// The reference's unsigned 16-bit integer.
pub type IUINT16 = c_ushort;
/// The reference's signed 32-bit integer.
pub type IINT32 = i32;
/// The reference's unsigned 32-bit integer: conversation ids and millisecond clocks.
pub type IUINT32 = u32;
/// The reference's signed 64-bit integer.
pub type IINT64 = c_longlong;
/// The reference's unsigned 64-bit integer.
pub type IUINT64 = c_ulonglong;
/// The reference's 32-bit integer types for `IINT32` and `IUINT32` on this platform.
pub type ISTDINT32 = c_int;
/// The reference's unsigned 32-bit integer type on this platform.
pub type ISTDUINT32 = c_uint;

/// The control block of one KCP conversation, as the reference names it. Opaque: use the
/// setters and getters of this API instead of its fields.
#[allow(non_camel_case_types)]
pub type ikcpcb = IKCPCB;

/// Log mask bit: every datagram handed to the output callback (`"[RO] <n> bytes"`).
pub const IKCP_LOG_OUTPUT: c_int = 1;
/// Log mask bit: every datagram handed to `ikcp_input` (`"[RI] <n> bytes"`).
pub const IKCP_LOG_INPUT: c_int = 2;
/// Log mask bit of the reference (sends); accepted, never logged by this library.
pub const IKCP_LOG_SEND: c_int = 4;
/// Log mask bit of the reference (receives); accepted, never logged by this library.
pub const IKCP_LOG_RECV: c_int = 8;
/// Log mask bit of the reference (data segments in); accepted, never logged by this library.
pub const IKCP_LOG_IN_DATA: c_int = 16;
/// Log mask bit of the reference (acknowledgements in); accepted, never logged by this library.
pub const IKCP_LOG_IN_ACK: c_int = 32;
/// Log mask bit of the reference (window probes in); accepted, never logged by this library.
pub const IKCP_LOG_IN_PROBE: c_int = 64;
/// Log mask bit of the reference (window tells in); accepted, never logged by this library.
pub const IKCP_LOG_IN_WINS: c_int = 128;
/// Log mask bit of the reference (data segments out); accepted, never logged by this library.
pub const IKCP_LOG_OUT_DATA: c_int = 256;
/// Log mask bit of the reference (acknowledgements out); accepted, never logged by this
/// library.
pub const IKCP_LOG_OUT_ACK: c_int = 512;
/// Log mask bit of the reference (window probes out); accepted, never logged by this library.
pub const IKCP_LOG_OUT_PROBE: c_int = 1024;
/// Log mask bit of the reference (window tells out); accepted, never logged by this library.
pub const IKCP_LOG_OUT_WINS: c_int = 2048;

/// Bytes of a segment header (the reference's `IKCP_OVERHEAD`).
pub const IKCP_OVERHEAD: c_int = 24;

/// Error: a required pointer argument (the handle, or a buffer with a non-zero length) is NULL.
pub const IKCP_ERR_NULL: c_int = -100;
/// Error: an argument is out of range (each function says which values it accepts).
pub const IKCP_ERR_INVALID: c_int = -101;
/// Error: the send queue holds its limit of segments (8192 unless changed with
/// `ikcp_setsendqueue`); nothing was queued. Try again once `ikcp_waitsnd` has fallen.
pub const IKCP_ERR_QUEUE_FULL: c_int = -103;
/// Error: the handle was released from inside its own output or log callback; it is freed
/// when the outermost call returns and must not be used any more.
pub const IKCP_ERR_RELEASED: c_int = -104;
/// Error: an internal error (a bug in the library) was caught at the boundary. The handle is
/// poisoned: every later call on it fails the same way; release it.
pub const IKCP_ERR_INTERNAL: c_int = -105;
