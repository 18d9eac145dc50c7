//! `-c file.json`: kcptun's JSON configuration files, read the way kcptun reads them.
//!
//! kcptun decodes the file with Go's `encoding/json` over the values the flags produced, so:
//!
//! - a key present in the file overrides the flag (or default); absent keys leave it alone;
//! - keys are the flags' long names (`datashard`, not `ds`) and match case-insensitively;
//! - `null` leaves the value alone, as Go does for a plain field;
//! - only the first JSON value of the file is read; anything after it is ignored.
//!
//! Where kcptun is silent we speak: a value of the wrong type is an error naming the key and
//! the file (Go's decoder fails too, with a less direct message), and a key this subcommand
//! does not know is a warning (a later kcptun's file may carry keys of its own), not an error.

use super::cli::{ClientArgs, CommonArgs, ServerArgs};
use super::ConfigError;
use serde_json::Value;
use std::path::Path;

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
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Invalid(format!("-c {file}: cannot read: {e}")))?;
    apply_str(&file.to_string(), &text, args, warnings)
}

/// Applies the JSON `text` (read from `file`, which messages name) to `args`.
pub(crate) fn apply_str<T: Keys>(
    file: &str,
    text: &str,
    args: &mut T,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError::Invalid(format!("-c {file}: {message}"));
    // Like Go's json.Decoder: the first value only.
    let map = match serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
    {
        None => return Err(error("empty file, expected a JSON object".to_owned())),
        Some(Err(e)) => return Err(error(format!("invalid JSON: {e}"))),
        Some(Ok(Value::Object(map))) => map,
        Some(Ok(other)) => {
            return Err(error(format!(
                "expected a JSON object, found {}",
                describe(&other)
            )))
        }
    };
    for (key, value) in map {
        let Some(slot) = args.slot(&fold(&key)) else {
            warnings.push(format!("-c {file}: unknown key {key:?} ignored"));
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
            (Slot::Int(field), Value::Number(n)) if n.as_i64().is_some() => {
                *field = n.as_i64().unwrap_or_default();
                continue;
            }
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
}
