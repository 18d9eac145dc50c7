//! The sealed mode's pre-shared key: where it comes from, and how a passphrase becomes one.
//!
//! Both ends of a sealed session hold the same 32-byte [`Key`]; the Noise NNpsk0 handshake
//! mixes it in, so a peer without it cannot complete a handshake. There are two ways to give
//! it:
//!
//! * **A random key** (recommended): 32 bytes from a CSPRNG, written as base64, for example
//!   `head -c 32 /dev/urandom | base64 > /etc/kcp.key`. Load it with [`Key::from_file`],
//!   [`Key::from_env`] or [`Key::from_base64`]; print one with [`Key::to_base64`]. A random key
//!   has 256 bits of entropy: nothing about it can be guessed, and loading it costs nothing.
//! * **A passphrase**: [`Key::from_passphrase`] stretches it with Argon2id (RFC 9106, version
//!   0x13) into a key. Convenient to type on both ends, but only as strong as the passphrase.
//!
//! # The fixed salt, and why a random key is better
//!
//! Both ends must derive the *same* key with no communication, so the salt cannot be random:
//! it is the fixed domain-separation string `"kcp-core sealed mode v1 passphrase"` (see
//! [`PASSPHRASE_SALT`]). It keeps our keys distinct from any other program's Argon2id output
//! for the same passphrase, but it is the same for every deployment, so an attacker can
//! precompute *one* dictionary of candidate passphrases and try it against every sealed-mode
//! user at once. What slows each guess is Argon2id's cost ([`PassphraseParams`]): at
//! [`PassphraseParams::DEFAULT`] every guess costs 4 MiB of memory and four passes over it.
//! That is chosen so a small router finishes in about a second, which makes it far below what
//! is recommended for password storage on servers (RFC 9106 suggests 64 MiB): one desktop
//! core tries about 160 guesses a second, a GPU or a rack of them far more, so a short or
//! common passphrase still falls. Use a long
//! random passphrase (five or more diceware words), raise the cost with
//! [`Key::from_passphrase_with`] where both ends can afford it, or, best, use a random key from a
//! file, which sidesteps the issue entirely.
//!
//! A passphrase is used exactly as given, as its UTF-8 bytes: whitespace (including a trailing
//! newline read from a file) is significant and no Unicode normalisation is applied, so both
//! ends must agree byte for byte. An empty passphrase is refused.
//!
//! # Key material hygiene
//!
//! [`Key`] overwrites its bytes with zeros when dropped (the `zeroize` crate), never prints
//! them in `Debug`, and compares in constant time. The Argon2id working memory and the
//! intermediate buffers of base64 decoding and file/environment reads are wiped as well. This
//! is best effort: moving a `Key` may leave copies on the stack, the caller's array passed to
//! [`Key::from_bytes`] is the caller's to wipe, and a key held in an environment variable stays
//! in the process environment (readable by the same user through `/proc`), so prefer a file
//! with mode 0600.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use base64::Engine as _;
use core::fmt;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// The Argon2id salt for passphrases: a fixed domain-separation string, the same on every
/// peer (see the [module documentation](self) for the trade-off).
///
/// Changing it changes every passphrase-derived key, so it carries a version.
pub const PASSPHRASE_SALT: &[u8] = b"kcp-core sealed mode v1 passphrase";

/// Longest key file [`Key::from_file`] reads. A base64 key is 44 bytes; the limit leaves room
/// for whitespace and protects against pointing it at a huge file or a device.
pub const MAX_KEY_FILE: u64 = 1024;

/// The sealed mode's 32-byte pre-shared key.
///
/// Make one from random bytes ([`Key::from_bytes`], [`Key::from_base64`], [`Key::from_file`],
/// [`Key::from_env`]) or from a passphrase ([`Key::from_passphrase`]); hand it to the
/// handshake, which reads it through [`Key::as_bytes`].
///
/// The bytes are overwritten with zeros when the key is dropped. `Debug` prints `Key(..)`,
/// never the bytes, and `==` compares all 32 bytes without an early exit, so the time it takes
/// does not reveal where two keys differ.
#[derive(Clone)]
pub struct Key([u8; Key::LEN]);

