//! Two sessions back to back in memory, on a virtual clock.

use super::*;
use std::time::{Duration, Instant};

/// Moves everything `from` has queued into `to`, in pieces of `piece` bytes.
fn pump(from: &mut Mux, to: &mut Mux, piece: usize) -> Result<usize, SmuxError> {
    let bytes = from.output().to_vec();
    from.advance_output(bytes.len());
    for chunk in bytes.chunks(piece.max(1)) {
        to.handle_input(chunk)?;
    }
    Ok(bytes.len())
}

fn events(mux: &mut Mux) -> Vec<Event> {
    std::iter::from_fn(|| mux.poll_event()).collect()
}

/// Takes everything a stream has received.
fn drain(mux: &mut Mux, id: StreamId) -> Vec<u8> {
    let (a, b) = mux.received(id);
    let data = [a, b].concat();
    mux.consume(id, data.len());
    data
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn pair(version: u8) -> (Mux, Mux, Instant) {
    let now = Instant::now();
    (
        Mux::new(Config::new(version, true), now),
        Mux::new(Config::new(version, false), now),
        now,
    )
}

#[test]
fn client_streams_are_odd_from_three_server_streams_even() {
    let (mut client, mut server, _) = pair(1);
    assert_eq!(client.open(), Ok(StreamId(3)));
    assert_eq!(client.open(), Ok(StreamId(5)));
    assert_eq!(server.open(), Ok(StreamId(2)));
    // The first bytes kcptun's client sends (see the spec's capture).
    assert_eq!(&client.output()[..8], &[1, 0, 0, 0, 3, 0, 0, 0]);
}

#[test]
fn data_arrives_whole_however_the_input_is_split() {
    for version in [1, 2] {
        for piece in [1, 3, 8, 9, 1000, usize::MAX] {
            let (mut client, mut server, _) = pair(version);
            let id = client.open().unwrap();
            let data = pattern(200_000);
            let mut sent = 0;
            let mut got = Vec::new();
            while got.len() < data.len() {
                sent += client.write(id, &data[sent..]);
                pump(&mut client, &mut server, piece).unwrap();
                got.extend(drain(&mut server, id));
                pump(&mut server, &mut client, piece).unwrap();
            }
            assert_eq!(got, data, "version {version}, pieces of {piece}");
            let seen = events(&mut server);
            assert_eq!(seen[0], Event::Opened(id));
            assert!(seen.contains(&Event::Readable(id)));
            assert_eq!(server.buffered(), 0);
        }
    }
}

#[test]
fn frames_never_exceed_the_frame_size() {
    let (mut client, _, _) = pair(1);
    let id = client.open().unwrap();
    client.advance_output(8);
    assert_eq!(client.write(id, &pattern(100_000)), 100_000);
    let mut out = client.output();
    let mut frames = 0;
    while !out.is_empty() {
        let len = usize::from(u16::from_le_bytes([out[2], out[3]]));
        assert!(len <= 32_768);
        out = &out[8 + len..];
        frames += 1;
    }
    assert_eq!(frames, 4);
    assert_eq!(client.stats().bytes_out, 100_000);
}

#[test]
fn half_close_carries_data_the_other_way_until_both_finish() {
    let (mut client, mut server, _) = pair(2);
    let id = client.open().unwrap();
    client.write(id, b"request");
    client.finish(id);
    assert_eq!(client.send_room(id), 0, "no data after our FIN");
    pump(&mut client, &mut server, 5).unwrap();
    assert_eq!(
        events(&mut server),
        [Event::Opened(id), Event::Readable(id), Event::Finished(id)]
    );
    assert!(!server.input_done(id), "data still buffered");
    assert_eq!(drain(&mut server, id), b"request");
    assert!(server.input_done(id));
    // The server answers on the half-open stream, then finishes it.
    assert_eq!(server.write(id, b"response"), 8);
    server.finish(id);
    assert!(!server.is_open(id), "both directions over and drained");
    pump(&mut server, &mut client, 3).unwrap();
    assert_eq!(drain(&mut client, id), b"response");
    assert!(!client.is_open(id));
    assert_eq!(client.streams(), 0);
    assert_eq!(server.streams(), 0);
}

#[test]
fn v2_sender_waits_for_the_readers_window() {
    let (mut client, mut server, _) = pair(2);
    let id = client.open().unwrap();
    let data = pattern(1 << 20);
    let sent = client.write(id, &data);
    assert_eq!(sent, INITIAL_PEER_WINDOW as usize, "smux's initial window");
    assert!(client.reserve(id).is_empty());
    pump(&mut client, &mut server, usize::MAX).unwrap();
    // The reader's first consumption is reported at once, with its window.
    let first = drain(&mut server, id);
    assert_eq!(first.len(), INITIAL_PEER_WINDOW as usize);
    let mut upd = vec![2, 4, 8, 0, 3, 0, 0, 0];
    upd.extend((INITIAL_PEER_WINDOW).to_le_bytes());
    upd.extend((2u32 << 20).to_le_bytes());
    assert_eq!(server.output(), &upd[..]);
    pump(&mut server, &mut client, usize::MAX).unwrap();
    assert_eq!(events(&mut client), [Event::Writable(id)]);
    assert_eq!(client.write(id, &data[sent..]), data.len() - sent);
}

#[test]
fn v2_reports_consumption_every_half_window() {
    let (mut client, mut server, _) = pair(2);
    let id = client.open().unwrap();
    pump(&mut client, &mut server, usize::MAX).unwrap();
    let window = server.config().max_stream_buffer as usize;
    let mut updates = 0;
    let mut total = 0;
    while total < 4 * window {
        total += client.write(id, &pattern(50_000));
        pump(&mut client, &mut server, usize::MAX).unwrap();
        drain(&mut server, id);
        updates += server.output().len() / 16;
        pump(&mut server, &mut client, usize::MAX).unwrap();
    }
    // The first read, then one per half window.
    assert!(
        (7..=9).contains(&updates),
        "{updates} updates for {total} bytes"
    );
}

#[test]
fn v1_has_no_windows_but_the_receive_buffer_pushes_back() {
    let (mut client, mut server, _) = pair(1);
    let id = client.open().unwrap();
    assert_eq!(client.write(id, &pattern(5 << 20)), 5 << 20);
    let bytes = client.output().to_vec();
    let mut fed = 0;
    while server.wants_input() && fed < bytes.len() {
        let end = (fed + 65_536).min(bytes.len());
        server.handle_input(&bytes[fed..end]).unwrap();
        fed = end;
    }
    assert!(!server.wants_input());
    assert!(server.buffered() >= 4 << 20 && server.buffered() < (4 << 20) + 65_536);
    drain(&mut server, id);
    assert!(server.wants_input());
    assert!(server.output().is_empty(), "v1 sends no UPD");
}

#[test]
fn version_and_command_errors_end_the_session_with_a_useful_message() {
    let (mut client, _, _) = pair(1);
    let mut v2 = Mux::new(Config::new(2, false), Instant::now());
    client.open().unwrap();
    let err = pump(&mut client, &mut v2, usize::MAX).unwrap_err();
    assert_eq!(
        err,
        SmuxError::Version {
            expected: 2,
            got: 1
        }
    );
    assert!(err.to_string().contains("--smuxver"));
    assert_eq!(v2.handle_input(&[2, 3, 0, 0, 0, 0, 0, 0]), Err(err));
    assert!(!v2.wants_input());

    let mut fresh = Mux::new(Config::new(1, false), Instant::now());
    let snappy = [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P'];
    let err = fresh.handle_input(&snappy).unwrap_err();
    assert!(err.to_string().contains("--nocomp"), "{err}");

    let mut fresh = Mux::new(Config::new(1, false), Instant::now());
    let err = fresh.handle_input(&[1, 9, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(err, SmuxError::Command(9));
    // RST is ours: a session without the extension refuses it like kcptun would.
    let mut fresh = Mux::new(Config::new(1, false), Instant::now());
    let err = fresh.handle_input(&[1, 5, 0, 0, 3, 0, 0, 0]).unwrap_err();
    assert_eq!(err, SmuxError::Command(5));
}

#[test]
fn resets_travel_as_rst_between_tunnels_and_as_fin_to_kcptun() {
    let now = Instant::now();
    let mut config = Config::new(2, true);
    config.resets = true;
    let mut client = Mux::new(config.clone(), now);
    config.client = false;
    let mut server = Mux::new(config, now);
    let id = client.open().unwrap();
    client.write(id, b"doomed");
    pump(&mut client, &mut server, usize::MAX).unwrap();
    client.reset(id);
    assert!(!client.is_open(id));
    pump(&mut client, &mut server, usize::MAX).unwrap();
    assert_eq!(
        events(&mut server),
        [Event::Opened(id), Event::Readable(id), Event::Reset(id)]
    );
    assert!(!server.is_open(id));
    assert_eq!(server.buffered(), 0, "a reset drops what was buffered");

    let (mut client, mut server, _) = pair(1);
    let id = client.open().unwrap();
    client.advance_output(8);
    client.reset(id);
    assert_eq!(client.output(), &[1, 1, 0, 0, 3, 0, 0, 0], "FIN for kcptun");
    let _ = &mut server;
}

#[test]
fn data_for_unknown_or_finished_streams_is_dropped_and_counted() {
    let mut server = Mux::new(Config::new(1, false), Instant::now());
    let mut psh = vec![1, 2, 5, 0, 7, 0, 0, 0];
    psh.extend(b"hello");
    server.handle_input(&psh).unwrap();
    assert_eq!(server.stats().discarded, 5);
    assert_eq!(server.streams(), 0);
    assert!(events(&mut server).is_empty());
}

#[test]
fn streams_beyond_the_limit_are_refused() {
    let mut config = Config::new(1, false);
    config.max_streams = 2;
    let mut server = Mux::new(config, Instant::now());
    for id in [3u32, 5, 7] {
        let mut syn = vec![1, 0, 0, 0];
        syn.extend(id.to_le_bytes());
        server.handle_input(&syn).unwrap();
    }
    assert_eq!(server.streams(), 2);
    assert_eq!(server.stats().refused, 1);
    assert_eq!(
        server.output(),
        &[1, 1, 0, 0, 7, 0, 0, 0],
        "FIN for stream 7"
    );
    // A repeated SYN is ignored.
    server.handle_input(&[1, 0, 0, 0, 3, 0, 0, 0]).unwrap();
    assert_eq!(
        events(&mut server),
        [Event::Opened(StreamId(3)), Event::Opened(StreamId(5))]
    );
}

#[test]
fn keepalive_sends_nops_and_times_out_a_silent_peer() {
    let (mut client, mut server, start) = pair(1);
    let at = |s: u64| start + Duration::from_secs(s);
    assert_eq!(client.poll_timeout(), Some(at(10)));
    client.handle_timeout(at(10)).unwrap();
    assert_eq!(
        client.output(),
        &[1, 3, 0, 0, 0, 0, 0, 0],
        "NOP on stream 0"
    );
    client.handle_timeout(at(20)).unwrap();
    pump(&mut client, &mut server, usize::MAX).unwrap();
    // The server heard NOPs during its first period, nothing during the second.
    server.handle_timeout(at(30)).unwrap();
    assert_eq!(
        server.handle_timeout(at(60)),
        Err(SmuxError::KeepaliveTimeout)
    );
    assert_eq!(server.error(), Some(SmuxError::KeepaliveTimeout));
    assert!(server.open().is_err());
}

#[test]
fn a_full_receive_buffer_is_not_silence() {
    let (mut client, mut server, start) = pair(1);
    let id = client.open().unwrap();
    client.write(id, &pattern(5 << 20));
    pump(&mut client, &mut server, usize::MAX).unwrap();
    assert!(!server.wants_input());
    server
        .handle_timeout(start + Duration::from_secs(30))
        .unwrap();
    server
        .handle_timeout(start + Duration::from_secs(60))
        .unwrap();
}

#[test]
fn keepalive_can_be_off() {
    let mut config = Config::new(2, true);
    config.keepalive_interval = None;
    config.keepalive_timeout = None;
    let mut mux = Mux::new(config, Instant::now());
    assert_eq!(mux.poll_timeout(), None);
    mux.handle_timeout(Instant::now() + Duration::from_secs(3600))
        .unwrap();
    assert!(mux.output().is_empty());
}

#[test]
fn an_uncommitted_reservation_never_reaches_the_wire() {
    let (mut client, mut server, _) = pair(1);
    let id = client.open().unwrap();
    let room = client.reserve(id);
    room[..3].copy_from_slice(b"abc");
    assert_eq!(client.output().len(), 8, "only the SYN is visible");
    client.finish(id);
    assert_eq!(
        client.output().len(),
        16,
        "SYN then FIN, the reservation dropped"
    );
    pump(&mut client, &mut server, usize::MAX).unwrap();
    assert_eq!(server.stats().bytes_in, 0);
    // An empty commit sends nothing either.
    let id = client.open().unwrap();
    client.reserve(id);
    client.commit(0);
    assert_eq!(client.output(), &[1, 0, 0, 0, 5, 0, 0, 0]);
}

#[test]
fn output_can_be_sent_in_pieces() {
    let (mut client, mut server, _) = pair(1);
    let id = client.open().unwrap();
    let data = pattern(300_000);
    client.write(id, &data);
    while !client.output().is_empty() {
        let n = client.output().len().min(1_350);
        let piece = client.output()[..n].to_vec();
        client.advance_output(n);
        server.handle_input(&piece).unwrap();
    }
    assert_eq!(drain(&mut server, id), data);
}
