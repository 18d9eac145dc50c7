//! Compiling and running C (and C++) test programs against the libkcp this `cargo test` built.
//!
//! ```ignore
//! mod support;
//! let output = support::compile_and_run(&["tests/c/prog.c"], &support::Build::default(), &[]);
//! support::assert_success(&output, "prog");
//! ```
//!
//! Sources are paths relative to `ffi/`; `ffi/include` is on the include path. The compiler is
//! `$CC` (`$CXX` for C++), else `cc` (`c++`). The library is found next to the test executable
//! (`target/<profile>/libkcp.a`, `.so`), so debug and release runs each use their own build.
//! Executables go to a per-package scratch directory under `target/`.
//!
//! Sanitizers: [`Build::sanitize`] builds with `-fsanitize=address,undefined`; call
//! [`sanitizers`] first and skip when it returns `Err` (the message says what to install),
//! unless `KCP_FFI_REQUIRE_SANITIZERS=1` is set, in which case it panics instead (for CI).

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// How a test program links libkcp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// `libkcp.a`, plus the system libraries Rust's standard library needs.
    Static,
    /// `libkcp.so` (`.dylib` on macOS), found at run time through an rpath.
    Dynamic,
}

/// How to build a test program.
#[derive(Clone, Debug)]
pub struct Build {
    /// Static or dynamic linking.
    pub link: Link,
    /// Build with AddressSanitizer and UndefinedBehaviorSanitizer (see [`sanitizers`]).
    pub sanitize: bool,
    /// Compile as C++ with `$CXX` / `c++` instead of C.
    pub cpp: bool,
    /// Extra compiler flags, after the defaults (`-std=c11` or `-std=c++17`, `-Wall -Wextra
    /// -Werror -g -O1`); a later `-std=` wins.
    pub flags: Vec<String>,
}

impl Default for Build {
    fn default() -> Build {
        Build {
            link: Link::Static,
            sanitize: false,
            cpp: false,
            flags: Vec::new(),
        }
    }
}

impl Build {
    /// A suffix naming this variant, so that variants of one program do not overwrite each
    /// other when tests run in parallel.
    fn variant(&self) -> String {
        let mut name = String::from(match self.link {
            Link::Static => "static",
            Link::Dynamic => "dynamic",
        });
        if self.cpp {
            name.push_str("-cpp");
        }
        if self.sanitize {
            name.push_str("-san");
        }
        name
    }
}

/// The `ffi/` directory.
pub fn ffi_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the `libkcp` artifacts of this build: the test executable's `deps/`
/// directory, which `cargo test` refreshes, or else its parent. The parent's copies are only
/// refreshed by `cargo build`, so preferring them would test a stale library.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("test executable directory");
    let candidates = [
        Some(deps.to_path_buf()),
        deps.parent().map(Path::to_path_buf),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join(static_lib_name()).exists())
        .unwrap_or_else(|| {
            panic!(
                "no {} in {} or its parent directory; run the tests through cargo",
                static_lib_name(),
                deps.display()
            )
        })
}

fn static_lib_name() -> &'static str {
    if cfg!(windows) {
        "kcp.lib"
    } else {
        "libkcp.a"
    }
}

/// What Rust's standard library needs from the system when libkcp is linked statically
/// (`rustc --print native-static-libs`).
fn native_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm"]
    } else {
        &[
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
    }
}

const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

