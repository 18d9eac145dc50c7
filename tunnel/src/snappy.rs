//! Snappy framing (placeholder).
