//! Snappy framing format, as kcptun (golang/snappy's `Writer` and `Reader`) puts it on the wire.
//!
//! Unless `-nocomp` is given, kcptun wraps each direction of the KCP byte stream in the
//! [Snappy framing format](https://github.com/google/snappy/blob/main/framing_format.txt):
//!
//! ```text
//! FF 06 00 00 's' 'N' 'a' 'P' 'p' 'Y'          stream identifier, once at the start
//! type:u8 | len:u24 LE | crc:u32 LE | data     then chunks; len counts crc + data
//! ```
//!
//! - type `0x00`: `data` is one snappy block (compressed), `0x01`: `data` is stored as is;
//!   either way it stands for at most 65 536 uncompressed bytes, and `crc` is the masked
//!   CRC-32C of those uncompressed bytes;
//! - type `0xFF` repeats the stream identifier (allowed anywhere, must match);
//! - types `0x80..=0xFE` (`0xFE` is padding) are skipped, `0x02..=0x7F` are reserved and fatal.
//!
//! Both halves are sans-IO: [`FrameEncoder`] appends bytes to a `Vec`, [`FrameDecoder`]
//! accepts the stream in pieces of any size (a chunk may be cut anywhere, even inside its
//! header) and appends what it decodes. Neither allocates per chunk once warm, and the decoder
//! never holds more than one chunk: a compressed or stored chunk is at most
//! [`MAX_CHUNK_DATA`]'s worth, skippable chunks are counted through, not buffered.

use core::fmt;

use snap::raw::{decompress_len, max_compress_len, Decoder, Encoder};

/// The stream identifier chunk that starts every snappy-framed stream: `FF 06 00 00 "sNaPpY"`.
pub const STREAM_IDENTIFIER: [u8; 10] = *b"\xff\x06\x00\x00sNaPpY";

/// The most uncompressed bytes one chunk carries (the encoder splits larger writes; the
/// decoder rejects chunks that would decode to more).
pub const MAX_CHUNK_DATA: usize = 65_536;

const CHUNK_COMPRESSED: u8 = 0x00;
const CHUNK_STORED: u8 = 0x01;
const CHUNK_STREAM_ID: u8 = 0xFF;
/// Chunk header: type byte plus a 24-bit little-endian length.
const HEADER_LEN: usize = 4;
/// Masked CRC-32C at the start of the body of compressed and stored chunks.
const CHECKSUM_LEN: usize = 4;
/// The body of the stream identifier chunk.
const STREAM_ID_BODY: &[u8] = b"sNaPpY";
/// Longest body of a stored chunk.
const MAX_STORED_BODY: usize = CHECKSUM_LEN + MAX_CHUNK_DATA;
/// Longest body of a compressed chunk: checksum plus the worst case of snappy's block format
/// for [`MAX_CHUNK_DATA`] bytes (`32 + n + n / 6`, what `max_compress_len` gives).
const MAX_COMPRESSED_BODY: usize = CHECKSUM_LEN + 32 + MAX_CHUNK_DATA + MAX_CHUNK_DATA / 6;

/// The checksum the framing format stores: CRC-32C, rotated right by 15, plus a constant.
fn masked_crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

/// Why a snappy-framed stream could not be decoded. Every error is fatal for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnappyError {
    /// The first chunk is not the stream identifier: most likely the peer sends without
    /// compression (`-nocomp` on one side only).
    MissingStreamIdentifier,
    /// A stream identifier chunk with the wrong length or contents.
    BadStreamIdentifier,
    /// A reserved unskippable chunk type (`0x02..=0x7F`).
    UnknownChunk(u8),
    /// A chunk header shorter than its checksum.
    ChunkTooShort {
        /// The chunk type.
        chunk_type: u8,
        /// Its length field.
        len: usize,
    },
    /// A compressed or stored chunk longer than a chunk of [`MAX_CHUNK_DATA`] bytes can be.
    ChunkTooLarge {
        /// The chunk type.
        chunk_type: u8,
        /// Its length field.
        len: usize,
        /// The longest this type may be.
        max: usize,
    },
    /// A compressed chunk whose snappy block does not decode.
    Corrupt,
    /// A compressed chunk that would decode to more than [`MAX_CHUNK_DATA`] bytes.
    DecompressedTooLarge,
    /// The data of a chunk does not match the chunk's checksum.
    Checksum {
        /// The masked CRC-32C the chunk carries.
        expected: u32,
        /// The masked CRC-32C of the data.
        actual: u32,
    },
}

