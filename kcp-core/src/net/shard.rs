//! Steering native-mode datagrams to the driver that owns their session when several drivers
//! share a port (SO_REUSEPORT): a classic BPF program picks the socket by session id instead
//! of by the peer's address, so a peer that changes address still reaches its session.

use std::io;

/// Attaches the steering program to the port's reuseport group (one socket of the group is
/// enough; the group shares it). Sockets are numbered in the order they were bound, so the
/// drivers must bind in shard order.
///
/// The program reads the first byte of the UDP payload (the sealed mode's message kind):
/// data and control datagrams (kinds 5, 6) go to shard `receiver id's first byte % count` —
/// the server picked that id in its own residue class ([`EndpointConfig::id_shard`]);
/// Hellos and Initiations (kinds 1, 3) go to shard `client id's first byte % count`, so both
/// halves of one handshake meet the same cookie secret. Anything else returns an index past
/// the group, which makes the kernel fall back to its address hash.
///
/// [`EndpointConfig::id_shard`]: crate::EndpointConfig::id_shard
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn steer_by_session_id(socket: &mio::net::UdpSocket, count: u8) -> io::Result<()> {
    use crate::sealed::handshake::kind;
    use std::os::fd::AsRawFd;

    const LD_B_ABS: u16 = 0x30;
    const JEQ_K: u16 = 0x15;
    const MOD_K: u16 = 0x94;
    const RET_A: u16 = 0x16;
    const RET_K: u16 = 0x06;
    const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // Jump offsets count from the next instruction.
    let program = [
        op(LD_B_ABS, 0, 0, 0),
        op(JEQ_K, 3, 0, u32::from(kind::DATA)),
        op(JEQ_K, 2, 0, u32::from(kind::CONTROL)),
        op(JEQ_K, 4, 0, u32::from(kind::HELLO)),
        op(JEQ_K, 3, 6, u32::from(kind::INITIATION)),
        // 5: sealed datagrams, [kind][receiver id, little-endian]: its low byte.
        op(LD_B_ABS, 0, 0, 1),
        op(MOD_K, 0, 0, u32::from(count)),
        op(RET_A, 0, 0, 0),
        // 8: Hello / Initiation, [kind][version][client id, little-endian]: its low byte.
        op(LD_B_ABS, 0, 0, 2),
        op(MOD_K, 0, 0, u32::from(count)),
        op(RET_A, 0, 0, 0),
        // 11: not ours to steer.
        op(RET_K, 0, 0, u32::MAX),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies the
    // program during setsockopt. The descriptor belongs to `socket`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            core::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Without Linux's reuseport BPF there is nothing to steer with.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn steer_by_session_id(_: &mio::net::UdpSocket, _: u8) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "steering by session id needs Linux (SO_ATTACH_REUSEPORT_CBPF)",
    ))
}
