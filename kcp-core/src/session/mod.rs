//! One peer's whole pipeline, sans-IO: ARQ + FEC + packet protection.
//!
//! A [`Session`] has the ARQ's verbs — [`send`](Session::send), [`recv`](Session::recv),
//! [`handle_datagram`](Session::handle_datagram), [`poll_transmit`](Session::poll_transmit),
//! [`poll_timeout`](Session::poll_timeout), [`handle_timeout`](Session::handle_timeout) — and
//! does the framing between the ARQ and the wire:
//!
//! ```text
//! out: KCP segments -> FEC framing (+ parity datagrams) -> CRC, nonce, cipher -> datagram
//! in : datagram -> decipher, check CRC -> FEC (data now, rebuilt data later) -> KCP segments
//! ```
//!
//! With [`FecMode::KcpGo`] or [`FecMode::Off`] and [`Protection::Legacy`] or
//! [`Protection::None`], a session is byte-compatible with kcp-go 5.6.1 and kcptun. Like
//! kcp-go, it accepts FEC-framed and bare datagrams whatever its own FEC setting: a peer with
//! FEC on still gets through to a session with FEC off (its parity is counted and ignored).
//! [`FecMode::Native`] is this project's time-bounded FEC (see [`crate::fec::native`]); only
//! another native session understands it.
//!
//! The ARQ sees a smaller MTU: the datagram MTU minus the protection header and the FEC
//! framing, so a full KCP datagram plus its framing is exactly one datagram (kcptun: MTU 1350,
//! MSS 1298 with a cipher and FEC).
//!
//! Counters come out as kcp-go's SNMP set ([`Session::snmp`]), so the tunnel can log them the
//! way kcptun does; the layers' own counters ([`Session::arq`], [`Session::fec_stats`]) say more.

mod snmp;

pub use snmp::Snmp;

use crate::arq::{Config, ConfigError, Kcp, RecvError, SendError};
use crate::crypto::{self, CipherKind, LegacyCrypto, OpenError};
use crate::fec::groups::Limits;
use crate::fec::kcpgo::{self, KcpGoDecoder, KcpGoEncoder, Packet};
use crate::fec::{self, native, FecConfigError, FecStats, NativeConfig, NativeFec};
use core::fmt;

/// The largest datagram kcp-go sends or receives: its receive buffers are 1500 bytes, so
/// anything longer would arrive truncated.
pub const KCP_GO_MAX_MTU: u32 = 1500;

/// Forward error correction of a session.
#[derive(Clone, Debug, PartialEq)]
pub enum FecMode {
    /// No parity is sent; incoming kcp-go FEC data packets are still accepted.
    Off,
    /// kcp-go's framing with fixed groups (kcptun `-ds`/`-ps`, default 10 and 3).
    KcpGo {
        /// Data shards per group.
        data: usize,
        /// Parity shards per group.
        parity: usize,
    },
    /// The native framing: deadline-bounded groups, parity that follows reported loss.
    Native(NativeConfig),
}

/// Packet protection of a session.
#[derive(Clone, PartialEq, Eq)]
pub enum Protection {
    /// No header at all (later kcptun's `null`).
    None,
    /// kcp-go's 20-byte nonce + CRC32 header and a legacy cipher. **Not authenticated** (see
    /// [`crate::crypto`]).
    Legacy {
        /// The cipher (`none` still sends the header).
        cipher: CipherKind,
        /// The 32 bytes from [`crypto::derive_key`].
        key: [u8; 32],
    },
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protection::None => f.write_str("None"),
            Protection::Legacy { cipher, .. } => write!(f, "Legacy({})", cipher.name()),
        }
    }
}

/// What a [`Session`] is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    /// The ARQ's configuration. Its `mtu` is the **datagram** MTU; the session gives the ARQ
    /// that minus its framing.
    pub arq: Config,
    /// Forward error correction.
    pub fec: FecMode,
    /// Packet protection.
    pub protection: Protection,
}

impl SessionConfig {
    /// kcptun's defaults around an ARQ configuration: AES-256 with the given passphrase and
    /// kcp-go FEC 10/3.
    pub fn kcptun(arq: Config, passphrase: &str) -> SessionConfig {
        SessionConfig {
            arq,
            fec: FecMode::KcpGo {
                data: 10,
                parity: 3,
            },
            protection: Protection::Legacy {
                cipher: CipherKind::Aes256,
                key: crypto::derive_key(passphrase.as_bytes()),
            },
        }
    }
}

