//! The socket-level C API (`ffi/include/kcp.h`): one UDP socket, its sessions and its timers
//! behind an opaque `kcp_socket *`, driven by the application's loop through `kcp_poll()`.
//!
//! It wraps [`kcp_core::net::Driver`] — in the native sealed mode or the kcptun-compatible
//! legacy mode — for programs that do not want to write socket code: a game's tick calls
//! `kcp_poll(socket, events, n, 0)`, handles the events, sends, and goes on.
//!
//! # Ownership
//!
//! * `kcp_server_new()` / `kcp_client_new()` give the caller a `kcp_socket *`; the caller
//!   owns it and gives it back with `kcp_socket_destroy()` (exactly once). Nothing else frees
//!   it, and nothing the library returns needs freeing by the caller.
//! * Everything the caller passes in (config, strings, key, data, buffers, event arrays) is
//!   only borrowed for the duration of the call: the library copies what it keeps.
//! * Strings the library returns (`kcp_strerror()`, `kcp_close_reason_str()`,
//!   `kcp_version()`) are static; `kcp_last_error()`'s string belongs to the calling thread
//!   and lives until its next call into the API.
//! * Session ids are plain numbers, valid from the call or event that gave them until the
//!   session's `KCP_EVENT_CLOSED` or the application's `kcp_close()`. 0 is never a session.
//!
//! # Threads
//!
//! A socket serves one call at a time: use it from one thread, or hand it between threads
//! with the caller's own synchronisation. Overlapping calls on one socket are detected and
//! the later one fails with `KCP_EBUSY` (a bug to fix, not a way to share a socket). Separate
//! sockets are independent: one per thread is fine. The library starts no threads and does
//! no work outside the calls; `kcp_poll()` is where the socket is read, timers run and data
//! leaves (and `kcp_flush()`).
//!
//! # Errors
//!
//! Every function returns `KCP_OK` (0) or a count on success and a negative `kcp_error` on
//! failure, and records a description for `kcp_last_error()`. No panic crosses into C: an
//! internal error becomes `KCP_EPANIC`, after which the socket refuses all but
//! `kcp_socket_destroy()`.

// The items are named as C sees them.
#![allow(non_camel_case_types)]

pub mod config;
pub mod error;
pub mod event;
pub mod stats;

pub use self::config::kcp_config;

use self::config::{driver_config, read_config, write_prefix, Role};
use self::error::*;
use self::event::{kcp_event, kcp_event_type};
use self::stats::{kcp_session_stats, kcp_socket_stats};
use kcp_core::endpoint::{CallError, SessionId};
use kcp_core::net::{Driver, Event, Mode};
use kcp_core::RecvError;
use std::cell::UnsafeCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// `kcp_poll()`'s `timeout_ms` that waits until an event arrives, however long it takes.
pub const KCP_WAIT_FOREVER: u32 = 0xFFFF_FFFF;

/// A buffer this long holds any address `kcp_local_addr()` or `kcp_session_remote()` writes
/// (an IPv6 address with a scope id and a port, and the terminating NUL).
pub const KCP_ADDRSTRLEN: u32 = 72;

/// One UDP socket with its sessions (opaque). Made by `kcp_server_new()` or
/// `kcp_client_new()`, freed by `kcp_socket_destroy()`.
pub struct kcp_socket {
    /// `IDLE`, `BUSY` (a call is running) or `BROKEN` (a call panicked).
    state: AtomicU8,
    /// Only touched by the call that moved `state` from `IDLE` to `BUSY`.
    inner: UnsafeCell<Inner>,
}

// SAFETY: threads that share a `kcp_socket` only touch `state` (an atomic) until a
// compare-exchange from IDLE to BUSY grants one call exclusive use of `inner` (Acquire), which
// it gives back with a Release store; `Inner` itself is Send (checked below).
unsafe impl Sync for kcp_socket {}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const BROKEN: u8 = 2;

struct Inner {
    driver: Driver,
    /// The sessions the application knows: made by connecting, or reported accepted, and
    /// neither closed by the application nor reported closed. Events about others (a session
    /// the application has just closed) are not passed on.
    live: HashSet<u32>,
    /// An upper bound of the largest message (message mode).
    max_message: u32,
}

