//! One application connection (TCP, or a unix socket on the server's target side) and its
//! place in the loop.

use super::LinkKey;
use crate::smux::StreamId;
use mio::net::{TcpStream, UnixStream};
use mio::{event::Source, Interest, Registry, Token};
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

/// The socket kinds a stream can be bridged to.
#[derive(Debug)]
pub enum Socket {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix stream socket (kcptun's `--target` may be a socket path).
    Unix(UnixStream),
}

impl Socket {
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }

    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write_vectored(bufs),
            Socket::Unix(s) => s.write_vectored(bufs),
        }
    }

    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.shutdown(Shutdown::Write),
            Socket::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    /// Makes the close that follows a reset (RST) instead of an orderly FIN, so the
    /// application sees the abort the peer saw.
    pub fn abort_on_close(&self) {
        if let Socket::Tcp(s) = self {
            let _ = socket2::SockRef::from(s).set_linger(Some(std::time::Duration::ZERO));
        }
    }

    /// Whether a non-blocking connect finished: `Ok(true)` connected, `Ok(false)` still in
    /// progress, `Err` failed.
    pub fn connect_result(&self) -> io::Result<bool> {
        let (error, peer) = match self {
            Socket::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            Socket::Unix(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
        };
        if let Some(e) = error {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self {
            Socket::Tcp(s) => s.register(registry, token, interest),
            Socket::Unix(s) => s.register(registry, token, interest),
        }
    }

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Socket::Tcp(s) => registry.deregister(s),
            Socket::Unix(s) => registry.deregister(s),
        };
    }
}

/// An application connection bridged to one smux stream.
#[derive(Debug)]
pub struct Conn {
    pub socket: Socket,
    /// The link carrying the stream (client: assigned before the stream exists).
    pub link: LinkKey,
    /// The stream, once opened.
    pub stream: Option<StreamId>,
    /// Where it comes from or goes to, for the logs.
    pub peer: String,
    /// Readiness is edge-triggered: the socket may have data until a read says otherwise.
    pub readable: bool,
    /// The socket took everything last time; false after a short or refused write.
    pub writable: bool,
    /// Waiting in its link's ready queue.
    pub queued: bool,
    /// The application ended its direction; the stream's `FIN` is queued.
    pub read_done: bool,
    /// The peer ended its direction and the socket was shut down for writing.
    pub write_done: bool,
    /// A server-side dial still in progress.
    pub connecting: bool,
}

impl Conn {
    pub fn new(socket: Socket, link: LinkKey, peer: String) -> Conn {
        Conn {
            socket,
            link,
            stream: None,
            peer,
            readable: true,
            writable: true,
            queued: false,
            read_done: false,
            write_done: false,
            connecting: false,
        }
    }

    /// Both directions ended: the connection can go.
    pub fn is_done(&self) -> bool {
        self.read_done && self.write_done
    }

    /// Has data to send and is not already queued for it.
    pub fn wants_queue(&self) -> bool {
        self.readable
            && !self.queued
            && !self.read_done
            && !self.connecting
            && self.stream.is_some()
    }
}
