//! A `Session` takes datagrams from anyone: the legacy protection is a CRC a forger can fix up,
//! and kcp-go's FEC framing and the native one are parsed before the ARQ sees anything. So a
//! session in the middle of a conversation must take any datagram at all (bare, FEC-framed,
//! sealed with the right key so that it reaches the FEC and ARQ parsers) without panicking,
//! must count every one, and must go on talking to its genuine peer.
//!
//! The input picks the session's configuration (FEC off, kcp-go 10+3 or native with the
//! defaults; no protection or legacy protection with each cipher; an ARQ preset from
//! `common::config`; the smallest, a typical or the largest MTU the framing allows) and then a
//! sequence of operations: hostile datagrams, raw or framed and sealed; traffic from a genuine
//! peer with the same configuration, some of it lost; the session's own transmissions, which
//! may reach the peer; clock steps; sends and reads.
//!
//! Checked throughout: `snmp().in_pkts` is the number of datagrams fed and `in_bytes` their
//! bytes; `out_pkts` the datagrams taken; a datagram is dropped for at most one of the
//! pre-ARQ reasons; a datagram sealed with the session's key never fails its checksum; a
//! genuine datagram (the peer's) is always accepted, and so are the session's own by the
//! peer, however hostile the input was.

#![no_main]

#[allow(dead_code)]
mod common;

use std::sync::{Mutex, OnceLock};

use common::CONV;
use kcp_core::crypto::{CipherKind, LegacyCrypto, HEADER_LEN as SEAL_LEN};
use kcp_core::fec::{kcpgo, native, NativeConfig};
use kcp_core::session::{DatagramError, FecMode, Protection, Session, SessionConfig, SessionError};
use kcp_core::wire::{Header, HEADER_LEN as SEGMENT_HEADER_LEN};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Any 32 bytes will do for a derived key (deriving one takes milliseconds).
const KEY: [u8; 32] = *b"session_input fuzz target key..!";

/// Most `poll_transmit` calls in one drain, so that a livelock shows up as a slow input
/// rather than a hang.
const MAX_POLLS: usize = 1024;

/// Largest message a `Send` queues.
const MAX_SEND: usize = 8 * 1024;

