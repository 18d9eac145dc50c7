//! Configuration of one KCP state machine: the knobs of `ikcp_nodelay`, `ikcp_wndsize` and
//! `ikcp_setmtu`, kcptun's mode presets, and what this implementation adds on top.

use std::fmt;

use crate::wire::HEADER_LEN;

/// Smallest MTU accepted (the reference code refuses anything below 50).
pub const MIN_MTU: u32 = 50;
/// Largest MTU accepted: the largest UDP payload over IPv4.
pub const MAX_MTU: u32 = 65_507;
/// Smallest flush interval, in milliseconds.
pub const MIN_INTERVAL: u32 = 10;
/// Largest flush interval, in milliseconds.
pub const MAX_INTERVAL: u32 = 5_000;
/// Upper bound of any retransmission timeout, in milliseconds (`IKCP_RTO_MAX`).
pub const RTO_MAX: u32 = 60_000;

/// How retransmission timeouts behave, as selected by the reference `nodelay` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nodelay {
    /// `nodelay = 0`: a first transmission waits an extra RTO/8 before it may time out, and
    /// each timeout at least doubles the segment's RTO.
    Off,
    /// `nodelay = 1`: no extra wait; each timeout grows the segment's RTO by half.
    On,
    /// `nodelay >= 2`: no extra wait; each timeout adds half of the current smoothed RTO.
    Aggressive,
}

impl Nodelay {
    /// The mode for the reference code's integer argument.
    pub fn from_level(level: u32) -> Nodelay {
        match level {
            0 => Nodelay::Off,
            1 => Nodelay::On,
            _ => Nodelay::Aggressive,
        }
    }
}

/// When datagrams leave the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushMode {
    /// Everything waits for the next interval tick, exactly as `ikcp_update` drives
    /// `ikcp_flush` in the reference code: given the same calls, the same datagrams come out.
    /// [`Kcp::poll_timeout`](crate::Kcp::poll_timeout) then answers like `ikcp_check`.
    Interval,
    /// New data, fast retransmissions and timed-out segments leave as soon as they are ready;
    /// an acknowledgement waits at most one interval for a datagram to ride on (a delayed ack).
    /// There is no tick: an idle state machine asks for no wake-ups at all.
    Eager,
}

/// The configuration of one state machine. Build one from a preset, adjust fields, and hand it
/// to [`Kcp::new`](crate::Kcp::new), which validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest datagram this side sends, in bytes; segments carry at most `mtu - 24` bytes.
    pub mtu: u32,
    /// Segments this side may have in flight.
    pub send_window: u16,
    /// Segments this side buffers for reassembly; advertised to the peer.
    pub recv_window: u16,
    /// Period of the flush tick in milliseconds; also the floor of the RTO's variance term.
    pub interval: u32,
    /// RTO behaviour (the reference `nodelay` argument).
    pub nodelay: Nodelay,
    /// Lower bound of the retransmission timeout in milliseconds.
    pub min_rto: u32,
    /// Retransmit a segment once this many later segments were acknowledged; 0 turns fast
    /// retransmission off.
    pub fast_resend: u32,
    /// Fast retransmission stops for a segment sent more than this many times; 0 = no limit.
    pub fast_resend_limit: u32,
    /// Whether the Reno-like congestion window limits sending (the reference `nc` switch is the
    /// opposite: `nc = 1` means `congestion_control = false`).
    pub congestion_control: bool,
    /// Stream mode: bytes, not messages; no fragment numbers; small writes coalesce.
    pub stream: bool,
    /// A segment transmitted this many times marks the link dead.
    pub dead_link: u32,
    /// Most fragments one message may be cut into (message mode). The peer must have a receive
    /// window at least this large; the reference default is 127.
    pub max_fragments: u8,
    /// Most segments waiting in the send queue; `send` refuses data beyond it.
    pub send_queue_limit: u32,
    /// When datagrams leave: see [`FlushMode`].
    pub flush: FlushMode,
    /// Eager mode: a datagram that leaves with room to spare also carries segments still
    /// unacknowledged after a smoothed RTT, oldest first. Costs bytes, never a datagram, and
    /// recovers losses early (in the reference latency experiment: 13 % lower mean RTT, 14 %
    /// lower worst case, 21 % more bytes). Turn it off to spend no bytes on guesses.
    pub resend_in_spare_room: bool,
    /// Retransmit a segment that a single later acknowledgement skipped, at the next flush
    /// that has no new segment to send (kcp-go's "early retransmit", which kcptun peers run).
    /// Request/response traffic gains most: a lost message often has no second successor to
    /// reach [`Config::fast_resend`] before its timeout. A reordered datagram costs one
    /// needless resend. Off in the reference code.
    pub early_retransmit: bool,
}

