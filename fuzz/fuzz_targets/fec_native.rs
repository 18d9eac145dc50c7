//! The native FEC framing, both ends of one direction: a sender whose groups close by size, by
//! deadline or by the span of the offset byte, with as much parity as the loss it hears about
//! calls for, and receivers that must survive anything on the wire and still rebuild what
//! their parity covers.
//!
//! The input configures a `NativeFec` (valid values only: 1..=20 data and 1..=10 parity
//! shards, a deadline range with its minimum below its maximum) and drives the sender: packets
//! with and without data, clock steps that close groups by their deadline, loss reports from
//! the receiver that change how much parity a group gets, and SRTT changes. Every datagram it
//! writes then meets its fate (delivered, dropped, corrupted after the 8-byte header, or
//! truncated) on the way to two receivers:
//!
//! * the *clean* one gets only those datagrams. Damage never reaches the header, so it stays in
//!   its own group; every group that no damage touched must rebuild exactly its dropped data
//!   packets, in order, when it lost no more shards than it has parity, and nothing otherwise
//!   (nothing either for a group still open at the end: its parity never left);
//! * the *mixed* one also gets hostile datagrams, some with a header whose `seq` lands near
//!   the sender's.
//!
//! After every datagram, for both: `input` returned what the documented framing says (a plain
//! or data packet's declared KCP bytes, `None` for parity, `Malformed` exactly when the header
//! or size field cannot be right), rebuilt payloads fit in `max_shard_len`, and the counters
//! add up. (`NativeFec` does not expose its group table, so its bound is not checked here;
//! `fec_kcpgo` checks the same table's.) The sender's own datagrams are
//! checked against the format: positions in order, `k` the data shards the group had,
//! `1..=max_parity` parity shards, each two bytes longer than the longest data datagram.

#![no_main]

mod fec_shared;

use std::collections::BTreeMap;

use fec_shared::{Arrivals, Damage, Tally};
use kcp_core::fec::native::{DATA_OVERHEAD, HEADER_LEN, PARITY_OVERHEAD};
use kcp_core::fec::{Malformed, NativeConfig, NativeFec, SIZE_LEN};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Datagram kinds at offset 4 of the header.
const PLAIN: u8 = 0;
const DATA: u8 = 1;
const PARITY: u8 = 2;

