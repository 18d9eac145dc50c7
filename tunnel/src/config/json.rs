//! `-c file.json`: kcptun's JSON configuration files, read the way kcptun reads them.
//!
//! kcptun decodes the file with Go's `encoding/json` over the values the flags produced, so:
//!
//! - a key present in the file overrides the flag (or default); absent keys leave it alone;
//! - keys are the flags' long names (`datashard`, not `ds`) and match case-insensitively;
//! - keys apply in file order, so of two that name the same flag (`"mtu"` and `"MTU"` too)
//!   the later wins;
//! - `null` leaves the value alone, as Go does for a plain field;
//! - an integer key takes a number without fraction or exponent that fits in 64 bits (`-0`
//!   is 0; `1.0` and `1e3` are refused, as Go refuses them for an `int` field);
//! - strings decode as Go decodes them: a lone `\uD800` surrogate and each byte of invalid
//!   UTF-8 become U+FFFD;
//! - only the first JSON value of the file is read; anything after it is ignored.
//!
//! Where kcptun is silent we speak: a value of the wrong type is an error naming the key and
//! the file (Go's decoder fails too, with a less direct message), and a key this subcommand
//! does not know is a warning (a later kcptun's file may carry keys of its own), not an error.
//! A syntax error names the line and column. Files over 1 MiB are refused, and arrays and
//! objects may nest 128 deep (Go: 10000), so a hostile file cannot exhaust memory or stack.
//!
//! The parser is [`value`], our own: small, and without floating point.

mod value;

use super::cli::{ClientArgs, CommonArgs, ServerArgs};
use super::ConfigError;
use std::io::Read;
use std::path::Path;
use value::Value;

/// The largest configuration file read.
const MAX_FILE_SIZE: u64 = 1 << 20;

/// Where one JSON key's value goes, with the type it must have.
pub(crate) enum Slot<'a> {
    /// A JSON string.
    Str(&'a mut String),
    /// A JSON string, for a flag that tells "not given" apart.
    OptStr(&'a mut Option<String>),
    /// A JSON number without fraction that fits Go's 64-bit `int`.
    Int(&'a mut i64),
    /// `true` or `false`.
    Bool(&'a mut bool),
}

/// A set of flags a JSON file can override.
pub(crate) trait Keys {
    /// The field of a lower-case key, or `None` if this command has no such key.
    fn slot(&mut self, key: &str) -> Option<Slot<'_>>;
}

impl CommonArgs {
    fn slot(&mut self, key: &str) -> Option<Slot<'_>> {
        Some(match key {
            "key" => Slot::OptStr(&mut self.key),
            "crypt" => Slot::Str(&mut self.crypt),
            "mode" => Slot::Str(&mut self.mode),
            "mtu" => Slot::Int(&mut self.mtu),
            "datashard" => Slot::Int(&mut self.datashard),
            "parityshard" => Slot::Int(&mut self.parityshard),
            "dscp" => Slot::Int(&mut self.dscp),
            "nocomp" => Slot::Bool(&mut self.nocomp),
            "acknodelay" => Slot::Bool(&mut self.acknodelay),
            "nodelay" => Slot::Int(&mut self.nodelay),
            "interval" => Slot::Int(&mut self.interval),
            "resend" => Slot::Int(&mut self.resend),
            "nc" => Slot::Int(&mut self.nc),
            "sockbuf" => Slot::Int(&mut self.sockbuf),
            "smuxver" => Slot::Int(&mut self.smuxver),
            "smuxbuf" => Slot::Int(&mut self.smuxbuf),
            "streambuf" => Slot::Int(&mut self.streambuf),
            "keepalive" => Slot::Int(&mut self.keepalive),
            "snmplog" => Slot::Str(&mut self.snmplog),
            "snmpperiod" => Slot::Int(&mut self.snmpperiod),
            "log" => Slot::Str(&mut self.log),
            "quiet" => Slot::Bool(&mut self.quiet),
            "tcp" => Slot::Bool(&mut self.tcp),
            _ => return None,
        })
    }
}

impl Keys for ClientArgs {
    fn slot(&mut self, key: &str) -> Option<Slot<'_>> {
        Some(match key {
            "localaddr" => Slot::Str(&mut self.localaddr),
            "remoteaddr" => Slot::Str(&mut self.remoteaddr),
            "conn" => Slot::Int(&mut self.conn),
            "autoexpire" => Slot::Int(&mut self.autoexpire),
            "scavengettl" => Slot::Int(&mut self.scavengettl),
            "sndwnd" => Slot::Int(&mut self.sndwnd),
            "rcvwnd" => Slot::Int(&mut self.rcvwnd),
            _ => return self.common.slot(key),
        })
    }
}

impl Keys for ServerArgs {
    fn slot(&mut self, key: &str) -> Option<Slot<'_>> {
        Some(match key {
            "listen" => Slot::Str(&mut self.listen),
            "target" => Slot::Str(&mut self.target),
            "sndwnd" => Slot::Int(&mut self.sndwnd),
            "rcvwnd" => Slot::Int(&mut self.rcvwnd),
            "pprof" => Slot::Bool(&mut self.pprof),
            _ => return self.common.slot(key),
        })
    }
}

