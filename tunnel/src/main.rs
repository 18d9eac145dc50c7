//! The `kcp-tunnel` command: `client`, `server` (kcptun's flags) and `bench`.

use kcp_tunnel::config::{self, Command, Common};
use kcp_tunnel::{logger, setup};
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = config::parse(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let common = match &command {
        Command::Client(c) => &c.common,
        Command::Server(s) => &s.common,
    };
    if let Err(e) = start_logging(common) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let tunnel = match &command {
        Command::Client(c) => setup::client(c),
        Command::Server(s) => setup::server(s),
    };
    let result = tunnel.and_then(|mut tunnel| {
        tunnel.handle_signals()?;
        tunnel.run()
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn start_logging(common: &Common) -> std::io::Result<()> {
    logger::init(common.log.as_deref(), log::LevelFilter::Info)?;
    for warning in &common.warnings {
        log::warn!("{warning}");
    }
    log::info!(
        "kcp-tunnel {}: crypt {}, mode {}, mtu {}, windows {}/{}, fec {}/{}, smux v{}, compression {}",
        env!("CARGO_PKG_VERSION"),
        common.crypt,
        common.mode,
        common.arq.mtu,
        common.arq.send_window,
        common.arq.recv_window,
        common.data_shards,
        common.parity_shards,
        common.smux.version,
        if common.nocomp { "off" } else { "on" },
    );
    Ok(())
}
