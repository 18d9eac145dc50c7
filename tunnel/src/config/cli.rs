//! The command line as clap sees it: kcptun's flags with kcptun's names and defaults, and the
//! rewriting of Go-style arguments (`-key x`, `-nocomp=false`) into the form clap parses.
//!
//! Nothing here leaves the `config` module: [`super::parse`] turns these structs into the plain
//! configuration the rest of the program uses.

use clap::builder::ArgAction;
use clap::{Args, Parser, Subcommand};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// kcptun's default `-key`.
pub(crate) const DEFAULT_KEY: &str = "it's a secrect";

/// `kcp-tunnel <command> [flags]`.
#[derive(Parser, Debug)]
#[command(
    name = "kcp-tunnel",
    version,
    // Written out: clap's generated usage lines cost 9 KB of the router binary.
    override_usage = "kcp-tunnel <client|server|bench> [OPTIONS]",
    about = "TCP over KCP over UDP: a drop-in for kcptun, plus an authenticated native mode",
    long_about = "TCP over KCP over UDP: a drop-in for kcptun, plus an authenticated native mode.\n\n\
                  Flags have kcptun's names and defaults and may be written Go-style too \
                  (-key x -mode fast3 -nocomp). With -crypt aes, aes-128, aes-192, salsa20, \
                  xor or none the tunnel talks to kcptun; the default, sealed, talks to \
                  kcp-tunnel only."
)]
pub(crate) struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands. A new one is a variant here, a variant of [`super::Command`] and an arm
/// in [`super::parse_with_env`].
#[derive(Subcommand, Debug)]
pub(crate) enum CliCommand {
    /// Accept TCP connections and carry them over KCP to a server (kcptun-client)
    #[command(
        args_override_self = true,
        override_usage = "kcp-tunnel client [OPTIONS]"
    )]
    Client(ClientArgs),
    /// Accept KCP sessions and connect their streams to a target (kcptun-server)
    #[command(
        args_override_self = true,
        override_usage = "kcp-tunnel server [OPTIONS]"
    )]
    Server(ServerArgs),
    /// Self-test: server, client and traffic in one process on loopback; prints throughput,
    /// RTT and retransmissions
    #[command(
        args_override_self = true,
        override_usage = "kcp-tunnel bench [OPTIONS]"
    )]
    Bench(BenchArgs),
}

/// `kcp-tunnel bench`: the tunnel's flags (both ends use them) and the traffic's.
#[derive(Args, Debug, Clone)]
pub(crate) struct BenchArgs {
    /// Flags of both tunnel ends.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Seconds of traffic
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub seconds: i64,
    /// Concurrent TCP connections
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub streams: i64,
    /// Send window, in packets
    #[arg(long, value_name = "PACKETS", default_value_t = 1024)]
    pub sndwnd: i64,
    /// Receive window, in packets
    #[arg(long, value_name = "PACKETS", default_value_t = 1024)]
    pub rcvwnd: i64,
}

/// `kcp-tunnel client`: kcptun-client's flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct ClientArgs {
    /// Local TCP listen address (":port": all IPv4 interfaces)
    #[arg(short = 'l', long, value_name = "ADDR", default_value = ":12948")]
    pub localaddr: String,
    /// KCP server address (host:port)
    #[arg(short = 'r', long, value_name = "ADDR", default_value = "vps:29900")]
    pub remoteaddr: String,
    /// Flags shared with the server.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of UDP connections (KCP sessions) to the server; streams are spread round-robin
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub conn: i64,
    /// Seconds after which a session takes no new streams and a fresh one is dialled; 0: never
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub autoexpire: i64,
    /// Seconds an expired session may still live before it is closed
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub scavengettl: i64,
    /// Send window, in packets
    #[arg(long, value_name = "PACKETS", default_value_t = 128)]
    pub sndwnd: i64,
    /// Receive window, in packets
    #[arg(long, value_name = "PACKETS", default_value_t = 512)]
    pub rcvwnd: i64,
}

