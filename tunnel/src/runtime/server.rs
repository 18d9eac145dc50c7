//! The server role: each stream a client opens becomes a connection to the target.

use super::conn::Socket;
use crate::config::Target;
use kcp_core::net::DriverConfig;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// What a server tunnel is built from.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// The UDP socket and protocol (accepting).
    pub driver: DriverConfig,
    /// Where streams are carried to.
    pub target: Target,
}

pub struct Server {
    target: Target,
    /// The target's address when it is a literal (no lookup per stream).
    literal: Option<SocketAddr>,
}

impl Server {
    pub fn new(target: Target) -> Server {
        let literal = match &target {
            Target::Tcp(name) => name.parse().ok(),
            Target::Unix(_) => None,
        };
        Server { target, literal }
    }

    /// Starts a non-blocking connection to the target.
    pub fn dial(&self) -> io::Result<Socket> {
        match &self.target {
            Target::Tcp(name) => {
                let addr = match self.literal {
                    Some(addr) => addr,
                    None => name.to_socket_addrs()?.next().ok_or_else(|| {
                        io::Error::new(io::ErrorKind::NotFound, "the name has no address")
                    })?,
                };
                let stream = mio::net::TcpStream::connect(addr)?;
                let _ = stream.set_nodelay(true);
                Ok(Socket::Tcp(stream))
            }
            Target::Unix(path) => Ok(Socket::Unix(mio::net::UnixStream::connect(path)?)),
        }
    }

    /// The target, for logs.
    pub fn target_name(&self) -> String {
        match &self.target {
            Target::Tcp(name) => name.clone(),
            Target::Unix(path) => path.display().to_string(),
        }
    }
}
