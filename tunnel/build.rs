//! Link options for size-optimised builds of the `kcp-tunnel` binary.
//!
//! A position-independent executable carries a 24-byte relocation record for every pointer in
//! its data (about 40 KB here, mostly vtables and string tables). `-z pack-relative-relocs`
//! packs them into a bitmap (DT_RELR, about 1 KB) and keeps the binary position-independent,
//! so ASLR stays. glibc 2.36+ and musl 1.2.4+ load such binaries; an older glibc refuses them
//! with a clear "GLIBC_ABI_DT_RELR not found" error. Only size builds (`opt-level` "s"/"z",
//! the `router` profile) on Linux get it; linkers that predate the option ignore it with a
//! warning.
//!
//! With the toolchain's own linker (rust-lld, the default for x86_64-unknown-linux-gnu since
//! Rust 1.90) size builds also fold identical functions (`--icf=all`, about 11 KB: generic
//! code instantiated for types of the same layout). Rust code never compares function
//! addresses for identity, which is what makes folding safe. A configured linker
//! (`RUSTC_LINKER`) may be GNU ld, which has no such option, so it is left alone.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let size_build = std::env::var("OPT_LEVEL").is_ok_and(|level| level == "s" || level == "z");
    if linux && size_build {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        let rust_lld = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu")
            && std::env::var_os("RUSTC_LINKER").is_none();
        if rust_lld {
            println!("cargo::rustc-link-arg-bins=-Wl,--icf=all");
        }
    }
}
