//! The `kcp-tunnel` command: `client`, `server` (kcptun's flags) and `bench`.

use kcp_tunnel::config::{self, Command, Common};
use kcp_tunnel::{bench, logger, setup};
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = config::parse(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let (common, level) = match &command {
        Command::Client(c) => (&c.common, log::LevelFilter::Info),
        Command::Server(s) => (&s.common, log::LevelFilter::Info),
        // The bench's own lines are its output; the tunnels speak only of trouble.
        Command::Bench(b) => (&b.common, log::LevelFilter::Warn),
    };
    if let Err(e) = start_logging(common, level) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match &command {
        Command::Client(c) => setup::client(c).and_then(run),
        Command::Server(s) => setup::server(s).and_then(run),
        Command::Bench(b) => bench::run(b, &mut std::io::stdout()).map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut tunnel: kcp_tunnel::Tunnel) -> std::io::Result<()> {
    tunnel.handle_signals()?;
    tunnel.run()
}

fn start_logging(common: &Common, level: log::LevelFilter) -> std::io::Result<()> {
    logger::init(common.log.as_deref(), level)?;
    for warning in &common.warnings {
        log::warn!("{warning}");
    }
    log::info!(
        "kcp-tunnel {}: {}",
        env!("CARGO_PKG_VERSION"),
        common.summary()
    );
    Ok(())
}
