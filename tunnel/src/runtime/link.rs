//! One KCP session of the tunnel: its smux session, the optional snappy framing around it,
//! and the streams it carries.

use crate::smux::{Mux, SmuxError, StreamId};
use crate::snappy::{FrameDecoder, FrameEncoder, SnappyError};
use kcp_core::endpoint::SessionId;
use kcp_core::net::Driver;
use kcp_core::session::Snmp;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::time::Instant;

/// Why a link failed from above the transport.
#[derive(Debug)]
pub enum LinkError {
    /// The peer's smux frames made no sense (or it went silent).
    Smux(SmuxError),
    /// The peer's snappy framing made no sense.
    Snappy(SnappyError),
    /// The driver refused a call it should not have.
    Io(io::Error),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Smux(e) => write!(f, "smux: {e}"),
            LinkError::Snappy(e) => write!(f, "snappy: {e}"),
            LinkError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Compression state, one direction each.
struct Codec {
    encoder: FrameEncoder,
    decoder: FrameDecoder,
}

/// A KCP session and what rides on it.
pub struct Link {
    pub session: SessionId,
    pub mux: Mux,
    codec: Option<Codec>,
    /// Compressed bytes the KCP session has not taken yet (`pending[sent..]`).
    pending: Vec<u8>,
    pending_sent: usize,
    /// Decompressed input, reused.
    plain: Vec<u8>,
    /// Stream → connection key.
    pub streams: HashMap<StreamId, usize>,
    /// Connections with data to send, served one frame each in turn.
    pub ready: VecDeque<usize>,
    /// When the link was made (client `--autoexpire`).
    pub created: Instant,
    /// The smux receive buffer was full: KCP input waits until the application drains it.
    pub input_paused: bool,
    /// The KCP send queue was full: output waits for the driver's `Writable`.
    pub output_blocked: bool,
    /// Queued in the loop's list of links with work.
    pub dirty: bool,
    /// The session's counters when last read (kept for the totals after it closes).
    pub last_snmp: Snmp,
    /// Since when the session has had data waiting without hearing from the peer.
    pub waiting_since: Option<Instant>,
    /// Datagrams received at the last silence check.
    pub heard_pkts: u64,
}

impl Link {
    pub fn new(session: SessionId, mux: Mux, compress: bool, now: Instant) -> Link {
        Link {
            session,
            mux,
            codec: compress.then(|| Codec {
                encoder: FrameEncoder::new(),
                decoder: FrameDecoder::new(),
            }),
            pending: Vec::new(),
            pending_sent: 0,
            plain: Vec::new(),
            streams: HashMap::new(),
            ready: VecDeque::new(),
            created: now,
            input_paused: false,
            output_blocked: false,
            dirty: false,
            last_snmp: Snmp::default(),
            waiting_since: None,
            heard_pkts: 0,
        }
    }

    /// Feeds the session's received bytes to smux while it wants them. Returns with
    /// `input_paused` set when smux's receive buffer filled up first.
    pub fn pump_input(&mut self, driver: &mut Driver, scratch: &mut [u8]) -> Result<(), LinkError> {
        self.input_paused = false;
        loop {
            if !self.mux.wants_input() {
                self.input_paused = self.mux.error().is_none();
                return Ok(());
            }
            let n = match driver.recv(self.session, scratch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(LinkError::Io(e)),
            };
            match &mut self.codec {
                Some(codec) => {
                    self.plain.clear();
                    codec
                        .decoder
                        .decode(&scratch[..n], &mut self.plain)
                        .map_err(LinkError::Snappy)?;
                    self.mux
                        .handle_input(&self.plain)
                        .map_err(LinkError::Smux)?;
                }
                None => self
                    .mux
                    .handle_input(&scratch[..n])
                    .map_err(LinkError::Smux)?,
            }
        }
    }

    /// Moves smux's output into the KCP session (compressing it on the way) until either is
    /// empty. Returns false when the session's send queue is full (`output_blocked`).
    pub fn flush_output(&mut self, driver: &mut Driver) -> Result<bool, LinkError> {
        loop {
            if self.pending_sent < self.pending.len() {
                match driver.send(self.session, &self.pending[self.pending_sent..]) {
                    Ok(n) => self.pending_sent += n,
                    Err(e) => return self.send_refused(e),
                }
                continue;
            }
            self.pending.clear();
            self.pending_sent = 0;
            let out = self.mux.output();
            if out.is_empty() {
                self.output_blocked = false;
                return Ok(true);
            }
            match &mut self.codec {
                Some(codec) => {
                    codec.encoder.encode(out, &mut self.pending);
                    let n = out.len();
                    self.mux.advance_output(n);
                }
                None => match driver.send(self.session, out) {
                    Ok(n) => self.mux.advance_output(n),
                    Err(e) => return self.send_refused(e),
                },
            }
        }
    }

    fn send_refused(&mut self, e: io::Error) -> Result<bool, LinkError> {
        if e.kind() == io::ErrorKind::WouldBlock {
            self.output_blocked = true;
            Ok(false)
        } else {
            Err(LinkError::Io(e))
        }
    }
}
