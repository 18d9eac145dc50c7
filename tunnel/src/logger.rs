//! The log: one line per record, `2026/11/21 18:31:27 message` (kcptun's format), to
//! stderr or to the `--log` file.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

struct Logger {
    out: Mutex<Box<dyn Write + Send>>,
    level: log::LevelFilter,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let stamp = timestamp(SystemTime::now());
        let level = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        if let Ok(mut out) = self.out.lock() {
            // A log that cannot be written must not take the tunnel down.
            let _ = writeln!(out, "{stamp} {level}{}", record.args());
            let _ = out.flush();
        }
    }

    fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

/// Installs the logger: to `file` (appending) or stderr, at `level`. Fails only when the
/// file cannot be opened.
pub fn init(file: Option<&Path>, level: log::LevelFilter) -> io::Result<()> {
    let out: Box<dyn Write + Send> = match file {
        Some(path) => Box::new(
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("--log {}: {e}", path.display())))?,
        ),
        None => Box::new(io::stderr()),
    };
    // A second init (tests, the bench) keeps the first logger.
    if log::set_boxed_logger(Box::new(Logger {
        out: Mutex::new(out),
        level,
    }))
    .is_ok()
    {
        log::set_max_level(level);
    }
    Ok(())
}

/// `YYYY/MM/DD hh:mm:ss` in UTC.
pub fn timestamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_date(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm).
pub fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970/01/01 00:00:00");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.
        let at = UNIX_EPOCH + Duration::from_secs(951_827_696);
        assert_eq!(timestamp(at), "2000/02/29 12:34:56");
        // 2026-11-21 18:31:27.
        let at = UNIX_EPOCH + Duration::from_secs(1_795_285_887);
        assert_eq!(timestamp(at), "2026/11/21 18:31:27");
    }
}
