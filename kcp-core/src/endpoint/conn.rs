//! One session's state on an endpoint: handshake, established, closing.

use super::config::EndpointConfig;
use super::timers::Clock;
use crate::sealed::control::{self, Control};
use crate::sealed::handshake::{self, kind, Initiator, SessionKeys, RESPONSE_LEN};
use crate::sealed::packet::{self, Opener, SealError, Sealer};
use crate::Session;
use std::net::SocketAddr;

/// First retry of a handshake message or confirmation ping (ms); later ones back off.
pub(crate) const FIRST_RETRY: u64 = 250;
/// Longest gap between handshake retries (ms): at 30 % loss each way an attempt gets through
/// about half the time, so attempts must stay frequent to finish within the timeout.
pub(crate) const MAX_RETRY: u64 = 1000;
/// Shortest gap between two path challenges of one session (ms).
pub(crate) const CHALLENGE_GAP: u64 = 200;
/// Close datagrams a closing session sends at most: one at once, then more on a backing-off
/// timer and in answer to datagrams that show the peer has not heard it. At 30 % loss all of
/// them are lost about once in 15,000 closes.
const CLOSE_SENDS: u8 = 8;
/// Shortest gap between two close datagrams (ms), so that they do not all fall in one burst
/// of loss.
pub(crate) const CLOSE_GAP: u64 = 20;
/// First timed resend of a close (ms); later ones back off within the linger time.
const CLOSE_RETRY: u64 = 100;

/// A datagram to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// Bytes at the start of the caller's buffer.
    pub len: usize,
}

/// Keepalives and idle timeouts are due on a one-second grid. They need no precision, and
/// sharing a grid lets one wake-up serve every session due in that second: 10,000 idle
/// sessions wake a driver about once a second instead of at 10,000 scattered instants, and on
/// a loaded machine each wake-up (caches gone cold while asleep) costs far more than the work.
pub(crate) const COARSE_GRID: u64 = 1_000;

/// `at` rounded up to [`COARSE_GRID`].
fn coarse(at: u64) -> u64 {
    at.div_ceil(COARSE_GRID) * COARSE_GRID
}

pub(crate) struct Conn {
    pub(crate) remote: SocketAddr,
    pub(crate) state: State,
    /// The deadline in the timer heap that counts.
    pub(crate) timer_at: Option<u64>,
    /// Whether the session is in the endpoint's queue of sessions that may have datagrams.
    pub(crate) dirty: bool,
    /// Whether [`super::Event::Readable`] was given since the data was last drained.
    pub(crate) readable_told: bool,
    /// The client's ephemeral key, for accepted sessions (finds resent Initiations).
    pub(crate) ephemeral: Option<[u8; 32]>,
}

pub(crate) enum State {
    Connecting(Box<Connecting>),
    Live(Box<Live>),
    Closing(Box<Closing>),
}

pub(crate) struct Retry {
    pub(crate) next: u64,
    pub(crate) gap: u64,
}

impl Retry {
    pub(crate) fn new(now: u64) -> Retry {
        Retry::starting_with(now, FIRST_RETRY)
    }

    pub(crate) fn starting_with(now: u64, gap: u64) -> Retry {
        Retry { next: now, gap }
    }

    /// Whether a retry is due at `now`; if so the next one is scheduled further out.
    pub(crate) fn due(&mut self, now: u64) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.gap;
        self.gap = (self.gap * 3 / 2).min(MAX_RETRY);
        true
    }
}

pub(crate) struct Connecting {
    pub(crate) initiator: Initiator,
    pub(crate) cookie: Option<[u8; handshake::COOKIE_LEN]>,
    pub(crate) started: u64,
    pub(crate) retry: Retry,
    pub(crate) send_due: bool,
    pub(crate) server_answered: bool,
}

pub(crate) struct Probe {
    pub(crate) addr: SocketAddr,
    pub(crate) data: [u8; 8],
    pub(crate) sent_at: Option<u64>,
}

