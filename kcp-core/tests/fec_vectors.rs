//! kcp-go Reed-Solomon compatibility: parity against klauspost/reedsolomon's vectors and
//! against parity captured from kcptun, and rebuilding captured datagrams that are dropped.

mod common;

use common::{fec_captures, hex, load};
use kcp_core::fec::galois::{Code, Kernel};
use kcp_core::fec::groups::Limits;
use kcp_core::fec::kcpgo::{self, KcpGoDecoder, KcpGoEncoder, Packet};
use serde_json::Value;

fn hex_list(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| hex(s.as_str().expect("string")))
        .collect()
}

/// The portable kernel and, where the CPU has one, the SIMD kernel.
fn kernels() -> Vec<Kernel> {
    let mut kernels = vec![Kernel::portable()];
    if Kernel::detect().is_simd() {
        kernels.push(Kernel::detect());
    }
    kernels
}

fn limits() -> Limits {
    Limits {
        max_groups: kcpgo::DEFAULT_MAX_GROUPS,
        max_age: 60_000,
        max_shard_len: 1500,
    }
}

#[test]
fn parity_rows_are_kcp_gos_matrix() {
    let rs = load("rs-kcpgo-10-3.json");
    for (name, rows) in rs["parity_matrices"].as_object().expect("object") {
        let (d, p) = name.split_once('-').expect("d-p");
        let (d, p): (usize, usize) = (d.parse().unwrap(), p.parse().unwrap());
        let code = Code::new(d, p).unwrap();
        for (j, row) in hex_list(rows).iter().enumerate() {
            let ours: Vec<u8> = (0..d).map(|i| code.coefficient(j, i)).collect();
            assert_eq!(&ours, row, "{name} parity row {j}");
        }
    }
}

#[test]
fn parity_matches_klauspost_vectors_on_every_kernel() {
    let rs = load("rs-kcpgo-10-3.json");
    for kernel in kernels() {
        for v in rs["vectors"].as_array().unwrap() {
            let (d, p) = (
                v["data_shards"].as_u64().unwrap() as usize,
                v["parity_shards"].as_u64().unwrap() as usize,
            );
            let len = v["shard_len"].as_u64().unwrap() as usize;
            let code = Code::with_kernel(d, p, kernel).unwrap();
            let mut parity = vec![vec![0u8; len]; p];
            for (i, shard) in hex_list(&v["data_shards_hex"]).iter().enumerate() {
                code.accumulate(i, shard, &mut parity);
            }
            assert_eq!(
                parity,
                hex_list(&v["parity_shards_hex"]),
                "{} on {kernel:?}",
                v["name"]
            );
        }
    }
}

#[test]
fn encoder_frames_a_group_as_kcp_go_does() {
    let rs = load("rs-kcpgo-10-3.json");
    let v = rs["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "10-3-kcpgo-group")
        .unwrap();
    for kernel in kernels() {
        let mut enc = KcpGoEncoder::with_code(Code::with_kernel(10, 3, kernel).unwrap());
        for (i, shard) in hex_list(&v["data_shards_hex"]).iter().enumerate() {
            // The vector's shard is [size][bytes]; the encoder writes the size itself.
            let mut framed = vec![0; kcpgo::DATA_OVERHEAD];
            framed.extend_from_slice(&shard[2..]);
            enc.encode_data(&mut framed);
            assert_eq!(&framed[0..4], &(i as u32).to_le_bytes());
            assert_eq!(&framed[4..6], &[0xF1, 0x00]);
            assert_eq!(&framed[6..], &shard[..], "data shard {i}");
            assert_eq!(enc.has_parity(), i == 9);
        }
        for (j, expected) in hex_list(&v["parity_shards_hex"]).iter().enumerate() {
            let mut out = vec![0; 1500];
            let n = enc.next_parity(&mut out).expect("parity pending");
            assert_eq!(&out[0..4], &(10 + j as u32).to_le_bytes());
            assert_eq!(&out[4..6], &[0xF2, 0x00]);
            assert_eq!(&out[6..n], &expected[..], "parity {j} on {kernel:?}");
        }
        assert!(enc.next_parity(&mut [0; 1500]).is_none());
        assert_eq!(enc.next_seqid(), 13);
    }
}

/// Datagrams of one direction of a capture, as `(seqid, plaintext)` in capture order.
fn direction(capture: &Value, dir: &str) -> Vec<(Value, Vec<u8>)> {
    capture["datagrams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dir"] == dir)
        .map(|d| (d["fec"].clone(), hex(d["plaintext_hex"].as_str().unwrap())))
        .collect()
}