/// `kcp-tunnel server`: kcptun-server's flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServerArgs {
    /// KCP (UDP) listen address (":port": all IPv4 interfaces)
    #[arg(short = 'l', long, value_name = "ADDR", default_value = ":29900")]
    pub listen: String,
    /// Where streams go: host:port, or the path of a unix socket
    #[arg(
        short = 't',
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:12948"
    )]
    pub target: String,
    /// Flags shared with the client.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Send window, in packets
    #[arg(long, value_name = "PACKETS", default_value_t = 1024)]
    pub sndwnd: i64,
    /// Receive window, in packets
    #[arg(long, value_name = "PACKETS", default_value_t = 1024)]
    pub rcvwnd: i64,
    /// Accepted for kcptun compatibility and ignored (no profiling server)
    #[arg(long)]
    pub pprof: bool,
}

/// The flags client and server share. Integers are kept as kcptun's Go `int` (here `i64`) so
/// that out-of-range values reach validation and get a message naming the flag.
#[derive(Args, Debug, Clone)]
pub(crate) struct CommonArgs {
    /// Pre-shared secret between client and server [env: KCPTUN_KEY] [default: it's a secrect]
    // No clap default and no clap `env`: flag > KCPTUN_KEY > default is resolved in
    // validation, where tests can hand the environment in.
    #[arg(long, value_name = "SECRET")]
    pub key: Option<String>,
    /// sealed (authenticated, kcp-tunnel peers only), or for kcptun peers: aes, aes-128, aes-192, salsa20, xor, none
    #[arg(long, value_name = "CIPHER", default_value = "sealed")]
    pub crypt: String,
    /// Profile: fast3, fast2, fast, normal, manual
    #[arg(long, value_name = "PROFILE", default_value = "fast")]
    pub mode: String,
    /// Largest UDP datagram, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1350)]
    pub mtu: i64,
    /// Reed-Solomon data shards; 0 turns FEC off
    #[arg(
        long = "datashard",
        visible_alias = "ds",
        value_name = "N",
        default_value_t = 10
    )]
    pub datashard: i64,
    /// Reed-Solomon parity shards; 0 turns FEC off
    #[arg(
        long = "parityshard",
        visible_alias = "ps",
        value_name = "N",
        default_value_t = 3
    )]
    pub parityshard: i64,
    /// DSCP code point (6 bits) of the UDP packets
    #[arg(long, value_name = "0-63", default_value_t = 0)]
    pub dscp: i64,
    /// Disable snappy compression (must match the peer)
    #[arg(long)]
    pub nocomp: bool,
    /// Acknowledge every packet at once instead of once per interval
    #[arg(long)]
    pub acknodelay: bool,
    /// Manual mode: nodelay (0, 1, 2)
    #[arg(long, hide = true, default_value_t = 0)]
    pub nodelay: i64,
    /// Manual mode: update interval in milliseconds
    #[arg(long, hide = true, default_value_t = 50)]
    pub interval: i64,
    /// Manual mode: fast resend after this many later packets are acknowledged (0: off)
    #[arg(long, hide = true, default_value_t = 0)]
    pub resend: i64,
    /// Manual mode: 1 turns congestion control off
    #[arg(long, hide = true, default_value_t = 0)]
    pub nc: i64,
    /// UDP socket send and receive buffers, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 4_194_304)]
    pub sockbuf: i64,
    /// smux version, 1 or 2 (must match the peer)
    #[arg(long, value_name = "1|2", default_value_t = 1)]
    pub smuxver: i64,
    /// smux receive buffer of a whole session, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 4_194_304)]
    pub smuxbuf: i64,
    /// smux v2 receive buffer of one stream, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 2_097_152)]
    pub streambuf: i64,
    /// Seconds between smux heartbeats (at most 30, smux's timeout)
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub keepalive: i64,
    /// Append SNMP counters to this CSV file (Go time layout in the name, e.g. ./snmp-20060102.log)
    #[arg(
        long,
        value_name = "PATH",
        default_value = "",
        hide_default_value = true
    )]
    pub snmplog: String,
    /// Seconds between SNMP log lines
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub snmpperiod: i64,
    /// Log to this file instead of stderr
    #[arg(
        long,
        value_name = "PATH",
        default_value = "",
        hide_default_value = true
    )]
    pub log: String,
    /// Do not log stream open and close
    #[arg(long)]
    pub quiet: bool,
    /// kcptun's fake-TCP transport: not supported (refused)
    #[arg(long)]
    pub tcp: bool,
    /// JSON configuration file (kcptun's keys); its values override the flags
    #[arg(short = 'c', value_name = "FILE", allow_hyphen_values = true)]
    pub c: Option<PathBuf>,
}

