//! Hostile input: datagrams that a malicious or broken peer, or an off-path attacker who
//! guessed the conversation id, may send. Every test crafts its datagrams with
//! [`Header::encode`], feeds them to a state machine that has real state (data acknowledged,
//! data in flight, data received and not yet read), and checks three things: no panic, the drop
//! is counted under the right reason and nothing else moved, and the state the datagram must
//! not touch is untouched, to the point that the honest peer still completes its transfer.

use kcp_core::sim::Rng;
use kcp_core::wire::{Command, DecodeError, Header, Segments, HEADER_LEN};
use kcp_core::{Config, FlushMode, InputError, Kcp, Stats};

const CONV: u32 = 0x4b43_5021;
/// One-way delay of the honest path between the two real peers, in milliseconds.
const DELAY: u32 = 5;
/// Step of the honest exchange, in milliseconds (the `fast3` interval).
const STEP: u32 = 10;

/// What `a` sends in [`established`]: the first two are delivered and acknowledged, the last
/// three are lost on the way and stay in flight.
const A_MSGS: [&[u8]; 5] = [b"a0", b"a1", b"a2", b"a3", b"a4"];
/// What `b` sends in [`connected`]; `a` receives both and does not read them.
const B_MSGS: [&[u8]; 2] = [b"b0", b"b1"];
/// `a`'s cumulative ack point after [`established`]: sn 0 and 1 were acknowledged.
const A_UNA: u32 = 2;
/// `a`'s next sequence number after [`established`]: sn 2, 3 and 4 are in flight.
const A_NXT: u32 = 5;
/// `a`'s next expected sequence number: it received sn 0 and 1 from `b`.
const A_RCV_NXT: u32 = 2;

// ----- crafting datagrams ------------------------------------------------------------------

fn header(cmd: Command, sn: u32, una: u32, wnd: u16) -> Header {
    Header {
        conv: CONV,
        cmd,
        frg: 0,
        wnd,
        ts: 0,
        sn,
        una,
        len: 0,
    }
}

/// A push carrying `payload`, with a truthful `len`.
fn push(sn: u32, una: u32, wnd: u16, payload: &[u8]) -> (Header, &[u8]) {
    let h = Header {
        len: payload.len() as u32,
        ..header(Command::Push, sn, una, wnd)
    };
    (h, payload)
}

/// Packs segments back to back with [`Header::encode`]. Each header's `len` is written as
/// given, so it may lie about the payload that follows it.
fn datagram(segments: &[(Header, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, payload) in segments {
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        h.encode(&mut out[start..]);
        out.extend_from_slice(payload);
    }
    out
}

// ----- driving the real peers --------------------------------------------------------------

/// Every datagram `k` has to send at `now`.
fn drain(k: &mut Kcp, now: u32) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; k.max_datagram_size()];
    let mut out = Vec::new();
    while let Some(n) = k.poll_transmit(now, &mut buf) {
        out.push(buf[..n].to_vec());
        assert!(out.len() < 100_000, "poll_transmit never returns None");
    }
    out
}

/// The segment headers of our own output (which must always decode).
fn headers(datagrams: &[Vec<u8>]) -> Vec<Header> {
    datagrams
        .iter()
        .flat_map(|d| Segments::new(d).map(|s| s.expect("own output decodes").header))
        .collect()
}

/// The sequence numbers acknowledged by the ACK segments among `hs`.
fn acked(hs: &[Header]) -> Vec<u32> {
    hs.iter()
        .filter(|h| h.cmd == Command::Ack)
        .map(|h| h.sn)
        .collect()
}

/// Forces a flush at `now` and returns the headers of everything it sends.
fn flushed(k: &mut Kcp, now: u32) -> Vec<Header> {
    k.flush();
    headers(&drain(k, now))
}

/// One step of the honest path: both peers tick at `now`, and what they send arrives
/// [`DELAY`] ms later.
fn step(a: &mut Kcp, b: &mut Kcp, now: u32) {
    a.handle_timeout(now);
    b.handle_timeout(now);
    let (from_a, from_b) = (drain(a, now), drain(b, now));
    for d in from_a {
        b.handle_datagram(now + DELAY, &d).expect("honest datagram");
    }
    for d in from_b {
        a.handle_datagram(now + DELAY, &d).expect("honest datagram");
    }
}

/// Every whole message `k` has ready.
fn read_all(k: &mut Kcp) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::new();
    while let Ok(n) = k.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Two peers that exchanged two messages each, at time 100: nothing in flight, `a` holds