#[derive(Arbitrary, Debug)]
struct Scenario {
    /// `fec % 3`: off, kcp-go 10+3, native with the default tuning.
    fec: u8,
    /// `protection % 7`: none, then legacy with each of `CipherKind::ALL`.
    protection: u8,
    /// See `common::config`; its MTU is replaced by `mtu`.
    selector: u8,
    /// `mtu % 3`: the smallest the framing allows, 1400, the largest.
    mtu: u8,
    nonce_seed: u64,
    /// The clock at the start.
    clock: u32,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A datagram exactly as it is.
    Raw { bytes: Vec<u8> },
    /// A datagram framed as `frame` says, with our conv written into its segment headers if
    /// `patch_conv`, then sealed with the session's key (when it has protection).
    Sealed {
        frame: Frame,
        patch_conv: bool,
        bytes: Vec<u8>,
    },
    /// The peer queues a message of `len` bytes (modulo 8 KiB) and sends what it can; its
    /// datagram `i` is lost if bit `i % 32` of `lose` is set.
    Peer { len: u16, lose: u32 },
    /// The session sends what it has; the peer gets it if `deliver`.
    Transmit { deliver: bool },
    /// Time passes and both sides are told.
    Wait { ms: u16 },
    /// The session's application queues a message of `len` bytes (modulo 8 KiB).
    Send { len: u16 },
    /// The session's application reads what it can.
    Recv,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Frame {
    /// No FEC framing: KCP segments as they are.
    Bare,
    /// A kcp-go data packet with this seqid (the peer's start at 0).
    KcpGoData { seqid: u8 },
    /// A kcp-go parity packet with this seqid.
    KcpGoParity { seqid: u8 },
    /// A native header of kind `kind % 4` (3 is no kind); plain and data get a size field
    /// that matches.
    Native {
        kind: u8,
        seq: u8,
        offset: u8,
        position: u8,
        report: u8,
    },
}

fuzz_target!(|scenario: Scenario| {
    let fec = match scenario.fec % 3 {
        0 => FecMode::Off,
        1 => FecMode::KcpGo {
            data: 10,
            parity: 3,
        },
        _ => FecMode::Native(NativeConfig::default()),
    };
    let cipher = match scenario.protection % 7 {
        0 => None,
        n => Some(CipherKind::ALL[usize::from(n) - 1]),
    };
    let protection = match cipher {
        None => Protection::None,
        Some(cipher) => Protection::Legacy { cipher, key: KEY },
    };
    let mut config = SessionConfig {
        arq: common::config(scenario.selector),
        fec,
        protection,
    };
    let (min, max) = mtu_range(scenario.fec % 3, scenario.protection % 7, &config);
    config.arq.mtu = match scenario.mtu % 3 {
        0 => min,
        1 => 1400,
        _ => max,
    };
    let mut session =
        Session::new(CONV, &config, scenario.nonce_seed).expect("a valid configuration");
    let mut peer =
        Session::new(CONV, &config, !scenario.nonce_seed).expect("the same configuration");
    // A third party that knows the key: what it seals passes the checksum.
    let mut forger = cipher.map(|cipher| forger(cipher).with_nonce_seed(scenario.nonce_seed ^ 1));

    let mut now = scenario.clock;
    let mut buf = vec![0u8; session.max_datagram_size()];
    let mut read_buf = vec![0u8; 64 * 1024];
    let mut fed = Fed::default();
    let mut taken = 0u64;
    let mut peer_sent = 0usize;

    for op in &scenario.ops {
        match op {
            Op::Raw { bytes } => {
                let result = fed.feed(&mut session, now, &mut bytes.clone());
                if forger.is_none() {
                    assert_ne!(
                        result,
                        Err(DatagramError::Checksum),
                        "checked without protection"
                    );
                    assert_ne!(
                        result,
                        Err(DatagramError::Short),
                        "checked without protection"
                    );
                }
            }
            Op::Sealed {
                frame,
                patch_conv,
                bytes,
            } => {
                let plain = framed(*frame, bytes, *patch_conv);
                let mut datagram = match &mut forger {
                    None => plain,
                    Some(forger) => {
                        let mut datagram = vec![0u8; SEAL_LEN];
                        datagram.extend_from_slice(&plain);
                        forger.seal(&mut datagram);
                        datagram
                    }
                };
                let result = fed.feed(&mut session, now, &mut datagram);
                assert_ne!(
                    result,
                    Err(DatagramError::Checksum),
                    "sealed with the right key"
                );
                assert_ne!(
                    result,
                    Err(DatagramError::Short),
                    "sealed with the right key"
                );
            }
            Op::Peer { len, lose } => {
                let message = vec![0xa5; usize::from(*len) % MAX_SEND];
                // A full queue or too many fragments refuses it; the peer still transmits.
                let _ = peer.send(&message);
                for _ in 0..MAX_POLLS {
                    let Some(n) = peer.poll_transmit(now, &mut buf) else {
                        break;
                    };
                    let lost = lose & (1 << (peer_sent % 32)) != 0;
                    peer_sent += 1;
                    if !lost {
                        let result = fed.feed(&mut session, now, &mut buf[..n]);
                        assert_eq!(result, Ok(()), "the genuine peer's datagram is accepted");
                    }
                }
            }
            Op::Transmit { deliver } => {
                for _ in 0..MAX_POLLS {
                    let Some(n) = session.poll_transmit(now, &mut buf) else {
                        break;
                    };
                    taken += 1;
                    assert!(n <= session.max_datagram_size());
                    if *deliver {
                        let result = peer.handle_datagram(now, &mut buf[..n]);
                        assert_eq!(result, Ok(()), "the session's datagram is accepted");
                    }
                }
            }
            Op::Wait { ms } => {
                now = now.wrapping_add(u32::from(*ms));
                session.handle_timeout(now);
                peer.handle_timeout(now);
                // Only asked so that it runs on every state reached: its answer is advice.
                let _ = session.poll_timeout();
            }
            Op::Send { len } => {
                let _ = session.send(&vec![0x3c; usize::from(*len) % MAX_SEND]);
            }
            Op::Recv => {
                for _ in 0..MAX_POLLS {
                    if session.recv(&mut read_buf).is_err() {
                        break;
                    }
                }
            }
        }
        let snmp = session.snmp();
        assert_eq!(snmp.in_pkts, fed.datagrams, "every datagram fed is counted");
        assert_eq!(snmp.in_bytes, fed.bytes);
        assert_eq!(snmp.out_pkts, taken, "every datagram taken is counted");
        assert!(
            snmp.in_errs + snmp.in_csum_errors <= fed.datagrams,
            "{snmp:?}"
        );
        if forger.is_none() {
            assert_eq!(snmp.in_csum_errors, 0, "no checksum without protection");
        }
    }
});

/// `(min, max)` MTU by FEC and protection choice, once known.
type MtuRanges = [[Option<(u32, u32)>; 7]; 3];

/// The smallest and largest MTU the framing allows (`fec` and `protection` are the choices
/// `config` was built from), from the error `Session::new` gives for an MTU of 0. Cached:
/// expanding a key (the `xor` pad above all) costs more than a whole short input.
fn mtu_range(fec: u8, protection: u8, config: &SessionConfig) -> (u32, u32) {
    static RANGES: Mutex<MtuRanges> = Mutex::new([[None; 7]; 3]);
    let mut ranges = RANGES.lock().expect("not poisoned");
    *ranges[usize::from(fec)][usize::from(protection)].get_or_insert_with(|| {
        let mut config = config.clone();
        config.arq.mtu = 0;
        match Session::new(CONV, &config, 0) {
            Err(SessionError::Mtu { min, max, .. }) => (min, max),
            other => panic!("MTU 0 gave {other:?}"),
        }
    })
}

/// `cipher` under `KEY`, expanded once.
fn forger(cipher: CipherKind) -> &'static LegacyCrypto {
    static FORGERS: OnceLock<[LegacyCrypto; 6]> = OnceLock::new();
    let forgers =
        FORGERS.get_or_init(|| CipherKind::ALL.map(|kind| LegacyCrypto::new(kind, &KEY, 0)));
    let index = CipherKind::ALL.iter().position(|&kind| kind == cipher);
    &forgers[index.expect("one of ALL")]
}