/// A [`SessionConfig`] that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// The ARQ configuration (with the framing taken off the MTU) is invalid.
    Arq(ConfigError),
    /// The FEC shard counts are invalid.
    Fec(FecConfigError),
    /// The MTU is larger than kcp-go accepts, or leaves no room after the framing.
    Mtu {
        /// The MTU asked for.
        mtu: u32,
        /// The smallest usable.
        min: u32,
        /// The largest usable.
        max: u32,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Arq(e) => write!(f, "{e}"),
            SessionError::Fec(e) => write!(f, "{e}"),
            SessionError::Mtu { mtu, min, max } => {
                write!(f, "mtu {mtu} is outside {min}..={max} for this framing")
            }
        }
    }
}

impl std::error::Error for SessionError {}

/// Why [`Session::handle_datagram`] dropped a datagram. Every drop is also counted in
/// [`Session::snmp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatagramError {
    /// Shorter than the protection header (`InErrs`).
    Short,
    /// The checksum failed: corrupted, or another key or cipher (`InCsumErrors`).
    Checksum,
    /// The FEC framing is malformed (`InErrs`).
    Framing,
    /// The ARQ rejected the segments (`KCPInErrors`).
    Arq(crate::InputError),
}

impl fmt::Display for DatagramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatagramError::Short => f.write_str("datagram shorter than the protection header"),
            DatagramError::Checksum => f.write_str("checksum mismatch (corrupt, or wrong key)"),
            DatagramError::Framing => f.write_str("malformed FEC framing"),
            DatagramError::Arq(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DatagramError {}

#[derive(Debug)]
enum Fec {
    Off,
    KcpGo(Box<(KcpGoEncoder, KcpGoDecoder)>),
    Native(Box<NativeFec>),
}

/// Session-level counters the layers do not keep.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    bytes_sent: u64,
    bytes_received: u64,
    in_pkts: u64,
    in_bytes: u64,
    out_pkts: u64,
    out_bytes: u64,
    in_errs: u64,
    in_csum_errors: u64,
    kcp_in_errors: u64,
    /// Parity received while FEC is off (kcp-go counts it too).
    parity_ignored: u64,
}

/// One peer: ARQ, FEC and protection, driven like a [`Kcp`] (time in, datagrams out into the
/// caller's buffers).
#[derive(Debug)]
pub struct Session {
    kcp: Kcp,
    fec: Fec,
    crypto: Option<LegacyCrypto>,
    /// Bytes of the protection header (0, the legacy 20, or the sealed header).
    protection_len: usize,
    /// Bytes left after the framing for a sealing caller's tag (0 otherwise).
    tail: usize,
    /// Bytes in front of the KCP segments of a data datagram.
    offset: usize,
    /// Bytes of the datagram MTU the framing takes (can exceed `offset`: native parity).
    overhead: usize,
    counters: Counters,
}

impl Session {
    /// A session for conversation `conv`. `nonce_seed` should come from the OS's random
    /// source: it makes this session's protection nonces unique (the core does no I/O).
    pub fn new(
        conv: u32,
        config: &SessionConfig,
        nonce_seed: u64,
    ) -> Result<Session, SessionError> {
        let crypto = match &config.protection {
            Protection::None => None,
            Protection::Legacy { cipher, key } => Some(LegacyCrypto::new(*cipher, key, nonce_seed)),
        };
        let room = if crypto.is_some() {
            (crypto::HEADER_LEN, 0)
        } else {
            (0, 0)
        };
        Session::build(conv, config, crypto, room)
    }

    /// A session without protection of its own whose datagrams leave `head` bytes in front and
    /// `tail` bytes behind for a caller that seals them (the sealed endpoint). Incoming
    /// datagrams are handed over already opened.
    pub(crate) fn with_room(
        conv: u32,
        arq: &Config,
        fec: &FecMode,
        head: usize,
        tail: usize,
    ) -> Result<Session, SessionError> {
        let config = SessionConfig {
            arq: arq.clone(),
            fec: fec.clone(),
            protection: Protection::None,
        };
        Session::build(conv, &config, None, (head, tail))
    }