impl Key {
    /// Length of a key in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 bytes as a key. They should come from a cryptographically secure random
    /// generator (or from another `Key`); the caller's copy of the array is not wiped.
    pub fn from_bytes(bytes: [u8; Key::LEN]) -> Key {
        Key(bytes)
    }

    /// The key's bytes, for the handshake.
    pub fn as_bytes(&self) -> &[u8; Key::LEN] {
        &self.0
    }

    /// Derives a key from a passphrase with Argon2id at [`PassphraseParams::DEFAULT`].
    ///
    /// Deterministic: every peer given the same passphrase derives the same key, with no
    /// communication. It takes about a second on a small router and a few milliseconds on a
    /// desktop, and allocates 4 MiB for the duration; call it once at start-up, not per
    /// session. The passphrase is used byte for byte (whitespace counts; see the
    /// [module documentation](self) for the salt and strength trade-offs).
    ///
    /// # Errors
    ///
    /// [`KeyError::EmptyPassphrase`] for `""`; [`KeyError::Params`] if the 4 MiB of working
    /// memory cannot be allocated.
    pub fn from_passphrase(passphrase: &str) -> Result<Key, KeyError> {
        Key::from_passphrase_with(passphrase, &PassphraseParams::DEFAULT)
    }

    /// Derives a key from a passphrase with Argon2id at the given cost.
    ///
    /// Both peers must use the same parameters: any difference gives a different key, and the
    /// handshake then fails as if the passphrases differed. Raise the cost on machines that
    /// can afford it (the time grows linearly with `memory_kib * iterations`); lower it only
    /// with a strong passphrase.
    ///
    /// The working memory (`memory_kib` KiB) is allocated for the duration of the call and
    /// wiped before it is freed.
    ///
    /// # Errors
    ///
    /// [`KeyError::EmptyPassphrase`] for `""`; [`KeyError::Params`] if Argon2 rejects the
    /// parameters (see [`PassphraseParams`] for the limits) or the memory cannot be allocated.
    pub fn from_passphrase_with(
        passphrase: &str,
        params: &PassphraseParams,
    ) -> Result<Key, KeyError> {
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.lanes,
            Some(Key::LEN),
        )
        .map_err(params_error)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);

        // Our own working memory rather than `hash_password_into`'s, so that a failed
        // allocation is an error rather than an abort and the blocks (from which the key can
        // be recomputed) are wiped afterwards.
        let blocks = argon2.params().block_count();
        let mut memory: Vec<Block> = Vec::new();
        memory
            .try_reserve_exact(blocks)
            .map_err(|_| KeyError::Params {
                reason: "not enough memory for memory_kib",
            })?;
        memory.resize(blocks, Block::new());

        let mut out = [0u8; Key::LEN];
        let hashed = argon2.hash_password_into_with_memory(
            passphrase.as_bytes(),
            PASSPHRASE_SALT,
            &mut out,
            memory.as_mut_slice(),
        );
        for block in &mut memory {
            block.as_mut().zeroize();
        }
        let key = hashed.map(|()| Key(out)).map_err(params_error);
        out.zeroize();
        key
    }

    /// Reads a key written in standard base64 (RFC 4648 alphabet, `+` and `/`), as
    /// [`Key::to_base64`] writes it.
    ///
    /// The `=` padding is optional, and surrounding ASCII whitespace (spaces, tabs, a trailing
    /// `\n` or `\r\n`) is ignored, so a key pasted from a terminal or a config file works
    /// as is. The URL-safe alphabet (`-`, `_`) and whitespace inside the text are not accepted.
    ///
    /// # Errors
    ///
    /// [`KeyError::Base64`] if the text is not base64; [`KeyError::Length`] with the decoded
    /// length if it is not exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Key, KeyError> {
        decode(text.as_bytes())
    }

    /// The key in standard base64 with padding: 44 characters, the form the `from_*` readers
    /// accept. This is the secret itself; treat the string accordingly.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads a key from a file holding it in base64 (the format of [`Key::from_base64`]; a
    /// trailing newline is fine).
    ///
    /// A file is the recommended way to give a key: it can be made with
    /// `head -c 32 /dev/urandom | base64 > key` and protected with mode 0600. At most
    /// [`MAX_KEY_FILE`] bytes are read.
    ///
    /// # Errors
    ///
    /// [`KeyError::Read`] naming the path if the file cannot be read (the I/O error's kind
    /// says why; a file over [`MAX_KEY_FILE`] bytes is `FileTooLarge`); [`KeyError::File`]
    /// naming the path if its contents are not a base64 key.
    pub fn from_file(path: &Path) -> Result<Key, KeyError> {
        let read_error = |kind| KeyError::Read {
            path: path.to_path_buf(),
            kind,
        };
        let file = std::fs::File::open(path).map_err(|e| read_error(e.kind()))?;
        let mut text = Vec::new();
        let read = file.take(MAX_KEY_FILE + 1).read_to_end(&mut text);
        let result = match read {
            Err(e) => Err(read_error(e.kind())),
            Ok(n) if n as u64 > MAX_KEY_FILE => Err(read_error(io::ErrorKind::FileTooLarge)),
            Ok(_) => decode(&text).map_err(|error| KeyError::File {
                path: path.to_path_buf(),
                error: Box::new(error),
            }),
        };
        text.as_mut_slice().zeroize();
        result
    }

    /// Reads a key from an environment variable holding it in base64 (the format of
    /// [`Key::from_base64`]).
    ///
    /// Handy for containers and service managers. Note that the variable stays in the process
    /// environment, visible to the same user and inherited by child processes; a file with
    /// mode 0600 ([`Key::from_file`]) exposes less.
    ///
    /// # Errors
    ///
    /// [`KeyError::Env`] naming the variable if it is not set (or the name is empty or holds
    /// `=` or NUL) or its value is not Unicode; [`KeyError::EnvValue`] naming the variable if
    /// the value is not a base64 key.
    pub fn from_env(var: &str) -> Result<Key, KeyError> {
        let env_error = |missing| KeyError::Env {
            var: var.to_owned(),
            missing,
        };
        // Such names can never be set, and older standard libraries documented a panic for them.
        if var.is_empty() || var.contains(['=', '\0']) {
            return Err(env_error(true));
        }
        let value = match std::env::var(var) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => return Err(env_error(true)),
            Err(std::env::VarError::NotUnicode(value)) => {
                let mut bytes = value.into_encoded_bytes();
                bytes.as_mut_slice().zeroize();
                return Err(env_error(false));
            }
        };
        let result = decode(value.as_bytes()).map_err(|error| KeyError::EnvValue {
            var: var.to_owned(),
            error: Box::new(error),
        });
        value.into_bytes().as_mut_slice().zeroize();
        result
    }
}

