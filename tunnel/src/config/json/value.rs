//! A small JSON parser (RFC 8259) for configuration files, decoding strings the way Go's
//! `encoding/json` does.
//!
//! - Only the first value is read; whatever follows it is never looked at (Go's
//!   `json.Decoder.Decode`, which kcptun uses on its `-c` file).
//! - Objects keep their members in file order, duplicates included: the caller applies them in
//!   order, so the later one wins.
//! - Numbers are kept as their source text, checked against the grammar (no leading zeros,
//!   digits after `.` and `e`); [`integer`] converts the ones without fraction or exponent.
//!   Nothing here uses floating point.
//! - Strings: every escape, `\uXXXX` surrogate pairs combined; a surrogate that is not half
//!   of a pair becomes U+FFFD, and so does each byte of invalid UTF-8 (as Go does).
//! - Arrays and objects nest at most [`MAX_DEPTH`] deep, so a hostile file cannot exhaust the
//!   stack; the caller bounds the input's size.
//! - Errors are one line, with the line and column (in characters) where the problem is.
//!
//! Self-contained (nothing from the crate) so the fuzz target can include it as it is.

use std::fmt;

/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

/// A JSON value. `Display` writes it back as compact JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written in the input (valid JSON number syntax).
    Number(&'a str),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object's members in input order, duplicate keys included.
    Object(Vec<(String, Value<'a>)>),
}

/// Where and why the input is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, one line.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parses the first JSON value in `input` (after any whitespace); the bytes after it are not
/// read. `None` if `input` is empty or only whitespace.
pub fn parse_first(input: &[u8]) -> Result<Option<Value<'_>>, SyntaxError> {
    let mut parser = Parser { input, pos: 0 };
    parser.skip_whitespace();
    if parser.peek().is_none() {
        return Ok(None);
    }
    parser.value(0).map(Some)
}

/// The value of a JSON `number` without fraction or exponent that fits in an `i64` (what Go's
/// `json.Unmarshal` accepts for an `int64` field: `-0` is 0; `1.0`, `1e3` and
/// `9223372036854775808` are refused).
pub fn integer(number: &str) -> Option<i64> {
    if number.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return None;
    }
    number.parse().ok()
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// An error at byte offset `at`.
    fn error_at(&self, at: usize, message: String) -> SyntaxError {
        let before = self.input.get(..at).unwrap_or(self.input);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        // Characters: every byte but UTF-8 continuation bytes.
        let column = 1 + before
            .iter()
            .rev()
            .take_while(|&&b| b != b'\n')
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        SyntaxError {
            line,
            column,
            message,
        }
    }

    /// "`expected`, found <what is at the current position>".
    fn fail<T>(&self, expected: &str) -> Result<T, SyntaxError> {
        Err(self.error_at(self.pos, format!("{expected}, found {}", self.found())))
    }

    /// The character at the current position, for a message (quoted and escaped: one line).
    fn found(&self) -> String {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let Some(&first) = rest.first() else {
            return "end of file".to_owned();
        };
        let head = &rest[..rest.len().min(4)];
        let valid = match std::str::from_utf8(head) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        };
        match valid.chars().next() {
            Some(c) => format!("{c:?}"),
            None => format!("byte 0x{first:02x}"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail("expected a value"),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error_at(
                self.pos,
                format!("arrays and objects nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    /// At `{`.
    fn object(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_whitespace();
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                Some(b'}') if !members.is_empty() => {
                    return Err(self.error_at(self.pos, "trailing comma before '}'".to_owned()))
                }
                _ if members.is_empty() => return self.fail("expected a string key or '}'"),
                _ => return self.fail("expected a string key"),
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return self.fail("expected ':' after an object key");
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return self.fail("expected ',' or '}' after an object member"),
            }
        }
    }

    /// At `[`.
    fn array(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_whitespace();
        let mut elements = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(elements));
        }
        loop {
            if self.peek() == Some(b']') {
                return Err(self.error_at(self.pos, "trailing comma before ']'".to_owned()));
            }
            elements.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(elements));
                }
                _ => return self.fail("expected ',' or ']' after an array element"),
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, SyntaxError> {
        for expected in word.bytes() {
            if self.peek() != Some(expected) {
                return self.fail(&format!("expected {word}"));
            }
            self.pos += 1;
        }
        Ok(value)
    }

    /// Skips digits; whether there was at least one.
    fn digits(&mut self) -> bool {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }

    /// At `-` or a digit.
    fn number(&mut self) -> Result<Value<'a>, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(
                        self.error_at(self.pos, "a number cannot have leading zeros".to_owned())
                    );
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail("expected a digit after '-'"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.digits() {
                return self.fail("expected a digit after the decimal point");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.digits() {
                return self.fail("expected a digit in the exponent");
            }
        }
        let text = self.input.get(start..self.pos).unwrap_or_default();
        // ASCII by construction.
        std::str::from_utf8(text)
            .map(Value::Number)
            .map_err(|_| self.error_at(start, "invalid number".to_owned()))
    }

    /// At `"`.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            push_utf8_lossy(&mut out, self.input.get(run..self.pos).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return self.fail("unescaped control character in a string"),
                None => {
                    return Err(self.error_at(
                        open,
                        "string not closed before the end of the file".to_owned(),
                    ))
                }
            }
        }
    }

    /// At `\`.
    fn escape(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                // Go: a high surrogate followed by an escaped low one is a pair; any other
                // surrogate is U+FFFD, and what follows it is read on its own.
                if (0xD800..0xDC00).contains(&unit) && self.input.get(self.pos) == Some(&b'\\') {
                    let mut next = Parser {
                        input: self.input,
                        pos: self.pos + 1,
                    };
                    if next.peek() == Some(b'u') {
                        next.pos += 1;
                        if let Ok(low @ 0xDC00..=0xDFFF) = next.hex4() {
                            let pair = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            out.push(char::from_u32(pair).unwrap_or('\u{FFFD}'));
                            self.pos = next.pos;
                            return Ok(());
                        }
                    }
                }
                out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                return Ok(());
            }
            _ => return self.fail("expected an escape (one of \"\\/bfnrtu) after '\\'"),
        };
        out.push(c);
        self.pos += 1;
        Ok(())
    }

    /// Four hex digits, consumed.
    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return self.fail("expected 4 hex digits after '\\u'"),
            };
            unit = unit << 4 | u32::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }
}

