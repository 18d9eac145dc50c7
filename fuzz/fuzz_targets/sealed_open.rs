//! `Opener::open` is the first code to touch a sealed-mode datagram, so any bytes must go
//! through it without a panic; and the sealed framing must hold its promises whatever order,
//! damage and replays the network brings:
//!
//! * an untouched datagram opens to exactly what was sealed, once; a second copy is a replay;
//! * a datagram with any byte changed never opens (it is a forgery or, when the change lands
//!   in the counter, possibly refused as a replay first), and a refused datagram moves neither
//!   the replay window nor anything else but the forgery count;
//! * arbitrary bytes never open.

#![no_main]

use kcp_core::sealed::packet::{OpenError, Opener, Sealer, HEADER_LEN, OVERHEAD, TAG_LEN};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = *b"sealed_open fuzz target key 0123";

#[derive(Arbitrary, Debug)]
enum Op {
    /// Seal a new datagram with this plaintext and keep it in flight.
    Seal(Vec<u8>),
    /// Deliver in-flight datagram `index` (modulo), untouched.
    Deliver(u16),
    /// Deliver in-flight datagram `index` with byte `at` (modulo its length) XORed with `xor`
    /// (0 taken as 1).
    Damage { index: u16, at: u16, xor: u8 },
    /// Deliver arbitrary bytes.
    Garbage(Vec<u8>),
}

fuzz_target!(|ops: Vec<Op>| {
    let mut sealer = Sealer::new(&KEY);
    let mut opener = Opener::new(&KEY);
    // In flight: the datagram, its plaintext, and whether it was delivered.
    let mut flight: Vec<(Vec<u8>, Vec<u8>, bool)> = Vec::new();
    let mut forgeries = 0;
    for op in ops.into_iter().take(256) {
        match op {
            Op::Seal(plain) => {
                let plain: Vec<u8> = plain.into_iter().take(1400).collect();
                let mut d = vec![0; HEADER_LEN];
                d.extend_from_slice(&plain);
                d.extend_from_slice(&[0; TAG_LEN]);
                sealer.seal(1, 7, &mut d).expect("far below the key limit");
                flight.push((d, plain, false));
            }
            Op::Deliver(index) if !flight.is_empty() => {
                let i = index as usize % flight.len();
                let (d, plain, delivered) = &mut flight[i];
                let mut copy = d.clone();
                match opener.open(&mut copy) {
                    Ok((range, _)) => {
                        assert!(!*delivered, "a datagram opened twice");
                        assert_eq!(&copy[range], &plain[..]);
                        *delivered = true;
                    }
                    // Only the first copy opens; an old one may also fall behind the window.
                    Err(OpenError::Replay(_)) => {}
                    Err(e) => panic!("an untouched datagram failed: {e}"),
                }
            }
            Op::Damage { index, at, xor } if !flight.is_empty() => {
                let i = index as usize % flight.len();
                let mut copy = flight[i].0.clone();
                let at = at as usize % copy.len();
                copy[at] ^= xor.max(1);
                let highest = opener.highest();
                match opener.open(&mut copy) {
                    Ok(_) => panic!("a damaged datagram opened (byte {at})"),
                    Err(OpenError::Forged) => forgeries += 1,
                    Err(OpenError::Replay(_)) => {}
                    Err(e) => panic!("unexpected {e}"),
                }
                assert_eq!(
                    opener.highest(),
                    highest,
                    "a refused datagram moved the window"
                );
            }
            Op::Garbage(bytes) => {
                let mut bytes = bytes;
                let highest = opener.highest();
                match opener.open(&mut bytes) {
                    Ok(_) => panic!("garbage opened"),
                    Err(OpenError::Short) => assert!(bytes.len() < OVERHEAD),
                    Err(OpenError::Forged) => forgeries += 1,
                    Err(_) => {}
                }
                assert_eq!(opener.highest(), highest);
            }
            _ => {}
        }
        assert_eq!(opener.forgeries(), forgeries);
    }
});
