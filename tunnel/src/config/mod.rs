//! The command line and configuration files, checked into plain configuration.
//!
//! `kcp-tunnel client` and `kcp-tunnel server` take kcptun 20210922's flags, with its names
//! and defaults, written with one dash or two (Go's flag package accepts both, and kcptun
//! users write `-key x -crypt aes -mode fast3 -ds 10 -ps 3 -nocomp`), and its `-c file.json`
//! (see the `json` module for how keys apply). [`parse`] checks every value and returns a
//! [`Command`] of plain structs; no clap type leaves this module.
//!
//! Where this differs from kcptun:
//!
//! - `-crypt` defaults to `sealed`, this project's authenticated mode, which only another
//!   kcp-tunnel understands. kcptun's `aes`, `aes-128`, `aes-192`, `salsa20`, `xor` and `none`
//!   talk to kcptun. Its `blowfish`, `twofish`, `cast5`, `3des`, `tea`, `xtea` and `sm4` are
//!   refused, and so is an unknown name (kcptun quietly uses `aes` instead).
//! - Out-of-range values are errors that name the flag (kcptun and kcp-go often ignore,
//!   clamp or wrap them); `-tcp` (fake TCP) is refused.
//! - The sealed mode refuses kcptun's well-known default key.
//! - `:port` listens on every IPv4 interface (`0.0.0.0`); Go listens dual-stack. Write
//!   `[::]:port` for IPv6.
//! - Addresses are resolved once, here (kcptun resolves the server on every dial).
//! - Warnings (unknown JSON keys, an unknown `-mode`, `-pprof`, half-disabled FEC) are
//!   returned in [`Common::warnings`], for the caller to log once its logger is set up (which
//!   itself depends on `-log`).

mod cli;
mod json;

use clap::{CommandFactory, FromArgMatches};
use kcp_core::crypto::{self, CipherKind};
use kcp_core::endpoint::EndpointConfig;
use kcp_core::fec::{self, NativeConfig};
use kcp_core::legacy::LegacyConfig;
use kcp_core::net::SocketConfig;
use kcp_core::sealed::keys::Key;
use kcp_core::sealed::packet;
use kcp_core::session::{FecMode, Protection, SessionConfig, KCP_GO_MAX_MTU};
use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use cli::{BenchArgs, Cli, CliCommand, ClientArgs, CommonArgs, ServerArgs, DEFAULT_KEY};

/// smux's keepalive timeout, fixed in kcptun 20210922: a session that received nothing for
/// this long is closed. `--keepalive` may not exceed it.
pub const SMUX_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable kcptun reads the key from when `--key` is not given.
pub const KEY_ENV: &str = "KCPTUN_KEY";

/// What to run, fully checked.
#[derive(Clone, Debug)]
pub enum Command {
    /// `kcp-tunnel client`: accept TCP connections and carry them to a server.
    Client(ClientConfig),
    /// `kcp-tunnel server`: accept sessions and connect their streams to the target.
    Server(ServerConfig),
    /// `kcp-tunnel bench`: both ends and their traffic in one process.
    Bench(BenchConfig),
}

/// The self-test's settings.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The tunnel's settings, for both ends.
    pub common: Common,
    /// How long the traffic runs.
    pub duration: Duration,
    /// Concurrent TCP connections.
    pub streams: usize,
}

/// The key `bench` uses when none is given (its traffic never leaves the machine).
pub const BENCH_KEY: &str = "kcp-tunnel bench";

/// The packet protection of the tunnel's sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crypt {
    /// This project's authenticated mode (`-crypt sealed`, the default): a handshake and AEAD
    /// packets under a key from the passphrase. Only another kcp-tunnel understands it.
    Sealed,
    /// kcptun's framing and one of its ciphers (not authenticated; see
    /// [`kcp_core::crypto`]).
    Legacy(CipherKind),
}

impl Crypt {
    /// The `-crypt` name.
    pub fn name(self) -> &'static str {
        match self {
            Crypt::Sealed => "sealed",
            Crypt::Legacy(kind) => kind.name(),
        }
    }
}

impl fmt::Display for Crypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// smux's settings (kcptun's `-smuxver`, `-smuxbuf`, `-streambuf`, `-keepalive`), already
/// checked the way smux's `VerifyConfig` does. The keepalive timeout is
/// [`SMUX_KEEPALIVE_TIMEOUT`]; the largest frame is smux's default, 32768.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmuxSettings {
    /// Protocol version, 1 or 2; both ends must use the same.
    pub version: u8,
    /// Bytes a whole session may hold unread (`MaxReceiveBuffer`).
    pub max_receive_buffer: usize,
    /// Bytes one stream may hold unread, v2's per-stream window (`MaxStreamBuffer`); at most
    /// `max_receive_buffer`.
    pub max_stream_buffer: usize,
    /// Interval between NOP heartbeats; at most [`SMUX_KEEPALIVE_TIMEOUT`].
    pub keepalive: Duration,
}

/// Settings client and server share. Its `Debug` output leaves the key out.
#[derive(Clone)]
pub struct Common {
    /// The pre-shared secret (`-key`, else `KCPTUN_KEY`, else kcptun's default, which the
    /// sealed mode refuses).
    pub key: String,
    /// The packet protection (`-crypt`).
    pub crypt: Crypt,
    /// `-mode` as given, for the logs.
    pub mode: String,
    /// The ARQ: the mode's nodelay/interval/resend/nc (the hidden flags for `manual` or an
    /// unknown mode), `mtu` = the datagram MTU as given, the windows, stream mode on.
    pub arq: kcp_core::Config,
    /// Reed-Solomon data shards (`-datashard`); FEC is on when both counts are above 0.
    pub data_shards: usize,
    /// Reed-Solomon parity shards (`-parityshard`).
    pub parity_shards: usize,
    /// DSCP code point of the UDP packets, 0..=63.
    pub dscp: u8,
    /// Snappy compression off (`-nocomp`); must match the peer.
    pub nocomp: bool,
    /// Acknowledge at once instead of once per interval (`-acknodelay`).
    pub acknodelay: bool,
    /// UDP socket send and receive buffers, in bytes (`-sockbuf`).
    pub sockbuf: usize,
    /// smux's settings.
    pub smux: SmuxSettings,
    /// SNMP CSV log path, with Go time layout (`-snmplog`); `None` when empty.
    pub snmplog: Option<String>,
    /// Period of the SNMP log (`-snmpperiod`); at least a second when `snmplog` is set.
    pub snmpperiod: Duration,
    /// Log file (`-log`); `None`: stderr.
    pub log: Option<PathBuf>,
    /// Do not log stream open and close (`-quiet`).
    pub quiet: bool,
    /// Things worth a `log::warn!` once logging is set up, one line each.
    pub warnings: Vec<String>,
}

