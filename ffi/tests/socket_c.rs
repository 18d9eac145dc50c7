//! The socket API (`ffi/include/kcp.h`) from C: programs in `tests/c/socket_*.c` built with
//! the system C compiler against the libkcp this `cargo test` built, run over loopback, also
//! under AddressSanitizer (with LeakSanitizer) and UBSan when they are installed; the C
//! examples in `examples/c/` built with their Makefile and run as a server and a client; and
//! the pkg-config file `ffi/install.sh` installs.
//!
//! The programs wait for events with generous limits (20 s per wait) that only guard against
//! hangs: nothing here asserts timing.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{Build, Link};

/// The C tests are C99 with POSIX; the header must not need more.
fn build(link: Link, sanitize: bool) -> Build {
    Build {
        link,
        sanitize,
        cpp: false,
        flags: vec!["-std=c99".to_owned(), "-pedantic-errors".to_owned()],
    }
}

/// Each program is compiled once per variant (tests run in parallel and would otherwise
/// write the same executable at once).
fn program(source: &'static str, sanitize: bool) -> &'static Path {
    static CACHE: [[OnceLock<PathBuf>; 2]; 2] = [
        [OnceLock::new(), OnceLock::new()],
        [OnceLock::new(), OnceLock::new()],
    ];
    let index = match source {
        "tests/c/socket_loopback.c" => 0,
        "tests/c/socket_misuse.c" => 1,
        other => panic!("unknown program {other}"),
    };
    // Plain runs link the shared library (what most programs do), sanitized runs the archive.
    let link = if sanitize {
        Link::Static
    } else {
        Link::Dynamic
    };
    CACHE[index][usize::from(sanitize)]
        .get_or_init(|| support::compile(&[source], &build(link, sanitize)))
}

fn run(source: &'static str, args: &[&str], sanitize: bool) {
    let exe = program(source, sanitize);
    let output = support::run(exe, args);
    let what = format!(
        "{} {}{}",
        source,
        args.join(" "),
        if sanitize { " (sanitized)" } else { "" }
    );
    support::assert_success(&output, &what);
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

/// Whether to run the sanitized variants; says why not when they are skipped.
fn sanitizers() -> bool {
    match support::sanitizers() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

#[test]
fn loopback_sealed() {
    run("tests/c/socket_loopback.c", &["sealed"], false);
}

#[test]
fn loopback_sealed_stream() {
    run("tests/c/socket_loopback.c", &["stream"], false);
}

#[test]
fn loopback_legacy() {
    run("tests/c/socket_loopback.c", &["legacy"], false);
}

#[test]
fn misuse() {
    run("tests/c/socket_misuse.c", &[], false);
}

/// The same programs under ASan + LSan + UBSan: no invalid access, no leak (LeakSanitizer
/// checks at exit, so every socket the programs made must have been freed), no UB.
#[test]
fn loopback_and_misuse_sanitized() {
    if !sanitizers() {
        return;
    }
    for mode in ["sealed", "stream", "legacy"] {
        run("tests/c/socket_loopback.c", &[mode], true);
    }
    run("tests/c/socket_misuse.c", &[], true);
}

/// A C++ program links the C symbols through the header's `extern "C"` block.
#[test]
fn from_cpp() {
    let build = Build {
        link: Link::Dynamic,
        sanitize: false,
        cpp: true,
        flags: vec!["-std=c++11".to_owned(), "-pedantic-errors".to_owned()],
    };
    let output = support::compile_and_run(&["tests/c/socket_cpp.cpp"], &build, &[]);
    support::assert_success(&output, "socket_cpp.cpp");
}

// ----- the examples and the installation ------------------------------------------------

fn repo_root() -> &'static Path {
    support::ffi_dir().parent().expect("ffi/ has a parent")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("socket-c")
        .join(name);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `make` in `examples/c` with `vars`; panics with its output on failure.
fn make_examples(vars: &[String], env: &[(&str, &Path)]) {
    let mut cmd = Command::new("make");
    cmd.arg("-B")
        .arg("-C")
        .arg(repo_root().join("examples/c"))
        .args(vars);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().expect("run make");
    support::assert_success(&output, &format!("make {}", vars.join(" ")));
}

/// Kills a child process of this test (by its handle) if it is still running when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for a child to exit, failing the test after `limit` (a guard against hangs).
fn wait_exit(child: &mut Reaped, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for a child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_all(stream: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut stream) = stream {
        let _ = stream.read_to_string(&mut text);
    }
    text
}

/// The game example: its Makefile builds it against this build of libkcp, the server serves
/// one client, which exits after 30 of its inputs came back, and the server then exits too.
#[test]
fn examples_build_and_run() {
    if !have("make") {
        eprintln!("skipped: no `make` (Debian: apt-get install make)");
        return;
    }
    let out = scratch("examples");
    make_examples(
        &[
            format!("BUILD_DIR={}", out.display()),
            format!("KCP_LIB_DIR={}", support::lib_dir().display()),
            "CFLAGS=-O1 -g -Werror".to_owned(),
        ],
        &[],
    );

    let mut server = Reaped(
        Command::new(out.join("game_server"))
            .args(["--bind", "127.0.0.1:0", "--serve", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start game_server"),
    );
    let mut lines = BufReader::new(server.0.stdout.take().expect("server stdout"));
    let mut first = String::new();
    lines
        .read_line(&mut first)
        .expect("read the server's first line");
    let addr = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line from game_server: {first:?}"))
        .to_owned();

    let client = Command::new(out.join("game_client"))
        .args(["--server", &addr, "--rounds", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start game_client");
    let mut client = Reaped(client);
    let status = wait_exit(&mut client, Duration::from_secs(60), "game_client");
    let client_out = read_all(client.0.stdout.take());
    let client_err = read_all(client.0.stderr.take());
    assert!(
        status.success() && client_out.contains("done: 30 round trips"),
        "game_client failed ({status}):\n{client_out}\n{client_err}"
    );

    let status = wait_exit(&mut server, Duration::from_secs(30), "game_server");
    let mut server_out = first;
    let _ = lines.read_to_string(&mut server_out);
    let server_err = read_all(server.0.stderr.take());
    assert!(
        status.success()
            && server_out.contains("player 1 joined")
            && server_out.contains("player 1 left: closed by the peer")
            && server_out.contains("served 1 sessions"),
        "game_server failed ({status}):\n{server_out}\n{server_err}"
    );
    print!("{server_out}{client_out}");
}

/// `ffi/install.sh` installs the libraries, the headers and a `kcp.pc` that pkg-config reads
/// and whose flags build the examples (linked statically here, so they run without
/// `LD_LIBRARY_PATH`).
#[test]
fn install_and_pkg_config() {
    if !have("pkg-config") || !have("make") {
        eprintln!("skipped: needs pkg-config and make (Debian: apt-get install pkgconf make)");
        return;
    }
    let prefix = scratch("prefix");
    let output = Command::new("sh")
        .arg(support::ffi_dir().join("install.sh"))
        .arg("--prefix")
        .arg(&prefix)
        .arg("--from")
        .arg(support::lib_dir())
        .output()
        .expect("run install.sh");
    support::assert_success(&output, "ffi/install.sh");
    for file in [
        "lib/libkcp.so",
        "lib/libkcp.a",
        "include/kcp.h",
        "lib/pkgconfig/kcp.pc",
    ] {
        assert!(
            prefix.join(file).is_file(),
            "install.sh did not install {file}"
        );
    }

    let pc_path = prefix.join("lib/pkgconfig");
    let pkg_config = |args: &[&str]| {
        let output = Command::new("pkg-config")
            .args(args)
            .arg("kcp")
            .env("PKG_CONFIG_PATH", &pc_path)
            .output()
            .expect("run pkg-config");
        support::assert_success(&output, &format!("pkg-config {}", args.join(" ")));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(pkg_config(&["--modversion"]), env!("CARGO_PKG_VERSION"));
    let cflags = pkg_config(&["--cflags"]);
    assert!(
        cflags.contains(&format!("-I{}", prefix.join("include").display())),
        "{cflags}"
    );
    let libs = pkg_config(&["--libs"]);
    assert!(
        libs.contains(&format!("-L{}", prefix.join("lib").display())) && libs.contains("-lkcp"),
        "{libs}"
    );
    assert!(pkg_config(&["--libs", "--static"]).contains("-lpthread"));

    let out = scratch("examples-pkg-config");
    make_examples(
        &[
            format!("BUILD_DIR={}", out.display()),
            "USE_PKG_CONFIG=1".to_owned(),
            "STATIC=1".to_owned(),
            "CFLAGS=-O1 -Werror".to_owned(),
        ],
        &[("PKG_CONFIG_PATH", &pc_path)],
    );
    // It runs (and links libkcp statically): a bad flag gives the usage and status 2.
    let output = Command::new(out.join("game_client"))
        .arg("--no-such-flag")
        .output()
        .expect("run game_client");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));
}
