//! Replay protection for sealed packets: each packet counter is accepted once, and counters
//! too far behind the highest one seen are refused.
//!
//! The window is a ring of 64-bit words (the layout of RFC 6479): moving the window forward
//! clears whole words, so the cost of a packet does not depend on the window size. One word
//! more than the window needs is kept so that the word the newest counter falls in never
//! overlaps the oldest.
//!
//! Counters travel truncated to 32 bits; [`expand_counter`] rebuilds the full 64-bit value
//! from the highest counter seen. A counter is checked *after* the packet authenticated, so a
//! forger cannot move the window.

use core::fmt;

/// Counters accepted behind the highest one seen (at least this many; the ring rounds up to
/// whole words).
pub const WINDOW: u64 = 2048;

const WORD_BITS: u64 = 64;
/// Words in the ring: the window plus one word of slack.
const WORDS: usize = (WINDOW / WORD_BITS) as usize + 1;

/// Why a counter was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Seen before.
    Duplicate,
    /// Older than the window.
    TooOld,
}

impl fmt::Display for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replay::Duplicate => f.write_str("packet counter seen before (replay)"),
            Replay::TooOld => f.write_str("packet counter behind the replay window"),
        }
    }
}

impl std::error::Error for Replay {}

/// The counters of one direction of one session.
#[derive(Clone, Debug)]
pub struct ReplayWindow {
    /// The highest counter accepted, if any.
    highest: Option<u64>,
    bits: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> ReplayWindow {
        ReplayWindow::new()
    }
}

impl ReplayWindow {
    /// A window that has accepted nothing.
    pub fn new() -> ReplayWindow {
        ReplayWindow {
            highest: None,
            bits: [0; WORDS],
        }
    }

    /// The highest counter accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `counter` would be accepted, without recording it.
    pub fn check(&self, counter: u64) -> Result<(), Replay> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if counter > highest {
            return Ok(());
        }
        if highest - counter >= WINDOW {
            return Err(Replay::TooOld);
        }
        let (word, bit) = position(counter);
        if self.bits[word] & bit != 0 {
            return Err(Replay::Duplicate);
        }
        Ok(())
    }

    /// Records `counter` if [`ReplayWindow::check`] accepts it.
    pub fn accept(&mut self, counter: u64) -> Result<(), Replay> {
        self.check(counter)?;
        match self.highest {
            Some(highest) if counter <= highest => {}
            Some(highest) => {
                // Clear the words the window slides over (all of them after a long jump).
                let from = highest / WORD_BITS + 1;
                let to = counter / WORD_BITS;
                let steps = (to + 1).saturating_sub(from).min(WORDS as u64);
                for block in from..from + steps {
                    self.bits[(block % WORDS as u64) as usize] = 0;
                }
                self.highest = Some(counter);
            }
            None => {
                self.bits = [0; WORDS];
                self.highest = Some(counter);
            }
        }
        let (word, bit) = position(counter);
        self.bits[word] |= bit;
        Ok(())
    }
}

fn position(counter: u64) -> (usize, u64) {
    let word = ((counter / WORD_BITS) % WORDS as u64) as usize;
    (word, 1 << (counter % WORD_BITS))
}

/// The full counter whose low 32 bits are `truncated` and which lies nearest to the one after
/// `highest` (the next expected): packets more than 2^31 away from it cannot be told apart,
/// and the replay window refuses anything that far behind anyway.
pub fn expand_counter(truncated: u32, highest: Option<u64>) -> u64 {
    let expected = highest.map_or(0, |h| h.wrapping_add(1));
    const SPAN: u64 = 1 << 32;
    let candidate = (expected & !(SPAN - 1)) | u64::from(truncated);
    if candidate + SPAN / 2 <= expected && candidate <= u64::MAX - SPAN {
        candidate + SPAN
    } else if candidate > expected + SPAN / 2 && candidate >= SPAN {
        candidate - SPAN
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;
    use std::collections::BTreeSet;

    #[test]
    fn each_counter_once_and_not_too_old() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(10), Ok(()));
        assert_eq!(w.accept(10), Err(Replay::Duplicate));
        assert_eq!(w.accept(5), Ok(()), "reordered within the window");
        assert_eq!(w.accept(5), Err(Replay::Duplicate));
        assert_eq!(w.accept(10 + WINDOW), Ok(()));
        assert_eq!(w.accept(10), Err(Replay::TooOld));
        assert_eq!(w.accept(11), Ok(()), "exactly a window behind");
        assert_eq!(w.accept(1_000_000), Ok(()), "a long jump clears everything");
        assert_eq!(w.accept(1_000_000 - 1), Ok(()));
        assert_eq!(w.accept(1_000_000 - WINDOW + 1), Ok(()));
        assert_eq!(w.accept(1_000_000 - WINDOW), Err(Replay::TooOld));
    }

    #[test]
    fn check_does_not_record() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.check(3), Ok(()));
        assert_eq!(w.check(3), Ok(()));
        w.accept(3).unwrap();
        assert_eq!(w.check(3), Err(Replay::Duplicate));
    }

    /// Against a model that remembers every counter: random walks with reordering, duplicates
    /// and jumps give the same verdicts.
    #[test]
    fn agrees_with_a_set_of_everything_seen() {
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let mut w = ReplayWindow::new();
            let mut seen = BTreeSet::new();
            let mut highest: Option<u64> = None;
            let mut next = rng.range(0, 1 << 40);
            for _ in 0..2_000 {
                let counter = match rng.below(10) {
                    0 => next.saturating_sub(rng.range(0, 3 * WINDOW)),
                    1 => next + rng.range(0, 5 * WINDOW),
                    2 => *seen.iter().next_back().unwrap_or(&next),
                    _ => next + rng.range(0, 4),
                };
                next = next.max(counter + 1);
                let expected = if seen.contains(&counter) {
                    if highest.is_some_and(|h| h - counter >= WINDOW) {
                        Err(Replay::TooOld)
                    } else {
                        Err(Replay::Duplicate)
                    }
                } else if highest.is_some_and(|h| counter < h && h - counter >= WINDOW) {
                    Err(Replay::TooOld)
                } else {
                    Ok(())
                };
                assert_eq!(w.accept(counter), expected, "seed {seed} counter {counter}");
                if expected.is_ok() {
                    seen.insert(counter);
                    highest = highest.max(Some(counter));
                }
            }
        }
    }

    #[test]
    fn counters_expand_around_the_next_expected() {
        assert_eq!(expand_counter(0, None), 0);
        assert_eq!(expand_counter(7, Some(6)), 7);
        let h = (5u64 << 32) + 10;
        assert_eq!(expand_counter(11, Some(h)), h + 1);
        assert_eq!(expand_counter(5, Some(h)), h - 5, "a little behind");
        // Just past a 2^32 boundary, low bits near the top mean "a little behind".
        let h = (5u64 << 32) + 2;
        assert_eq!(expand_counter(u32::MAX - 3, Some(h)), (5u64 << 32) - 4);
        // Just before a boundary, small low bits mean "a little ahead".
        let h = (6u64 << 32) - 3;
        assert_eq!(expand_counter(4, Some(h)), (6u64 << 32) + 4);
        for seed in 0..100 {
            let mut rng = Rng::new(seed);
            let h = rng.range(1 << 33, 1 << 50);
            let actual = (h + 1 + rng.range(0, 1 << 30)) - (1 << 29);
            assert_eq!(expand_counter(actual as u32, Some(h)), actual);
        }
    }
}
