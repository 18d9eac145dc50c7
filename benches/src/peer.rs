//! One interface over both implementations, so every experiment drives them with the same code.

use kcp_core::sim::Endpoint;
use kcp_core::Kcp;

use crate::reference::CKcp;

/// An application's view of a KCP peer: the sans-IO verbs plus send and receive.
pub trait Peer: Endpoint {
    /// Queues a message; false when refused.
    fn send_message(&mut self, data: &[u8]) -> bool;
    /// The next message, if one is complete.
    fn recv_message(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// Segments queued or unacknowledged.
    fn waiting(&self) -> usize;
}

impl Peer for Kcp {
    fn send_message(&mut self, data: &[u8]) -> bool {
        self.send(data).is_ok()
    }

    fn recv_message(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.recv(buf).ok()
    }

    fn waiting(&self) -> usize {
        self.wait_send() as usize
    }
}

impl Peer for CKcp {
    fn send_message(&mut self, data: &[u8]) -> bool {
        self.send(data) >= 0
    }

    fn recv_message(&mut self, buf: &mut [u8]) -> Option<usize> {
        usize::try_from(self.recv(buf)).ok()
    }

    fn waiting(&self) -> usize {
        self.waitsnd().max(0) as usize
    }
}
