//! The committed C headers (`ffi/include/ikcp.h`, `ffi/include/kcp.h`) are what cbindgen
//! generates from the sources today, and they compile as C and as C++.
//!
//! After changing an `extern "C"` item or its documentation, regenerate them with
//! `KCP_FFI_BLESS=1 cargo test -p kcp-ffi --test headers` and commit the result.

mod support;

use std::fs;
use std::path::Path;

/// A header, the cbindgen configuration it comes from, and the module file it is generated
/// from (cbindgen follows that file's `mod` declarations, and nothing else).
struct Header {
    path: &'static str,
    config: &'static str,
    source: &'static str,
}

const IKCP_H: Header = Header {
    path: "include/ikcp.h",
    config: "cbindgen-ikcp.toml",
    source: "src/ikcp/mod.rs",
};

const KCP_H: Header = Header {
    path: "include/kcp.h",
    config: "cbindgen-kcp.toml",
    source: "src/socket/mod.rs",
};

fn generate(header: &Header) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join(header.config))
        .unwrap_or_else(|e| panic!("reading {}: {e}", header.config));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join(header.source))
        .generate()
        .unwrap_or_else(|e| panic!("generating {} from {}: {e}", header.path, header.source));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

fn check(header: &Header) {
    let generated = generate(header);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(header.path);
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed == generated {
        return;
    }
    if std::env::var_os("KCP_FFI_BLESS").is_some_and(|v| v == "1") {
        fs::write(&path, &generated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("rewrote {}", path.display());
        return;
    }
    let line = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    panic!(
        "ffi/{} is stale: it differs from what cbindgen generates from ffi/{} (first \
         difference at line {}).\n  committed: {:?}\n  generated: {:?}\nRegenerate it with \
         `KCP_FFI_BLESS=1 cargo test -p kcp-ffi --test headers` and commit the result.",
        header.path,
        header.source,
        line + 1,
        committed.lines().nth(line).unwrap_or("<end of file>"),
        generated.lines().nth(line).unwrap_or("<end of file>"),
    );
}

#[test]
fn ikcp_h_is_current() {
    check(&IKCP_H);
}

#[test]
fn kcp_h_is_current() {
    check(&KCP_H);
}

/// Both headers compile, each twice (include guards) and together, as strict C99 and as
/// C++, without warnings.
#[test]
fn headers_compile_as_c_and_cpp() {
    // One source, compiled by the C++ compiler as C++ (`-x c++`) the second time.
    for (cpp, language) in [
        (false, &["-std=c99"][..]),
        (true, &["-x", "c++", "-std=c++11"]),
    ] {
        let mut flags: Vec<String> = language.iter().map(|f| f.to_string()).collect();
        flags.push("-pedantic-errors".to_owned());
        let build = support::Build {
            cpp,
            flags,
            ..support::Build::default()
        };
        support::compile_only(&["tests/c/ikcp_headers.c"], &build);
    }
}