impl Default for Config {
    /// The reference code's defaults after `ikcp_create`: mtu 1400, windows 32/128,
    /// interval 100 ms, no nodelay, no fast resend, congestion control on, message mode.
    fn default() -> Config {
        Config {
            mtu: 1400,
            send_window: 32,
            recv_window: 128,
            interval: 100,
            nodelay: Nodelay::Off,
            min_rto: 100,
            fast_resend: 0,
            fast_resend_limit: 5,
            congestion_control: true,
            stream: false,
            dead_link: 20,
            max_fragments: 127,
            send_queue_limit: 8192,
            flush: FlushMode::Eager,
            resend_in_spare_room: true,
            early_retransmit: false,
        }
    }
}

impl Config {
    /// Applies the reference `ikcp_nodelay(nodelay, interval, resend, nc)` arguments, including
    /// its choice of minimum RTO (30 ms with nodelay, 100 ms without).
    pub fn with_nodelay(mut self, nodelay: u32, interval: u32, resend: u32, nc: bool) -> Config {
        self.nodelay = Nodelay::from_level(nodelay);
        self.min_rto = if nodelay == 0 { 100 } else { 30 };
        self.interval = interval;
        self.fast_resend = resend;
        self.congestion_control = !nc;
        self
    }

    /// kcptun's `normal` mode: nodelay 0, interval 40, resend 2, no congestion window.
    pub fn normal() -> Config {
        Config::default().with_nodelay(0, 40, 2, true)
    }

    /// kcptun's `fast` mode (its default): nodelay 0, interval 30, resend 2, no congestion window.
    pub fn fast() -> Config {
        Config::default().with_nodelay(0, 30, 2, true)
    }

    /// kcptun's `fast2` mode: nodelay 1, interval 20, resend 2, no congestion window.
    pub fn fast2() -> Config {
        Config::default().with_nodelay(1, 20, 2, true)
    }

    /// kcptun's `fast3` mode: nodelay 1, interval 10, resend 2, no congestion window.
    pub fn fast3() -> Config {
        Config::default().with_nodelay(1, 10, 2, true)
    }

    /// Bytes of payload one segment carries at this MTU.
    pub fn mss(&self) -> u32 {
        self.mtu.saturating_sub(HEADER_LEN as u32)
    }

    /// Checks every field; [`Kcp::new`](crate::Kcp::new) calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        if self.send_window == 0 {
            return Err(ConfigError::SendWindow);
        }
        if self.recv_window == 0 {
            return Err(ConfigError::RecvWindow);
        }
        if !self.stream && u32::from(self.max_fragments) > u32::from(self.recv_window) {
            return Err(ConfigError::FragmentsExceedWindow {
                max_fragments: self.max_fragments,
                recv_window: self.recv_window,
            });
        }
        if self.max_fragments == 0 {
            return Err(ConfigError::MaxFragments);
        }
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&self.interval) {
            return Err(ConfigError::Interval(self.interval));
        }
        if !(1..=RTO_MAX).contains(&self.min_rto) {
            return Err(ConfigError::MinRto(self.min_rto));
        }
        if self.dead_link == 0 {
            return Err(ConfigError::DeadLink);
        }
        if self.send_queue_limit == 0 {
            return Err(ConfigError::SendQueueLimit);
        }
        Ok(())
    }
}

