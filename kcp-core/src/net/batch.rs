//! Batched UDP datagram I/O for the driver.
//!
//! A KCP endpoint moves many small datagrams; one syscall per datagram dominates its CPU cost.
//! On Linux (and Android) this module sends through `sendmmsg` and receives through `recvmmsg`,
//! and, where the kernel offers it, lets a run of equal-sized datagrams to one peer travel the
//! stack as a single GSO super-datagram (`UDP_SEGMENT`) and arrive coalesced (`UDP_GRO`).
//! Elsewhere, or when the caller switches batching off, it falls back to mio's `send_to` /
//! `recv_from`, one datagram per call; that path is compiled and tested on Linux too.
//!
//! All buffers (datagram arenas, iovecs, message headers, socket addresses, control messages)
//! are allocated once, at construction, so the steady state allocates nothing.

// Outside Linux the batched path's bookkeeping is never read.
#![cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]

use std::io;
use std::net::SocketAddr;

/// A receive slot when GRO is on: a coalesced run is at most one 64 KiB GSO packet.
const GRO_SLOT: usize = 1 << 16;

/// At most this many segments per GSO send: `UDP_MAX_SEGMENTS` was 64 until Linux 6.10 raised
/// it to 128, and exceeding it fails the whole send with EINVAL.
const MAX_GSO_SEGMENTS: usize = 64;

/// At most this many payload bytes per GSO send: the super-datagram must still fit one IP
/// packet's 16-bit length with the headers (and any IPv6 extension headers) added.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAX_GSO_BYTES: usize = 65_000;

/// The kernel processes at most `UIO_MAXIOV` messages per `sendmmsg`/`recvmmsg` call.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAX_MESSAGES_PER_CALL: usize = 1024;

/// What the kernel offers, detected at run time; each can also be switched off by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offloads {
    /// Many datagrams per syscall (`recvmmsg` / `sendmmsg`).
    pub batch: bool,
    /// Segmentation offload on send (`UDP_SEGMENT`): a run of datagrams goes down the stack once.
    pub gso: bool,
    /// Receive coalescing (`UDP_GRO`): a run of datagrams from one peer comes up the stack once.
    pub gro: bool,
}

impl Offloads {
    /// The plain path: one datagram per syscall, no offloads (e.g. for a config that forces it).
    pub const NONE: Offloads = Offloads {
        batch: false,
        gso: false,
        gro: false,
    };

    /// Everything permitted; `detect` keeps what the kernel actually supports.
    pub const ALL: Offloads = Offloads {
        batch: true,
        gso: true,
        gro: true,
    };

    /// Probes the socket and returns what it supports, masked by `allowed`.
    ///
    /// GRO is switched on here (it is a socket option, and the receive side must know whether
    /// the kernel may hand it coalesced runs); when GRO is not allowed it is switched off, so a
    /// socket reused with a stricter mask does not keep delivering runs. GSO is probed with a
    /// `getsockopt(UDP_SEGMENT)`, which has no side effects. GSO and GRO need the batched path
    /// (their control messages do not pass through `send_to`/`recv_from`), so neither is
    /// reported without `batch`. Everything is false outside Linux and Android.
    pub fn detect(socket: &mio::net::UdpSocket, allowed: Offloads) -> Offloads {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            sys::detect(socket, allowed)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = (socket, allowed);
            Offloads::NONE
        }
    }

    /// GSO and GRO only work through the batched path, and only where the batched path exists.
    fn normalized(self) -> Offloads {
        let batch = self.batch && cfg!(any(target_os = "linux", target_os = "android"));
        Offloads {
            batch,
            gso: batch && self.gso,
            gro: batch && self.gro,
        }
    }
}

/// One message of the last `recv` that survived the checks, waiting for `for_each`.
#[derive(Clone, Copy, Debug)]
struct Received {
    /// Index of the arena slot holding the bytes.
    slot: usize,
    /// Bytes in the slot (a whole GRO run when `segment < len`).
    len: usize,
    /// Size of each datagram in a GRO run (the last may be shorter); `len` when not coalesced.
    segment: usize,
    /// Where the datagram (or the run) came from.
    source: SocketAddr,
}

/// Fixed receive arena: `slots` buffers, each 64 KiB when GRO is on (a coalesced run) or
/// `max_datagram` bytes otherwise. Allocated once.
pub struct RecvBatch {
    /// Largest datagram handed out; anything bigger counts as truncated.
    max_datagram: usize,
    /// Bytes per slot: one more than `max_datagram` without GRO, so the plain path, which has
    /// no MSG_TRUNC, still sees that a datagram did not fit.
    slot_len: usize,
    /// Number of slots (messages per `recvmmsg`).
    slots: usize,
    /// The arena, `slots * slot_len` bytes.
    buf: Vec<u8>,
    /// What the last `recv` produced; capacity `slots`, so filling it never allocates.
    received: Vec<Received>,
    /// The offloads this object uses (batch may drop at run time on a kernel without recvmmsg).
    offloads: Offloads,
    /// Datagrams dropped because they did not fit.
    truncated: u64,
    /// Message headers for `recvmmsg`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sys: sys::RecvScratch,
}

impl RecvBatch {
    /// An arena of `slots` buffers (at least one) for datagrams of up to `max_datagram` bytes
    /// (capped at 65,535), using `offloads` as returned by [`Offloads::detect`] for the same
    /// socket. GSO/GRO without `batch` are ignored.
    pub fn new(slots: usize, max_datagram: usize, offloads: Offloads) -> RecvBatch {
        let offloads = offloads.normalized();
        let slots = slots.max(1);
        let max_datagram = max_datagram.min(u16::MAX as usize);
        // Non-batched reads go one datagram at a time: one slot is all they use.
        let used = if offloads.batch { slots } else { 1 };
        let slot_len = if offloads.gro {
            GRO_SLOT
        } else {
            max_datagram + 1
        };
        RecvBatch {
            max_datagram,
            slot_len,
            slots: used,
            buf: vec![0; used * slot_len],
            received: Vec::with_capacity(used),
            offloads,
            truncated: 0,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            sys: sys::RecvScratch::new(if offloads.batch { used } else { 0 }),
        }
    }