pub(crate) struct Live {
    pub(crate) session: Session,
    pub(crate) sealer: Sealer,
    pub(crate) opener: Opener,
    pub(crate) peer: u32,
    pub(crate) server: bool,
    /// Server: the client's first sealed datagram arrived. Client: the server answered one.
    pub(crate) confirmed: bool,
    pub(crate) created: u64,
    /// Server: the Response, resent for a resent Initiation until confirmed.
    pub(crate) response: Option<[u8; RESPONSE_LEN]>,
    /// Client: confirmation pings until the server answers.
    pub(crate) confirm: Retry,
    pub(crate) last_recv: u64,
    pub(crate) last_send: u64,
    pub(crate) ping: bool,
    pub(crate) pong: bool,
    pub(crate) path_response: Option<([u8; 8], SocketAddr)>,
    pub(crate) probe: Option<Probe>,
}

pub(crate) struct Closing {
    pub(crate) sealer: Sealer,
    pub(crate) opener: Opener,
    pub(crate) peer: u32,
    pub(crate) code: u32,
    pub(crate) until: u64,
    pub(crate) sends_left: u8,
    pub(crate) send_due: bool,
    pub(crate) last_sent: Option<u64>,
    /// Resends on a timer too, for a peer that is quiet and would not prompt one.
    pub(crate) retry: Retry,
}

/// What a session's turn at the socket produced.
pub(crate) enum Output {
    Datagram(Transmit),
    /// Nothing more to send now.
    Idle,
    /// The key is spent: the session must close.
    KeyExhausted,
}

fn seal_control(
    sealer: &mut Sealer,
    peer: u32,
    control: Control,
    buf: &mut [u8],
) -> Result<usize, SealError> {
    let n = control.write(&mut buf[packet::HEADER_LEN..packet::HEADER_LEN + control::MAX_LEN]);
    let len = packet::HEADER_LEN + n + packet::TAG_LEN;
    sealer.seal(kind::CONTROL, peer, &mut buf[..len])?;
    Ok(len)
}

impl Live {
    /// A session just out of the handshake. A client pings at once (and until the server
    /// answers) so that the server can confirm it.
    pub(crate) fn new(session: Session, keys: &SessionKeys, server: bool, now: u64) -> Live {
        let mut confirm = Retry::new(now);
        confirm.due(now);
        Live {
            session,
            sealer: Sealer::new(&keys.send),
            opener: Opener::new(&keys.recv),
            peer: keys.peer,
            server,
            confirmed: false,
            created: now,
            response: None,
            confirm,
            last_recv: now,
            last_send: now,
            ping: !server,
            pong: false,
            path_response: None,
            probe: None,
        }
    }

    pub(crate) fn into_closing(self: Box<Live>, code: u32, now: u64, until: u64) -> Closing {
        let mut retry = Retry::starting_with(now, CLOSE_RETRY);
        retry.due(now);
        Closing {
            sealer: self.sealer,
            opener: self.opener,
            peer: self.peer,
            code,
            until,
            sends_left: CLOSE_SENDS,
            send_due: true,
            last_sent: None,
            retry,
        }
    }

    /// The next control message to send and where, if any.
    fn next_control(&mut self, now: u64, remote: SocketAddr) -> Option<(Control, SocketAddr)> {
        if let Some((data, addr)) = self.path_response.take() {
            return Some((Control::PathResponse(data), addr));
        }
        if let Some(probe) = &mut self.probe {
            if probe.sent_at.is_none() {
                probe.sent_at = Some(now);
                return Some((Control::PathChallenge(probe.data), probe.addr));
            }
        }
        if std::mem::take(&mut self.pong) {
            return Some((Control::Pong, remote));
        }
        if std::mem::take(&mut self.ping) {
            return Some((Control::Ping, remote));
        }
        None
    }