// A socket may be handed between threads (one call at a time): everything in it must be Send.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Inner>();
};

/// Resets the socket's state when a call ends: back to idle, or broken if the call panicked.
struct Access<'a>(&'a AtomicU8);

impl Drop for Access<'_> {
    fn drop(&mut self) {
        let state = if std::thread::panicking() {
            BROKEN
        } else {
            IDLE
        };
        self.0.store(state, Ordering::Release);
    }
}

/// Runs `f` with exclusive access to a socket's insides.
///
/// # Safety
///
/// `socket` is NULL or a socket from `kcp_*_new` not yet destroyed.
unsafe fn with_socket<T>(
    socket: *mut kcp_socket,
    f: impl FnOnce(&mut Inner) -> Result<T, Error>,
) -> Result<T, Error> {
    // SAFETY: the caller promises a live socket or NULL; only shared access until the state
    // machine grants exclusive access below.
    let socket = unsafe { socket.as_ref() }.ok_or_else(|| Error::null("socket"))?;
    match socket
        .state
        .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Relaxed)
    {
        Ok(_) => {}
        Err(BUSY) => return Err(Error::fixed(
            KCP_EBUSY,
            c"another thread is inside a call on this socket (a socket serves one call at a time)",
        )),
        Err(_) => {
            return Err(Error::fixed(
                KCP_EPANIC,
                c"this socket hit an internal error earlier and is unusable: destroy it",
            ))
        }
    }
    let _access = Access(&socket.state);
    // SAFETY: this call moved the state from IDLE to BUSY, so no other call touches `inner`
    // until `_access` sets it back.
    let inner = unsafe { &mut *socket.inner.get() };
    f(inner)
}

/// Session ids as C sees them: the driver's 32-bit id with bit 32 set, so that 0 is never a
/// session and the upper half stays free for later use.
const SESSION_TAG: u64 = 1 << 32;

fn session_to_c(id: SessionId) -> u64 {
    SESSION_TAG | u64::from(id.0)
}

fn session_from_c(id: u64) -> Result<SessionId, Error> {
    if id >> 32 == SESSION_TAG >> 32 {
        Ok(SessionId(id as u32))
    } else {
        Err(Error::new(
            KCP_ENOSESSION,
            format!("{id:#x} is not a session id libkcp gave out"),
        ))
    }
}

fn no_session() -> Error {
    Error::fixed(
        KCP_ENOSESSION,
        c"no such session (closed, or never existed)",
    )
}

/// Maps a failed send or receive onto the C codes.
fn call_error(e: io::Error, sending: bool) -> Error {
    match e.kind() {
        io::ErrorKind::NotConnected => no_session(),
        io::ErrorKind::WouldBlock if sending => Error::fixed(
            KCP_EAGAIN,
            c"send queue full (wait for KCP_EVENT_WRITABLE) or handshake not finished (wait for KCP_EVENT_CONNECTED)",
        ),
        io::ErrorKind::WouldBlock => Error::fixed(KCP_EAGAIN, c"nothing to receive"),
        io::ErrorKind::InvalidInput => {
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<CallError>());
            match inner {
                Some(CallError::Recv(RecvError::BufferTooSmall { needed })) => Error::new(
                    KCP_EMSGSIZE,
                    format!("receive buffer too small: the next message is {needed} bytes"),
                ),
                _ => Error::new(KCP_EMSGSIZE, e.to_string()),
            }
        }
        _ => Error::io(if sending { "send" } else { "receive" }, &e),
    }
}

/// Reads an address argument: `ip:port`, `[ipv6]:port`, or `host:port` (resolved, blocking).
///
/// # Safety
///
/// `text` is NULL or a NUL-terminated string.
unsafe fn parse_addr(text: *const c_char, what: &str) -> Result<SocketAddr, Error> {
    if text.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(text) };
    let Ok(text) = text.to_str() else {
        return Err(Error::new(KCP_EADDR, format!("{what} is not valid UTF-8")));
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = |why: &dyn std::fmt::Display| {
        Error::new(
            KCP_EADDR,
            format!("{what} {text:?}: {why} (expected host:port, or [ipv6]:port)"),
        )
    };
    match text.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(|| bad(&"resolves to no address")),
        Err(e) => Err(bad(&e)),
    }
}

