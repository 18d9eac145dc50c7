//! The receiver's table of FEC groups in progress: bounded in count, age and shard size, shared
//! by both framings.
//!
//! A group is created by its first shard and holds copies of the shards that arrived. It ends
//! when all its data shards are there (nothing to do), when enough shards are there to rebuild
//! the missing data (the rebuilt shards go to the caller), or when it is abandoned (evicted by
//! newer groups, or older than the age limit). An ended group stays as a *tombstone*, without
//! buffers, so that its late shards are recognised and counted rather than starting a new
//! group; shards of groups older than the oldest entry are late too.

use super::galois::CodeCache;
use super::{shard_payload, FecStats, MAX_SHARDS};
use crate::seq;

/// Where a shard sits in its group, and the group's geometry if the shard tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The group, numbered by the framing; later groups have later numbers (wrapping).
    pub group: u32,
    /// Position in the group: data shards first, then parity.
    pub index: usize,
    /// `(data, parity)` of the group, when known (kcp-go: always; native: on parity shards).
    pub geometry: Option<(usize, usize)>,
}

/// Limits of a [`GroupTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Groups remembered at once, open or ended; the oldest is evicted first.
    pub max_groups: usize,
    /// A group still open this many milliseconds after its first shard is abandoned.
    pub max_age: u32,
    /// Longest shard accepted, in bytes.
    pub max_shard_len: usize,
}

#[derive(Debug)]
struct Slot {
    buf: Vec<u8>,
    present: bool,
}

#[derive(Debug)]
struct Group {
    id: u32,
    born: u32,
    geometry: Option<(usize, usize)>,
    slots: Vec<Slot>,
    present: usize,
    data_present: usize,
    /// The length of the group's parity shards, once one has arrived.
    parity_len: Option<usize>,
    /// The longest data shard stored.
    longest_data: usize,
    /// One past the highest data position stored.
    data_end: usize,
    ended: bool,
}

impl Group {
    fn complete(&self) -> bool {
        self.geometry.is_some_and(|(k, _)| self.data_present >= k)
    }

    fn recoverable(&self) -> bool {
        self.geometry.is_some_and(|(k, _)| self.present >= k) && self.parity_len.is_some()
    }
}

/// The groups a decoder is assembling.
#[derive(Debug)]
pub struct GroupTable {
    limits: Limits,
    /// Oldest first.
    groups: std::collections::VecDeque<Group>,
    /// Shard buffers of ended groups, for reuse.
    spare: Vec<Vec<u8>>,
    codes: CodeCache,
    /// Buffers lent to the code during a rebuild, and whether each was present.
    scratch: Vec<(Vec<u8>, bool)>,
}

impl GroupTable {
    /// An empty table; fails if the limits leave room for no group or no shard.
    pub fn new(limits: Limits) -> Result<GroupTable, super::FecConfigError> {
        if limits.max_groups == 0 || limits.max_shard_len <= super::SIZE_LEN {
            return Err(super::FecConfigError::NoRoom);
        }
        Ok(GroupTable {
            limits,
            groups: std::collections::VecDeque::with_capacity(limits.max_groups),
            spare: Vec::new(),
            codes: CodeCache::default(),
            scratch: Vec::new(),
        })
    }

    /// The table's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Groups remembered (open or ended).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group is remembered.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Groups still open (holding shard copies).
    pub fn open_groups(&self) -> usize {
        self.groups.iter().filter(|g| !g.ended).count()
    }

    /// Takes one shard. `is_data` says which kind the header claimed; data shards are
    /// `[size u16][payload]`. Rebuilt data payloads are passed to `deliver`.
    pub fn insert(
        &mut self,
        now: u32,
        at: Placement,
        is_data: bool,
        shard: &[u8],
        stats: &mut FecStats,
        deliver: &mut dyn FnMut(&[u8]),
    ) {
        if shard.is_empty() || shard.len() > self.limits.max_shard_len || at.index >= MAX_SHARDS {
            stats.malformed += 1;
            return;
        }
        self.expire(now, stats);
        let Some(position) = self.find_or_open(now, at.group, stats) else {
            stats.late += 1;
            return;
        };
        let group = &mut self.groups[position];
        if group.ended {
            stats.late += 1;
            return;
        }
        match (group.geometry, at.geometry) {
            (Some(known), Some(claimed)) if known != claimed => {
                stats.malformed += 1;
                return;
            }
            (None, Some(claimed)) => {
                let (k, m) = claimed;
                if k == 0
                    || m == 0
                    || k + m > MAX_SHARDS
                    || group.slots.len() > k + m
                    || group.data_end > k
                {
                    stats.malformed += 1;
                    return;
                }
                group.geometry = Some(claimed);
            }
            _ => {}
        }
        if let Some((k, m)) = group.geometry {
            if (at.index < k) != is_data || at.index >= k + m {
                stats.malformed += 1;
                return;
            }
        }
        if !is_data {
            if shard.len() < group.longest_data
                || group.parity_len.is_some_and(|l| l != shard.len())
            {
                stats.malformed += 1;
                return;
            }
            group.parity_len = Some(shard.len());
        } else if group.parity_len.is_some_and(|l| shard.len() > l) {
            stats.malformed += 1;
            return;
        }
        if group.slots.len() <= at.index {
            group.slots.resize_with(at.index + 1, || Slot {
                buf: Vec::new(),
                present: false,
            });
        }
        let slot = &mut group.slots[at.index];
        if slot.present {
            stats.duplicate += 1;
            return;
        }
        if slot.buf.capacity() == 0 {
            slot.buf = self.spare.pop().unwrap_or_default();
        }
        slot.buf.clear();
        slot.buf.extend_from_slice(shard);
        slot.present = true;
        group.present += 1;
        if is_data {
            group.data_present += 1;
            group.longest_data = group.longest_data.max(shard.len());
            group.data_end = group.data_end.max(at.index + 1);
        }
        if group.complete() {
            self.end(position);
        } else if group.recoverable() {
            self.recover(position, stats, deliver);
        }
    }

