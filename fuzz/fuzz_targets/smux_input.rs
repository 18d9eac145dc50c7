//! smux sessions are the first parser of everything a tunnel peer sends (after the
//! transport), so hostile bytes must never panic them, and honest traffic must arrive intact
//! however the byte stream is cut.
//!
//! Each input drives a client and a server session through a sequence of operations: opening,
//! writing, finishing and resetting streams, the reader consuming, output delivered in pieces
//! of any size, keepalive timers, and raw bytes injected into the server's input. Until the
//! first injection, every stream's received bytes must be exactly a prefix of what the other
//! side wrote; throughout, the sessions' buffer accounting must match their streams.

#![no_main]

use kcp_tunnel::smux::{Config, Event, Mux, StreamId};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Op {
    Open,
    Write { stream: u8, len: u16 },
    Finish { stream: u8 },
    Reset { stream: u8 },
    /// The server takes up to `len` bytes of a stream.
    Consume { stream: u8, len: u16 },
    /// Up to `len` bytes of the client's output reach the server, in pieces of `piece`.
    Deliver { len: u16, piece: u8 },
    /// The server's output (UPDs, FINs) reaches the client.
    Answer,
    Tick { ms: u16 },
    Inject { bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    v2: bool,
    resets: bool,
    max_receive: u16,
    ops: Vec<Op>,
}

fn byte_at(stream: u32, offset: usize) -> u8 {
    (offset as u32).wrapping_mul(31).wrapping_add(stream) as u8
}

fuzz_target!(|input: Input| {
    let start = Instant::now();
    let mut config = Config::new(if input.v2 { 2 } else { 1 }, true);
    config.resets = input.resets;
    config.max_receive_buffer = usize::from(input.max_receive).max(1) * 64;
    config.max_stream_buffer = (config.max_receive_buffer as u32 / 2).max(1);
    config.max_frame = 1000;
    let mut client = Mux::new(config.clone(), start);
    config.client = false;
    let mut server = Mux::new(config, start);
    let mut opened: Vec<StreamId> = Vec::new();
    // Bytes the client wrote per stream, and bytes the server took.
    let mut written: HashMap<u32, usize> = HashMap::new();
    let mut taken: HashMap<u32, usize> = HashMap::new();
    let mut honest = true;
    let mut now = start;
    for op in input.ops.into_iter().take(512) {
        match op {
            Op::Open => {
                if let Ok(id) = client.open() {
                    opened.push(id);
                }
            }
            Op::Write { stream, len } => {
                let Some(&id) = opened.get(usize::from(stream) % opened.len().max(1)) else {
                    continue;
                };
                let at = written.get(&id.0).copied().unwrap_or(0);
                let data: Vec<u8> = (0..usize::from(len)).map(|i| byte_at(id.0, at + i)).collect();
                let n = client.write(id, &data);
                assert!(n <= data.len());
                *written.entry(id.0).or_default() += n;
            }
            Op::Finish { stream } => {
                if let Some(&id) = opened.get(usize::from(stream) % opened.len().max(1)) {
                    client.finish(id);
                    assert_eq!(client.send_room(id), 0);
                }
            }
            Op::Reset { stream } => {
                if let Some(&id) = opened.get(usize::from(stream) % opened.len().max(1)) {
                    client.reset(id);
                    assert!(!client.is_open(id));
                }
            }
            Op::Consume { stream, len } => {
                let Some(&id) = opened.get(usize::from(stream) % opened.len().max(1)) else {
                    continue;
                };
                let (a, b) = server.received(id);
                let data = [a, b].concat();
                let n = data.len().min(usize::from(len));
                if honest {
                    let at = taken.get(&id.0).copied().unwrap_or(0);
                    for (i, &byte) in data[..n].iter().enumerate() {
                        assert_eq!(byte, byte_at(id.0, at + i), "stream {id} byte {}", at + i);
                    }
                    assert!(at + n <= written.get(&id.0).copied().unwrap_or(0));
                }
                let before = server.buffered();
                server.consume(id, n);
                assert_eq!(server.buffered(), before - n);
                *taken.entry(id.0).or_default() += n;
            }
            Op::Deliver { len, piece } => {
                let out = client.output();
                let n = out.len().min(usize::from(len));
                let bytes = out[..n].to_vec();
                client.advance_output(n);
                for chunk in bytes.chunks(usize::from(piece).max(1)) {
                    if !server.wants_input() && server.error().is_none() {
                        // The owner would stop reading here; the test keeps going to check that
                        // a full buffer is still safe.
                    }
                    let _ = server.handle_input(chunk);
                }
            }
            Op::Answer => {
                let out = server.output().to_vec();
                server.advance_output(out.len());
                if client.handle_input(&out).is_err() {
                    honest = false;
                }
            }
            Op::Tick { ms } => {
                now += Duration::from_millis(u64::from(ms) * 100);
                let _ = client.handle_timeout(now);
                let _ = server.handle_timeout(now);
            }
            Op::Inject { bytes } => {
                honest = false;
                let _ = server.handle_input(&bytes);
            }
        }
        while let Some(event) = server.poll_event() {
            if let Event::Opened(id) | Event::Readable(id) | Event::Finished(id) = event {
                assert!(server.is_open(id) || server.input_done(id));
            }
        }
        while client.poll_event().is_some() {}
        // Buffered bytes are exactly what the streams hold.
        let held: usize = opened
            .iter()
            .map(|&id| {
                let (a, b) = server.received(id);
                a.len() + b.len()
            })
            .sum();
        if honest {
            assert_eq!(held, server.buffered());
        } else {
            assert!(held <= server.buffered());
        }
    }
});
