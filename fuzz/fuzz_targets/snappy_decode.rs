//! The snappy frame decoder reads whatever the peer's KCP stream carries, cut wherever the
//! datagrams happened to end. Any bytes, in any pieces, must decode without panicking, and
//! the pieces must not matter: fed whole or fed in pieces, a stream gives the same output and
//! the same error. The encoder's output, cut anywhere, must decode back to exactly its input.
//!
//! Input: a control byte, then the bytes. Control bits 0-5 pick the piece size (1 to 4096
//! bytes), bit 6 alternates pieces of that size with single bytes, bit 7 puts a stream
//! identifier before the bytes (so the fuzzer reaches the chunks without having to find it).
//! With bits 6 and 7 both set the round trip repeats the bytes past one 64 KiB chunk (only then:
//! it is the slow case).

#![no_main]

use kcp_tunnel::snappy::{FrameDecoder, FrameEncoder, SnappyError, STREAM_IDENTIFIER};
use libfuzzer_sys::fuzz_target;

/// Feeds `stream` to a fresh decoder in pieces of `step` bytes, alternated with single bytes
/// if `alternate`; returns everything it output and the first error (after which nothing more
/// is fed).
fn decode_in_pieces(
    stream: &[u8],
    step: usize,
    alternate: bool,
) -> (Vec<u8>, Result<(), SnappyError>) {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut rest = stream;
    let mut turn = 0usize;
    while !rest.is_empty() {
        let size = if alternate && turn % 2 == 1 { 1 } else { step };
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        turn += 1;
        let before = out.len();
        if let Err(e) = decoder.decode(piece, &mut out) {
            // Dead from now on, and said so again.
            let len = out.len();
            assert_eq!(decoder.decode(piece, &mut out), Err(e));
            assert_eq!(decoder.decode(b"", &mut out), Err(e));
            assert_eq!(out.len(), len, "a dead decoder output more");
            return (out, Err(e));
        }
        // One piece completes at most a piece's worth of chunks of at most 64 KiB each.
        assert!(out.len() - before <= 65_536 * (piece.len() / 8 + 1));
    }
    (out, Ok(()))
}

fuzz_target!(|data: &[u8]| {
    let [control, ref bytes @ ..] = *data else {
        return;
    };

    let step = (1 + usize::from(control & 0x3f)).pow(2);
    let alternate = control & 0x40 != 0;
    let mut stream = Vec::new();
    if control & 0x80 != 0 {
        stream.extend_from_slice(&STREAM_IDENTIFIER);
    }
    stream.extend_from_slice(bytes);

    // Any bytes: the same outcome whole and in pieces.
    let mut whole_out = Vec::new();
    let whole = FrameDecoder::new().decode(&stream, &mut whole_out);
    let (split_out, split) = decode_in_pieces(&stream, step, alternate);
    assert_eq!(whole, split, "splitting changed the outcome");
    assert_eq!(whole_out, split_out, "splitting changed the output");

    // Round trip: encode (in writes of a size the control byte picks), decode in pieces
    // (bigger ones for the long variant, to keep the runs quick).
    let (plain, step) = if control & 0xc0 == 0xc0 && !bytes.is_empty() {
        (bytes.repeat(70_000 / bytes.len() + 1), step * 61)
    } else {
        (bytes.to_vec(), step)
    };
    let mut encoder = FrameEncoder::new();
    let mut encoded = Vec::new();
    for write in plain.chunks(1 + usize::from(control & 0x3f) * 997) {
        encoder.encode(write, &mut encoded);
    }
    if !plain.is_empty() {
        assert_eq!(encoded[..STREAM_IDENTIFIER.len()], STREAM_IDENTIFIER);
    }
    let (decoded, result) = decode_in_pieces(&encoded, step, alternate);
    assert_eq!(result, Ok(()));
    assert!(decoded == plain, "round trip changed the data");
});
