//! What an endpoint is built from, what it reports, and why it refuses things.

use crate::fec::NativeConfig;
use crate::sealed::keys::Key;
use crate::sealed::packet;
use crate::session::FecMode;
use crate::Config;
use core::fmt;
use std::net::SocketAddr;

/// An endpoint's configuration. [`EndpointConfig::new`] gives safe defaults around a key.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// The pre-shared key both sides hold.
    pub key: Key,
    /// The ARQ configuration of every session. Its `mtu` is the datagram size on the wire.
    pub arq: Config,
    /// Forward error correction inside the sealed datagrams (default: the native framing).
    pub fec: FecMode,
    /// Whether the endpoint answers handshakes (a server). A client-only endpoint drops them.
    pub accept: bool,
    /// Sessions at once, established or in handshake.
    pub max_sessions: usize,
    /// Handshakes in flight: connections being made plus accepted sessions whose client has
    /// not yet shown it holds the keys. Initiations beyond it are dropped (the client retries).
    pub max_handshakes: usize,
    /// Bytes all sessions together may buffer. Each session's buffers are bounded by its
    /// configuration ([`EndpointConfig::session_memory_bound`]); sessions are refused when
    /// one more would let the bounds add up past this.
    pub max_memory: usize,
    /// How long a connection attempt, or an accepted session's wait for the client's first
    /// sealed datagram, may take (ms).
    pub handshake_timeout: u32,
    /// After this long without sending, a session sends a ping (ms). Keeps NAT mappings open
    /// and lets the idle timeout tell a live quiet peer from a dead one.
    pub keepalive: u32,
    /// After this long without an authenticated datagram, a session is closed (ms).
    pub idle_timeout: u32,
    /// How long a closed session lingers to answer late datagrams with its close (ms).
    pub close_linger: u32,
    /// `(index, count)`: pick only session ids whose first byte on the wire (the id's low
    /// byte) is `index` modulo `count`, so something in front of several endpoints sharing an
    /// address can route by id (the driver's reuseport filter does). `None`: any id.
    pub id_shard: Option<(u8, u8)>,
}

impl EndpointConfig {
    /// Defaults: a low-latency ARQ (nodelay, 10 ms interval, fast resend 2, no congestion
    /// window, windows 128/512, at most 1024 queued segments), native FEC, 1024 sessions,
    /// 256 handshakes, 512 MiB, handshake timeout 10 s, keepalive 10 s, idle timeout 30 s,
    /// linger 2 s. Not accepting: set `accept` for a server.
    pub fn new(key: Key) -> EndpointConfig {
        let mut arq = Config::default().with_nodelay(1, 10, 2, true);
        arq.mtu = 1400;
        arq.send_window = 128;
        arq.recv_window = 512;
        arq.send_queue_limit = 1024;
        EndpointConfig {
            key,
            arq,
            fec: FecMode::Native(NativeConfig::default()),
            accept: false,
            max_sessions: 1024,
            max_handshakes: 256,
            max_memory: 512 << 20,
            handshake_timeout: 10_000,
            keepalive: 10_000,
            idle_timeout: 30_000,
            close_linger: 2_000,
            id_shard: None,
        }
    }

    /// The most one session can buffer: its send queue and both windows of full segments, and
    /// the FEC groups it may hold.
    pub fn session_memory_bound(&self) -> usize {
        let mtu = self.arq.mtu as usize;
        let segments = self.arq.send_queue_limit as usize
            + self.arq.send_window as usize
            + 2 * self.arq.recv_window as usize;
        let fec = match &self.fec {
            FecMode::Native(n) => n.limits.max_groups * (n.max_data + n.max_parity) * mtu,
            FecMode::KcpGo { data, parity } => {
                crate::fec::kcpgo::DEFAULT_MAX_GROUPS * (data + parity) * mtu
            }
            FecMode::Off => 0,
        };
        segments * mtu + fec + 4096
    }

    /// The number of sessions the limits allow together.
    pub fn session_limit(&self) -> usize {
        self.max_sessions
            .min(self.max_memory / self.session_memory_bound().max(1))
    }
}

