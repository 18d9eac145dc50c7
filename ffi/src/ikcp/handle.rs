//! The handle behind `ikcpcb *`: a [`Kcp`] plus what the C API adds around it (callbacks, the
//! clock of the last `ikcp_update`, a holding area for peeked data), and the logic of each
//! entry point in safe Rust.
//!
//! The entry points in `api.rs` turn the raw pointer into a reference only for as long as no
//! C callback runs: [`drain`] and [`log`] read what they need through short-lived borrows and
//! call the callbacks with none alive, so a callback may call back into the library on the
//! same handle.

use std::ffi::{c_char, c_int, c_void};

use kcp_core::{Config, FlushMode, InputError, Kcp, RecvError, SendError};

use super::{
    IKCP_ERR_INTERNAL, IKCP_ERR_INVALID, IKCP_ERR_QUEUE_FULL, IKCP_ERR_RELEASED, IKCP_LOG_OUTPUT,
};

/// The output callback: hands one datagram to the network.
pub(crate) type OutputFn = unsafe extern "C" fn(
    buf: *const c_char,
    len: c_int,
    kcp: *mut IKCPCB,
    user: *mut c_void,
) -> c_int;

/// The log callback: receives one NUL-terminated line.
pub(crate) type WriteLogFn =
    unsafe extern "C" fn(log: *const c_char, kcp: *mut IKCPCB, user: *mut c_void);

/// The reference's default receive window, and the floor `ikcp_wndsize` keeps it at.
pub(crate) const WND_RCV: u32 = 128;

/// The control block of one KCP conversation (opaque to C).
///
/// Created by `ikcp_create`, freed by `ikcp_release`. Calls on one handle must not overlap;
/// its callbacks may call back into the library (see the module documentation).
pub struct IKCPCB {
    pub(crate) core: Kcp,
    pub(crate) conv: u32,
    pub(crate) user: *mut c_void,
    pub(crate) output: Option<OutputFn>,
    pub(crate) writelog: Option<WriteLogFn>,
    pub(crate) logmask: c_int,
    /// The clock of the last `ikcp_update` (the reference's `current`).
    pub(crate) current: u32,
    /// Whether `ikcp_update` has been called (the reference's `updated`).
    pub(crate) updated: bool,
    /// Data taken out of the state machine by a peek: one whole message, or (stream mode) the
    /// next bytes of the stream from `held_pos` on.
    pub(crate) held: Option<Vec<u8>>,
    pub(crate) held_pos: usize,
    /// The datagram buffer, taken out while a datagram is with the output callback.
    pub(crate) out: Vec<u8>,
    /// Output or log callbacks of this handle running now (nested calls count each).
    pub(crate) depth: u32,
    /// `ikcp_release` was called from a callback: free when `depth` is back to 0.
    pub(crate) released: bool,
    /// A panic was caught while this handle was in use: its state is not trusted any more.
    pub(crate) poisoned: bool,
}

/// The configuration of a new handle: the reference's defaults and its flush timing.
pub(crate) fn reference_config() -> Config {
    Config {
        flush: FlushMode::Interval,
        resend_in_spare_room: false,
        ..Config::default()
    }
}

/// Converts a byte count to the C `int` the API returns (counts here stay far below 2^31).
fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

impl IKCPCB {
    /// A handle for conversation `conv` with the reference's defaults.
    pub(crate) fn new(conv: u32, user: *mut c_void) -> Option<IKCPCB> {
        let core = Kcp::new(conv, &reference_config()).ok()?;
        Some(IKCPCB {
            core,
            conv,
            user,
            output: None,
            writelog: None,
            logmask: 0,
            current: 0,
            updated: false,
            held: None,
            held_pos: 0,
            out: Vec::new(),
            depth: 0,
            released: false,
            poisoned: false,
        })
    }

    /// Applies a configuration change, at any time: all of it if the result is valid (0),
    /// otherwise none of it (`IKCP_ERR_INVALID`).
    pub(crate) fn tune(&mut self, change: impl FnOnce(&mut Config)) -> c_int {
        match self.core.retune(change) {
            Ok(()) => 0,
            Err(_) => IKCP_ERR_INVALID,
        }
    }

    /// `ikcp_send` after the null checks: `data` is the message (or stream bytes).
    pub(crate) fn send(&mut self, data: &[u8]) -> c_int {
        match self.core.send(data) {
            Ok(n) => count(n),
            Err(SendError::MessageTooLarge { .. }) => -2,
            Err(SendError::QueueFull) => IKCP_ERR_QUEUE_FULL,
        }
    }

