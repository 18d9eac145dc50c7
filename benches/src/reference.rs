//! A safe wrapper around the reference C implementation (skywind3000's `ikcp.c`, vendored and
//! compiled by the `kcp-io` crate), so tests and benchmarks can drive it exactly like ours.

use std::collections::VecDeque;
use std::os::raw::{c_char, c_int, c_long, c_void};

use kcp_core::sim::Endpoint;
use kcp_io::sys;

/// Datagrams the C code has emitted through its output callback, with spare buffers reused so
/// the comparison does not measure the allocator.
#[derive(Default)]
struct Outbox {
    ready: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
}

unsafe extern "C" fn output(
    buf: *const c_char,
    len: c_int,
    _kcp: *mut sys::IKCPCB,
    user: *mut c_void,
) -> c_int {
    // SAFETY: `user` is the boxed Outbox owned by the CKcp that registered this callback, and
    // the C code passes a buffer of `len` valid bytes.
    let (outbox, bytes) = unsafe {
        (
            &mut *(user as *mut Outbox),
            std::slice::from_raw_parts(buf as *const u8, len as usize),
        )
    };
    let mut datagram = outbox.spare.pop().unwrap_or_default();
    datagram.clear();
    datagram.extend_from_slice(bytes);
    outbox.ready.push_back(datagram);
    0
}

/// One reference `ikcpcb` with its output captured.
pub struct CKcp {
    kcp: *mut sys::IKCPCB,
    outbox: Box<Outbox>,
    /// The latest clock a simulator passed in, so an un-started peer can ask for its first
    /// update.
    seen: u32,
}

impl CKcp {
    /// `ikcp_create(conv)` with the output callback set.
    pub fn new(conv: u32) -> CKcp {
        let mut outbox = Box::<Outbox>::default();
        let user = &mut *outbox as *mut Outbox as *mut c_void;
        // SAFETY: the Outbox lives in a Box owned by the returned value, so `user` stays valid
        // for the lifetime of the control block, which Drop releases first.
        let kcp = unsafe { sys::ikcp_create(conv, user) };
        assert!(!kcp.is_null(), "ikcp_create failed");
        // SAFETY: `kcp` is a live control block.
        unsafe { sys::ikcp_setoutput(kcp, output) };
        CKcp {
            kcp,
            outbox,
            seen: 0,
        }
    }

    fn cb(&mut self) -> &mut sys::IKCPCB {
        // SAFETY: `kcp` is live until Drop and only reachable through `&mut self`.
        unsafe { &mut *self.kcp }
    }

    /// `ikcp_nodelay`.
    pub fn nodelay(&mut self, nodelay: i32, interval: i32, resend: i32, nc: i32) {
        // SAFETY: live control block.
        unsafe { sys::ikcp_nodelay(self.kcp, nodelay, interval, resend, nc) };
    }

    /// `ikcp_wndsize`.
    pub fn wndsize(&mut self, snd: i32, rcv: i32) {
        // SAFETY: live control block.
        unsafe { sys::ikcp_wndsize(self.kcp, snd, rcv) };
    }

    /// `ikcp_setmtu`; returns the C status.
    pub fn setmtu(&mut self, mtu: i32) -> i32 {
        // SAFETY: live control block.
        unsafe { sys::ikcp_setmtu(self.kcp, mtu) }
    }

    /// Sets the `stream` field.
    pub fn set_stream(&mut self, stream: bool) {
        self.cb().stream = i32::from(stream);
    }

    /// Sets the `rx_minrto` field.
    pub fn set_min_rto(&mut self, ms: i32) {
        self.cb().rx_minrto = ms;
    }

    /// Sets the `fastresend` field.
    pub fn set_fast_resend(&mut self, resend: i32) {
        self.cb().fastresend = resend;
    }

    /// `ikcp_send`; the C return value (bytes queued, or negative).
    pub fn send(&mut self, data: &[u8]) -> i32 {
        // SAFETY: live control block; `data` is valid for its length.
        unsafe {
            sys::ikcp_send(
                self.kcp,
                data.as_ptr() as *const c_char,
                data.len() as c_int,
            )
        }
    }

    /// `ikcp_recv`; the C return value (size, or negative).
    pub fn recv(&mut self, buf: &mut [u8]) -> i32 {
        // SAFETY: live control block; `buf` is writable for its length.
        unsafe {
            sys::ikcp_recv(
                self.kcp,
                buf.as_mut_ptr() as *mut c_char,
                buf.len() as c_int,
            )
        }
    }

    /// `ikcp_input`; the C status.
    pub fn input(&mut self, datagram: &[u8]) -> i32 {
        // SAFETY: live control block; `datagram` is valid for its length.
        unsafe {
            sys::ikcp_input(
                self.kcp,
                datagram.as_ptr() as *const c_char,
                datagram.len() as c_long,
            )
        }
    }

    /// `ikcp_update`.
    pub fn update(&mut self, now: u32) {
        // SAFETY: live control block.
        unsafe { sys::ikcp_update(self.kcp, now) };
    }

    /// `ikcp_check`.
    pub fn check(&self, now: u32) -> u32 {
        // SAFETY: live control block.
        unsafe { sys::ikcp_check(self.kcp, now) }
    }

    /// `ikcp_flush`.
    pub fn flush(&mut self) {
        // SAFETY: live control block.
        unsafe { sys::ikcp_flush(self.kcp) };
    }

    /// `ikcp_waitsnd`.
    pub fn waitsnd(&self) -> i32 {
        // SAFETY: live control block.
        unsafe { sys::ikcp_waitsnd(self.kcp) }
    }

    /// The `current` field: the clock at the last update.
    pub fn current(&self) -> u32 {
        // SAFETY: live control block.
        unsafe { (*self.kcp).current }
    }

    /// The `rx_rto` field.
    pub fn rto(&self) -> i32 {
        // SAFETY: live control block.
        unsafe { (*self.kcp).rx_rto }
    }

    /// The next datagram the C code emitted, if any.
    pub fn pop_output(&mut self) -> Option<Vec<u8>> {
        self.outbox.ready.pop_front()
    }

    /// Gives a datagram buffer back for reuse by the output callback.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.outbox.spare.push(buf);
    }
}

impl Drop for CKcp {
    fn drop(&mut self) {
        // SAFETY: created by ikcp_create and released exactly once.
        unsafe { sys::ikcp_release(self.kcp) };
    }
}

impl Endpoint for CKcp {
    fn handle_datagram(&mut self, _now: u32, datagram: &[u8]) {
        // The reference takes its clock from the last update, as in its own examples.
        self.input(datagram);
    }

    fn handle_timeout(&mut self, now: u32) {
        self.update(now);
    }

    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        self.seen = now;
        let datagram = self.pop_output()?;
        let len = datagram.len();
        buf[..len].copy_from_slice(&datagram);
        self.recycle(datagram);
        Some(len)
    }

    fn poll_timeout(&self) -> Option<u32> {
        // `ikcp_check` answers "now" as soon as a segment's resend time passes, but
        // `ikcp_update` only flushes on its interval tick: wait for the tick instead of spinning.
        // SAFETY: live control block.
        if unsafe { (*self.kcp).updated } == 0 {
            return Some(self.seen);
        }
        let now = self.current();
        let check = self.check(now);
        // SAFETY: live control block.
        let tick = unsafe { (*self.kcp).ts_flush };
        let until_tick = tick.wrapping_sub(now) as i32;
        if check == now && (1..10_000).contains(&until_tick) {
            Some(tick)
        } else {
            Some(check)
        }
    }
}
