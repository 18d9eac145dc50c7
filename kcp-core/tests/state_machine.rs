//! Behaviour of one state machine that the property tests do not pin down: errors of the
//! application verbs, dead-link detection, MTU and window changes, fragmentation, timers.

use kcp_core::sim::{LinkConfig, Sim};
use kcp_core::wire::{Command, Segments};
use kcp_core::{Config, FlushMode, Kcp, RecvError, SendError};

fn pair(config: &Config) -> (Kcp, Kcp) {
    (Kcp::new(9, config).unwrap(), Kcp::new(9, config).unwrap())
}

/// Moves datagrams between the two until both are quiet, at `now`.
fn exchange(a: &mut Kcp, b: &mut Kcp, now: u32) {
    let mut buf = vec![0u8; 65_536];
    for _ in 0..1000 {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now, &mut buf) {
            b.handle_datagram(now, &buf[..n]).unwrap();
            moved = true;
        }
        while let Some(n) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(now, &buf[..n]).unwrap();
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("the peers never went quiet");
}

/// Exchanges and follows both deadlines until neither has anything left to do.
fn settle(a: &mut Kcp, b: &mut Kcp, mut now: u32) {
    for _ in 0..10_000 {
        exchange(a, b, now);
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return;
        };
        now = next.max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    panic!("the peers never settled");
}

#[test]
fn invalid_configuration_is_refused_with_the_reason() {
    let config = Config {
        mtu: 10,
        ..Config::default()
    };
    assert_eq!(
        Kcp::new(1, &config).unwrap_err().to_string(),
        "mtu 10 is outside 50..=65507 bytes"
    );
}

#[test]
fn messages_too_large_or_a_full_queue_are_refused() {
    let config = Config {
        send_queue_limit: 4,
        ..Config::fast3()
    };
    let mut kcp = Kcp::new(1, &config).unwrap();
    let mss = kcp.mss() as usize;
    assert_eq!(
        kcp.send(&vec![0; 128 * mss]),
        Err(SendError::MessageTooLarge {
            fragments: 128,
            max: 127
        })
    );
    assert_eq!(kcp.send(&vec![0; 3 * mss]), Ok(3 * mss));
    assert_eq!(kcp.send(&vec![0; 2 * mss]), Err(SendError::QueueFull));
    assert_eq!(kcp.wait_send(), 3);
}

#[test]
fn stream_sends_take_what_fits() {
    let config = Config {
        send_queue_limit: 2,
        stream: true,
        ..Config::fast3()
    };
    let mut kcp = Kcp::new(1, &config).unwrap();
    let mss = kcp.mss() as usize;
    assert_eq!(kcp.send(&vec![0; 5 * mss]), Ok(2 * mss));
    assert_eq!(kcp.send(b"x"), Err(SendError::QueueFull));
    assert_eq!(kcp.send(b""), Ok(0));
}

#[test]
fn a_message_is_delivered_whole_or_not_at_all() {
    let (mut a, mut b) = pair(&Config::fast3());
    let message: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    a.send(&message).unwrap();
    exchange(&mut a, &mut b, 0);
    assert_eq!(b.peek_size(), Some(5000));
    let mut small = [0u8; 100];
    assert_eq!(
        b.recv(&mut small),
        Err(RecvError::BufferTooSmall { needed: 5000 })
    );
    let mut out = vec![0u8; 5000];
    assert_eq!(b.recv(&mut out), Ok(5000));
    assert_eq!(out, message);
    assert_eq!(b.recv(&mut out), Err(RecvError::Empty));
}

#[test]
fn a_path_that_never_answers_marks_the_link_dead() {
    let config = Config {
        dead_link: 5,
        ..Config::fast3()
    };
    let mut kcp = Kcp::new(1, &config).unwrap();
    kcp.send(b"into the void").unwrap();
    let mut buf = [0u8; 1400];
    let mut now = 0;
    let mut transmissions = 0;
    while !kcp.is_dead() {
        while kcp.poll_transmit(now, &mut buf).is_some() {
            transmissions += 1;
        }
        let deadline = kcp
            .poll_timeout()
            .expect("unacknowledged data needs a timer");
        assert!(
            deadline.wrapping_sub(now) as i32 > 0,
            "the timer must move forward"
        );
        now = deadline;
        kcp.handle_timeout(now);
        assert!(
            transmissions <= 5,
            "dead after exactly dead_link transmissions"
        );
    }
    assert_eq!(transmissions, 5);
    assert_eq!(kcp.stats().timeout_retransmits, 4);
}