/// Decodes trimmed base64 into a key, wiping the intermediate buffer.
fn decode(text: &[u8]) -> Result<Key, KeyError> {
    let mut bytes = STANDARD_PAD_INDIFFERENT
        .decode(text.trim_ascii())
        .map_err(|_| KeyError::Base64)?;
    let key = <[u8; Key::LEN]>::try_from(bytes.as_slice())
        .map(Key)
        .map_err(|_| KeyError::Length { got: bytes.len() });
    bytes.as_mut_slice().zeroize();
    key
}

/// Maps Argon2's refusal to our error, with the reason phrased in terms of
/// [`PassphraseParams`].
fn params_error(error: argon2::Error) -> KeyError {
    use argon2::Error as E;
    let reason = match error {
        E::MemoryTooLittle => "memory_kib must be at least 8 per lane",
        E::MemoryTooMuch | E::OutOfMemory => "not enough memory for memory_kib",
        E::TimeTooSmall => "iterations must be at least 1",
        E::ThreadsTooFew => "lanes must be at least 1",
        E::ThreadsTooMany => "lanes must be below 2^24",
        E::PwdTooLong => "passphrase longer than 4 GiB",
        _ => "Argon2 refused them",
    };
    KeyError::Params { reason }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl PartialEq for Key {
    /// Constant time: every byte is compared, without branching on the contents.
    fn eq(&self, other: &Key) -> bool {
        let a = core::hint::black_box(&self.0);
        let b = core::hint::black_box(&other.0);
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        core::hint::black_box(diff) == 0
    }
}

impl Eq for Key {}

/// Argon2id cost parameters for turning a passphrase into a [`Key`].
///
/// The cost is what stands between a weak passphrase and an attacker with a dictionary (the
/// salt is fixed, see the [module documentation](self)): each guess costs the attacker what
/// one derivation costs you. Time grows linearly with `memory_kib * iterations`; memory makes
/// guessing expensive on GPUs and custom hardware, iterations buy time without memory.
/// Both peers must use identical parameters.
///
/// Argon2 accepts `memory_kib >= 8 * lanes`, `iterations >= 1` and `1 <= lanes < 2^24`;
/// anything else is [`KeyError::Params`]. Lanes are computed one after another here (no
/// threads), so more lanes only change the result, not the speed.
///
/// The memory is allocated and written up front. A `memory_kib` beyond what the machine has
/// fails with [`KeyError::Params`] when the allocation is refused; under Linux's memory
/// overcommit it may instead get the process killed by the OOM killer, so take the cost from
/// configuration you trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassphraseParams {
    /// Working memory in KiB (Argon2's `m`), allocated for the duration of the derivation.
    pub memory_kib: u32,
    /// Passes over the memory (Argon2's `t`).
    pub iterations: u32,
    /// Independent lanes (Argon2's `p`, "parallelism").
    pub lanes: u32,
}