impl fmt::Debug for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("crypt", &self.crypt)
            .field("mode", &self.mode)
            .field("arq", &self.arq)
            .field("data_shards", &self.data_shards)
            .field("parity_shards", &self.parity_shards)
            .field("dscp", &self.dscp)
            .field("nocomp", &self.nocomp)
            .field("acknodelay", &self.acknodelay)
            .field("sockbuf", &self.sockbuf)
            .field("smux", &self.smux)
            .field("snmplog", &self.snmplog)
            .field("snmpperiod", &self.snmpperiod)
            .field("log", &self.log)
            .field("quiet", &self.quiet)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// `kcp-tunnel client`.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Shared settings.
    pub common: Common,
    /// Where to accept TCP connections (`-localaddr`).
    pub listen: SocketAddr,
    /// The server, resolved (`-remoteaddr`).
    pub remote: SocketAddr,
    /// `-remoteaddr` as given, for the logs.
    pub remote_name: String,
    /// KCP sessions to keep; streams go to them round-robin (`-conn`), 1..=65535.
    pub conn: usize,
    /// Age after which a session takes no new streams (`-autoexpire`); zero: never.
    pub autoexpire: Duration,
    /// How long an expired session may still carry its streams (`-scavengettl`).
    pub scavengettl: Duration,
}

/// `kcp-tunnel server`.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Shared settings.
    pub common: Common,
    /// The UDP address to listen on (`-listen`).
    pub listen: SocketAddr,
    /// Where each stream is connected (`-target`).
    pub target: Target,
}

/// The server's `-target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `host:port`, as given; resolved when dialling.
    Tcp(String),
    /// Anything that is not `host:port` (by Go's `net.SplitHostPort`) is a unix socket path,
    /// as in kcptun.
    Unix(PathBuf),
}

/// Why the command line or configuration was refused.
#[derive(Debug)]
pub enum ConfigError {
    /// clap's own verdict: an unknown flag, a missing or unparsable value, or a request for
    /// `--help` or `--version`. Print it with [`clap::Error::exit`] (or [`ConfigError::exit`]),
    /// which also picks the exit code.
    Cli(clap::Error),
    /// A value that is not acceptable; the message is one line and names the flag (or the
    /// JSON file and key).
    Invalid(String),
}

impl ConfigError {
    /// Prints the error (or the help or version asked for) and exits: clap's errors the way
    /// clap does, others as `error: <message>` with status 2.
    pub fn exit(&self) -> ! {
        match self {
            ConfigError::Cli(e) => e.exit(),
            ConfigError::Invalid(message) => {
                eprintln!("error: {message}");
                std::process::exit(2)
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Cli(e) => write!(f, "{e}"),
            ConfigError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<clap::Error> for ConfigError {
    fn from(e: clap::Error) -> ConfigError {
        ConfigError::Cli(e)
    }
}

/// Parses the program's arguments (program name first, as from [`std::env::args_os`]) with
/// `KCPTUN_KEY` from the environment, reads the `-c` file if any, and checks everything.
/// Resolves `-remoteaddr` and host names in listen addresses (DNS may be asked).
///
/// ```no_run
/// let command = kcp_tunnel::config::parse(std::env::args_os()).unwrap_or_else(|e| e.exit());
/// ```
pub fn parse<I, T>(args: I) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    parse_with_env(args, std::env::var_os(KEY_ENV))
}

/// [`parse`] with the value of `KCPTUN_KEY` handed in.
fn parse_with_env<I, T>(args: I, key_env: Option<OsString>) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut clap_command = Cli::command();
    clap_command.build();
    let args = cli::normalize_args(&clap_command, args.into_iter().map(Into::into).collect());
    let matches = clap_command.try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let key_env = match key_env.map(OsString::into_string) {
        None => None,
        Some(Ok(key)) => Some(key),
        Some(Err(_)) => return invalid(format!("{KEY_ENV}: not valid UTF-8")),
    };
    let mut warnings = Vec::new();
    match cli.command {
        CliCommand::Client(mut args) => {
            if let Some(path) = args.common.c.clone() {
                json::apply_file(&path, &mut args, &mut warnings)?;
            }
            client(args, key_env, warnings).map(Command::Client)
        }
        CliCommand::Server(mut args) => {
            if let Some(path) = args.common.c.clone() {
                json::apply_file(&path, &mut args, &mut warnings)?;
            }
            server(args, key_env, warnings).map(Command::Server)
        }
        CliCommand::Bench(args) => bench(args, warnings).map(Command::Bench),
    }
}

fn invalid<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(message))
}

/// `--flag value: why`, with an empty value shown as `""`.
fn bad<T>(flag: &str, value: impl fmt::Display, why: impl fmt::Display) -> Result<T, ConfigError> {
    let value = value.to_string();
    if value.is_empty() {
        invalid(format!("--{flag} \"\": {why}"))
    } else {
        invalid(format!("--{flag} {value}: {why}"))
    }
}

/// `value` if it lies in `lo..=hi`.
fn within(flag: &str, value: i64, lo: i64, hi: i64, why: &str) -> Result<i64, ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        bad(
            flag,
            value,
            format_args!("must be between {lo} and {hi}{why}"),
        )
    }
}

/// `value` if it is at least `lo`.
fn at_least(flag: &str, value: i64, lo: i64, what: &str) -> Result<i64, ConfigError> {
    if value >= lo {
        Ok(value)
    } else {
        bad(flag, value, format_args!("must be at least {lo}{what}"))
    }
}

fn seconds(value: i64) -> Duration {
    Duration::from_secs(value.unsigned_abs())
}