/// The id of a session on this endpoint (the one its peer puts in the receiver field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u32);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// What happened, for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A connection made with [`Endpoint::connect`](super::Endpoint::connect) is established.
    Connected(SessionId),
    /// A client's session is established (its first sealed datagram arrived).
    Accepted(SessionId),
    /// Data is waiting in [`Endpoint::recv`](super::Endpoint::recv) (said once until it is
    /// drained).
    Readable(SessionId),
    /// The peer proved it receives at a new address, and the session moved there.
    Migrated(SessionId, SocketAddr),
    /// The session is gone; its id is no longer valid.
    Closed(SessionId, CloseReason),
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed it, with its application code.
    Peer(u32),
    /// No authenticated datagram for [`EndpointConfig::idle_timeout`].
    IdleTimeout,
    /// The ARQ gave up retransmitting (the peer stopped acknowledging).
    DeadPeer,
    /// The handshake did not finish within [`EndpointConfig::handshake_timeout`].
    HandshakeTimeout {
        /// Whether the server answered the Hello. If it did, it is there and reachable but
        /// never accepted the key exchange: the key is almost certainly wrong.
        server_answered: bool,
    },
    /// A key reached its AEAD limit (messages sealed or forgeries seen).
    KeyExhausted,
    /// Legacy mode: the peer's address started a new conversation (a new conv whose first
    /// segment has sn 0), which replaces this one, as kcp-go's listener does.
    Replaced,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Peer(code) => write!(f, "closed by the peer (code {code})"),
            CloseReason::IdleTimeout => f.write_str("no datagram from the peer: idle timeout"),
            CloseReason::DeadPeer => f.write_str("the peer stopped acknowledging data"),
            CloseReason::HandshakeTimeout {
                server_answered: true,
            } => f.write_str(
                "the server answered but refused the handshake: the key or passphrase is wrong \
                 (both sides must use the same one)",
            ),
            CloseReason::HandshakeTimeout {
                server_answered: false,
            } => f.write_str("no answer from the server (wrong address, port or firewall?)"),
            CloseReason::KeyExhausted => f.write_str("session key reached its usage limit"),
            CloseReason::Replaced => {
                f.write_str("the peer started a new conversation from the same address")
            }
        }
    }
}

/// Why [`Endpoint::connect`](super::Endpoint::connect) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// [`EndpointConfig::session_limit`] sessions exist.
    SessionLimit,
    /// [`EndpointConfig::max_handshakes`] handshakes are in flight.
    HandshakeLimit,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::SessionLimit => f.write_str("session limit reached"),
            ConnectError::HandshakeLimit => f.write_str("too many handshakes in flight"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why a call on one session failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No such session (never was, or closed).
    Unknown,
    /// The handshake has not finished.
    NotEstablished,
    /// The ARQ refused the data.
    Send(crate::SendError),
    /// Nothing to receive, or the buffer is too small.
    Recv(crate::RecvError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Unknown => f.write_str("no such session"),
            CallError::NotEstablished => f.write_str("the session's handshake is not done"),
            CallError::Send(e) => write!(f, "{e}"),
            CallError::Recv(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Why a datagram was dropped. Each is counted in [`EndpointStats`]; none is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Not a datagram of this protocol, or malformed for its kind.
    Malformed,
    /// Another protocol version.
    Version,
    /// A handshake message this endpoint does not take (not accepting, or unexpected).
    Unexpected,
    /// An Initiation without a valid cookie for its source address.
    BadCookie,
    /// The Initiation did not decrypt: the client holds another key (or it is forged).
    HandshakeFailed,
    /// An Initiation seen before, for a session already confirmed.
    ReplayedInitiation,
    /// Refused by [`EndpointConfig::max_handshakes`] or [`EndpointConfig::session_limit`].
    Limit,
    /// A sealed datagram for no session this endpoint has.
    UnknownSession,
    /// A sealed datagram that did not open.
    Open(packet::OpenError),
    /// A sealed datagram whose plaintext is malformed (counted as forged: it authenticated,
    /// so the peer is broken).
    BadPlaintext,
    /// Legacy mode: the session refused the datagram (checksum, FEC framing, segments).
    Rejected(crate::session::DatagramError),
    /// Legacy mode: a client's datagram from an address other than the one it locked onto.
    UnknownSource,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Malformed => f.write_str("malformed datagram"),
            DropReason::Version => f.write_str("another protocol version"),
            DropReason::Unexpected => f.write_str("unexpected handshake message"),
            DropReason::BadCookie => f.write_str("initiation without a valid cookie"),
            DropReason::HandshakeFailed => f.write_str("handshake did not authenticate"),
            DropReason::ReplayedInitiation => f.write_str("replayed initiation"),
            DropReason::Limit => f.write_str("session or handshake limit reached"),
            DropReason::UnknownSession => f.write_str("datagram for an unknown session"),
            DropReason::Open(e) => write!(f, "{e}"),
            DropReason::BadPlaintext => f.write_str("authenticated but malformed plaintext"),
            DropReason::Rejected(e) => write!(f, "{e}"),
            DropReason::UnknownSource => f.write_str("datagram from an unexpected address"),
        }
    }
}