/// `b`'s two messages unread, `b` holds `a`'s first two unread, and `a` has an RTT sample.
fn connected(config: &Config) -> (Kcp, Kcp, u32) {
    let mut a = Kcp::new(CONV, config).unwrap();
    let mut b = Kcp::new(CONV, config).unwrap();
    for m in &A_MSGS[..2] {
        a.send(m).unwrap();
    }
    for m in B_MSGS {
        b.send(m).unwrap();
    }
    for now in (0..100).step_by(STEP as usize) {
        step(&mut a, &mut b, now);
    }
    assert_eq!((a.wait_send(), b.wait_send()), (0, 0));
    assert_eq!(a.peek_size(), Some(B_MSGS[0].len()));
    assert!(a.srtt() > 0, "the exchange gave an RTT sample");
    (a, b, 100)
}

/// [`connected`], then `a` sends three more messages that are lost: sn 2, 3, 4 in flight.
fn established(config: &Config) -> (Kcp, Kcp, u32) {
    let (mut a, b, now) = connected(config);
    for m in &A_MSGS[2..] {
        a.send(m).unwrap();
    }
    a.handle_timeout(now);
    let lost = headers(&drain(&mut a, now));
    let sns: Vec<u32> = lost.iter().map(|h| h.sn).collect();
    assert_eq!(sns, [2, 3, 4]);
    assert_eq!(a.wait_send(), 3);
    (a, b, now)
}

/// Runs the honest pair from `now` until each side has read what it expects and nothing is
/// left in flight, then checks that exactly the expected messages arrived.
fn finish(a: &mut Kcp, b: &mut Kcp, mut now: u32, a_expects: &[&[u8]], b_expects: &[&[u8]]) {
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let limit = now + 300_000;
    while got_a.len() < a_expects.len()
        || got_b.len() < b_expects.len()
        || a.wait_send() > 0
        || b.wait_send() > 0
    {
        assert!(
            now < limit,
            "honest traffic stalled: a {got_a:?}, b {got_b:?}"
        );
        step(a, b, now);
        now += STEP;
        got_a.extend(read_all(a));
        got_b.extend(read_all(b));
    }
    let want = |m: &[&[u8]]| m.iter().map(|m| m.to_vec()).collect::<Vec<_>>();
    assert_eq!(got_a, want(a_expects), "what a received");
    assert_eq!(got_b, want(b_expects), "what b received");
}

/// Finishes an [`established`] pair with no new data: only the original messages arrive.
fn finish_established(a: &mut Kcp, b: &mut Kcp, now: u32) {
    finish(a, b, now, &B_MSGS, &A_MSGS);
}

// ----- checking a drop ---------------------------------------------------------------------

/// Everything observable that a dropped datagram must leave alone.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    wait_send: u32,
    remote_window: u32,
    rto: u32,
    srtt: u32,
    rttvar: u32,
    cwnd: u32,
    peek_size: Option<usize>,
    dead: bool,
    /// Moves if an ACK gets queued or a segment in flight is released.
    deadline: Option<u32>,
}

fn observe(k: &Kcp) -> Observed {
    Observed {
        wait_send: k.wait_send(),
        remote_window: k.remote_window(),
        rto: k.rto(),
        srtt: k.srtt(),
        rttvar: k.rttvar(),
        cwnd: k.congestion_window(),
        peek_size: k.peek_size(),
        dead: k.is_dead(),
        deadline: k.poll_timeout(),
    }
}

/// Feeds one hostile datagram at `now` and checks the result, that the counters moved exactly
/// as `counted` says (besides the datagram and byte totals), and that no observable state
/// changed.
fn attack(
    k: &mut Kcp,
    now: u32,
    d: &[u8],
    result: Result<(), InputError>,
    counted: impl FnOnce(&mut Stats),
) {
    let before = observe(k);
    let mut want = k.stats().clone();
    want.datagrams_in += 1;
    want.bytes_in += d.len() as u64;
    counted(&mut want);
    assert_eq!(k.handle_datagram(now, d), result, "result for {d:02x?}");
    assert_eq!(k.stats(), &want, "counters");
    assert_eq!(observe(k), before, "state touched by a dropped datagram");
}