#[test]
fn encoder_reproduces_kcptuns_datagrams_and_parity() {
    for name in fec_captures() {
        let capture = load(name);
        for dir in ["c2s", "s2c"] {
            let mut enc = KcpGoEncoder::new(10, 3).unwrap();
            let mut parity_checked = 0;
            for (fec, plain) in direction(&capture, dir) {
                if fec["type"] == "data" {
                    assert!(
                        !enc.has_parity(),
                        "{name} {dir}: parity missing from capture"
                    );
                    let mut ours = plain.clone();
                    ours[..kcpgo::DATA_OVERHEAD].fill(0);
                    enc.encode_data(&mut ours);
                    assert_eq!(ours, plain, "{name} {dir} seqid {}", fec["seqid"]);
                } else {
                    let mut out = vec![0; 1500];
                    let n = enc.next_parity(&mut out).expect("our parity is due too");
                    assert_eq!(&out[..n], &plain[..], "{name} {dir} seqid {}", fec["seqid"]);
                    parity_checked += 1;
                }
            }
            assert!(parity_checked >= 3, "{name} {dir}: no parity to check");
        }
    }
}

#[test]
fn decoder_rebuilds_dropped_captured_datagrams() {
    let drops: [&[usize]; 5] = [&[0], &[9], &[0, 1, 2], &[7, 8, 9], &[2, 5, 8]];
    for name in fec_captures() {
        let capture = load(name);
        for group in capture["fec_groups"].as_array().unwrap() {
            if group["complete"] != true {
                continue;
            }
            let indices: Vec<usize> = group["datagram_indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect();
            let plains: Vec<Vec<u8>> = indices
                .iter()
                .map(|&i| hex(capture["datagrams"][i]["plaintext_hex"].as_str().unwrap()))
                .collect();
            for drop in drops {
                let mut dec = KcpGoDecoder::new(10, 3, limits()).unwrap();
                let mut rebuilt = Vec::new();
                let mut fed = Vec::new();
                for (position, plain) in plains.iter().enumerate() {
                    if drop.contains(&position) {
                        continue;
                    }
                    let direct = dec.input(0, Packet::parse(plain), &mut |kcp| {
                        rebuilt.push(kcp.to_vec())
                    });
                    if let Ok(Some(kcp)) = direct {
                        fed.push(kcp.to_vec());
                    }
                }
                let mut expected: Vec<Vec<u8>> = drop
                    .iter()
                    .map(|&p| plains[p][kcpgo::DATA_OVERHEAD..].to_vec())
                    .collect();
                expected.sort();
                rebuilt.sort();
                assert_eq!(
                    rebuilt, expected,
                    "{name} group {} drop {drop:?}",
                    group["first_seqid"]
                );
                assert_eq!(fed.len(), 10 - drop.len());
                assert_eq!(dec.stats().recovered, drop.len() as u64);
                assert_eq!(dec.stats().errors, 0);
            }
        }
    }
}

/// Frames `count` data packets of assorted lengths, returning every packet (data and parity)
/// in send order.
fn encode_stream(enc: &mut KcpGoEncoder, count: usize, seed: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in 0..count {
        let len = 24 + (n * 37 + seed as usize) % 900;
        let mut packet = vec![0; kcpgo::DATA_OVERHEAD + len];
        for (i, b) in packet[kcpgo::DATA_OVERHEAD..].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(n as u8 ^ seed);
        }
        enc.encode_data(&mut packet);
        out.push(packet);
        let mut parity = vec![0; 1500];
        while let Some(len) = enc.next_parity(&mut parity) {
            out.push(parity[..len].to_vec());
        }
    }
    out
}

#[test]
fn seqid_wraps_after_parity_and_groups_stay_aligned() {
    let mut enc = KcpGoEncoder::new(10, 3).unwrap();
    let wrap = (u32::MAX / 13) * 13;
    enc.set_next_seqid(wrap - 2 * 13 + 5);
    assert_eq!(
        enc.next_seqid(),
        wrap - 2 * 13,
        "moved to the start of its group"
    );
    let packets = encode_stream(&mut enc, 30, 7);
    let seqids: Vec<u32> = packets
        .iter()
        .map(|p| u32::from_le_bytes(p[0..4].try_into().unwrap()))
        .collect();
    assert_eq!(seqids[25], wrap - 1, "last parity before the wrap");
    assert_eq!(seqids[26], 0, "the counter wraps after a parity packet");

    // Drop one data packet in each group, across the wrap: all come back.
    let mut dec = KcpGoDecoder::new(10, 3, limits()).unwrap();
    let mut rebuilt = Vec::new();
    for (n, packet) in packets.iter().enumerate() {
        if n % 13 == 4 {
            continue;
        }
        dec.input(0, Packet::parse(packet), &mut |kcp| {
            rebuilt.push(kcp.to_vec())
        })
        .unwrap();
    }
    let expected: Vec<Vec<u8>> = (0..packets.len())
        .filter(|n| n % 13 == 4)
        .map(|n| packets[n][kcpgo::DATA_OVERHEAD..].to_vec())
        .collect();
    assert_eq!(rebuilt, expected);
}

