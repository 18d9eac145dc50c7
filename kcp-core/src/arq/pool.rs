//! Spare segment buffers, reused last-in first-out: the buffer just freed is the one still in
//! cache, and steady-state traffic allocates nothing.

/// Spare buffers kept beyond this many are freed.
const LIMIT: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    spare: Vec<Vec<u8>>,
}

impl BufferPool {
    /// An empty buffer with room for at least `capacity` bytes.
    pub(crate) fn take(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare.pop() {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(capacity);
                buf
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// A buffer of exactly `len` bytes whose contents are unspecified (old data, or zeros):
    /// for the caller to overwrite, without paying to clear it first.
    pub(crate) fn take_sized(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// Gives a buffer back.
    pub(crate) fn give(&mut self, buf: Vec<u8>) {
        if self.spare.len() < LIMIT && buf.capacity() > 0 {
            self.spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_buffer_given_is_the_first_taken() {
        let mut pool = BufferPool::default();
        let (a, b) = (pool.take(8), pool.take(8));
        let b_ptr = b.as_ptr();
        pool.give(a);
        pool.give(b);
        let again = pool.take(8);
        assert_eq!(again.as_ptr(), b_ptr);
        assert!(again.is_empty() && again.capacity() >= 8);
    }
}
