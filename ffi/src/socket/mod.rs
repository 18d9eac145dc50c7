//! The socket-level API over the mio driver (work in progress).
