//! Segments that have a sequence number and are not yet acknowledged (`snd_buf`), in a ring
//! indexed by sequence number, with the indexes that spare the state machine from walking the
//! whole window:
//!
//! * the retransmission deadlines ([`Timers`]; stale entries are skipped when they surface),
//! * the *holes*: unacknowledged segments below the highest acknowledged one, the only
//!   candidates for fast retransmission,
//! * the list of segments whose duplicate-ack count reached the fast-resend threshold.
//!
//! ```text
//!      una              sent              next
//!   ....|== in flight ===|== new (xmit 0) ==|....
//! ```

use std::collections::VecDeque;

use super::pool::BufferPool;
use super::timers::Timers;
use crate::seq;

/// One sequence-numbered segment.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Still unacknowledged.
    pub(crate) live: bool,
    pub(crate) sn: u32,
    pub(crate) frg: u8,
    /// Clock at the last transmission.
    pub(crate) ts: u32,
    /// When the segment times out.
    pub(crate) resendts: u32,
    /// This segment's retransmission timeout.
    pub(crate) rto: u32,
    /// Acknowledgements seen for later segments since the last fast retransmission.
    pub(crate) fastack: u32,
    /// Transmissions so far.
    pub(crate) xmit: u32,
    /// Listed for fast retransmission.
    pub(crate) fast_listed: bool,
    pub(crate) data: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct SendBuffer {
    slots: Vec<Slot>,
    mask: u32,
    /// First unacknowledged sequence number (`snd_una`).
    una: u32,
    /// First sequence number never transmitted.
    sent: u32,
    /// Next sequence number to assign (`snd_nxt`).
    next: u32,
    /// Unacknowledged segments (`nsnd_buf`).
    live: u32,
    timers: Timers,
    /// Deadlines are kept relative to this instant so the heap orders wrapping times.
    epoch: u32,
    holes: VecDeque<u32>,
    /// Every sequence number below this has been considered for `holes`.
    hole_scan: u32,
    fast: Vec<u32>,
}

impl SendBuffer {
    pub(crate) fn new(window: u16) -> SendBuffer {
        let size = u32::from(window).next_power_of_two();
        SendBuffer {
            slots: (0..size).map(|_| Slot::default()).collect(),
            mask: size - 1,
            una: 0,
            sent: 0,
            next: 0,
            live: 0,
            timers: Timers::default(),
            epoch: 0,
            holes: VecDeque::new(),
            hole_scan: 0,
            fast: Vec::new(),
        }
    }

    /// Grows the ring for a larger send window, keeping every segment.
    pub(crate) fn resize(&mut self, window: u16) {
        let size = u32::from(window)
            .max(self.next.wrapping_sub(self.una))
            .next_power_of_two();
        if size as usize == self.slots.len() {
            return;
        }
        let mut slots: Vec<Slot> = (0..size).map(|_| Slot::default()).collect();
        let mut sn = self.una;
        while sn != self.next {
            slots[(sn & (size - 1)) as usize] =
                std::mem::take(&mut self.slots[(sn & self.mask) as usize]);
            sn = sn.wrapping_add(1);
        }
        self.slots = slots;
        self.mask = size - 1;
    }

    pub(crate) fn una(&self) -> u32 {
        self.una
    }

    pub(crate) fn next(&self) -> u32 {
        self.next
    }

    pub(crate) fn sent(&self) -> u32 {
        self.sent
    }

    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    /// Sequence numbers assigned and not below `una` (the in-flight span).
    pub(crate) fn span(&self) -> u32 {
        self.next.wrapping_sub(self.una)
    }

    pub(crate) fn slot(&self, sn: u32) -> &Slot {
        &self.slots[(sn & self.mask) as usize]
    }

    pub(crate) fn slot_mut(&mut self, sn: u32) -> &mut Slot {
        &mut self.slots[(sn & self.mask) as usize]
    }

    /// Whether `sn` is assigned and unacknowledged.
    pub(crate) fn is_live(&self, sn: u32) -> bool {
        seq::in_range(sn, self.una, self.next) && self.slot(sn).live
    }

    /// Takes a fresh slot for the next sequence number; the caller fills `data` and `frg`.
    /// The ring always has room: the span never exceeds the send window.
    pub(crate) fn push(&mut self) -> &mut Slot {
        let sn = self.next;
        self.next = sn.wrapping_add(1);
        self.live += 1;
        let slot = self.slot_mut(sn);
        slot.live = true;
        slot.sn = sn;
        slot.fastack = 0;
        slot.xmit = 0;
        slot.fast_listed = false;
        slot
    }

    /// Whether the ring can take another segment without colliding.
    pub(crate) fn has_room(&self) -> bool {
        (self.span() as usize) < self.slots.len()
    }

    /// Records that the oldest never-sent segment has been sent.
    pub(crate) fn mark_sent(&mut self) {
        self.sent = self.sent.wrapping_add(1);
    }