#[derive(Arbitrary, Debug)]
struct Scenario {
    /// `1 + max_data % 20` data shards close a group.
    max_data: u8,
    /// At most `1 + max_parity % 10` parity shards per group.
    max_parity: u8,
    /// Deadline as a fraction of the SRTT, in 1/256 units.
    deadline_fraction: u16,
    /// Shortest deadline (ms); the longest is `deadline_range` more.
    min_deadline: u8,
    deadline_range: u8,
    /// Reported loss below `(min_loss % 16) / 256` sends plain datagrams (0: never).
    min_loss: u8,
    /// Residual loss aimed at: `2^-(1 + target % 20)`.
    target: u8,
    /// Groups the receivers remember: `1 + max_groups % 32`.
    max_groups: u8,
    /// Milliseconds a group may stay open at a receiver.
    max_age: u16,
    /// Longest shard accepted: `2 + 6 * max_shard_len` bytes, at least 3 (3..=1532).
    max_shard_len: u8,
    /// The clock at the start.
    clock: u32,
    /// The SRTT the sender is given until an `Op::Srtt`.
    srtt: u16,
    ops: Vec<Op>,
    /// What the network does to each of the sender's datagrams, in turn; then delivery.
    fates: Vec<Fate>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// The sender frames a datagram of `len` KCP bytes (modulo what fits in a shard).
    Send { len: u16, carries_data: bool },
    /// Time passes; the sender closes a group whose deadline fell.
    Wait { ms: u8 },
    /// The receiver tells the sender it loses `loss / 256` of its datagrams.
    Report { loss: u8 },
    /// The sender's SRTT changes.
    Srtt { ms: u16 },
    /// A datagram for the mixed receiver only.
    Hostile { frame: Frame, bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fate {
    /// Arrives at once.
    Deliver,
    /// Is lost.
    Drop,
    /// Arrives with byte `at` (counted after the header, modulo what is there) XORed with
    /// `xor` (0 taken as 1).
    Corrupt { at: u16, xor: u8 },
    /// Arrives with only the first `keep` bytes after the header (modulo what is there).
    Truncate { keep: u16 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Frame {
    /// The bytes as they are.
    AsIs,
    /// A header of kind `kind % 4` (3 is not a kind) whose `seq` is `delta` from the sender's
    /// next, with the given offset, position and report; with `fit`, a size field that
    /// matches the length.
    Header {
        kind: u8,
        delta: i8,
        offset: u8,
        position: u8,
        report: u8,
        fit: bool,
    },
}

fuzz_target!(|scenario: Scenario| {
    let min_deadline = u32::from(scenario.min_deadline);
    let config = NativeConfig {
        max_data: 1 + usize::from(scenario.max_data % 20),
        max_parity: 1 + usize::from(scenario.max_parity % 10),
        deadline_fraction: u32::from(scenario.deadline_fraction),
        min_deadline,
        max_deadline: min_deadline + u32::from(scenario.deadline_range),
        min_loss: f64::from(scenario.min_loss % 16) / 256.0,
        target_residual: 0.5f64.powi(1 + i32::from(scenario.target % 20)),
        limits: fec_shared::limits(
            1 + usize::from(scenario.max_groups % 32),
            scenario.max_age,
            scenario.max_shard_len,
        ),
    };
    let limits = config.limits;
    let mut sender = NativeFec::new(config.clone()).expect("a valid geometry");
    let mut clean = Checked::new(&config);
    let mut mixed = Checked::new(&config);
    let mut now = scenario.clock;
    let mut srtt = u32::from(scenario.srtt);
    let mut wire = Wire {
        fates: &scenario.fates,
        sent: 0,
        next_seq: 0,
        parity_out: 0,
        config: &config,
        groups: BTreeMap::new(),
        open: None,
        damaged_plain: false,
    };
    let mut report_seq = 0u32;
    let mut out = Vec::new();
    let mut packet = Vec::new();

    for op in &scenario.ops {
        match *op {
            Op::Send { len, carries_data } => {
                let len = fec_shared::kcp_len(len, limits.max_shard_len);
                packet.clear();
                packet.resize(DATA_OVERHEAD, 0);
                packet.extend(fec_shared::kcp_bytes(wire.sent, len));
                sender.encode(now, srtt, &mut packet, carries_data);
                wire.carry(now, &packet, Some(carries_data), &mut clean, &mut mixed);
            }
            Op::Wait { ms } => {
                now = now.wrapping_add(u32::from(ms));
                sender.handle_timeout(now);
            }
            Op::Report { loss } => {
                // A plain datagram of the receiver's with no KCP bytes, only the report.
                let mut report = report_seq.to_le_bytes().to_vec();
                report_seq = report_seq.wrapping_add(1);
                report.extend_from_slice(&[PLAIN, 0, 0, loss]);
                report.extend_from_slice(&(SIZE_LEN as u16).to_le_bytes());
                let got = sender.input(now, &report, &mut |_| panic!("a plain packet rebuilt"));
                assert_eq!(got, Ok(Some(&[][..])));
                assert_eq!(sender.peer_loss(), f64::from(loss) / 256.0);
            }
            Op::Srtt { ms } => srtt = u32::from(ms),
            Op::Hostile { frame, ref bytes } => {
                let datagram = frame_bytes(frame, bytes, wire.next_seq);
                mixed.feed(now, &datagram);
            }
        }
        // Parity leaves as soon as a group closes, before any other datagram.
        while let Some(len) = sender.next_parity_len() {
            out.resize(len, 0);
            assert_eq!(sender.next_parity(&mut out), Some(len));
            wire.carry(now, &out, None, &mut clean, &mut mixed);
        }
        assert_eq!(sender.next_parity(&mut out), None);
        assert_eq!(sender.stats().parity_shards_out, wire.parity_out);
        if let Some(deadline) = sender.poll_timeout() {
            assert!(wire.open.is_some(), "a deadline without an open group");
            // The deadline is within the configured range of when the group opened.
            let opened = wire.groups[&wire.open.expect("checked")].opened;
            let after = deadline.wrapping_sub(opened);
            assert!((config.min_deadline..=config.max_deadline).contains(&after));
        } else {
            assert!(wire.open.is_none(), "an open group without a deadline");
        }
    }

    for (id, group) in &wire.groups {
        if group.arrivals.touched {
            continue;
        }
        let Some((k, m)) = group.geometry else {
            assert!(
                group.arrivals.rebuilt.is_empty(),
                "group {id} rebuilt without parity"
            );
            continue;
        };
        let lost = group.data.iter().filter(|d| d.dropped).count() + group.parity_dropped;
        let lost_data: Vec<&[u8]> = group
            .data
            .iter()
            .filter(|d| d.dropped)
            .map(|d| d.kcp.as_slice())
            .collect();
        assert_eq!(group.data.len(), k);
        group
            .arrivals
            .check_rebuilt(id, lost, m, &lost_data, limits.max_age);
    }
    if wire.groups.values().all(|group| !group.arrivals.touched) && !wire.damaged_plain {
        fec_shared::check_undamaged(clean.fec.stats());
    }
});

/// Writes a native header over the start of `bytes` (zero-padded to hold it).
fn frame_bytes(frame: Frame, bytes: &[u8], next_seq: u32) -> Vec<u8> {
    let mut datagram = bytes.to_vec();
    let Frame::Header {
        kind,
        delta,
        offset,
        position,
        report,
        fit,
    } = frame
    else {
        return datagram;
    };
    if datagram.len() < DATA_OVERHEAD {
        datagram.resize(DATA_OVERHEAD, 0);
    }
    let seq = next_seq.wrapping_add_signed(i32::from(delta));
    datagram[0..4].copy_from_slice(&seq.to_le_bytes());
    datagram[4..8].copy_from_slice(&[kind % 4, offset, position, report]);
    if fit && kind % 4 != PARITY {
        fec_shared::fit_size_field(&mut datagram, HEADER_LEN);
    }
    datagram
}

/// One of the sender's data shards.
struct DataShard {
    kcp: Vec<u8>,
    dropped: bool,
}

/// What the sender put in one group and what happened to it on the way to the clean receiver.
#[derive(Default)]
struct GroupLog {
    /// When the sender opened it.
    opened: u32,
    data: Vec<DataShard>,
    /// The longest data datagram.
    longest: usize,
    /// `(k, m)`, once its parity left.
    geometry: Option<(usize, usize)>,
    parity_sent: usize,
    parity_dropped: usize,
    /// How its datagrams reached the clean receiver.
    arrivals: Arrivals,
}

/// Carries the sender's datagrams to the receivers, checking their headers on the way.
struct Wire<'a> {
    fates: &'a [Fate],
    /// Datagrams sent so far.
    sent: usize,
    next_seq: u32,
    parity_out: u64,
    config: &'a NativeConfig,
    /// Every group the sender opened, by id (`seq - offset`).
    groups: BTreeMap<u32, GroupLog>,
    /// The group still gathering data.
    open: Option<u32>,
    /// A plain datagram arrived damaged.
    damaged_plain: bool,
}

impl Wire<'_> {
    /// Checks a datagram the sender wrote (`carries_data` is `None` for parity), logs it, and
    /// delivers it as its fate says.
    fn carry(
        &mut self,
        now: u32,
        datagram: &[u8],
        carries_data: Option<bool>,
        clean: &mut Checked,
        mixed: &mut Checked,
    ) {
        let header = Header::read(datagram).expect("the sender writes whole headers");
        assert_eq!(header.seq, self.next_seq, "seq numbers every datagram");
        self.next_seq = self.next_seq.wrapping_add(1);
        let n = self.sent;
        self.sent += 1;
        let group_id = header.seq.wrapping_sub(u32::from(header.offset));
        match (carries_data, header.kind) {
            (Some(_), PLAIN) => {
                assert_eq!((header.offset, header.position), (0, 0));
            }
            (Some(true), DATA) => {
                if self.open.is_none() {
                    assert_eq!(header.offset, 0, "a group opens with its first datagram");
                    assert!(
                        !self.groups.contains_key(&group_id),
                        "group {group_id} reopened"
                    );
                    self.groups.insert(
                        group_id,
                        GroupLog {
                            opened: now,
                            ..GroupLog::default()
                        },
                    );
                    self.open = Some(group_id);
                }
                assert_eq!(self.open, Some(group_id), "data for a group not open");
                let group = self.groups.get_mut(&group_id).expect("open");
                assert_eq!(
                    usize::from(header.position),
                    group.data.len(),
                    "positions in order"
                );
                assert!(group.data.len() < self.config.max_data);
                group.longest = group.longest.max(datagram.len());
                group.data.push(DataShard {
                    kcp: datagram[DATA_OVERHEAD..].to_vec(),
                    dropped: false,
                });
            }
            (None, PARITY) => {
                self.parity_out += 1;
                let group = self
                    .groups
                    .get_mut(&group_id)
                    .expect("parity for a known group");
                let (k, m) = (
                    usize::from(datagram[HEADER_LEN]),
                    usize::from(datagram[HEADER_LEN + 1]),
                );
                assert_eq!(k, group.data.len(), "k is the data shards the group had");
                assert!(
                    (1..=self.config.max_parity).contains(&m),
                    "{m} parity shards"
                );
                assert_eq!(*group.geometry.get_or_insert((k, m)), (k, m));
                assert_eq!(usize::from(header.position), k + group.parity_sent);
                group.parity_sent += 1;
                assert!(group.parity_sent <= m);
                assert_eq!(
                    datagram.len(),
                    group.longest + SIZE_LEN,
                    "parity is two bytes longer"
                );
                // Parity leaves when the group closes; the next data opens another.
                self.open = None;
            }
            other => panic!("the sender wrote kind {} for {other:?}", header.kind),
        }

        let in_group = header.kind != PLAIN;
        let mut datagram = datagram.to_vec();
        let damage = match self.fates.get(n).copied().unwrap_or(Fate::Deliver) {
            Fate::Deliver => None,
            Fate::Drop => {
                if let Some(group) = self.groups.get_mut(&group_id).filter(|_| in_group) {
                    match group.data.last_mut() {
                        Some(shard) if header.kind == DATA => shard.dropped = true,
                        _ => group.parity_dropped += 1,
                    }
                }
                return;
            }
            Fate::Corrupt { at, xor } => Some(Damage::Corrupt { at, xor }),
            Fate::Truncate { keep } => Some(Damage::Truncate { keep }),
        };
        if let Some(damage) = damage {
            // Every datagram has a size field or `k` and `m` after its header.
            damage.apply(&mut datagram, HEADER_LEN);
            self.touch(in_group, group_id);
        }
        // Plain datagrams join no group and rebuild nothing.
        let rebuilt = clean.feed(now, &datagram);
        if in_group {
            let group = self.groups.get_mut(&group_id).expect("logged above");
            group.arrivals.arrived(now, rebuilt);
        } else {
            assert!(rebuilt.is_empty(), "a plain datagram rebuilt something");
        }
        mixed.feed(now, &datagram);
    }

    fn touch(&mut self, in_group: bool, group_id: u32) {
        if in_group {
            self.groups
                .get_mut(&group_id)
                .expect("logged")
                .arrivals
                .touched = true;
        } else {
            self.damaged_plain = true;
        }
    }
}

/// The fixed part of every native datagram.
struct Header {
    seq: u32,
    kind: u8,
    offset: u8,
    position: u8,
}

impl Header {
    fn read(datagram: &[u8]) -> Option<Header> {
        let header = datagram.get(..HEADER_LEN)?;
        Some(Header {
            seq: u32::from_le_bytes(header[0..4].try_into().ok()?),
            kind: header[4],
            offset: header[5],
            position: header[6],
        })
    }
}

/// What `input` must return for a datagram, by the documented framing.
#[derive(Debug, PartialEq)]
enum Expected {
    /// A plain or data packet: its KCP bytes are `datagram[DATA_OVERHEAD..end]`.
    Kcp {
        end: usize,
    },
    Parity,
    Malformed,
}

fn expected(datagram: &[u8]) -> Expected {
    let Some(header) = Header::read(datagram) else {
        return Expected::Malformed;
    };
    let shard = &datagram[HEADER_LEN..];
    match header.kind {
        PLAIN | DATA => match fec_shared::declared_size(shard) {
            Some(size) => Expected::Kcp {
                end: HEADER_LEN + size,
            },
            None => Expected::Malformed,
        },
        PARITY if datagram.len() >= PARITY_OVERHEAD => Expected::Parity,
        _ => Expected::Malformed,
    }
}

/// A receiver and what it was fed, checked after every datagram.
struct Checked {
    fec: NativeFec,
    fed: u64,
    tally: Tally,
}

impl Checked {
    fn new(config: &NativeConfig) -> Checked {
        Checked {
            fec: NativeFec::new(config.clone()).expect("a valid geometry"),
            fed: 0,
            tally: Tally::new(config.limits),
        }
    }

    /// Feeds one datagram and returns the KCP bytes it rebuilt.
    fn feed(&mut self, now: u32, datagram: &[u8]) -> Vec<Vec<u8>> {
        let fec = &mut self.fec;
        let (result, rebuilt) = self.tally.input(|sink| fec.input(now, datagram, sink));
        self.fed += 1;
        match expected(datagram) {
            Expected::Kcp { end } => {
                self.tally.data_in += 1;
                assert_eq!(result, Ok(Some(&datagram[DATA_OVERHEAD..end])));
            }
            Expected::Parity => {
                self.tally.parity_in += 1;
                assert_eq!(result, Ok(None), "parity has no KCP bytes of its own");
            }
            Expected::Malformed => assert_eq!(result, Err(Malformed)),
        }
        // Any datagram can be dropped, even one too short to hold a header.
        self.tally.check(self.fec.stats(), self.fed);
        rebuilt
    }
}
