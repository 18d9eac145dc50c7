//! Time for the endpoint: the caller's wrapping millisecond clock extended to 64 bits, and one
//! timer heap for all sessions.

use super::id_map::IdMap;
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

/// A session kept in a [`Timers`] heap: it holds its one current deadline.
pub(crate) trait Scheduled {
    /// The deadline that counts (`None`: nothing due).
    fn timer_at(&self) -> Option<u64>;
    /// Records a new deadline.
    fn set_timer_at(&mut self, at: Option<u64>);
}

impl Timers {
    /// Makes `at` session `id`'s deadline. The old entry stays in the heap and is skipped when
    /// it surfaces; once stale entries outnumber the sessions four to one, they are swept.
    pub(crate) fn schedule<C: Scheduled>(
        &mut self,
        conns: &mut IdMap<C>,
        id: u32,
        at: Option<u64>,
    ) {
        let Some(conn) = conns.get_mut(&id) else {
            return;
        };
        if conn.timer_at() != at {
            conn.set_timer_at(at);
            if let Some(at) = at {
                self.heap.push(Reverse((at, id)));
            }
        }
        if self.heap.len() > 4 * conns.len() + 64 {
            self.heap
                .retain(|&Reverse((at, id))| is_current(conns, at, id));
        }
    }

    /// The earliest current deadline; stale entries met on the way are dropped.
    pub(crate) fn next<C: Scheduled>(&mut self, conns: &IdMap<C>) -> Option<u64> {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if is_current(conns, at, id) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Moves every session due by `now` into `due` (once each), clearing its deadline.
    /// Collecting first lets the caller run each once: a session with datagrams waiting asks
    /// for a deadline of "now" until they are sent, so running while popping would not end.
    pub(crate) fn take_due<C: Scheduled>(
        &mut self,
        conns: &mut IdMap<C>,
        now: u64,
        due: &mut Vec<u32>,
    ) {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if let Some(conn) = conns.get_mut(&id) {
                if conn.timer_at() == Some(at) {
                    conn.set_timer_at(None);
                    due.push(id);
                }
            }
        }
    }
}

fn is_current<C: Scheduled>(conns: &IdMap<C>, at: u64, id: u32) -> bool {
    conns.get(&id).is_some_and(|c| c.timer_at() == Some(at))
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

    struct Session(Option<u64>);

    impl Scheduled for Session {
        fn timer_at(&self) -> Option<u64> {
            self.0
        }

        fn set_timer_at(&mut self, at: Option<u64>) {
            self.0 = at;
        }
    }

    #[test]
    fn moved_deadlines_are_skipped_and_each_due_session_comes_once() {
        let mut conns: IdMap<Session> = IdMap::default();
        conns.insert(1, Session(None));
        conns.insert(2, Session(None));
        let mut t = Timers::default();
        t.schedule(&mut conns, 1, Some(30));
        t.schedule(&mut conns, 2, Some(10));
        t.schedule(&mut conns, 1, Some(20));
        t.schedule(&mut conns, 1, Some(20));
        assert_eq!(t.heap.len(), 3, "a repeated deadline is not pushed twice");
        assert_eq!(t.next(&conns), Some(10));
        let mut due = Vec::new();
        t.take_due(&mut conns, 30, &mut due);
        assert_eq!(
            due,
            [2, 1],
            "the stale 30 for session 1 is not a second turn"
        );
        assert_eq!(conns[&1].0, None);
        assert_eq!(t.next(&conns), None);
    }

    #[test]
    fn stale_entries_are_swept_when_they_outnumber_the_sessions() {
        let mut conns: IdMap<Session> = IdMap::default();
        conns.insert(7, Session(None));
        let mut t = Timers::default();
        for at in 0..1_000 {
            t.schedule(&mut conns, 7, Some(at));
        }
        assert!(t.heap.len() <= 4 + 64 + 1, "{} entries kept", t.heap.len());
        assert_eq!(t.next(&conns), Some(999));
    }
}
