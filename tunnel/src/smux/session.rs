//! One smux session: the streams multiplexed over one byte stream, sans IO.

use super::frame::{Cmd, Header, HEADER_LEN, MAX_PAYLOAD, UPD_LEN};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// The window a v2 sender assumes before the reader's first `UPD` (smux's initial peer
/// window).
pub const INITIAL_PEER_WINDOW: u32 = 262_144;

/// How a [`Mux`] behaves. Both ends must agree on `version`; the rest is local.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// smux protocol version: 1 (no per-stream flow control) or 2 (`UPD` windows).
    pub version: u8,
    /// Largest `PSH` payload this side sends (smux's MaxFrameSize, 32768 by default).
    pub max_frame: usize,
    /// Received bytes buffered over all streams before the owner should stop handing input
    /// ([`Mux::wants_input`]): smux's MaxReceiveBuffer, kcptun's `--smuxbuf`.
    pub max_receive_buffer: usize,
    /// The v2 window this side advertises per stream: kcptun's `--streambuf`.
    pub max_stream_buffer: u32,
    /// Send a `NOP` this often (`None`: never; a native tunnel's transport has keepalives).
    pub keepalive_interval: Option<Duration>,
    /// Fail the session when no frame at all arrived during this long (smux: 30 s).
    pub keepalive_timeout: Option<Duration>,
    /// The client side opens odd stream ids (3, 5, ...), the server even ones.
    pub client: bool,
    /// Carry stream resets as `RST` frames. Only a `kcp-tunnel` peer understands them; with
    /// kcptun a reset becomes a `FIN`.
    pub resets: bool,
    /// Streams open at once; a peer's `SYN` beyond this is refused.
    pub max_streams: usize,
}

impl Config {
    /// smux's defaults for `version`: frames of 32 KiB, a 4 MiB receive buffer, 2 MiB per
    /// stream (v2), a `NOP` every 10 s and a 30 s timeout, no resets, 65,535 streams.
    pub fn new(version: u8, client: bool) -> Config {
        Config {
            version,
            max_frame: 32_768,
            max_receive_buffer: 4 << 20,
            max_stream_buffer: 2 << 20,
            keepalive_interval: Some(Duration::from_secs(10)),
            keepalive_timeout: Some(Duration::from_secs(30)),
            client,
            resets: false,
            max_streams: 65_535,
        }
    }
}

/// A stream's id within its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What happened to a stream, for the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The peer opened a stream.
    Opened(StreamId),
    /// Data is waiting in [`Mux::received`] (said when the buffer stops being empty).
    Readable(StreamId),
    /// The peer ended its direction: after the buffered data, the stream's input is over.
    Finished(StreamId),
    /// The peer aborted the stream; it is gone, with whatever it had buffered.
    Reset(StreamId),
    /// A v2 stream whose window was exhausted may send again.
    Writable(StreamId),
}

/// Why a session failed. Every one ends the session: smux has no recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmuxError {
    /// A frame carried another protocol version than ours.
    Version {
        /// Ours.
        expected: u8,
        /// The frame's.
        got: u8,
    },
    /// A frame carried a command this session does not know.
    Command(u8),
    /// Nothing arrived for a whole keepalive timeout.
    KeepaliveTimeout,
    /// This side has used every stream id.
    StreamIdsExhausted,
}

impl fmt::Display for SmuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            // A snappy stream starts with 0xff: the peer compresses and we do not.
            SmuxError::Version { got: 0xff, .. } => f.write_str(
                "the peer's data is snappy-compressed and ours is not: set --nocomp on both ends or on neither",
            ),
            SmuxError::Version { expected, got } if got == 1 || got == 2 => write!(
                f,
                "the peer speaks smux version {got} and we speak {expected}: both ends need the same --smuxver"
            ),
            SmuxError::Version { expected, got } => write!(
                f,
                "invalid smux frame (version byte {got}, expected {expected}): the ends' --crypt, --key, --datashard/--parityshard, --nocomp or --smuxver differ"
            ),
            SmuxError::Command(cmd) => write!(
                f,
                "invalid smux command {cmd}: the ends' --smuxver or other settings differ"
            ),
            SmuxError::KeepaliveTimeout => {
                f.write_str("nothing heard from the peer for a whole smux keepalive timeout")
            }
            SmuxError::StreamIdsExhausted => f.write_str("every smux stream id is used up"),
        }
    }
}

impl std::error::Error for SmuxError {}

