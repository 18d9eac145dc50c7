//! The UDP socket a driver owns: created with `socket2` so the options `std` lacks can be set
//! before `bind`, then handed to mio.

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// How the driver's socket is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketConfig {
    /// The local address (port 0: any free port; `0.0.0.0` / `[::]`: every interface).
    pub bind: SocketAddr,
    /// SO_RCVBUF in bytes, or the kernel's default. Bulk transfers and servers with many
    /// sessions want several MiB: a burst that overflows it is loss the ARQ must repair.
    pub recv_buffer: Option<usize>,
    /// SO_SNDBUF in bytes, or the kernel's default.
    pub send_buffer: Option<usize>,
    /// The DSCP code point (0-63) in the IPv4 TOS / IPv6 traffic class byte, e.g. 46 (EF) for
    /// game traffic on networks that honour it.
    pub dscp: Option<u8>,
    /// SO_REUSEPORT: several drivers (one per thread) bind the same port and the kernel
    /// spreads peers across them by address hash.
    pub reuse_port: bool,
    /// For an IPv6 address: whether to refuse IPv4-mapped peers (IPV6_V6ONLY); the system
    /// default when `None`.
    pub only_v6: Option<bool>,
}

impl SocketConfig {
    /// A socket at `bind`: 4 MiB buffers each way, no DSCP, no port sharing.
    pub fn new(bind: SocketAddr) -> SocketConfig {
        SocketConfig {
            bind,
            recv_buffer: Some(4 << 20),
            send_buffer: Some(4 << 20),
            dscp: None,
            reuse_port: false,
            only_v6: None,
        }
    }
}

/// What the kernel made of the requested buffer sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferSizes {
    /// SO_RCVBUF as asked.
    pub recv_asked: Option<usize>,
    /// SO_RCVBUF as granted (Linux reports twice the usable size it books).
    pub recv_granted: usize,
    /// SO_SNDBUF as asked.
    pub send_asked: Option<usize>,
    /// SO_SNDBUF as granted.
    pub send_granted: usize,
}

impl BufferSizes {
    /// Whether the kernel gave less than was asked for either buffer (raise
    /// `net.core.rmem_max` / `wmem_max`, or run with CAP_NET_ADMIN).
    pub fn clamped(&self) -> bool {
        self.recv_asked.is_some_and(|a| self.recv_granted < a)
            || self.send_asked.is_some_and(|a| self.send_granted < a)
    }
}

/// Opens, configures and binds the socket, non-blocking.
pub(crate) fn open(config: &SocketConfig) -> io::Result<(mio::net::UdpSocket, BufferSizes)> {
    let domain = Domain::for_address(config.bind);
    let socket = Socket::new(domain, Type::DGRAM.nonblocking(), Some(Protocol::UDP))?;
    if let (SocketAddr::V6(_), Some(only)) = (config.bind, config.only_v6) {
        socket.set_only_v6(only)?;
    }
    if config.reuse_port {
        set_reuse_port(&socket)?;
    }
    if let Some(dscp) = config.dscp {
        if dscp > 63 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("DSCP {dscp} is not a 6-bit code point (0-63)"),
            ));
        }
        let tos = u32::from(dscp) << 2;
        match config.bind {
            SocketAddr::V4(_) => socket.set_tos_v4(tos)?,
            SocketAddr::V6(_) => set_tclass(&socket, tos)?,
        }
    }
    let sizes = set_buffers(&socket, config)?;
    socket.bind(&config.bind.into())?;
    let std_socket: std::net::UdpSocket = socket.into();
    Ok((mio::net::UdpSocket::from_std(std_socket), sizes))
}

#[cfg(unix)]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(unix))]
fn set_reuse_port(_: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not available on this platform",
    ))
}

#[cfg(unix)]
fn set_tclass(socket: &Socket, tclass: u32) -> io::Result<()> {
    socket.set_tclass_v6(tclass)
}

#[cfg(not(unix))]
fn set_tclass(_: &Socket, _: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "IPv6 traffic class is not settable on this platform",
    ))
}