/// Appends `bytes`, each byte of an invalid UTF-8 sequence as U+FFFD (Go's decoding, which
/// differs from `String::from_utf8_lossy`'s one U+FFFD per maximal bad sequence).
fn push_utf8_lossy(out: &mut String, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => return out.push_str(s),
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                // Lead and continuation bytes: Go replaces each on its own.
                let bad = e.error_len().unwrap_or(rest.len());
                out.extend(std::iter::repeat_n('\u{FFFD}', bad));
                bytes = rest.get(bad..).unwrap_or_default();
            }
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Compact JSON that parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(n),
            Value::String(s) => write_string(f, s),
            Value::Array(elements) => {
                f.write_str("[")?;
                for (i, element) in elements.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{element}")?;
                }
                f.write_str("]")
            }
            Value::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_string(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c < ' ' => write!(f, "\\u{:04x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value<'_> {
        match parse_first(text.as_bytes()) {
            Ok(Some(value)) => value,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn error(text: &[u8]) -> String {
        match parse_first(text) {
            Err(e) => {
                let message = e.to_string();
                assert!(!message.contains(['\n', '\r']), "{message}");
                message
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn string(text: &[u8]) -> String {
        match parse_first(text) {
            Ok(Some(Value::String(s))) => s,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn json_syntax_values() {
        assert_eq!(parse("null"), Value::Null);
        assert_eq!(parse(" \t\r\ntrue "), Value::Bool(true));
        assert_eq!(parse("false"), Value::Bool(false));
        assert_eq!(parse("[]"), Value::Array(vec![]));
        assert_eq!(parse("{ }"), Value::Object(vec![]));
        assert_eq!(
            parse(r#" { "a" : [1, "x", null, {}], "a": -2 , "b":{"c":[[]]} } "#),
            Value::Object(vec![
                (
                    "a".to_owned(),
                    Value::Array(vec![
                        Value::Number("1"),
                        Value::String("x".to_owned()),
                        Value::Null,
                        Value::Object(vec![]),
                    ])
                ),
                ("a".to_owned(), Value::Number("-2")),
                (
                    "b".to_owned(),
                    Value::Object(vec![(
                        "c".to_owned(),
                        Value::Array(vec![Value::Array(vec![])])
                    )])
                ),
            ])
        );
        assert_eq!(parse_first(b""), Ok(None));
        assert_eq!(parse_first(b" \n\t\r "), Ok(None));
    }

    #[test]
    fn json_syntax_numbers() {
        for text in [
            "0",
            "-0",
            "1",
            "-1",
            "10",
            "1.5",
            "-0.0",
            "0.25",
            "1e5",
            "1E5",
            "1e+5",
            "1e-5",
            "1.5e-07",
            "-12.34E+56",
            "123456789012345678901234567890",
        ] {
            assert_eq!(parse(text), Value::Number(text));
        }
        assert_eq!(integer("0"), Some(0));
        assert_eq!(integer("-0"), Some(0));
        assert_eq!(integer("1350"), Some(1350));
        assert_eq!(integer("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(integer("9223372036854775807"), Some(i64::MAX));
        for text in [
            "9223372036854775808",
            "-9223372036854775809",
            "1.0",
            "1.5",
            "1e3",
        ] {
            assert_eq!(integer(text), None, "{text}");
        }
        for (text, message) in [
            ("01", "line 1, column 2: a number cannot have leading zeros"),
            (
                "-01",
                "line 1, column 3: a number cannot have leading zeros",
            ),
            ("00", "a number cannot have leading zeros"),
            ("-", "expected a digit after '-', found end of file"),
            ("-a", "expected a digit after '-', found 'a'"),
            ("+1", "expected a value, found '+'"),
            (".5", "expected a value, found '.'"),
            (
                "1.",
                "expected a digit after the decimal point, found end of file",
            ),
            (
                "1.e5",
                "expected a digit after the decimal point, found 'e'",
            ),
            ("1e", "expected a digit in the exponent, found end of file"),
            ("1e+", "expected a digit in the exponent, found end of file"),
            (
                "[1e-x]",
                "line 1, column 5: expected a digit in the exponent, found 'x'",
            ),
        ] {
            let got = error(text.as_bytes());
            assert!(got.contains(message), "{text}: {got}");
        }
        // The number ends where the grammar does; what follows the first value is not read.
        assert_eq!(parse("1x"), Value::Number("1"));
        assert_eq!(parse("0 1"), Value::Number("0"));
        assert_eq!(parse("-0.5e1,"), Value::Number("-0.5e1"));
    }

    #[test]
    fn json_syntax_escapes() {
        assert_eq!(
            string(br#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#),
            "\"\\/\u{8}\u{c}\n\r\t\u{41}\u{e9}\u{20ac}"
        );
        assert_eq!(string(br#""\u0000""#), "\0");
        assert_eq!(string("\"é😀\"".as_bytes()), "é😀");
        // Surrogate pairs, any hex case.
        assert_eq!(string(br#""\ud83d\ude00""#), "😀");
        assert_eq!(string(br#""\uD83D\uDE00x""#), "😀x");
        assert_eq!(string(br#""\udbff\udfff""#), "\u{10FFFF}");
        // Go: a surrogate that is not half of a pair is U+FFFD, and what follows stands alone.
        assert_eq!(string(br#""\ud800""#), "\u{FFFD}");
        assert_eq!(string(br#""\ud800x""#), "\u{FFFD}x");
        assert_eq!(string(br#""\udc00\ud800""#), "\u{FFFD}\u{FFFD}");
        assert_eq!(string(br#""\ud800\ud800\udc00""#), "\u{FFFD}\u{10000}");
        assert_eq!(string(br#""\ud800\u0041""#), "\u{FFFD}A");
        assert_eq!(string(br#""\ud800\n""#), "\u{FFFD}\n");
        // Go: each byte of invalid UTF-8 is U+FFFD.
        assert_eq!(string(b"\"a\xffb\""), "a\u{FFFD}b");
        assert_eq!(string(b"\"\xe2\x82\""), "\u{FFFD}\u{FFFD}");
        assert_eq!(
            string(b"\"\xe2\x82A\xe2\x82\xac\""),
            "\u{FFFD}\u{FFFD}A\u{20ac}"
        );
        assert_eq!(string(b"\"\xed\xa0\x80\""), "\u{FFFD}".repeat(3));
        assert_eq!(string(b"\"\xc0\xaf\""), "\u{FFFD}".repeat(2));

        for (text, message) in [
            (&br#""\x""#[..], "line 1, column 3: expected an escape"),
            (
                br#""\u12""#,
                "line 1, column 6: expected 4 hex digits after '\\u', found '\"'",
            ),
            (
                br#""\u12g4""#,
                "expected 4 hex digits after '\\u', found 'g'",
            ),
            (
                br#""\ud800\u12""#,
                "line 1, column 12: expected 4 hex digits",
            ),
            (
                br#""\"#,
                "expected an escape (one of \"\\/bfnrtu) after '\\', found end of file",
            ),
            (
                b"\"a\tb\"",
                "line 1, column 3: unescaped control character in a string, found '\\t'",
            ),
            (
                b"\"a\nb\"",
                "unescaped control character in a string, found '\\n'",
            ),
            (
                b"  \"abc",
                "line 1, column 3: string not closed before the end of the file",
            ),
        ] {
            let got = error(text);
            assert!(got.contains(message), "{text:?}: {got}");
        }
    }

    #[test]
    fn json_syntax_errors() {
        for (text, message) in [
            (&b"[1,]"[..], "line 1, column 4: trailing comma before ']'"),
            (b"{\"a\":1,}", "line 1, column 8: trailing comma before '}'"),
            (b"[,]", "expected a value, found ','"),
            (b"{,}", "expected a string key or '}', found ','"),
            (b"{\"a\":1,,}", "expected a string key, found ','"),
            (b"{a:1}", "expected a string key or '}', found 'a'"),
            (b"{\"a\" 1}", "expected ':' after an object key, found '1'"),
            (b"{\"a\":}", "expected a value, found '}'"),
            (
                b"{\"a\":1 \"b\":2}",
                "expected ',' or '}' after an object member, found '\"'",
            ),
            (
                b"[1 2]",
                "expected ',' or ']' after an array element, found '2'",
            ),
            (
                b"[1",
                "expected ',' or ']' after an array element, found end of file",
            ),
            (b"{\"a\":1", "line 1, column 7: expected ',' or '}'"),
            (b"tru", "line 1, column 4: expected true, found end of file"),
            (b"nul1", "expected null, found '1'"),
            (b"[falsy]", "line 1, column 6: expected false, found 'y'"),
            (b"'a'", "expected a value, found '\\''"),
            (
                b"\xef\xbb\xbf{}",
                "line 1, column 1: expected a value, found '\\u{feff}'",
            ),
            (b"\xff", "expected a value, found byte 0xff"),
            (
                b"[\"\xc3\xa9\xc3\xa9\", x]",
                "line 1, column 8: expected a value, found 'x'",
            ),
            (
                b"{\n  \"a\": 1,\n  \"b\": !\n}",
                "line 3, column 8: expected a value, found '!'",
            ),
            (b"{\"a\":1}\n", ""),
        ] {
            if message.is_empty() {
                assert!(parse_first(text).is_ok());
                continue;
            }
            let got = error(text);
            assert!(got.contains(message), "{text:?}: {got}");
        }
    }

    #[test]
    fn json_syntax_first_value_only() {
        // Whatever follows the first value is never read, not even to check it.
        assert_eq!(parse("{} x"), Value::Object(vec![]));
        assert_eq!(parse("{}}"), Value::Object(vec![]));
        assert_eq!(parse("[1]]"), Value::Array(vec![Value::Number("1")]));
        assert_eq!(parse("\"a\"\"b\""), Value::String("a".to_owned()));
        assert_eq!(parse("truex"), Value::Bool(true));
        assert_eq!(
            parse_first(b"{\"a\":null} \xff\x00{"),
            Ok(Some(Value::Object(vec![("a".to_owned(), Value::Null)])))
        );
    }

    #[test]
    fn json_syntax_depth_is_bounded() {
        let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
        assert!(parse_first(nested(MAX_DEPTH).as_bytes()).is_ok());
        let got = error(nested(MAX_DEPTH + 1).as_bytes());
        assert!(
            got.contains("column 129: arrays and objects nested more than 128 deep"),
            "{got}"
        );
        let objects = "{\"a\":".repeat(MAX_DEPTH) + "1" + &"}".repeat(MAX_DEPTH);
        assert!(parse_first(objects.as_bytes()).is_ok());
        let objects = "{\"a\":".repeat(MAX_DEPTH) + "{" + &"}".repeat(MAX_DEPTH + 1);
        assert!(error(objects.as_bytes()).contains("nested more than 128 deep"));
        // Far deeper than any stack would take: refused, not overflowed.
        assert!(error("[{\"a\":".repeat(100_000).as_bytes()).contains("nested"));
    }

    #[test]
    fn json_syntax_display_round_trips() {
        for text in [
            r#"{"a":[1,-0.5e3,"x\"\\\n\u0001\u001f é😀"],"a":{},"":[[],{"b":null}],"t":true}"#,
            r#"["\ud800",false,0]"#,
        ] {
            let value = parse(text);
            let written = value.to_string();
            assert_eq!(parse(&written), value, "{written}");
        }
        assert_eq!(
            parse(r#"{ "a" : [ 1 , "\u0001\t" ] }"#).to_string(),
            r#"{"a":[1,"\u0001\t"]}"#
        );
    }
}
