//! C programs against the `ikcp.h` API, compiled with the system C compiler and linked against
//! the libkcp this run built (`tests/c/ikcp_*.c`):
//!
//! * `ikcp_basic.c` — the API as the reference documents it, callbacks that re-enter, a handle
//!   released from its own callback, logging, eager mode;
//! * `ikcp_misuse.c` — NULL everywhere, bad lengths and settings, garbage datagrams;
//! * `ikcp_latency.c` — the reference latency experiment (`test.cpp`) in virtual time.
//!
//! Each runs linked statically, the first also dynamically, and all of them again under
//! AddressSanitizer and UBSan when the compiler supports it (otherwise those tests say why
//! and pass; `KCP_FFI_REQUIRE_SANITIZERS=1` makes that a failure).

mod support;

use support::{Build, Link};

fn run_checks(source: &str, build: &Build) {
    let output = support::compile_and_run(&[source], build, &[]);
    support::assert_success(&output, source);
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

fn sanitized() -> Option<Build> {
    match support::sanitizers() {
        Ok(()) => Some(Build {
            sanitize: true,
            ..Build::default()
        }),
        Err(why) => {
            eprintln!("skipped: sanitizer build unavailable: {why}");
            None
        }
    }
}

#[test]
fn basic_static() {
    run_checks("tests/c/ikcp_basic.c", &Build::default());
}

#[test]
fn basic_dynamic() {
    let build = Build {
        link: Link::Dynamic,
        ..Build::default()
    };
    run_checks("tests/c/ikcp_basic.c", &build);
}

#[test]
fn basic_sanitized() {
    if let Some(build) = sanitized() {
        run_checks("tests/c/ikcp_basic.c", &build);
    }
}

#[test]
fn misuse_static() {
    run_checks("tests/c/ikcp_misuse.c", &Build::default());
}

#[test]
fn misuse_sanitized() {
    if let Some(build) = sanitized() {
        run_checks("tests/c/ikcp_misuse.c", &build);
    }
}

/// One line of the latency program's output.
#[derive(Debug)]
struct Row {
    mode: String,
    avg: u32,
    max: u32,
}

fn parse(stdout: &str) -> Vec<Row> {
    let field = |line: &str, key: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("RESULT "))
        .map(|line| Row {
            mode: line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
            avg: field(line, "avgrtt="),
            max: field(line, "maxrtt="),
        })
        .collect()
}

fn latency(build: &Build, seeds: &str) -> Vec<Row> {
    let output = support::compile_and_run(&["tests/c/ikcp_latency.c"], build, &[seeds]);
    support::assert_success(&output, "ikcp_latency");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    parse(&stdout)
}

/// The reference experiment: every echo comes back in order (the program checks), and the
/// modes rank as the reference's do. For comparison, the reference's published figures
/// (test.cpp, from an older ikcp.c): default 740/1507 ms, normal 156/571, fast 138/392
/// (average/worst RTT); today's ikcp.c gives the same figures as this library in this
/// simulation, seed for seed.
#[test]
fn latency_experiment() {
    let seeds = std::env::var("KCP_LATENCY_SEEDS").unwrap_or_else(|_| "3".to_owned());
    let rows = latency(&Build::default(), &seeds);
    let mode = |name: &str| {
        rows.iter()
            .find(|r| r.mode == name)
            .unwrap_or_else(|| panic!("no {name} mode in the output"))
    };
    let (default, normal, fast, eager) = (
        mode("default"),
        mode("normal"),
        mode("fast"),
        mode("fast-eager"),
    );
    for row in [default, normal, fast, eager] {
        // The link's round trip alone is 60..125 ms.
        assert!(row.avg >= 60 && row.max >= row.avg, "{row:?}");
    }
    assert!(
        fast.avg < normal.avg && normal.avg < default.avg,
        "{rows:?}"
    );
    assert!(
        fast.avg < 200 && fast.max < 1000,
        "fast mode too slow: {fast:?}"
    );
    assert!(
        eager.avg <= fast.avg,
        "eager flushing slower than the tick: {rows:?}"
    );
}

#[test]
fn latency_experiment_sanitized() {
    if let Some(build) = sanitized() {
        latency(&build, "1");
    }
}
