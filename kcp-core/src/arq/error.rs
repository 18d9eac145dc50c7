//! The errors the state machine's verbs return.

use std::fmt;

use crate::wire::DecodeError;

/// Why [`Kcp::send`](crate::Kcp::send) refused data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The send queue holds [`Config::send_queue_limit`](crate::Config::send_queue_limit) segments
    /// already; try again once the peer has acknowledged some
    /// ([`Kcp::wait_send`](crate::Kcp::wait_send) falls).
    QueueFull,
    /// A message would need more fragments than
    /// [`Config::max_fragments`](crate::Config::max_fragments) allows.
    MessageTooLarge {
        /// Fragments the message would need.
        fragments: u32,
        /// The configured limit.
        max: u8,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::QueueFull => f.write_str("send queue is full"),
            SendError::MessageTooLarge { fragments, max } => write!(
                f,
                "message needs {fragments} fragments, more than the limit of {max}"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Why [`Kcp::recv`](crate::Kcp::recv) returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// No complete message (or, in stream mode, no byte) is ready.
    Empty,
    /// The next message is larger than the buffer; nothing was consumed.
    BufferTooSmall {
        /// Size of the next message.
        needed: usize,
    },
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("nothing to receive"),
            RecvError::BufferTooSmall { needed } => {
                write!(
                    f,
                    "receive buffer too small: next message is {needed} bytes"
                )
            }
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`Kcp::handle_datagram`](crate::Kcp::handle_datagram) dropped a whole datagram. The state
/// machine is unchanged and the drop is counted in [`Stats`](crate::Stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// A segment could not be decoded.
    Malformed(DecodeError),
    /// A segment belongs to another conversation.
    WrongConversation {
        /// This machine's conversation id.
        expected: u32,
        /// The id in the datagram.
        found: u32,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Malformed(e) => write!(f, "malformed datagram: {e}"),
            InputError::WrongConversation { expected, found } => write!(
                f,
                "datagram for conversation {found}, this is conversation {expected}"
            ),
        }
    }
}

impl std::error::Error for InputError {}
