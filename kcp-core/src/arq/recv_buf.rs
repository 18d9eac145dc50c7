//! Received segments: the ready queue the application reads from and, after it, the
//! out-of-order segments waiting for a gap to fill, in one ring indexed by sequence number.
//!
//! ```text
//!        head            next                     next + window
//!   ......|== ready ======|-- out of order (holes) --|.......
//! ```
//!
//! `ready` holds at most `window` segments and the out-of-order part spans at most `window`
//! sequence numbers, so a ring of `2 * window` slots never collides. Payloads live in buffers
//! from the state machine's [`BufferPool`], returned as soon as they are read (or handed to the
//! application whole): the few buffers in use stay in cache, and nothing is allocated per
//! segment once the pool has warmed up.

use super::pool::BufferPool;
use super::received::Received;
use crate::seq;

#[derive(Debug, Default)]
struct Slot {
    present: bool,
    frg: u8,
    /// The payload is `data[start..]`: a datagram kept whole starts after its header.
    start: usize,
    data: Vec<u8>,
}

impl Slot {
    fn payload(&self) -> &[u8] {
        &self.data[self.start..]
    }
}

/// A pushed segment's payload as it reaches the receive buffer.
#[derive(Debug)]
pub(crate) enum Payload<'a> {
    /// Bytes inside a datagram the caller keeps: copied into a pool buffer.
    Borrowed(&'a [u8]),
    /// A whole datagram handed over, payload at `start`: kept as it is.
    Owned { datagram: Vec<u8>, start: usize },
}

impl Payload<'_> {
    /// The buffer to give back to the pool if the payload is not stored.
    pub(crate) fn into_buffer(self) -> Option<Vec<u8>> {
        match self {
            Payload::Borrowed(_) => None,
            Payload::Owned { datagram, .. } => Some(datagram),
        }
    }
}

/// What became of a pushed segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Stored (and possibly made ready).
    Stored,
    /// Below `next` or already buffered: acknowledge again, store nothing.
    Duplicate,
    /// At or past `next + window`: drop without acknowledging.
    OutsideWindow,
}

/// Why nothing was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadRefusal {
    Empty,
    BufferTooSmall(usize),
}

#[derive(Debug)]
pub(crate) struct RecvBuffer {
    slots: Vec<Slot>,
    mask: u32,
    /// First ready segment (the next one the application reads).
    head: u32,
    /// Bytes of the head segment already read (stream mode).
    head_offset: usize,
    /// First sequence number not yet received in order (`rcv_nxt`).
    next: u32,
    window: u32,
    /// Out-of-order segments buffered at or past `next` (`nrcv_buf`).
    out_of_order: u32,
    /// Unread payload bytes in the ready queue.
    ready_bytes: usize,
    /// One past the highest sequence number stored: no slot at or beyond it holds data.
    horizon: u32,
}

impl RecvBuffer {
    pub(crate) fn new(window: u16) -> RecvBuffer {
        let size = (2 * u32::from(window)).next_power_of_two();
        RecvBuffer {
            slots: (0..size).map(|_| Slot::default()).collect(),
            mask: size - 1,
            head: 0,
            head_offset: 0,
            next: 0,
            window: u32::from(window),
            out_of_order: 0,
            ready_bytes: 0,
            horizon: 0,
        }
    }

    /// Changes the window. Segments already buffered stay (they were acknowledged), even past
    /// a smaller window's end; the ring grows to cover whatever span they need.
    pub(crate) fn resize(&mut self, window: u16) {
        let span = self.horizon.wrapping_sub(self.head);
        let size = (2 * u32::from(window)).max(span).next_power_of_two();
        if size as usize != self.slots.len() {
            let mut slots: Vec<Slot> = (0..size).map(|_| Slot::default()).collect();
            for i in 0..span {
                let sn = self.head.wrapping_add(i);
                slots[(sn & (size - 1)) as usize] =
                    std::mem::take(&mut self.slots[(sn & self.mask) as usize]);
            }
            self.slots = slots;
            self.mask = size - 1;
        }
        self.window = u32::from(window);
        self.promote();
    }