impl PassphraseParams {
    /// 4 MiB of memory, 4 passes, 1 lane (Argon2id `m=4096,t=4,p=1`, version 0x13): about a
    /// second on a small MIPS router, a few milliseconds on a desktop.
    ///
    /// These values are part of the protocol: peers that derive a key from the same
    /// passphrase must use the same parameters, so changing `DEFAULT` breaks every deployment
    /// that relies on it (a known-answer test pins the derived key).
    ///
    /// **Memory.** The routers we target (32–128 MB of RAM, shared with the kernel and
    /// everything else) can spare a few MB to one process, so memory is held at 4 MiB and the
    /// cost comes from passes instead. It is allocated for the duration of the call only.
    ///
    /// **Measured on x86_64.** 6.2 ms per derivation, best of 21 (median 10–14 ms on a busy
    /// machine), on a 2-core Intel Xeon with AVX2, release profile:
    /// `cargo test --release -p kcp-core --lib sealed::keys::tests::default_cost -- --ignored
    /// --nocapture`. That is about 0.38 µs per 1 KiB block (16,384 blocks: 4,096 × 4 passes).
    ///
    /// **Estimated on a router: about 0.9 s on a 580 MHz MIPS 24Kc, 0.6 s on an 880 MHz
    /// MT7621**, some 150× and 100× slower than the x86_64 figure. This is an estimate, not a
    /// measurement (there is no MIPS machine here), built as follows:
    ///
    /// * *Instructions.* Each block is 128 BlaMka G functions (64-bit additions, XORs,
    ///   rotations and 32×32→64-bit multiplications) plus XORs and copies of 1 KiB blocks. On
    ///   32-bit MIPS every 64-bit operation takes 2–6 instructions. The reference C Argon2
    ///   (`ref.c`, whose structure the `argon2` crate follows) compiled with
    ///   `mipsel-linux-gnu-gcc -march=24kc` takes 820 (`-Os`) to 1,110 (`-O2`) instructions per
    ///   8 G functions, so about 18,000–23,000 instructions per block.
    /// * *Cycles.* The 24Kc and the MT7621's 1004Kc are single-issue, in-order cores; assuming
    ///   0.75 instructions per cycle (load-use and multiply-result stalls, register spills)
    ///   gives ~27,000 cycles. The 4 MiB does not fit the 32 KiB data cache: each block
    ///   fetches its pseudo-random reference block and the block it overwrites from DRAM,
    ///   about 64 cache-line misses at ~80 cycles, ~5,000 cycles more. Total ~32,000 cycles per
    ///   block, 525 million for 16,384 blocks.
    /// * The uncertainty is roughly a factor of two either way: the real IPC and memory
    ///   latency, how LLVM's code for the Rust implementation compares with gcc's for the C,
    ///   and the size-optimised `router` profile (`opt-level = "z"`), which is 1.5× slower than
    ///   `release` on x86_64. The `default_cost` test above measures it on real hardware.
    pub const DEFAULT: PassphraseParams = PassphraseParams {
        memory_kib: 4096,
        iterations: 4,
        lanes: 1,
    };
}

