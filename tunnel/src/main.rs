//! The `kcp-tunnel` command.

fn main() {}
