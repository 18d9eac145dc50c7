//! kcp-tunnel against kcptun 20210922 (`kcptun-client`, `kcptun-server` in `PATH`): our
//! client with kcptun's server, and kcptun's client with our server, carrying TCP
//! connections both ways at once, every byte checked at both ends.
//!
//! * `matrix::*`: every combination of direction, `--crypt` none/aes/salsa20, FEC 10/3 or
//!   off, `--smuxver` 1 or 2 and compression on or off (48 tests), each with
//!   [`MATRIX_CONNS`] connections of [`MATRIX_SIZE`] bytes each way (with
//!   `KCP_TUNNEL_FULL_MATRIX=1`: [`BULK_CONNS`] of [`BULK_SIZE`], about a minute more here).
//! * `bulk::*`: a covering subset (every value of every option at least once per direction)
//!   with [`BULK_CONNS`] connections of [`BULK_SIZE`] bytes each way.
//!
//! Without kcptun the tests print "skipped: kcptun not installed" and pass, unless
//! `KCP_TUNNEL_REQUIRE_KCPTUN=1`. Run with `--nocapture` to see each case's throughput.

mod support;

use std::time::Duration;
use support::{
    free_tcp_port, free_udp_port, kcptun_available, localhost, seed_of, start_client, start_server,
    transfer, Behavior, Flags, Impl, Procs, Target,
};

/// Connections per matrix case.
const MATRIX_CONNS: usize = 2;
/// Bytes each way per connection in a matrix case.
const MATRIX_SIZE: u64 = 1 << 20;
/// Connections per bulk case.
const BULK_CONNS: usize = 3;
/// Bytes each way per connection in a bulk case.
const BULK_SIZE: u64 = 16 << 20;
/// Set to `1` to run the whole matrix at the bulk size.
const FULL_MATRIX_ENV: &str = "KCP_TUNNEL_FULL_MATRIX";
/// The time one case's transfer may take.
const DEADLINE: Duration = Duration::from_secs(120);

/// Which end is ours.
#[derive(Clone, Copy, Debug)]
enum Dir {
    /// `kcp-tunnel client` with `kcptun-server`.
    OurClient,
    /// `kcptun-client` with `kcp-tunnel server`.
    OurServer,
}

/// One case: a tunnel of one of ours and one of kcptun's with `flags`, `conns` connections
/// of `size` bytes each way through it.
fn run_case(name: &str, dir: Dir, flags: &Flags, conns: usize, size: u64) {
    if !kcptun_available() {
        return;
    }
    let mut procs = Procs::new(name);
    let target = Target::start(seed_of(name), Behavior::Stream);
    let udp = free_udp_port();
    let tcp = free_tcp_port();
    let (client, server) = match dir {
        Dir::OurClient => (Impl::Ours, Impl::Kcptun),
        Dir::OurServer => (Impl::Kcptun, Impl::Ours),
    };
    start_server(&mut procs, "server", server, udp, target.addr, flags);
    start_client(&mut procs, "client", client, tcp, localhost(udp), flags);
    let result = transfer(localhost(tcp), &target, conns, size, false, DEADLINE);
    let stats = procs.ok(result.map_err(|e| {
        format!(
            "{name}: {dir:?} with {}: transfer failed:\n{e}",
            flags.describe()
        )
    }));
    if let Err(e) = procs.check_alive() {
        procs.fail(&format!("{name}: after the transfer: {e}"));
    }
    eprintln!("{name}: {dir:?}, {}: {stats}", flags.describe());
}

/// The matrix: one test per combination, generated level by level (direction, crypt, FEC;
/// the last level writes the four smux/compression tests).
macro_rules! by_direction {
    ($($dir:ident: $value:expr;)*) => {$(
        #[allow(non_snake_case)]
        mod $dir {
            use super::*;
            by_crypt!($value; none: "none", aes: "aes", salsa20: "salsa20");
        }
    )*};
}

macro_rules! by_crypt {
    ($dir:expr; $($crypt:ident: $value:expr),*) => {$(
        mod $crypt {
            use super::*;
            by_fec!($dir, $value; fec: true, nofec: false);
        }
    )*};
}

macro_rules! by_fec {
    ($dir:expr, $crypt:expr; $($fec:ident: $value:expr),*) => {$(
        mod $fec {
            use super::*;
            cases!($dir, $crypt, $value;
                smux1_comp: 1, true;
                smux1_nocomp: 1, false;
                smux2_comp: 2, true;
                smux2_nocomp: 2, false;
            );
        }
    )*};
}

macro_rules! cases {
    ($dir:expr, $crypt:expr, $fec:expr; $($name:ident: $smux:expr, $comp:expr;)*) => {$(
        #[test]
        fn $name() {
            let name = concat!(module_path!(), "::", stringify!($name));
            let flags = Flags::compat($crypt, $fec, $smux, $comp);
            if std::env::var(FULL_MATRIX_ENV).is_ok_and(|v| v == "1") {
                run_case(name, $dir, &flags, BULK_CONNS, BULK_SIZE);
            } else {
                run_case(name, $dir, &flags, MATRIX_CONNS, MATRIX_SIZE);
            }
        }
    )*};
}

mod matrix {
    use super::*;
    by_direction! {
        our_client: Dir::OurClient;
        our_server: Dir::OurServer;
    }
}

/// The bulk cases: per direction every crypt once, and FEC, smux version and compression
/// each both ways among them; one test each, so they run in parallel.
macro_rules! bulk_cases {
    ($($name:ident: $dir:expr, $crypt:expr, $fec:expr, $smux:expr, $comp:expr;)*) => {$(
        #[test]
        fn $name() {
            let name = concat!("bulk::", stringify!($name));
            let flags = Flags::compat($crypt, $fec, $smux, $comp);
            run_case(name, $dir, &flags, BULK_CONNS, BULK_SIZE);
        }
    )*};
}

mod bulk {
    use super::*;
    bulk_cases! {
        our_client_none_fec_smux1_comp: Dir::OurClient, "none", true, 1, true;
        our_client_aes_nofec_smux2_nocomp: Dir::OurClient, "aes", false, 2, false;
        our_client_salsa20_fec_smux2_comp: Dir::OurClient, "salsa20", true, 2, true;
        our_server_none_nofec_smux2_comp: Dir::OurServer, "none", false, 2, true;
        our_server_aes_fec_smux1_comp: Dir::OurServer, "aes", true, 1, true;
        our_server_salsa20_nofec_smux1_nocomp: Dir::OurServer, "salsa20", false, 1, false;
    }
}
