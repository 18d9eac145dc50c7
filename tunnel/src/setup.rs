//! From a validated configuration to a running [`Tunnel`].

use crate::config::{ClientConfig, Common, Crypt, ServerConfig, SMUX_KEEPALIVE_TIMEOUT};
use crate::runtime::{ClientSettings, ServerSettings, Settings, Tunnel};
use crate::smux;
use kcp_core::net::{DriverConfig, Mode};
use kcp_core::session::FecMode;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Segments a session may queue beyond its send window, per window: the tunnel reads TCP
/// only while the queue has room, so this (with the windows) bounds what one session holds.
const QUEUE_WINDOWS: u32 = 3;

/// The per-link settings: smux as configured; in the sealed mode the transport keeps the
/// session alive and `RST` carries resets, so smux's keepalive is off.
pub fn settings(common: &Common) -> Settings {
    let native = common.crypt == Crypt::Sealed;
    let mut config = smux::Config::new(common.smux.version, true);
    config.max_receive_buffer = common.smux.max_receive_buffer;
    config.max_stream_buffer = u32::try_from(common.smux.max_stream_buffer).unwrap_or(u32::MAX);
    config.keepalive_interval = (!native).then_some(common.smux.keepalive);
    config.keepalive_timeout = (!native).then_some(SMUX_KEEPALIVE_TIMEOUT);
    config.resets = native;
    Settings {
        smux: config,
        compress: !common.nocomp,
        quiet: common.quiet,
        snmp_log: common
            .snmplog
            .as_ref()
            .map(|path| (path.clone(), common.snmpperiod)),
    }
}

/// The UDP side: the protocol the crypt selects, on a socket at `bind`.
pub fn driver_config(common: &Common, bind: SocketAddr, accept: bool) -> io::Result<DriverConfig> {
    let mut arq = common.arq.clone();
    arq.stream = true;
    arq.send_queue_limit = u32::from(arq.send_window).max(32) * QUEUE_WINDOWS;
    // kcptun (kcp-go) resends a segment skipped by one acknowledgement when it has nothing new
    // to send; interactive streams recover a round trip sooner. Without it, in the lab's 20 %
    // loss test, the same flags gave a mean 19 % above kcptun's.
    arq.early_retransmit = true;
    let mode = match common.crypt {
        Crypt::Sealed => {
            let mut endpoint = common.endpoint_config(accept).map_err(invalid)?;
            endpoint.arq = arq;
            if let FecMode::Native(fec) = &mut endpoint.fec {
                // A tunnel carries interactive streams: parity leaves right behind its data
                // (bulk still fills whole groups in microseconds), and groups aim at one
                // unrecoverable loss in a thousand. In the lab's 10 % loss, 25 ms each way
                // test this took the 99th percentile from about 115 ms (RTT/2 deadline, 1 %
                // residual) to about 70 ms.
                fec.deadline_fraction = 0;
                fec.target_residual = 0.001;
            }
            Mode::Native(endpoint)
        }
        Crypt::Legacy(_) => {
            let mut legacy = common
                .legacy_config(accept)
                .ok_or_else(|| invalid("no legacy configuration for this crypt"))?;
            legacy.session.arq = arq;
            Mode::Legacy(legacy)
        }
    };
    let mut config = DriverConfig::new(bind, mode);
    config.socket = common.socket_config(bind);
    Ok(config)
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

/// A client tunnel for this configuration (listening, sessions dialled).
pub fn client(config: &ClientConfig) -> io::Result<Tunnel> {
    let bind: SocketAddr = if config.remote.is_ipv6() {
        "[::]:0".parse().expect("literal")
    } else {
        "0.0.0.0:0".parse().expect("literal")
    };
    let client = ClientSettings {
        listen: config.listen,
        remote: config.remote,
        remote_name: config.remote_name.clone(),
        conn: config.conn,
        autoexpire: (config.autoexpire > Duration::ZERO).then_some(config.autoexpire),
        scavenge_ttl: config.scavengettl,
        driver: driver_config(&config.common, bind, false)?,
    };
    Tunnel::client(settings(&config.common), client)
}

/// A server tunnel for this configuration (listening).
pub fn server(config: &ServerConfig) -> io::Result<Tunnel> {
    let server = ServerSettings {
        driver: driver_config(&config.common, config.listen, true)?,
        target: config.target.clone(),
    };
    Tunnel::server(settings(&config.common), server)
}