/// Datagrams fed to the session and their bytes.
#[derive(Default)]
struct Fed {
    datagrams: u64,
    bytes: u64,
}

impl Fed {
    fn feed(
        &mut self,
        session: &mut Session,
        now: u32,
        datagram: &mut [u8],
    ) -> Result<(), DatagramError> {
        self.datagrams += 1;
        self.bytes += datagram.len() as u64;
        session.handle_datagram(now, datagram)
    }
}

/// `bytes` with the FEC framing `frame` in front, and our conv in their segment headers if
/// `patch_conv`.
fn framed(frame: Frame, bytes: &[u8], patch_conv: bool) -> Vec<u8> {
    let mut segments = bytes.to_vec();
    if patch_conv {
        write_conv(&mut segments);
    }
    let size = u16::try_from(segments.len() + 2)
        .unwrap_or(u16::MAX)
        .to_le_bytes();
    let mut datagram = match frame {
        Frame::Bare => return segments,
        Frame::KcpGoData { seqid } => {
            let mut header = u32::from(seqid).to_le_bytes().to_vec();
            header.extend_from_slice(&kcpgo::FLAG_DATA.to_le_bytes());
            header.extend_from_slice(&size);
            header
        }
        Frame::KcpGoParity { seqid } => {
            let mut header = u32::from(seqid).to_le_bytes().to_vec();
            header.extend_from_slice(&kcpgo::FLAG_PARITY.to_le_bytes());
            header
        }
        Frame::Native {
            kind,
            seq,
            offset,
            position,
            report,
        } => {
            let mut header = u32::from(seq).to_le_bytes().to_vec();
            header.extend_from_slice(&[kind % 4, offset, position, report]);
            if kind % 4 < 2 {
                header.extend_from_slice(&size);
            }
            header
        }
    };
    debug_assert!(datagram.len() <= native::DATA_OVERHEAD);
    datagram.extend_from_slice(&segments);
    datagram
}

/// Writes our conversation id into every segment header where the session's walk will look
/// for one, so that the other bytes, not the conv check, decide what the segments do.
fn write_conv(segments: &mut [u8]) {
    let mut offset = 0usize;
    while let Some(header) = segments
        .get_mut(offset..)
        .and_then(|rest| rest.get_mut(..SEGMENT_HEADER_LEN))
    {
        header[..4].copy_from_slice(&CONV.to_le_bytes());
        let Ok(decoded) = Header::decode(header) else {
            break;
        };
        offset = offset
            .saturating_add(SEGMENT_HEADER_LEN)
            .saturating_add(decoded.len as usize);
    }
}