    fn slot(&mut self, sn: u32) -> &mut Slot {
        &mut self.slots[(sn & self.mask) as usize]
    }

    /// `rcv_nxt`: every sequence number below it has been received.
    pub(crate) fn next(&self) -> u32 {
        self.next
    }

    /// Segments ready for the application (`nrcv_que`).
    pub(crate) fn ready(&self) -> u32 {
        self.next.wrapping_sub(self.head)
    }

    /// The window advertised to the peer: free room in the ready queue.
    pub(crate) fn free_window(&self) -> u32 {
        self.window.saturating_sub(self.ready())
    }

    /// Whether `sn` is one the buffer would acknowledge: below `next + window`.
    pub(crate) fn acceptable(&self, sn: u32) -> bool {
        seq::before(sn, self.next.wrapping_add(self.window))
    }

    /// Stores a pushed segment and moves what became contiguous into the ready queue.
    pub(crate) fn insert(
        &mut self,
        sn: u32,
        frg: u8,
        payload: Payload<'_>,
        pool: &mut BufferPool,
    ) -> Insert {
        let refusal = if !self.acceptable(sn) {
            Some(Insert::OutsideWindow)
        } else if seq::before(sn, self.next) || self.slot(sn).present {
            Some(Insert::Duplicate)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if let Some(buf) = payload.into_buffer() {
                pool.give(buf);
            }
            return refusal;
        }
        let (data, start) = match payload {
            Payload::Borrowed(bytes) => {
                let mut data = pool.take(bytes.len());
                data.extend_from_slice(bytes);
                (data, 0)
            }
            Payload::Owned { datagram, start } => (datagram, start),
        };
        let slot = self.slot(sn);
        slot.present = true;
        slot.frg = frg;
        slot.start = start;
        slot.data = data;
        if seq::at_or_after(sn, self.horizon) {
            self.horizon = sn.wrapping_add(1);
        }
        self.out_of_order += 1;
        self.promote();
        Insert::Stored
    }

    /// Moves contiguous segments from the out-of-order part into the ready queue while it has
    /// room (`rcv_buf -> rcv_queue`).
    fn promote(&mut self) {
        while self.ready() < self.window {
            let next = self.next;
            let slot = self.slot(next);
            if !slot.present {
                break;
            }
            let len = slot.payload().len();
            self.ready_bytes += len;
            self.next = next.wrapping_add(1);
            self.out_of_order -= 1;
        }
    }

    /// Size of the next complete message (message mode), as `ikcp_peeksize`.
    pub(crate) fn peek_message(&self) -> Option<usize> {
        let ready = self.ready();
        if ready == 0 {
            return None;
        }
        let head = &self.slots[(self.head & self.mask) as usize];
        if u32::from(head.frg) + 1 > ready {
            return None;
        }
        let mut size = 0;
        for i in 0..ready {
            let slot = &self.slots[(self.head.wrapping_add(i) & self.mask) as usize];
            size += slot.payload().len();
            if slot.frg == 0 {
                return Some(size);
            }
        }
        // Fragment numbers that never reach 0 within the ready queue: not complete yet.
        None
    }

    /// Unread bytes in the ready queue (stream mode).
    pub(crate) fn ready_bytes(&self) -> usize {
        self.ready_bytes
    }

    /// Reads the next whole message into `out`.
    pub(crate) fn read_message(
        &mut self,
        out: &mut [u8],
        pool: &mut BufferPool,
    ) -> Result<usize, ReadRefusal> {
        let size = self.peek_message().ok_or(ReadRefusal::Empty)?;
        if out.len() < size {
            return Err(ReadRefusal::BufferTooSmall(size));
        }
        let mut written = 0;
        loop {
            let slot = self.slot(self.head);
            let frg = slot.frg;
            let len = slot.payload().len();
            out[written..written + len].copy_from_slice(slot.payload());
            written += len;
            pool.give(self.pop_head());
            if frg == 0 {
                break;
            }
        }
        self.promote();
        Ok(written)
    }

