//! Wrapping comparisons for the 32-bit sequence numbers and millisecond clocks on the wire.
//!
//! Both wrap at 2^32; two values are compared through their signed 32-bit difference, which is
//! right while they are less than 2^31 apart (the reference code's `_itimediff`).

/// `a - b` as a signed distance: positive when `a` is after `b`.
#[inline]
pub fn diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Whether `a` is at or after `b`.
#[inline]
pub fn at_or_after(a: u32, b: u32) -> bool {
    diff(a, b) >= 0
}

/// Whether `a` is strictly before `b`.
#[inline]
pub fn before(a: u32, b: u32) -> bool {
    diff(a, b) < 0
}

/// Whether `x` lies in the half-open range `[start, end)`.
#[inline]
pub fn in_range(x: u32, start: u32, end: u32) -> bool {
    at_or_after(x, start) && before(x, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_survive_wrap() {
        assert_eq!(diff(2, u32::MAX), 3);
        assert!(before(u32::MAX, 1));
        assert!(at_or_after(0, u32::MAX - 5));
        assert!(in_range(1, u32::MAX - 1, 3));
        assert!(!in_range(3, u32::MAX - 1, 3));
    }
}