/// Folds a key the way Go's `encoding/json` compares field names: ASCII case-insensitively,
/// plus the two non-ASCII letters Unicode folds onto ASCII ones (KELVIN SIGN onto `k`, LONG S
/// onto `s`).
fn fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{212A}' => 'k',
            '\u{17F}' => 's',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A JSON value, for an error message.
fn describe(value: &Value<'_>) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) if n.len() > 40 => "a number".to_owned(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => "a string".to_owned(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Reads `path` and applies its keys to `args`; unknown keys add to `warnings`.
pub(crate) fn apply_file<T: Keys>(
    path: &Path,
    args: &mut T,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let file = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes))
        .map_err(|e| ConfigError::Invalid(format!("-c {file}: cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ConfigError::Invalid(format!(
            "-c {file}: larger than 1 MiB, too large for a configuration file"
        )));
    }
    apply_bytes(&file.to_string(), &bytes, args, warnings)
}

/// Applies the JSON `text` (read from `file`, which messages name) to `args`.
pub(crate) fn apply_bytes<T: Keys>(
    file: &str,
    text: &[u8],
    args: &mut T,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError::Invalid(format!("-c {file}: {message}"));
    // Like Go's json.Decoder: the first value only.
    let members = match value::parse_first(text) {
        Ok(None) => return Err(error("empty file, expected a JSON object".to_owned())),
        Err(e) => return Err(error(format!("invalid JSON at {e}"))),
        Ok(Some(Value::Object(members))) => members,
        Ok(Some(other)) => {
            return Err(error(format!(
                "expected a JSON object, found {}",
                describe(&other)
            )))
        }
    };
    for (key, value) in members {
        let Some(slot) = args.slot(&fold(&key)) else {
            let warning = format!("-c {file}: unknown key {key:?} ignored");
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
            continue;
        };
        let expected = match (slot, value) {
            (_, Value::Null) => continue,
            (Slot::Str(field), Value::String(s)) => {
                *field = s;
                continue;
            }
            (Slot::OptStr(field), Value::String(s)) => {
                *field = Some(s);
                continue;
            }
            (Slot::Bool(field), Value::Bool(b)) => {
                *field = b;
                continue;
            }
            (Slot::Int(field), Value::Number(n)) => match value::integer(n) {
                Some(i) => {
                    *field = i;
                    continue;
                }
                // No fraction or exponent: too large.
                None if n.bytes().all(|b| b == b'-' || b.is_ascii_digit()) => {
                    ("a 64-bit integer", Value::Number(n))
                }
                None => ("an integer", Value::Number(n)),
            },
            (Slot::Str(_) | Slot::OptStr(_), value) => ("a string", value),
            (Slot::Bool(_), value) => ("true or false", value),
            (Slot::Int(_), value) => ("an integer", value),
        };
        return Err(error(format!(
            "key {key:?} must be {}, not {}",
            expected.0,
            describe(&expected.1)
        )));
    }
    Ok(())
}

/// [`apply_bytes`] on a string.
#[cfg(test)]
fn apply_str<T: Keys>(
    file: &str,
    text: &str,
    args: &mut T,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    apply_bytes(file, text.as_bytes(), args, warnings)
}

#[cfg(test)]
mod tests {
    use super::super::cli::Cli;
    use super::*;
    use clap::Parser;

