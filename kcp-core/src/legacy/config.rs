//! What a legacy endpoint is built from.

use crate::session::{FecMode, SessionConfig};

/// A legacy endpoint's configuration. [`LegacyConfig::new`] gives defaults around the
/// session configuration both peers must share (kcptun's `-mode`, `-mtu`, `-ds`/`-ps`,
/// `-crypt` and `-key`).
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyConfig {
    /// The pipeline of every session: ARQ, FEC and protection. Its `arq.mtu` is the datagram
    /// size on the wire.
    pub session: SessionConfig,
    /// Whether datagrams from unknown addresses start sessions (a server, kcp-go's listener).
    /// A client-only endpoint drops them ([`DropReason::UnknownSource`]).
    ///
    /// [`DropReason::UnknownSource`]: crate::endpoint::DropReason::UnknownSource
    pub accept: bool,
    /// Sessions at once, accepted and connected together.
    pub max_sessions: usize,
    /// Bytes all sessions together may buffer. Each session's buffers are bounded by its
    /// configuration ([`LegacyConfig::session_memory_bound`]); sessions are refused when one
    /// more would let the bounds add up past this.
    pub max_memory: usize,
    /// After this long without a datagram the session accepted, it is closed (ms); 0 keeps
    /// sessions forever. kcp-go has no such timeout (kcptun relies on smux keepalives, every
    /// 10 s by default), and nothing in its protocol answers a probe, so a legacy session
    /// never sends one: set this above the peer's application keepalive interval.
    pub idle_timeout: u32,
}

impl LegacyConfig {
    /// Defaults around `session`: not accepting (set `accept` for a server), 1024 sessions,
    /// 512 MiB, idle timeout 30 s (kcptun's smux timeout).
    pub fn new(session: SessionConfig) -> LegacyConfig {
        LegacyConfig {
            session,
            accept: false,
            max_sessions: 1024,
            max_memory: 512 << 20,
            idle_timeout: 30_000,
        }
    }

    /// The most one session can buffer: its send queue and both windows of full segments, the
    /// FEC groups it may hold, and its fixed state (cipher, codec).
    // The same sum as `EndpointConfig::session_memory_bound`, over a `SessionConfig`.
    pub fn session_memory_bound(&self) -> usize {
        let arq = &self.session.arq;
        let mtu = arq.mtu as usize;
        let segments =
            arq.send_queue_limit as usize + arq.send_window as usize + 2 * arq.recv_window as usize;
        let fec = match &self.session.fec {
            FecMode::Native(n) => n.limits.max_groups * (n.max_data + n.max_parity) * mtu,
            FecMode::KcpGo { data, parity } => {
                crate::fec::kcpgo::DEFAULT_MAX_GROUPS * (data + parity) * mtu
            }
            FecMode::Off => 0,
        };
        segments
            .saturating_mul(mtu)
            .saturating_add(fec)
            .saturating_add(4096)
    }

    /// The number of sessions the limits allow together.
    pub fn session_limit(&self) -> usize {
        self.max_sessions
            .min(self.max_memory / self.session_memory_bound().max(1))
    }
}