#[test]
fn timeouts_back_off_as_the_reference_does() {
    // nodelay 0: each timeout at least doubles the segment's RTO (200, 400, 800 ms ...).
    let config = Config {
        flush: FlushMode::Eager,
        ..Config::default()
    };
    let mut kcp = Kcp::new(1, &config).unwrap();
    kcp.send(b"x").unwrap();
    let mut buf = [0u8; 1400];
    let mut sent_at = Vec::new();
    let mut now = 0u32;
    while sent_at.len() < 4 {
        if kcp.poll_transmit(now, &mut buf).is_some() {
            sent_at.push(now);
        }
        now = kcp.poll_timeout().unwrap();
        kcp.handle_timeout(now);
    }
    let gaps: Vec<u32> = sent_at.windows(2).map(|w| w[1] - w[0]).collect();
    // The first wait includes the reference's extra RTO/8 for nodelay 0.
    assert_eq!(gaps, [225, 400, 800]);
}

#[test]
fn lowering_the_mtu_recuts_queued_data_and_bounds_later_datagrams() {
    let config = Config {
        stream: true,
        ..Config::fast3()
    };
    let (mut a, mut b) = pair(&config);
    let data: Vec<u8> = (0..60_000u32).map(|i| (i * 7) as u8).collect();
    a.send(&data).unwrap();
    let mut buf = vec![0u8; 1400];
    // The first flush moves a window of old-size segments into flight.
    let first = a.poll_transmit(0, &mut buf).unwrap();
    assert_eq!(first, 1400);
    b.handle_datagram(0, &buf[..first]).unwrap();
    a.set_mtu(500).unwrap();
    assert_eq!(
        a.max_datagram_size(),
        1400,
        "old segments may still need 1400 bytes"
    );
    let mut largest_new = 0;
    let mut now = 0;
    let mut received = Vec::new();
    let mut out = vec![0u8; 65_536];
    while received.len() < data.len() {
        now += 10;
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(n) = a.poll_transmit(now, &mut buf) {
            for segment in Segments::new(&buf[..n]).flatten() {
                if segment.header.cmd == Command::Push && segment.header.sn >= 32 {
                    largest_new = largest_new.max(n);
                }
            }
            b.handle_datagram(now, &buf[..n]).unwrap();
        }
        while let Some(n) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(now, &buf[..n]).unwrap();
        }
        while let Ok(n) = b.recv(&mut out) {
            received.extend_from_slice(&out[..n]);
        }
        assert!(now < 60_000);
    }
    assert_eq!(received, data);
    assert!(
        largest_new > 0 && largest_new <= 500,
        "segments cut after the change fit 500 bytes"
    );
    settle(&mut a, &mut b, now);
    assert_eq!(
        a.max_datagram_size(),
        500,
        "once the old segments are acknowledged"
    );
}

#[test]
fn a_larger_send_window_keeps_segments_in_flight() {
    let config = Config {
        send_window: 4,
        congestion_control: false,
        ..Config::fast3()
    };
    let (mut a, mut b) = pair(&config);
    for i in 0..20u8 {
        a.send(&[i; 100]).unwrap();
    }
    let mut buf = vec![0u8; 1400];
    let mut pushes = 0;
    while let Some(n) = a.poll_transmit(0, &mut buf) {
        pushes += Segments::new(&buf[..n])
            .flatten()
            .filter(|s| s.header.cmd == Command::Push)
            .count();
    }
    assert_eq!(pushes, 4, "the window limits what leaves");
    a.set_send_window(16).unwrap();
    settle(&mut a, &mut b, 1);
    let mut out = [0u8; 100];
    for i in 0..20u8 {
        assert_eq!(b.recv(&mut out), Ok(100));
        assert_eq!(out[0], i);
    }
    assert_eq!(a.set_send_window(0), Err(kcp_core::ConfigError::SendWindow));
}