impl Default for PassphraseParams {
    /// [`PassphraseParams::DEFAULT`].
    fn default() -> PassphraseParams {
        PassphraseParams::DEFAULT
    }
}

/// Why a key could not be made.
///
/// The messages name what was wrong (the file, the variable, the length) and never include key
/// material or passphrases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The passphrase was empty.
    EmptyPassphrase,
    /// Argon2 refused the [`PassphraseParams`], or their memory could not be allocated.
    Params {
        /// What was wrong, in terms of the [`PassphraseParams`] fields.
        reason: &'static str,
    },
    /// The text was not standard base64.
    Base64,
    /// The base64 decoded to the wrong number of bytes (a key is [`Key::LEN`]).
    Length {
        /// Bytes the text decoded to.
        got: usize,
    },
    /// A key file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why: `NotFound`, `PermissionDenied`, `FileTooLarge`, ...
        kind: io::ErrorKind,
    },
    /// A key file was read but does not hold a base64 key.
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with its contents: [`KeyError::Base64`] or [`KeyError::Length`].
        error: Box<KeyError>,
    },
    /// An environment variable could not be read.
    Env {
        /// The variable's name.
        var: String,
        /// `true` if it is not set, `false` if its value is not valid Unicode.
        missing: bool,
    },
    /// An environment variable was read but does not hold a base64 key.
    EnvValue {
        /// The variable's name.
        var: String,
        /// What was wrong with its value: [`KeyError::Base64`] or [`KeyError::Length`].
        error: Box<KeyError>,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::EmptyPassphrase => f.write_str("the passphrase is empty"),
            KeyError::Params { reason } => {
                write!(f, "invalid Argon2id passphrase parameters: {reason}")
            }
            KeyError::Base64 => f.write_str("the key is not valid standard base64"),
            KeyError::Length { got } => {
                write!(f, "the key decodes to {got} bytes, expected {}", Key::LEN)
            }
            KeyError::Read { path, kind } => {
                write!(f, "cannot read key file {}: {kind}", path.display())
            }
            KeyError::File { path, error } => write!(f, "key file {}: {error}", path.display()),
            KeyError::Env { var, missing: true } => {
                write!(f, "environment variable {var} is not set")
            }
            KeyError::Env {
                var,
                missing: false,
            } => write!(f, "environment variable {var} is not valid Unicode"),
            KeyError::EnvValue { var, error } => {
                write!(f, "environment variable {var}: {error}")
            }
        }
    }
}

