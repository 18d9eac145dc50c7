//! kcp-tunnel against itself, end to end through real processes and sockets: bulk transfers
//! in the sealed native mode, a server restart, a NAT rebinding mid-transfer, half-close and
//! reset.
//!
//! Run with `--nocapture` to see the figures the tests print (throughput, how long a redial
//! took, what the kcptun-compatible mode does where it is only reported).

mod support;

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};
use support::{
    connect_retry, free_tcp_port, free_udp_port, localhost, read_outcome, seed_of, start_client,
    start_server, transfer, transfer_until_ok, Behavior, Flags, Impl, Procs, Target, UdpRelay,
};

/// Connections per bulk transfer.
const CONNS: usize = 3;
/// Bytes each way per connection.
const SIZE: u64 = 16 << 20;
/// The time one transfer may take.
const DEADLINE: Duration = Duration::from_secs(120);

/// A server (UDP `udp`) and a client dialling `remote` (the server, or a relay in front of
/// it); returns the client's TCP address.
fn tunnel(
    procs: &mut Procs,
    flags: &Flags,
    target: &Target,
    udp: u16,
    remote: SocketAddr,
) -> SocketAddr {
    let tcp = free_tcp_port();
    start_server(procs, "server", Impl::Ours, udp, target.addr, flags);
    start_client(procs, "client", Impl::Ours, tcp, remote, flags);
    localhost(tcp)
}

fn bulk(name: &str, smuxver: u32, comp: bool) {
    let flags = Flags::native(smuxver, comp);
    let mut procs = Procs::new(name);
    let target = Target::start(seed_of(name), Behavior::Stream);
    let udp = free_udp_port();
    let addr = tunnel(&mut procs, &flags, &target, udp, localhost(udp));
    let result = transfer(addr, &target, CONNS, SIZE, false, DEADLINE);
    let stats = procs.ok(result.map_err(|e| format!("{name}: {}: {e}", flags.describe())));
    if let Err(e) = procs.check_alive() {
        procs.fail(&format!("{name}: after the transfer: {e}"));
    }
    eprintln!("{name}: {}: {stats}", flags.describe());
}

#[test]
fn bulk_smux1_comp() {
    bulk("bulk_smux1_comp", 1, true);
}

#[test]
fn bulk_smux1_nocomp() {
    bulk("bulk_smux1_nocomp", 1, false);
}

#[test]
fn bulk_smux2_comp() {
    bulk("bulk_smux2_comp", 2, true);
}

#[test]
fn bulk_smux2_nocomp() {
    bulk("bulk_smux2_nocomp", 2, false);
}

/// The server is killed (SIGKILL) and a new one started on the same port: new connections
/// through the same client must work again once it has noticed and redialled.
#[test]
fn server_restart() {
    let name = "server_restart";
    let flags = Flags::native(2, true);
    let mut procs = Procs::new(name);
    let target = Target::start(seed_of(name), Behavior::Stream);
    let udp = free_udp_port();
    let addr = tunnel(&mut procs, &flags, &target, udp, localhost(udp));
    let result = transfer(addr, &target, 2, 1 << 20, false, DEADLINE);
    procs.ok(result.map_err(|e| format!("before the restart: {e}")));

    procs.kill("server");
    let killed = Instant::now();
    start_server(&mut procs, "server", Impl::Ours, udp, target.addr, &flags);
    let result = transfer_until_ok(
        addr,
        &target,
        2,
        1 << 20,
        Duration::from_secs(10),
        Duration::from_secs(60),
    );
    let (took, tries) = procs.ok(result.map_err(|e| format!("after the restart: {e}")));
    eprintln!(
        "{name}: a transfer worked again {:.2?} after the kill ({tries} tries, {took:.2?} from the first)",
        killed.elapsed()
    );
    // The client gives up on a session that has data in flight and hears nothing for 5 s,
    // then redials: well under the transport's 30 s idle timeout.
    if took > Duration::from_secs(15) {
        procs.fail(&format!(
            "{name}: the client took {took:.2?} (more than 15 s: 5 s of silence with data in flight, a redial and a retry) to work again after the server restarted"
        ));
    }
}

