//! Counters of one state machine: traffic, retransmissions, and every kind of input dropped.

/// What a state machine has seen and done. Every datagram or segment that is dropped is counted
/// under the reason it was dropped for; nothing is discarded without a trace here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams_in: u64,
    /// Bytes handed to `handle_datagram`.
    pub bytes_in: u64,
    /// Datagrams produced by `poll_transmit`.
    pub datagrams_out: u64,
    /// Bytes produced by `poll_transmit`.
    pub bytes_out: u64,
    /// Segments accepted from valid datagrams.
    pub segments_in: u64,
    /// Data segments transmitted for the first time.
    pub data_segments_out: u64,
    /// Data segments retransmitted because their timer expired (`LostSegs`).
    pub timeout_retransmits: u64,
    /// Data segments retransmitted after duplicate acknowledgements (`FastRetransSegs`).
    pub fast_retransmits: u64,
    /// Overdue segments resent in the spare room of a datagram leaving anyway (eager mode).
    pub spare_room_retransmits: u64,
    /// Data segments retransmitted after one duplicate acknowledgement by a flush with nothing
    /// new to send ([`Config::early_retransmit`](crate::Config::early_retransmit)).
    pub early_retransmits: u64,
    /// Acknowledgements sent.
    pub acks_out: u64,
    /// Window probes (WASK) sent.
    pub window_probes_out: u64,
    /// Window tells (WINS) sent.
    pub window_tells_out: u64,
    /// Pushes received again (`RepeatSegs`); they are acknowledged again.
    pub duplicate_segments: u64,

    /// Datagrams dropped whole: shorter than a header, or a `len` past the end.
    pub dropped_truncated: u64,
    /// Datagrams dropped whole: a segment for another conversation.
    pub dropped_wrong_conv: u64,
    /// Datagrams dropped whole: an unknown command byte.
    pub dropped_unknown_command: u64,
    /// Segments dropped: a push at or past the end of the receive window.
    pub dropped_outside_window: u64,
    /// Segments dropped: a push larger than this side accepts (see `Kcp::max_recv_payload`).
    pub dropped_oversize: u64,
    /// Segments dropped: a message fragment number this side's window could never reassemble.
    pub dropped_bad_fragment: u64,
    /// Segments dropped: a cumulative ack (`una`) beyond anything sent.
    pub dropped_una_beyond_sent: u64,
    /// Segments dropped: an acknowledgement of a sequence number never sent.
    pub dropped_ack_unsent: u64,
    /// Acknowledgements not queued because the pending list was full (the peer retransmits).
    pub dropped_ack_overflow: u64,
    /// Bytes after the last whole segment of a datagram (fewer than a header; ignored).
    pub trailing_bytes: u64,
}