    fn client() -> ClientArgs {
        match Cli::parse_from(["kt", "client"]).command {
            super::super::cli::CliCommand::Client(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_json_overrides_and_folds_case() {
        let mut args = client();
        let mut warnings = Vec::new();
        let text = r#"{"MTU": 1200, "Key": "k", "NoComp": true, "ſnmplog": "x", "mode": null,
                       "DataShard": 0, "remoteaddr": "h:1"} trailing junk is ignored"#;
        apply_str("f.json", text, &mut args, &mut warnings).unwrap();
        assert_eq!(args.common.mtu, 1200);
        assert_eq!(args.common.key.as_deref(), Some("k"));
        assert!(args.common.nocomp);
        assert_eq!(args.common.snmplog, "x");
        assert_eq!(args.common.mode, "fast");
        assert_eq!(args.common.datashard, 0);
        assert_eq!(args.remoteaddr, "h:1");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn config_json_errors_name_file_and_key() {
        let cases = [
            (r#"{"mtu": "1350"}"#, "\"mtu\""),
            (r#"{"mtu": 1350.5}"#, "\"mtu\""),
            (r#"{"conn": 99999999999999999999}"#, "\"conn\""),
            (r#"{"nocomp": 1}"#, "\"nocomp\""),
            (r#"{"key": 5}"#, "\"key\""),
            (r#"{"mode": ["fast"]}"#, "\"mode\""),
            (r#"[1]"#, "JSON object"),
            (r#"{"mtu": }"#, "invalid JSON"),
            ("  ", "empty"),
        ];
        for (text, needle) in cases {
            let mut args = client();
            let error = apply_str("dir/f.json", text, &mut args, &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("-c dir/f.json: "), "{error}");
            assert!(error.contains(needle), "{text}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn config_json_unknown_keys_warn() {
        let mut args = client();
        let mut warnings = Vec::new();
        // "target" is a server key; "QPP" a later kcptun's.
        let text = r#"{"target": "x:1", "QPP": true, "mtu": 1000}"#;
        apply_str("f.json", text, &mut args, &mut warnings).unwrap();
        assert_eq!(args.common.mtu, 1000);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("\"QPP\"")));
        assert!(warnings.iter().any(|w| w.contains("\"target\"")));
        assert!(warnings.iter().all(|w| w.contains("f.json")));
    }

    #[test]
    fn config_json_keys_apply_in_file_order() {
        let mtu = |text: &str| {
            let mut args = client();
            apply_str("f.json", text, &mut args, &mut Vec::new()).unwrap();
            args.common.mtu
        };
        // Go's decoder: each key in turn, whatever its case; the later wins.
        assert_eq!(mtu(r#"{"mtu": 1000, "MTU": 1200}"#), 1200);
        assert_eq!(mtu(r#"{"MTU": 1000, "mtu": 1200}"#), 1200);
        assert_eq!(mtu(r#"{"mtu": 1000, "Mtu": 1100, "mtu": 1200}"#), 1200);
        assert_eq!(mtu(r#"{"mtu": 1000, "mtu": 1200}"#), 1200);
        // null leaves the value the earlier key gave.
        assert_eq!(mtu(r#"{"mtu": 1000, "MTU": null}"#), 1000);

        // A wrong type is an error even if a later key would set a good value; the first one
        // in the file is named.
        let mut args = client();
        let text = r#"{"mtu": "x", "nocomp": 1, "mtu": 1000}"#;
        let error = apply_str("f.json", text, &mut args, &mut Vec::new()).unwrap_err();
        assert!(error
            .to_string()
            .contains("key \"mtu\" must be an integer, not the string \"x\""));

        // One warning per unknown key, in file order.
        let mut args = client();
        let mut warnings = Vec::new();
        let text = r#"{"zz": 1, "QPP": 1, "zz": 2, "QPP": null}"#;
        apply_str("f.json", text, &mut args, &mut warnings).unwrap();
        assert_eq!(
            warnings,
            [
                "-c f.json: unknown key \"zz\" ignored",
                "-c f.json: unknown key \"QPP\" ignored"
            ]
        );
    }

    #[test]
    fn config_json_integers_like_go() {
        let apply = |text: &str| {
            let mut args = client();
            apply_str("f.json", text, &mut args, &mut Vec::new())
                .map(|()| args.conn)
                .map_err(|e| e.to_string())
        };
        assert_eq!(apply(r#"{"conn": -0}"#), Ok(0));
        assert_eq!(apply(r#"{"conn": 7}"#), Ok(7));
        assert_eq!(apply(r#"{"conn": -9223372036854775808}"#), Ok(i64::MIN));
        assert_eq!(apply(r#"{"conn": 9223372036854775807}"#), Ok(i64::MAX));
        for (number, expected) in [
            ("1e3", "an integer, not the number 1e3"),
            ("1.0", "an integer, not the number 1.0"),
            ("-0.0", "an integer, not the number -0.0"),
            ("1.5E-2", "an integer, not the number 1.5E-2"),
            (
                "9223372036854775808",
                "a 64-bit integer, not the number 9223372036854775808",
            ),
            (
                "-9223372036854775809",
                "a 64-bit integer, not the number -9223372036854775809",
            ),
            (&"9".repeat(41), "a 64-bit integer, not a number"),
        ] {
            assert_eq!(
                apply(&format!("{{\"conn\": {number}}}")),
                Err(format!("-c f.json: key \"conn\" must be {expected}")),
            );
        }
    }

    #[test]
    fn config_json_strings_decode_like_go() {
        let key = |text: &[u8]| {
            let mut args = client();
            apply_bytes("f.json", text, &mut args, &mut Vec::new()).unwrap();
            args.common.key.unwrap()
        };
        assert_eq!(
            key(br#"{"key": "a\"\\\/\t\u00e9\ud83d\ude00"}"#),
            "a\"\\/\té😀"
        );
        // Lone surrogates and invalid UTF-8: U+FFFD, as Go decodes them.
        assert_eq!(
            key(br#"{"key": "\ud800\udc00\udc00\ud800x"}"#),
            "\u{10000}\u{FFFD}\u{FFFD}x"
        );
        assert_eq!(
            key(b"{\"key\": \"a\xffb\xe2\x82\"}"),
            "a\u{FFFD}b\u{FFFD}\u{FFFD}"
        );
        // What follows the first value is not read, whatever it is.
        assert_eq!(key(b"{\"key\": \"k\"}\xff\xfe{\"key\": 1"), "k");
    }

    #[test]
    fn config_json_syntax_errors_name_line_and_column() {
        let deep = format!("{{\"a\":{}", "[".repeat(200));
        let cases: [(&[u8], &str); 6] = [
            (
                b"{\"mtu\":\n  }",
                "line 2, column 3: expected a value, found '}'",
            ),
            (
                b"{\"mtu\": 1,}",
                "line 1, column 11: trailing comma before '}'",
            ),
            (
                b"{\"mtu\": 01}",
                "line 1, column 10: a number cannot have leading zeros",
            ),
            (
                b"{\"key\": \"\xc3\xa9\n\"}",
                "line 1, column 11: unescaped control character in a string, found '\\n'",
            ),
            (
                b"\xef\xbb\xbf{}",
                "line 1, column 1: expected a value, found '\\u{feff}'",
            ),
            (
                deep.as_bytes(),
                "line 1, column 133: arrays and objects nested more than 128 deep",
            ),
        ];
        for (text, message) in cases {
            let mut args = client();
            let error = apply_bytes("dir/f.json", text, &mut args, &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert_eq!(error, format!("-c dir/f.json: invalid JSON at {message}"));
        }
    }

    #[test]
    fn config_json_file_size_is_bounded() {
        let path =
            std::env::temp_dir().join(format!("kcp-tunnel-json-size-{}.json", std::process::id()));
        let mut text = b"{\"key\": \"\xff\"}".to_vec();
        text.resize(MAX_FILE_SIZE as usize, b' ');
        std::fs::write(&path, &text).unwrap();
        let mut args = client();
        let ok = apply_file(&path, &mut args, &mut Vec::new());
        text.push(b' ');
        std::fs::write(&path, &text).unwrap();
        let too_large = apply_file(&path, &mut client(), &mut Vec::new());
        let _ = std::fs::remove_file(&path);

        ok.unwrap();
        assert_eq!(args.common.key.as_deref(), Some("\u{FFFD}"));
        let error = too_large.unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "-c {}: larger than 1 MiB, too large for a configuration file",
                path.display()
            )
        );
    }
}