/// Writes `text` and a NUL into a caller's buffer; the length without the NUL.
///
/// # Safety
///
/// `buf` is NULL or points to `cap` writable bytes.
unsafe fn write_str(text: &str, buf: *mut c_char, cap: usize) -> Result<c_int, Error> {
    if buf.is_null() {
        return Err(Error::null("buf"));
    }
    if text.len() >= cap {
        if cap > 0 {
            // SAFETY: `cap` >= 1 writable bytes.
            unsafe { *buf = 0 };
        }
        return Err(Error::new(
            KCP_EMSGSIZE,
            format!(
                "buffer of {cap} bytes too small for {} (KCP_ADDRSTRLEN is always enough)",
                text.len() + 1
            ),
        ));
    }
    // SAFETY: `text.len() + 1 <= cap` bytes are writable at `buf`, and `text` is ours.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
    }
    Ok(text.len() as c_int)
}

/// Opens a socket at `bind` for `role`.
///
/// # Safety
///
/// `config` as for `read_config`, and its pointers as for `driver_config`.
unsafe fn open(
    config: *const kcp_config,
    bind: SocketAddr,
    role: Role,
) -> Result<Box<kcp_socket>, Error> {
    // SAFETY: passed on from the caller.
    let config = unsafe { read_config(config) }?;
    // SAFETY: passed on from the caller.
    let driver_config = unsafe { driver_config(&config, bind, role) }?;
    let arq = match &driver_config.mode {
        Mode::Native(endpoint) => &endpoint.arq,
        Mode::Legacy(legacy) => &legacy.session.arq,
    };
    let max_message = u32::from(arq.max_fragments) * arq.mss();
    let driver = Driver::new(driver_config)
        .map_err(|e| Error::io(&format!("cannot open a UDP socket on {bind}"), &e))?;
    Ok(Box::new(kcp_socket {
        state: AtomicU8::new(IDLE),
        inner: UnsafeCell::new(Inner {
            driver,
            live: HashSet::new(),
            max_message,
        }),
    }))
}

/// Makes a server: a UDP socket bound at `bind_addr` (`"0.0.0.0:4000"`, `"[::]:4000"`,
/// `"127.0.0.1:0"` for any free port — `kcp_local_addr()` tells which) that accepts sessions
/// (`KCP_EVENT_ACCEPTED`) and can also start its own with `kcp_connect()`.
///
/// On success `*out` is the new socket, owned by the caller until `kcp_socket_destroy()`.
/// On failure `*out` is NULL and nothing is left allocated. Fails with `KCP_EINVAL` (NULL
/// `config` or `out`, a bad config), `KCP_EKEY`, `KCP_EADDR`, or `KCP_EIO` (the bind failed:
/// port in use, permission).
///
/// Deriving a key from a passphrase takes a few ms here (about a second on a small router).
///
/// # Safety
///
/// `config` is NULL or a `kcp_config` set up with `kcp_config_init()` whose `passphrase` is
/// NULL or NUL-terminated and whose `key` is NULL or points to `KCP_KEY_LEN` bytes;
/// `bind_addr` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kcp_server_new(
    config: *const kcp_config,
    bind_addr: *const c_char,
    out: *mut *mut kcp_socket,
) -> c_int {
    entry(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: `out` is writable (the caller's promise).
        unsafe { out.write(std::ptr::null_mut()) };
        // SAFETY: the caller's promises.
        let bind = unsafe { parse_addr(bind_addr, "bind_addr") }?;
        // SAFETY: the caller's promises.
        let socket = unsafe { open(config, bind, Role::Server) }?;
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(socket)) };
        Ok(KCP_OK.code())
    })
}