/// What [`Endpoint::handle_datagram`](super::Endpoint::handle_datagram) did with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Taken.
    Consumed,
    /// Taken, and the first `n` bytes of the caller's buffer now hold a reply for the sender
    /// (never longer than what arrived).
    Reply(usize),
    /// Dropped and counted.
    Dropped(DropReason),
}

/// An endpoint's counters. All are totals since creation but `sessions` and `handshakes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Sessions now (established or in handshake).
    pub sessions: usize,
    /// Handshakes in flight now.
    pub handshakes: usize,
    /// Datagrams handed to the endpoint.
    pub datagrams_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Datagrams from [`Endpoint::poll_transmit`](super::Endpoint::poll_transmit).
    pub datagrams_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Replies written in place by `handle_datagram` (cookies, responses).
    pub replies: u64,
    /// Their bytes.
    pub reply_bytes: u64,
    /// Sessions established by `connect`.
    pub connected: u64,
    /// Sessions accepted.
    pub accepted: u64,
    /// Addresses a session moved to.
    pub migrations: u64,
    /// Path challenges sent.
    pub challenges: u64,
    /// Dropped: malformed or another version.
    pub malformed: u64,
    /// Dropped: unexpected handshake messages.
    pub unexpected: u64,
    /// Dropped: Initiations without a valid cookie.
    pub bad_cookies: u64,
    /// Dropped: Initiations that did not decrypt (wrong key).
    pub handshake_failures: u64,
    /// Dropped: replayed Initiations.
    pub replayed_initiations: u64,
    /// Dropped: over a limit.
    pub limited: u64,
    /// Dropped: sealed datagrams for unknown sessions.
    pub unknown_session: u64,
    /// Dropped: sealed datagrams too short.
    pub short: u64,
    /// Dropped: replayed sealed datagrams (seen, or behind the window).
    pub replays: u64,
    /// Dropped: sealed datagrams that failed authentication.
    pub forgeries: u64,
    /// Sessions closed by the peer, by timeouts, by dead peers, by key limits.
    pub closed: u64,
    /// Legacy mode: dropped because the session refused them (bad checksum, malformed
    /// framing or segments); the session's own counters say which.
    pub rejected: u64,
    /// Legacy mode: dropped because they came from an address the client does not talk to.
    pub unknown_source: u64,
}

impl EndpointStats {
    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        use packet::OpenError;
        let counter = match reason {
            DropReason::Malformed | DropReason::Version => &mut self.malformed,
            DropReason::Unexpected => &mut self.unexpected,
            DropReason::BadCookie => &mut self.bad_cookies,
            DropReason::HandshakeFailed => &mut self.handshake_failures,
            DropReason::ReplayedInitiation => &mut self.replayed_initiations,
            DropReason::Limit => &mut self.limited,
            DropReason::UnknownSession => &mut self.unknown_session,
            DropReason::Open(OpenError::Short) => &mut self.short,
            DropReason::Open(OpenError::Replay(_)) => &mut self.replays,
            DropReason::Open(OpenError::Forged | OpenError::KeyExhausted)
            | DropReason::BadPlaintext => &mut self.forgeries,
            DropReason::Rejected(_) => &mut self.rejected,
            DropReason::UnknownSource => &mut self.unknown_source,
        };
        *counter += 1;
    }
}