impl fmt::Display for SnappyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::MissingStreamIdentifier => f.write_str(
                "snappy: stream does not start with the stream identifier; \
                 the peer probably runs without compression (-nocomp on one side only?)",
            ),
            Self::BadStreamIdentifier => f.write_str("snappy: malformed stream identifier chunk"),
            Self::UnknownChunk(t) => write!(f, "snappy: reserved unskippable chunk type {t:#04x}"),
            Self::ChunkTooShort { chunk_type, len } => {
                write!(
                    f,
                    "snappy: chunk type {chunk_type:#04x} too short ({len} bytes)"
                )
            }
            Self::ChunkTooLarge {
                chunk_type,
                len,
                max,
            } => write!(
                f,
                "snappy: chunk type {chunk_type:#04x} too large ({len} bytes, max {max})"
            ),
            Self::Corrupt => f.write_str("snappy: corrupt compressed chunk"),
            Self::DecompressedTooLarge => write!(
                f,
                "snappy: compressed chunk decodes to more than {MAX_CHUNK_DATA} bytes"
            ),
            Self::Checksum { expected, actual } => write!(
                f,
                "snappy: checksum mismatch (chunk says {expected:#010x}, data gives {actual:#010x})"
            ),
        }
    }
}

impl std::error::Error for SnappyError {}

/// Encoder for one direction of a stream.
///
/// The output is what golang/snappy's `Writer` produces for the same sequence of non-empty
/// writes: the stream identifier before the first chunk, then each write cut into chunks of at
/// most [`MAX_CHUNK_DATA`] bytes, each compressed unless that saves less than 1/8.
#[derive(Debug)]
pub struct FrameEncoder {
    /// snappy's block compressor; reused for its hash table.
    block: Encoder,
    /// Whether the stream identifier has been written.
    started: bool,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameEncoder {
    /// A fresh encoder; its first output will be the stream identifier.
    pub fn new() -> Self {
        Self {
            block: Encoder::new(),
            started: false,
        }
    }

    /// Appends the chunks for `data` to `out`, preceded by [`STREAM_IDENTIFIER`] the first
    /// time `data` is non-empty. Empty `data` appends nothing (as Go's writer).
    ///
    /// `data` is cut into chunks of at most [`MAX_CHUNK_DATA`] bytes. A chunk is compressed
    /// (type `0x00`) unless the compressed form is not shorter than `n - n / 8` bytes, then
    /// stored (type `0x01`), the rule of golang/snappy's `Writer`. At most
    /// `10 + chunks * 8 + data.len()` bytes are appended.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if !self.started {
            self.started = true;
            out.extend_from_slice(&STREAM_IDENTIFIER);
        }
        for chunk in data.chunks(MAX_CHUNK_DATA) {
            self.encode_chunk(chunk, out);
        }
    }

    /// Appends one chunk for `chunk` (at most [`MAX_CHUNK_DATA`] bytes): compressed straight
    /// into the tail of `out`, replaced by the stored form when compression does not pay.
    fn encode_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let body = start + HEADER_LEN + CHECKSUM_LEN;
        out.resize(body + max_compress_len(chunk.len()), 0);
        let (chunk_type, data_len) = match self.block.compress(chunk, &mut out[body..]) {
            Ok(n) if n < chunk.len() - chunk.len() / 8 => {
                out.truncate(body + n);
                (CHUNK_COMPRESSED, n)
            }
            // Not worth it, or (cannot happen for a chunk this size) the compressor refused.
            _ => {
                out.truncate(body);
                out.extend_from_slice(chunk);
                (CHUNK_STORED, chunk.len())
            }
        };
        let len = ((CHECKSUM_LEN + data_len) as u32).to_le_bytes();
        let header = [chunk_type, len[0], len[1], len[2]];
        out[start..start + HEADER_LEN].copy_from_slice(&header);
        out[start + HEADER_LEN..body].copy_from_slice(&masked_crc(chunk).to_le_bytes());
    }
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a chunk header; `have` of its 4 bytes are in `FrameDecoder::header`.
    Header { have: usize },
    /// Collecting the `len`-byte body of a chunk to decode (in `FrameDecoder::buf` when it
    /// arrives in pieces).
    Body { chunk_type: u8, len: usize },
    /// Skipping the rest of a skippable chunk.
    Skip { left: usize },
}