/// Makes a client: a UDP socket on a free local port that starts one session with the
/// server at `remote_addr` (`"203.0.113.5:4000"`, `"[2001:db8::5]:4000"`, or
/// `"game.example.com:4000"`, which is resolved here and blocks while it is). The socket
/// accepts nothing; more sessions can be started with `kcp_connect()`.
///
/// `KCP_EVENT_CONNECTED` follows when the session is established (sealed mode: after the
/// handshake, one round trip; legacy mode: at once), or `KCP_EVENT_CLOSED` with the reason it
/// failed. Data sent before then is refused with `KCP_EAGAIN`.
///
/// On success `*out` is the new socket (the caller's until `kcp_socket_destroy()`) and, if
/// `session` is not NULL, `*session` the session's id. On failure `*out` is NULL, `*session`
/// 0, and nothing is left allocated. Errors as for `kcp_server_new()`, and `KCP_ELIMIT`.
///
/// # Safety
///
/// As for `kcp_server_new()`, with `remote_addr` for `bind_addr`; `session` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kcp_client_new(
    config: *const kcp_config,
    remote_addr: *const c_char,
    out: *mut *mut kcp_socket,
    session: *mut u64,
) -> c_int {
    entry(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: `out` is writable, `session` NULL or writable (the caller's promises).
        unsafe {
            out.write(std::ptr::null_mut());
            if !session.is_null() {
                session.write(0);
            }
        }
        // SAFETY: the caller's promises.
        let remote = unsafe { parse_addr(remote_addr, "remote_addr") }?;
        let any: IpAddr = match remote {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        // SAFETY: the caller's promises.
        let mut socket = unsafe { open(config, SocketAddr::new(any, 0), Role::Client) }?;
        let inner = socket.inner.get_mut();
        let id = connect(inner, remote)?;
        // SAFETY: as above.
        unsafe {
            out.write(Box::into_raw(socket));
            if !session.is_null() {
                session.write(id);
            }
        }
        Ok(KCP_OK.code())
    })
}

fn connect(inner: &mut Inner, remote: SocketAddr) -> Result<u64, Error> {
    let id = inner
        .driver
        .connect(remote)
        .map_err(|e| Error::new(KCP_ELIMIT, format!("cannot connect to {remote}: {e}")))?;
    inner.live.insert(id.0);
    Ok(session_to_c(id))
}

/// Starts another session from this socket (a server's or a client's) to `remote_addr`, as
/// `kcp_client_new()` does for its first. On success `*session` (if not NULL) is its id;
/// `KCP_EVENT_CONNECTED` or `KCP_EVENT_CLOSED` follows.
///
/// Fails with `KCP_EINVAL` (NULL `socket`), `KCP_EADDR`, `KCP_ELIMIT`.
///
/// # Safety
///
/// `socket` is NULL or a live socket; `remote_addr` is NULL or NUL-terminated; `session` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kcp_connect(
    socket: *mut kcp_socket,
    remote_addr: *const c_char,
    session: *mut u64,
) -> c_int {
    entry(|| {
        if !session.is_null() {
            // SAFETY: the caller's promise.
            unsafe { session.write(0) };
        }
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                let remote = parse_addr(remote_addr, "remote_addr")?;
                let id = connect(s, remote)?;
                if !session.is_null() {
                    session.write(id);
                }
                Ok(KCP_OK.code())
            })
        }
    })
}

/// Closes every session and frees the socket. Sealed-mode peers are told (they see
/// `KCP_EVENT_CLOSED` with `KCP_CLOSE_PEER` and code 0) as far as one last non-blocking send
/// gets the messages out; legacy-mode peers notice by their idle timeout. Data still queued
/// is dropped: wait until `kcp_get_session_stats()` shows `queued == 0` first if it matters.
///
/// `socket` is invalid afterwards, and so are its session ids. NULL is accepted and does
/// nothing (like `free(NULL)`). Returns `KCP_OK`, or `KCP_EBUSY` (and frees nothing) while
/// another thread is inside a call on the socket.
///
/// # Safety
///
/// `socket` is NULL or a live socket, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn kcp_socket_destroy(socket: *mut kcp_socket) -> c_int {
    entry(|| {
        if socket.is_null() {
            return Ok(KCP_OK.code());
        }
        // SAFETY: a live socket (the caller's promise).
        let state = unsafe { &(*socket).state };
        let healthy = match state.compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(BUSY) => {
                return Err(Error::fixed(
                    KCP_EBUSY,
                    c"another thread is inside a call on this socket: not destroyed",
                ))
            }
            Err(_) => false,
        };
        // SAFETY: the socket came from `Box::into_raw` in `kcp_*_new`, and this call holds it
        // exclusively; the caller does not use it again.
        let mut socket = unsafe { Box::from_raw(socket) };
        if healthy {
            let inner = socket.inner.get_mut();
            let mut ids: HashSet<u32> = inner.driver.sessions().iter().map(|id| id.0).collect();
            ids.extend(inner.live.drain());
            for id in ids {
                inner.driver.close(SessionId(id), 0);
            }
            // Best effort: the closes leave if the socket takes them now.
            let _ = inner.driver.flush();
        }
        drop(socket);
        Ok(KCP_OK.code())
    })
}