/// Feeds an honest duplicate of `b`'s sn 1 and checks that the next flush acknowledges it and
/// nothing else: proof that the flush would have shown an ACK for a hostile push, had one been
/// queued.
fn only_the_control_ack_goes_out(a: &mut Kcp, now: u32) {
    let wnd = a.remote_window() as u16;
    a.handle_datagram(now, &datagram(&[push(1, A_UNA, wnd, B_MSGS[1])]))
        .unwrap();
    assert_eq!(acked(&flushed(a, now)), [1]);
}

fn truncated_payload(len: u32, available: usize) -> Result<(), InputError> {
    Err(InputError::Malformed(DecodeError::TruncatedPayload {
        len,
        available,
    }))
}

// ----- the attacks -------------------------------------------------------------------------

/// Truncation: datagrams shorter than a header, a `len` running past the end, and a datagram
/// whose first segment is valid (it would acknowledge everything in flight and deliver a
/// forged message) but whose second is truncated. The datagram is dropped whole: the valid
/// first segment must not be applied.
#[test]
fn truncated_datagrams_are_dropped_whole() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let wnd = a.remote_window() as u16;
    let ack_all = datagram(&[(header(Command::Ack, 2, A_NXT, wnd), &[])]);
    for n in [0, 1, 4, HEADER_LEN - 1] {
        let result = Err(InputError::Malformed(DecodeError::TruncatedHeader {
            available: n,
        }));
        attack(&mut a, now, &ack_all[..n], result, |s| {
            s.dropped_truncated += 1
        });
    }

    let mut short = datagram(&[push(A_RCV_NXT, A_NXT, wnd, b"0123456789")]);
    short.truncate(HEADER_LEN + 5);
    attack(&mut a, now, &short, truncated_payload(10, 5), |s| {
        s.dropped_truncated += 1
    });

    let forged = push(A_RCV_NXT, A_NXT, wnd, b"forged");
    let truncated = Header {
        len: 100,
        ..header(Command::Push, A_RCV_NXT + 1, A_NXT, wnd)
    };
    let d = datagram(&[forged, (truncated, b"1234")]);
    attack(&mut a, now, &d, truncated_payload(100, 4), |s| {
        s.dropped_truncated += 1
    });
    assert_eq!(a.wait_send(), 3, "the first segment's una was not applied");

    finish_established(&mut a, &mut b, now);
}

/// Wrong conversation: a datagram for another conversation, and one whose first segment is
/// ours and valid but whose second belongs to someone else (a splice). Both are dropped whole.
#[test]
fn wrong_conversation_drops_the_whole_datagram() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let wnd = a.remote_window() as u16;
    let other = Header {
        conv: CONV ^ 1,
        ..header(Command::Ack, 2, A_NXT, wnd)
    };
    let wrong = |found| {
        Err(InputError::WrongConversation {
            expected: CONV,
            found,
        })
    };
    attack(
        &mut a,
        now,
        &datagram(&[(other, &[])]),
        wrong(CONV ^ 1),
        |s| s.dropped_wrong_conv += 1,
    );

    let spliced = Header {
        conv: 0xdead_beef,
        ..push(A_RCV_NXT + 1, A_UNA, wnd, b"x").0
    };
    let d = datagram(&[
        (header(Command::Ack, 2, A_NXT, wnd), &[]),
        push(A_RCV_NXT, A_NXT, wnd, b"forged"),
        (spliced, b"x"),
    ]);
    attack(&mut a, now, &d, wrong(0xdead_beef), |s| {
        s.dropped_wrong_conv += 1
    });

    finish_established(&mut a, &mut b, now);
}

/// Unknown commands: a header whose command byte is none of the four KCP commands, alone or
/// after a valid segment. Dropped whole and counted as unknown commands, not as truncation.
#[test]
fn unknown_command_bytes_are_dropped() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let wnd = a.remote_window() as u16;
    for cmd in [0u8, 80, 85, 255] {
        let mut d = datagram(&[(header(Command::Ack, 2, A_NXT, wnd), &[])]);
        d[4] = cmd;
        let result = Err(InputError::Malformed(DecodeError::UnknownCommand(cmd)));
        attack(&mut a, now, &d, result, |s| s.dropped_unknown_command += 1);
    }

    let mut d = datagram(&[
        push(A_RCV_NXT, A_NXT, wnd, b"forged"),
        (header(Command::WindowTell, 0, A_NXT, wnd), &[]),
    ]);
    d[HEADER_LEN + 6 + 4] = 0x42;
    let result = Err(InputError::Malformed(DecodeError::UnknownCommand(0x42)));
    attack(&mut a, now, &d, result, |s| s.dropped_unknown_command += 1);

    finish_established(&mut a, &mut b, now);
}

