//! kcptun's `-snmplog PATH -snmpperiod SECS`: kcp-go's SNMP counters as CSV, one row per
//! period.
//!
//! What kcptun 20210922 does (`generic.SnmpLogger`), and this module mirrors:
//!
//! - a ticker fires every period, the first time one period after start;
//! - at each tick `PATH` is split at its last `/`: the directory part is used as written, the
//!   file name part is a Go time layout formatted with the current time (so
//!   `./snmp-20060102.log` gives one file per day);
//! - the file is opened for appending (created with mode 0666 less the umask when missing)
//!   and closed again after the row, so a rotated or deleted file is simply started anew;
//! - an empty file first gets the header row `Unix,BytesSent,...,FECShortShards`;
//! - then one row: the Unix time in seconds, then the 24 counters of kcp-go's `DefaultSnmp`.
//!
//! kcptun does **not** reset the counters after a row (its `kcp.DefaultSnmp.Reset()` call is
//! commented out), so every row holds the totals since the process started, not per-period
//! deltas; [`SnmpLog::write_due`] therefore writes the totals it is given unchanged.
//!
//! Differences from kcptun: a file that cannot be opened ends kcptun's logger for good; here
//! the error is returned to the caller (which logs it) and the next period tries again. File
//! names are formatted in UTC (see [`go_time_format`]).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kcp_core::session::Snmp;

use crate::logger::civil_date;

/// The periodic SNMP CSV writer of `-snmplog`/`-snmpperiod`.
///
/// The caller keeps the schedule: it wakes up by [`SnmpLog::deadline`] and calls
/// [`SnmpLog::write_due`] with the current clocks and the counter totals.
#[derive(Clone, Debug)]
pub struct SnmpLog {
    /// The directory part of the path, up to and including its last `/` (empty without one);
    /// never formatted.
    dir: String,
    /// The file name part: a Go time layout.
    layout: String,
    /// Time between rows.
    period: Duration,
    /// When the next row is due.
    deadline: Instant,
}

impl SnmpLog {
    /// A writer for `path` (directory part literal, file name part a Go time layout) writing a
    /// row every `period`, the first one `period` after `now`, like kcptun's ticker. A period
    /// under a second is taken as one second (kcptun's unit is whole seconds and its
    /// configuration rejects 0, which would mean no log at all).
    pub fn new(path: &str, period: Duration, now: Instant) -> SnmpLog {
        let (dir, layout) = match path.rfind('/') {
            Some(at) => path.split_at(at + 1),
            None => ("", path),
        };
        let period = period.max(Duration::from_secs(1));
        SnmpLog {
            dir: dir.to_owned(),
            layout: layout.to_owned(),
            period,
            deadline: now + period,
        }
    }

    /// When the next row is due.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The file a row written at wall-clock time `wall` goes to: the directory part as given,
    /// then the file name layout formatted with `wall` ([`go_time_format`]).
    pub fn file_path(&self, wall: SystemTime) -> String {
        format!("{}{}", self.dir, go_time_format(&self.layout, wall))
    }

    /// Writes one row if it is due (`now` at or past [`SnmpLog::deadline`]) and returns
    /// whether it was. `totals` are the counters accumulated since the tunnel started; they
    /// are written as they are, because kcptun never resets its counters between rows. `wall`
    /// stamps the row (Unix seconds) and names the file.
    ///
    /// The deadline moves on by whole periods past `now` even when writing fails, so a
    /// failing file costs one attempt per period; ticks missed by a late caller are dropped,
    /// as Go's ticker drops them.
    pub fn write_due(&mut self, now: Instant, wall: SystemTime, totals: &Snmp) -> io::Result<bool> {
        if now < self.deadline {
            return Ok(false);
        }
        while self.deadline <= now {
            self.deadline += self.period;
        }
        self.write_row(wall, totals)?;
        Ok(true)
    }