/// Runs the socket and takes events: reads what arrived, runs due timers (retransmissions,
/// keepalives, timeouts), sends what is queued, and writes up to `capacity` events into
/// `events`. Returns the number of events written (0 or more), or an error.
///
/// `timeout_ms` is how long to wait for an event when none is ready: 0 does not wait (the
/// call for a game's tick), `KCP_WAIT_FOREVER` waits as long as it takes. It returns as soon
/// as there is at least one event, possibly before the timeout with none (call again). Events
/// that do not fit stay queued for the next call, which then returns at once.
///
/// `events` may be NULL only with `capacity` 0: the socket runs (and may wait) and events
/// stay queued. Data sent with `kcp_send()` leaves during the next `kcp_poll()` or
/// `kcp_flush()`; call one of them each tick, and often enough for the ARQ's timers (every
/// 10-30 ms, or sleep in `kcp_poll()` itself).
///
/// Fails with `KCP_EINVAL` (NULL `socket`, NULL `events` with a capacity) or `KCP_EIO`.
///
/// # Safety
///
/// `socket` is NULL or a live socket; `events` is NULL or points to `capacity` writable
/// `kcp_event`s.
#[no_mangle]
pub unsafe extern "C" fn kcp_poll(
    socket: *mut kcp_socket,
    events: *mut kcp_event,
    capacity: usize,
    timeout_ms: u32,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                if events.is_null() && capacity > 0 {
                    return Err(Error::null("events"));
                }
                let capacity = capacity.min(c_int::MAX as usize);
                let deadline = (timeout_ms != KCP_WAIT_FOREVER)
                    .then(|| Instant::now() + Duration::from_millis(timeout_ms.into()));
                let mut written = 0;
                loop {
                    let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    s.driver.poll(wait).map_err(|e| Error::io("poll", &e))?;
                    while written < capacity {
                        let Some(event) = s.driver.next_event() else {
                            break;
                        };
                        if let Some(event) = s.translate(event) {
                            // SAFETY: `written < capacity` slots are writable at `events`.
                            events.add(written).write(event);
                            written += 1;
                        }
                    }
                    if written > 0 || capacity == 0 || wait == Some(Duration::ZERO) {
                        return Ok(written as c_int);
                    }
                }
            })
        }
    })
}

impl Inner {
    /// The C event for a driver event, or `None` for a session the application no longer
    /// knows. Tracks which sessions the application knows.
    fn translate(&mut self, event: Event) -> Option<kcp_event> {
        use kcp_event_type::*;
        let known = |live: &HashSet<u32>, id: SessionId| live.contains(&id.0);
        let (kind, id) = match event {
            Event::Accepted(id) => {
                self.live.insert(id.0);
                (KCP_EVENT_ACCEPTED, id)
            }
            Event::Connected(id) => (KCP_EVENT_CONNECTED, id),
            Event::Readable(id) => (KCP_EVENT_READABLE, id),
            Event::Writable(id) => (KCP_EVENT_WRITABLE, id),
            Event::Migrated(id, _) => (KCP_EVENT_MIGRATED, id),
            Event::Closed(id, reason) => {
                return self
                    .live
                    .remove(&id.0)
                    .then(|| kcp_event::closed(session_to_c(id), reason));
            }
        };
        known(&self.live, id).then(|| kcp_event::plain(kind, session_to_c(id)))
    }

