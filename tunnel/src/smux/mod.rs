//! smux, the stream multiplexer kcptun runs over each KCP session (versions 1 and 2).
//!
//! Frames are `ver | cmd | length u16 LE | stream id u32 LE` and a payload ([`frame`]).
//! Version 1 has no per-stream flow control: a reader that stops reading stops the whole
//! session (head-of-line blocking across streams). Version 2 adds `UPD` frames carrying how
//! much of a stream the reader consumed and its window, so one slow stream cannot block the
//! others. Both ends must use the same version; nothing negotiates it.
//!
//! [`Mux`] is one session, sans IO: bytes in, events and bytes out. Fair sharing of the link
//! between streams is the owner's job: it decides which stream fills the next frame (the
//! tunnel takes ready streams in turn, one frame each).
//!
//! Between two `kcp-tunnel`s (native mode) a sixth command, `RST` (5), carries a TCP reset;
//! kcptun peers get a `FIN` instead, which is all smux can say.

pub mod frame;
mod session;

pub use session::{Config, Event, Mux, MuxStats, SmuxError, StreamId, INITIAL_PEER_WINDOW};

#[cfg(test)]
mod tests;