    fn build(
        conv: u32,
        config: &SessionConfig,
        crypto: Option<LegacyCrypto>,
        (protection_len, tail): (usize, usize),
    ) -> Result<Session, SessionError> {
        let mtu = config.arq.mtu;
        let (fec, fec_offset, fec_overhead, max_mtu) = match &config.fec {
            FecMode::Off => (Fec::Off, 0, 0, KCP_GO_MAX_MTU),
            FecMode::KcpGo { data, parity } => {
                let limits = Limits {
                    max_groups: kcpgo::DEFAULT_MAX_GROUPS,
                    max_age: 60_000,
                    max_shard_len: mtu as usize,
                };
                (
                    Fec::KcpGo(Box::new((
                        KcpGoEncoder::new(*data, *parity).map_err(SessionError::Fec)?,
                        KcpGoDecoder::new(*data, *parity, limits).map_err(SessionError::Fec)?,
                    ))),
                    kcpgo::DATA_OVERHEAD,
                    kcpgo::DATA_OVERHEAD,
                    KCP_GO_MAX_MTU,
                )
            }
            FecMode::Native(native_config) => {
                let mut native_config = native_config.clone();
                native_config.limits.max_shard_len = mtu as usize;
                (
                    Fec::Native(Box::new(
                        NativeFec::new(native_config).map_err(SessionError::Fec)?,
                    )),
                    native::DATA_OVERHEAD,
                    native::BUDGET,
                    crate::arq::MAX_MTU,
                )
            }
        };
        // kcp-go's buffers (and the xor cipher's table) end at 1500 bytes.
        let max_mtu = if crypto.is_some() {
            KCP_GO_MAX_MTU
        } else {
            max_mtu
        };
        let overhead = (protection_len + fec_overhead + tail) as u32;
        let min = overhead + crate::arq::MIN_MTU;
        if !(min..=max_mtu).contains(&mtu) {
            return Err(SessionError::Mtu {
                mtu,
                min,
                max: max_mtu,
            });
        }
        let mut arq = config.arq.clone();
        arq.mtu = mtu - overhead;
        let kcp = Kcp::new(conv, &arq).map_err(SessionError::Arq)?;
        Ok(Session {
            kcp,
            fec,
            crypto,
            protection_len,
            tail,
            offset: protection_len + fec_offset,
            overhead: overhead as usize,
            counters: Counters::default(),
        })
    }

