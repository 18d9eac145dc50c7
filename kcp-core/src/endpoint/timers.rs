//! Time for the endpoint: the caller's wrapping millisecond clock extended to 64 bits, and one
//! timer heap for all sessions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Extends the caller's `u32` millisecond clock (which wraps every 49 days) to a `u64` that
/// does not, so deadlines can be ordered in a heap.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    last: u32,
    now: u64,
}

impl Clock {
    pub(crate) fn new(now: u32) -> Clock {
        Clock {
            last: now,
            now: u64::from(now),
        }
    }

    /// Moves to `now`; a time before the last one (the caller's clock stepped back) counts as
    /// no time passing.
    pub(crate) fn advance(&mut self, now: u32) -> u64 {
        let step = now.wrapping_sub(self.last);
        if (step as i32) > 0 {
            self.now += u64::from(step);
            self.last = now;
        }
        self.now
    }

    /// The current extended time.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// The caller's clock value at extended time `at` (at or after now).
    pub(crate) fn wire_time(self, at: u64) -> u32 {
        self.last
            .wrapping_add(at.saturating_sub(self.now).min(u64::from(u32::MAX / 2)) as u32)
    }

    /// The extended time of a deadline `at` on the caller's clock (never before now).
    pub(crate) fn extended_time(self, at: u32) -> u64 {
        let ahead = at.wrapping_sub(self.last) as i32;
        self.now + ahead.max(0) as u64
    }
}

/// Deadlines of many sessions in one binary heap. Entries are not removed when a session's
/// deadline moves: the session remembers the one deadline that counts, and stale entries are
/// skipped when they come up (and swept when they outnumber the sessions).
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: u64, id: u32) {
        self.heap.push(Reverse((at, id)));
    }

    /// The earliest entry (possibly stale).
    pub(crate) fn peek(&self) -> Option<(u64, u32)> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    pub(crate) fn pop(&mut self) -> Option<(u64, u32)> {
        self.heap.pop().map(|Reverse(e)| e)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `live` says are current.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(u64, u32) -> bool) {
        self.heap.retain(|Reverse((at, id))| live(*at, *id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_extends_across_the_wrap_and_ignores_steps_back() {
        let mut c = Clock::new(u32::MAX - 10);
        assert_eq!(c.advance(5), u64::from(u32::MAX - 10) + 16);
        let t = c.now();
        assert_eq!(c.advance(3), t, "a step back is no time");
        assert_eq!(c.extended_time(105), t + 100);
        assert_eq!(c.extended_time(4), t, "a deadline in the past is now");
        assert_eq!(c.wire_time(t + 100), 105);
    }

    #[test]
    fn heap_orders_and_sweeps() {
        let mut t = Timers::default();
        t.push(30, 1);
        t.push(10, 2);
        t.push(20, 1);
        assert_eq!(t.peek(), Some((10, 2)));
        t.retain(|at, id| !(id == 1 && at == 30));
        assert_eq!(t.len(), 2);
        assert_eq!(t.pop(), Some((10, 2)));
        assert_eq!(t.pop(), Some((20, 1)));
        assert_eq!(t.pop(), None);
    }
}