    fn known(&self, id: SessionId) -> Result<(), Error> {
        if self.live.contains(&id.0) {
            Ok(())
        } else {
            Err(no_session())
        }
    }
}

/// Sends what the sessions have queued now, without waiting and without taking events: for
/// a tick that sends after its `kcp_poll()` and wants the data out before the next one.
/// Fails with `KCP_EINVAL` (NULL `socket`) or `KCP_EIO`.
///
/// # Safety
///
/// `socket` is NULL or a live socket.
#[no_mangle]
pub unsafe extern "C" fn kcp_flush(socket: *mut kcp_socket) -> c_int {
    entry(|| {
        // SAFETY: the caller's promise.
        unsafe {
            with_socket(socket, |s| {
                s.driver.flush().map_err(|e| Error::io("flush", &e))?;
                Ok(KCP_OK.code())
            })
        }
    })
}

/// Queues `len` bytes of `data` on a session, reliably and in order. The bytes are copied;
/// they leave during the next `kcp_poll()` or `kcp_flush()`.
///
/// Message mode: the whole message or nothing; it arrives as one `kcp_recv()`. Stream mode:
/// as many bytes as the send queue takes (possibly fewer than `len`). Returns the number of
/// bytes queued.
///
/// Fails with `KCP_EAGAIN` (the send queue is full: wait for `KCP_EVENT_WRITABLE`; or the
/// handshake is not done: wait for `KCP_EVENT_CONNECTED`), `KCP_EMSGSIZE` (a message longer
/// than `kcp_max_message_size()`), `KCP_ENOSESSION`, `KCP_EINVAL` (NULL `socket`, NULL
/// `data` with `len` > 0).
///
/// # Safety
///
/// `socket` is NULL or a live socket; `data` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kcp_send(
    socket: *mut kcp_socket,
    session: u64,
    data: *const c_void,
    len: usize,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                let id = session_from_c(session)?;
                if data.is_null() && len > 0 {
                    return Err(Error::null("data"));
                }
                let data: &[u8] = if len == 0 {
                    &[]
                } else {
                    // SAFETY: `len` readable bytes at `data` (the caller's promise); at most
                    // INT_MAX of them are taken, so the count fits the return value.
                    std::slice::from_raw_parts(data.cast::<u8>(), len.min(c_int::MAX as usize))
                };
                match s.driver.send(id, data) {
                    Ok(n) => Ok(n as c_int),
                    Err(e) => Err(call_error(e, true)),
                }
            })
        }
    })
}

/// Takes received data from a session into `buf` (`capacity` bytes) and returns its length.
///
/// Message mode: the next whole message (0 for an empty message); if it is longer than
/// `capacity`, `KCP_EMSGSIZE` and the message stays queued (a buffer of
/// `kcp_max_message_size()` bytes always holds one from a peer with the same configuration).
/// Stream mode: as many bytes as fit.
///
/// Fails with `KCP_EAGAIN` when nothing is waiting (after `KCP_EVENT_READABLE`, call until
/// it does), `KCP_ENOSESSION`, `KCP_EINVAL` (NULL `socket`, NULL `buf` with a capacity).
///
/// # Safety
///
/// `socket` is NULL or a live socket; `buf` is NULL or points to `capacity` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kcp_recv(
    socket: *mut kcp_socket,
    session: u64,
    buf: *mut c_void,
    capacity: usize,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                let id = session_from_c(session)?;
                if buf.is_null() && capacity > 0 {
                    return Err(Error::null("buf"));
                }
                let buf: &mut [u8] = if capacity == 0 {
                    &mut []
                } else {
                    // SAFETY: `capacity` writable bytes at `buf` (the caller's promise); at
                    // most INT_MAX are used, so the count fits the return value.
                    std::slice::from_raw_parts_mut(
                        buf.cast::<u8>(),
                        capacity.min(c_int::MAX as usize),
                    )
                };
                match s.driver.recv(id, buf) {
                    Ok(n) => Ok(n as c_int),
                    Err(e) => Err(call_error(e, false)),
                }
            })
        }
    })
}