/// A `len` of `u32::MAX` (and one that wraps a 32-bit `24 + len` to 0), alone or after a
/// valid segment: truncation, never an overflow, an allocation or a panic.
#[test]
fn huge_len_is_truncation_not_overflow() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let wnd = a.remote_window() as u16;
    for len in [u32::MAX, u32::MAX - (HEADER_LEN as u32 - 1)] {
        let huge = Header {
            len,
            ..header(Command::Push, A_RCV_NXT, A_NXT, wnd)
        };
        let payload = [0x55u8; 100];
        attack(
            &mut a,
            now,
            &datagram(&[(huge, &payload)]),
            truncated_payload(len, 100),
            |s| s.dropped_truncated += 1,
        );
        let d = datagram(&[(header(Command::Ack, 2, A_NXT, wnd), &[]), (huge, &[8; 8])]);
        attack(&mut a, now, &d, truncated_payload(len, 8), |s| {
            s.dropped_truncated += 1
        });
    }

    finish_established(&mut a, &mut b, now);
}

/// Pushes far outside the receive window (just past its end, window + 1000 past it, and
/// 2^31 - 1 ahead, the farthest "ahead" a wrapping comparison allows): dropped without being
/// stored or acknowledged.
#[test]
fn pushes_outside_the_window_are_not_acknowledged() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let wnd = a.remote_window() as u16;
    let window = u32::from(a.config().recv_window);
    let far = [
        A_RCV_NXT + window,
        A_RCV_NXT + window + 1000,
        A_RCV_NXT.wrapping_add((1 << 31) - 1),
    ];
    for sn in far {
        let d = datagram(&[push(sn, A_UNA, wnd, b"far away")]);
        attack(&mut a, now, &d, Ok(()), |s| {
            s.segments_in += 1;
            s.dropped_outside_window += 1;
        });
    }
    let acks_before = a.stats().acks_out;
    only_the_control_ack_goes_out(&mut a, now);
    assert_eq!(a.stats().acks_out, acks_before + 1);

    finish_established(&mut a, &mut b, now);
}

/// A cumulative ack (`una`) beyond anything sent, on an ACK for a segment really in flight, on
/// a push of new data and on a window tell advertising 0: each segment is dropped whole, so
/// nothing is released, delivered, or believed about the window.
#[test]
fn una_beyond_sent_releases_nothing() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let d = datagram(&[
        (header(Command::Ack, 2, A_NXT + 1, 0), &[]),
        push(A_RCV_NXT, 1000, 0, b"forged"),
        (
            header(Command::WindowTell, 0, A_NXT.wrapping_add((1 << 31) - 1), 0),
            &[],
        ),
    ]);
    attack(&mut a, now, &d, Ok(()), |s| s.dropped_una_beyond_sent += 3);
    assert_eq!(a.wait_send(), 3);

    finish_established(&mut a, &mut b, now);
}

/// Acknowledgements of sequence numbers never sent (`sn >= snd_nxt`), echoing a timestamp
/// that would make a 500 ms RTT sample and advertising a zero window: dropped, with the RTT
/// estimate, the RTO, the window and the data in flight untouched.
#[test]
fn acks_for_unsent_data_do_not_touch_rtt() {
    let (mut a, mut b, now) = established(&Config::fast3());
    assert!(
        a.srtt() < 100,
        "a 500 ms sample would move srtt {}",
        a.srtt()
    );
    let (rto, srtt) = (a.rto(), a.srtt());
    let unsent = [A_NXT, A_NXT + 1, A_NXT.wrapping_add((1 << 31) - 1)];
    for sn in unsent {
        let ack = Header {
            ts: now.wrapping_sub(500),
            ..header(Command::Ack, sn, A_UNA, 0)
        };
        attack(&mut a, now, &datagram(&[(ack, &[])]), Ok(()), |s| {
            s.dropped_ack_unsent += 1
        });
    }
    assert_eq!((a.rto(), a.srtt(), a.wait_send()), (rto, srtt, 3));

    finish_established(&mut a, &mut b, now);
}

