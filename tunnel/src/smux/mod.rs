//! smux framing (placeholder).