/// How a flag takes its value, as far as the rewriting is concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Takes a value (`-key x`, `-key=x`).
    Value,
    /// A boolean switch (`-nocomp`, `-nocomp=false`).
    Bool,
    /// Another valueless flag (`-help`, `-version`).
    Other,
}

/// One flag of the command being parsed.
struct Flag {
    /// Long name and aliases.
    longs: Vec<String>,
    /// The short letter, if any.
    short: Option<char>,
    /// The spelling handed to clap: `--long`, or `-c` for a flag with no long name.
    canonical: String,
    kind: Kind,
}

fn flags_of(command: &clap::Command) -> Vec<Flag> {
    command
        .get_arguments()
        .filter(|arg| !arg.is_positional())
        .map(|arg| {
            let mut longs: Vec<String> = arg
                .get_long_and_visible_aliases()
                .unwrap_or_default()
                .into_iter()
                .map(str::to_owned)
                .collect();
            if let Some(aliases) = arg.get_all_aliases() {
                longs.extend(aliases.into_iter().map(str::to_owned));
            }
            let kind = match arg.get_action() {
                ArgAction::SetTrue => Kind::Bool,
                action if action.takes_values() => Kind::Value,
                _ => Kind::Other,
            };
            let canonical = match (arg.get_long(), arg.get_short()) {
                (Some(long), _) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => String::new(),
            };
            Flag {
                longs,
                short: arg.get_short(),
                canonical,
                kind,
            }
        })
        .collect()
}

/// The flag `name` (without dashes) stands for: a long name or alias, or a short letter.
fn find<'a>(flags: &'a [Flag], name: &str) -> Option<&'a Flag> {
    let mut chars = name.chars();
    let letter = match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    };
    flags.iter().find(|flag| {
        flag.longs.iter().any(|long| long == name) || (letter.is_some() && flag.short == letter)
    })
}