    /// Marks one segment acknowledged, giving its buffer back; returns whether it was live.
    pub(crate) fn ack(&mut self, sn: u32, pool: &mut BufferPool) -> bool {
        if !self.is_live(sn) {
            return false;
        }
        let slot = self.slot_mut(sn);
        slot.live = false;
        pool.give(std::mem::take(&mut slot.data));
        self.live -= 1;
        if sn == self.una {
            self.advance_una();
        }
        true
    }

    /// Acknowledges everything below `una` (the cumulative ack of a segment header).
    pub(crate) fn ack_below(&mut self, una: u32, pool: &mut BufferPool) {
        while seq::before(self.una, una) && self.una != self.next {
            let sn = self.una;
            let slot = self.slot_mut(sn);
            if slot.live {
                slot.live = false;
                pool.give(std::mem::take(&mut slot.data));
                self.live -= 1;
            }
            self.una = sn.wrapping_add(1);
        }
        self.advance_una();
    }

    fn advance_una(&mut self) {
        while self.una != self.next && !self.slot(self.una).live {
            self.una = self.una.wrapping_add(1);
        }
        if seq::before(self.sent, self.una) {
            self.sent = self.una;
        }
        if seq::before(self.hole_scan, self.una) {
            self.hole_scan = self.una;
        }
        if self.live == 0 {
            self.timers.clear();
            self.holes.clear();
        }
    }

    /// Notes an acknowledgement for `sn` (live or not): segments below it that are still
    /// unacknowledged become holes.
    pub(crate) fn note_acked_above(&mut self, sn: u32) {
        if !seq::in_range(sn, self.una, self.next) {
            return;
        }
        while seq::before(self.hole_scan, sn) {
            let hole = self.hole_scan;
            if self.slot(hole).live {
                self.holes.push_back(hole);
            }
            self.hole_scan = hole.wrapping_add(1);
        }
        if self.hole_scan == sn {
            self.hole_scan = sn.wrapping_add(1);
        }
    }

    /// Counts one more duplicate acknowledgement for every hole below `maxack` that was sent
    /// no later than `ts` (the reference code's conservative fast-ack rule). Holes that reach
    /// `threshold` while sent at most `limit` times (0 = no limit) join the fast list.
    pub(crate) fn count_fastacks(&mut self, maxack: u32, ts: u32, threshold: u32, limit: u32) {
        if !seq::in_range(maxack, self.una, self.next) {
            return;
        }
        let (una, next) = (self.una, self.next);
        let mask = self.mask;
        let slots = &mut self.slots;
        let fast = &mut self.fast;
        self.holes.retain(|&sn| {
            if !seq::in_range(sn, una, next) {
                return false;
            }
            let slot = &mut slots[(sn & mask) as usize];
            if !slot.live {
                return false;
            }
            if seq::before(sn, maxack) && seq::at_or_after(ts, slot.ts) {
                slot.fastack += 1;
                if slot.fastack >= threshold
                    && (limit == 0 || slot.xmit <= limit)
                    && !slot.fast_listed
                {
                    slot.fast_listed = true;
                    fast.push(sn);
                }
            }
            true
        });
    }

    /// Whether any segment waits for fast retransmission.
    pub(crate) fn has_fast(&self) -> bool {
        !self.fast.is_empty()
    }

    /// Moves the fast list and every timer due at `now` into `due`, sorted by sequence number
    /// and without duplicates. Stale entries are dropped on the way.
    pub(crate) fn take_due(&mut self, now: u32, due: &mut Vec<u32>) {
        due.clear();
        for sn in self.fast.drain(..) {
            let slot = &mut self.slots[(sn & self.mask) as usize];
            slot.fast_listed = false;
            due.push(sn);
        }
        let now_key = self.key(now);
        while let Some((key, sn, resendts)) = self.timers.peek() {
            if key > now_key {
                break;
            }
            self.timers.pop();
            if self.timer_is_current(sn, resendts) {
                due.push(sn);
            }
        }
        due.sort_unstable_by_key(|&sn| sn.wrapping_sub(self.una));
        due.dedup();
    }

    /// Lists a segment for fast retransmission again (it still qualifies after a flush).
    pub(crate) fn relist_fast(&mut self, sn: u32) {
        let slot = self.slot_mut(sn);
        if !slot.fast_listed {
            slot.fast_listed = true;
            self.fast.push(sn);
        }
    }

    /// A timer is current while its segment is unacknowledged and still due at the time the
    /// timer was armed for (every (re)transmission moves the resend time).
    fn timer_is_current(&self, sn: u32, resendts: u32) -> bool {
        self.is_live(sn) && self.slot(sn).resendts == resendts
    }

    fn key(&self, time: u32) -> u32 {
        // Deadlines before the epoch (a clock that stepped back) count as due at once.
        seq::diff(time, self.epoch).max(0) as u32
    }

