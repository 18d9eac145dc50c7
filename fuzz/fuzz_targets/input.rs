//! Anyone on the path can inject datagrams with the right conversation id (it travels in
//! clear), so a state machine in the middle of a conversation must take any segment at all
//! (acks for data never sent, pushes far outside the window, wild `una`s and windows, clocks
//! from the future) without panicking or spinning. The peers exchange real traffic first so
//! the hostile bytes land on windows, timers and reassembly state that are actually in use.
//!
//! Input: a config selector byte, a clock origin byte, then datagrams, each framed as a
//! control byte (bit 0: which peer, bit 1: patch in our conv, bits 2-7: how far the clock
//! moves first), a length byte and that many bytes.

#![no_main]

mod common;

use common::{recv_all, transmit_all, CONV};
use kcp_core::wire::{Header, HEADER_LEN};
use kcp_core::Kcp;
use libfuzzer_sys::fuzz_target;

/// Lossless turns of the warm-up exchange, and the clock step between them: long enough for
/// the slowest preset's interval tick to send acks.
const WARMUP_TURNS: u32 = 10;
const WARMUP_STEP_MS: u32 = 20;

fuzz_target!(|data: &[u8]| {
    let [selector, origin, ref rest @ ..] = *data else {
        return;
    };
    let config = common::config(selector);
    let new_peer = || Kcp::new(CONV, &config).expect("common::config is valid");
    let mut peers = [new_peer(), new_peer()];
    let mut buf = Vec::new();
    let mut read_buf = vec![0u8; 64 * 1024];
    // Origin 0 puts the wrap of the u32 clock in the middle of the warm-up.
    let mut now = (u32::from(origin) << 24).wrapping_sub(WARMUP_TURNS * WARMUP_STEP_MS / 2);

    // A message of three fragments each way; another one each is still in flight when the
    // hostile datagrams start.
    let message = vec![0x5a; 2 * config.mss() as usize + 1];
    for peer in &mut peers {
        peer.send(&message).expect("a three-fragment message fits");
    }
    for _ in 0..WARMUP_TURNS {
        now = now.wrapping_add(WARMUP_STEP_MS);
        turn(&mut peers, now, &mut buf, &mut read_buf);
    }
    for peer in &mut peers {
        peer.send(&message).expect("a three-fragment message fits");
    }

    let mut rest = rest;
    while let [control, len, ref tail @ ..] = *rest {
        let (datagram, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        let mut datagram = datagram.to_vec();
        if control & 0b10 != 0 {
            patch_conv(&mut datagram);
        }
        // Cubed: small steps stay fine-grained, yet one step can pass RTO_MAX or the probe limit.
        now = now.wrapping_add(u32::from(control >> 2).pow(3));
        let target = &mut peers[usize::from(control & 1)];
        // Rejection is a fine answer to garbage; only a panic or a hang is not. Odd lengths go
        // through the owned-buffer entry point, which may keep the buffer.
        let _ = if len % 2 == 1 {
            target.handle_datagram_buffer(now, datagram)
        } else {
            target.handle_datagram(now, &datagram)
        };
        turn(&mut peers, now, &mut buf, &mut read_buf);
    }
});

/// One lossless turn: each peer learns the time and sends what it has straight to the other,
/// which then reads what became ready.
fn turn(peers: &mut [Kcp; 2], now: u32, buf: &mut Vec<u8>, read_buf: &mut [u8]) {
    let [a, b] = peers;
    send_across(a, b, now, buf, read_buf);
    send_across(b, a, now, buf, read_buf);
}

fn send_across(from: &mut Kcp, to: &mut Kcp, now: u32, buf: &mut Vec<u8>, read_buf: &mut [u8]) {
    from.handle_timeout(now);
    // Only asked so that it runs on every state the fuzzer reaches: its answer is advice.
    let _ = from.poll_timeout();
    transmit_all(from, now, buf, |datagram| {
        to.handle_datagram(now, datagram)
            .expect("a genuine datagram is accepted");
    });
    recv_all(to, read_buf, |_| {});
}

/// Writes our conversation id into every segment header where the receiver's walk will look
/// for one, so that the other bytes, not the conv check, decide what the segments do.
fn patch_conv(datagram: &mut [u8]) {
    let mut offset = 0;
    while let Some(header) = datagram
        .get_mut(offset..)
        .and_then(|rest| rest.get_mut(..HEADER_LEN))
    {
        header[..4].copy_from_slice(&CONV.to_le_bytes());
        // The walk stops at the first header that does not decode, and so does this.
        let Ok(decoded) = Header::decode(header) else {
            break;
        };
        offset = offset
            .saturating_add(HEADER_LEN)
            .saturating_add(decoded.len as usize);
    }
}
