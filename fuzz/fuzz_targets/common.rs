//! Shared by the targets that drive live peers (`input` and `ops`): a configuration bug is
//! only found if the fuzzer can reach that configuration, so both pick it from one input byte
//! the same way, and both move datagrams and reads with the same bounded loops, because a
//! fuzz target that can spin forever hides the very livelocks it should expose.

use kcp_core::wire::Segments;
use kcp_core::{Config, FlushMode, Kcp};

/// The conversation both peers share.
pub const CONV: u32 = 0x1122_3344;

/// Most `poll_transmit` or `recv` calls in one drain. A flush legitimately takes a few hundred
/// datagrams at most (every pending ack, the window, at the smallest MTU).
const MAX_POLLS: usize = 1024;

/// A valid configuration chosen by `selector`: bits 0-2 pick a preset, bit 3 stream mode,
/// bit 4 interval flushing, bit 5 tiny windows (zero-window probing), bit 6 flips congestion
/// control, bit 7 the smallest MTU (heavy fragmentation).
pub fn config(selector: u8) -> Config {
    let bit = |n: u8| selector & (1 << n) != 0;
    let mut config = match selector & 0b111 {
        0 => Config::normal(),
        1 => Config::fast(),
        2 => Config::fast2(),
        3 => Config::fast3(),
        _ => Config::default(),
    };
    config.stream = bit(3);
    if bit(4) {
        config.flush = FlushMode::Interval;
    }
    if bit(5) {
        config.send_window = 4;
        config.recv_window = 8;
        config.max_fragments = 8;
    }
    config.congestion_control ^= bit(6);
    if bit(7) {
        config.mtu = kcp_core::arq::MIN_MTU;
    }
    config
}

/// Hands every datagram `kcp` has ready to `emit`, checking that each is well formed: the peer
/// decodes with the same walk, so a datagram it would reject is a bug on this side.
pub fn transmit_all(kcp: &mut Kcp, now: u32, buf: &mut Vec<u8>, mut emit: impl FnMut(&[u8])) {
    for _ in 0..MAX_POLLS {
        buf.resize(kcp.max_datagram_size(), 0);
        let Some(len) = kcp.poll_transmit(now, buf) else {
            break;
        };
        let datagram = &buf[..len];
        let mut walk = Segments::new(datagram);
        for segment in walk.by_ref() {
            let segment = segment.expect("an emitted datagram decodes");
            assert_eq!(segment.header.conv, kcp.conv(), "emitted for another conv");
        }
        assert_eq!(walk.trailing(), 0, "emitted datagram has a ragged tail");
        emit(datagram);
    }
}

/// Reads everything `kcp` has ready, one `recv` into `buf` at a time, handing each read to
/// `deliver`.
pub fn recv_all(kcp: &mut Kcp, buf: &mut [u8], mut deliver: impl FnMut(&[u8])) {
    for poll in 0..MAX_POLLS {
        // Alternate the copying and the owned-buffer reads: both must see the same bytes.
        if poll % 2 == 1 {
            match kcp.recv_buffer() {
                Ok(received) => {
                    deliver(&received);
                    kcp.recycle_buffer(received.into_buffer());
                }
                Err(_) => break,
            }
            continue;
        }
        match kcp.recv(buf) {
            Ok(len) => deliver(&buf[..len]),
            Err(_) => break,
        }
    }
}