#[test]
fn bad_shards_are_counted_and_never_trusted() {
    let mut enc = KcpGoEncoder::new(4, 2).unwrap();
    let packets = encode_stream(&mut enc, 8, 1);
    let mut dec = KcpGoDecoder::new(4, 2, limits()).unwrap();
    let feed = |dec: &mut KcpGoDecoder, p: &[u8]| {
        dec.input(0, Packet::parse(p), &mut |_| {})
            .ok()
            .flatten()
            .map(<[u8]>::to_vec)
    };

    // A size field below 2 or past the end.
    for size in [0u16, 1, 5000] {
        let mut bad = packets[0].clone();
        bad[6..8].copy_from_slice(&size.to_le_bytes());
        assert_eq!(feed(&mut dec, &bad), None);
    }
    assert_eq!(dec.stats().malformed, 3);

    // A data flag at a parity position, and a seqid past the wrap point.
    let mut misplaced = packets[1].clone();
    misplaced[0..4].copy_from_slice(&4u32.to_le_bytes());
    assert!(
        feed(&mut dec, &misplaced).is_some(),
        "its payload still goes to the ARQ"
    );
    let mut beyond = packets[0].clone();
    beyond[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    feed(&mut dec, &beyond);
    assert_eq!(dec.stats().malformed, 5);

    // A duplicate, then the group completes, then its parity arrives late.
    feed(&mut dec, &packets[0]);
    feed(&mut dec, &packets[0]);
    assert_eq!(dec.stats().duplicate, 1);
    for p in &packets[1..6] {
        feed(&mut dec, p);
    }
    assert!(dec.stats().late >= 1, "parity after complete data is late");
    assert_eq!(dec.stats().recovered, 0);

    // A parity shard shorter than a stored data shard cannot be right.
    let mut dec = KcpGoDecoder::new(4, 2, limits()).unwrap();
    let long = packets
        .iter()
        .take(4)
        .max_by_key(|p| p.len())
        .unwrap()
        .clone();
    let seqid = u32::from_le_bytes(long[0..4].try_into().unwrap());
    feed(&mut dec, &long);
    let mut short_parity = vec![0u8; 6 + 10];
    short_parity[0..4].copy_from_slice(&(seqid - seqid % 6 + 4).to_le_bytes());
    short_parity[4..6].copy_from_slice(&[0xF2, 0]);
    feed(&mut dec, &short_parity);
    assert_eq!(dec.stats().malformed, 1);
}

#[test]
fn the_group_table_stays_bounded() {
    let mut dec = KcpGoDecoder::new(10, 3, limits()).unwrap();
    // One data shard of each of 10 000 groups: none can be rebuilt, all are remembered briefly.
    let mut packet = vec![0u8; 8 + 100];
    packet[4..6].copy_from_slice(&[0xF1, 0]);
    packet[6..8].copy_from_slice(&102u16.to_le_bytes());
    for g in 0..10_000u32 {
        packet[0..4].copy_from_slice(&(g * 13).to_le_bytes());
        dec.input(g, Packet::parse(&packet), &mut |_| {
            panic!("nothing to rebuild")
        })
        .unwrap();
        assert!(dec.groups().len() <= kcpgo::DEFAULT_MAX_GROUPS);
    }
    assert_eq!(
        dec.stats().abandoned_groups,
        10_000 - kcpgo::DEFAULT_MAX_GROUPS as u64
    );

    // A shard of a long-gone group is late, not a new group.
    packet[0..4].copy_from_slice(&13u32.to_le_bytes());
    dec.input(10_000, Packet::parse(&packet), &mut |_| {})
        .unwrap();
    assert_eq!(dec.stats().late, 1);

    // Groups older than the age limit are abandoned.
    let mut dec = KcpGoDecoder::new(10, 3, limits()).unwrap();
    packet[0..4].copy_from_slice(&0u32.to_le_bytes());
    dec.input(0, Packet::parse(&packet), &mut |_| {}).unwrap();
    packet[0..4].copy_from_slice(&13u32.to_le_bytes());
    dec.input(60_001, Packet::parse(&packet), &mut |_| {})
        .unwrap();
    assert_eq!(dec.stats().abandoned_groups, 1);
    assert_eq!(dec.groups().open_groups(), 1);
}