/// Counters of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MuxStats {
    /// Frames parsed.
    pub frames_in: u64,
    /// Frames queued for sending.
    pub frames_out: u64,
    /// Stream payload bytes received.
    pub bytes_in: u64,
    /// Stream payload bytes sent.
    pub bytes_out: u64,
    /// Payload bytes for streams that no longer exist (or ended), dropped.
    pub discarded: u64,
    /// Peer `SYN`s refused because [`Config::max_streams`] streams were open.
    pub refused: u64,
}

/// One stream's state.
#[derive(Debug)]
struct Stream {
    /// Received, not yet taken by the owner.
    recv: VecDeque<u8>,
    /// The peer sent `FIN`.
    recv_fin: bool,
    /// We sent `FIN`.
    sent_fin: bool,
    /// v2 reader: bytes taken by the owner, cumulative mod 2^32.
    consumed: u32,
    /// v2 reader: taken since the last `UPD` we sent.
    unreported: u32,
    /// v2 reader: an `UPD` was sent (the first read always sends one).
    reported: bool,
    /// v2 writer: payload bytes sent, cumulative mod 2^32.
    written: u32,
    /// v2 writer: the peer's last reported consumption and window.
    peer_consumed: u32,
    peer_window: u32,
    /// v2 writer: the window ran out; say [`Event::Writable`] when it reopens.
    starved: bool,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            recv: VecDeque::new(),
            recv_fin: false,
            sent_fin: false,
            consumed: 0,
            unreported: 0,
            reported: false,
            written: 0,
            peer_consumed: 0,
            peer_window: INITIAL_PEER_WINDOW,
            starved: false,
        }
    }

    /// Both directions ended and everything received was taken.
    fn is_done(&self) -> bool {
        self.sent_fin && self.recv_fin && self.recv.is_empty()
    }

    /// v2: payload bytes the peer lets us send now.
    fn window_room(&self) -> usize {
        let in_flight = self.written.wrapping_sub(self.peer_consumed);
        self.peer_window.saturating_sub(in_flight) as usize
    }
}

/// The frame being parsed.
#[derive(Clone, Copy, Debug)]
struct Partial {
    cmd: Cmd,
    stream: u32,
    /// Payload bytes still to come.
    remaining: usize,
    /// `UPD` payload collected so far.
    upd: [u8; UPD_LEN],
    upd_len: usize,
}

/// An smux session: parses the peer's frames into per-stream buffers and events, and
/// queues this side's frames in an output buffer, in the order they were produced. It does
/// no I/O and keeps no clock: time comes in as arguments.
///
/// The owner's loop:
///
/// - hands the peer's bytes to [`Mux::handle_input`] while [`Mux::wants_input`], then takes
///   the [`Event`]s from [`Mux::poll_event`];
/// - moves received data out with [`Mux::received`] and [`Mux::consume`];
/// - sends data with [`Mux::reserve`] and [`Mux::commit`] (the payload is written straight
///   into the output buffer), ends streams with [`Mux::finish`] or [`Mux::reset`];
/// - sends [`Mux::output`] to the peer and reports it with [`Mux::advance_output`];
/// - calls [`Mux::handle_timeout`] at [`Mux::poll_timeout`].
#[derive(Debug)]
pub struct Mux {
    config: Config,
    streams: HashMap<u32, Stream>,
    events: VecDeque<Event>,
    /// Frames to send; `out[sent..]` is still pending.
    out: Vec<u8>,
    sent: usize,
    /// A `PSH` header reserved at this offset by [`Mux::reserve`], not yet committed.
    reserved: Option<(usize, u32)>,
    head: [u8; HEADER_LEN],
    head_len: usize,
    partial: Option<Partial>,
    /// Received bytes buffered over all streams.
    buffered: usize,
    next_id: u32,
    next_nop: Option<Instant>,
    next_check: Option<Instant>,
    /// A frame arrived since the last keepalive check.
    heard: bool,
    failed: Option<SmuxError>,
    stats: MuxStats,
}

