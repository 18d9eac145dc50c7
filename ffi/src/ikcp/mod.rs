//! The `ikcp.h`-compatible API (work in progress).