    /// Takes the next message (message mode) or the next segment's bytes (stream mode) as an
    /// owned buffer. A single-segment message or a segment not partly read is handed over as
    /// it is, without a copy.
    pub(crate) fn take_next(
        &mut self,
        stream: bool,
        pool: &mut BufferPool,
    ) -> Result<Received, ReadRefusal> {
        if stream {
            self.skip_empty(pool);
            if self.ready() == 0 {
                return Err(ReadRefusal::Empty);
            }
            let offset = self.head_offset;
            let received = if offset == 0 {
                self.pop_received()
            } else {
                let rest = &self.slot(self.head).payload()[offset..];
                let mut out = pool.take(rest.len());
                out.extend_from_slice(rest);
                pool.give(self.pop_head());
                Received::new(out, 0)
            };
            self.promote();
            return Ok(received);
        }
        let size = self.peek_message().ok_or(ReadRefusal::Empty)?;
        let received = if self.slot(self.head).frg == 0 {
            self.pop_received()
        } else {
            let mut out = pool.take(size);
            loop {
                let slot = self.slot(self.head);
                let frg = slot.frg;
                out.extend_from_slice(slot.payload());
                pool.give(self.pop_head());
                if frg == 0 {
                    break;
                }
            }
            Received::new(out, 0)
        };
        self.promote();
        Ok(received)
    }

    /// The head segment's buffer, handed over as it is.
    fn pop_received(&mut self) -> Received {
        let start = self.slot(self.head).start;
        Received::new(self.pop_head(), start)
    }

    /// Empty segments carry nothing for a stream: drop them so they free the window.
    fn skip_empty(&mut self, pool: &mut BufferPool) {
        while self.ready() > 0 && self.slot(self.head).payload().len() == self.head_offset {
            pool.give(self.pop_head());
        }
    }

    /// Reads as many stream bytes as fit into `out`, across segment boundaries.
    pub(crate) fn read_stream(
        &mut self,
        out: &mut [u8],
        pool: &mut BufferPool,
    ) -> Result<usize, ReadRefusal> {
        if self.ready_bytes == 0 {
            self.skip_empty(pool);
            self.promote();
            return Err(ReadRefusal::Empty);
        }
        let mut written = 0;
        while written < out.len() && self.ready() > 0 {
            let head = self.head;
            let offset = self.head_offset;
            let slot = self.slot(head);
            let payload = slot.payload();
            let take = (payload.len() - offset).min(out.len() - written);
            out[written..written + take].copy_from_slice(&payload[offset..offset + take]);
            let exhausted = offset + take == payload.len();
            written += take;
            if exhausted {
                pool.give(self.pop_head());
            } else {
                self.head_offset += take;
                self.ready_bytes -= take;
            }
        }
        self.promote();
        Ok(written)
    }

    /// Removes the head segment from the ready queue and returns its buffer.
    fn pop_head(&mut self) -> Vec<u8> {
        let head = self.head;
        let offset = self.head_offset;
        let slot = self.slot(head);
        slot.present = false;
        let payload_len = slot.payload().len();
        slot.start = 0;
        let data = std::mem::take(&mut slot.data);
        self.ready_bytes -= payload_len - offset;
        self.head = head.wrapping_add(1);
        self.head_offset = 0;
        data
    }

    /// Bytes held by slot buffers.
    #[cfg(test)]
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.data.capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_and_delivers_in_sequence() {
        let mut buf = RecvBuffer::new(4);
        let mut pool = BufferPool::default();
        assert_eq!(
            buf.insert(1, 0, Payload::Borrowed(b"b"), &mut pool),
            Insert::Stored
        );
        assert_eq!(buf.ready(), 0);
        assert_eq!(
            buf.insert(1, 0, Payload::Borrowed(b"b"), &mut pool),
            Insert::Duplicate
        );
        assert_eq!(
            buf.insert(0, 0, Payload::Borrowed(b"a"), &mut pool),
            Insert::Stored
        );
        assert_eq!(buf.ready(), 2);
        assert_eq!(
            buf.insert(0, 0, Payload::Borrowed(b"a"), &mut pool),
            Insert::Duplicate
        );
        assert_eq!(
            buf.insert(6, 0, Payload::Borrowed(b"x"), &mut pool),
            Insert::OutsideWindow
        );
        let mut out = [0u8; 8];
        assert_eq!(buf.read_stream(&mut out, &mut pool), Ok(2));
        assert_eq!(&out[..2], b"ab");
    }