#[test]
fn interval_mode_answers_the_next_tick_and_eager_mode_sleeps_when_idle() {
    let interval = Config {
        flush: FlushMode::Interval,
        ..Config::fast3()
    };
    let mut kcp = Kcp::new(1, &interval).unwrap();
    kcp.handle_timeout(1000);
    assert_eq!(kcp.poll_timeout(), Some(1010));
    let mut eager = Kcp::new(1, &Config::fast3()).unwrap();
    eager.handle_timeout(1000);
    assert_eq!(eager.poll_timeout(), None);
    eager.send(b"x").unwrap();
    assert_eq!(eager.poll_timeout(), Some(1000));
}

#[test]
fn acknowledgements_wait_at_most_one_interval_in_eager_mode() {
    let (mut a, mut b) = pair(&Config::fast3());
    a.send(b"ping").unwrap();
    let mut buf = vec![0u8; 1400];
    let n = a.poll_transmit(100, &mut buf).unwrap();
    b.handle_datagram(100, &buf[..n]).unwrap();
    assert_eq!(
        b.poll_transmit(100, &mut buf),
        None,
        "the ack waits for company"
    );
    assert_eq!(b.poll_timeout(), Some(110));
    b.send(b"pong").unwrap();
    let n = b.poll_transmit(105, &mut buf).unwrap();
    let cmds: Vec<Command> = Segments::new(&buf[..n])
        .flatten()
        .map(|s| s.header.cmd)
        .collect();
    assert_eq!(
        cmds,
        [Command::Ack, Command::Push],
        "the ack rides on the data"
    );
}

#[test]
fn a_transfer_across_the_clock_wrap_completes() {
    let link = LinkConfig::lossy(0.05, 5, 15);
    let mut sim = Sim::new(3, link.clone(), link).with_origin(u32::MAX - 100);
    let config = Config {
        mtu: 100,
        stream: true,
        send_window: 256,
        recv_window: 256,
        ..Config::fast3()
    };
    let (mut a, mut b) = pair(&config);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut received) = (0, Vec::new());
    let mut out = vec![0u8; 65_536];
    while received.len() < data.len() {
        if sent < data.len() {
            sent += a.send(&data[sent..]).unwrap_or(0);
        }
        sim.step(&mut a, &mut b, 10);
        while let Ok(n) = b.recv(&mut out) {
            received.extend_from_slice(&out[..n]);
        }
    }
    assert_eq!(received, data);
    assert!(
        sim.clock() > 100,
        "the clock wrapped past zero ({} ms)",
        sim.clock()
    );
}

#[test]
fn the_receive_window_can_shrink_and_grow_mid_transfer() {
    let config = Config {
        stream: true,
        send_window: 128,
        recv_window: 128,
        ..Config::fast3()
    };
    let (mut a, mut b) = pair(&config);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (mut sent, mut received) = (0, Vec::new());
    let (mut buf, mut out) = (vec![0u8; 1400], vec![0u8; 4096]);
    let mut now = 0;
    while received.len() < data.len() {
        now += 5;
        assert!(now < 600_000, "stalled at {} bytes", received.len());
        if sent < data.len() {
            sent += a.send(&data[sent..]).unwrap_or(0);
        }
        match now {
            100 => b.set_recv_window(4).unwrap(),
            400 => b.set_recv_window(512).unwrap(),
            _ => {}
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(n) = a.poll_transmit(now, &mut buf) {
            b.handle_datagram(now, &buf[..n]).unwrap();
        }
        while let Some(n) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(now, &buf[..n]).unwrap();
        }
        // A slow reader: at most 4 KiB per step.
        if let Ok(n) = b.recv(&mut out) {
            received.extend_from_slice(&out[..n]);
        }
    }
    assert_eq!(received, data);
    assert_eq!(b.stats().dropped_outside_window, 0);
}