/// Incremental decoder for one direction of a stream: takes the input in pieces of any size,
/// a chunk may be cut anywhere, even inside its 4-byte header.
///
/// Memory is bounded by one chunk: a chunk body that arrives in pieces is collected in an
/// internal buffer (at most `4 + 76 490` bytes, reused), one that arrives whole is decoded in
/// place. Skippable chunks of any length are counted through. Decoded data goes straight into
/// the caller's `Vec`.
pub struct FrameDecoder {
    state: State,
    /// The chunk header being collected.
    header: [u8; HEADER_LEN],
    /// The body of the current chunk when it arrives in pieces; empty otherwise.
    buf: Vec<u8>,
    /// Whether the stream identifier has been seen (it must come first).
    seen_stream_id: bool,
    /// The error that ended the stream; returned again for any further input.
    error: Option<SnappyError>,
}

impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("state", &self.state)
            .field("buffered", &self.buf.len())
            .field("seen_stream_id", &self.seen_stream_id)
            .field("error", &self.error)
            .finish()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder expecting the start of a stream (the stream identifier).
    pub fn new() -> Self {
        Self {
            state: State::Header { have: 0 },
            header: [0; HEADER_LEN],
            buf: Vec::new(),
            seen_stream_id: false,
            error: None,
        }
    }

    /// Consumes all of `input`, appending the data of every chunk it completes to `out`. A
    /// chunk cut off at the end of `input` is kept until the rest arrives.
    ///
    /// On error, `out` holds the data of the chunks that decoded before it (never any of the
    /// failing chunk's), and the decoder is dead: every later call returns the same error.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), SnappyError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let result = self.run(input, out);
        if let Err(error) = result {
            self.error = Some(error);
            self.buf = Vec::new();
        }
        result
    }

    /// Whether the input so far ends inside a chunk (so a stream that ends here is truncated).
    pub fn has_partial_chunk(&self) -> bool {
        self.state != State::Header { have: 0 }
    }

    fn run(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), SnappyError> {
        while !input.is_empty() {
            match self.state {
                State::Header { have } => {
                    if have == 0 {
                        self.check_type(input[0])?;
                    }
                    let take = (HEADER_LEN - have).min(input.len());
                    self.header[have..have + take].copy_from_slice(&input[..take]);
                    input = &input[take..];
                    self.state = if have + take < HEADER_LEN {
                        State::Header { have: have + take }
                    } else {
                        self.start_chunk()?
                    };
                }
                State::Skip { left } => {
                    let take = left.min(input.len());
                    input = &input[take..];
                    self.state = if take == left {
                        State::Header { have: 0 }
                    } else {
                        State::Skip { left: left - take }
                    };
                }
                State::Body { chunk_type, len } => {
                    if self.buf.is_empty() && input.len() >= len {
                        // The whole body is here: decode it in place.
                        let (body, rest) = input.split_at(len);
                        input = rest;
                        self.state = State::Header { have: 0 };
                        decode_chunk(chunk_type, body, out)?;
                    } else {
                        if self.buf.is_empty() {
                            self.buf.reserve_exact(len);
                        }
                        let take = (len - self.buf.len()).min(input.len());
                        self.buf.extend_from_slice(&input[..take]);
                        input = &input[take..];
                        if self.buf.len() == len {
                            self.state = State::Header { have: 0 };
                            let result = decode_chunk(chunk_type, &self.buf, out);
                            self.buf.clear();
                            result?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks a chunk type as soon as its byte arrives.
    fn check_type(&self, chunk_type: u8) -> Result<(), SnappyError> {
        if !self.seen_stream_id && chunk_type != CHUNK_STREAM_ID {
            Err(SnappyError::MissingStreamIdentifier)
        } else if (0x02..=0x7f).contains(&chunk_type) {
            Err(SnappyError::UnknownChunk(chunk_type))
        } else {
            Ok(())
        }
    }

    /// Validates a complete chunk header and returns the state for its body.
    fn start_chunk(&mut self) -> Result<State, SnappyError> {
        let [chunk_type, l0, l1, l2] = self.header;
        let len = u32::from_le_bytes([l0, l1, l2, 0]) as usize;
        let max = match chunk_type {
            CHUNK_STREAM_ID => {
                if len != STREAM_ID_BODY.len() {
                    return Err(SnappyError::BadStreamIdentifier);
                }
                self.seen_stream_id = true;
                return Ok(State::Body { chunk_type, len });
            }
            CHUNK_COMPRESSED => MAX_COMPRESSED_BODY,
            CHUNK_STORED => MAX_STORED_BODY,
            0x02..=0x7f => return Err(SnappyError::UnknownChunk(chunk_type)),
            // Padding and reserved skippable chunks.
            _ if len == 0 => return Ok(State::Header { have: 0 }),
            _ => return Ok(State::Skip { left: len }),
        };
        if len < CHECKSUM_LEN {
            Err(SnappyError::ChunkTooShort { chunk_type, len })
        } else if len > max {
            Err(SnappyError::ChunkTooLarge {
                chunk_type,
                len,
                max,
            })
        } else {
            Ok(State::Body { chunk_type, len })
        }
    }
}

/// Decodes the complete body of a chunk whose header passed `start_chunk`, appending its data
/// to `out`; on error `out` is left as it was.
fn decode_chunk(chunk_type: u8, body: &[u8], out: &mut Vec<u8>) -> Result<(), SnappyError> {
    if chunk_type == CHUNK_STREAM_ID {
        return if body == STREAM_ID_BODY {
            Ok(())
        } else {
            Err(SnappyError::BadStreamIdentifier)
        };
    }
    let (checksum, data) = body.split_at(CHECKSUM_LEN);
    let expected = u32::from_le_bytes([checksum[0], checksum[1], checksum[2], checksum[3]]);
    let start = out.len();
    if chunk_type == CHUNK_STORED {
        check(expected, data)?;
        out.extend_from_slice(data);
        return Ok(());
    }
    let n = decompress_len(data).map_err(|_| SnappyError::Corrupt)?;
    if n > MAX_CHUNK_DATA {
        return Err(SnappyError::DecompressedTooLarge);
    }
    out.resize(start + n, 0);
    let result = match Decoder::new().decompress(data, &mut out[start..]) {
        Ok(written) if written == n => check(expected, &out[start..]),
        _ => Err(SnappyError::Corrupt),
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Compares a chunk's checksum with its uncompressed data.
fn check(expected: u32, data: &[u8]) -> Result<(), SnappyError> {
    let actual = masked_crc(data);
    if actual == expected {
        Ok(())
    } else {
        Err(SnappyError::Checksum { expected, actual })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// xorshift64*: a tiny deterministic generator for test data and split sizes.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform-ish in `0..n` (`n > 0`).
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }

        /// Text-like bytes: words from a small vocabulary, so snappy finds matches.
        fn text(&mut self, len: usize) -> Vec<u8> {
            const WORDS: &[&str] = &[
                "the ",
                "kcp ",
                "tunnel ",
                "stream ",
                "packet ",
                "window ",
                "ack ",
                "snappy ",
                "GET / HTTP/1.1\r\n",
                "Host: example.com\r\n",
                "{\"id\":",
                "}, ",
                "\n",
            ];
            let mut out = Vec::with_capacity(len + 32);
            while out.len() < len {
                out.extend_from_slice(WORDS[self.below(WORDS.len())].as_bytes());
                if self.below(8) == 0 {
                    out.extend_from_slice(format!("{}", self.next() % 100_000).as_bytes());
                }
            }
            out.truncate(len);
            out
        }
    }

    /// Feeds `stream` to a fresh decoder in random pieces of 1..=`max_piece` bytes.
    fn decode_split(
        stream: &[u8],
        rng: &mut Rng,
        max_piece: usize,
    ) -> Result<Vec<u8>, SnappyError> {
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        let mut rest = stream;
        while !rest.is_empty() {
            let take = (1 + rng.below(max_piece)).min(rest.len());
            decoder.decode(&rest[..take], &mut out)?;
            rest = &rest[take..];
        }
        assert!(!decoder.has_partial_chunk(), "stream ended inside a chunk");
        Ok(out)
    }

    fn decode_whole(stream: &[u8]) -> Result<Vec<u8>, SnappyError> {
        let mut out = Vec::new();
        FrameDecoder::new().decode(stream, &mut out)?;
        Ok(out)
    }

    fn encode_once(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameEncoder::new().encode(data, &mut out);
        out
    }

    /// A chunk with the given type and body (length field computed).
    fn chunk(chunk_type: u8, body: &[u8]) -> Vec<u8> {
        let len = (body.len() as u32).to_le_bytes();
        let mut out = vec![chunk_type, len[0], len[1], len[2]];
        out.extend_from_slice(body);
        out
    }

    /// A stored chunk for `data` with a correct checksum.
    fn stored(data: &[u8]) -> Vec<u8> {
        let mut body = masked_crc(data).to_le_bytes().to_vec();
        body.extend_from_slice(data);
        chunk(CHUNK_STORED, &body)
    }

    /// Splits a framed stream into (type, body) chunks.
    fn chunks(mut stream: &[u8]) -> Vec<(u8, &[u8])> {
        let mut found = Vec::new();
        while !stream.is_empty() {
            let len = u32::from_le_bytes([stream[1], stream[2], stream[3], 0]) as usize;
            found.push((stream[0], &stream[4..4 + len]));
            stream = &stream[4 + len..];
        }
        found
    }

    #[test]
    fn snappy_limits_match_snap() {
        assert_eq!(
            MAX_COMPRESSED_BODY,
            CHECKSUM_LEN + max_compress_len(MAX_CHUNK_DATA)
        );
        assert_eq!(MAX_COMPRESSED_BODY, 76_494);
        // Known CRC-32C vector, and the mask applied to it.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn snappy_round_trip_random_splits() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for &len in &[
            0,
            1,
            5,
            17,
            100,
            4096,
            65_535,
            65_536,
            65_537,
            200_000,
            1 << 20,
        ] {
            let inputs = [rng.bytes(len), rng.text(len), vec![0u8; len]];
            for data in &inputs {
                let stream = encode_once(data);
                assert_eq!(decode_whole(&stream).unwrap(), *data, "len {len} whole");
                for &max_piece in &[1, 3, 11, 1000, 70_000] {
                    if max_piece == 1 && len > 200_000 {
                        continue; // covered by the smaller sizes; keeps the test quick
                    }
                    let got = decode_split(&stream, &mut rng, max_piece).unwrap();
                    assert_eq!(got, *data, "len {len} pieces up to {max_piece}");
                }
            }
        }
    }

    #[test]
    fn snappy_round_trip_many_writes() {
        let mut rng = Rng(42);
        let mut encoder = FrameEncoder::new();
        let mut stream = Vec::new();
        let mut sent = Vec::new();
        for i in 0..300 {
            let len = match i % 3 {
                0 => rng.below(100),
                1 => rng.below(40_000),
                _ => rng.below(150_000),
            };
            let data = if rng.below(2) == 0 {
                rng.bytes(len)
            } else {
                rng.text(len)
            };
            encoder.encode(&data, &mut stream);
            sent.extend_from_slice(&data);
        }
        assert_eq!(stream[..10], STREAM_IDENTIFIER);
        assert_eq!(
            stream
                .windows(10)
                .filter(|w| *w == STREAM_IDENTIFIER)
                .count(),
            1
        );
        assert_eq!(decode_split(&stream, &mut rng, 5000).unwrap(), sent);
        assert_eq!(decode_split(&stream, &mut rng, 9).unwrap(), sent);
    }

    #[test]
    fn snappy_hello_is_stored_byte_exact() {
        // What golang/snappy's Writer produces for Write("hello"): "hello" compresses to 7
        // bytes, not below 5 - 5/8, so it is stored. CRC-32C("hello") = 0x9a71bb4c, masked
        // 0x191c1fbb.
        let expected = [
            0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y', // stream identifier
            0x01, 0x09, 0x00, 0x00, // stored, 4 + 5 bytes
            0xbb, 0x1f, 0x1c, 0x19, // masked CRC-32C
            b'h', b'e', b'l', b'l', b'o',
        ];
        assert_eq!(encode_once(b"hello"), expected);
        assert_eq!(decode_whole(&expected).unwrap(), b"hello");
    }

    #[test]
    fn snappy_first_output_is_stream_identifier() {
        // The first KCP payload in the spec's example capture.
        let spec = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];
        assert_eq!(STREAM_IDENTIFIER, spec);
        let mut encoder = FrameEncoder::new();
        let mut out = Vec::new();
        encoder.encode(b"", &mut out);
        assert!(out.is_empty(), "an empty write produces nothing, as in Go");
        encoder.encode(&[1, 0, 0, 0, 3, 0, 0, 0], &mut out);
        assert_eq!(out[..10], spec);
        let len = out.len();
        encoder.encode(b"x", &mut out);
        assert_eq!(out[len..], stored(b"x"), "the identifier is sent once");
    }

    #[test]
    fn snappy_chunking_and_store_rule() {
        let mut rng = Rng(7);
        let mut block = Encoder::new();
        for data in [rng.bytes(65_537), rng.text(65_537), vec![b'a'; 65_537]] {
            let stream = encode_once(&data);
            let found = chunks(&stream[10..]);
            assert_eq!(found.len(), 2, "65 537 bytes make two chunks");
            let mut offset = 0;
            for (chunk_type, body) in found {
                let n = if offset == 0 { 65_536 } else { 1 };
                let plain = &data[offset..offset + n];
                let compressed = block.compress_vec(plain).unwrap();
                assert_eq!(body[..4], masked_crc(plain).to_le_bytes());
                if compressed.len() >= n - n / 8 {
                    assert_eq!(chunk_type, CHUNK_STORED);
                    assert_eq!(&body[4..], plain);
                } else {
                    assert_eq!(chunk_type, CHUNK_COMPRESSED);
                    assert_eq!(&body[4..], compressed);
                }
                offset += n;
            }
        }
        // Random data is stored, repetitive data compressed.
        assert_eq!(
            chunks(&encode_once(&rng.bytes(1000))[10..])[0].0,
            CHUNK_STORED
        );
        assert_eq!(
            chunks(&encode_once(&rng.text(1000))[10..])[0].0,
            CHUNK_COMPRESSED
        );
    }

    #[test]
    fn snappy_checksum_mismatch() {
        let mut rng = Rng(3);
        let good = rng.text(3000);
        for flip in [4, 8, 30] {
            // Offsets into the second chunk: 4 is in the checksum; 8 (the block's length
            // varint) and 30 are in the compressed data (a checksum or a block error).
            let mut stream = encode_once(b"first");
            let first_len = stream.len();
            FrameEncoder {
                block: Encoder::new(),
                started: true,
            }
            .encode(&good, &mut stream);
            assert_eq!(stream[first_len], CHUNK_COMPRESSED);
            stream[first_len + flip] ^= 0x20;
            let mut decoder = FrameDecoder::new();
            let mut out = Vec::new();
            let err = decoder.decode(&stream, &mut out).unwrap_err();
            assert!(
                matches!(err, SnappyError::Checksum { .. } | SnappyError::Corrupt),
                "{err:?}"
            );
            assert_eq!(out, b"first", "nothing of the bad chunk is output");
            // The error is sticky.
            assert_eq!(decoder.decode(&stream[..10], &mut out), Err(err));
            assert_eq!(decoder.decode(b"", &mut out), Err(err));
        }
        let mut stream = STREAM_IDENTIFIER.to_vec();
        let mut bad = stored(b"hello");
        bad[4] ^= 1;
        stream.extend_from_slice(&bad);
        assert_eq!(
            decode_whole(&stream),
            Err(SnappyError::Checksum {
                expected: 0x191c_1fbb ^ 1,
                actual: 0x191c_1fbb
            })
        );
    }

    #[test]
    fn snappy_corrupt_block() {
        let mut stream = STREAM_IDENTIFIER.to_vec();
        // Claims 10 bytes, then a copy with an offset before the start.
        let block = [10, 0x01 | (5 << 2), 0x05];
        let mut body = masked_crc(&[0; 10]).to_le_bytes().to_vec();
        body.extend_from_slice(&block);
        stream.extend_from_slice(&chunk(CHUNK_COMPRESSED, &body));
        assert_eq!(decode_whole(&stream), Err(SnappyError::Corrupt));
        // A compressed chunk with no block at all.
        let mut stream = STREAM_IDENTIFIER.to_vec();
        stream.extend_from_slice(&chunk(CHUNK_COMPRESSED, &[0; 4]));
        assert_eq!(decode_whole(&stream), Err(SnappyError::Corrupt));
    }

    #[test]
    fn snappy_decompressed_too_large() {
        let plain = vec![0u8; MAX_CHUNK_DATA + 1];
        let mut body = masked_crc(&plain).to_le_bytes().to_vec();
        body.extend_from_slice(&Encoder::new().compress_vec(&plain).unwrap());
        let mut stream = STREAM_IDENTIFIER.to_vec();
        stream.extend_from_slice(&chunk(CHUNK_COMPRESSED, &body));
        assert_eq!(
            decode_whole(&stream),
            Err(SnappyError::DecompressedTooLarge)
        );
    }

    #[test]
    fn snappy_unknown_chunk_rejected() {
        for chunk_type in [0x02, 0x40, 0x7f] {
            let mut stream = STREAM_IDENTIFIER.to_vec();
            stream.extend_from_slice(&stored(b"ok"));
            stream.push(chunk_type); // rejected as soon as the type byte arrives
            let mut out = Vec::new();
            let mut decoder = FrameDecoder::new();
            assert_eq!(
                decoder.decode(&stream, &mut out),
                Err(SnappyError::UnknownChunk(chunk_type))
            );
            assert_eq!(out, b"ok");
        }
    }

    #[test]
    fn snappy_skippable_chunks_skipped() {
        let mut rng = Rng(11);
        let mut stream = STREAM_IDENTIFIER.to_vec();
        stream.extend_from_slice(&chunk(0xfe, &[0; 100])); // padding
        stream.extend_from_slice(&stored(b"one "));
        stream.extend_from_slice(&chunk(0x80, b"skip me"));
        stream.extend_from_slice(&chunk(0xfd, b""));
        stream.extend_from_slice(&chunk(0xfe, &vec![0xaa; 0xff_ffff])); // longest possible
        stream.extend_from_slice(&STREAM_IDENTIFIER); // repeated identifier is fine
        stream.extend_from_slice(&stored(b"two"));
        assert_eq!(decode_whole(&stream).unwrap(), b"one two");
        assert_eq!(
            decode_split(&stream, &mut rng, 100_000).unwrap(),
            b"one two"
        );

        // Skipping buffers nothing.
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&STREAM_IDENTIFIER, &mut out).unwrap();
        decoder.decode(&[0x99, 0xff, 0xff, 0xff], &mut out).unwrap();
        for _ in 0..255 {
            decoder.decode(&[0x55; 0x1_0000], &mut out).unwrap();
            assert_eq!(decoder.buf.capacity(), 0);
            assert!(decoder.has_partial_chunk());
        }
        decoder.decode(&[0x55; 0xffff], &mut out).unwrap();
        assert!(!decoder.has_partial_chunk());
        decoder.decode(&stored(b"after"), &mut out).unwrap();
        assert_eq!(out, b"after");
    }

    #[test]
    fn snappy_missing_stream_identifier() {
        // An smux v1 NOP frame: what a -nocomp peer sends first.
        let smux = [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00];
        let err = decode_whole(&smux).unwrap_err();
        assert_eq!(err, SnappyError::MissingStreamIdentifier);
        assert!(err.to_string().contains("-nocomp"), "{err}");
        // Detected from the first byte alone.
        let mut decoder = FrameDecoder::new();
        assert_eq!(
            decoder.decode(&smux[..1], &mut Vec::new()),
            Err(SnappyError::MissingStreamIdentifier)
        );
        // Padding before the identifier is not allowed either (Go's reader agrees).
        let mut stream = chunk(0xfe, &[0; 4]);
        stream.extend_from_slice(&STREAM_IDENTIFIER);
        assert_eq!(
            decode_whole(&stream),
            Err(SnappyError::MissingStreamIdentifier)
        );
    }

    #[test]
    fn snappy_bad_stream_identifier() {
        assert_eq!(
            decode_whole(b"\xff\x06\x00\x00sNaPpZ"),
            Err(SnappyError::BadStreamIdentifier)
        );
        assert_eq!(
            decode_whole(b"\xff\x07\x00\x00sNaPpYY"),
            Err(SnappyError::BadStreamIdentifier)
        );
        let mut stream = STREAM_IDENTIFIER.to_vec();
        stream.extend_from_slice(b"\xff\x06\x00\x00snappy");
        assert_eq!(decode_whole(&stream), Err(SnappyError::BadStreamIdentifier));
    }

    #[test]
    fn snappy_chunk_length_limits() {
        let cases: [(u8, usize, Option<SnappyError>); 6] = [
            (CHUNK_STORED, 3, None),
            (CHUNK_COMPRESSED, 0, None),
            (
                CHUNK_STORED,
                MAX_STORED_BODY,
                Some(SnappyError::Checksum {
                    expected: 0,
                    actual: masked_crc(&[0; MAX_CHUNK_DATA]),
                }),
            ),
            (CHUNK_STORED, MAX_STORED_BODY + 1, None),
            (CHUNK_COMPRESSED, MAX_COMPRESSED_BODY + 1, None),
            (CHUNK_COMPRESSED, 0xff_ffff, None),
        ];
        for (chunk_type, len, complete_error) in cases {
            let mut stream = STREAM_IDENTIFIER.to_vec();
            let l = (len as u32).to_le_bytes();
            stream.extend_from_slice(&[chunk_type, l[0], l[1], l[2]]);
            let header_error = if len < CHECKSUM_LEN {
                Some(SnappyError::ChunkTooShort { chunk_type, len })
            } else if complete_error.is_none() {
                Some(SnappyError::ChunkTooLarge {
                    chunk_type,
                    len,
                    max: if chunk_type == CHUNK_STORED {
                        65_540
                    } else {
                        76_494
                    },
                })
            } else {
                None
            };
            let mut decoder = FrameDecoder::new();
            let mut out = Vec::new();
            match header_error {
                // Rejected from the header alone, before any body arrives.
                Some(e) => assert_eq!(decoder.decode(&stream, &mut out), Err(e)),
                None => {
                    decoder.decode(&stream, &mut out).unwrap();
                    decoder.decode(&vec![0; len - 1], &mut out).unwrap();
                    assert!(decoder.has_partial_chunk());
                    assert!(decoder.buf.capacity() <= MAX_COMPRESSED_BODY);
                    assert_eq!(decoder.decode(&[0], &mut out), Err(complete_error.unwrap()));
                }
            }
        }
        // An empty stored chunk is valid and outputs nothing.
        let mut stream = STREAM_IDENTIFIER.to_vec();
        stream.extend_from_slice(&stored(b""));
        assert_eq!(decode_whole(&stream).unwrap(), b"");
    }

    #[test]
    fn snappy_partial_header_is_kept() {
        let stream = encode_once(b"split inside the header");
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        for (i, byte) in stream.iter().enumerate() {
            decoder
                .decode(core::slice::from_ref(byte), &mut out)
                .unwrap();
            let at_boundary = i + 1 == 10 || i + 1 == stream.len();
            assert_eq!(decoder.has_partial_chunk(), !at_boundary, "after byte {i}");
        }
        assert_eq!(out, b"split inside the header");
    }

    #[test]
    fn snappy_interop_with_snap_frame_format() {
        let mut rng = Rng(99);
        let mut data = rng.text(300_000);
        data.extend_from_slice(&rng.bytes(100_000));
        data.extend_from_slice(&[0; 70_000]);

        // snap's writer -> our decoder.
        let mut writer = snap::write::FrameEncoder::new(Vec::new());
        writer.write_all(&data).unwrap();
        let theirs = writer.into_inner().unwrap();
        assert_eq!(decode_split(&theirs, &mut rng, 3000).unwrap(), data);

        // Our encoder -> snap's reader, also with many small writes.
        let mut ours = Vec::new();
        let mut encoder = FrameEncoder::new();
        for piece in data.chunks(20_011) {
            encoder.encode(piece, &mut ours);
        }
        encoder.encode(&data, &mut ours);
        let mut decoded = Vec::new();
        snap::read::FrameDecoder::new(&ours[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded.len(), 2 * data.len());
        assert_eq!(decoded[..data.len()], data);
        assert_eq!(decoded[data.len()..], data);
    }
}