fn compiler(cpp: bool) -> String {
    let (var, default) = if cpp { ("CXX", "c++") } else { ("CC", "cc") };
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-tests");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

fn base_command(build: &Build) -> Command {
    let mut cmd = Command::new(compiler(build.cpp));
    cmd.arg(if build.cpp { "-std=c++17" } else { "-std=c11" })
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg("-I")
        .arg(ffi_dir().join("include"));
    if build.sanitize {
        cmd.args(SANITIZE);
    }
    cmd.args(&build.flags);
    cmd
}

fn run_compiler(mut cmd: Command, what: &str) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running the C compiler ({cmd:?}): {e}"));
    if !output.status.success() {
        panic!(
            "compiling {what} failed ({}):\n{cmd:?}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Compiles and links `sources` (relative to `ffi/`) against libkcp; returns the executable.
/// Panics with the compiler's output if that fails.
pub fn compile(sources: &[&str], build: &Build) -> PathBuf {
    let stem = Path::new(sources.first().expect("at least one source"))
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("source file name");
    let exe = scratch_dir().join(format!("{stem}-{}", build.variant()));
    let mut cmd = base_command(build);
    cmd.args(sources.iter().map(|s| ffi_dir().join(s)));
    cmd.arg("-o").arg(&exe);
    let lib = lib_dir();
    match build.link {
        Link::Static => {
            cmd.arg(lib.join(static_lib_name())).args(native_libs());
        }
        Link::Dynamic => {
            let mut rpath = std::ffi::OsString::from("-Wl,-rpath,");
            rpath.push(&lib);
            cmd.arg("-L").arg(&lib).arg("-lkcp").arg(rpath);
        }
    }
    run_compiler(cmd, &sources.join(" "));
    exe
}

/// Compiles `sources` without linking (`-fsyntax-only`): for header checks.
pub fn compile_only(sources: &[&str], build: &Build) {
    let mut cmd = base_command(build);
    cmd.arg("-fsyntax-only");
    cmd.args(sources.iter().map(|s| ffi_dir().join(s)));
    run_compiler(cmd, &sources.join(" "));
}

/// Runs a compiled program with `args`, sanitizer options set to fail loudly.
pub fn run(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=86",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()))
}

/// [`compile`], then [`run`].
pub fn compile_and_run(sources: &[&str], build: &Build, args: &[&str]) -> Output {
    run(&compile(sources, build), args)
}

/// Panics, showing the program's output, unless it exited with status 0.
pub fn assert_success(output: &Output, what: &str) {
    if !output.status.success() {
        panic!(
            "{what} failed ({}).\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Whether sanitizer builds work here: `Ok(())`, or `Err` with what to install. With
/// `KCP_FFI_REQUIRE_SANITIZERS=1` in the environment, panics instead of returning `Err`.
pub fn sanitizers() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = PROBE.get_or_init(probe_sanitizers).clone();
    if let Err(why) = &result {
        if std::env::var_os("KCP_FFI_REQUIRE_SANITIZERS").is_some_and(|v| v == "1") {
            panic!("KCP_FFI_REQUIRE_SANITIZERS=1 but sanitizers are unavailable: {why}");
        }
    }
    result
}

fn probe_sanitizers() -> Result<(), String> {
    let dir = scratch_dir();
    let source = dir.join("sanitizer-probe.c");
    let exe = dir.join("sanitizer-probe");
    std::fs::write(
        &source,
        "#include <stdlib.h>\nint main(void) { char *p = malloc(4); p[0] = 1; int r = p[0] - 1; \
         free(p); return r; }\n",
    )
    .map_err(|e| format!("writing the probe: {e}"))?;
    let install = "the C compiler's AddressSanitizer and UBSan runtimes are needed (Debian/Ubuntu \
                   with gcc 12: `apt-get install libasan8 libubsan1`; they come with gcc's \
                   default install)";
    let compiled = Command::new(compiler(false))
        .args(SANITIZE)
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .output()
        .map_err(|e| format!("cannot run the C compiler: {e}"))?;
    if !compiled.status.success() {
        return Err(format!(
            "{install}; the compiler said: {}",
            String::from_utf8_lossy(&compiled.stderr).trim()
        ));
    }
    let ran = run(&exe, &[]);
    if !ran.status.success() {
        return Err(format!(
            "{install}; a sanitized probe program failed to run: {}",
            String::from_utf8_lossy(&ran.stderr).trim()
        ));
    }
    Ok(())
}