    /// One `recvmmsg` (or one `recv_from` without batch). `Ok(n)`: the kernel delivered `n > 0`
    /// messages — datagrams, or with GRO coalesced runs — counting those dropped as truncated,
    /// so `for_each` may hand out more (runs split) or fewer (drops) than `n`; returning after
    /// one syscall even when every message was dropped keeps the work per call bounded under a
    /// flood of oversized datagrams. `Err(WouldBlock)` when nothing is waiting; EINTR is
    /// retried. Datagrams not yet handed out by `for_each` are discarded.
    pub fn recv(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        self.received.clear();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.offloads.batch {
            match self.recv_mmsg(socket) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    // A kernel older than 2.6.33 (or a seccomp filter): read one at a time.
                    self.offloads = Offloads::NONE;
                }
                other => return other,
            }
        }
        self.recv_plain(socket)
    }

    /// The portable path: one datagram through mio.
    fn recv_plain(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        let slot_len = self.slot_len.min(self.buf.len());
        loop {
            match socket.recv_from(&mut self.buf[..slot_len]) {
                Ok((len, source)) => {
                    // The buffer is one byte longer than max_datagram: filling it means the
                    // datagram was cut.
                    if len > self.max_datagram {
                        self.truncated += 1;
                    } else {
                        self.received.push(Received {
                            slot: 0,
                            len,
                            segment: len,
                            source,
                        });
                    }
                    return Ok(1);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The batched path: one `recvmmsg` over every slot.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn recv_mmsg(&mut self, socket: &mio::net::UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let slots = self.slots.min(MAX_MESSAGES_PER_CALL);
        let n = loop {
            self.sys.prepare(&mut self.buf, self.slot_len, slots);
            match self.sys.recvmmsg(fd, slots) {
                Ok(0) => return Err(io::ErrorKind::WouldBlock.into()),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        for i in 0..n {
            let Some(message) = self.sys.message(i) else {
                continue;
            };
            if message.truncated || message.len > self.slot_len {
                self.truncated += 1;
                continue;
            }
            let Some(source) = message.source else {
                // Not an IPv4/IPv6 source: nothing the driver could answer.
                continue;
            };
            let len = message.len;
            let segment = match message.segment {
                Some(s) if s > 0 && s < len => s,
                _ => len,
            };
            if segment > self.max_datagram {
                self.truncated += len.div_ceil(segment) as u64;
                continue;
            }
            self.received.push(Received {
                slot: i,
                len,
                segment,
                source,
            });
        }
        Ok(n)
    }

    /// Hands out each datagram of the last `recv`, GRO runs split by their segment size, in
    /// arrival order: `f(source, &mut datagram_bytes)`. The bytes are mutable because the
    /// caller deciphers in place and may write a reply over them. Each datagram is handed out
    /// once: a second call before the next `recv` hands out nothing.
    pub fn for_each(&mut self, mut f: impl FnMut(SocketAddr, &mut [u8])) {
        for r in self.received.drain(..) {
            let start = r.slot * self.slot_len;
            let Some(bytes) = self.buf.get_mut(start..start + r.len) else {
                continue;
            };
            if r.segment == 0 || r.segment >= r.len {
                f(r.source, bytes);
            } else {
                for datagram in bytes.chunks_mut(r.segment) {
                    f(r.source, datagram);
                }
            }
        }
    }

    /// Datagrams dropped because they were bigger than `max_datagram`.
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// The offloads in use (batching drops out on a kernel without `recvmmsg`).
    pub fn offloads(&self) -> Offloads {
        self.offloads
    }
}

/// Fixed send arena: `slots` buffers of `mtu` bytes, filled in place by the caller, then sent
/// with as few syscalls as possible.
///
/// The slots form a ring: what a partial send leaves queued stays in place and in order while
/// the freed slots are refilled behind it.
pub struct SendBatch {
    /// Bytes per slot: the largest datagram.
    mtu: usize,
    /// Number of slots.
    slots: usize,
    /// The arena, `slots * mtu` bytes.
    buf: Vec<u8>,
    /// Committed length of each slot.
    lens: Vec<usize>,
    /// Destination of each slot.
    dests: Vec<SocketAddr>,
    /// Slot of the oldest queued datagram.
    head: usize,
    /// Datagrams queued.
    count: usize,
    /// The offloads this object uses (GSO or batch may drop at run time).
    offloads: Offloads,
    /// Set once a GSO send failed with EIO/EINVAL.
    gso_disabled: bool,
    /// Datagrams dropped on a per-message error.
    errors: u64,
    /// Send syscalls made.
    syscalls: u64,
    /// Datagrams the kernel accepted.
    sent: u64,
    /// Segments per GSO send; tests raise it to provoke the kernel's EINVAL.
    max_segments: usize,
    /// Message headers, iovecs, addresses and control messages for `sendmmsg`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sys: sys::SendScratch,
    /// Tests: messages the simulated socket buffer still takes before WouldBlock (loopback
    /// never returns EAGAIN: the skb is orphaned as it is handed to the receiver).
    #[cfg(test)]
    room: Option<usize>,
}

impl SendBatch {
    /// An arena of `slots` buffers (at least one) of `mtu` bytes (1 to 65,535), using
    /// `offloads` as returned by [`Offloads::detect`]. GSO without `batch` is ignored.
    pub fn new(slots: usize, mtu: usize, offloads: Offloads) -> SendBatch {
        let offloads = offloads.normalized();
        let slots = slots.max(1);
        let mtu = mtu.clamp(1, u16::MAX as usize);
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        SendBatch {
            mtu,
            slots,
            buf: vec![0; slots * mtu],
            lens: vec![0; slots],
            dests: vec![unspecified; slots],
            head: 0,
            count: 0,
            offloads,
            gso_disabled: false,
            errors: 0,
            syscalls: 0,
            sent: 0,
            max_segments: MAX_GSO_SEGMENTS,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            sys: sys::SendScratch::new(if offloads.batch { slots } else { 0 }),
            #[cfg(test)]
            room: None,
        }
    }

    /// Physical slot of the `k`-th queued datagram.
    fn at(&self, k: usize) -> usize {
        (self.head + k) % self.slots
    }

    /// The next free slot (exactly `mtu` bytes) to write a datagram into, or `None` when full
    /// (call `send` first).
    pub fn slot(&mut self) -> Option<&mut [u8]> {
        if self.count >= self.slots {
            return None;
        }
        let start = self.at(self.count) * self.mtu;
        self.buf.get_mut(start..start + self.mtu)
    }

    /// Commits the slot just returned by `slot` as a datagram of `len` bytes to `destination`.
    /// Committing with no free slot, or more than `mtu` bytes, is a caller bug: it asserts in
    /// debug builds; release builds ignore the commit or clamp the length.
    pub fn commit(&mut self, destination: SocketAddr, len: usize) {
        debug_assert!(
            self.count < self.slots,
            "SendBatch::commit without a free slot"
        );
        debug_assert!(
            len <= self.mtu,
            "SendBatch::commit of {len} bytes > mtu {}",
            self.mtu
        );
        if self.count >= self.slots {
            return;
        }
        let p = self.at(self.count);
        self.lens[p] = len.min(self.mtu);
        self.dests[p] = destination;
        self.count += 1;
    }

    /// Datagrams queued.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes the `n` oldest datagrams from the queue.
    fn pop(&mut self, n: usize) {
        let n = n.min(self.count);
        self.count -= n;
        // An empty ring restarts at slot 0 so the next batch does not wrap needlessly.
        self.head = if self.count == 0 {
            0
        } else {
            (self.head + n) % self.slots
        };
    }

    /// Sends what is queued, in order. Consecutive datagrams to the same destination with the
    /// same length (the last of a run may be shorter) go as one GSO super-datagram (at most 64
    /// segments, 65,000 bytes), and the messages go out through `sendmmsg` in groups.
    ///
    /// `Ok(())` when everything was sent; `Err(WouldBlock)` when the socket buffer is full —
    /// what was not sent stays queued, in order, for the next call. Any other per-message error
    /// (EMSGSIZE, ECONNREFUSED, EHOSTUNREACH, EAFNOSUPPORT, ...) drops that message (all its
    /// datagrams), counts them in `errors()` and carries on, so one bad destination never
    /// blocks the others. A GSO send failing with EIO or EINVAL (no checksum offload on the
    /// device, a path MTU below the segment size, an old kernel) switches GSO off for this
    /// object and the run is re-sent one datagram each.
    pub fn send(&mut self, socket: &mio::net::UdpSocket) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.offloads.batch {
            match self.send_mmsg(socket) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    // A kernel older than 3.0 (or a seccomp filter): send one at a time.
                    self.offloads = Offloads::NONE;
                }
                other => return other,
            }
        }
        self.send_plain(socket)
    }

    /// The portable path: one datagram per `send_to`.
    fn send_plain(&mut self, socket: &mio::net::UdpSocket) -> io::Result<()> {
        while self.count > 0 {
            #[cfg(test)]
            if let Some(room) = &mut self.room {
                if *room == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                *room -= 1;
            }
            let p = self.head;
            let start = p * self.mtu;
            let bytes = &self.buf[start..start + self.lens[p]];
            let result = socket.send_to(bytes, self.dests[p]);
            self.syscalls += 1;
            match result {
                Ok(_) => self.sent += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(_) => self.errors += 1,
            }
            self.pop(1);
        }
        Ok(())
    }

    /// The batched path: groups of messages through `sendmmsg`, runs through GSO.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn send_mmsg(&mut self, socket: &mio::net::UdpSocket) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        while self.count > 0 {
            let messages = self.build();
            #[allow(unused_mut)]
            let mut vlen = messages;
            #[cfg(test)]
            if let Some(room) = self.room {
                if room == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                vlen = vlen.min(room);
            }
            let result = self.sys.sendmmsg(fd, vlen);
            self.syscalls += 1;
            match result {
                Ok(0) => {
                    // Never seen from Linux with vlen > 0; treat it as a full buffer rather
                    // than spin.
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(done) => {
                    let done = done.min(vlen);
                    #[cfg(test)]
                    if let Some(room) = &mut self.room {
                        *room -= done.min(*room);
                    }
                    let datagrams: usize = self.sys.datagrams[..done].iter().sum();
                    self.sent += datagrams as u64;
                    self.pop(datagrams);
                    // A short count means message `done` failed or would block: the next
                    // round sends it first and sees its error.
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return Err(e),
                Err(e) => {
                    let first = self.sys.datagrams[0];
                    let gso_refused = matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL));
                    if first > 1 && gso_refused {
                        log::info!("UDP GSO send failed ({e}); sending datagrams one by one");
                        self.gso_disabled = true;
                        // Rebuilt without GSO on the next round: nothing is lost.
                    } else {
                        self.errors += first as u64;
                        self.pop(first);
                    }
                }
            }
        }
        Ok(())
    }

    /// Fills the scratch headers with the queue's first messages (up to one per slot), GSO
    /// runs merged; returns the number of messages.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn build(&mut self) -> usize {
        let gso = self.offloads.gso && !self.gso_disabled;
        let max_messages = self.slots.min(MAX_MESSAGES_PER_CALL);
        self.sys.begin(&mut self.buf);
        let mut k = 0;
        let mut m = 0;
        while k < self.count && m < max_messages {
            let first = self.at(k);
            let segment = self.lens[first];
            let destination = self.dests[first];
            let mut n = 1;
            if gso && segment > 0 {
                let mut total = segment;
                while k + n < self.count && n < self.max_segments {
                    let p = self.at(k + n);
                    let len = self.lens[p];
                    if self.dests[p] != destination
                        || len == 0
                        || len > segment
                        || total + len > MAX_GSO_BYTES
                    {
                        break;
                    }
                    n += 1;
                    total += len;
                    if len < segment {
                        // Only the last segment of a GSO send may be shorter.
                        break;
                    }
                }
            }
            for j in 0..n {
                let p = self.at(k + j);
                self.sys.iovec(k + j, p * self.mtu, self.lens[p]);
            }
            self.sys
                .message(m, destination, k, n, if n > 1 { segment } else { 0 });
            k += n;
            m += 1;
        }
        m
    }

    /// Datagrams dropped on a per-message send error (bad destination, too big, ...).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Whether GSO was switched off after the kernel refused a GSO send.
    pub fn gso_disabled(&self) -> bool {
        self.gso_disabled
    }

    /// The offloads in use: `gso` turns false once GSO was switched off, `batch` on a kernel
    /// without `sendmmsg`.
    pub fn offloads(&self) -> Offloads {
        Offloads {
            gso: self.offloads.gso && !self.gso_disabled,
            ..self.offloads
        }
    }

    /// Send syscalls made (including failed ones), for datagrams-per-syscall statistics.
    pub fn syscalls(&self) -> u64 {
        self.syscalls
    }

    /// Datagrams the kernel accepted.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// The Linux fast path: `recvmmsg`/`sendmmsg`, UDP GSO/GRO control messages, and socket
