//! kcptun's `-c` JSON configuration files go through the tunnel's own parser,
//! `tunnel/src/config/json/value.rs`, included here as it is (the module is private to the
//! crate and needs nothing from it).
//!
//! Any bytes must parse or fail without panicking; an error is one line and points inside the
//! input. A parsed value, written back as JSON, must parse to the same value and be written the
//! same way again; an object, array or string is the same value whatever bytes follow it (only
//! the first value is read); and a number converts to `i64` exactly when it is an integer in
//! range.

#![no_main]

#[path = "../../tunnel/src/config/json/value.rs"]
mod value;

use libfuzzer_sys::fuzz_target;
use value::{integer, parse_first, Value};

/// Every number in `value` converts to `i64` exactly when it should, to the value it writes.
fn check_numbers(value: &Value<'_>) {
    match value {
        Value::Number(n) => match integer(n) {
            Some(i) => assert_eq!(i.to_string(), if *n == "-0" { "0" } else { *n }),
            None => assert!(
                n.contains(['.', 'e', 'E'])
                    || n.parse::<i128>()
                        .map_or(true, |v| i64::try_from(v).is_err()),
                "{n} refused"
            ),
        },
        Value::Array(elements) => elements.iter().for_each(check_numbers),
        Value::Object(members) => members.iter().for_each(|(_, v)| check_numbers(v)),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_first(data) {
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains(['\n', '\r']), "{message:?}");
            let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
            assert!(e.line >= 1 && e.line <= lines, "{message}");
            assert!(e.column >= 1 && e.column <= data.len() + 1, "{message}");
        }
        Ok(None) => assert!(data.iter().all(|b| b" \t\r\n".contains(b))),
        Ok(Some(value)) => {
            let written = value.to_string();
            let again = parse_first(written.as_bytes());
            assert_eq!(again.as_ref(), Ok(&Some(value.clone())), "{written}");
            if let Ok(Some(again)) = again {
                assert_eq!(again.to_string(), written);
            }
            if let Value::Object(_) | Value::Array(_) | Value::String(_) = value {
                let mut followed = written.clone().into_bytes();
                followed.extend_from_slice(data);
                assert_eq!(parse_first(&followed), Ok(Some(value.clone())));
            }
            check_numbers(&value);
        }
    }
});
