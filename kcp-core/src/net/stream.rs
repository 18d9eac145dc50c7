//! Blocking `Read`/`Write` over one session, for programs that are not an event loop.

use super::driver::Driver;
use crate::endpoint::{CloseReason, SessionId};
use std::io;
use std::time::Duration;

/// One session seen as a blocking byte stream (use an ARQ in stream mode for byte semantics;
/// in message mode each `read` returns one message). It borrows the driver and runs it while
/// it waits, so the driver's other sessions keep working; their events stay queued for
/// [`Driver::next_event`].
///
/// * `read` waits for data; returns 0 once the peer closed the session (native mode), or
///   fails with the reason if it ended otherwise (timeout, dead peer).
/// * `write` waits until the session is established and its send queue takes the data, then
///   sends it.
/// * `flush` waits until the peer has acknowledged everything written: call it before
///   [`Driver::close`] for a graceful end.
#[derive(Debug)]
pub struct Stream<'d> {
    driver: &'d mut Driver,
    id: SessionId,
    timeout: Option<Duration>,
}

impl<'d> Stream<'d> {
    pub(crate) fn new(driver: &'d mut Driver, id: SessionId) -> Stream<'d> {
        Stream {
            driver,
            id,
            timeout: None,
        }
    }

    /// Gives up waiting after `timeout` with `TimedOut` (`None`, the default: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The session.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Runs `attempt` until it stops saying `WouldBlock`, driving the socket in between.
    fn wait<T>(&mut self, mut attempt: impl FnMut(&mut Driver) -> io::Result<T>) -> io::Result<T> {
        let until = self.timeout.map(|t| std::time::Instant::now() + t);
        loop {
            match attempt(self.driver) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            let wait = until.map(|u| u.saturating_duration_since(std::time::Instant::now()));
            if wait == Some(Duration::ZERO) {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "session timed out"));
            }
            self.driver.turn(wait)?;
        }
    }

    /// The error for a session that is gone, from its recorded reason.
    fn ended(&self) -> io::Error {
        match self.driver.close_reason(self.id) {
            Some(reason) => {
                let kind = match reason {
                    CloseReason::Peer(_) => io::ErrorKind::BrokenPipe,
                    CloseReason::IdleTimeout | CloseReason::HandshakeTimeout { .. } => {
                        io::ErrorKind::TimedOut
                    }
                    CloseReason::DeadPeer | CloseReason::KeyExhausted | CloseReason::Replaced => {
                        io::ErrorKind::ConnectionAborted
                    }
                };
                io::Error::new(kind, reason.to_string())
            }
            None => io::Error::new(io::ErrorKind::NotConnected, "no such session"),
        }
    }
}

impl io::Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let id = self.id;
        match self.wait(|driver| driver.recv(id, buf)) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                match self.driver.close_reason(id) {
                    Some(CloseReason::Peer(_)) => Ok(0),
                    _ => Err(self.ended()),
                }
            }
            other => other,
        }
    }
}

impl io::Write for Stream<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let id = self.id;
        let sent = self.wait(|driver| driver.send(id, data));
        match sent {
            Ok(n) => {
                self.driver.flush()?;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(self.ended()),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let id = self.id;
        self.wait(|driver| {
            if driver.remote(id).is_none() {
                return Err(io::Error::new(io::ErrorKind::NotConnected, "session gone"));
            }
            match driver.is_established(id) && driver.wait_send(id) == 0 {
                true => Ok(()),
                false => Err(io::ErrorKind::WouldBlock.into()),
            }
        })
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotConnected {
                self.ended()
            } else {
                e
            }
        })
    }
}