    fn transmit(
        &mut self,
        clock: Clock,
        remote: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Option<Transmit>, SealError> {
        let now = clock.now();
        if let Some((control, destination)) = self.next_control(now, remote) {
            let len = seal_control(&mut self.sealer, self.peer, control, buf)?;
            self.last_send = now;
            return Ok(Some(Transmit { destination, len }));
        }
        let Some(len) = self.session.poll_transmit(clock.wire_time(now), buf) else {
            return Ok(None);
        };
        self.sealer.seal(kind::DATA, self.peer, &mut buf[..len])?;
        self.last_send = now;
        Ok(Some(Transmit {
            destination: remote,
            len,
        }))
    }

    /// When this side should ping. The client keeps the path alive; the server only probes a
    /// client gone quiet for half a period longer than the client's own keepalive, so the
    /// two never race to ping the same quiet session (that doubled idle traffic). Rounded up
    /// to [`COARSE_GRID`], like the idle deadline.
    pub(crate) fn keepalive_at(&self, config: &EndpointConfig) -> u64 {
        let period = u64::from(config.keepalive);
        coarse(if self.server {
            self.last_send.max(self.last_recv) + period + period / 2
        } else {
            self.last_send + period
        })
    }

    /// The earliest time something is due.
    fn deadline(&self, clock: Clock, config: &EndpointConfig) -> u64 {
        let mut at =
            (self.last_recv + u64::from(config.idle_timeout)).min(self.keepalive_at(config));
        if let Some(t) = self.session.poll_timeout() {
            at = at.min(clock.extended_time(t));
        }
        if !self.confirmed {
            at = at.min(if self.server {
                self.created + u64::from(config.handshake_timeout)
            } else {
                self.confirm.next
            });
        }
        at
    }
}

impl super::timers::Scheduled for Conn {
    fn timer_at(&self) -> Option<u64> {
        self.timer_at
    }

    fn set_timer_at(&mut self, at: Option<u64>) {
        self.timer_at = at;
    }
}

impl Conn {
    /// The next datagram this session has for the socket.
    pub(crate) fn transmit(&mut self, clock: Clock, buf: &mut [u8]) -> Output {
        let remote = self.remote;
        let sent = match &mut self.state {
            State::Connecting(c) => {
                if !std::mem::take(&mut c.send_due) {
                    return Output::Idle;
                }
                let len = match &c.cookie {
                    None => {
                        let hello = handshake::hello(c.initiator.client());
                        buf[..hello.len()].copy_from_slice(&hello);
                        hello.len()
                    }
                    Some(cookie) => {
                        let init = c.initiator.initiation(cookie);
                        buf[..init.len()].copy_from_slice(&init);
                        init.len()
                    }
                };
                Ok(Some(Transmit {
                    destination: remote,
                    len,
                }))
            }
            State::Live(live) => live.transmit(clock, remote, buf),
            State::Closing(c) => {
                if !std::mem::take(&mut c.send_due) || c.sends_left == 0 {
                    return Output::Idle;
                }
                c.sends_left -= 1;
                c.last_sent = Some(clock.now());
                seal_control(&mut c.sealer, c.peer, Control::Close(c.code), buf).map(|len| {
                    Some(Transmit {
                        destination: remote,
                        len,
                    })
                })
            }
        };
        match sent {
            Ok(Some(t)) => Output::Datagram(t),
            Ok(None) => Output::Idle,
            Err(SealError::KeyExhausted) => Output::KeyExhausted,
        }
    }

    /// When the session next needs [`super::Endpoint::handle_timeout`].
    pub(crate) fn deadline(&self, clock: Clock, config: &EndpointConfig) -> u64 {
        match &self.state {
            State::Connecting(c) => c
                .retry
                .next
                .min(c.started + u64::from(config.handshake_timeout)),
            State::Live(live) => live.deadline(clock, config),
            State::Closing(c) if c.sends_left > 0 => c.until.min(c.retry.next),
            State::Closing(c) => c.until,
        }
    }

    /// Whether the session counts against the handshake limit.
    pub(crate) fn in_handshake(&self) -> bool {
        match &self.state {
            State::Connecting(_) => true,
            State::Live(live) => live.server && !live.confirmed,
            State::Closing(_) => false,
        }
    }
}