    /// Arms the retransmission timer of a segment just (re)transmitted; a first transmission
    /// may wake up to `slack` ms late (see [`Timers::push`]).
    pub(crate) fn arm_timer(&mut self, sn: u32, now: u32, first: bool, slack: u32) {
        if self.timers.is_empty() || seq::diff(now, self.epoch) > (1 << 30) {
            self.rebuild_timers(now);
        }
        let slot = self.slot(sn);
        self.timers
            .push((self.key(slot.resendts), sn, slot.resendts), first, slack);
        if self.timers.len() > 4 * self.slots.len() + 64 {
            self.rebuild_timers(now);
        }
    }

    /// Rebuilds the heap from the live segments: bounds its size and moves the epoch forward.
    fn rebuild_timers(&mut self, now: u32) {
        self.epoch = now;
        let (una, sent, mask, epoch) = (self.una, self.sent, self.mask, self.epoch);
        let slots = &self.slots;
        let live = (0..sent.wrapping_sub(una)).filter_map(|i| {
            let sn = una.wrapping_add(i);
            let slot = &slots[(sn & mask) as usize];
            let key = seq::diff(slot.resendts, epoch).max(0) as u32;
            (slot.live && slot.xmit > 0).then_some(((key, sn, slot.resendts), slot.xmit == 1))
        });
        self.timers.rebuild(live);
    }

    /// Drops stale timers from the top so [`SendBuffer::earliest_deadline`] is exact.
    pub(crate) fn prune_timers(&mut self) {
        while let Some((_, sn, resendts)) = self.timers.peek() {
            if self.timer_is_current(sn, resendts) {
                break;
            }
            self.timers.pop();
        }
    }

    /// The earliest retransmission deadline (exact after [`SendBuffer::prune_timers`]).
    pub(crate) fn earliest_deadline(&self) -> Option<u32> {
        self.timers
            .peek()
            .map(|(key, _, _)| self.epoch.wrapping_add(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer_with(n: u32) -> SendBuffer {
        let mut buf = SendBuffer::new(8);
        for _ in 0..n {
            buf.push().data.extend_from_slice(b"x");
        }
        buf
    }

    #[test]
    fn selective_and_cumulative_acks_move_una() {
        let mut pool = BufferPool::default();
        let mut buf = buffer_with(5);
        assert!(buf.ack(1, &mut pool));
        assert!(!buf.ack(1, &mut pool));
        assert_eq!(buf.una(), 0);
        assert!(buf.ack(0, &mut pool));
        assert_eq!(buf.una(), 2);
        buf.ack_below(4, &mut pool);
        assert_eq!((buf.una(), buf.live()), (4, 1));
        assert!(
            !buf.ack(7, &mut pool),
            "unassigned sequence numbers are not acknowledged"
        );
    }

    #[test]
    fn holes_collect_fastacks_conservatively() {
        let mut pool = BufferPool::default();
        let mut buf = buffer_with(4);
        for sn in 0..4 {
            buf.slot_mut(sn).ts = 100 + sn;
        }
        buf.ack(2, &mut pool);
        buf.note_acked_above(2);
        // An ack echoing ts 101 passes over sn 0 and 1, both sent at or before 101.
        buf.count_fastacks(2, 101, 1, 0);
        assert_eq!((buf.slot(0).fastack, buf.slot(1).fastack), (1, 1));
        // An older echo (ts 100) does not count for sn 1, sent at 101.
        buf.count_fastacks(2, 100, 1, 0);
        assert_eq!((buf.slot(0).fastack, buf.slot(1).fastack), (2, 1));
        let mut due = Vec::new();
        buf.take_due(0, &mut due);
        assert_eq!(due, [0, 1]);
        assert!(!buf.has_fast());
    }

    #[test]
    fn timers_fire_once_and_stale_ones_are_skipped() {
        let mut pool = BufferPool::default();
        let mut buf = buffer_with(3);
        for (sn, deadline) in [(0, 50), (1, 30), (2, 40)] {
            buf.mark_sent();
            let slot = buf.slot_mut(sn);
            slot.xmit = 1;
            slot.resendts = deadline;
            buf.arm_timer(sn, 0, true, 0);
        }
        assert_eq!(buf.earliest_deadline(), Some(30));
        buf.ack(1, &mut pool);
        buf.prune_timers();
        assert_eq!(buf.earliest_deadline(), Some(40));
        let mut due = Vec::new();
        buf.take_due(45, &mut due);
        assert_eq!(due, [2]);
        buf.take_due(60, &mut due);
        assert_eq!(due, [0]);
    }

    #[test]
    fn resize_keeps_segments_in_flight() {
        let mut pool = BufferPool::default();
        let mut buf = buffer_with(6);
        buf.ack_below(3, &mut pool);
        buf.resize(64);
        assert!(buf.is_live(5));
        assert_eq!(buf.slot(4).data, b"x");
        assert!(buf.has_room());
    }
}