impl std::error::Error for KeyError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap enough for debug-build tests: 64 KiB, 2 passes.
    const CHEAP: PassphraseParams = PassphraseParams {
        memory_kib: 64,
        iterations: 2,
        lanes: 1,
    };

    const PASSPHRASE: &str = "correct horse battery staple";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A unique path in the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> TempFile {
            let path = std::env::temp_dir().join(format!(
                "kcp-core-keys-{}-{name}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn passphrase_is_deterministic() {
        let a = Key::from_passphrase_with(PASSPHRASE, &CHEAP).unwrap();
        let b = Key::from_passphrase_with(PASSPHRASE, &CHEAP).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn different_passphrases_and_params_give_different_keys() {
        let base = Key::from_passphrase_with(PASSPHRASE, &CHEAP).unwrap();
        // Whitespace is significant: no trimming.
        for other in [
            "correct horse battery stapl",
            "correct horse battery staple ",
            " correct horse battery staple",
            "correct horse battery staple\n",
            "Correct horse battery staple",
        ] {
            assert_ne!(
                Key::from_passphrase_with(other, &CHEAP).unwrap(),
                base,
                "{other:?}"
            );
        }
        for params in [
            PassphraseParams {
                memory_kib: 128,
                ..CHEAP
            },
            PassphraseParams {
                iterations: 3,
                ..CHEAP
            },
            PassphraseParams { lanes: 2, ..CHEAP },
        ] {
            let key = Key::from_passphrase_with(PASSPHRASE, &params).unwrap();
            assert_ne!(key, base, "{params:?}");
        }
    }

    /// Known answers, independent of the `argon2` crate: computed with the reference C
    /// implementation through Python's argon2-cffi 25.1.0 (argon2-cffi-bindings 26.2.0):
    ///
    /// ```text
    /// from argon2.low_level import hash_secret_raw, Type
    /// hash_secret_raw(secret=PASSPHRASE.encode(), salt=b"kcp-core sealed mode v1 passphrase",
    ///                 time_cost=t, memory_cost=m, parallelism=p, hash_len=32,
    ///                 type=Type.ID, version=19).hex()
    /// ```
    #[test]
    fn passphrase_known_answers() {
        let cases: [(&str, PassphraseParams, &str); 2] = [
            (
                PASSPHRASE,
                CHEAP,
                "a92cb8b57c74d1808b001671d1bd6057874a4598cbf13591badd41bc4335ed3b",
            ),
            (
                "p\u{e4}ssw\u{f6}rd \u{2713}",
                PassphraseParams {
                    memory_kib: 256,
                    iterations: 3,
                    lanes: 2,
                },
                "02b69ee043b28a9be0519fb1d1693f67a00b9b0cd02f62b6e55539292944e223",
            ),
        ];
        for (passphrase, params, expected) in cases {
            let key = Key::from_passphrase_with(passphrase, &params).unwrap();
            assert_eq!(hex(key.as_bytes()), expected, "{passphrase:?} {params:?}");
        }
    }

    /// The default parameters are part of the protocol: every peer using a passphrase must
    /// derive the same key, so changing `DEFAULT` breaks them. Same Python cross-check as
    /// above with t=4, m=4096, p=1. Takes about 10 ms even in a debug build (the `argon2`
    /// dependency is built with optimisations).
    #[test]
    fn default_params_known_answer() {
        let key = Key::from_passphrase(PASSPHRASE).unwrap();
        assert_eq!(
            hex(key.as_bytes()),
            "42ff9f943f050e1e77fa7032e6e8954cf49b094959c1a12c7092779aefc302ce"
        );
        assert_eq!(PassphraseParams::default(), PassphraseParams::DEFAULT);
    }

    #[test]
    fn empty_passphrase_is_refused() {
        assert_eq!(Key::from_passphrase(""), Err(KeyError::EmptyPassphrase));
        assert_eq!(
            Key::from_passphrase_with("", &CHEAP),
            Err(KeyError::EmptyPassphrase)
        );
        // Whitespace is a passphrase like any other.
        assert!(Key::from_passphrase_with(" ", &CHEAP).is_ok());
    }

    #[test]
    fn bad_params_are_errors() {
        for (params, reason) in [
            (
                PassphraseParams {
                    memory_kib: 0,
                    ..CHEAP
                },
                "memory_kib must be at least 8 per lane",
            ),
            (
                PassphraseParams {
                    memory_kib: 15,
                    lanes: 2,
                    ..CHEAP
                },
                "memory_kib must be at least 8 per lane",
            ),
            (
                PassphraseParams {
                    iterations: 0,
                    ..CHEAP
                },
                "iterations must be at least 1",
            ),
            (
                PassphraseParams { lanes: 0, ..CHEAP },
                "lanes must be at least 1",
            ),
            (
                PassphraseParams {
                    lanes: 1 << 24,
                    memory_kib: u32::MAX,
                    ..CHEAP
                },
                "lanes must be below 2^24",
            ),
        ] {
            let err = Key::from_passphrase_with(PASSPHRASE, &params).unwrap_err();
            assert_eq!(err, KeyError::Params { reason }, "{params:?}");
            assert!(err.to_string().contains(reason));
        }
        // The smallest parameters Argon2 accepts work.
        let smallest = PassphraseParams {
            memory_kib: 8,
            iterations: 1,
            lanes: 1,
        };
        assert!(Key::from_passphrase_with(PASSPHRASE, &smallest).is_ok());
    }

    #[test]
    fn base64_round_trip() {
        let key = Key::from_bytes(core::array::from_fn(|i| (i * 37 + 5) as u8));
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        assert!(text.ends_with('='));
        assert_eq!(Key::from_base64(&text).unwrap(), key);
        // Padding is optional.
        assert_eq!(Key::from_base64(text.trim_end_matches('=')).unwrap(), key);
        // Surrounding whitespace is ignored.
        for wrapped in [
            format!("{text}\n"),
            format!("{text}\r\n"),
            format!("  \t{text} \n\n"),
        ] {
            assert_eq!(Key::from_base64(&wrapped).unwrap(), key, "{wrapped:?}");
        }
        // A known encoding, so the alphabet is the standard one.
        assert_eq!(
            Key::from_bytes([0xfb; 32]).to_base64(),
            "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s="
        );
    }

    #[test]
    fn wrong_length_reports_the_length() {
        for len in [0, 1, 16, 31, 33, 64] {
            let text = STANDARD.encode(vec![0x5a; len]);
            let err = Key::from_base64(&text).unwrap_err();
            assert_eq!(err, KeyError::Length { got: len });
            assert_eq!(
                err.to_string(),
                format!("the key decodes to {len} bytes, expected 32")
            );
        }
    }

    #[test]
    fn invalid_base64_is_an_error() {
        let good = Key::from_bytes([0xfb; 32]).to_base64();
        let url_safe = good.replace('+', "-").replace('/', "_");
        let inner_space = format!("{} {}", &good[..20], &good[20..]);
        let bad_padding = format!("{good}=");
        for text in [
            "not base64!",
            "A",
            "=",
            "====",
            "\u{0}",
            "\u{e9}",
            url_safe.as_str(),
            inner_space.as_str(),
            bad_padding.as_str(),
        ] {
            assert_eq!(Key::from_base64(text), Err(KeyError::Base64), "{text:?}");
        }
        assert_eq!(
            KeyError::Base64.to_string(),
            "the key is not valid standard base64"
        );
        // Large input is an error, not a panic.
        let long = "A".repeat(100_000);
        assert_eq!(
            Key::from_base64(&long),
            Err(KeyError::Length { got: 75_000 })
        );
    }

    #[test]
    fn from_file_reads_a_key() {
        let key = Key::from_bytes([0x42; 32]);
        let file = TempFile::new("good", format!("{}\n", key.to_base64()).as_bytes());
        assert_eq!(Key::from_file(&file.0).unwrap(), key);
    }

    #[test]
    fn from_file_errors_name_the_path() {
        let missing = std::env::temp_dir().join("kcp-core-keys-test-no-such-file.key");
        let err = Key::from_file(&missing).unwrap_err();
        assert_eq!(
            err,
            KeyError::Read {
                path: missing.clone(),
                kind: io::ErrorKind::NotFound
            }
        );
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );

        let short = TempFile::new("short", STANDARD.encode([1u8; 16]).as_bytes());
        let err = Key::from_file(&short.0).unwrap_err();
        assert_eq!(
            err,
            KeyError::File {
                path: short.0.clone(),
                error: Box::new(KeyError::Length { got: 16 })
            }
        );
        let message = err.to_string();
        assert!(message.contains(&*short.0.to_string_lossy()), "{message}");
        assert!(message.contains("16 bytes"), "{message}");

        let garbage = TempFile::new("garbage", &[0xff, 0xfe, 0, 1]);
        assert!(matches!(
            Key::from_file(&garbage.0),
            Err(KeyError::File { error, .. }) if *error == KeyError::Base64
        ));

        let big = TempFile::new("big", &[b'A'; MAX_KEY_FILE as usize + 1]);
        assert_eq!(
            Key::from_file(&big.0),
            Err(KeyError::Read {
                path: big.0.clone(),
                kind: io::ErrorKind::FileTooLarge
            })
        );

        // A directory is not a key file.
        assert!(matches!(
            Key::from_file(&std::env::temp_dir()),
            Err(KeyError::Read { .. })
        ));
    }

    #[test]
    fn from_env_errors_name_the_variable() {
        let var = "KCP_CORE_KEYS_TEST_SURELY_UNSET_7F3A";
        let err = Key::from_env(var).unwrap_err();
        assert_eq!(
            err,
            KeyError::Env {
                var: var.to_owned(),
                missing: true
            }
        );
        assert_eq!(
            err.to_string(),
            format!("environment variable {var} is not set")
        );
        // Names that cannot exist are "not set", not a panic.
        for name in ["", "A=B", "A\0B", "="] {
            assert!(
                matches!(
                    Key::from_env(name),
                    Err(KeyError::Env { missing: true, .. })
                ),
                "{name:?}"
            );
        }
        // A variable that is set (cargo sets it for tests) but does not hold a key. Without
        // `set_var`, which is unsound next to other test threads.
        let set = "CARGO_MANIFEST_DIR";
        if std::env::var_os(set).is_some() {
            let err = Key::from_env(set).unwrap_err();
            assert!(
                matches!(&err, KeyError::EnvValue { var, .. } if var == set),
                "{err}"
            );
            assert!(err
                .to_string()
                .starts_with("environment variable CARGO_MANIFEST_DIR: "));
        }
    }

    #[test]
    fn debug_and_errors_do_not_leak_key_material() {
        let key = Key::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "Key(..)");
        assert_eq!(format!("{key:#?}"), "Key(..)");

        let text = STANDARD.encode([0xab; 31]);
        let message = Key::from_base64(&text).unwrap_err().to_string();
        assert!(!message.contains(&text[..8]), "{message}");
    }

    #[test]
    fn equality_compares_every_byte() {
        let a = Key::from_bytes([7; 32]);
        for i in 0..32 {
            let mut bytes = [7; 32];
            bytes[i] ^= 0x80;
            assert_ne!(Key::from_bytes(bytes), a);
        }
        assert_eq!(Key::from_bytes([7; 32]), a);
    }

    /// Measures `Key::from_passphrase` at the default parameters. Run it with
    /// `cargo test --release -p kcp-core --lib sealed::keys::tests::default_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing measurement; run in release with --ignored --nocapture"]
    fn default_cost() {
        let runs = 21;
        let mut times: Vec<std::time::Duration> = (0..runs)
            .map(|_| {
                let start = std::time::Instant::now();
                let key = Key::from_passphrase(PASSPHRASE).unwrap();
                let elapsed = start.elapsed();
                drop(core::hint::black_box(key));
                elapsed
            })
            .collect();
        times.sort();
        let p = PassphraseParams::DEFAULT;
        eprintln!(
            "Argon2id m={} KiB t={} p={}: min {:?}, median {:?}, max {:?} over {runs} runs",
            p.memory_kib,
            p.iterations,
            p.lanes,
            times[0],
            times[runs / 2],
            times[runs - 1]
        );
    }
}