/// Two peers with an RTT estimate of about 40 ms; `a` then loses one message on the way.
/// `a` sends `message` at `now`; it reaches `b` 20 ms later and `b`'s acknowledgement reaches
/// `a` 20 ms after that, the time returned.
fn round_trip(a: &mut Kcp, b: &mut Kcp, message: &[u8], now: u32) -> u32 {
    let mut buf = vec![0u8; 1400];
    a.send(message).unwrap();
    let n = a.poll_transmit(now, &mut buf).unwrap();
    b.handle_datagram(now + 20, &buf[..n]).unwrap();
    b.flush();
    let n = b.poll_transmit(now + 20, &mut buf).unwrap();
    a.handle_datagram(now + 40, &buf[..n]).unwrap();
    now + 40
}

fn pair_with_a_lost_message(config: &Config) -> (Kcp, Kcp, u32) {
    let (mut a, mut b) = pair(config);
    let mut buf = vec![0u8; 1400];
    let mut now = 0;
    for _ in 0..5 {
        now = round_trip(&mut a, &mut b, b"warm-up", now);
    }
    a.send(b"lost").unwrap();
    assert!(
        a.poll_transmit(now, &mut buf).is_some(),
        "sent, and dropped on the way"
    );
    (a, b, now)
}

#[test]
fn an_overdue_segment_rides_in_the_next_datagrams_spare_room() {
    let (mut a, mut b, sent_at) = pair_with_a_lost_message(&Config::fast3());
    let srtt = a.srtt();
    assert!(srtt > 0 && srtt < a.rto());
    let mut buf = vec![0u8; 1400];
    // Before one smoothed RTT has passed, a new message leaves alone.
    a.send(b"early").unwrap();
    let n = a.poll_transmit(sent_at + srtt / 2, &mut buf).unwrap();
    let sns: Vec<u32> = Segments::new(&buf[..n])
        .flatten()
        .map(|s| s.header.sn)
        .collect();
    assert_eq!(sns, [6]);
    // After it, the next datagram carries the overdue one too, long before its RTO.
    a.send(b"late").unwrap();
    let now = sent_at + srtt;
    let n = a.poll_transmit(now, &mut buf).unwrap();
    let sns: Vec<u32> = Segments::new(&buf[..n])
        .flatten()
        .map(|s| s.header.sn)
        .collect();
    assert_eq!(sns, [7, 5]);
    assert_eq!(a.stats().spare_room_retransmits, 1);
    b.handle_datagram(now, &buf[..n]).unwrap();
    let mut out = [0u8; 16];
    for _ in 0..5 {
        b.recv(&mut out).unwrap();
    }
    assert_eq!(b.recv(&mut out), Ok(4));
    assert_eq!(&out[..4], b"lost");
}

/// After "lost" (sn 5) is dropped, sends "next" (sn 6), delivers it and returns the peer's
/// acknowledgement, which skips sn 5 once. Returns the sender, when sn 5 left and the time the
/// acknowledgement arrived.
fn one_duplicate_ack_for_a_lost_message(config: &Config) -> (Kcp, u32, u32) {
    let (mut a, mut b, sent_at) = pair_with_a_lost_message(config);
    let now = round_trip(&mut a, &mut b, b"next", sent_at + 5);
    (a, sent_at, now)
}

#[test]
fn early_retransmit_resends_after_one_duplicate_ack_when_nothing_new_is_waiting() {
    let config = Config {
        resend_in_spare_room: false,
        early_retransmit: true,
        ..Config::fast3()
    };
    let (mut a, sent_at, now) = one_duplicate_ack_for_a_lost_message(&config);
    assert!(now - sent_at < a.rto(), "before the timeout");
    let mut buf = vec![0u8; 1400];
    let n = a
        .poll_transmit(now, &mut buf)
        .expect("the early retransmission");
    let sns: Vec<u32> = Segments::new(&buf[..n])
        .flatten()
        .map(|s| s.header.sn)
        .collect();
    assert_eq!(sns, [5]);
    assert_eq!(a.stats().early_retransmits, 1);
    assert_eq!(a.stats().fast_retransmits, 0);
}

