//! The statistics structs: one session's, and one socket's.

use kcp_core::net::{DriverStats, SessionStats};
use std::mem::size_of;

/// One session's state and counters (`kcp_get_session_stats()`). Counters are totals since the
/// session started. Plain data: nothing in it needs freeing. Fields are only added at the end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kcp_session_stats {
    /// Smoothed round-trip time in ms (0 until measured; can stay 0 on loopback).
    pub rtt_ms: u32,
    /// Round-trip time variation in ms.
    pub rttvar_ms: u32,
    /// Current retransmission timeout in ms.
    pub rto_ms: u32,
    /// Segments sent and not yet acknowledged.
    pub in_flight: u32,
    /// Segments queued or in flight (what `kcp_send()` has not yet seen acknowledged).
    pub queued: u32,
    /// Own send window, in segments.
    pub send_window: u32,
    /// Own receive window, in segments.
    pub recv_window: u32,
    /// The peer's advertised receive window, in segments.
    pub remote_window: u32,
    /// Congestion window, in segments.
    pub congestion_window: u32,
    /// Always 0 (room for later use).
    pub reserved: u32,
    /// Application bytes accepted by `kcp_send()`.
    pub bytes_sent: u64,
    /// Application bytes handed out by `kcp_recv()`.
    pub bytes_received: u64,
    /// Datagrams sent, including retransmissions and FEC parity.
    pub datagrams_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Bytes of those datagrams sent (what the session put on the wire).
    pub wire_bytes_sent: u64,
    /// Bytes of those datagrams received.
    pub wire_bytes_received: u64,
    /// KCP segments sent (data, acknowledgements, probes).
    pub segments_sent: u64,
    /// KCP segments received.
    pub segments_received: u64,
    /// Segments sent again, for any reason (the sum of the next three).
    pub retransmissions: u64,
    /// Segments resent after duplicate acknowledgements (fast retransmit).
    pub fast_retransmissions: u64,
    /// Segments resent early, in the spare room of a datagram that left anyway.
    pub early_retransmissions: u64,
    /// Segments resent after their retransmission timer expired (losses).
    pub timeout_retransmissions: u64,
    /// Segments received twice.
    pub duplicate_segments: u64,
    /// Datagrams FEC rebuilt.
    pub fec_recovered: u64,
    /// Datagrams dropped for a bad checksum or a failed decryption (legacy mode: a wrong key
    /// or cipher shows up here).
    pub checksum_errors: u64,
}

impl kcp_session_stats {
    pub(crate) fn of(s: &SessionStats) -> kcp_session_stats {
        let snmp = &s.snmp;
        kcp_session_stats {
            rtt_ms: s.srtt,
            rttvar_ms: s.rttvar,
            rto_ms: s.rto,
            in_flight: s.in_flight,
            queued: s.wait_send,
            send_window: u32::from(s.send_window),
            recv_window: u32::from(s.recv_window),
            remote_window: s.remote_window,
            congestion_window: s.congestion_window,
            reserved: 0,
            bytes_sent: snmp.bytes_sent,
            bytes_received: snmp.bytes_received,
            datagrams_sent: snmp.out_pkts,
            datagrams_received: snmp.in_pkts,
            wire_bytes_sent: snmp.out_bytes,
            wire_bytes_received: snmp.in_bytes,
            segments_sent: snmp.out_segs,
            segments_received: snmp.in_segs,
            retransmissions: snmp.retrans_segs,
            fast_retransmissions: snmp.fast_retrans_segs,
            early_retransmissions: snmp.early_retrans_segs,
            timeout_retransmissions: snmp.lost_segs,
            duplicate_segments: snmp.repeat_segs,
            fec_recovered: s.fec_recovered,
            checksum_errors: snmp.in_csum_errors,
        }
    }
}

/// A socket's counters (`kcp_get_socket_stats()`): totals since it was made, except the two
/// "now" gauges. Plain data: nothing in it needs freeing. Fields are only added at the end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kcp_socket_stats {
    /// Sessions now, established or in handshake.
    pub sessions: u64,
    /// Handshakes in flight now (sealed mode).
    pub handshakes: u64,
    /// Sessions accepted.
    pub accepted: u64,
    /// Sessions established by connecting.
    pub connected: u64,
    /// Sessions closed by the peer, by timeouts or by dead peers.
    pub closed: u64,
    /// Datagrams read from the socket.
    pub datagrams_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Datagrams the sessions sent (handshake replies not included).
    pub datagrams_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Datagrams dropped on the way in, for any reason (the next fields break some down).
    pub dropped: u64,
    /// Sealed mode: handshakes that failed to authenticate (a client with another key).
    pub handshake_failures: u64,
    /// Sealed mode: datagrams that failed authentication (forged or corrupted).
    pub forgeries: u64,
    /// Sealed mode: replayed datagrams.
    pub replays: u64,
    /// Datagrams for no session this socket has.
    pub unknown_session: u64,
    /// Receive system calls that returned data.
    pub recv_calls: u64,
    /// Send system calls.
    pub send_calls: u64,
    /// Datagrams the kernel refused to send.
    pub send_errors: u64,
    /// Receive errors reported by the kernel (ICMP port unreachable and the like).
    pub recv_errors: u64,
}

impl kcp_socket_stats {
    pub(crate) fn of(s: &DriverStats) -> kcp_socket_stats {
        let e = &s.endpoint;
        kcp_socket_stats {
            sessions: e.sessions as u64,
            handshakes: e.handshakes as u64,
            accepted: e.accepted,
            connected: e.connected,
            closed: e.closed,
            datagrams_received: s.datagrams_in,
            bytes_received: s.bytes_in,
            datagrams_sent: s.datagrams_out,
            bytes_sent: s.bytes_out,
            dropped: s.dropped + s.truncated,
            handshake_failures: e.handshake_failures,
            forgeries: e.forgeries,
            replays: e.replays,
            unknown_session: e.unknown_session + e.unknown_source,
            recv_calls: s.recv_calls,
            send_calls: s.send_calls,
            send_errors: s.send_errors,
            recv_errors: s.recv_errors,
        }
    }
}

// No padding anywhere: the structs are copied byte for byte into the caller's memory.
const _: () = assert!(size_of::<kcp_session_stats>() == 10 * 4 + 15 * 8);
const _: () = assert!(size_of::<kcp_socket_stats>() == 18 * 8);

/// The sizes of the first published versions: the least a caller may pass. They stay at
/// these values when fields are added.
pub(crate) const SESSION_STATS_V1_SIZE: usize = size_of::<kcp_session_stats>();
/// See [`SESSION_STATS_V1_SIZE`].
pub(crate) const SOCKET_STATS_V1_SIZE: usize = size_of::<kcp_socket_stats>();
