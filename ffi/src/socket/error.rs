//! Error codes, their text, and the per-thread description of the last failure.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::io;

/// The result codes of the socket API: `KCP_OK` (0) or a small negative number.
///
/// Functions that return a count or a length return it (0 or more) on success and one of
/// these (below 0) on failure. `kcp_strerror()` names a code; `kcp_last_error()` describes the
/// last failure on the calling thread in more detail (which argument, the OS's reason).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum kcp_error {
    /// Success.
    KCP_OK = 0,
    /// An argument is invalid: a NULL pointer, a value out of range, a configuration the
    /// protocol cannot run with, an output struct size smaller than the first version's.
    KCP_EINVAL = -1,
    /// An address string is not `host:port` (`[v6]:port` for IPv6) or does not resolve.
    KCP_EADDR = -2,
    /// No such session on this socket: it never existed, it closed (a `KCP_EVENT_CLOSED` was
    /// or will be reported, or the application closed it), or it belongs to another socket.
    KCP_ENOSESSION = -3,
    /// Not now: nothing to receive (wait for `KCP_EVENT_READABLE`), the send queue is full
    /// (wait for `KCP_EVENT_WRITABLE`), or the handshake has not finished (wait for
    /// `KCP_EVENT_CONNECTED`).
    KCP_EAGAIN = -4,
    /// Too large: a message longer than the protocol carries, a receive buffer smaller than
    /// the next message (the message stays queued), an output string buffer too small.
    KCP_EMSGSIZE = -5,
    /// No usable key: none given, an empty passphrase, or a key the mode cannot use.
    KCP_EKEY = -6,
    /// The operating system refused a socket operation (bind, poll, send); the text from
    /// `kcp_last_error()` has its reason.
    KCP_EIO = -7,
    /// A limit refused a new session (`max_sessions`, handshakes in flight, memory).
    KCP_ELIMIT = -8,
    /// Another thread is inside a call on this socket. A socket serves one call at a time.
    KCP_EBUSY = -9,
    /// An internal error (a bug in libkcp) was caught before it could reach the caller. The
    /// socket it happened on refuses every call but `kcp_socket_destroy()` from then on.
    KCP_EPANIC = -10,
}

pub(crate) use kcp_error::*;

impl kcp_error {
    /// The value C sees.
    pub(crate) fn code(self) -> c_int {
        self as c_int
    }

    fn text(self) -> &'static CStr {
        match self {
            KCP_OK => c"success",
            KCP_EINVAL => c"invalid argument",
            KCP_EADDR => c"bad or unresolvable address",
            KCP_ENOSESSION => c"no such session",
            KCP_EAGAIN => {
                c"try again later (nothing to receive, send queue full, or handshake in progress)"
            }
            KCP_EMSGSIZE => c"message or buffer size out of range",
            KCP_EKEY => c"missing or unusable key",
            KCP_EIO => c"socket error",
            KCP_ELIMIT => c"session limit reached",
            KCP_EBUSY => c"socket in use by another thread",
            KCP_EPANIC => c"internal error in libkcp (the socket is unusable; destroy it)",
        }
    }
}

/// What a failed call reports: its code, and a description for `kcp_last_error()`.
#[derive(Debug)]
pub(crate) struct Error {
    code: kcp_error,
    detail: Detail,
}

#[derive(Debug)]
enum Detail {
    /// The hot paths (nothing to read, queue full) allocate nothing.
    Static(&'static CStr),
    Owned(String),
}

impl Error {
    /// A failure with a fixed description.
    pub(crate) fn fixed(code: kcp_error, text: &'static CStr) -> Error {
        Error {
            code,
            detail: Detail::Static(text),
        }
    }

    /// A failure with a description made for the occasion.
    pub(crate) fn new(code: kcp_error, text: impl Into<String>) -> Error {
        Error {
            code,
            detail: Detail::Owned(text.into()),
        }
    }

    /// A NULL pointer where one is required.
    pub(crate) fn null(what: &str) -> Error {
        Error::new(KCP_EINVAL, format!("{what} is NULL"))
    }

    /// An operating-system failure while doing `what`.
    pub(crate) fn io(what: &str, e: &io::Error) -> Error {
        let code = match e.kind() {
            io::ErrorKind::InvalidInput => KCP_EINVAL,
            _ => KCP_EIO,
        };
        Error::new(code, format!("{what}: {e}"))
    }

    /// Records the failure as this thread's last error and returns its code.
    pub(crate) fn report(self) -> c_int {
        let code = self.code.code();
        let last = match self.detail {
            Detail::Static(text) => Last::Static(text),
            Detail::Owned(text) => {
                let bytes: Vec<u8> = text.into_bytes().into_iter().filter(|&b| b != 0).collect();
                // No NUL is left, so this cannot fail; fall back to the code's name anyway.
                CString::new(bytes).map_or(Last::Static(self.code.text()), Last::Owned)
            }
        };
        // During thread teardown the slot may be gone: the code still reaches the caller.
        let _ = LAST.try_with(|slot| *slot.borrow_mut() = last);
        code
    }
}

/// Runs the body of an entry point that returns a C result: inside the panic barrier, with
/// a failure recorded as this thread's last error and turned into its code, and a panic into
/// `KCP_EPANIC`.
pub(crate) fn entry(body: impl FnOnce() -> Result<c_int, Error>) -> c_int {
    crate::guard::guard(None, || Some(body().unwrap_or_else(Error::report)))
        .unwrap_or_else(panicked)
}

enum Last {
    None,
    Static(&'static CStr),
    Owned(CString),
}

thread_local! {
    static LAST: RefCell<Last> = const { RefCell::new(Last::None) };
}

/// Records a caught panic as this thread's last error and returns `KCP_EPANIC`.
pub(crate) fn panicked() -> c_int {
    Error::fixed(
        KCP_EPANIC,
        c"internal error in libkcp (a bug: please report it); the socket is unusable",
    )
    .report()
}

/// The name of a result code: a static, NUL-terminated English string, never NULL (an
/// unknown code gives "unknown error code"). Thread-safe; the string must not be freed.
#[no_mangle]
pub extern "C" fn kcp_strerror(code: c_int) -> *const c_char {
    crate::guard::guard(c"unknown error code".as_ptr(), || {
        let known = [
            KCP_OK,
            KCP_EINVAL,
            KCP_EADDR,
            KCP_ENOSESSION,
            KCP_EAGAIN,
            KCP_EMSGSIZE,
            KCP_EKEY,
            KCP_EIO,
            KCP_ELIMIT,
            KCP_EBUSY,
            KCP_EPANIC,
        ];
        known
            .into_iter()
            .find(|e| e.code() == code)
            .map_or(c"unknown error code".as_ptr(), |e| e.text().as_ptr())
    })
}

/// A description of the last failed call made **on the calling thread**: which argument was
/// wrong and why, or the operating system's reason. Never NULL; "" if no call on this thread
/// has failed yet. Successful calls leave it unchanged.
///
/// The string belongs to libkcp and stays valid until the next call into the socket API on the
/// same thread; copy it to keep it. Do not free it.
#[no_mangle]
pub extern "C" fn kcp_last_error() -> *const c_char {
    crate::guard::guard(c"".as_ptr(), || {
        LAST.try_with(|slot| match &*slot.borrow() {
            Last::None => c"".as_ptr(),
            Last::Static(text) => text.as_ptr(),
            Last::Owned(text) => text.as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
    })
}