    #[test]
    fn a_full_ready_queue_holds_back_promotion_and_the_window() {
        let mut buf = RecvBuffer::new(2);
        let mut pool = BufferPool::default();
        for sn in 0..4 {
            buf.insert(sn, 0, Payload::Borrowed(&[sn as u8]), &mut pool);
        }
        assert_eq!(
            (buf.ready(), buf.out_of_order, buf.free_window()),
            (2, 2, 0)
        );
        let mut out = [0u8; 1];
        assert_eq!(buf.read_message(&mut out, &mut pool), Ok(1));
        assert_eq!((buf.ready(), buf.out_of_order), (2, 1));
    }

    #[test]
    fn messages_wait_for_all_fragments() {
        let mut buf = RecvBuffer::new(8);
        let mut pool = BufferPool::default();
        buf.insert(0, 2, Payload::Borrowed(b"he"), &mut pool);
        buf.insert(2, 0, Payload::Borrowed(b"o"), &mut pool);
        assert_eq!(buf.peek_message(), None);
        buf.insert(1, 1, Payload::Borrowed(b"ll"), &mut pool);
        assert_eq!(buf.peek_message(), Some(5));
        let mut small = [0u8; 4];
        assert_eq!(
            buf.read_message(&mut small, &mut pool),
            Err(ReadRefusal::BufferTooSmall(5))
        );
        let mut out = [0u8; 5];
        assert_eq!(buf.read_message(&mut out, &mut pool), Ok(5));
        assert_eq!(&out, b"hello");
        assert_eq!(
            buf.read_message(&mut out, &mut pool),
            Err(ReadRefusal::Empty)
        );
    }

    #[test]
    fn stream_reads_split_segments() {
        let mut buf = RecvBuffer::new(8);
        let mut pool = BufferPool::default();
        buf.insert(0, 0, Payload::Borrowed(b"abc"), &mut pool);
        buf.insert(1, 0, Payload::Borrowed(b"def"), &mut pool);
        let mut out = [0u8; 4];
        assert_eq!(buf.read_stream(&mut out, &mut pool), Ok(4));
        assert_eq!(&out, b"abcd");
        assert_eq!(buf.ready_bytes(), 2);
        assert_eq!(buf.read_stream(&mut out, &mut pool), Ok(2));
        assert_eq!(&out[..2], b"ef");
        assert_eq!(buf.ready(), 0);
    }

    #[test]
    fn resizing_keeps_buffered_segments() {
        let mut buf = RecvBuffer::new(4);
        let mut pool = BufferPool::default();
        for sn in [1, 2, 3] {
            buf.insert(sn, 0, Payload::Borrowed(&[sn as u8]), &mut pool);
        }
        buf.resize(1);
        // sn 2 and 3 lie past the new window's end but were acknowledged: they must survive,
        // while a new copy of them is now outside the window.
        assert_eq!(
            buf.insert(2, 0, Payload::Borrowed(b"x"), &mut pool),
            Insert::OutsideWindow
        );
        assert_eq!(
            buf.insert(0, 0, Payload::Borrowed(&[0]), &mut pool),
            Insert::Stored
        );
        buf.resize(64);
        let mut out = [0u8; 4];
        assert_eq!(buf.read_stream(&mut out, &mut pool), Ok(4));
        assert_eq!(out, [0, 1, 2, 3]);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut buf = RecvBuffer::new(4);
        let mut pool = BufferPool::default();
        buf.next = u32::MAX - 1;
        buf.head = u32::MAX - 1;
        buf.horizon = u32::MAX - 1;
        for sn in [u32::MAX, 0, u32::MAX - 1] {
            assert_eq!(
                buf.insert(sn, 0, Payload::Borrowed(b"z"), &mut pool),
                Insert::Stored
            );
        }
        assert_eq!(buf.next(), 1);
        assert!(buf.capacity_bytes() >= 3);
    }
}