impl Mux {
    /// A session starting at `now`.
    pub fn new(config: Config, now: Instant) -> Mux {
        Mux {
            next_id: if config.client { 1 } else { 0 },
            next_nop: config.keepalive_interval.map(|d| now + d),
            next_check: config.keepalive_timeout.map(|d| now + d),
            config,
            streams: HashMap::new(),
            events: VecDeque::new(),
            out: Vec::new(),
            sent: 0,
            reserved: None,
            head: [0; HEADER_LEN],
            head_len: 0,
            partial: None,
            buffered: 0,
            heard: false,
            failed: None,
            stats: MuxStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// Why the session failed, if it did.
    pub fn error(&self) -> Option<SmuxError> {
        self.failed
    }

    /// Streams open (in either direction).
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Received bytes buffered over all streams.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Whether the owner should hand more input: false once the receive buffer is full
    /// (which is how smux pushes back on a fast sender) or the session failed.
    pub fn wants_input(&self) -> bool {
        self.failed.is_none() && self.buffered < self.config.max_receive_buffer
    }

    /// Parses the peer's bytes, any amount, split anywhere. All of `data` is consumed; on
    /// an error the session is dead and refuses everything after.
    pub fn handle_input(&mut self, mut data: &[u8]) -> Result<(), SmuxError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        while !data.is_empty() {
            let Some(mut partial) = self.partial else {
                let take = (HEADER_LEN - self.head_len).min(data.len());
                self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
                self.head_len += take;
                data = &data[take..];
                if self.head_len == HEADER_LEN {
                    self.head_len = 0;
                    let header = Header::decode(&self.head);
                    if let Err(e) = self.start_frame(header) {
                        self.failed = Some(e);
                        return Err(e);
                    }
                }
                continue;
            };
            let take = partial.remaining.min(data.len());
            let (chunk, rest) = data.split_at(take);
            data = rest;
            partial.remaining -= take;
            match partial.cmd {
                Cmd::Psh => self.deliver(partial.stream, chunk),
                Cmd::Upd if self.config.version >= 2 => {
                    let room = UPD_LEN.saturating_sub(partial.upd_len).min(chunk.len());
                    partial.upd[partial.upd_len..partial.upd_len + room]
                        .copy_from_slice(&chunk[..room]);
                    partial.upd_len += room;
                }
                // A payload on a command that has none (or a v1 `UPD`) is skipped.
                _ => {}
            }
            if partial.remaining == 0 {
                self.partial = None;
                if partial.cmd == Cmd::Upd && partial.upd_len == UPD_LEN {
                    self.window_update(partial.stream, &partial.upd);
                }
            } else {
                self.partial = Some(partial);
            }
        }
        Ok(())
    }

    /// Acts on a complete header; commands with a payload continue in `partial`.
    fn start_frame(&mut self, header: Header) -> Result<(), SmuxError> {
        if header.version != self.config.version {
            return Err(SmuxError::Version {
                expected: self.config.version,
                got: header.version,
            });
        }
        let cmd = match Cmd::from_byte(header.cmd) {
            Some(Cmd::Rst) if !self.config.resets => return Err(SmuxError::Command(header.cmd)),
            Some(cmd) => cmd,
            None => return Err(SmuxError::Command(header.cmd)),
        };
        self.stats.frames_in += 1;
        self.heard = true;
        let id = header.stream;
        match cmd {
            Cmd::Syn => self.peer_opened(id),
            Cmd::Fin => {
                if let Some(stream) = self.streams.get_mut(&id) {
                    if !stream.recv_fin {
                        stream.recv_fin = true;
                        self.events.push_back(Event::Finished(StreamId(id)));
                        self.remove_if_done(id);
                    }
                }
            }
            Cmd::Rst => {
                if let Some(stream) = self.streams.remove(&id) {
                    self.buffered -= stream.recv.len();
                    self.events.push_back(Event::Reset(StreamId(id)));
                }
            }
            Cmd::Psh | Cmd::Nop | Cmd::Upd => {}
        }
        if header.length > 0 {
            self.partial = Some(Partial {
                cmd,
                stream: id,
                remaining: usize::from(header.length),
                upd: [0; UPD_LEN],
                upd_len: 0,
            });
        }
        Ok(())
    }

    fn peer_opened(&mut self, id: u32) {
        if self.streams.contains_key(&id) {
            return;
        }
        if self.streams.len() >= self.config.max_streams {
            self.stats.refused += 1;
            let cmd = if self.config.resets {
                Cmd::Rst
            } else {
                Cmd::Fin
            };
            self.push_frame(cmd, id, &[]);
            return;
        }
        self.streams.insert(id, Stream::new());
        self.events.push_back(Event::Opened(StreamId(id)));
    }

    fn deliver(&mut self, id: u32, data: &[u8]) {
        match self.streams.get_mut(&id) {
            Some(stream) if !stream.recv_fin => {
                if stream.recv.is_empty() && !data.is_empty() {
                    self.events.push_back(Event::Readable(StreamId(id)));
                }
                stream.recv.extend(data);
                self.buffered += data.len();
                self.stats.bytes_in += data.len() as u64;
            }
            _ => self.stats.discarded += data.len() as u64,
        }
    }

    fn window_update(&mut self, id: u32, payload: &[u8; UPD_LEN]) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        stream.peer_consumed = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        stream.peer_window = u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]);
        if stream.starved && stream.window_room() > 0 && !stream.sent_fin {
            stream.starved = false;
            self.events.push_back(Event::Writable(StreamId(id)));
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Opens a stream (its `SYN` is queued).
    pub fn open(&mut self) -> Result<StreamId, SmuxError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let id = match self.next_id.checked_add(2) {
            Some(id) => id,
            None => return Err(SmuxError::StreamIdsExhausted),
        };
        self.next_id = id;
        self.streams.insert(id, Stream::new());
        self.push_frame(Cmd::Syn, id, &[]);
        Ok(StreamId(id))
    }

    /// Whether the stream exists (it ends when both directions ended and its input was
    /// taken, or on a reset).
    pub fn is_open(&self, id: StreamId) -> bool {
        self.streams.contains_key(&id.0)
    }

    /// The stream's received data, as the two halves of its ring buffer (empty if none, or
    /// if the stream is unknown).
    pub fn received(&self, id: StreamId) -> (&[u8], &[u8]) {
        match self.streams.get(&id.0) {
            Some(stream) => stream.recv.as_slices(),
            None => (&[], &[]),
        }
    }

    /// Whether the stream's input is over: the peer finished and everything was taken.
    pub fn input_done(&self, id: StreamId) -> bool {
        self.streams
            .get(&id.0)
            .is_none_or(|s| s.recv_fin && s.recv.is_empty())
    }

    /// Marks `n` bytes of [`Mux::received`] as taken. In v2 this reports consumption to the
    /// peer (an `UPD` on the first read, then after every half window).
    pub fn consume(&mut self, id: StreamId, n: usize) {
        let Some(stream) = self.streams.get_mut(&id.0) else {
            return;
        };
        let n = n.min(stream.recv.len());
        stream.recv.drain(..n);
        self.buffered -= n;
        if self.config.version >= 2 && !stream.recv_fin {
            stream.consumed = stream.consumed.wrapping_add(n as u32);
            stream.unreported = stream.unreported.saturating_add(n as u32);
            if !stream.reported || stream.unreported >= self.config.max_stream_buffer / 2 {
                stream.reported = true;
                stream.unreported = 0;
                let mut payload = [0; UPD_LEN];
                payload[..4].copy_from_slice(&stream.consumed.to_le_bytes());
                payload[4..].copy_from_slice(&self.config.max_stream_buffer.to_le_bytes());
                self.push_frame(Cmd::Upd, id.0, &payload);
            }
        }
        self.remove_if_done(id.0);
    }

    /// Payload bytes the stream may send now: 0 once it finished, its v2 window's room
    /// otherwise, at most one frame.
    pub fn send_room(&self, id: StreamId) -> usize {
        match self.streams.get(&id.0) {
            Some(stream) if !stream.sent_fin && self.failed.is_none() => {
                let room = if self.config.version >= 2 {
                    stream.window_room()
                } else {
                    usize::MAX
                };
                room.min(self.config.max_frame).min(MAX_PAYLOAD)
            }
            _ => 0,
        }
    }

    /// Reserves a `PSH` frame for the stream at the end of the output and returns its
    /// payload space ([`Mux::send_room`] bytes; empty if it has none). Fill a prefix, then
    /// [`Mux::commit`] its length; a reservation not committed is dropped by the next call
    /// that queues a frame. With an empty result, a v2 stream says [`Event::Writable`] when
    /// its window reopens.
    pub fn reserve(&mut self, id: StreamId) -> &mut [u8] {
        self.drop_reservation();
        let room = self.send_room(id);
        if room == 0 {
            if let Some(stream) = self.streams.get_mut(&id.0) {
                stream.starved = !stream.sent_fin;
            }
            return &mut [];
        }
        let start = self.out.len();
        self.reserved = Some((start, id.0));
        self.out.resize(start + HEADER_LEN + room, 0);
        &mut self.out[start + HEADER_LEN..]
    }

    /// Queues the first `n` bytes of the reservation as the stream's data (0: nothing).
    pub fn commit(&mut self, n: usize) {
        let Some((start, id)) = self.reserved.take() else {
            return;
        };
        let room = self.out.len() - start - HEADER_LEN;
        let n = n.min(room);
        if n == 0 {
            self.out.truncate(start);
            return;
        }
        self.out.truncate(start + HEADER_LEN + n);
        let header = Header {
            version: self.config.version,
            cmd: Cmd::Psh.byte(),
            length: n as u16,
            stream: id,
        };
        self.out[start..start + HEADER_LEN].copy_from_slice(&header.encode());
        self.stats.frames_out += 1;
        self.stats.bytes_out += n as u64;
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.written = stream.written.wrapping_add(n as u32);
        }
    }

    /// Queues a whole buffer as the stream's data, in as many frames as the room allows;
    /// returns the bytes taken. For callers that hold the data already (tests, the bench);
    /// the tunnel fills reservations in place.
    pub fn write(&mut self, id: StreamId, mut data: &[u8]) -> usize {
        let mut taken = 0;
        while !data.is_empty() {
            let room = self.reserve(id);
            let n = room.len().min(data.len());
            if n == 0 {
                break;
            }
            room[..n].copy_from_slice(&data[..n]);
            self.commit(n);
            data = &data[n..];
            taken += n;
        }
        taken
    }

    /// Ends this side's direction of the stream (`FIN`); reading goes on until the peer
    /// finishes.
    pub fn finish(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get_mut(&id.0) else {
            return;
        };
        if stream.sent_fin {
            return;
        }
        stream.sent_fin = true;
        stream.starved = false;
        self.push_frame(Cmd::Fin, id.0, &[]);
        self.remove_if_done(id.0);
    }

    /// Aborts the stream: it is forgotten at once with what it had buffered, and the peer is
    /// told with `RST` (with [`Config::resets`]) or `FIN` (kcptun knows nothing better).
    pub fn reset(&mut self, id: StreamId) {
        let Some(stream) = self.streams.remove(&id.0) else {
            return;
        };
        self.buffered -= stream.recv.len();
        if self.config.resets {
            self.push_frame(Cmd::Rst, id.0, &[]);
        } else if !stream.sent_fin {
            self.push_frame(Cmd::Fin, id.0, &[]);
        }
    }

    fn remove_if_done(&mut self, id: u32) {
        if self.streams.get(&id).is_some_and(Stream::is_done) {
            self.streams.remove(&id);
        }
    }

    /// The frames queued and not yet sent.
    pub fn output(&self) -> &[u8] {
        let end = self.reserved.map_or(self.out.len(), |(start, _)| start);
        &self.out[self.sent..end]
    }

    /// Reports that the first `n` bytes of [`Mux::output`] were sent.
    pub fn advance_output(&mut self, n: usize) {
        self.sent += n.min(self.output().len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent >= 64 << 10 && self.reserved.is_none() {
            // Keep the buffer from creeping: move the unsent tail to the front now and then.
            self.out.drain(..self.sent);
            self.sent = 0;
        }
    }

    fn drop_reservation(&mut self) {
        if let Some((start, _)) = self.reserved.take() {
            self.out.truncate(start);
        }
    }

    fn push_frame(&mut self, cmd: Cmd, stream: u32, payload: &[u8]) {
        self.drop_reservation();
        let header = Header {
            version: self.config.version,
            cmd: cmd.byte(),
            length: payload.len() as u16,
            stream,
        };
        self.out.extend_from_slice(&header.encode());
        self.out.extend_from_slice(payload);
        self.stats.frames_out += 1;
    }

    /// When [`Mux::handle_timeout`] must run next (`None`: keepalives are off).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_nop, self.next_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends the keepalive and checks that the peer was heard from, when due.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), SmuxError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if let (Some(at), Some(every)) = (self.next_nop, self.config.keepalive_interval) {
            if at <= now {
                self.push_frame(Cmd::Nop, 0, &[]);
                self.next_nop = Some(now + every);
            }
        }
        if let (Some(at), Some(every)) = (self.next_check, self.config.keepalive_timeout) {
            if at <= now {
                // A peer blocked by our full receive buffer is not silent by choice.
                if !self.heard && self.wants_input() {
                    self.failed = Some(SmuxError::KeepaliveTimeout);
                    return Err(SmuxError::KeepaliveTimeout);
                }
                self.heard = false;
                self.next_check = Some(now + every);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_run_out_cleanly() {
        let mut mux = Mux::new(Config::new(1, true), Instant::now());
        mux.next_id = u32::MAX - 4;
        assert_eq!(mux.open(), Ok(StreamId(u32::MAX - 2)));
        assert_eq!(mux.open(), Ok(StreamId(u32::MAX)));
        assert_eq!(mux.open(), Err(SmuxError::StreamIdsExhausted));
    }
}
