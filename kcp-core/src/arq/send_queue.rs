//! Data the application has handed over but that has no sequence number yet.
//!
//! The bytes sit in one ring (no allocation per send once it has grown); message mode keeps
//! the boundaries beside them. Segments are cut when they move into the send buffer.

use std::collections::VecDeque;

/// A message waiting in the queue, possibly partly cut into segments already.
#[derive(Clone, Copy, Debug)]
struct QueuedMessage {
    /// Bytes of the message not yet cut.
    remaining: u32,
    /// Size of each fragment but the last, fixed when the message was queued.
    fragment_size: u32,
    /// Fragments not yet cut; the next one carries `frg = fragments_left - 1`.
    fragments_left: u32,
    /// Whether a fragment was cut already: its fragment numbering is then fixed.
    started: bool,
}

/// The send queue of one state machine.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    bytes: VecDeque<u8>,
    messages: VecDeque<QueuedMessage>,
    /// Segments the queued messages will become (message mode only).
    message_segments: u32,
}

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueRefusal {
    Full,
    TooManyFragments(u32),
}

impl SendQueue {
    /// Segments the queue holds at this segment size (`nsnd_que`).
    pub(crate) fn segments(&self, stream: bool, mss: u32) -> u32 {
        if stream {
            (self.bytes.len() as u64).div_ceil(u64::from(mss.max(1))) as u32
        } else {
            self.message_segments
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.messages.is_empty()
    }

    /// Queues stream bytes, as many as fit under `limit` segments; returns how many were taken.
    pub(crate) fn push_stream(&mut self, data: &[u8], mss: u32, limit: u32) -> usize {
        let capacity = (u64::from(limit) * u64::from(mss)).saturating_sub(self.bytes.len() as u64);
        let take = data
            .len()
            .min(usize::try_from(capacity).unwrap_or(usize::MAX));
        self.bytes.extend(&data[..take]);
        take
    }

    /// Queues one whole message, cut into `mss`-sized fragments, or refuses it.
    pub(crate) fn push_message(
        &mut self,
        data: &[u8],
        mss: u32,
        max_fragments: u32,
        limit: u32,
    ) -> Result<(), QueueRefusal> {
        let fragments = (data.len() as u64).div_ceil(u64::from(mss)).max(1);
        if fragments > u64::from(max_fragments) {
            return Err(QueueRefusal::TooManyFragments(
                u32::try_from(fragments).unwrap_or(u32::MAX),
            ));
        }
        let fragments = fragments as u32;
        if u64::from(self.message_segments) + u64::from(fragments) > u64::from(limit) {
            return Err(QueueRefusal::Full);
        }
        self.bytes.extend(data);
        self.messages.push_back(QueuedMessage {
            remaining: data.len() as u32,
            fragment_size: mss,
            fragments_left: fragments,
            started: false,
        });
        self.message_segments += fragments;
        Ok(())
    }

    /// Cuts the next segment into `out` (cleared first) and returns its `frg`, or `None` when
    /// the queue is empty.
    pub(crate) fn pop_segment(&mut self, stream: bool, mss: u32, out: &mut Vec<u8>) -> Option<u8> {
        let (len, frg) = if stream {
            if self.bytes.is_empty() {
                return None;
            }
            (self.bytes.len().min(mss as usize), 0)
        } else {
            let head = self.messages.front_mut()?;
            let len = head.remaining.min(head.fragment_size);
            head.remaining -= len;
            head.fragments_left -= 1;
            head.started = true;
            // A message has at most 255 fragments (push_message checked), so frg fits a byte.
            let frg = head.fragments_left as u8;
            if head.fragments_left == 0 {
                self.messages.pop_front();
            }
            self.message_segments -= 1;
            (len as usize, frg)
        };
        out.clear();
        out.extend(self.bytes.drain(..len));
        Some(frg)
    }

    /// Re-cuts messages not started yet to a new segment size, where the fragment limit allows.
    pub(crate) fn resize_messages(&mut self, mss: u32, max_fragments: u32) {
        let mut total = 0;
        for message in self.messages.iter_mut() {
            let fragments = message.remaining.div_ceil(mss).max(1);
            if !message.started && fragments <= max_fragments {
                message.fragment_size = mss;
                message.fragments_left = fragments;
            }
            total += message.fragments_left;
        }
        self.message_segments = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fragments_count_down_to_zero() {
        let mut queue = SendQueue::default();
        queue.push_message(&[7u8; 250], 100, 127, 100).unwrap();
        assert_eq!(queue.segments(false, 100), 3);
        let mut out = Vec::new();
        let cut: Vec<(u8, usize)> = std::iter::from_fn(|| {
            queue
                .pop_segment(false, 100, &mut out)
                .map(|frg| (frg, out.len()))
        })
        .collect();
        assert_eq!(cut, [(2, 100), (1, 100), (0, 50)]);
        assert!(queue.is_empty());
    }

    #[test]
    fn an_empty_message_is_one_empty_segment() {
        let mut queue = SendQueue::default();
        queue.push_message(&[], 100, 127, 100).unwrap();
        let mut out = vec![1];
        assert_eq!(queue.pop_segment(false, 100, &mut out), Some(0));
        assert!(out.is_empty());
        assert_eq!(queue.pop_segment(false, 100, &mut out), None);
    }

    #[test]
    fn stream_bytes_coalesce_into_full_segments() {
        let mut queue = SendQueue::default();
        assert_eq!(queue.push_stream(&[1; 30], 100, 10), 30);
        assert_eq!(queue.push_stream(&[2; 150], 100, 10), 150);
        assert_eq!(queue.segments(true, 100), 2);
        let mut out = Vec::new();
        assert_eq!(queue.pop_segment(true, 100, &mut out), Some(0));
        assert_eq!(out.len(), 100);
        assert_eq!(&out[28..32], &[1, 1, 2, 2]);
    }

    #[test]
    fn limits_refuse_or_truncate() {
        let mut queue = SendQueue::default();
        assert_eq!(
            queue.push_message(&[0; 1000], 10, 50, 1000),
            Err(QueueRefusal::TooManyFragments(100))
        );
        assert_eq!(
            queue.push_message(&[0; 30], 10, 50, 2),
            Err(QueueRefusal::Full)
        );
        assert!(queue.is_empty());
        assert_eq!(queue.push_stream(&[0; 50], 10, 2), 20);
    }

    #[test]
    fn resizing_recuts_unstarted_messages_only() {
        let mut queue = SendQueue::default();
        queue.push_message(&[0; 300], 100, 127, 100).unwrap();
        queue.push_message(&[0; 300], 100, 127, 100).unwrap();
        let mut out = Vec::new();
        queue.pop_segment(false, 100, &mut out);
        queue.resize_messages(50, 127);
        // The started message keeps its 2 remaining 100-byte fragments; the other becomes 6.
        assert_eq!(queue.segments(false, 50), 8);
    }
}