    /// The ARQ state machine inside (its MTU is the datagram MTU minus the framing).
    pub fn arq(&self) -> &Kcp {
        &self.kcp
    }

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.kcp.conv()
    }

    /// Bytes of every datagram the framing takes.
    pub fn overhead(&self) -> usize {
        self.overhead
    }

    /// The largest datagram [`Session::poll_transmit`] may write.
    pub fn max_datagram_size(&self) -> usize {
        self.kcp.max_datagram_size() + self.overhead
    }

    /// Queues application data, as [`Kcp::send`].
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        let n = self.kcp.send(data)?;
        self.counters.bytes_sent += n as u64;
        Ok(n)
    }

    /// Takes received application data, as [`Kcp::recv`].
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let n = self.kcp.recv(buf)?;
        self.counters.bytes_received += n as u64;
        Ok(n)
    }

    /// The size of the next message [`Session::recv`] would return.
    pub fn peek_size(&self) -> Option<usize> {
        self.kcp.peek_size()
    }

    /// Segments waiting to be sent or acknowledged.
    pub fn wait_send(&self) -> u32 {
        self.kcp.wait_send()
    }

    /// Sets the send window, in segments.
    pub fn set_send_window(&mut self, window: u16) -> Result<(), ConfigError> {
        self.kcp.set_send_window(window)
    }

    /// Sets the receive window, in segments.
    pub fn set_recv_window(&mut self, window: u16) -> Result<(), ConfigError> {
        self.kcp.set_recv_window(window)
    }

    /// Asks for a flush at the next [`Session::poll_transmit`].
    pub fn flush(&mut self) {
        self.kcp.flush();
    }

    /// Whether the ARQ gave up on the peer (see [`Kcp::is_dead`]).
    pub fn is_dead(&self) -> bool {
        self.kcp.is_dead()
    }

    /// Takes a datagram that arrived. It is deciphered in place, so the caller's buffer is
    /// changed. A rejected datagram changes nothing else and is counted.
    pub fn handle_datagram(&mut self, now: u32, datagram: &mut [u8]) -> Result<(), DatagramError> {
        let plain = self.open_in_place(datagram)?;
        self.handle_opened(now, datagram.len(), &datagram[plain])
    }

    /// The first half of [`Session::handle_datagram`]: deciphers `datagram` in place and checks
    /// its checksum, returning where the plaintext is. A failure is counted as a whole rejected
    /// datagram; a success counts nothing yet. Split out for the legacy endpoint, which must
    /// read the conv inside before it knows which session the datagram is for.
    pub(crate) fn open_in_place(
        &mut self,
        datagram: &mut [u8],
    ) -> Result<core::ops::Range<usize>, DatagramError> {
        let Some(crypto) = &self.crypto else {
            return Ok(0..datagram.len());
        };
        let error = match crypto.open(datagram) {
            Ok(_) => return Ok(crypto::HEADER_LEN..datagram.len()),
            Err(OpenError::Short) => {
                self.counters.in_errs += 1;
                DatagramError::Short
            }
            Err(OpenError::Checksum) => {
                self.counters.in_csum_errors += 1;
                DatagramError::Checksum
            }
        };
        self.counters.in_pkts += 1;
        self.counters.in_bytes += datagram.len() as u64;
        Err(error)
    }

    /// The second half of [`Session::handle_datagram`]: `plain` is the plaintext that
    /// [`Session::open_in_place`] (or the legacy endpoint, with the same key) opened from a
    /// datagram of `wire_len` bytes.
    pub(crate) fn handle_opened(
        &mut self,
        now: u32,
        wire_len: usize,
        plain: &[u8],
    ) -> Result<(), DatagramError> {
        self.counters.in_pkts += 1;
        self.counters.in_bytes += wire_len as u64;
        let Session {
            kcp, fec, counters, ..
        } = self;
        let mut arq_errors = 0u64;
        let mut feed_recovered = |bytes: &[u8]| {
            if kcp.handle_recovered_datagram(now, bytes).is_err() {
                arq_errors += 1;
            }
        };
        let direct = match fec {
            Fec::Native(native) => native
                .input(now, plain, &mut feed_recovered)
                .map_err(|_| DatagramError::Framing),
            Fec::KcpGo(codec) => match Packet::parse(plain) {
                Packet::Raw(bytes) => Ok(Some(bytes)),
                packet => codec
                    .1
                    .input(now, packet, &mut feed_recovered)
                    .map_err(|_| DatagramError::Framing),
            },
            Fec::Off => match Packet::parse(plain) {
                Packet::Raw(bytes) => Ok(Some(bytes)),
                Packet::Data { shard, .. } => fec::shard_payload(shard)
                    .map(Some)
                    .ok_or(DatagramError::Framing),
                Packet::Parity { .. } => {
                    counters.parity_ignored += 1;
                    Ok(None)
                }
            },
        };
        counters.kcp_in_errors += arq_errors;
        match direct {
            Ok(Some(bytes)) => kcp.handle_datagram(now, bytes).map_err(|e| {
                counters.kcp_in_errors += 1;
                DatagramError::Arq(e)
            }),
            Ok(None) => Ok(()),
            Err(e) => {
                counters.in_errs += 1;
                Err(e)
            }
        }
    }

    /// Tells the session the time (see [`Kcp::handle_timeout`]).
    pub fn handle_timeout(&mut self, now: u32) {
        if let Fec::Native(native) = &mut self.fec {
            native.handle_timeout(now);
        }
        self.kcp.handle_timeout(now);
    }

    /// When the session wants [`Session::handle_timeout`] (the earlier of the ARQ's deadline
    /// and an open native FEC group's).
    pub fn poll_timeout(&self) -> Option<u32> {
        let arq = self.kcp.poll_timeout();
        let fec = match &self.fec {
            Fec::Native(native) => native.poll_timeout(),
            _ => None,
        };
        match (arq, fec) {
            (Some(a), Some(f)) => Some(if crate::seq::before(f, a) { f } else { a }),
            (a, f) => a.or(f),
        }
    }

    /// Writes the next datagram into `buf` and returns its length: pending parity first, then
    /// whatever the ARQ has to send. A session made for a sealing caller leaves its header
    /// room in front and counts its tag room in the length.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than [`Session::max_datagram_size`].
    pub fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        let needed = self.max_datagram_size();
        assert!(buf.len() >= needed, "poll_transmit needs {needed} bytes");
        let protection = self.protection_len;
        let len = match &mut self.fec {
            Fec::KcpGo(codec) if codec.0.has_parity() => {
                protection + codec.0.next_parity(&mut buf[protection..])?
            }
            Fec::Native(native) if native.has_parity() => {
                protection + native.next_parity(&mut buf[protection..])?
            }
            _ => {
                let n = self.kcp.poll_transmit(now, &mut buf[self.offset..])?;
                let end = self.offset + n;
                match &mut self.fec {
                    Fec::Off => {}
                    Fec::KcpGo(codec) => codec.0.encode_data(&mut buf[protection..end]),
                    Fec::Native(native) => {
                        let carries_data = crate::wire::carries_data(&buf[self.offset..end]);
                        native.encode(
                            now,
                            self.kcp.srtt(),
                            &mut buf[protection..end],
                            carries_data,
                        )
                    }
                }
                end
            }
        };
        if let Some(crypto) = &mut self.crypto {
            crypto.seal(&mut buf[..len]);
        }
        let len = len + self.tail;
        self.counters.out_pkts += 1;
        self.counters.out_bytes += len as u64;
        Some(len)
    }

    /// The FEC layer's own counters (all zero with FEC off).
    pub fn fec_stats(&self) -> FecStats {
        match &self.fec {
            Fec::Off => FecStats {
                parity_shards_in: self.counters.parity_ignored,
                ..FecStats::default()
            },
            Fec::KcpGo(codec) => codec.1.stats().clone(),
            Fec::Native(native) => native.stats().clone(),
        }
    }

    /// The native FEC layer, if the session uses it (loss estimates, counters).
    pub fn native_fec(&self) -> Option<&NativeFec> {
        match &self.fec {
            Fec::Native(native) => Some(native),
            _ => None,
        }
    }

    /// kcp-go's counter set for this session (the connection counters stay zero).
    pub fn snmp(&self) -> Snmp {
        let arq = self.kcp.stats();
        let fec = self.fec_stats();
        let c = &self.counters;
        Snmp {
            bytes_sent: c.bytes_sent,
            bytes_received: c.bytes_received,
            in_errs: c.in_errs,
            in_csum_errors: c.in_csum_errors,
            kcp_in_errors: c.kcp_in_errors,
            in_pkts: c.in_pkts,
            out_pkts: c.out_pkts,
            in_segs: arq.segments_in,
            out_segs: arq.data_segments_out
                + arq.timeout_retransmits
                + arq.fast_retransmits
                + arq.early_retransmits
                + arq.spare_room_retransmits
                + arq.acks_out
                + arq.window_probes_out
                + arq.window_tells_out,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            retrans_segs: arq.timeout_retransmits
                + arq.fast_retransmits
                + arq.early_retransmits
                + arq.spare_room_retransmits,
            fast_retrans_segs: arq.fast_retransmits,
            // Both resend before a timeout on less evidence than fast retransmission.
            early_retrans_segs: arq.early_retransmits + arq.spare_room_retransmits,
            lost_segs: arq.timeout_retransmits,
            repeat_segs: arq.duplicate_segments,
            fec_parity_shards: fec.parity_shards_in,
            fec_errs: fec.errors,
            fec_recovered: fec.recovered,
            fec_short_shards: fec.abandoned_groups,
            ..Snmp::default()
        }
    }
}

impl crate::sim::Endpoint for Session {
    fn handle_datagram(&mut self, now: u32, datagram: &[u8]) {
        // Deciphering works in place; the simulator's datagram is shared, so copy it. Drops are
        // counted in the session's counters.
        let mut copy = datagram.to_vec();
        let _ = Session::handle_datagram(self, now, &mut copy);
    }

    fn handle_timeout(&mut self, now: u32) {
        Session::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        Session::poll_transmit(self, now, buf)
    }

    fn poll_timeout(&self) -> Option<u32> {
        Session::poll_timeout(self)
    }
}