/// A configuration value out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The MTU is outside [`MIN_MTU`]..=[`MAX_MTU`].
    Mtu(u32),
    /// The send window is zero.
    SendWindow,
    /// The receive window is zero.
    RecvWindow,
    /// In message mode, a message of `max_fragments` pieces could never fit our own window.
    FragmentsExceedWindow {
        /// The configured fragment limit.
        max_fragments: u8,
        /// The configured receive window.
        recv_window: u16,
    },
    /// `max_fragments` is zero.
    MaxFragments,
    /// The interval is outside [`MIN_INTERVAL`]..=[`MAX_INTERVAL`] milliseconds.
    Interval(u32),
    /// The minimum RTO is outside 1..=[`RTO_MAX`] milliseconds.
    MinRto(u32),
    /// `dead_link` is zero.
    DeadLink,
    /// `send_queue_limit` is zero.
    SendQueueLimit,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Mtu(mtu) => {
                write!(f, "mtu {mtu} is outside {MIN_MTU}..={MAX_MTU} bytes")
            }
            ConfigError::SendWindow => f.write_str("send window must be at least 1 segment"),
            ConfigError::RecvWindow => f.write_str("receive window must be at least 1 segment"),
            ConfigError::FragmentsExceedWindow {
                max_fragments,
                recv_window,
            } => write!(
                f,
                "max_fragments {max_fragments} exceeds the receive window {recv_window}: \
                 such a message could never be reassembled"
            ),
            ConfigError::MaxFragments => f.write_str("max_fragments must be at least 1"),
            ConfigError::Interval(ms) => write!(
                f,
                "interval {ms} ms is outside {MIN_INTERVAL}..={MAX_INTERVAL} ms"
            ),
            ConfigError::MinRto(ms) => write!(f, "min_rto {ms} ms is outside 1..={RTO_MAX} ms"),
            ConfigError::DeadLink => f.write_str("dead_link must be at least 1 transmission"),
            ConfigError::SendQueueLimit => {
                f.write_str("send_queue_limit must be at least 1 segment")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_kcptun_modes() {
        let table = [
            (Config::normal(), Nodelay::Off, 40, 100),
            (Config::fast(), Nodelay::Off, 30, 100),
            (Config::fast2(), Nodelay::On, 20, 30),
            (Config::fast3(), Nodelay::On, 10, 30),
        ];
        for (config, nodelay, interval, min_rto) in table {
            assert_eq!(config.nodelay, nodelay);
            assert_eq!(config.interval, interval);
            assert_eq!(config.min_rto, min_rto);
            assert_eq!(config.fast_resend, 2);
            assert!(!config.congestion_control);
            assert_eq!(config.validate(), Ok(()));
        }
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = [
            (
                Config {
                    mtu: 49,
                    ..Config::default()
                },
                ConfigError::Mtu(49),
            ),
            (
                Config {
                    send_window: 0,
                    ..Config::default()
                },
                ConfigError::SendWindow,
            ),
            (
                Config {
                    recv_window: 0,
                    ..Config::default()
                },
                ConfigError::RecvWindow,
            ),
            (
                Config {
                    interval: 5,
                    ..Config::default()
                },
                ConfigError::Interval(5),
            ),
            (
                Config {
                    min_rto: 0,
                    ..Config::default()
                },
                ConfigError::MinRto(0),
            ),
            (
                Config {
                    dead_link: 0,
                    ..Config::default()
                },
                ConfigError::DeadLink,
            ),
            (
                Config {
                    recv_window: 16,
                    ..Config::default()
                },
                ConfigError::FragmentsExceedWindow {
                    max_fragments: 127,
                    recv_window: 16,
                },
            ),
        ];
        for (config, error) in bad {
            assert_eq!(config.validate(), Err(error));
            assert!(!error.to_string().is_empty());
        }
        let stream = Config {
            recv_window: 16,
            stream: true,
            ..Config::default()
        };
        assert_eq!(stream.validate(), Ok(()));
    }
}