/// A peer that advertises a zero window forever (and answers every probe with another zero).
/// Over ten simulated minutes the sender must only probe, with gaps starting at 7 s and
/// growing by half up to 120 s, send no data and hold no more than it queued; once the window
/// reopens the data flows and arrives.
#[test]
fn zero_window_forever_only_probes_with_backoff() {
    let (mut a, mut b, mut now) = connected(&Config::fast3());
    let closed = |a: &mut Kcp, now: u32| {
        let d = datagram(&[(header(Command::WindowTell, 0, A_UNA, 0), &[])]);
        a.handle_datagram(now, &d).unwrap();
    };
    closed(&mut a, now);
    assert_eq!(a.remote_window(), 0);
    let queued: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("queued {i}").into_bytes())
        .collect();
    for m in &queued {
        a.send(m).unwrap();
    }
    assert_eq!(a.wait_send(), 10);

    let start = now;
    let base = a.stats().clone();
    let (mut probes, mut wakeups) = (Vec::new(), 0);
    while now - start <= 600_000 {
        for h in headers(&drain(&mut a, now)) {
            assert_eq!(h.cmd, Command::WindowAsk, "only probes leave: {h:?}");
            assert_eq!((h.conv, h.una), (CONV, A_RCV_NXT));
            probes.push(now - start);
            closed(&mut a, now);
        }
        assert_eq!(a.wait_send(), 10, "nothing sent, nothing dropped");
        let deadline = a.poll_timeout().expect("data is queued: a deadline");
        assert!(deadline > now, "deadline {deadline} at {now}: a busy loop");
        now = deadline;
        a.handle_timeout(now);
        wakeups += 1;
    }

    let mut expected = Vec::new();
    let (mut at, mut gap) = (7_000, 7_000);
    while at <= 600_000 {
        expected.push(at);
        gap = (gap + gap / 2).min(120_000);
        at += gap;
    }
    assert_eq!(probes, expected);
    let gaps: Vec<u32> = probes.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(&gaps[..2], [10_500, 15_750]);
    assert!(gaps.ends_with(&[120_000, 120_000]), "{gaps:?}");
    assert!(wakeups <= probes.len() + 1, "{wakeups} wake-ups");
    let stats = a.stats();
    assert_eq!(stats.window_probes_out - base.window_probes_out, 10);
    assert_eq!(stats.datagrams_out - base.datagrams_out, 10);
    assert_eq!(stats.data_segments_out, base.data_segments_out);
    assert!(!a.is_dead());

    // The peer's application reads: its real window reopens.
    let open = datagram(&[(header(Command::WindowTell, 0, A_UNA, 126), &[])]);
    a.handle_datagram(now, &open).unwrap();
    let mut b_expects: Vec<&[u8]> = A_MSGS[..2].to_vec();
    b_expects.extend(queued.iter().map(|m| m.as_slice()));
    finish(&mut a, &mut b, now, &B_MSGS, &b_expects);
}

/// A push larger than this side ever accepts (one byte over `max_recv_payload()`, and a
/// 65,000-byte one): dropped, not stored, not acknowledged.
#[test]
fn oversize_pushes_are_dropped() {
    let (mut a, mut b, now) = established(&Config::fast3());
    let wnd = a.remote_window() as u16;
    for size in [a.max_recv_payload() as usize + 1, 65_000] {
        let payload = vec![0xaa; size];
        let d = datagram(&[push(A_RCV_NXT, A_UNA, wnd, &payload)]);
        attack(&mut a, now, &d, Ok(()), |s| {
            s.segments_in += 1;
            s.dropped_oversize += 1;
        });
    }
    only_the_control_ack_goes_out(&mut a, now);

    finish_established(&mut a, &mut b, now);
}

/// Message mode: a fragment number the receive window could never reassemble (equal to the
/// window, and 255): dropped, not stored, not acknowledged.
#[test]
fn impossible_fragment_numbers_are_dropped() {
    let (mut a, mut b, now) = established(&Config::fast3());
    assert!(!a.config().stream);
    let wnd = a.remote_window() as u16;
    let window = a.config().recv_window;
    for frg in [window as u8, 255] {
        assert!(u16::from(frg) >= window);
        let (h, payload) = push(A_RCV_NXT, A_UNA, wnd, b"fragment");
        let d = datagram(&[(Header { frg, ..h }, payload)]);
        attack(&mut a, now, &d, Ok(()), |s| {
            s.segments_in += 1;
            s.dropped_bad_fragment += 1;
        });
    }
    only_the_control_ack_goes_out(&mut a, now);

    finish_established(&mut a, &mut b, now);
}