/// Closes a session. Sealed mode: `code` reaches the peer (its `KCP_EVENT_CLOSED` has
/// `KCP_CLOSE_PEER` and this code) with the next `kcp_poll()` or `kcp_flush()`. Legacy mode
/// has no close message: the peer notices by its idle timeout.
///
/// The id is invalid at once, data not yet acknowledged is dropped, and no event about the
/// session follows. Fails with `KCP_ENOSESSION` (also for a second close) or `KCP_EINVAL`.
///
/// # Safety
///
/// `socket` is NULL or a live socket.
#[no_mangle]
pub unsafe extern "C" fn kcp_close(socket: *mut kcp_socket, session: u64, code: u32) -> c_int {
    entry(|| {
        // SAFETY: the caller's promise.
        unsafe {
            with_socket(socket, |s| {
                let id = session_from_c(session)?;
                if !s.live.remove(&id.0) {
                    return Err(no_session());
                }
                s.driver.close(id, code);
                Ok(KCP_OK.code())
            })
        }
    })
}

/// Writes a session's statistics into `*out`; `size` is `sizeof(kcp_session_stats)` (fields
/// a newer header has and this library does not are set to 0).
///
/// Fails with `KCP_EAGAIN` (the session's handshake is not done), `KCP_ENOSESSION`,
/// `KCP_EINVAL` (NULL `socket` or `out`, `size` too small).
///
/// # Safety
///
/// `socket` is NULL or a live socket; `out` is NULL or points to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kcp_get_session_stats(
    socket: *mut kcp_socket,
    session: u64,
    out: *mut kcp_session_stats,
    size: usize,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                let id = session_from_c(session)?;
                check_out(out.is_null(), size, stats::SESSION_STATS_V1_SIZE, "out")?;
                s.known(id)?;
                let Some(stats) = s.driver.session_stats(id) else {
                    return Err(Error::fixed(
                        KCP_EAGAIN,
                        c"the session is not established (handshake in progress, or just closed)",
                    ));
                };
                write_prefix(out.cast(), size, &kcp_session_stats::of(&stats));
                Ok(KCP_OK.code())
            })
        }
    })
}

/// Writes the socket's statistics into `*out`; `size` is `sizeof(kcp_socket_stats)`.
/// Fails with `KCP_EINVAL` (NULL `socket` or `out`, `size` too small).
///
/// # Safety
///
/// `socket` is NULL or a live socket; `out` is NULL or points to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kcp_get_socket_stats(
    socket: *mut kcp_socket,
    out: *mut kcp_socket_stats,
    size: usize,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                check_out(out.is_null(), size, stats::SOCKET_STATS_V1_SIZE, "out")?;
                let stats = kcp_socket_stats::of(&s.driver.stats());
                write_prefix(out.cast(), size, &stats);
                Ok(KCP_OK.code())
            })
        }
    })
}

fn check_out(null: bool, size: usize, least: usize, what: &str) -> Result<(), Error> {
    if null {
        return Err(Error::null(what));
    }
    if size < least {
        return Err(Error::new(
            KCP_EINVAL,
            format!("size {size} is less than the struct's {least} bytes: pass sizeof(*{what})"),
        ));
    }
    Ok(())
}

/// Writes the socket's local address (`"127.0.0.1:40123"`, with the port the system chose for
/// port 0) and a NUL into `buf`; returns its length without the NUL. `KCP_ADDRSTRLEN` bytes
/// are always enough. Fails with `KCP_EMSGSIZE` (too small: `buf` holds "" if `capacity` > 0)
/// or `KCP_EINVAL`.
///
/// # Safety
///
/// `socket` is NULL or a live socket; `buf` is NULL or points to `capacity` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kcp_local_addr(
    socket: *mut kcp_socket,
    buf: *mut c_char,
    capacity: usize,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                write_str(&s.driver.local_addr().to_string(), buf, capacity)
            })
        }
    })
}