    /// Unread bytes in the holding area.
    fn held_len(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.len() - self.held_pos)
    }

    /// `ikcp_peeksize`.
    pub(crate) fn peek_size(&self) -> c_int {
        if self.core.config().stream {
            let ready = self.held_len() + self.core.peek_size().unwrap_or(0);
            return if ready == 0 { -1 } else { count(ready) };
        }
        match &self.held {
            Some(message) => count(message.len()),
            None => self.core.peek_size().map_or(-1, count),
        }
    }

    /// `ikcp_recv` in message mode. `out` is where the message goes (`None`: the caller
    /// passed NULL, and the message is dropped unread, as in the reference); `cap` is the
    /// buffer's size.
    ///
    /// # Safety
    ///
    /// `out`, if given, must be valid for writes of `cap` bytes.
    pub(crate) unsafe fn recv_message(
        &mut self,
        out: Option<*mut u8>,
        cap: usize,
        peek: bool,
    ) -> c_int {
        let size = match &self.held {
            Some(message) => message.len(),
            None => match self.core.peek_size() {
                Some(size) => size,
                None => return -1,
            },
        };
        if size > cap {
            return -3;
        }
        // SAFETY: the caller guarantees `out` is valid for `cap >= size` bytes.
        let dest = out.map(|p| unsafe { std::slice::from_raw_parts_mut(p, size) });
        if self.held.is_none() {
            if !peek {
                // The common case: straight from the state machine into the caller's buffer.
                let result = match dest {
                    Some(dest) => self.core.recv(dest),
                    None => self.core.recv_buffer().map(|message| {
                        let n = message.len();
                        self.core.recycle_buffer(message.into_buffer());
                        n
                    }),
                };
                return match result {
                    Ok(n) => count(n),
                    Err(RecvError::Empty) => -1,
                    Err(RecvError::BufferTooSmall { .. }) => -3,
                };
            }
            match self.core.recv_buffer() {
                Ok(message) => self.held = Some(message.into_vec()),
                Err(_) => return -1,
            }
        }
        if let (Some(dest), Some(message)) = (dest, &self.held) {
            dest.copy_from_slice(message);
        }
        if !peek {
            if let Some(message) = self.held.take() {
                self.core.recycle_buffer(message);
            }
        }
        count(size)
    }

    /// `ikcp_recv` in stream mode; arguments as [`IKCPCB::recv_message`].
    ///
    /// # Safety
    ///
    /// `out`, if given, must be valid for writes of `cap` bytes.
    pub(crate) unsafe fn recv_stream(
        &mut self,
        out: Option<*mut u8>,
        cap: usize,
        peek: bool,
    ) -> c_int {
        let ready = self.held_len() + self.core.peek_size().unwrap_or(0);
        if ready == 0 {
            return -1;
        }
        if cap == 0 {
            return -3;
        }
        let want = ready.min(cap);
        // SAFETY: the caller guarantees `out` is valid for `cap >= want` bytes.
        let dest = out.map(|p| unsafe { std::slice::from_raw_parts_mut(p, want) });
        if peek {
            // Move what the caller asked for into the holding area, then copy it out.
            let missing = want - self.held_len();
            if missing > 0 {
                let held = self.held.get_or_insert_with(Vec::new);
                let start = held.len();
                held.resize(start + missing, 0);
                let got = self.core.recv(&mut held[start..]).unwrap_or(0);
                held.truncate(start + got);
            }
            let n = want.min(self.held_len());
            if let (Some(dest), Some(held)) = (dest, &self.held) {
                dest[..n].copy_from_slice(&held[self.held_pos..self.held_pos + n]);
            }
            return count(n);
        }
        let mut scratch;
        let dest: &mut [u8] = match dest {
            Some(dest) => dest,
            None => {
                scratch = vec![0u8; want];
                &mut scratch
            }
        };
        let mut n = 0;
        if let Some(held) = &self.held {
            n = self.held_len().min(want);
            dest[..n].copy_from_slice(&held[self.held_pos..self.held_pos + n]);
            self.held_pos += n;
            if self.held_pos == held.len() {
                self.held = None;
                self.held_pos = 0;
            }
        }
        if n < want {
            n += self.core.recv(&mut dest[n..]).unwrap_or(0);
        }
        count(n)
    }

    /// `ikcp_input` after the null and length checks.
    pub(crate) fn input(&mut self, datagram: &[u8]) -> c_int {
        match self.core.handle_datagram(self.current, datagram) {
            Ok(()) => 0,
            Err(InputError::WrongConversation { .. }) => -1,
            Err(InputError::Malformed(e)) => match e {
                kcp_core::wire::DecodeError::TruncatedHeader { .. } => -1,
                kcp_core::wire::DecodeError::TruncatedPayload { .. } => -2,
                kcp_core::wire::DecodeError::UnknownCommand(_) => -3,
            },
        }
    }

    /// `ikcp_check`: when `ikcp_update` has work next, at most one interval from `current`.
    pub(crate) fn check(&self, current: u32) -> u32 {
        if !self.updated {
            return current;
        }
        let interval = self.core.config().interval;
        let Some(deadline) = self.core.poll_timeout() else {
            // Eager mode, idle: nothing is due; look again within one interval.
            return current.wrapping_add(interval);
        };
        let wait = deadline.wrapping_sub(current) as i32;
        let resync = self.core.config().flush == FlushMode::Interval && wait > 10_000;
        if wait <= 0 || resync {
            // Due now, or a clock jump that the next update resynchronises (the reference's
            // rule for jumps of more than 10 s).
            current
        } else {
            current.wrapping_add((wait as u32).min(interval))
        }
    }
}