#[test]
fn early_retransmit_waits_while_new_data_goes_out_and_is_off_by_default() {
    let config = Config {
        resend_in_spare_room: false,
        early_retransmit: true,
        ..Config::fast3()
    };
    // New data in the same flush: kcp-go's rule holds the resend back.
    let (mut a, _, now) = one_duplicate_ack_for_a_lost_message(&config);
    a.send(b"more").unwrap();
    let mut buf = vec![0u8; 1400];
    let n = a.poll_transmit(now, &mut buf).unwrap();
    let sns: Vec<u32> = Segments::new(&buf[..n])
        .flatten()
        .map(|s| s.header.sn)
        .collect();
    assert_eq!(sns, [7]);
    assert_eq!(a.stats().early_retransmits, 0);
    // Off (the reference's behaviour): one duplicate ack is below fast3's threshold of 2.
    let config = Config {
        resend_in_spare_room: false,
        ..Config::fast3()
    };
    let (mut a, _, now) = one_duplicate_ack_for_a_lost_message(&config);
    assert_eq!(a.poll_transmit(now, &mut buf), None);
    assert_eq!(a.stats().early_retransmits + a.stats().fast_retransmits, 0);
}

#[test]
fn spare_room_resends_can_be_turned_off() {
    let config = Config {
        resend_in_spare_room: false,
        ..Config::fast3()
    };
    let (mut a, _b, sent_at) = pair_with_a_lost_message(&config);
    let mut buf = vec![0u8; 1400];
    a.send(b"late").unwrap();
    let n = a.poll_transmit(sent_at + a.srtt(), &mut buf).unwrap();
    assert_eq!(Segments::new(&buf[..n]).count(), 1);
    assert_eq!(a.stats().spare_room_retransmits, 0);
}

#[test]
fn owned_buffers_round_trip_without_losing_a_byte() {
    for stream in [false, true] {
        let config = Config {
            stream,
            send_queue_limit: 8,
            ..Config::fast3()
        };
        let (mut a, mut b) = pair(&config);
        let mss = a.mss() as usize;
        // A one-segment message, a three-segment one, and an empty one.
        let messages: Vec<Vec<u8>> = [mss, 3 * mss - 5, 0]
            .iter()
            .enumerate()
            .map(|(i, &len)| (0..len).map(|j| (i * 31 + j) as u8).collect())
            .collect();
        for message in &messages {
            let mut buf = a.take_buffer();
            assert!(buf.is_empty() && buf.capacity() >= mss);
            buf.extend_from_slice(message);
            assert_eq!(a.send_buffer(buf), Ok(message.len()));
        }
        settle(&mut a, &mut b, 0);
        let mut received = Vec::new();
        while let Ok(buf) = b.recv_buffer() {
            received.push(buf.to_vec());
            b.recycle_buffer(buf.into_buffer());
        }
        if stream {
            assert_eq!(received.concat(), messages.concat());
        } else {
            assert_eq!(received, messages);
        }
        assert_eq!(b.recv_buffer(), Err(RecvError::Empty));
    }
}

#[test]
fn a_refused_owned_buffer_comes_back_untouched() {
    let config = Config {
        send_queue_limit: 1,
        ..Config::fast3()
    };
    let mut kcp = Kcp::new(1, &config).unwrap();
    let mut first = kcp.take_buffer();
    first.extend_from_slice(b"fits");
    assert_eq!(kcp.send_buffer(first), Ok(4));
    let mut second = kcp.take_buffer();
    second.extend_from_slice(b"does not fit");
    let (error, back) = kcp.send_buffer(second).unwrap_err();
    assert_eq!(error, SendError::QueueFull);
    assert_eq!(back, b"does not fit");
}