/// The ciphers kcptun 20210922 offers that this build does not.
const UNSUPPORTED_KCPTUN_CIPHERS: [&str; 7] =
    ["blowfish", "twofish", "cast5", "3des", "tea", "xtea", "sm4"];

fn supported_ciphers() -> String {
    let mut names = String::from("sealed");
    for kind in CipherKind::ALL {
        names.push_str(", ");
        names.push_str(kind.name());
    }
    names
}

fn parse_crypt(name: &str) -> Result<Crypt, ConfigError> {
    if name == "sealed" {
        return Ok(Crypt::Sealed);
    }
    if let Ok(kind) = name.parse::<CipherKind>() {
        return Ok(Crypt::Legacy(kind));
    }
    if UNSUPPORTED_KCPTUN_CIPHERS.contains(&name) {
        return bad(
            "crypt",
            name,
            format_args!(
                "this build does not implement kcptun's {name} cipher; it has {}",
                supported_ciphers()
            ),
        );
    }
    bad(
        "crypt",
        name,
        format_args!("unknown cipher; expected one of {}", supported_ciphers()),
    )
}

/// The ARQ of a `-mode`: kcptun's presets, or the hidden flags for anything else.
fn arq_of(args: &CommonArgs, warnings: &mut Vec<String>) -> Result<kcp_core::Config, ConfigError> {
    Ok(match args.mode.as_str() {
        "normal" => kcp_core::Config::normal(),
        "fast" => kcp_core::Config::fast(),
        "fast2" => kcp_core::Config::fast2(),
        "fast3" => kcp_core::Config::fast3(),
        other => {
            if other != "manual" {
                warnings.push(format!(
                    "--mode {other:?}: not a profile (fast3, fast2, fast, normal, manual); \
                     using the manual settings --nodelay {} --interval {} --resend {} --nc {}",
                    args.nodelay, args.interval, args.resend, args.nc
                ));
            }
            // kcp-go takes any nodelay and nc from 0 (2 and up: the most aggressive RTO
            // growth; any nc above 0: no congestion window); negatives mean "unchanged" there.
            let nodelay = within("nodelay", args.nodelay, 0, u32::MAX.into(), "")?;
            let interval = within(
                "interval",
                args.interval,
                kcp_core::arq::MIN_INTERVAL.into(),
                kcp_core::arq::MAX_INTERVAL.into(),
                " milliseconds",
            )?;
            let resend = within("resend", args.resend, 0, u32::MAX.into(), "")?;
            let nc = within("nc", args.nc, 0, u32::MAX.into(), "")?;
            kcp_core::Config::default().with_nodelay(
                nodelay as u32,
                interval as u32,
                resend as u32,
                nc != 0,
            )
        }
    })
}

/// The datagram bytes the protection and FEC framing take.
fn framing_overhead(crypt: Crypt, fec: bool) -> u32 {
    let bytes = match crypt {
        Crypt::Sealed => packet::OVERHEAD + if fec { fec::native::BUDGET } else { 0 },
        Crypt::Legacy(_) => crypto::HEADER_LEN + if fec { fec::kcpgo::DATA_OVERHEAD } else { 0 },
    };
    bytes as u32
}

fn common(
    args: &CommonArgs,
    sndwnd: i64,
    rcvwnd: i64,
    key_env: Option<String>,
    mut warnings: Vec<String>,
) -> Result<Common, ConfigError> {
    if args.tcp {
        return invalid(
            "--tcp: kcptun's fake-TCP transport is not supported; drop --tcp to use UDP (the \
             peer must use UDP too)"
                .to_owned(),
        );
    }
    let crypt = parse_crypt(&args.crypt)?;
    let key = args
        .key
        .clone()
        .or(key_env)
        .unwrap_or_else(|| DEFAULT_KEY.to_owned());
    if crypt == Crypt::Sealed {
        if key.is_empty() {
            return invalid("--key \"\": the sealed mode needs a non-empty key".to_owned());
        }
        if key == DEFAULT_KEY {
            return invalid(format!(
                "--key: the sealed mode needs a key of your own (kcptun's default {DEFAULT_KEY:?} \
                 is public); set --key or {KEY_ENV}"
            ));
        }
    }

    let mut arq = arq_of(args, &mut warnings)?;

    let max_shards = fec::MAX_SHARDS as i64;
    let data_shards = within("datashard", args.datashard, 0, max_shards, "")?;
    let parity_shards = within("parityshard", args.parityshard, 0, max_shards, "")?;
    let fec_on = data_shards > 0 && parity_shards > 0;
    if fec_on && data_shards + parity_shards > max_shards {
        return invalid(format!(
            "--datashard {data_shards} with --parityshard {parity_shards}: at most {max_shards} \
             shards in all"
        ));
    }
    if !fec_on && data_shards + parity_shards > 0 {
        warnings.push(format!(
            "--datashard {data_shards} with --parityshard {parity_shards}: FEC is off (it needs \
             both above 0, as in kcptun)"
        ));
    }

    let overhead = framing_overhead(crypt, fec_on);
    let min_mtu = kcp_core::arq::MIN_MTU + overhead;
    let mtu = within(
        "mtu",
        args.mtu,
        min_mtu.into(),
        KCP_GO_MAX_MTU.into(),
        &format!(
            " bytes (kcp-go's limit; KCP's minimum of {} after {overhead} bytes of {crypt}{} \
             framing)",
            kcp_core::arq::MIN_MTU,
            if fec_on { " and FEC" } else { "" }
        ),
    )?;
    let windows = " packets (KCP's 16-bit window)";
    let sndwnd = within("sndwnd", sndwnd, 1, u16::MAX.into(), windows)?;
    let rcvwnd = within("rcvwnd", rcvwnd, 1, u16::MAX.into(), windows)?;
    let dscp = within("dscp", args.dscp, 0, 63, " (6 bits)")?;
    let int_max = i64::from(i32::MAX);
    let sockbuf = within("sockbuf", args.sockbuf, 1, int_max, " bytes")?;

    if args.smuxver != 1 && args.smuxver != 2 {
        return bad("smuxver", args.smuxver, "must be 1 or 2");
    }
    let smuxbuf = within("smuxbuf", args.smuxbuf, 1, int_max, " bytes")?;
    let streambuf = within("streambuf", args.streambuf, 1, int_max, " bytes")?;
    if streambuf > smuxbuf {
        return invalid(format!(
            "--streambuf {streambuf} with --smuxbuf {smuxbuf}: a stream's buffer cannot exceed \
             the session's (smux)"
        ));
    }
    let timeout = SMUX_KEEPALIVE_TIMEOUT.as_secs() as i64;
    let keepalive = at_least("keepalive", args.keepalive, 1, " second")?;
    if keepalive > timeout {
        return bad(
            "keepalive",
            keepalive,
            format_args!("must be at most {timeout}, smux's keepalive timeout in seconds"),
        );
    }

    let snmplog = Some(args.snmplog.clone()).filter(|path| !path.is_empty());
    let min_period = if snmplog.is_some() { 1 } else { 0 };
    let snmpperiod = at_least(
        "snmpperiod",
        args.snmpperiod,
        min_period,
        if snmplog.is_some() {
            " second with --snmplog"
        } else {
            ""
        },
    )?;

    arq.mtu = mtu as u32;
    arq.send_window = sndwnd as u16;
    arq.recv_window = rcvwnd as u16;
    arq.stream = true;
    if let Err(e) = arq.validate() {
        return bad("mode", &args.mode, e);
    }

    Ok(Common {
        key,
        crypt,
        mode: args.mode.clone(),
        arq,
        data_shards: data_shards as usize,
        parity_shards: parity_shards as usize,
        dscp: dscp as u8,
        nocomp: args.nocomp,
        acknodelay: args.acknodelay,
        sockbuf: sockbuf as usize,
        smux: SmuxSettings {
            version: args.smuxver as u8,
            max_receive_buffer: smuxbuf as usize,
            max_stream_buffer: streambuf as usize,
            keepalive: seconds(keepalive),
        },
        snmplog,
        snmpperiod: seconds(snmpperiod),
        log: (!args.log.is_empty()).then(|| PathBuf::from(&args.log)),
        quiet: args.quiet,
        warnings,
    })
}

