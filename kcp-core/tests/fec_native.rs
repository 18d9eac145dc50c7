//! The native FEC framing: parity sizing, loss reports, deadline-bounded groups, rebuilding,
//! and rejection of malformed datagrams.

use kcp_core::fec::native::{self, parity_for, NativeConfig, NativeFec};

/// A datagram carrying `payload` as its KCP bytes, framed by `fec`.
fn frame(fec: &mut NativeFec, now: u32, payload: &[u8], carries_data: bool) -> Vec<u8> {
    let mut packet = vec![0; native::DATA_OVERHEAD];
    packet.extend_from_slice(payload);
    fec.encode(now, 80, &mut packet, carries_data);
    packet
}

fn parity(fec: &mut NativeFec) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0; 2048];
    while let Some(n) = fec.next_parity(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Delivers `packet` to `fec`; returns the payload for the ARQ and anything rebuilt.
fn deliver(fec: &mut NativeFec, now: u32, packet: &[u8]) -> (Option<Vec<u8>>, Vec<Vec<u8>>) {
    let mut rebuilt = Vec::new();
    let direct = fec
        .input(now, packet, &mut |kcp| rebuilt.push(kcp.to_vec()))
        .expect("well-formed")
        .map(<[u8]>::to_vec);
    (direct, rebuilt)
}

/// Two endpoints where `a` has been told that 20 % of its datagrams are lost.
fn lossy_pair() -> (NativeFec, NativeFec) {
    let mut a = NativeFec::new(NativeConfig::default()).unwrap();
    let mut b = NativeFec::new(NativeConfig::default()).unwrap();
    for n in 0..200u32 {
        let packet = frame(&mut a, 0, &n.to_le_bytes(), false);
        if n % 5 != 0 {
            deliver(&mut b, 0, &packet);
        }
    }
    let report = frame(&mut b, 0, b"report", false);
    deliver(&mut a, 0, &report);
    assert!((0.1..0.3).contains(&a.peer_loss()), "{}", a.peer_loss());
    assert!((0.1..0.3).contains(&b.local_loss()));
    (a, b)
}

#[test]
fn parity_follows_loss_and_group_size() {
    assert_eq!(
        parity_for(1, 0.1, 0.01, 8),
        1,
        "two copies lose both 1 % of the time"
    );
    assert_eq!(parity_for(2, 0.1, 0.01, 8), 2);
    assert_eq!(parity_for(10, 0.0, 0.01, 8), 1, "at least one parity shard");
    assert_eq!(parity_for(10, 0.9, 0.01, 8), 8, "capped");
    for k in 1..16 {
        let mut last = 0;
        for step in 0..50 {
            let m = parity_for(k, step as f64 / 100.0, 0.01, 16);
            assert!(m >= last, "more loss never means less parity");
            last = m;
        }
    }
}

#[test]
fn without_reported_loss_nothing_is_grouped() {
    let mut a = NativeFec::new(NativeConfig::default()).unwrap();
    for n in 0..20u8 {
        let packet = frame(&mut a, n as u32, &[n; 30], true);
        assert_eq!(packet[4], 0, "plain");
        a.handle_timeout(n as u32 + 1000);
        assert!(!a.has_parity());
    }
    assert_eq!(a.poll_timeout(), None, "no group, no wake-up");
}

#[test]
fn a_group_closes_at_its_deadline_and_rebuilds_what_was_lost() {
    let (mut a, mut b) = lossy_pair();
    // srtt 80 ms: the deadline is half of it, 40 ms.
    let sent: Vec<Vec<u8>> = (0..3u8)
        .map(|n| {
            frame(
                &mut a,
                1000 + n as u32,
                &vec![n; 100 + n as usize * 50],
                true,
            )
        })
        .collect();
    assert_eq!(a.poll_timeout(), Some(1040));
    a.handle_timeout(1039);
    assert!(!a.has_parity(), "not yet");
    a.handle_timeout(1040);
    let parity = parity(&mut a);
    assert_eq!(
        parity.len(),
        parity_for(3, a.peer_loss(), 0.01, 8),
        "sized from the reported loss"
    );
    assert_eq!(a.stats().groups_closed_by_deadline, 1);
    assert_eq!(a.poll_timeout(), None);

    // Lose the first and last data datagrams; parity brings both back.
    let mut rebuilt = Vec::new();
    let (direct, r) = deliver(&mut b, 1050, &sent[1]);
    assert_eq!(direct.as_deref(), Some(&[1u8; 150][..]));
    rebuilt.extend(r);
    for p in &parity {
        let (direct, r) = deliver(&mut b, 1050, p);
        assert_eq!(direct, None);
        rebuilt.extend(r);
    }
    rebuilt.sort();
    assert_eq!(rebuilt, vec![vec![0u8; 100], vec![2u8; 200]]);
    assert_eq!(b.stats().recovered, 2);
}

#[test]
fn acknowledgement_only_datagrams_stay_out_of_groups() {
    let (mut a, mut b) = lossy_pair();
    let d0 = frame(&mut a, 0, b"data zero", true);
    let ack = frame(&mut a, 0, b"ack only", false);
    let d1 = frame(&mut a, 0, b"data one", true);
    assert_eq!((d0[4], ack[4], d1[4]), (1, 0, 1), "data, plain, data");
    assert_eq!(
        d1[5], 2,
        "offset from the group's first seq counts the plain datagram"
    );
    assert_eq!(d1[6], 1, "but its position in the code does not");
    a.handle_timeout(1_000);
    let parity = parity(&mut a);
    assert!(!parity.is_empty());
    deliver(&mut b, 0, &ack);
    deliver(&mut b, 0, &d1);
    let (_, rebuilt) = deliver(&mut b, 0, &parity[0]);
    assert_eq!(rebuilt, vec![b"data zero".to_vec()]);
}

#[test]
fn a_group_closes_before_its_offsets_overflow() {
    let (mut a, _) = lossy_pair();
    let first = frame(&mut a, 0, b"first", true);
    let base = u32::from_le_bytes(first[0..4].try_into().unwrap());
    let mut plain = 0;
    while !a.has_parity() {
        frame(&mut a, 0, b"ack", false);
        plain += 1;
        assert!(plain < 256, "the group never closed");
    }
    for p in parity(&mut a) {
        let seq = u32::from_le_bytes(p[0..4].try_into().unwrap());
        assert_eq!(
            seq - p[5] as u32,
            base,
            "every parity shard names its group"
        );
    }
}

#[test]
fn malformed_datagrams_are_counted_and_rejected() {
    let (mut a, mut b) = lossy_pair();
    let good = frame(&mut a, 0, b"payload", true);
    let before = b.stats().malformed;
    let mut bad_kind = good.clone();
    bad_kind[4] = 9;
    let mut bad_size = good.clone();
    bad_size[8..10].copy_from_slice(&1u16.to_le_bytes());
    let mut huge_size = good.clone();
    huge_size[8..10].copy_from_slice(&5000u16.to_le_bytes());
    let mut zero_geometry = vec![0u8; native::PARITY_OVERHEAD + 20];
    zero_geometry[4] = 2;
    let cases: [&[u8]; 5] = [
        &good[..5],
        &bad_kind,
        &bad_size,
        &huge_size,
        &zero_geometry[..9],
    ];
    for packet in cases {
        assert!(b
            .input(0, packet, &mut |_| panic!("nothing to rebuild"))
            .is_err());
    }
    // Parity claiming k = 0 passes the header check but cannot be placed in a group.
    b.input(0, &zero_geometry, &mut |_| panic!("nothing to rebuild"))
        .unwrap();
    assert_eq!(b.stats().malformed - before, 6);
}

#[test]
fn unusable_settings_are_refused_up_front() {
    use kcp_core::fec::groups::Limits;
    use kcp_core::fec::kcpgo::KcpGoDecoder;
    use kcp_core::fec::FecConfigError;

    let refused = |config: NativeConfig| NativeFec::new(config).err();
    let base = NativeConfig::default();
    assert_eq!(
        refused(NativeConfig {
            min_deadline: 50,
            max_deadline: 10,
            ..base.clone()
        }),
        Some(FecConfigError::Deadlines)
    );
    assert_eq!(
        refused(NativeConfig {
            target_residual: 1.5,
            ..base.clone()
        }),
        Some(FecConfigError::Probability)
    );
    assert_eq!(
        refused(NativeConfig {
            min_loss: f64::NAN,
            ..base.clone()
        }),
        Some(FecConfigError::Probability)
    );
    assert_eq!(
        refused(NativeConfig {
            max_parity: 0,
            ..base.clone()
        }),
        Some(FecConfigError::Empty)
    );
    let no_groups = Limits {
        max_groups: 0,
        ..base.limits
    };
    assert_eq!(
        refused(NativeConfig {
            limits: no_groups,
            ..base
        }),
        Some(FecConfigError::NoRoom)
    );
    assert_eq!(
        KcpGoDecoder::new(10, 3, no_groups).err(),
        Some(FecConfigError::NoRoom)
    );
}