/// Go's `strconv.ParseBool`, which Go's flag package uses for `-flag=value`.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Rewrites Go-style arguments into the form clap parses, the way Go's flag package (under
/// kcptun's urfave/cli) reads them:
///
/// - one or two dashes for any flag: `-key x` and `--key x`, `-ds 0`, `--l :1` all work;
/// - a flag that takes a value takes the next argument whatever it looks like
///   (`-key -secret-`, `-conn -1`), or what follows `=`; both become `--name=value`, so clap
///   never mistakes such a value for a flag;
/// - a switch may be given a value after `=` (`-nocomp=false`, `-quiet=1`, Go's
///   `strconv.ParseBool` spellings); the last occurrence wins, and a false one removes the
///   earlier ones;
/// - short letters stay short (`-l`, `-r`, `-t`, `-c`) but may be written `--l`.
///
/// The flags known are those of `command` (the root until a subcommand name is met, then that
/// subcommand's), so a new subcommand needs no change here. Anything unknown, a lone `-`, and
/// everything after `--` is passed on untouched for clap to judge. `args` includes the
/// program name.
pub(crate) fn normalize_args(command: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut args = args.into_iter();
    let mut out: Vec<Option<OsString>> = Vec::new();
    out.extend(args.next().map(Some));
    let mut scope = flags_of(command);
    let mut at_root = true;
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            out.push(Some(arg));
            continue;
        };
        if text == "--" {
            out.push(Some(arg));
            out.extend(args.by_ref().map(Some));
            break;
        }
        let body = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-'))
            .filter(|body| !body.is_empty());
        let Some(body) = body else {
            // A positional: at the root, maybe the subcommand.
            if at_root {
                if let Some(sub) = command.find_subcommand(text) {
                    scope = flags_of(sub);
                    at_root = false;
                }
            }
            out.push(Some(arg));
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(flag) = find(&scope, name).filter(|flag| !flag.canonical.is_empty()) else {
            // An unknown Go-style `-name`: let clap report `--name` (not its first letter).
            let go_style = !text.starts_with("--")
                && name.len() > 1
                && name.starts_with(|c: char| c.is_ascii_alphabetic());
            if go_style {
                let mut long = OsString::from("-");
                long.push(&arg);
                out.push(Some(long));
            } else {
                out.push(Some(arg));
            }
            continue;
        };
        let canonical = flag.canonical.clone();
        match flag.kind {
            Kind::Value => {
                let value = match value {
                    Some(value) => Some(OsString::from(value)),
                    None => args.next(),
                };
                match value {
                    // `-c` has no long name: give clap two arguments (it allows hyphens).
                    Some(value) if !canonical.starts_with("--") => {
                        out.push(Some(canonical.into()));
                        out.push(Some(value));
                    }
                    Some(value) => {
                        let mut joined = OsString::from(format!("{canonical}="));
                        joined.push(value);
                        out.push(Some(joined));
                    }
                    // Missing value: clap says so.
                    None => out.push(Some(canonical.into())),
                }
            }
            Kind::Bool => match value.map(go_bool) {
                None | Some(Some(true)) => out.push(Some(canonical.into())),
                Some(Some(false)) => {
                    for earlier in out.iter_mut() {
                        if earlier.as_deref() == Some(OsStr::new(&canonical)) {
                            *earlier = None;
                        }
                    }
                }
                // Not a boolean: clap reports the unexpected value.
                Some(None) => out.push(Some(format!("{canonical}={}", value.unwrap_or("")).into())),
            },
            Kind::Other => match value {
                None => out.push(Some(canonical.into())),
                Some(_) => out.push(Some(arg)),
            },
        }
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn normalize(args: &[&str]) -> Vec<String> {
        let mut command = Cli::command();
        command.build();
        let args = args.iter().map(OsString::from).collect();
        normalize_args(&command, args)
            .into_iter()
            .map(|arg| arg.into_string().unwrap())
            .collect()
    }

    #[test]
    fn config_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_normalize_go_style() {
        assert_eq!(
            normalize(&[
                "kt",
                "client",
                "-key",
                "x",
                "-mode=fast3",
                "-ds",
                "0",
                "--ps",
                "0",
                "-nocomp",
                "-crypt",
                "none",
                "-l",
                ":1",
                "--r",
                "h:2",
                "-c",
                "f.json"
            ]),
            [
                "kt",
                "client",
                "--key=x",
                "--mode=fast3",
                "--datashard=0",
                "--parityshard=0",
                "--nocomp",
                "--crypt=none",
                "--localaddr=:1",
                "--remoteaddr=h:2",
                "-c",
                "f.json"
            ]
        );
    }

    #[test]
    fn config_normalize_values_that_look_like_flags() {
        assert_eq!(
            normalize(&["kt", "client", "-key", "-mode", "-conn", "-1", "-c", "-x.json"]),
            ["kt", "client", "--key=-mode", "--conn=-1", "-c", "-x.json"]
        );
    }

    #[test]
    fn config_normalize_bool_values() {
        assert_eq!(
            normalize(&[
                "kt",
                "server",
                "-nocomp",
                "-quiet=1",
                "-nocomp=false",
                "-tcp=F"
            ]),
            ["kt", "server", "--quiet"]
        );
        assert_eq!(
            normalize(&["kt", "server", "-nocomp=false", "-nocomp", "-pprof=maybe"]),
            ["kt", "server", "--nocomp", "--pprof=maybe"]
        );
    }

    #[test]
    fn config_normalize_scopes_and_passthrough() {
        // Server flags are unknown to the client and other unknown names become `--name` for
        // clap to refuse; `--` ends rewriting; non-flag arguments pass untouched.
        assert_eq!(
            normalize(&[
                "kt", "-help", "client", "-target", "x", "-bogus", "-", "-1", "--", "-key"
            ]),
            ["kt", "--help", "client", "--target", "x", "--bogus", "-", "-1", "--", "-key"]
        );
        assert_eq!(
            normalize(&[
                "kt",
                "server",
                "-t",
                "/run/x.sock",
                "-listen",
                ":1",
                "-version"
            ]),
            [
                "kt",
                "server",
                "--target=/run/x.sock",
                "--listen=:1",
                "--version"
            ]
        );
    }
}