/// Sets both buffer sizes. A size above the system maximum is retried with the privileged
/// FORCE option (root or CAP_NET_ADMIN may exceed it); what is still short is logged, since a
/// small receive buffer silently turns bursts into loss.
fn set_buffers(socket: &Socket, config: &SocketConfig) -> io::Result<BufferSizes> {
    let mut sizes = BufferSizes {
        recv_asked: config.recv_buffer,
        send_asked: config.send_buffer,
        ..BufferSizes::default()
    };
    if let Some(size) = config.recv_buffer {
        socket.set_recv_buffer_size(size)?;
        if socket.recv_buffer_size()? < size {
            force_buffer(socket, Direction::Recv, size);
        }
    }
    if let Some(size) = config.send_buffer {
        socket.set_send_buffer_size(size)?;
        if socket.send_buffer_size()? < size {
            force_buffer(socket, Direction::Send, size);
        }
    }
    sizes.recv_granted = socket.recv_buffer_size()?;
    sizes.send_granted = socket.send_buffer_size()?;
    if sizes.clamped() {
        log::warn!(
            "UDP socket buffers clamped by the kernel: receive {} of {:?} bytes, send {} of {:?} \
             bytes asked; raise net.core.rmem_max / net.core.wmem_max (or run with \
             CAP_NET_ADMIN) to avoid loss under bursts",
            sizes.recv_granted,
            sizes.recv_asked,
            sizes.send_granted,
            sizes.send_asked
        );
    }
    Ok(sizes)
}

#[derive(Clone, Copy)]
enum Direction {
    Recv,
    Send,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn force_buffer(socket: &Socket, direction: Direction, size: usize) {
    let option = match direction {
        Direction::Recv => libc::SO_RCVBUFFORCE,
        Direction::Send => libc::SO_SNDBUFFORCE,
    };
    let value = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // Failing (no privilege) is expected and leaves the clamped size, reported by the caller.
    let _ = setsockopt_int(&SockRef::from(socket), libc::SOL_SOCKET, option, value);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn force_buffer(_: &Socket, _: Direction, _: usize) {}

/// Sets an integer socket option (the few socket2 does not wrap).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn setsockopt_int(
    socket: &SockRef<'_>,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the pointer and length describe `value`, a live c_int, for the whole call; the
    // descriptor is owned by `socket`, borrowed for the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&value as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_v4_and_reports_buffers() {
        let mut config = SocketConfig::new("127.0.0.1:0".parse().unwrap());
        config.dscp = Some(46);
        let (socket, sizes) = open(&config).unwrap();
        assert!(socket.local_addr().unwrap().port() != 0);
        assert_eq!(sizes.recv_asked, Some(4 << 20));
        assert!(sizes.recv_granted > 0 && sizes.send_granted > 0);
        // Linux reports the TOS byte back: DSCP 46 shifted past the two ECN bits.
        assert_eq!(SockRef::from(&socket).tos_v4().unwrap(), 46 << 2);
    }

    #[test]
    fn refuses_a_dscp_wider_than_six_bits() {
        let mut config = SocketConfig::new("127.0.0.1:0".parse().unwrap());
        config.dscp = Some(64);
        let err = open(&config).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn two_sockets_share_a_port_with_reuse_port_only() {
        let mut config = SocketConfig::new("127.0.0.1:0".parse().unwrap());
        config.reuse_port = true;
        let (first, _) = open(&config).unwrap();
        config.bind = first.local_addr().unwrap();
        let (second, _) = open(&config).unwrap();
        assert_eq!(second.local_addr().unwrap(), config.bind);
        config.reuse_port = false;
        assert!(open(&config).is_err());
    }

    #[test]
    fn binds_v6_when_the_host_has_it() {
        let mut config = SocketConfig::new("[::1]:0".parse().unwrap());
        config.only_v6 = Some(true);
        config.dscp = Some(10);
        match open(&config) {
            Ok((socket, _)) => assert!(socket.local_addr().unwrap().is_ipv6()),
            // Containers without IPv6 loopback cannot bind it; nothing to check there.
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable, "{e}"),
        }
    }
}