    /// Appends one row (after the header when the file is empty) to the file for `wall`.
    fn write_row(&self, wall: SystemTime, totals: &Snmp) -> io::Result<()> {
        let path = self.file_path(wall);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("--snmplog {path}: {e}")))?;
        let mut text = String::new();
        // Like kcptun, a file whose size cannot be read gets no header.
        if file.metadata().is_ok_and(|m| m.len() == 0) {
            text.push_str(&Snmp::csv_header());
            text.push('\n');
        }
        let unix = wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        text.push_str(&totals.csv_row(unix));
        text.push('\n');
        file.write_all(text.as_bytes())
            .map_err(|e| io::Error::new(e.kind(), format!("--snmplog {path}: {e}")))
    }
}

/// Formats `wall` with a Go time layout, as Go's `time.Time.Format` does, in UTC.
///
/// kcptun formats with `time.Now()`, that is in Go's local zone (`TZ`, else
/// `/etc/localtime`, else UTC). Without a time zone database this function always uses UTC:
/// the names match kcptun's where the local zone is UTC (`TZ` unset with no
/// `/etc/localtime`, as on a stock OpenWrt, or `TZ=UTC`/`TZ=""`), and are UTC names
/// elsewhere. Accordingly `MST` prints `UTC`, the numeric zones `-0700`, `-07:00`, `-07`,
/// `-070000`, `-07:00:00` print `+0000`, `+00:00`, `+00`, `+000000`, `+00:00:00`, and the
/// ISO 8601 ones `Z0700`, `Z07:00`, `Z07`, `Z070000`, `Z07:00:00` print `Z`.
///
/// The tokens, recognised with Go's precedence (the layout is scanned left to right and the
/// first token starting at a position wins): `January`, `Jan` (not before a lower-case
/// letter), `Monday`, `Mon` (likewise), `MST`, `01`..`06` (zero-padded month, day, 12-hour,
/// minute, second, two-digit year), `002` (zero-padded day of year), `15`, `1` (month),
/// `2006`, `2` (day), `_2006` (a literal `_` and the year), `_2` (space-padded day), `__2`
/// (space-padded day of year), `3`, `4`, `5`, `PM`, `pm`, the zones above, and `.`
/// or `,` followed by a run of `0`s (that many fraction digits) or `9`s (the same with
/// trailing zeros removed) when no digit follows the run. Everything else is copied. Times
/// before 1970 are formatted as 1970-01-01 00:00:00 UTC.
pub fn go_time_format(layout: &str, wall: SystemTime) -> String {
    let since = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    let at = Moment::new(since);
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    while !rest.is_empty() {
        let (prefix, token, suffix) = next_token(rest);
        out.push_str(prefix);
        match token {
            Some(token) => at.push(&mut out, token),
            None => break,
        }
        rest = suffix;
    }
    out
}

