//! What a driver and its sessions report.

use super::batch::{Offloads, RecvBatch, SendBatch};
use super::socket::BufferSizes;
use crate::endpoint::EndpointStats;
use crate::session::Snmp;
use crate::Session;
use std::net::SocketAddr;

/// One session's state and counters, read at any time with
/// [`Driver::session_stats`](super::Driver::session_stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionStats {
    /// Where its datagrams go.
    pub remote: SocketAddr,
    /// kcp-go's counter set for the session.
    pub snmp: Snmp,
    /// Smoothed round-trip time (ms).
    pub srtt: u32,
    /// Round-trip time variation (ms).
    pub rttvar: u32,
    /// Retransmission timeout (ms).
    pub rto: u32,
    /// Own send window (segments).
    pub send_window: u16,
    /// Own receive window (segments).
    pub recv_window: u16,
    /// The peer's advertised receive window (segments).
    pub remote_window: u32,
    /// Congestion window (segments).
    pub congestion_window: u32,
    /// Segments sent and not yet acknowledged.
    pub in_flight: u32,
    /// Segments queued or in flight.
    pub wait_send: u32,
    /// Datagrams FEC rebuilt.
    pub fec_recovered: u64,
}

impl SessionStats {
    pub(crate) fn of(session: &Session, remote: SocketAddr) -> SessionStats {
        let arq = session.arq();
        SessionStats {
            remote,
            snmp: session.snmp(),
            srtt: arq.srtt(),
            rttvar: arq.rttvar(),
            rto: arq.rto(),
            send_window: arq.config().send_window,
            recv_window: arq.config().recv_window,
            remote_window: arq.remote_window(),
            congestion_window: arq.congestion_window(),
            in_flight: arq.in_flight(),
            wait_send: arq.wait_send(),
            fec_recovered: session.fec_stats().recovered,
        }
    }
}

/// A driver's counters: the socket's side, then its multiplexer's
/// ([`EndpointStats`]: sessions, handshakes, drops by reason). Totals since creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverStats {
    /// The multiplexer's counters.
    pub endpoint: EndpointStats,
    /// Datagrams read from the socket (GRO runs counted per datagram).
    pub datagrams_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Datagrams the sessions produced for the socket (handshake replies not included).
    pub datagrams_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Datagrams the socket took (all kinds).
    pub datagrams_sent: u64,
    /// Receive calls that returned data.
    pub recv_calls: u64,
    /// Send system calls.
    pub send_calls: u64,
    /// Datagrams the multiplexer dropped (see `endpoint` for why).
    pub dropped: u64,
    /// Handshake replies sent.
    pub replies: u64,
    /// Handshake replies dropped because the socket was full.
    pub replies_dropped: u64,
    /// Datagrams the kernel refused to send (per-destination errors).
    pub send_errors: u64,
    /// Receive errors from ICMP reports (port unreachable and the like).
    pub recv_errors: u64,
    /// Datagrams longer than the receive buffer, dropped.
    pub truncated: u64,
    /// Sleeps in the kernel (each `poll` wake-up).
    pub waits: u64,
    /// Timer rounds run.
    pub timer_runs: u64,
    /// The offloads in use.
    pub offloads: Offloads,
    /// Whether UDP GSO was switched off after the kernel refused it.
    pub gso_disabled: bool,
    /// The socket buffer sizes asked for and granted.
    pub buffers: BufferSizes,
}

/// The driver's own running counts.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) datagrams_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) datagrams_out: u64,
    pub(crate) bytes_out: u64,
    pub(crate) recv_calls: u64,
    pub(crate) dropped: u64,
    pub(crate) replies: u64,
    pub(crate) replies_dropped: u64,
    pub(crate) recv_errors: u64,
    pub(crate) waits: u64,
    pub(crate) timer_runs: u64,
}

impl Counters {
    pub(crate) fn report(
        &self,
        endpoint: EndpointStats,
        tx: &SendBatch,
        rx: &RecvBatch,
        buffers: BufferSizes,
    ) -> DriverStats {
        DriverStats {
            endpoint,
            datagrams_in: self.datagrams_in,
            bytes_in: self.bytes_in,
            datagrams_out: self.datagrams_out,
            bytes_out: self.bytes_out,
            datagrams_sent: tx.sent(),
            recv_calls: self.recv_calls,
            send_calls: tx.syscalls(),
            dropped: self.dropped,
            replies: self.replies,
            replies_dropped: self.replies_dropped,
            send_errors: tx.errors(),
            recv_errors: self.recv_errors,
            truncated: rx.truncated(),
            waits: self.waits,
            timer_runs: self.timer_runs,
            offloads: Offloads {
                gro: rx.offloads().gro,
                ..tx.offloads()
            },
            gso_disabled: tx.gso_disabled(),
            buffers,
        }
    }
}
