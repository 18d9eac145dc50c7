//! Chooses the sealed mode's AEAD implementation (see `src/sealed/aead.rs`): ring's assembly on
//! x86_64, RustCrypto's portable code elsewhere. A cfg of our own rather than `target_arch`
//! lets a build try the portable code on x86_64 (`RUSTFLAGS="--cfg kcp_portable_aead"`), which
//! is how the router targets' configuration is measured here.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(kcp_ring_aead, kcp_portable_aead)");
    println!("cargo::rerun-if-changed=build.rs");
    let x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "x86_64");
    let portable = std::env::var("CARGO_CFG_KCP_PORTABLE_AEAD").is_ok();
    if x86_64 && !portable {
        println!("cargo::rustc-cfg=kcp_ring_aead");
    }
}
