//! A received message or stream chunk handed over in the buffer it arrived in.

use std::ops::Deref;

/// What [`Kcp::recv_buffer`](crate::Kcp::recv_buffer) returns: the bytes, in a buffer the
/// application now owns. A segment that arrived alone in a datagram handed over with
/// [`Kcp::handle_datagram_buffer`](crate::Kcp::handle_datagram_buffer) is the datagram itself,
/// its payload after the header; reading it costs no copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    buf: Vec<u8>,
    start: usize,
}

impl Received {
    pub(crate) fn new(buf: Vec<u8>, start: usize) -> Received {
        Received { buf, start }
    }

    /// The underlying buffer (header bytes included, if any), for
    /// [`Kcp::recycle_buffer`](crate::Kcp::recycle_buffer).
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes alone, in a vector of their own (moves them to the front if needed).
    pub fn into_vec(mut self) -> Vec<u8> {
        self.buf.drain(..self.start);
        self.buf
    }
}

impl Deref for Received {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl AsRef<[u8]> for Received {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq<[u8]> for Received {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Received {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derefs_to_the_payload_and_gives_the_buffer_back() {
        let received = Received::new(b"headerpayload".to_vec(), 6);
        assert_eq!(&*received, b"payload");
        assert_eq!(received.clone().into_vec(), b"payload");
        assert_eq!(received.into_buffer(), b"headerpayload");
    }
}