/// Go's `net.SplitHostPort`: `host:port` or `[host]:port`, with the same refusals (too many
/// colons, a stray bracket). The port may be empty.
fn split_host_port(address: &str) -> Option<(&str, &str)> {
    let colon = address.rfind(':')?;
    let (host, j, k) = if address.starts_with('[') {
        let end = address.find(']')?;
        if end + 1 != colon {
            return None;
        }
        (&address[1..end], 1, end + 1)
    } else {
        let host = &address[..colon];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if address[j..].contains('[') || address[k..].contains(']') {
        return None;
    }
    Some((host, &address[colon + 1..]))
}

/// Parses and resolves a kcptun address: `host:port`, `:port` (every IPv4 interface),
/// `[v6]:port`; host names through the system resolver, first answer.
fn resolve(flag: &str, address: &str, allow_port_zero: bool) -> Result<SocketAddr, ConfigError> {
    let Some((host, port)) = split_host_port(address) else {
        return bad(flag, address, "expected host:port, :port or [v6]:port");
    };
    let port: u16 = match port.parse() {
        Ok(0) if !allow_port_zero => return bad(flag, address, "port 0"),
        Ok(port) => port,
        Err(_) => return bad(flag, address, format_args!("bad port {port:?}")),
    };
    if host.is_empty() {
        return Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    }
    if let Ok(ip) = host.parse() {
        return Ok(SocketAddr::new(ip, port));
    }
    match (host, port).to_socket_addrs() {
        Ok(mut found) => match found.next() {
            Some(address) => Ok(address),
            None => bad(flag, address, "cannot resolve: no address"),
        },
        Err(e) => bad(flag, address, format_args!("cannot resolve: {e}")),
    }
}

fn client(
    args: ClientArgs,
    key_env: Option<String>,
    warnings: Vec<String>,
) -> Result<ClientConfig, ConfigError> {
    let common = common(&args.common, args.sndwnd, args.rcvwnd, key_env, warnings)?;
    let conn = within("conn", args.conn, 1, u16::MAX.into(), " sessions")?;
    let autoexpire = at_least("autoexpire", args.autoexpire, 0, " (0: off)")?;
    let scavengettl = at_least("scavengettl", args.scavengettl, 0, "")?;
    let listen = resolve("localaddr", &args.localaddr, true)?;
    let remote = resolve("remoteaddr", &args.remoteaddr, false)?;
    Ok(ClientConfig {
        common,
        listen,
        remote,
        remote_name: args.remoteaddr,
        conn: conn as usize,
        autoexpire: seconds(autoexpire),
        scavengettl: seconds(scavengettl),
    })
}

fn bench(args: BenchArgs, warnings: Vec<String>) -> Result<BenchConfig, ConfigError> {
    let key = Some(BENCH_KEY.to_owned());
    let common = common(&args.common, args.sndwnd, args.rcvwnd, key, warnings)?;
    let secs = within("seconds", args.seconds, 1, 86_400, "")?;
    let streams = within("streams", args.streams, 1, 10_000, "")?;
    Ok(BenchConfig {
        common,
        duration: seconds(secs),
        streams: streams as usize,
    })
}

fn server(
    args: ServerArgs,
    key_env: Option<String>,
    mut warnings: Vec<String>,
) -> Result<ServerConfig, ConfigError> {
    if args.pprof {
        warnings.push("--pprof: ignored (this build has no profiling server)".to_owned());
    }
    let common = common(&args.common, args.sndwnd, args.rcvwnd, key_env, warnings)?;
    let target = match split_host_port(&args.target) {
        Some((_, port)) => match port.parse::<u16>() {
            Ok(port) if port != 0 => Target::Tcp(args.target.clone()),
            _ => return bad("target", &args.target, format_args!("bad port {port:?}")),
        },
        None if args.target.is_empty() => {
            return bad("target", "", "expected host:port or a unix socket path")
        }
        None => Target::Unix(PathBuf::from(&args.target)),
    };
    let listen = resolve("listen", &args.listen, true)?;
    Ok(ServerConfig {
        common,
        listen,
        target,
    })
}

impl Common {
    /// The settings that matter when comparing two runs, in one line for logs.
    pub fn summary(&self) -> String {
        format!(
            "crypt {}, mode {}, mtu {}, windows {}/{}, fec {}/{}, smux v{}, compression {}",
            self.crypt,
            self.mode,
            self.arq.mtu,
            self.arq.send_window,
            self.arq.recv_window,
            self.data_shards,
            self.parity_shards,
            self.smux.version,
            if self.nocomp { "off" } else { "on" }
        )
    }

    /// Whether FEC is on: both shard counts above 0 (kcp-go's rule).
    pub fn fec(&self) -> bool {
        self.data_shards > 0 && self.parity_shards > 0
    }

    /// The session configuration of a kcptun-compatible (`Legacy`) crypt: this ARQ, kcp-go FEC
    /// (or off), and the cipher under kcptun's PBKDF2 key. `None` for [`Crypt::Sealed`].
    /// Derives the key (milliseconds): call once.
    pub fn session_config(&self) -> Option<SessionConfig> {
        let Crypt::Legacy(cipher) = self.crypt else {
            return None;
        };
        let fec = if self.fec() {
            FecMode::KcpGo {
                data: self.data_shards,
                parity: self.parity_shards,
            }
        } else {
            FecMode::Off
        };
        Some(SessionConfig {
            arq: self.arq.clone(),
            fec,
            protection: Protection::Legacy {
                cipher,
                key: crypto::derive_key(self.key.as_bytes()),
            },
        })
    }

    /// [`Common::session_config`] in a legacy endpoint's defaults; `accept` for a server.
    /// `None` for [`Crypt::Sealed`].
    pub fn legacy_config(&self, accept: bool) -> Option<LegacyConfig> {
        let mut config = LegacyConfig::new(self.session_config()?);
        config.accept = accept;
        Some(config)
    }

    /// The endpoint configuration of the sealed mode: the key from the passphrase (Argon2id:
    /// up to a second on a small router, 4 MiB; call once), this ARQ, native FEC when both
    /// shard counts are above 0 (its groups adapt to loss; the counts only switch it on), the
    /// endpoint's other defaults, and `accept` for a server.
    ///
    /// # Errors
    ///
    /// The crypt is not [`Crypt::Sealed`], or the key cannot be derived.
    pub fn endpoint_config(&self, accept: bool) -> Result<EndpointConfig, ConfigError> {
        if self.crypt != Crypt::Sealed {
            return bad(
                "crypt",
                self.crypt,
                "not the sealed mode (use session_config)",
            );
        }
        let key = match Key::from_passphrase(&self.key) {
            Ok(key) => key,
            Err(e) => return invalid(format!("--key: {e}")),
        };
        let mut config = EndpointConfig::new(key);
        config.arq = self.arq.clone();
        config.fec = if self.fec() {
            FecMode::Native(NativeConfig::default())
        } else {
            FecMode::Off
        };
        config.accept = accept;
        Ok(config)
    }

    /// The UDP socket at `bind`: `-sockbuf` both ways and `-dscp` (0: left alone).
    pub fn socket_config(&self, bind: SocketAddr) -> SocketConfig {
        let mut config = SocketConfig::new(bind);
        config.recv_buffer = Some(self.sockbuf);
        config.send_buffer = Some(self.sockbuf);
        config.dscp = Some(self.dscp).filter(|&dscp| dscp != 0);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcp_core::Nodelay;

    /// A client command line: a usable key and server unless the test says otherwise.
    fn client_with(extra: &[&str], key_env: Option<&str>) -> Result<ClientConfig, ConfigError> {
        let mut args = vec!["kt", "client", "-r", "127.0.0.1:29900", "-key", "k"];
        args.extend_from_slice(extra);
        match parse_with_env(args, key_env.map(OsString::from))? {
            Command::Client(config) => Ok(config),
            other => panic!("{other:?}"),
        }
    }

    fn server_with(extra: &[&str]) -> Result<ServerConfig, ConfigError> {
        let mut args = vec!["kt", "server", "-key", "k"];
        args.extend_from_slice(extra);
        match parse_with_env(args, None)? {
            Command::Server(config) => Ok(config),
            other => panic!("{other:?}"),
        }
    }

    fn error_of<T: fmt::Debug>(result: Result<T, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid(message)) => message,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    /// A JSON file under the temp directory, removed on drop.
    struct TempJson(PathBuf);

    impl TempJson {
        fn new(name: &str, text: &str) -> TempJson {
            let path = std::env::temp_dir().join(format!(
                "kcp-tunnel-config-{}-{name}.json",
                std::process::id()
            ));
            std::fs::write(&path, text).unwrap();
            TempJson(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempJson {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn assert_common_defaults(common: &Common) {
        assert_eq!(common.crypt, Crypt::Sealed);
        assert_eq!(common.mode, "fast");
        let fast = kcp_core::Config::fast();
        assert_eq!(common.arq.nodelay, fast.nodelay);
        assert_eq!(common.arq.interval, 30);
        assert_eq!(common.arq.fast_resend, 2);
        assert!(!common.arq.congestion_control);
        assert!(common.arq.stream);
        assert_eq!(common.arq.mtu, 1350);
        assert_eq!((common.data_shards, common.parity_shards), (10, 3));
        assert!(common.fec());
        assert_eq!(common.dscp, 0);
        assert!(!common.nocomp && !common.acknodelay && !common.quiet);
        assert_eq!(common.sockbuf, 4_194_304);
        assert_eq!(
            common.smux,
            SmuxSettings {
                version: 1,
                max_receive_buffer: 4_194_304,
                max_stream_buffer: 2_097_152,
                keepalive: Duration::from_secs(10),
            }
        );
        assert_eq!(common.snmplog, None);
        assert_eq!(common.snmpperiod, Duration::from_secs(60));
        assert_eq!(common.log, None);
        assert!(common.warnings.is_empty(), "{:?}", common.warnings);
    }

    #[test]
    fn config_client_defaults_match_kcptun() {
        let config = client_with(&[], None).unwrap();
        assert_common_defaults(&config.common);
        assert_eq!(config.listen, "0.0.0.0:12948".parse().unwrap());
        assert_eq!(config.remote, "127.0.0.1:29900".parse().unwrap());
        assert_eq!(config.remote_name, "127.0.0.1:29900");
        assert_eq!(
            (config.common.arq.send_window, config.common.arq.recv_window),
            (128, 512)
        );
        assert_eq!(config.conn, 1);
        assert_eq!(config.autoexpire, Duration::ZERO);
        assert_eq!(config.scavengettl, Duration::from_secs(600));

        // kcptun's default server is "vps:29900", which normally does not resolve.
        match parse_with_env(["kt", "client", "-key", "k"], None) {
            Ok(Command::Client(config)) => assert_eq!(config.remote_name, "vps:29900"),
            other => assert!(
                error_of(other).starts_with("--remoteaddr vps:29900: cannot resolve"),
                "unexpected"
            ),
        }
    }

    #[test]
    fn config_server_defaults_match_kcptun() {
        let config = server_with(&[]).unwrap();
        assert_common_defaults(&config.common);
        assert_eq!(config.listen, "0.0.0.0:29900".parse().unwrap());
        assert_eq!(config.target, Target::Tcp("127.0.0.1:12948".to_owned()));
        assert_eq!(
            (config.common.arq.send_window, config.common.arq.recv_window),
            (1024, 1024)
        );
    }

    #[test]
    fn config_go_style_flags() {
        let config = client_with(
            &[
                "-key",
                "x",
                "-mode",
                "fast3",
                "-ds",
                "0",
                "-ps",
                "0",
                "-nocomp",
                "-crypt",
                "none",
                "-conn=4",
                "--quiet=true",
                "-acknodelay",
                "-acknodelay=false",
            ],
            None,
        )
        .unwrap();
        let common = &config.common;
        assert_eq!(common.key, "x");
        assert_eq!(common.crypt, Crypt::Legacy(CipherKind::None));
        assert_eq!(common.mode, "fast3");
        assert_eq!(common.arq.interval, 10);
        assert_eq!(common.arq.nodelay, Nodelay::On);
        assert!(!common.fec());
        assert!(common.nocomp && common.quiet && !common.acknodelay);
        assert_eq!(config.conn, 4);
        assert!(common.warnings.is_empty(), "{:?}", common.warnings);
    }

    #[test]
    fn config_modes() {
        let table = [
            ("normal", Nodelay::Off, 40, 2, false),
            ("fast", Nodelay::Off, 30, 2, false),
            ("fast2", Nodelay::On, 20, 2, false),
            ("fast3", Nodelay::On, 10, 2, false),
            // manual: the hidden flags' defaults 0/50/0/0 (nc 0: congestion control on).
            ("manual", Nodelay::Off, 50, 0, true),
        ];
        for (mode, nodelay, interval, resend, congestion) in table {
            let common = client_with(&["-mode", mode], None).unwrap().common;
            assert_eq!(common.arq.nodelay, nodelay, "{mode}");
            assert_eq!(common.arq.interval, interval, "{mode}");
            assert_eq!(common.arq.fast_resend, resend, "{mode}");
            assert_eq!(common.arq.congestion_control, congestion, "{mode}");
            assert!(common.warnings.is_empty());
        }
        // Presets ignore the hidden flags, as kcptun does.
        let common = client_with(&["-mode", "fast2", "-interval", "5"], None)
            .unwrap()
            .common;
        assert_eq!(common.arq.interval, 20);
        let manual = [
            "-nodelay",
            "1",
            "-interval",
            "15",
            "-resend",
            "3",
            "-nc",
            "1",
        ];
        let common = client_with(&[&["-mode", "manual"], &manual[..]].concat(), None)
            .unwrap()
            .common;
        assert_eq!(common.arq.nodelay, Nodelay::On);
        assert_eq!(common.arq.min_rto, 30);
        assert_eq!((common.arq.interval, common.arq.fast_resend), (15, 3));
        assert!(!common.arq.congestion_control);
        // An unknown mode uses the hidden flags too, with a warning.
        let common = client_with(&[&["-mode", "turbo"], &manual[..]].concat(), None)
            .unwrap()
            .common;
        assert_eq!(common.arq.interval, 15);
        assert_eq!(common.warnings.len(), 1);
        assert!(common.warnings[0].contains("--mode \"turbo\""));
    }

    #[test]
    fn config_crypt_names() {
        for kind in CipherKind::ALL {
            let common = client_with(&["-crypt", kind.name()], None).unwrap().common;
            assert_eq!(common.crypt, Crypt::Legacy(kind));
            assert_eq!(common.crypt.name(), kind.name());
        }
        let error = error_of(client_with(&["-crypt", "twofish"], None));
        assert!(error.starts_with("--crypt twofish: this build does not implement"));
        assert!(error.contains("sealed, none, aes-128, aes-192, aes, salsa20, xor"));
        let error = error_of(client_with(&["-crypt", "AES"], None));
        assert!(error.starts_with("--crypt AES: unknown cipher; expected one of sealed"));
    }

    #[test]
    fn config_key_sources() {
        let legacy = ["kt", "client", "-r", "127.0.0.1:1", "-crypt", "aes"];
        let key_of = |extra: &[&str], env: Option<&str>| {
            let args = [&legacy[..], extra].concat();
            match parse_with_env(args, env.map(OsString::from)).unwrap() {
                Command::Client(config) => config.common.key,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(key_of(&[], None), DEFAULT_KEY);
        let debug = format!("{:?}", client_with(&["-key", "hunter2"], None).unwrap());
        assert!(
            !debug.contains("hunter2") && debug.contains("<7 bytes>"),
            "{debug}"
        );
        assert_eq!(key_of(&[], Some("from-env")), "from-env");
        assert_eq!(key_of(&[], Some("")), "");
        assert_eq!(
            key_of(&["-key", "from-flag"], Some("from-env")),
            "from-flag"
        );
        let file = TempJson::new("key", r#"{"key": "from-json"}"#);
        assert_eq!(
            key_of(&["-key", "flag", "-c", file.path()], Some("env")),
            "from-json"
        );

        // The sealed mode refuses the public default and an empty key.
        let sealed = ["kt", "client", "-r", "127.0.0.1:1"];
        let error = error_of(parse_with_env(sealed, None));
        assert!(
            error.starts_with("--key: the sealed mode needs a key of your own"),
            "{error}"
        );
        let error = error_of(parse_with_env(sealed, Some(OsString::new())));
        assert!(error.starts_with("--key \"\""), "{error}");
        assert!(parse_with_env(sealed, Some("secret".into())).is_ok());
    }

    #[test]
    fn config_json_overrides_flags() {
        let file = TempJson::new(
            "override",
            r#"{
                "remoteaddr": "127.0.0.1:7000", "Crypt": "salsa20", "mtu": 1200,
                "sndwnd": 64, "nocomp": true, "datashard": 0, "smuxver": 2,
                "snmplog": "/tmp/snmp-20060102.log", "log": "/tmp/t.log", "conn": 3
            }"#,
        );
        let config = client_with(
            &[
                "-mtu",
                "1000",
                "-rcvwnd",
                "300",
                "-ds",
                "20",
                "-c",
                file.path(),
            ],
            None,
        )
        .unwrap();
        let common = &config.common;
        assert_eq!(config.remote, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(common.crypt, Crypt::Legacy(CipherKind::Salsa20));
        assert_eq!(common.arq.mtu, 1200);
        assert_eq!(common.arq.send_window, 64);
        assert_eq!(common.arq.recv_window, 300, "flag kept: not in the file");
        assert!(common.nocomp);
        assert_eq!(common.data_shards, 0);
        assert_eq!(common.smux.version, 2);
        assert_eq!(common.snmplog.as_deref(), Some("/tmp/snmp-20060102.log"));
        assert_eq!(common.log, Some(PathBuf::from("/tmp/t.log")));
        assert_eq!(config.conn, 3);
        // ds 0 with ps 3: FEC off, with a warning.
        assert_eq!(common.warnings.len(), 1, "{:?}", common.warnings);
        assert!(common.warnings[0].starts_with("--datashard 0 with --parityshard 3: FEC is off"));

        let file = TempJson::new("server", r#"{"target": "/run/app.sock", "pprof": true}"#);
        let config = server_with(&["-c", file.path()]).unwrap();
        assert_eq!(config.target, Target::Unix(PathBuf::from("/run/app.sock")));
        assert!(config.common.warnings[0].starts_with("--pprof"));
    }

    #[test]
    fn config_json_problems() {
        let file = TempJson::new("bad-type", r#"{"mtu": "1350"}"#);
        let error = error_of(client_with(&["-c", file.path()], None));
        assert!(
            error.contains(file.path()) && error.contains("\"mtu\""),
            "{error}"
        );

        let file = TempJson::new("unknown", r#"{"QPP": true, "multiport": "x"}"#);
        let common = client_with(&["-c", file.path()], None).unwrap().common;
        assert_eq!(common.warnings.len(), 2, "{:?}", common.warnings);
        assert!(common.warnings.iter().all(|w| w.contains(file.path())));

        let missing = std::env::temp_dir().join("kcp-tunnel-config-no-such-file.json");
        let error = error_of(client_with(&["-c", missing.to_str().unwrap()], None));
        assert!(error.starts_with(&format!("-c {}: cannot read", missing.display())));

        // Values from the file are validated like flags.
        let file = TempJson::new("bad-value", r#"{"keepalive": 60}"#);
        let error = error_of(client_with(&["-c", file.path()], None));
        assert!(error.starts_with("--keepalive 60"), "{error}");
    }

    #[test]
    fn config_validation_errors_name_the_flag() {
        let client_cases: &[(&[&str], &str)] = &[
            (&["-mtu", "9000"], "--mtu 9000: must be between 87 and 1500"),
            (&["-mtu", "86"], "--mtu 86: must be between 87 and 1500"),
            (
                &["-mtu", "77", "-crypt", "aes"],
                "--mtu 77: must be between 78 and 1500",
            ),
            (&["-sndwnd", "0"], "--sndwnd 0"),
            (&["-rcvwnd", "65536"], "--rcvwnd 65536"),
            (&["-ds", "-1"], "--datashard -1"),
            (&["-ps", "300"], "--parityshard 300"),
            (
                &["-ds", "200", "-ps", "100"],
                "--datashard 200 with --parityshard 100",
            ),
            (&["-dscp", "64"], "--dscp 64: must be between 0 and 63"),
            (&["-sockbuf", "0"], "--sockbuf 0"),
            (&["-smuxver", "3"], "--smuxver 3: must be 1 or 2"),
            (&["-smuxver", "0"], "--smuxver 0: must be 1 or 2"),
            (&["-smuxbuf", "0"], "--smuxbuf 0"),
            (&["-streambuf", "0"], "--streambuf 0"),
            (
                &["-streambuf", "8388608"],
                "--streambuf 8388608 with --smuxbuf 4194304",
            ),
            (&["-keepalive", "45"], "--keepalive 45: must be at most 30"),
            (&["-keepalive", "0"], "--keepalive 0"),
            (&["-snmplog", "s.log", "-snmpperiod", "0"], "--snmpperiod 0"),
            (&["-snmpperiod", "-1"], "--snmpperiod -1"),
            (&["-mode", "manual", "-interval", "5"], "--interval 5"),
            (&["-mode", "manual", "-nodelay", "-1"], "--nodelay -1"),
            (&["-mode", "manual", "-resend", "-1"], "--resend -1"),
            (&["-mode", "manual", "-nc", "-1"], "--nc -1"),
            (&["-crypt", "blowfish"], "--crypt blowfish"),
            (&["-crypt", "rot13"], "--crypt rot13"),
            (&["-tcp"], "--tcp"),
            (&["-conn", "0"], "--conn 0: must be between 1 and 65535"),
            (&["-conn", "-2"], "--conn -2"),
            (&["-autoexpire", "-1"], "--autoexpire -1"),
            (&["-scavengettl", "-1"], "--scavengettl -1"),
            (&["-l", "12948"], "--localaddr 12948"),
            (&["-l", ":99999"], "--localaddr :99999"),
            (&["-r", "127.0.0.1:0"], "--remoteaddr 127.0.0.1:0"),
            (&["-r", "a:b:c"], "--remoteaddr a:b:c"),
            (
                &["-r", "vps.invalid:29900"],
                "--remoteaddr vps.invalid:29900: cannot resolve",
            ),
        ];
        for (extra, needle) in client_cases {
            let error = error_of(client_with(extra, None));
            assert!(error.starts_with(needle), "{extra:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        let server_cases: &[(&[&str], &str)] = &[
            (&["-t", ""], "--target \"\""),
            (&["-t", "127.0.0.1:"], "--target 127.0.0.1:"),
            (&["-t", "localhost:ssh"], "--target localhost:ssh"),
            (&["-l", "[::1:5"], "--listen [::1:5"),
            (&["-sndwnd", "70000"], "--sndwnd 70000"),
            (&["-tcp", "-pprof"], "--tcp"),
        ];
        for (extra, needle) in server_cases {
            let error = error_of(server_with(extra));
            assert!(error.starts_with(needle), "{extra:?}: {error}");
        }
    }

    #[test]
    fn config_limits_are_inclusive() {
        let config = client_with(
            &[
                "-mtu",
                "1500",
                "-keepalive",
                "30",
                "-dscp",
                "63",
                "-sndwnd",
                "65535",
                "-conn",
                "65535",
                "-streambuf",
                "4194304",
                "-smuxver",
                "2",
                "-ds",
                "128",
                "-ps",
                "128",
            ],
            None,
        )
        .unwrap();
        assert_eq!(config.common.smux.keepalive, SMUX_KEEPALIVE_TIMEOUT);
        assert_eq!(config.common.arq.send_window, 65535);
        // The smallest MTU each framing allows still builds a session.
        let config = client_with(&["-mtu", "78", "-crypt", "aes"], None).unwrap();
        let session = config.common.session_config().unwrap();
        kcp_core::Session::new(1, &session, 7).unwrap();
        let config = client_with(&["-mtu", "70", "-crypt", "aes", "-ds", "0"], None).unwrap();
        kcp_core::Session::new(1, &config.common.session_config().unwrap(), 7).unwrap();
    }

    #[test]
    fn config_addresses_and_targets() {
        let config = client_with(&["-l", "[::]:1", "-r", "[::1]:2"], None).unwrap();
        assert_eq!(config.listen, "[::]:1".parse().unwrap());
        assert_eq!(config.remote, "[::1]:2".parse().unwrap());
        let config = client_with(&["-l", "127.0.0.1:0", "-r", "localhost:9"], None).unwrap();
        assert_eq!(config.listen, "127.0.0.1:0".parse().unwrap());
        assert!(config.remote.ip().is_loopback());
        assert_eq!(config.remote_name, "localhost:9");

        let target = |t: &str| server_with(&["-t", t]).unwrap().target;
        assert_eq!(target("/run/x.sock"), Target::Unix("/run/x.sock".into()));
        assert_eq!(target("x.sock"), Target::Unix("x.sock".into()));
        assert_eq!(target("[::1]:80"), Target::Tcp("[::1]:80".into()));
        assert_eq!(
            target("example.com:443"),
            Target::Tcp("example.com:443".into())
        );
        assert_eq!(target(":80"), Target::Tcp(":80".into()));
    }

    #[test]
    fn config_split_host_port_is_gos() {
        let ok = [
            ("h:1", ("h", "1")),
            (":1", ("", "1")),
            ("h:", ("h", "")),
            ("[::1]:2", ("::1", "2")),
            ("[h]:3", ("h", "3")),
        ];
        for (input, expected) in ok {
            assert_eq!(split_host_port(input), Some(expected), "{input}");
        }
        for input in [
            "", "h", "::1", "a:b:c", "[::1]", "[::1]x:1", "[h:1", "h]:1", "x[:1",
        ] {
            assert_eq!(split_host_port(input), None, "{input}");
        }
    }

    #[test]
    fn config_clap_errors_pass_through() {
        let kind = |args: &[&str]| match parse_with_env(args.iter().copied(), None) {
            Err(ConfigError::Cli(e)) => e.kind(),
            other => panic!("{other:?}"),
        };
        use clap::error::ErrorKind;
        assert_eq!(
            kind(&["kt", "client", "-bogus"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["kt", "client", "-target", "x"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["kt", "client", "-mtu", "big"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["kt", "client", "-nocomp=maybe"]),
            ErrorKind::TooManyValues
        );
        assert_eq!(kind(&["kt", "client", "-help"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["kt", "--version"]), ErrorKind::DisplayVersion);
        assert_eq!(
            kind(&["kt"]),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        // Repeated flags: the last wins, as with Go's flag package.
        let config = client_with(&["-mtu", "1000", "--mtu", "1100"], None).unwrap();
        assert_eq!(config.common.arq.mtu, 1100);
    }

    #[test]
    fn config_session_and_endpoint() {
        let common = client_with(&["-crypt", "aes", "-key", "pass"], None)
            .unwrap()
            .common;
        let session = common.session_config().unwrap();
        assert_eq!(
            session.fec,
            FecMode::KcpGo {
                data: 10,
                parity: 3
            }
        );
        assert_eq!(
            session.protection,
            Protection::Legacy {
                cipher: CipherKind::Aes256,
                key: crypto::derive_key(b"pass"),
            }
        );
        assert_eq!(session.arq, common.arq);
        assert!(common.legacy_config(true).unwrap().accept);
        assert!(common.endpoint_config(false).is_err());
        let common = client_with(&["-crypt", "xor", "-ps", "0"], None)
            .unwrap()
            .common;
        assert_eq!(common.session_config().unwrap().fec, FecMode::Off);

        let common = client_with(&["-mtu", "87", "-dscp", "46"], None)
            .unwrap()
            .common;
        assert!(common.session_config().is_none());
        let endpoint = common.endpoint_config(true).unwrap();
        assert!(endpoint.accept);
        assert!(matches!(endpoint.fec, FecMode::Native(_)));
        assert_eq!(endpoint.arq, common.arq);
        kcp_core::Endpoint::new(endpoint, [7; 32], 0).unwrap();

        let socket = common.socket_config("0.0.0.0:1".parse().unwrap());
        assert_eq!(socket.dscp, Some(46));
        assert_eq!(socket.recv_buffer, Some(4_194_304));
        assert_eq!(socket.send_buffer, Some(4_194_304));
    }
}