/// A transfer in flight while the relay between client and server moves its server-facing
/// side to new ports (the server sees the client's address change twice). Returns the
/// transfer's outcome and how many times the relay moved while the transfer was running.
fn rebinding_transfer(
    name: &str,
    relay: &UdpRelay,
    addr: SocketAddr,
    target: &Target,
    conns: usize,
    size: u64,
    deadline: Duration,
) -> (Result<support::TransferStats, String>, usize) {
    // The payload, both directions and all connections (the relay also counts headers and
    // acknowledgements, so the moves come a little earlier than a quarter and a half).
    let total = 2 * conns as u64 * size;
    let (base_up, base_down) = relay.relayed();
    let mut moved_in_flight = 0;
    let result = thread::scope(|s| {
        let job = s.spawn(|| transfer(addr, target, conns, size, false, deadline));
        for fraction in [4, 2] {
            while !job.is_finished() {
                let (up, down) = relay.relayed();
                if (up - base_up + down - base_down) * fraction >= total {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            if job.is_finished() {
                break;
            }
            let (up, down) = relay.relayed();
            let to = relay.rebind();
            moved_in_flight += 1;
            eprintln!(
                "{name}: relay moved to {to} after {} MB relayed",
                (up - base_up + down - base_down) / 1_000_000
            );
        }
        job.join().expect("transfer thread")
    });
    (result, moved_in_flight)
}

/// NAT rebinding in the native mode: the sessions are found by id, so the transfer in flight
/// survives its client's address changing.
#[test]
fn nat_rebinding_native() {
    let name = "nat_rebinding_native";
    let flags = Flags::native(2, false);
    let mut procs = Procs::new(name);
    let size = 16 << 20;
    let target = Target::start(seed_of(name), Behavior::Stream);
    let udp = free_udp_port();
    let relay = UdpRelay::start(localhost(udp));
    let addr = tunnel(&mut procs, &flags, &target, udp, relay.addr);
    let (result, moved) = rebinding_transfer(name, &relay, addr, &target, 2, size, DEADLINE);
    let stats = procs.ok(result.map_err(|e| format!("{name}: the transfer in flight: {e}")));
    eprintln!("{name}: {stats}, relay moved {moved} times in flight");
    if moved == 0 {
        procs.fail(&format!(
            "{name}: the transfer ended before the relay moved; the test proved nothing"
        ));
    }
    let migrations = procs.log_count("server", "moved to");
    eprintln!("{name}: the server logged {migrations} migrations");
    if migrations == 0 {
        procs.fail(&format!("{name}: the server logged no migration"));
    }
    // And a new connection after the moves.
    let result = transfer(addr, &target, 1, 1 << 20, false, DEADLINE);
    procs.ok(result.map_err(|e| format!("{name}: after the moves: {e}")));
}

/// The same between two kcp-tunnels in the kcptun-compatible mode (`--crypt aes`), where the
/// server finds sessions by address. What happens to the transfer in flight is only reported;
/// a new connection must work once the client has redialled.
#[test]
fn nat_rebinding_aes_report() {
    let name = "nat_rebinding_aes_report";
    let flags = Flags::compat("aes", true, 2, false);
    let mut procs = Procs::new(name);
    let size = 16 << 20;
    let target = Target::start(seed_of(name), Behavior::Stream);
    let udp = free_udp_port();
    let relay = UdpRelay::start(localhost(udp));
    let addr = tunnel(&mut procs, &flags, &target, udp, relay.addr);
    let started = Instant::now();
    let (result, moved) = rebinding_transfer(
        name,
        &relay,
        addr,
        &target,
        2,
        size,
        Duration::from_secs(60),
    );
    match &result {
        Ok(stats) => eprintln!("{name}: REPORT: the transfer in flight survived: {stats}"),
        Err(e) => eprintln!(
            "{name}: REPORT: the transfer in flight failed after {:.2?}: {}",
            started.elapsed(),
            e.lines().next().unwrap_or("")
        ),
    }
    eprintln!("{name}: REPORT: relay moved {moved} times in flight");
    let result = transfer_until_ok(
        addr,
        &target,
        1,
        256 << 10,
        Duration::from_secs(10),
        Duration::from_secs(90),
    );
    let (took, tries) = procs.ok(result.map_err(|e| format!("{name}: after the moves: {e}")));
    eprintln!(
        "{name}: REPORT: a new connection worked {took:.2?} after the in-flight transfer ended ({tries} tries)"
    );
    eprintln!(
        "{name}: REPORT: client log: {} sessions established, server log: {} sessions accepted",
        procs.log_count("client", "established"),
        procs.log_count("server", " from 127.0.0.1")
    );
}

/// Half-close, carried in the native mode: the client sends a request and shuts its write
/// side; the target reads to EOF, then answers and closes; the whole answer must arrive.
#[test]
fn half_close_native() {
    let name = "half_close_native";
    let flags = Flags::native(2, true);
    let mut procs = Procs::new(name);
    let size = 4 << 20;
    let target = Target::start(seed_of(name), Behavior::HalfClose);
    let udp = free_udp_port();
    let addr = tunnel(&mut procs, &flags, &target, udp, localhost(udp));
    let result = transfer(addr, &target, 2, size, true, DEADLINE);
    let stats = procs.ok(result.map_err(|e| format!("{name}: {e}")));
    eprintln!("{name}: {stats}");
}

/// The same in the kcptun-compatible mode between two kcp-tunnels (kcptun itself closes a
/// stream when either direction ends); only reported.
#[test]
fn half_close_aes_report() {
    let name = "half_close_aes_report";
    let flags = Flags::compat("aes", false, 2, false);
    let mut procs = Procs::new(name);
    let size = 1 << 20;
    let target = Target::start(seed_of(name), Behavior::HalfClose);
    let udp = free_udp_port();
    let addr = tunnel(&mut procs, &flags, &target, udp, localhost(udp));
    match transfer(addr, &target, 1, size, true, Duration::from_secs(30)) {
        Ok(stats) => eprintln!("{name}: REPORT: half-close carried: {stats}"),
        Err(e) => eprintln!("{name}: REPORT: half-close not carried: {e}"),
    }
}

/// What the application sees when the target resets its connection at once.
fn reset_outcome(name: &str, flags: &Flags) -> Result<String, String> {
    let mut procs = Procs::new(name);
    let target = Target::start(seed_of(name), Behavior::Reset);
    let udp = free_udp_port();
    let addr = tunnel(&mut procs, flags, &target, udp, localhost(udp));
    let mut stream = procs.ok(connect_retry(addr, Duration::from_secs(10)));
    let wrote = stream.write_all(b"hello");
    let start = Instant::now();
    let outcome = match read_outcome(&mut stream, Duration::from_secs(20)) {
        Ok(0) => Ok("EOF".to_string()),
        Ok(n) => Err(format!("{n} bytes, then EOF")),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok("reset".to_string()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err("neither EOF nor reset within 20 s".to_string())
        }
        Err(e) => Err(format!("error {e} ({:?})", e.kind())),
    };
    let outcome = outcome.map(|o| {
        format!(
            "{o} after {:.2?} (write: {wrote:?}, target accepted {})",
            start.elapsed(),
            target.accepted()
        )
    });
    if outcome.is_err() {
        eprintln!("{}", procs.logs(30));
    }
    outcome
}

/// A target that resets the connection: the client's TCP connection sees a reset (or at
/// least EOF), and soon.
#[test]
fn reset_native() {
    let name = "reset_native";
    match reset_outcome(name, &Flags::native(2, true)) {
        Ok(o) => eprintln!("{name}: the client saw {o}"),
        Err(e) => panic!("{name}: the client saw {e}"),
    }
}

/// The same in the kcptun-compatible mode (no reset frame in kcptun's smux); only reported.
#[test]
fn reset_aes_report() {
    let name = "reset_aes_report";
    match reset_outcome(name, &Flags::compat("aes", false, 2, true)) {
        Ok(o) => eprintln!("{name}: REPORT: the client saw {o}"),
        Err(e) => eprintln!("{name}: REPORT: the client saw {e}"),
    }
}