/// One element of a Go layout (Go's `std*` constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// `January`.
    LongMonth,
    /// `Jan`.
    Month,
    /// `1`.
    NumMonth,
    /// `01`.
    ZeroMonth,
    /// `Monday`.
    LongWeekDay,
    /// `Mon`.
    WeekDay,
    /// `2`.
    Day,
    /// `_2`.
    UnderDay,
    /// `02`.
    ZeroDay,
    /// `__2`.
    UnderYearDay,
    /// `002`.
    ZeroYearDay,
    /// `15`.
    Hour,
    /// `3`.
    Hour12,
    /// `03`.
    ZeroHour12,
    /// `4`.
    Minute,
    /// `04`.
    ZeroMinute,
    /// `5`.
    Second,
    /// `05`.
    ZeroSecond,
    /// `2006`.
    LongYear,
    /// `06`.
    Year,
    /// `PM`.
    UpperPm,
    /// `pm`.
    LowerPm,
    /// `MST`.
    ZoneName,
    /// `Z0700`, `Z07:00`, `Z07`, `Z070000`, `Z07:00:00`: `Z` in UTC.
    IsoZone,
    /// A numeric zone (`-0700` ...): its UTC rendering.
    NumZone(&'static str),
    /// A fractional second: separator, digits, whether trailing zeros are dropped.
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

/// Go's `nextStdChunk`: the literal text before the first token of `layout`, the token (none
/// when there is none left), and the text after it.
fn next_token(layout: &str) -> (&str, Option<Token>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| b[i..].starts_with(s.as_bytes());
    let lower_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    // Every token starts and ends at ASCII bytes, so the slices below are on char boundaries.
    let found =
        |i: usize, len: usize, token: Token| (&layout[..i], Some(token), &layout[i + len..]);
    for i in 0..b.len() {
        match b[i] {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    return found(i, 7, Token::LongMonth);
                }
                if !lower_at(i + 3) {
                    return found(i, 3, Token::Month);
                }
            }
            b'M' => {
                if at(i, "Mon") {
                    if at(i, "Monday") {
                        return found(i, 6, Token::LongWeekDay);
                    }
                    if !lower_at(i + 3) {
                        return found(i, 3, Token::WeekDay);
                    }
                }
                if at(i, "MST") {
                    return found(i, 3, Token::ZoneName);
                }
            }
            b'0' => {
                const ZERO_X: [Token; 6] = [
                    Token::ZeroMonth,
                    Token::ZeroDay,
                    Token::ZeroHour12,
                    Token::ZeroMinute,
                    Token::ZeroSecond,
                    Token::Year,
                ];
                if let Some(&d @ b'1'..=b'6') = b.get(i + 1) {
                    return found(i, 2, ZERO_X[usize::from(d - b'1')]);
                }
                if at(i, "002") {
                    return found(i, 3, Token::ZeroYearDay);
                }
            }
            b'1' => {
                if at(i, "15") {
                    return found(i, 2, Token::Hour);
                }
                return found(i, 1, Token::NumMonth);
            }
            b'2' => {
                if at(i, "2006") {
                    return found(i, 4, Token::LongYear);
                }
                return found(i, 1, Token::Day);
            }
            b'_' => {
                if at(i, "_2") {
                    // `_2006` is a literal `_` and the long year.
                    if at(i, "_2006") {
                        return (&layout[..i + 1], Some(Token::LongYear), &layout[i + 5..]);
                    }
                    return found(i, 2, Token::UnderDay);
                }
                if at(i, "__2") {
                    return found(i, 3, Token::UnderYearDay);
                }
            }
            b'3' => return found(i, 1, Token::Hour12),
            b'4' => return found(i, 1, Token::Minute),
            b'5' => return found(i, 1, Token::Second),
            b'P' if at(i, "PM") => return found(i, 2, Token::UpperPm),
            b'p' if at(i, "pm") => return found(i, 2, Token::LowerPm),
            b'-' => {
                // Longest first, in Go's order.
                for (pattern, utc) in [
                    ("-070000", "+000000"),
                    ("-07:00:00", "+00:00:00"),
                    ("-0700", "+0000"),
                    ("-07:00", "+00:00"),
                    ("-07", "+00"),
                ] {
                    if at(i, pattern) {
                        return found(i, pattern.len(), Token::NumZone(utc));
                    }
                }
            }
            b'Z' => {
                for pattern in ["Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07"] {
                    if at(i, pattern) {
                        return found(i, pattern.len(), Token::IsoZone);
                    }
                }
            }
            separator @ (b'.' | b',') => {
                if let Some(&digit @ (b'0' | b'9')) = b.get(i + 1) {
                    let run = b[i + 1..].iter().take_while(|&&c| c == digit).count();
                    let end = i + 1 + run;
                    // The run must end the number: a fraction is all digits.
                    if !b.get(end).is_some_and(u8::is_ascii_digit) {
                        let token = Token::Fraction {
                            separator: char::from(separator),
                            digits: run,
                            trim: digit == b'9',
                        };
                        return found(i, 1 + run, token);
                    }
                }
            }
            _ => {}
        }
    }
    (layout, None, "")
}