#[test]
fn stream_recv_buffer_hands_over_the_unread_rest_of_a_segment() {
    let config = Config {
        stream: true,
        ..Config::fast3()
    };
    let (mut a, mut b) = pair(&config);
    a.send(b"hello, world").unwrap();
    settle(&mut a, &mut b, 0);
    let mut first = [0u8; 5];
    assert_eq!(b.recv(&mut first), Ok(5));
    assert_eq!(&*b.recv_buffer().unwrap(), b", world");
    assert_eq!(b.recv_buffer(), Err(RecvError::Empty));
}

#[test]
fn a_datagram_handed_over_whole_becomes_the_received_buffer() {
    let (mut a, mut b) = pair(&Config::fast3());
    a.send(b"zero copy").unwrap();
    let mut datagram = b.take_datagram_buffer();
    assert!(datagram.len() >= a.max_datagram_size());
    let n = a.poll_transmit(0, &mut datagram).unwrap();
    datagram.truncate(n);
    let address = datagram.as_ptr();
    b.handle_datagram_buffer(0, datagram).unwrap();
    let received = b.recv_buffer().unwrap();
    assert_eq!(&*received, b"zero copy");
    let buffer = received.into_buffer();
    assert_eq!(buffer.as_ptr(), address, "the same buffer, not a copy");
    b.recycle_buffer(buffer);

    // Anything but a lone push is read from the buffer, which goes back to the pool.
    let mut garbage = b.take_datagram_buffer();
    garbage.truncate(10);
    assert!(b.handle_datagram_buffer(0, garbage).is_err());
    assert_eq!(b.stats().dropped_truncated, 1);
}

#[test]
fn acknowledgements_rebuilt_by_fec_give_no_rtt_sample() {
    // One exchange: `a` sends at 0, `b` acknowledges at 20; the ack reaches `a` at `arrival`.
    let exchange = |arrival: u32, rebuilt: bool| {
        let (mut a, mut b) = pair(&Config::fast3());
        let mut buf = vec![0u8; 1400];
        a.send(b"probe").unwrap();
        let n = a.poll_transmit(0, &mut buf).unwrap();
        b.handle_datagram(20, &buf[..n]).unwrap();
        b.flush();
        let n = b.poll_transmit(20, &mut buf).unwrap();
        if rebuilt {
            a.handle_recovered_datagram(arrival, &buf[..n]).unwrap();
        } else {
            a.handle_datagram(arrival, &buf[..n]).unwrap();
        }
        (a.srtt(), a.in_flight())
    };
    // Rebuilt 300 ms late: the segment is acknowledged, the estimate untouched.
    assert_eq!(exchange(300, true), (0, 0));
    // The acknowledgement arriving as itself is a sample.
    assert_eq!(exchange(40, false), (40, 0));
}

#[test]
fn retune_changes_a_running_machine_all_at_once_or_not_at_all() {
    let (mut a, _b) = pair(&Config {
        flush: FlushMode::Interval,
        ..Config::default()
    });
    let mut buf = vec![0u8; 1400];
    a.send(b"before").unwrap();
    assert!(
        a.poll_transmit(0, &mut buf).is_none(),
        "interval mode: waits for its tick"
    );
    let sent = (0..=200)
        .step_by(10)
        .filter(|&t| {
            a.handle_timeout(t);
            a.poll_transmit(t, &mut buf).is_some()
        })
        .count();
    assert_eq!(sent, 1);
    // The fast3 tuning on the running machine, as ikcp_nodelay(kcp, 1, 10, 2, 1) would.
    a.retune(|c| {
        *c = Config {
            mtu: c.mtu,
            ..Config::fast3()
        }
    })
    .unwrap();
    assert_eq!(
        (
            a.config().interval,
            a.config().fast_resend,
            a.config().min_rto
        ),
        (10, 2, 30)
    );
    // Eager now: a new message leaves at once, without a tick.
    a.send(b"after").unwrap();
    assert!(a.poll_transmit(201, &mut buf).is_some());
    // An invalid change (a zero send window) changes nothing, not even the valid part.
    let before = a.config().clone();
    let refused = a.retune(|c| {
        c.fast_resend = 5;
        c.send_window = 0;
    });
    assert!(refused.is_err());
    assert_eq!(a.config(), &before);
}