/// address conversion.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    use super::Offloads;
    use libc::{c_int, c_void};
    use std::io;
    use std::mem;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::{AsRawFd, RawFd};
    use std::ptr;

    // Spelled out because not every libc flavour the routers use (uclibc, older musl) exports
    // them; the values are the kernel's ABI on every architecture.
    /// `SOL_UDP`: the socket level of the UDP options.
    const SOL_UDP: c_int = 17;
    /// `UDP_SEGMENT`: GSO segment size (a `u16` cmsg on send, an `int` socket option).
    const UDP_SEGMENT: c_int = 103;
    /// `UDP_GRO`: receive coalescing (an `int` option; an `int` segment-size cmsg on receive).
    const UDP_GRO: c_int = 104;

    /// Control-message space a send needs: one `UDP_SEGMENT` cmsg carrying a `u16`.
    // SAFETY: CMSG_SPACE only does arithmetic on its argument.
    const SEND_CMSG_SPACE: usize =
        unsafe { libc::CMSG_SPACE(mem::size_of::<u16>() as u32) } as usize;

    /// Control-message buffer per received message: the GRO cmsg needs 24 bytes; the rest
    /// leaves room for options the driver may enable later (packet info, timestamps) so they
    /// do not crowd out the segment size.
    const RECV_CMSG_SPACE: usize = 128;

    const _: () = assert!(SEND_CMSG_SPACE <= 32);

    /// A control-message buffer aligned for `cmsghdr` (whose alignment is `size_t`'s).
    #[repr(C, align(8))]
    #[derive(Clone, Copy)]
    struct CmsgBuf<const N: usize>([u8; N]);

    /// Room for either kind of socket address, as the kernel reads or writes it.
    #[repr(C)]
    #[derive(Clone, Copy)]
    union SockAddr {
        v4: libc::sockaddr_in,
        v6: libc::sockaddr_in6,
    }

    /// An all-zero socket address.
    fn zeroed_addr() -> SockAddr {
        // SAFETY: both variants are plain C structs of integers and byte arrays; all-zero is a
        // valid value of each.
        unsafe { mem::zeroed() }
    }

    /// An all-zero message header: null pointers and zero lengths.
    fn zeroed_mmsghdr() -> libc::mmsghdr {
        // SAFETY: mmsghdr is a plain C struct of integers and raw pointers (some libcs add
        // private padding fields); all-zero is valid and means "no name, no data, no control".
        unsafe { mem::zeroed() }
    }

    /// An empty iovec.
    fn empty_iovec() -> libc::iovec {
        libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        }
    }

    /// Writes `addr` the way the kernel expects it; returns the length to pass.
    fn encode(addr: SocketAddr) -> (SockAddr, libc::socklen_t) {
        let mut out = zeroed_addr();
        let len = match addr {
            SocketAddr::V4(a) => {
                // SAFETY: all-zero is a valid sockaddr_in (it also zeroes sin_zero and any
                // libc-private fields).
                let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                // Port and address are in network byte order: the port's value must be
                // big-endian, and the address's bytes in memory must be the octets in order,
                // whatever the host's endianness.
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                out.v4 = sin;
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                // SAFETY: all-zero is a valid sockaddr_in6.
                let mut sin6: libc::sockaddr_in6 = unsafe { mem::zeroed() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                // std, mio and socket2 carry the flow info through unconverted (it is opaque
                // to them); doing the same keeps this path and the plain path identical.
                sin6.sin6_flowinfo = a.flowinfo();
                // The scope id is an interface index in host byte order.
                sin6.sin6_scope_id = a.scope_id();
                out.v6 = sin6;
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (out, len as libc::socklen_t)
    }

    /// Reads an address the kernel wrote (`len` bytes of it); `None` for other families or a
    /// short write.
    fn decode(addr: &SockAddr, len: libc::socklen_t) -> Option<SocketAddr> {
        let len = len as usize;
        // SAFETY: both variants begin with the family field, every field of both is a plain
        // integer or byte array (any bit pattern is valid), and the union was fully
        // initialised (zeroed) before the kernel wrote into it.
        let family = c_int::from(unsafe { addr.v4.sin_family });
        if family == libc::AF_INET && len >= mem::size_of::<libc::sockaddr_in>() {
            // SAFETY: as above; the family says the kernel wrote a sockaddr_in.
            let sin = unsafe { addr.v4 };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        } else if family == libc::AF_INET6 && len >= mem::size_of::<libc::sockaddr_in6>() {
            // SAFETY: as above; the family says the kernel wrote a sockaddr_in6.
            let sin6 = unsafe { addr.v6 };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        } else {
            None
        }
    }

    /// `setsockopt` of an `int` option.
    fn set_int(fd: RawFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
        // SAFETY: the pointer and length describe a live c_int; the kernel only reads it.
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                ptr::from_ref(&value).cast::<c_void>(),
                mem::size_of::<c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `getsockopt` of an `int` option.
    fn get_int(fd: RawFd, level: c_int, name: c_int) -> io::Result<c_int> {
        let mut value: c_int = 0;
        let mut len = mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: the pointers describe a live c_int and its length; the kernel writes at most
        // `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                ptr::from_mut(&mut value).cast::<c_void>(),
                &mut len,
            )
        };
        if r == 0 {
            Ok(value)
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// See [`Offloads::detect`].
    pub(super) fn detect(socket: &mio::net::UdpSocket, allowed: Offloads) -> Offloads {
        let fd = socket.as_raw_fd();
        // An empty sendmmsg sends nothing; it fails only where the syscall is missing
        // (ENOSYS on kernels before 3.0) or filtered.
        // SAFETY: vlen is 0, so the kernel reads nothing through the null pointer.
        let batch = allowed.batch
            && unsafe { libc::sendmmsg(fd, ptr::null_mut::<libc::mmsghdr>(), 0, 0 as _) } == 0;
        let gro = batch && allowed.gro && set_int(fd, SOL_UDP, UDP_GRO, 1).is_ok();
        if !gro {
            // Ignored: kernels before 5.0 do not know the option, and it is off by default.
            let _ = set_int(fd, SOL_UDP, UDP_GRO, 0);
        }
        // Reading the socket's default segment size changes nothing; kernels before 4.18
        // answer ENOPROTOOPT.
        let gso = batch && allowed.gso && get_int(fd, SOL_UDP, UDP_SEGMENT).is_ok();
        Offloads { batch, gso, gro }
    }

    /// One received message, as the kernel described it.
    pub(super) struct Message {
        /// Bytes received (of a whole GRO run, if coalesced).
        pub(super) len: usize,
        /// MSG_TRUNC: the datagram did not fit its slot.
        pub(super) truncated: bool,
        /// The sender, if it is an IPv4/IPv6 address.
        pub(super) source: Option<SocketAddr>,
        /// The GRO segment size, when the message is a coalesced run.
        pub(super) segment: Option<usize>,
    }

    /// Preallocated `recvmmsg` headers. The raw pointers in them are rewritten by `prepare`
    /// before every call, so they never outlive or dangle from one call to the next.
    pub(super) struct RecvScratch {
        hdrs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
        names: Vec<SockAddr>,
        cmsgs: Vec<CmsgBuf<RECV_CMSG_SPACE>>,
    }

    // SAFETY: the raw pointers inside `hdrs`/`iovs` only ever point into buffers owned by the
    // same RecvBatch (its arena, and this struct's own Vecs, whose heap storage does not move
    // when the struct does). They are rewritten by `prepare` immediately before each syscall and
    // dereferenced only by that syscall, on the thread holding `&mut RecvBatch`; between calls
    // they are never read. Moving the whole object to another thread is therefore sound.
    unsafe impl Send for RecvScratch {}

    impl RecvScratch {
        /// Headers for `slots` messages.
        pub(super) fn new(slots: usize) -> RecvScratch {
            RecvScratch {
                hdrs: vec![zeroed_mmsghdr(); slots],
                iovs: vec![empty_iovec(); slots],
                names: vec![zeroed_addr(); slots],
                cmsgs: vec![CmsgBuf([0; RECV_CMSG_SPACE]); slots],
            }
        }

        /// Points the first `slots` headers at their arena slots, address and cmsg buffers,
        /// and resets the lengths the kernel overwrites.
        pub(super) fn prepare(&mut self, arena: &mut [u8], slot_len: usize, slots: usize) {
            let slots = slots
                .min(self.hdrs.len())
                .min(arena.len() / slot_len.max(1));
            let base = arena.as_mut_ptr();
            for i in 0..slots {
                self.iovs[i] = libc::iovec {
                    iov_base: base.wrapping_add(i * slot_len).cast::<c_void>(),
                    iov_len: slot_len,
                };
                let mut hdr = zeroed_mmsghdr();
                hdr.msg_hdr.msg_name = ptr::from_mut(&mut self.names[i]).cast::<c_void>();
                hdr.msg_hdr.msg_namelen = mem::size_of::<SockAddr>() as libc::socklen_t;
                hdr.msg_hdr.msg_iov = ptr::from_mut(&mut self.iovs[i]);
                hdr.msg_hdr.msg_iovlen = 1;
                hdr.msg_hdr.msg_control = self.cmsgs[i].0.as_mut_ptr().cast::<c_void>();
                hdr.msg_hdr.msg_controllen = RECV_CMSG_SPACE as _;
                self.hdrs[i] = hdr;
            }
        }

        /// One `recvmmsg` into the first `slots` prepared headers; the socket is non-blocking.
        pub(super) fn recvmmsg(&mut self, fd: RawFd, slots: usize) -> io::Result<usize> {
            let slots = slots.min(self.hdrs.len());
            // SAFETY: `prepare` just pointed each of the first `slots` headers at one arena
            // slot (iov_len bytes, inside the arena), at its own SockAddr (msg_namelen bytes)
            // and at its own cmsg buffer (msg_controllen bytes); all of them are live, mutably
            // borrowed through `self` and the caller's arena for the duration of the call, and
            // the kernel writes nothing beyond those lengths. The null timeout means none.
            let r = unsafe {
                libc::recvmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    slots as _,
                    0 as _,
                    ptr::null_mut::<libc::timespec>(),
                )
            };
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok((r as usize).min(slots))
            }
        }

        /// What the kernel reported for message `i` of the last `recvmmsg`.
        pub(super) fn message(&self, i: usize) -> Option<Message> {
            let hdr = self.hdrs.get(i)?;
            let msg = &hdr.msg_hdr;
            let mut segment = None;
            // The segment size is read whatever this object was told: a socket with GRO on
            // delivers runs, and splitting them is always right.
            // SAFETY: msg_control/msg_controllen describe this message's cmsg buffer, which
            // the kernel filled (controllen is what it wrote, at most RECV_CMSG_SPACE).
            // CMSG_FIRSTHDR/CMSG_NXTHDR return null rather than a header that would not fit
            // in that length, and the data read is checked against cmsg_len first.
            unsafe {
                let mut cmsg = libc::CMSG_FIRSTHDR(msg);
                while !cmsg.is_null() {
                    let c = ptr::read_unaligned(cmsg);
                    let need = libc::CMSG_LEN(mem::size_of::<c_int>() as u32) as usize;
                    if c.cmsg_level == SOL_UDP
                        && c.cmsg_type == UDP_GRO
                        && c.cmsg_len as usize >= need
                    {
                        let size = ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>());
                        segment = usize::try_from(size).ok();
                    }
                    cmsg = libc::CMSG_NXTHDR(msg, cmsg);
                }
            }
            Some(Message {
                len: hdr.msg_len as usize,
                truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
                source: decode(&self.names[i], msg.msg_namelen),
                segment,
            })
        }
    }

    /// Preallocated `sendmmsg` headers: one iovec per queued datagram (a GSO message spans
    /// several), one address and cmsg buffer per message. Like `RecvScratch`, the pointers are
    /// rewritten before every call.
    pub(super) struct SendScratch {
        hdrs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
        names: Vec<SockAddr>,
        cmsgs: Vec<CmsgBuf<32>>,
        /// Datagrams carried by each built message.
        pub(super) datagrams: Vec<usize>,
        /// The arena's base address for this round, set by `begin`.
        base: *mut u8,
    }

    // SAFETY: as for RecvScratch: the raw pointers (`base`, and those inside `hdrs`/`iovs`)
    // point only into the owning SendBatch's arena and this struct's own Vecs, are rewritten by
    // `begin`/`iovec`/`message` before each syscall, and are dereferenced only by that syscall
    // on the thread holding `&mut SendBatch`. Nothing about them is tied to a thread.
    unsafe impl Send for SendScratch {}

    impl SendScratch {
        /// Room for `slots` messages of `slots` datagrams in all.
        pub(super) fn new(slots: usize) -> SendScratch {
            SendScratch {
                hdrs: vec![zeroed_mmsghdr(); slots],
                iovs: vec![empty_iovec(); slots],
                names: vec![zeroed_addr(); slots],
                cmsgs: vec![CmsgBuf([0; 32]); slots],
                datagrams: vec![0; slots],
                base: ptr::null_mut(),
            }
        }

        /// Starts a round over `arena`.
        pub(super) fn begin(&mut self, arena: &mut [u8]) {
            self.base = arena.as_mut_ptr();
        }

        /// Points iovec `k` (the `k`-th queued datagram) at `len` arena bytes from `offset`.
        pub(super) fn iovec(&mut self, k: usize, offset: usize, len: usize) {
            if let Some(iov) = self.iovs.get_mut(k) {
                *iov = libc::iovec {
                    iov_base: self.base.wrapping_add(offset).cast::<c_void>(),
                    iov_len: len,
                };
            }
        }

        /// Builds message `m`: `n` datagrams from iovec `k` on, to `destination`, as one GSO
        /// send of `segment`-byte segments when `segment > 0`.
        pub(super) fn message(
            &mut self,
            m: usize,
            destination: SocketAddr,
            k: usize,
            n: usize,
            segment: usize,
        ) {
            if m >= self.hdrs.len() || k + n > self.iovs.len() {
                return;
            }
            let (name, namelen) = encode(destination);
            self.names[m] = name;
            let mut hdr = zeroed_mmsghdr();
            hdr.msg_hdr.msg_name = ptr::from_mut(&mut self.names[m]).cast::<c_void>();
            hdr.msg_hdr.msg_namelen = namelen;
            hdr.msg_hdr.msg_iov = self.iovs[k..].as_mut_ptr();
            hdr.msg_hdr.msg_iovlen = n as _;
            if segment > 0 {
                hdr.msg_hdr.msg_control = self.cmsgs[m].0.as_mut_ptr().cast::<c_void>();
                hdr.msg_hdr.msg_controllen = SEND_CMSG_SPACE as _;
                // SAFETY: msg_control points at this message's 8-aligned 32-byte buffer and
                // msg_controllen (SEND_CMSG_SPACE <= 32) covers one cmsghdr plus a u16, so
                // CMSG_FIRSTHDR returns a non-null, aligned header inside it and CMSG_DATA
                // points at least 2 bytes before the buffer's end.
                unsafe {
                    let cmsg = libc::CMSG_FIRSTHDR(&hdr.msg_hdr);
                    if !cmsg.is_null() {
                        (*cmsg).cmsg_level = SOL_UDP;
                        (*cmsg).cmsg_type = UDP_SEGMENT;
                        (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<u16>() as u32) as _;
                        // Segments are at most the mtu, which is capped at u16::MAX.
                        let size = u16::try_from(segment).unwrap_or(u16::MAX);
                        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), size);
                    }
                }
            }
            self.hdrs[m] = hdr;
            self.datagrams[m] = n;
        }

        /// One `sendmmsg` of the first `vlen` built messages.
        pub(super) fn sendmmsg(&mut self, fd: RawFd, vlen: usize) -> io::Result<usize> {
            let vlen = vlen.min(self.hdrs.len());
            // SAFETY: `message` built each of the first `vlen` headers in this round: each
            // points at its own SockAddr (msg_namelen bytes), at msg_iovlen iovecs of this
            // struct (each pointing at committed bytes inside the arena, which `begin`
            // captured from the caller's live `&mut` borrow) and, for GSO, at its own cmsg
            // buffer. The kernel only reads all of it (and writes msg_len).
            let r = unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr(), vlen as _, 0 as _) };
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r as usize)
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn addresses_round_trip() {
            let cases: [SocketAddr; 4] = [
                "1.2.3.4:5678".parse().unwrap(),
                "255.0.127.1:1".parse().unwrap(),
                SocketAddr::V6(SocketAddrV6::new(
                    "2001:db8::1:2".parse().unwrap(),
                    443,
                    0x0001_2345,
                    7,
                )),
                "[::ffff:10.0.0.1]:65535".parse().unwrap(),
            ];
            for addr in cases {
                let (raw, len) = encode(addr);
                assert_eq!(decode(&raw, len), Some(addr));
            }
            // Network byte order in memory, whatever the host.
            let (raw, _) = encode("1.2.3.4:258".parse().unwrap());
            // SAFETY: encode wrote the v4 variant.
            let sin = unsafe { raw.v4 };
            assert_eq!(sin.sin_port.to_ne_bytes(), [1, 2]);
            assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [1, 2, 3, 4]);
            // Short or foreign addresses are refused.
            let (raw, _) = encode("1.2.3.4:1".parse().unwrap());
            assert_eq!(decode(&raw, 4), None);
            assert_eq!(decode(&zeroed_addr(), 28), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::net::UdpSocket;
    use std::time::{Duration, Instant};

    const BATCH: Offloads = Offloads {
        batch: true,
        gso: false,
        gro: false,
    };
    const BATCH_GSO: Offloads = Offloads {
        batch: true,
        gso: true,
        gro: false,
    };
    const COMBOS: [Offloads; 4] = [Offloads::NONE, BATCH, BATCH_GSO, Offloads::ALL];

    /// Datagrams as a receiver saw them.
    type Log = Vec<(SocketAddr, Vec<u8>)>;

    /// A receiving socket, its arena and what it got so far.
    type Receiver<'a> = (&'a UdpSocket, &'a mut RecvBatch, &'a mut Log);

    fn bind(v6: bool) -> Option<UdpSocket> {
        let addr = if v6 { "[::1]:0" } else { "127.0.0.1:0" };
        UdpSocket::bind(addr.parse().unwrap()).ok()
    }

    fn enlarge_receive_buffer(socket: &UdpSocket) {
        // Best effort: the tests also drain between sends, but a larger buffer leaves slack.
        let _ = socket2::SockRef::from(socket).set_recv_buffer_size(4 << 20);
    }

    fn payload(i: usize, len: usize) -> Vec<u8> {
        (0..len)
            .map(|j| (i * 31 + j * 7 + (j >> 8)) as u8)
            .collect()
    }

    /// Reads whatever is waiting into `out`.
    fn drain(rb: &mut RecvBatch, socket: &UdpSocket, out: &mut Log) {
        loop {
            match rb.recv(socket) {
                Ok(n) => {
                    assert!(n > 0);
                    rb.for_each(|from, bytes| out.push((from, bytes.to_vec())));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// Reads until `out` holds `want` datagrams or five seconds pass.
    fn collect(rb: &mut RecvBatch, socket: &UdpSocket, out: &mut Log, want: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.len() < want && Instant::now() < deadline {
            drain(rb, socket, out);
            if out.len() < want {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Sends until the queue is empty, draining the receivers between attempts.
    fn flush(
        sb: &mut SendBatch,
        sender: &UdpSocket,
        receivers: &mut [Receiver<'_>],
        refill_room: Option<usize>,
    ) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut would_block = 0;
        loop {
            let queued = sb.len();
            match sb.send(sender) {
                Ok(()) => {
                    assert!(sb.is_empty());
                    return would_block;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    would_block += 1;
                    assert!(sb.len() <= queued);
                    assert!(Instant::now() < deadline, "send kept blocking");
                    for (socket, rb, out) in receivers.iter_mut() {
                        drain(rb, socket, out);
                    }
                    sb.room = refill_room;
                }
                Err(e) => panic!("send: {e}"),
            }
        }
    }

    /// The mixed traffic: runs of equal sizes (one ending in a shorter datagram), odd sizes,
    /// interleaved destinations.
    fn traffic(count: usize) -> Vec<(usize, usize)> {
        (0..count)
            .map(|i| {
                let block = i / 20;
                let pos = i % 20;
                let (dest, len) = match pos {
                    0..=10 => (block % 2, 1000),
                    11 => (block % 2, 300),
                    12..=14 => ((block + pos) % 2, 1 + (i * 97) % 1400),
                    _ => (block % 2, 1400),
                };
                (dest, len)
            })
            .collect()
    }

    fn run_traffic(v6: bool, wanted: Offloads, room: Option<usize>) {
        let (Some(sender), Some(r0), Some(r1)) = (bind(v6), bind(v6), bind(v6)) else {
            eprintln!("no {} loopback: skipped", if v6 { "IPv6" } else { "IPv4" });
            return;
        };
        let offloads = Offloads::detect(&sender, wanted);
        let recv_offloads = [Offloads::detect(&r0, wanted), Offloads::detect(&r1, wanted)];
        if cfg!(any(target_os = "linux", target_os = "android")) {
            assert_eq!(offloads.batch, wanted.batch, "sendmmsg is always there");
        }
        if offloads != wanted || recv_offloads.iter().any(|o| *o != wanted) {
            eprintln!("{wanted:?} not available (got {offloads:?}): skipped");
            return;
        }
        enlarge_receive_buffer(&r0);
        enlarge_receive_buffer(&r1);
        let dests = [r0.local_addr().unwrap(), r1.local_addr().unwrap()];
        let mut sb = SendBatch::new(32, 1400, offloads);
        sb.room = room;
        let mut rb0 = RecvBatch::new(16, 1400, recv_offloads[0]);
        let mut rb1 = RecvBatch::new(16, 1400, recv_offloads[1]);
        let (mut out0, mut out1) = (Vec::new(), Vec::new());
        let plan = traffic(200);
        let mut blocked = 0;
        let mut next = 0;
        while next < plan.len() {
            while next < plan.len() {
                let Some(slot) = sb.slot() else { break };
                let (dest, len) = plan[next];
                assert_eq!(slot.len(), 1400);
                slot[..len].copy_from_slice(&payload(next, len));
                sb.commit(dests[dest], len);
                next += 1;
            }
            let mut receivers = [(&r0, &mut rb0, &mut out0), (&r1, &mut rb1, &mut out1)];
            blocked += flush(&mut sb, &sender, &mut receivers, room);
            for (socket, rb, out) in receivers.iter_mut() {
                drain(rb, socket, out);
            }
        }
        let want0 = plan.iter().filter(|(d, _)| *d == 0).count();
        collect(&mut rb0, &r0, &mut out0, want0);
        collect(&mut rb1, &r1, &mut out1, plan.len() - want0);
        let sender_addr = sender.local_addr().unwrap();
        for (d, out) in [&out0, &out1].into_iter().enumerate() {
            let expected: Vec<Vec<u8>> = plan
                .iter()
                .enumerate()
                .filter(|(_, (dest, _))| *dest == d)
                .map(|(i, (_, len))| payload(i, *len))
                .collect();
            assert_eq!(
                out.len(),
                expected.len(),
                "{wanted:?} v6={v6}: count at receiver {d}"
            );
            for (k, ((from, got), want)) in out.iter().zip(&expected).enumerate() {
                assert_eq!(*from, sender_addr);
                assert!(
                    got == want,
                    "{wanted:?} v6={v6}: receiver {d} datagram {k} differs"
                );
            }
        }
        assert_eq!(sb.sent(), 200);
        assert_eq!(sb.errors(), 0);
        assert!(!sb.gso_disabled());
        assert_eq!(rb0.truncated() + rb1.truncated(), 0);
        if room.is_some() {
            assert!(blocked > 0, "the simulated buffer never filled");
        }
        if offloads.batch {
            assert!(
                sb.syscalls() < sb.sent(),
                "{} syscalls for {}",
                sb.syscalls(),
                sb.sent()
            );
        } else {
            assert_eq!(sb.syscalls(), sb.sent());
        }
    }

    #[test]
    fn mixed_traffic_in_order_for_every_offload_combination() {
        for wanted in COMBOS {
            for v6 in [false, true] {
                run_traffic(v6, wanted, None);
            }
        }
    }

    #[test]
    fn would_block_keeps_the_rest_queued_in_order() {
        // Loopback never reports EAGAIN, so a simulated buffer taking 5 messages per attempt
        // exercises the partial-send bookkeeping, including refills wrapping around the ring.
        for wanted in COMBOS {
            run_traffic(false, wanted, Some(5));
        }
    }

    #[test]
    fn tiny_send_buffer() {
        for wanted in COMBOS {
            let (Some(sender), Some(receiver)) = (bind(false), bind(false)) else {
                return;
            };
            socket2::SockRef::from(&sender)
                .set_send_buffer_size(1)
                .unwrap();
            let offloads = Offloads::detect(&sender, wanted);
            let mut rb = RecvBatch::new(64, 1400, Offloads::detect(&receiver, wanted));
            let mut sb = SendBatch::new(64, 1400, offloads);
            let to = receiver.local_addr().unwrap();
            let mut out = Vec::new();
            for round in 0..4 {
                for i in 0..64 {
                    let slot = sb.slot().unwrap();
                    slot.copy_from_slice(&payload(round * 64 + i, 1400));
                    sb.commit(to, 1400);
                }
                let mut receivers = [(&receiver, &mut rb, &mut out)];
                flush(&mut sb, &sender, &mut receivers, None);
                drain(&mut rb, &receiver, &mut out);
            }
            collect(&mut rb, &receiver, &mut out, 256);
            assert_eq!(out.len(), 256, "{wanted:?}");
            for (i, (_, got)) in out.iter().enumerate() {
                assert!(*got == payload(i, 1400), "{wanted:?}: datagram {i}");
            }
        }
    }

    #[test]
    fn bad_destination_is_dropped_and_counted() {
        let v6_target: SocketAddr = "[::1]:9".parse().unwrap();
        for wanted in COMBOS {
            let (Some(sender), Some(receiver)) = (bind(false), bind(false)) else {
                return;
            };
            let offloads = Offloads::detect(&sender, wanted);
            let mut rb = RecvBatch::new(16, 1400, Offloads::detect(&receiver, wanted));
            let mut sb = SendBatch::new(16, 1400, offloads);
            let to = receiver.local_addr().unwrap();
            // Good, bad (a GSO-able run of three), good run, bad single at the end.
            let plan = [
                (to, 100),
                (v6_target, 200),
                (v6_target, 200),
                (v6_target, 200),
                (to, 300),
                (to, 300),
                (to, 50),
                (v6_target, 10),
            ];
            for (i, (dest, len)) in plan.iter().enumerate() {
                sb.slot().unwrap()[..*len].copy_from_slice(&payload(i, *len));
                sb.commit(*dest, *len);
            }
            sb.send(&sender).unwrap();
            assert!(sb.is_empty());
            assert_eq!(sb.errors(), 4, "{wanted:?}");
            assert_eq!(sb.sent(), 4, "{wanted:?}");
            assert!(
                !sb.gso_disabled(),
                "{wanted:?}: EAFNOSUPPORT is not a GSO failure"
            );
            let mut out = Vec::new();
            collect(&mut rb, &receiver, &mut out, 4);
            let got: Vec<&Vec<u8>> = out.iter().map(|(_, b)| b).collect();
            let want: Vec<Vec<u8>> = [0, 4, 5, 6]
                .iter()
                .map(|&i| payload(i, plan[i].1))
                .collect();
            assert_eq!(got, want.iter().collect::<Vec<_>>(), "{wanted:?}");
        }
    }

    #[test]
    fn truncated_datagrams_are_counted_not_handed_out() {
        for wanted in COMBOS {
            let (Some(sender), Some(receiver)) = (bind(false), bind(false)) else {
                return;
            };
            let recv_offloads = Offloads::detect(&receiver, wanted);
            let mut rb = RecvBatch::new(8, 100, recv_offloads);
            let to = receiver.local_addr().unwrap();
            let sizes = [50, 101, 100, 1000, 60];
            for (i, len) in sizes.iter().enumerate() {
                sender.send_to(&payload(i, *len), to).unwrap();
            }
            let mut out = Vec::new();
            collect(&mut rb, &receiver, &mut out, 3);
            // The counter may lag the last good datagram by a read: give it one more.
            drain(&mut rb, &receiver, &mut out);
            let got: Vec<Vec<u8>> = out.into_iter().map(|(_, b)| b).collect();
            assert_eq!(
                got,
                vec![payload(0, 50), payload(2, 100), payload(4, 60)],
                "{wanted:?}"
            );
            assert_eq!(rb.truncated(), 2, "{wanted:?}");
        }
    }

    #[test]
    fn gso_runs_are_capped_and_gro_splits_them() {
        let (Some(sender), Some(receiver)) = (bind(false), bind(false)) else {
            return;
        };
        let offloads = Offloads::detect(&sender, Offloads::ALL);
        let recv_offloads = Offloads::detect(&receiver, Offloads::ALL);
        if !offloads.gso || !recv_offloads.gro {
            eprintln!("no GSO/GRO: skipped");
            return;
        }
        enlarge_receive_buffer(&receiver);
        let mut sb = SendBatch::new(160, 1000, offloads);
        let to = receiver.local_addr().unwrap();
        // 150 equal datagrams, then a shorter one closing the last run.
        for i in 0..151 {
            let len = if i == 150 { 10 } else { 1000 };
            sb.slot().unwrap()[..len].copy_from_slice(&payload(i, len));
            sb.commit(to, len);
        }
        sb.send(&sender).unwrap();
        // 64 + 64 + 23 segments: three messages, one sendmmsg.
        assert_eq!(sb.syscalls(), 1);
        assert_eq!(sb.sent(), 151);
        let mut rb = RecvBatch::new(8, 1000, recv_offloads);
        assert_eq!(rb.offloads(), Offloads::ALL);
        let mut out = Vec::new();
        let mut messages = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        while out.len() < 151 && Instant::now() < deadline {
            match rb.recv(&receiver) {
                Ok(n) => {
                    messages += n;
                    rb.for_each(|from, bytes| out.push((from, bytes.to_vec())));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("recv: {e}"),
            }
        }
        assert_eq!(out.len(), 151);
        for (i, (_, got)) in out.iter().enumerate() {
            assert!(
                *got == payload(i, if i == 150 { 10 } else { 1000 }),
                "datagram {i}"
            );
        }
        // Each GSO send reaches a GRO socket whole: 64 + 64 + 23 segments.
        assert_eq!(messages, 3, "GRO messages");
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn refused_gso_falls_back_without_losing_datagrams() {
        for v6 in [false, true] {
            let (Some(sender), Some(receiver)) = (bind(v6), bind(v6)) else {
                continue;
            };
            let offloads = Offloads::detect(&sender, BATCH_GSO);
            if !offloads.gso {
                eprintln!("no GSO: skipped");
                return;
            }
            // Without checksums the kernel refuses GSO with EINVAL; plain datagrams still go.
            // IPv4: SO_NO_CHECK (11 in the generic socket ABI); IPv6: UDP_NO_CHECK6_TX (101),
            // and the receiver must then accept zero checksums (UDP_NO_CHECK6_RX, 102).
            let options = if v6 {
                vec![(&sender, 17, 101), (&receiver, 17, 102)]
            } else {
                vec![(&sender, libc::SOL_SOCKET, 11)]
            };
            for (socket, level, name) in options {
                use std::os::fd::AsRawFd;
                let one: libc::c_int = 1;
                // SAFETY: a live c_int and its size; the kernel only reads it.
                let r = unsafe {
                    libc::setsockopt(
                        socket.as_raw_fd(),
                        level,
                        name,
                        std::ptr::from_ref(&one).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                assert_eq!(r, 0);
            }
            let mut sb = SendBatch::new(32, 1200, offloads);
            let to = receiver.local_addr().unwrap();
            for i in 0..20 {
                let len = if i == 19 { 500 } else { 1200 };
                sb.slot().unwrap()[..len].copy_from_slice(&payload(i, len));
                sb.commit(to, len);
            }
            sb.send(&sender).unwrap();
            assert!(sb.gso_disabled());
            assert!(!sb.offloads().gso);
            assert_eq!((sb.sent(), sb.errors()), (20, 0));
            let mut rb = RecvBatch::new(32, 1200, Offloads::detect(&receiver, BATCH));
            let mut out = Vec::new();
            collect(&mut rb, &receiver, &mut out, 20);
            assert_eq!(out.len(), 20, "v6={v6}");
            for (i, (_, got)) in out.iter().enumerate() {
                assert!(
                    *got == payload(i, if i == 19 { 500 } else { 1200 }),
                    "v6={v6}"
                );
            }
        }
    }

    #[test]
    fn empty_send_zero_length_and_full_ring() {
        let (Some(sender), Some(receiver)) = (bind(false), bind(false)) else {
            return;
        };
        for wanted in COMBOS {
            let mut sb = SendBatch::new(2, 100, Offloads::detect(&sender, wanted));
            sb.send(&sender).unwrap();
            assert_eq!(sb.syscalls(), 0);
            let to = receiver.local_addr().unwrap();
            sb.slot().unwrap();
            sb.commit(to, 0);
            sb.slot().unwrap();
            sb.commit(to, 100);
            assert!(sb.slot().is_none());
            sb.send(&sender).unwrap();
            assert_eq!(sb.sent(), 2);
            let mut rb = RecvBatch::new(4, 100, Offloads::detect(&receiver, wanted));
            let mut out = Vec::new();
            collect(&mut rb, &receiver, &mut out, 2);
            assert_eq!(
                out.iter().map(|(_, b)| b.len()).collect::<Vec<_>>(),
                [0, 100]
            );
        }
    }

    /// Loopback throughput of 1400-byte datagrams, sender and receiver on their own threads:
    /// `cargo test --release -p kcp-core --lib net::batch::tests::throughput -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn throughput() {
        const LEN: usize = 1400;
        let modes = [
            ("send_to / recv_from", Offloads::NONE, Offloads::NONE),
            ("sendmmsg / recvmmsg", BATCH, BATCH),
            ("sendmmsg+GSO / recvmmsg", BATCH_GSO, BATCH),
            ("sendmmsg+GSO / recvmmsg+GRO", BATCH_GSO, Offloads::ALL),
        ];
        for (name, send_mode, recv_mode) in modes {
            let sender = bind(false).unwrap();
            let receiver = bind(false).unwrap();
            enlarge_receive_buffer(&receiver);
            let send_offloads = Offloads::detect(&sender, send_mode);
            let recv_offloads = Offloads::detect(&receiver, recv_mode);
            if send_offloads != send_mode || recv_offloads != recv_mode {
                eprintln!("{name}: not available");
                continue;
            }
            let to = receiver.local_addr().unwrap();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop2 = stop.clone();
            let reader = std::thread::spawn(move || {
                let mut rb = RecvBatch::new(64, LEN, recv_offloads);
                let (mut datagrams, mut calls) = (0u64, 0u64);
                while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    calls += 1;
                    match rb.recv(&receiver) {
                        Ok(_) => rb.for_each(|_, b| {
                            datagrams += 1;
                            std::hint::black_box(b);
                        }),
                        Err(_) => std::thread::yield_now(),
                    }
                }
                (datagrams, calls)
            });
            let mut sb = SendBatch::new(64, LEN, send_offloads);
            let duration = Duration::from_secs(2);
            let start = Instant::now();
            while start.elapsed() < duration {
                while let Some(slot) = sb.slot() {
                    slot[0] = 1;
                    sb.commit(to, LEN);
                }
                let _ = sb.send(&sender);
            }
            let elapsed = start.elapsed().as_secs_f64();
            std::thread::sleep(Duration::from_millis(50));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let (received, calls) = reader.join().unwrap();
            println!(
                "{name:30} sent {:>9.0}/s ({:>5.1} per syscall)  received {:>9.0}/s ({:.0}% of sent; {calls} recv calls)",
                sb.sent() as f64 / elapsed,
                sb.sent() as f64 / sb.syscalls().max(1) as f64,
                received as f64 / elapsed,
                100.0 * received as f64 / sb.sent().max(1) as f64,
            );
        }
    }
}