/// Why a live handle cannot be used: released from a callback, or poisoned by a panic.
///
/// # Safety
///
/// `kcp` must point to a live handle, with no mutable reference to it alive.
pub(crate) unsafe fn refusal(kcp: *const IKCPCB) -> Option<c_int> {
    // SAFETY: the caller guarantees a live handle; the borrow ends within this function.
    let h = unsafe { &*kcp };
    if h.released {
        Some(IKCP_ERR_RELEASED)
    } else if h.poisoned {
        Some(IKCP_ERR_INTERNAL)
    } else {
        None
    }
}

/// Runs one C callback of the handle, counted in `depth`, with no borrow of the handle alive.
/// Returns `false` if the callback released the handle: it is then freed here if this was the
/// outermost callback, and must not be touched again either way.
///
/// # Safety
///
/// `kcp` must point to a live handle, with no reference to it alive.
pub(crate) unsafe fn callback(kcp: *mut IKCPCB, call: impl FnOnce()) -> bool {
    // SAFETY: short-lived borrows of a live handle, none alive while `call` runs.
    unsafe { (*kcp).depth += 1 };
    call();
    // SAFETY: a release from inside the callback only marks the handle, so it is still
    // allocated here.
    let h = unsafe { &mut *kcp };
    h.depth -= 1;
    if !h.released {
        return true;
    }
    if h.depth == 0 {
        // SAFETY: the handle came from `Box::into_raw` in `ikcp_create`, and this is the
        // outermost call on it: nothing else refers to it.
        drop(unsafe { Box::from_raw(kcp) });
    }
    false
}

/// Writes one line to the log callback if `mask` is enabled. Returns `false` if the callback
/// released the handle (see [`callback`]).
///
/// # Safety
///
/// `kcp` must point to a live handle, with no reference to it alive.
pub(crate) unsafe fn log(kcp: *mut IKCPCB, mask: c_int, line: impl FnOnce() -> String) -> bool {
    // SAFETY: a live handle; the borrow ends before the callback.
    let (writelog, user) = {
        let h = unsafe { &*kcp };
        match h.writelog {
            Some(f) if mask & h.logmask != 0 => (f, h.user),
            _ => return true,
        }
    };
    let mut text = line().into_bytes();
    text.retain(|&b| b != 0);
    text.push(0);
    // SAFETY: the callback is the caller's function with the signature it registered; `text`
    // is NUL-terminated and outlives the call.
    unsafe { callback(kcp, || writelog(text.as_ptr().cast(), kcp, user)) }
}

/// Hands every datagram the state machine has ready to the output callback, one call each.
/// Returns `false` if a callback released the handle (see [`callback`]).
///
/// # Safety
///
/// `kcp` must point to a live handle, with no reference to it alive.
pub(crate) unsafe fn drain(kcp: *mut IKCPCB) -> bool {
    loop {
        // SAFETY: a live handle, borrowed only until the datagram is taken out.
        let (buf, len) = {
            let h = unsafe { &mut *kcp };
            if h.released || h.poisoned {
                return !h.released;
            }
            let now = h.current;
            let needed = h.core.max_datagram_size();
            let mut buf = std::mem::take(&mut h.out);
            if buf.len() < needed {
                buf.resize(needed, 0);
            }
            match h.core.poll_transmit(now, &mut buf) {
                Some(len) => (buf, len),
                None => {
                    h.out = buf;
                    return true;
                }
            }
        };
        // SAFETY: forwarded from the caller; no borrow is alive.
        if !unsafe { log(kcp, IKCP_LOG_OUTPUT, || format!("[RO] {len} bytes")) } {
            return false;
        }
        // SAFETY: a live handle (the log callback did not release it); short borrow. Read
        // after the log callback, which may have changed them.
        let (output, user) = unsafe { ((*kcp).output, (*kcp).user) };
        if let Some(output) = output {
            // SAFETY: the callback is the caller's function with the signature it registered;
            // `buf` is our own allocation, valid for `len` bytes and out of the handle's reach
            // while the callback runs.
            let alive = unsafe {
                callback(kcp, || {
                    output(buf.as_ptr().cast(), count(len), kcp, user);
                })
            };
            if !alive {
                return false;
            }
        }
        // SAFETY: still live (checked above); short borrow. A nested drain may have put its
        // own buffer back meanwhile: keep the larger one.
        let h = unsafe { &mut *kcp };
        if h.out.capacity() < buf.capacity() {
            h.out = buf;
        }
    }
}

/// Clamps a positive C window argument to `floor..=65535` segments.
pub(crate) fn window(segments: c_int, floor: u32) -> u16 {
    segments.unsigned_abs().clamp(floor, u32::from(u16::MAX)) as u16
}
