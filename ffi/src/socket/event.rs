//! `kcp_event`: what `kcp_poll()` reports.

use kcp_core::endpoint::CloseReason;
use std::ffi::c_char;

/// What happened (`kcp_event.type`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum kcp_event_type {
    /// A session started with `kcp_client_new()` or `kcp_connect()` is established: data can
    /// flow. (Legacy mode has no handshake: it follows at once.)
    KCP_EVENT_CONNECTED = 1,
    /// A server socket accepted a new session from a peer. Its id is new to the application.
    KCP_EVENT_ACCEPTED = 2,
    /// Data is waiting: call `kcp_recv()` until it returns `KCP_EAGAIN`. Reported once until
    /// the session is drained, not once per message.
    KCP_EVENT_READABLE = 3,
    /// A session whose `kcp_send()` returned `KCP_EAGAIN` (queue full) has room again.
    KCP_EVENT_WRITABLE = 4,
    /// The session is gone and its id is invalid from now on; `reason` (and `code`) say why.
    /// Not reported for sessions the application closed itself with `kcp_close()`.
    KCP_EVENT_CLOSED = 5,
    /// Sealed mode: the peer proved it now sends from a new address (a NAT rebinding, a
    /// phone moving networks); the session follows it. `kcp_session_remote()` gives the new
    /// address.
    KCP_EVENT_MIGRATED = 6,
}

/// Why a session closed (`kcp_event.reason` of a `KCP_EVENT_CLOSED`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum kcp_close_reason {
    /// Not a close event.
    KCP_CLOSE_NONE = 0,
    /// Sealed mode: the peer closed the session (`kcp_close()`, or destroyed its socket);
    /// `kcp_event.code` is the code it gave.
    KCP_CLOSE_PEER = 1,
    /// Nothing arrived from the peer for `idle_timeout_ms`. In legacy mode this is also how a
    /// departed peer shows up (the protocol has no close message).
    KCP_CLOSE_IDLE_TIMEOUT = 2,
    /// The peer stopped acknowledging data: retransmissions gave up.
    KCP_CLOSE_DEAD_PEER = 3,
    /// Sealed mode: the connection attempt timed out without an answer (wrong address or
    /// port, the server is down, or a firewall).
    KCP_CLOSE_NO_ANSWER = 4,
    /// Sealed mode: the server answered but the handshake failed: the two ends almost
    /// certainly hold different keys or passphrases.
    KCP_CLOSE_KEY_MISMATCH = 5,
    /// Sealed mode: the session's key reached its usage limit.
    KCP_CLOSE_KEY_EXHAUSTED = 6,
    /// Legacy mode: the peer's address started a new session, which replaces this one (as
    /// kcp-go's listener does).
    KCP_CLOSE_REPLACED = 7,
}

/// One event from `kcp_poll()`. Plain data: nothing in it needs freeing.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct kcp_event {
    /// One of `kcp_event_type`.
    pub r#type: u32,
    /// For `KCP_EVENT_CLOSED`: one of `kcp_close_reason`; otherwise `KCP_CLOSE_NONE`.
    pub reason: u32,
    /// The session it is about.
    pub session: u64,
    /// For `KCP_EVENT_CLOSED` with `KCP_CLOSE_PEER`: the code the peer gave to `kcp_close()`
    /// (0 when it destroyed its socket); otherwise 0.
    pub code: u32,
    /// Always 0 (room for later use).
    pub reserved: u32,
}

impl kcp_event {
    /// An event without a reason.
    pub(crate) fn plain(kind: kcp_event_type, session: u64) -> kcp_event {
        kcp_event {
            r#type: kind as u32,
            reason: kcp_close_reason::KCP_CLOSE_NONE as u32,
            session,
            code: 0,
            reserved: 0,
        }
    }

    /// A close event.
    pub(crate) fn closed(session: u64, why: CloseReason) -> kcp_event {
        use kcp_close_reason::*;
        let (reason, code) = match why {
            CloseReason::Peer(code) => (KCP_CLOSE_PEER, code),
            CloseReason::IdleTimeout => (KCP_CLOSE_IDLE_TIMEOUT, 0),
            CloseReason::DeadPeer => (KCP_CLOSE_DEAD_PEER, 0),
            CloseReason::HandshakeTimeout {
                server_answered: false,
            } => (KCP_CLOSE_NO_ANSWER, 0),
            CloseReason::HandshakeTimeout {
                server_answered: true,
            } => (KCP_CLOSE_KEY_MISMATCH, 0),
            CloseReason::KeyExhausted => (KCP_CLOSE_KEY_EXHAUSTED, 0),
            CloseReason::Replaced => (KCP_CLOSE_REPLACED, 0),
        };
        kcp_event {
            r#type: kcp_event_type::KCP_EVENT_CLOSED as u32,
            reason: reason as u32,
            session,
            code,
            reserved: 0,
        }
    }
}

/// A short English description of a `kcp_close_reason` (or "unknown close reason"): static,
/// never NULL, not to be freed. Thread-safe.
#[no_mangle]
pub extern "C" fn kcp_close_reason_str(reason: u32) -> *const c_char {
    use kcp_close_reason::*;
    crate::guard::guard(c"unknown close reason".as_ptr(), || {
        let text = match reason {
            r if r == KCP_CLOSE_NONE as u32 => c"not closed",
            r if r == KCP_CLOSE_PEER as u32 => c"closed by the peer",
            r if r == KCP_CLOSE_IDLE_TIMEOUT as u32 => c"idle timeout: nothing heard from the peer",
            r if r == KCP_CLOSE_DEAD_PEER as u32 => c"the peer stopped acknowledging data",
            r if r == KCP_CLOSE_NO_ANSWER as u32 => {
                c"no answer from the server (wrong address or port, server down, or firewall)"
            }
            r if r == KCP_CLOSE_KEY_MISMATCH as u32 => {
                c"the server refused the handshake: the keys or passphrases differ"
            }
            r if r == KCP_CLOSE_KEY_EXHAUSTED as u32 => c"the session key reached its usage limit",
            r if r == KCP_CLOSE_REPLACED as u32 => {
                c"replaced by a new session from the same address"
            }
            _ => c"unknown close reason",
        };
        text.as_ptr()
    })
}
