//! Data the application has handed over but that has no sequence number yet, already cut into
//! segments. Each segment owns a buffer drawn from the [`BufferPool`]; moving it into the send
//! buffer moves the buffer, not the bytes, and acknowledged buffers go back to the pool, so
//! steady-state sending copies each byte once on the way in and allocates nothing.

use std::collections::VecDeque;

use super::pool::BufferPool;

/// A segment waiting for a sequence number.
#[derive(Debug)]
struct Queued {
    frg: u8,
    /// First fragment of its message (message mode): the message has not started moving.
    first: bool,
    data: Vec<u8>,
}

/// The send queue of one state machine.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    segments: VecDeque<Queued>,
}

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueRefusal {
    Full,
    TooManyFragments(u32),
}

impl SendQueue {
    /// Segments waiting (`nsnd_que`).
    pub(crate) fn segments(&self) -> u32 {
        self.segments.len() as u32
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Stream bytes [`SendQueue::push_stream`] would take now.
    pub(crate) fn stream_room(&self, mss: u32, limit: u32) -> usize {
        let mss = mss as usize;
        let top_up = self
            .segments
            .back()
            .map_or(0, |last| mss.saturating_sub(last.data.len()));
        top_up + (limit as usize).saturating_sub(self.segments.len()) * mss
    }

    /// Queues stream bytes: tops up the last segment to `mss`, then cuts new ones while fewer
    /// than `limit` are queued. Returns how many bytes were taken.
    pub(crate) fn push_stream(
        &mut self,
        mut data: &[u8],
        mss: u32,
        limit: u32,
        pool: &mut BufferPool,
    ) -> usize {
        let mss = mss as usize;
        let offered = data.len();
        if let Some(last) = self.segments.back_mut() {
            let take = mss.saturating_sub(last.data.len()).min(data.len());
            last.data.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        while !data.is_empty() && self.segments.len() < limit as usize {
            let take = mss.min(data.len());
            let mut buf = pool.take(mss);
            buf.extend_from_slice(&data[..take]);
            self.segments.push_back(Queued {
                frg: 0,
                first: true,
                data: buf,
            });
            data = &data[take..];
        }
        offered - data.len()
    }

    /// Queues one whole message, cut into `mss`-sized fragments, or refuses it.
    pub(crate) fn push_message(
        &mut self,
        data: &[u8],
        mss: u32,
        max_fragments: u32,
        limit: u32,
        pool: &mut BufferPool,
    ) -> Result<(), QueueRefusal> {
        let fragments = (data.len() as u64).div_ceil(u64::from(mss)).max(1);
        if fragments > u64::from(max_fragments) {
            return Err(QueueRefusal::TooManyFragments(
                u32::try_from(fragments).unwrap_or(u32::MAX),
            ));
        }
        if self.segments.len() as u64 + fragments > u64::from(limit) {
            return Err(QueueRefusal::Full);
        }
        self.push_fragments(data, mss, fragments as u32, pool);
        Ok(())
    }

    fn push_fragments(&mut self, data: &[u8], mss: u32, fragments: u32, pool: &mut BufferPool) {
        let mut chunks = data.chunks(mss as usize);
        for i in 0..fragments {
            let mut buf = pool.take(mss as usize);
            buf.extend_from_slice(chunks.next().unwrap_or_default());
            self.segments.push_back(Queued {
                // At most 255 fragments (max_fragments is a u8), so this fits.
                frg: (fragments - 1 - i) as u8,
                first: i == 0,
                data: buf,
            });
        }
    }

    /// Queues a buffer of at most one segment as a whole message, without copying it.
    pub(crate) fn push_whole(&mut self, data: Vec<u8>) {
        self.segments.push_back(Queued {
            frg: 0,
            first: true,
            data,
        });
    }

    /// Takes the next segment: its `frg` and its buffer.
    pub(crate) fn pop_segment(&mut self) -> Option<(u8, Vec<u8>)> {
        let queued = self.segments.pop_front()?;
        Some((queued.frg, queued.data))
    }

    /// Re-cuts queued data to a new segment size: all of it in stream mode; in message mode
    /// every message not started yet, where the fragment limit allows.
    pub(crate) fn recut(
        &mut self,
        stream: bool,
        mss: u32,
        max_fragments: u32,
        pool: &mut BufferPool,
    ) {
        let old: Vec<Queued> = self.segments.drain(..).collect();
        let mut message = Vec::new();
        let mut intact = false;
        for queued in old {
            if stream {
                self.push_stream(&queued.data, mss, u32::MAX, pool);
                pool.give(queued.data);
                continue;
            }
            if queued.first {
                message.clear();
                intact = true;
            }
            if !intact {
                // The tail of a message already under way keeps its cut.
                self.segments.push_back(queued);
                continue;
            }
            message.extend_from_slice(&queued.data);
            let last = queued.frg == 0;
            pool.give(queued.data);
            if last {
                let fragments = (message.len() as u64).div_ceil(u64::from(mss)).max(1);
                let fragments = fragments.min(u64::from(max_fragments)) as u32;
                let size = (message.len() as u32).div_ceil(fragments).max(mss);
                let message = std::mem::take(&mut message);
                self.push_fragments(&message, size, fragments, pool);
                intact = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut SendQueue) -> Vec<(u8, usize)> {
        std::iter::from_fn(|| queue.pop_segment().map(|(frg, d)| (frg, d.len()))).collect()
    }

    #[test]
    fn message_fragments_count_down_to_zero() {
        let (mut queue, mut pool) = (SendQueue::default(), BufferPool::default());
        queue
            .push_message(&[7u8; 250], 100, 127, 100, &mut pool)
            .unwrap();
        assert_eq!(queue.segments(), 3);
        assert_eq!(drain(&mut queue), [(2, 100), (1, 100), (0, 50)]);
        assert!(queue.is_empty());
    }

    #[test]
    fn an_empty_message_is_one_empty_segment() {
        let (mut queue, mut pool) = (SendQueue::default(), BufferPool::default());
        queue.push_message(&[], 100, 127, 100, &mut pool).unwrap();
        assert_eq!(drain(&mut queue), [(0, 0)]);
    }

    #[test]
    fn stream_bytes_coalesce_into_full_segments() {
        let (mut queue, mut pool) = (SendQueue::default(), BufferPool::default());
        assert_eq!(queue.push_stream(&[1; 30], 100, 10, &mut pool), 30);
        assert_eq!(queue.push_stream(&[2; 150], 100, 10, &mut pool), 150);
        assert_eq!(queue.segments(), 2);
        let (_, first) = queue.pop_segment().unwrap();
        assert_eq!(first.len(), 100);
        assert_eq!(&first[28..32], &[1, 1, 2, 2]);
    }

    #[test]
    fn limits_refuse_or_truncate() {
        let (mut queue, mut pool) = (SendQueue::default(), BufferPool::default());
        assert_eq!(
            queue.push_message(&[0; 1000], 10, 50, 1000, &mut pool),
            Err(QueueRefusal::TooManyFragments(100))
        );
        assert_eq!(
            queue.push_message(&[0; 30], 10, 50, 2, &mut pool),
            Err(QueueRefusal::Full)
        );
        assert!(queue.is_empty());
        assert_eq!(queue.stream_room(10, 2), 20);
        assert_eq!(queue.push_stream(&[0; 50], 10, 2, &mut pool), 20);
        assert_eq!(queue.stream_room(10, 2), 0);
    }

    #[test]
    fn recut_changes_unstarted_messages_only() {
        let (mut queue, mut pool) = (SendQueue::default(), BufferPool::default());
        queue
            .push_message(&[1; 300], 100, 127, 100, &mut pool)
            .unwrap();
        queue
            .push_message(&[2; 300], 100, 127, 100, &mut pool)
            .unwrap();
        queue.pop_segment();
        queue.recut(false, 50, 127, &mut pool);
        // The started message keeps its 2 remaining 100-byte fragments; the other becomes 6.
        assert_eq!(
            drain(&mut queue),
            [
                (1, 100),
                (0, 100),
                (5, 50),
                (4, 50),
                (3, 50),
                (2, 50),
                (1, 50),
                (0, 50)
            ]
        );
    }

    #[test]
    fn recut_in_stream_mode_repacks_every_byte() {
        let (mut queue, mut pool) = (SendQueue::default(), BufferPool::default());
        queue.push_stream(&[3; 250], 100, 10, &mut pool);
        queue.recut(true, 60, 127, &mut pool);
        assert_eq!(
            drain(&mut queue),
            [(0, 60), (0, 60), (0, 60), (0, 60), (0, 10)]
        );
    }
}
