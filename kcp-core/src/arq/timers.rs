//! Retransmission deadlines, ordered for "what is due first".
//!
//! First transmissions mostly arrive in deadline order (segments sent later time out later), so
//! they go to a FIFO with O(1) push and pop. A first transmission whose deadline is a little
//! earlier than the FIFO's last (the RTO shrank a few milliseconds) joins the FIFO with the
//! last deadline instead, within a caller-chosen slack: its timer then wakes the caller that
//! much later, and the segment's own resend time still decides. When the RTO drops by more
//! than that (after the first RTT samples, typically) the FIFO so far moves into a binary heap
//! and a new FIFO starts. Retransmissions (backed-off, far deadlines) always go to the heap,
//! which stays small. The earliest deadline is the smaller of the two fronts.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// `(deadline key, sn, resend time)`: the key orders; `sn` and the exact resend time identify
/// the transmission, so stale entries (acknowledged or retransmitted since) can be recognised.
pub(crate) type Timer = (u32, u32, u32);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    in_order: VecDeque<Timer>,
    out_of_order: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    /// Adds a deadline; `first` says whether it is a segment's first transmission, `slack` how
    /// much later than its key it may fire.
    pub(crate) fn push(&mut self, timer: Timer, first: bool, slack: u32) {
        let (key, sn, xmit) = timer;
        if !first {
            self.out_of_order.push(Reverse(timer));
            return;
        }
        match self.in_order.back() {
            Some(&(last, _, _)) if key < last && last - key <= slack => {
                self.in_order.push_back((last, sn, xmit));
            }
            Some(&(last, _, _)) if key < last => {
                self.out_of_order
                    .extend(self.in_order.drain(..).map(Reverse));
                self.in_order.push_back(timer);
            }
            _ => self.in_order.push_back(timer),
        }
    }

    /// Replaces every entry: first transmissions sorted into the FIFO, the rest into the heap.
    pub(crate) fn rebuild(&mut self, timers: impl Iterator<Item = (Timer, bool)>) {
        self.clear();
        for (timer, first) in timers {
            if first {
                self.in_order.push_back(timer);
            } else {
                self.out_of_order.push(Reverse(timer));
            }
        }
        self.in_order.make_contiguous().sort_unstable();
    }

    /// The entry with the smallest key.
    pub(crate) fn peek(&self) -> Option<Timer> {
        match (self.in_order.front(), self.out_of_order.peek()) {
            (Some(&a), Some(&Reverse(b))) => Some(if b.0 < a.0 { b } else { a }),
            (Some(&a), None) => Some(a),
            (None, Some(&Reverse(b))) => Some(b),
            (None, None) => None,
        }
    }

    /// Removes the entry [`Timers::peek`] returns.
    pub(crate) fn pop(&mut self) -> Option<Timer> {
        let from_heap = match (self.in_order.front(), self.out_of_order.peek()) {
            (Some(a), Some(Reverse(b))) => b.0 < a.0,
            (None, Some(_)) => true,
            _ => false,
        };
        if from_heap {
            self.out_of_order.pop().map(|Reverse(t)| t)
        } else {
            self.in_order.pop_front()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.in_order.len() + self.out_of_order.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn clear(&mut self) {
        self.in_order.clear();
        self.out_of_order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_key_order_whatever_the_push_order() {
        let mut timers = Timers::default();
        for (i, key) in [5, 9, 3, 12, 7, 12, 1].into_iter().enumerate() {
            timers.push((key, key, 0), i % 3 != 0, 0);
        }
        let keys: Vec<u32> = std::iter::from_fn(|| timers.pop().map(|t| t.0)).collect();
        assert_eq!(keys, [1, 3, 5, 7, 9, 12, 12]);
        assert!(timers.is_empty());
        timers.rebuild([((4, 0, 1), true), ((2, 0, 1), true), ((3, 0, 2), false)].into_iter());
        assert_eq!(timers.pop(), Some((2, 0, 1)));
        assert_eq!(timers.pop(), Some((3, 0, 2)));
    }

    #[test]
    fn slack_keeps_slightly_early_deadlines_in_the_fifo_but_never_fires_them_early() {
        let mut timers = Timers::default();
        timers.push((10, 1, 1), true, 3);
        timers.push((8, 2, 1), true, 3);
        timers.push((5, 3, 1), true, 3);
        // 8 joins the FIFO as 10; 5 is too early: the FIFO moves to the heap.
        assert_eq!((timers.in_order.len(), timers.out_of_order.len()), (1, 2));
        assert_eq!(timers.pop(), Some((5, 3, 1)));
        assert_eq!(timers.pop(), Some((10, 1, 1)));
        assert_eq!(timers.pop(), Some((10, 2, 1)));
    }
}