/// A flood of duplicate pushes within one flush interval (interval mode, so nothing leaves
/// in between): the pending acknowledgements stop at 4 * recv_window + 64, the excess is
/// counted, and the next flush sends exactly that many.
#[test]
fn duplicate_flood_caps_pending_acks() {
    let config = Config {
        flush: FlushMode::Interval,
        ..Config::fast3()
    };
    let (mut a, mut b, now) = established(&config);
    let wnd = a.remote_window() as u16;
    let limit = 4 * usize::from(config.recv_window) + 64;
    let excess = 100;
    let d = datagram(&[push(1, A_UNA, wnd, B_MSGS[1])]);
    let before = observe(&a);
    let mut want = a.stats().clone();
    for _ in 0..limit + excess {
        a.handle_datagram(now, &d).unwrap();
    }
    let n = (limit + excess) as u64;
    want.datagrams_in += n;
    want.bytes_in += n * d.len() as u64;
    want.segments_in += n;
    want.duplicate_segments += n;
    want.dropped_ack_overflow += excess as u64;
    assert_eq!(a.stats(), &want);
    assert_eq!(observe(&a), before);

    a.handle_timeout(now + STEP);
    let acks = acked(&headers(&drain(&mut a, now + STEP)));
    assert_eq!(acks.len(), limit);
    assert!(acks.iter().all(|&sn| sn == 1));
    assert_eq!(a.stats().acks_out, want.acks_out + limit as u64);
    a.handle_timeout(now + 2 * STEP);
    assert!(acked(&headers(&drain(&mut a, now + 2 * STEP))).is_empty());

    finish_established(&mut a, &mut b, now + 3 * STEP);
}

/// Random garbage: 10,000 random datagrams, half of them carrying our conversation id, and
/// half of each half also a valid command and a `len` that fits, fed to a live peer between
/// ticks. No panic, every rejected datagram counted once under its reason, and the honest peer
/// still completes a fresh exchange afterwards.
#[test]
fn random_garbage_never_panics_and_the_peer_recovers() {
    let (mut a, mut b, mut now) = established(&Config::fast3());
    let base = a.stats().clone();
    let mut rng = Rng::new(0x6b63_7021);
    let (mut errors, mut short, mut short_len) = (0u64, 0u64, 0u64);
    for i in 0..10_000u32 {
        let len = rng.range(0, 200) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if i % 2 == 0 && len >= 4 {
            d[..4].copy_from_slice(&CONV.to_le_bytes());
        }
        // Half of each half also gets a valid command and a `len` that fits, so that garbage
        // reaches the conversation check and, with our id, the segment handling.
        if i % 4 < 2 && len >= HEADER_LEN {
            d[4] = 81 + rng.range(0, 3) as u8;
            let fits = rng.range(0, (len - HEADER_LEN) as u64) as u32;
            d[20..24].copy_from_slice(&fits.to_le_bytes());
        }
        match a.handle_datagram(now, &d) {
            Ok(()) => {}
            Err(InputError::Malformed(DecodeError::TruncatedHeader { available })) => {
                assert_eq!(available, len);
                short += 1;
                errors += 1;
            }
            Err(_) => errors += 1,
        }
        if len < HEADER_LEN {
            short_len += 1;
        }
        now += rng.range(0, 1) as u32;
        if i % 50 == 0 {
            a.handle_timeout(now);
            drain(&mut a, now);
        }
    }
    let s = a.stats();
    assert_eq!(s.datagrams_in - base.datagrams_in, 10_000);
    let drops = (s.dropped_truncated - base.dropped_truncated)
        + (s.dropped_wrong_conv - base.dropped_wrong_conv)
        + (s.dropped_unknown_command - base.dropped_unknown_command);
    assert_eq!(drops, errors, "every rejected datagram counted once");
    assert_eq!(
        short, short_len,
        "exactly the datagrams under 24 bytes are short"
    );
    assert!(
        s.segments_in > base.segments_in,
        "some garbage got past validation"
    );
    for (reason, after, before) in [
        ("truncated", s.dropped_truncated, base.dropped_truncated),
        ("wrong conv", s.dropped_wrong_conv, base.dropped_wrong_conv),
        (
            "unknown command",
            s.dropped_unknown_command,
            base.dropped_unknown_command,
        ),
    ] {
        assert!(after > before, "no garbage was dropped as {reason}");
    }

    a.send(b"after a").unwrap();
    b.send(b"after b").unwrap();
    let a_expects = [B_MSGS[0], B_MSGS[1], b"after b"];
    let mut b_expects = A_MSGS.to_vec();
    b_expects.push(b"after a");
    finish(&mut a, &mut b, now, &a_expects, &b_expects);
}