    /// The index of the group `id`, opening it if it is new; `None` if it is older than
    /// everything remembered.
    fn find_or_open(&mut self, now: u32, id: u32, stats: &mut FecStats) -> Option<usize> {
        if let Some(position) = self.groups.iter().position(|g| g.id == id) {
            return Some(position);
        }
        if self
            .groups
            .front()
            .is_some_and(|oldest| seq::before(id, oldest.id))
        {
            return None;
        }
        // In steady state the table is full, and the evicted group's slot list (emptied into
        // the spare buffers) becomes the new group's: no allocation per group.
        let mut slots = Vec::new();
        if self.groups.len() >= self.limits.max_groups {
            let mut evicted = self.groups.pop_front().expect("a full table is not empty");
            if !evicted.ended && !evicted.complete() {
                stats.abandoned_groups += 1;
            }
            self.recycle(&mut evicted.slots);
            slots = evicted.slots;
        }
        // Groups arrive nearly in order; keep the deque sorted so "older than the front" holds.
        let at = self
            .groups
            .iter()
            .rposition(|g| seq::before(g.id, id))
            .map_or(0, |p| p + 1);
        self.groups.insert(
            at,
            Group {
                id,
                born: now,
                geometry: None,
                slots,
                present: 0,
                data_present: 0,
                parity_len: None,
                longest_data: 0,
                data_end: 0,
                ended: false,
            },
        );
        Some(at)
    }

    /// Abandons open groups older than the age limit.
    fn expire(&mut self, now: u32, stats: &mut FecStats) {
        for position in 0..self.groups.len() {
            let group = &self.groups[position];
            if !group.ended && now.wrapping_sub(group.born) > self.limits.max_age {
                stats.abandoned_groups += 1;
                self.end(position);
            }
        }
    }

    /// Turns a group into a tombstone, keeping its buffers for reuse.
    fn end(&mut self, position: usize) {
        let mut slots = std::mem::take(&mut self.groups[position].slots);
        self.recycle(&mut slots);
        let group = &mut self.groups[position];
        group.ended = true;
        group.slots = slots;
    }

    /// Empties `slots`, keeping a bounded number of their buffers.
    fn recycle(&mut self, slots: &mut Vec<Slot>) {
        let keep = self.limits.max_groups * 4;
        for slot in slots.drain(..) {
            if slot.buf.capacity() > 0 && self.spare.len() < keep {
                self.spare.push(slot.buf);
            }
        }
    }

    fn recover(&mut self, position: usize, stats: &mut FecStats, deliver: &mut dyn FnMut(&[u8])) {
        let group = &self.groups[position];
        let (k, m) = group
            .geometry
            .expect("recoverable groups know their geometry");
        let len = group.parity_len.expect("recoverable groups have parity");
        let mut slots = std::mem::take(&mut self.groups[position].slots);
        slots.resize_with(k + m, || Slot {
            buf: Vec::new(),
            present: false,
        });
        for slot in &mut slots {
            if slot.buf.capacity() == 0 {
                slot.buf = self.spare.pop().unwrap_or_default();
            }
            // kcp-go pads every shard with zeros to the group's parity length.
            slot.buf.resize(len, 0);
        }
        // The code works on owned buffers lent to a scratch list kept across calls, so a
        // rebuild allocates nothing.
        self.scratch.clear();
        self.scratch.extend(
            slots
                .iter_mut()
                .map(|s| (std::mem::take(&mut s.buf), s.present)),
        );
        let rebuilt = self
            .codes
            .get(k, m)
            .is_some_and(|code| code.reconstruct(&mut self.scratch));
        for (slot, (buf, _)) in slots.iter_mut().zip(self.scratch.drain(..)) {
            slot.buf = buf;
        }
        if rebuilt {
            for slot in slots.iter().take(k).filter(|s| !s.present) {
                match shard_payload(&slot.buf) {
                    Some(payload) => {
                        stats.recovered += 1;
                        deliver(payload);
                    }
                    None => stats.errors += 1,
                }
            }
        } else {
            stats.errors += 1;
        }
        self.groups[position].slots = slots;
        self.end(position);
    }
}