/// A UTC time broken down into the fields a layout can print.
struct Moment {
    year: u64,
    /// 1..=12.
    month: u64,
    /// 1..=31.
    day: u64,
    /// Day of the year, 1..=366.
    year_day: u64,
    /// 0 = Sunday.
    week_day: u64,
    hour: u64,
    minute: u64,
    second: u64,
    nanos: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const WEEK_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl Moment {
    /// The moment `since` after 1970-01-01 00:00:00 UTC.
    fn new(since: Duration) -> Moment {
        let secs = since.as_secs();
        let days = secs / 86_400;
        let (year, month, day) = civil_date(days);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        // Days before each month in a common year.
        const BEFORE: [u64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let year_day = BEFORE[month as usize - 1] + day + u64::from(leap && month > 2);
        let rem = secs % 86_400;
        Moment {
            year,
            month,
            day,
            year_day,
            // 1970-01-01 was a Thursday.
            week_day: (days + 4) % 7,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            nanos: since.subsec_nanos(),
        }
    }

    /// Appends `token` rendered for this moment.
    fn push(&self, out: &mut String, token: Token) {
        use std::fmt::Write as _;
        let hour12 = match self.hour % 12 {
            0 => 12,
            h => h,
        };
        let month = MONTHS[self.month as usize - 1];
        let week_day = WEEK_DAYS[self.week_day as usize];
        // Writing to a String cannot fail.
        let _ = match token {
            Token::LongMonth => write!(out, "{month}"),
            Token::Month => write!(out, "{}", &month[..3]),
            Token::NumMonth => write!(out, "{}", self.month),
            Token::ZeroMonth => write!(out, "{:02}", self.month),
            Token::LongWeekDay => write!(out, "{week_day}"),
            Token::WeekDay => write!(out, "{}", &week_day[..3]),
            Token::Day => write!(out, "{}", self.day),
            Token::UnderDay => write!(out, "{:>2}", self.day),
            Token::ZeroDay => write!(out, "{:02}", self.day),
            Token::UnderYearDay => write!(out, "{:>3}", self.year_day),
            Token::ZeroYearDay => write!(out, "{:03}", self.year_day),
            Token::Hour => write!(out, "{:02}", self.hour),
            Token::Hour12 => write!(out, "{hour12}"),
            Token::ZeroHour12 => write!(out, "{hour12:02}"),
            Token::Minute => write!(out, "{}", self.minute),
            Token::ZeroMinute => write!(out, "{:02}", self.minute),
            Token::Second => write!(out, "{}", self.second),
            Token::ZeroSecond => write!(out, "{:02}", self.second),
            Token::LongYear => write!(out, "{:04}", self.year),
            Token::Year => write!(out, "{:02}", self.year % 100),
            Token::UpperPm => write!(out, "{}", if self.hour >= 12 { "PM" } else { "AM" }),
            Token::LowerPm => write!(out, "{}", if self.hour >= 12 { "pm" } else { "am" }),
            Token::ZoneName => write!(out, "UTC"),
            Token::IsoZone => write!(out, "Z"),
            Token::NumZone(utc) => write!(out, "{utc}"),
            Token::Fraction {
                separator,
                digits,
                trim,
            } => {
                let all = format!("{:09}", self.nanos);
                let mut shown = &all[..digits.min(9)];
                if trim {
                    shown = shown.trim_end_matches('0');
                    if shown.is_empty() {
                        return;
                    }
                }
                write!(out, "{separator}{shown}")
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    /// A fresh empty directory under the system temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("kcp-tunnel-snmp-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self, name: &str) -> String {
            format!("{}/{name}", self.0.display())
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    // Expected strings below were produced by Go 1.19's `time.Unix(s, ns).UTC().Format`.

    #[test]
    fn layout_tokens_format_like_go() {
        let cases: &[(u64, u32, &str, &str)] = &[
            (0, 0, "2006-01-02 15:04:05", "1970-01-01 00:00:00"),
            (
                0,
                0,
                "06 1 2 _2 3 03 4 5 PM pm",
                "70 1 1  1 12 12 0 0 AM am",
            ),
            (
                0,
                0,
                "Jan January Mon Monday MST",
                "Jan January Thu Thursday UTC",
            ),
            (0, 0, "002 __2", "001   1"),
            (
                951_827_696,
                120_000_000,
                "2006-01-02 15:04:05",
                "2000-02-29 12:34:56",
            ),
            (
                951_827_696,
                120_000_000,
                "06 1 2 _2 3 03 4 5 PM pm",
                "00 2 29 29 12 12 34 56 PM pm",
            ),
            (
                951_827_696,
                120_000_000,
                "Jan January Mon Monday MST",
                "Feb February Tue Tuesday UTC",
            ),
            (951_827_696, 120_000_000, "002 __2", "060  60"),
            (
                1_795_285_887,
                123_456_789,
                "06 1 2 _2 3 03 4 5 PM pm",
                "26 11 21 21 6 06 31 27 PM pm",
            ),
            (
                1_795_285_887,
                123_456_789,
                "Jan January Mon Monday MST",
                "Nov November Sat Saturday UTC",
            ),
            (1_795_285_887, 123_456_789, "002 __2", "325 325"),
            (
                1_136_214_245,
                500,
                "06 1 2 _2 3 03 4 5 PM pm",
                "06 1 2  2 3 03 4 5 PM pm",
            ),
            (
                1_136_214_245,
                500,
                "Jan January Mon Monday MST",
                "Jan January Mon Monday UTC",
            ),
            (
                1_704_067_199,
                0,
                "2006-01-02 15:04:05",
                "2023-12-31 23:59:59",
            ),
            (
                1_704_067_199,
                0,
                "Jan January Mon Monday MST",
                "Dec December Sun Sunday UTC",
            ),
            (1_704_067_199, 0, "002 __2", "365 365"),
            (
                1_709_251_199,
                999_999_999,
                "2006-01-02 15:04:05",
                "2024-02-29 23:59:59",
            ),
            (
                1_709_251_199,
                999_999_999,
                "Jan January Mon Monday MST",
                "Feb February Thu Thursday UTC",
            ),
        ];
        for &(secs, nanos, layout, want) in cases {
            assert_eq!(
                go_time_format(layout, at(secs, nanos)),
                want,
                "{layout} at {secs}"
            );
        }
    }

    #[test]
    fn zones_format_as_utc() {
        let layout = "-0700 -07:00 -07 -070000 -07:00:00 Z0700 Z07:00 Z07 Z070000 Z07:00:00";
        let want = "+0000 +00:00 +00 +000000 +00:00:00 Z Z Z Z Z";
        assert_eq!(go_time_format(layout, at(1_795_285_887, 0)), want);
        assert_eq!(
            go_time_format("Mon, 02 Jan 2006 15:04:05 MST", at(1_795_285_887, 0)),
            "Sat, 21 Nov 2026 18:31:27 UTC"
        );
    }

    #[test]
    fn fractional_seconds_format_like_go() {
        let layout = ".000 .999 ,000 ,999 .9 .000000000 .999999999";
        let cases: &[(u64, u32, &str)] = &[
            (0, 0, ".000  ,000   .000000000 "),
            (
                951_827_696,
                120_000_000,
                ".120 .12 ,120 ,12 .1 .120000000 .12",
            ),
            (
                1_795_285_887,
                123_456_789,
                ".123 .123 ,123 ,123 .1 .123456789 .123456789",
            ),
            (1_136_214_245, 500, ".000  ,000   .000000500 .0000005"),
            (
                1_709_251_199,
                999_999_999,
                ".999 .999 ,999 ,999 .9 .999999999 .999999999",
            ),
        ];
        for &(secs, nanos, want) in cases {
            assert_eq!(
                go_time_format(layout, at(secs, nanos)),
                want,
                "at {secs}.{nanos}"
            );
        }
        let rfc3339nano = "2006-01-02T15:04:05.999999999Z07:00";
        assert_eq!(
            go_time_format(rfc3339nano, at(0, 0)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            go_time_format(rfc3339nano, at(1_136_214_245, 500)),
            "2006-01-02T15:04:05.0000005Z"
        );
    }

    #[test]
    fn layout_precedence_follows_go() {
        // `_2006`, words that merely start like tokens, `0002`, a fraction run followed by a
        // digit (then `01` is a month), a dangling `.`.
        let layout = "_2006 Month Janx Monx 0002 0 07 .0001 x.";
        let cases: &[(u64, &str)] = &[
            (0, "_1970 Month Janx Monx 0001 0 07 .0001 x."),
            (951_827_696, "_2000 Month Janx Monx 0060 0 07 .0002 x."),
            (1_795_285_887, "_2026 Month Janx Monx 0325 0 07 .0011 x."),
        ];
        for &(secs, want) in cases {
            assert_eq!(go_time_format(layout, at(secs, 0)), want, "at {secs}");
        }
        // `Jan_2`, `___2` (a literal `_` then `__2`), `12` (month then day), `.99x`, `,00`.
        let layout = "Jan_2 ___2 3PM 12 .99x ,00";
        assert_eq!(go_time_format(layout, at(0, 0)), "Jan 1 _  1 12AM 11 x ,00");
        assert_eq!(
            go_time_format(layout, at(951_827_696, 120_000_000)),
            "Feb29 _ 60 12PM 229 .12x ,12"
        );
        assert_eq!(
            go_time_format(layout, at(1_795_285_887, 123_456_789)),
            "Nov21 _325 6PM 1121 .12x ,12"
        );
        let layout = "Ju 006 ZZ0700 --0700 P PMpm";
        assert_eq!(go_time_format(layout, at(0, 0)), "Ju 070 ZZ -+0000 P AMam");
        assert_eq!(
            go_time_format(layout, at(1_795_285_887, 0)),
            "Ju 026 ZZ -+0000 P PMpm"
        );
        // Non-ASCII text is copied.
        assert_eq!(go_time_format("ſnmp-ü-2006", at(0, 0)), "ſnmp-ü-1970");
        assert_eq!(go_time_format("", at(0, 0)), "");
    }

    #[test]
    fn kcptun_example_names_a_file_per_day() {
        let cases: &[(u64, &str)] = &[
            (0, "snmp-19700101.log"),
            (951_827_696, "snmp-20000229.log"),
            (1_704_067_199, "snmp-20231231.log"),
            (1_795_285_887, "snmp-20261121.log"),
        ];
        for &(secs, want) in cases {
            assert_eq!(go_time_format("snmp-20060102.log", at(secs, 0)), want);
        }
        assert_eq!(
            go_time_format("15h04m05s.csv", at(1_795_285_887, 0)),
            "18h31m27s.csv"
        );
    }

    #[test]
    fn directory_part_is_not_formatted() {
        let start = Instant::now();
        let log = SnmpLog::new(
            "/var/log/2006/01/snmp-20060102.log",
            Duration::from_secs(60),
            start,
        );
        assert_eq!(
            log.file_path(at(1_795_285_887, 0)),
            "/var/log/2006/01/snmp-20261121.log"
        );
        let log = SnmpLog::new("snmp-15.log", Duration::from_secs(60), start);
        assert_eq!(log.file_path(at(1_795_285_887, 0)), "snmp-18.log");
        let log = SnmpLog::new("./2006/", Duration::from_secs(60), start);
        assert_eq!(log.file_path(at(1_795_285_887, 0)), "./2006/");
    }

    #[test]
    fn rows_are_due_once_per_period() {
        let dir = TempDir::new();
        let start = Instant::now();
        let period = Duration::from_secs(60);
        let mut log = SnmpLog::new(&dir.path("s.csv"), period, start);
        assert_eq!(log.deadline(), start + period);
        let totals = Snmp::default();
        let wall = at(1_795_285_887, 0);
        assert!(!log.write_due(start, wall, &totals).unwrap());
        assert!(!log
            .write_due(start + period - Duration::from_millis(1), wall, &totals)
            .unwrap());
        assert!(log.write_due(start + period, wall, &totals).unwrap());
        assert_eq!(log.deadline(), start + 2 * period);
        assert!(!log.write_due(start + period, wall, &totals).unwrap());
        // A late caller gets one row, and the schedule keeps its phase.
        assert!(log
            .write_due(start + 5 * period + Duration::from_secs(1), wall, &totals)
            .unwrap());
        assert_eq!(log.deadline(), start + 6 * period);
        let text = fs::read_to_string(dir.path("s.csv")).unwrap();
        assert_eq!(text.lines().count(), 3);
        // A zero period is taken as a second.
        let log = SnmpLog::new(&dir.path("z.csv"), Duration::ZERO, start);
        assert_eq!(log.deadline(), start + Duration::from_secs(1));
    }

    #[test]
    fn header_only_once_and_rows_hold_totals() {
        let dir = TempDir::new();
        let start = Instant::now();
        let period = Duration::from_secs(10);
        let mut log = SnmpLog::new(&dir.path("snmp.csv"), period, start);
        let first = Snmp::from_values(std::array::from_fn(|i| i as u64 + 1));
        assert!(log.write_due(start + period, at(1_000, 0), &first).unwrap());
        let mut second = first;
        second.bytes_sent += 100;
        second.out_pkts += 7;
        assert!(log
            .write_due(start + 2 * period, at(1_010, 500), &second)
            .unwrap());
        let text = fs::read_to_string(dir.path("snmp.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(text.ends_with('\n'));
        assert_eq!(
            lines[0],
            "Unix,BytesSent,BytesReceived,MaxConn,ActiveOpens,PassiveOpens,CurrEstab,InErrs,\
             InCsumErrors,KCPInErrors,InPkts,OutPkts,InSegs,OutSegs,InBytes,OutBytes,\
             RetransSegs,FastRetransSegs,EarlyRetransSegs,LostSegs,RepeatSegs,\
             FECParityShards,FECErrs,FECRecovered,FECShortShards"
        );
        assert_eq!(
            lines[1],
            "1000,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24"
        );
        // kcptun never resets its counters: the second row holds totals, not deltas.
        assert_eq!(
            lines[2],
            "1010,101,2,3,4,5,6,7,8,9,10,18,12,13,14,15,16,17,18,19,20,21,22,23,24"
        );

        // A new writer on the same, non-empty file appends without a second header.
        let mut again = SnmpLog::new(&dir.path("snmp.csv"), period, start);
        assert!(again
            .write_due(start + period, at(1_020, 0), &second)
            .unwrap());
        let text = fs::read_to_string(dir.path("snmp.csv")).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(text.matches("Unix,").count(), 1);
    }

    #[test]
    fn file_name_rolls_with_the_layout() {
        let dir = TempDir::new();
        let start = Instant::now();
        let period = Duration::from_secs(3600);
        let mut log = SnmpLog::new(&dir.path("snmp-20060102.log"), period, start);
        let totals = Snmp::from_values([5; 24]);
        // 2023-12-31 22:59:59 and 23:59:59, then 2024-01-01 00:59:59 UTC.
        let walls = [1_704_063_599, 1_704_067_199, 1_704_070_799];
        for (k, &wall) in walls.iter().enumerate() {
            let now = start + period * (k as u32 + 1);
            assert!(log.write_due(now, at(wall, 0), &totals).unwrap());
        }
        let old = fs::read_to_string(dir.path("snmp-20231231.log")).unwrap();
        let new = fs::read_to_string(dir.path("snmp-20240101.log")).unwrap();
        assert_eq!(old.lines().count(), 3, "{old}");
        assert!(old.lines().nth(1).unwrap().starts_with("1704063599,5,"));
        assert!(old.lines().nth(2).unwrap().starts_with("1704067199,5,"));
        // The new file starts with its own header.
        assert_eq!(new.lines().count(), 2, "{new}");
        assert!(new.starts_with("Unix,BytesSent,"));
        assert!(new.lines().nth(1).unwrap().starts_with("1704070799,5,"));
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 2);
    }

    #[test]
    fn unwritable_file_is_an_error_and_the_schedule_moves_on() {
        let dir = TempDir::new();
        let start = Instant::now();
        let period = Duration::from_secs(60);
        let mut log = SnmpLog::new(&dir.path("missing/snmp.csv"), period, start);
        let err = log
            .write_due(start + period, at(0, 0), &Snmp::default())
            .unwrap_err();
        assert!(err.to_string().contains("missing/snmp.csv"), "{err}");
        assert_eq!(log.deadline(), start + 2 * period);
    }
}