/// Writes the address a session's datagrams go to, as `kcp_local_addr()` does. Fails with
/// `KCP_ENOSESSION`, `KCP_EMSGSIZE` or `KCP_EINVAL`.
///
/// # Safety
///
/// As for `kcp_local_addr()`.
#[no_mangle]
pub unsafe extern "C" fn kcp_session_remote(
    socket: *mut kcp_socket,
    session: u64,
    buf: *mut c_char,
    capacity: usize,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's promises.
        unsafe {
            with_socket(socket, |s| {
                let id = session_from_c(session)?;
                s.known(id)?;
                let remote = s.driver.remote(id).ok_or_else(no_session)?;
                write_str(&remote.to_string(), buf, capacity)
            })
        }
    })
}

/// An upper bound of the longest message `kcp_send()` takes in message mode, in bytes (the
/// ARQ's fragment limit times its segment size). Stream mode has no such limit. Fails with
/// `KCP_EINVAL` (NULL `socket`).
///
/// # Safety
///
/// `socket` is NULL or a live socket.
#[no_mangle]
pub unsafe extern "C" fn kcp_max_message_size(socket: *mut kcp_socket) -> c_int {
    entry(|| {
        // SAFETY: the caller's promise.
        unsafe {
            with_socket(socket, |s| {
                Ok(c_int::try_from(s.max_message).unwrap_or(c_int::MAX))
            })
        }
    })
}

/// The library's version, `"MAJOR.MINOR.PATCH"`: static, never NULL, not to be freed.
#[no_mangle]
pub extern "C" fn kcp_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    crate::guard::guard(VERSION.as_ptr().cast(), || VERSION.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::config::kcp_config_init;
    use super::*;
    use std::mem::size_of;

    fn server() -> *mut kcp_socket {
        let key = [7u8; 32];
        // SAFETY: a zeroed config is a valid value to initialise; the key outlives the call.
        unsafe {
            let mut config: kcp_config = std::mem::zeroed();
            assert_eq!(kcp_config_init(&mut config, size_of::<kcp_config>()), 0);
            config.key = key.as_ptr();
            let mut socket = std::ptr::null_mut();
            let rc = kcp_server_new(&config, c"127.0.0.1:0".as_ptr(), &mut socket);
            assert_eq!(rc, 0, "{:?}", CStr::from_ptr(kcp_last_error()));
            socket
        }
    }

    #[test]
    fn overlapping_calls_are_refused() {
        let socket = server();
        // SAFETY: `socket` is live until destroyed at the end.
        unsafe {
            let (flush, destroy) = with_socket(socket, |_| {
                Ok((kcp_flush(socket), kcp_socket_destroy(socket)))
            })
            .unwrap();
            assert_eq!(flush, KCP_EBUSY.code());
            assert_eq!(destroy, KCP_EBUSY.code());
            assert_eq!(kcp_flush(socket), 0);
            assert_eq!(kcp_socket_destroy(socket), 0);
        }
    }

    #[test]
    fn a_panic_leaves_its_socket_unusable_but_destroyable() {
        let socket = server();
        // SAFETY: `socket` is live until destroyed at the end.
        unsafe {
            let rc = entry(|| with_socket(socket, |_| -> Result<c_int, Error> { panic!("test") }));
            assert_eq!(rc, KCP_EPANIC.code());
            assert_eq!(kcp_flush(socket), KCP_EPANIC.code());
            let mut events = [kcp_event::plain(kcp_event_type::KCP_EVENT_CONNECTED, 0); 4];
            assert_eq!(
                kcp_poll(socket, events.as_mut_ptr(), 4, 0),
                KCP_EPANIC.code()
            );
            assert_eq!(kcp_socket_destroy(socket), 0);
        }
    }

    #[test]
    fn session_ids_are_never_zero() {
        assert_eq!(session_to_c(SessionId(0)), 1 << 32);
        assert_eq!(session_from_c(1 << 32).unwrap(), SessionId(0));
        assert_eq!(
            session_from_c(session_to_c(SessionId(u32::MAX))).unwrap(),
            SessionId(u32::MAX)
        );
        for bad in [0, 1, u64::from(u32::MAX), 2 << 32, u64::MAX] {
            assert!(session_from_c(bad).is_err());
        }
    }
}
