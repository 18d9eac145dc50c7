//! `kcp_config`: how a socket is configured from C, and its translation into a
//! [`DriverConfig`].

use super::error::*;
use kcp_core::crypto::{derive_key, CipherKind};
use kcp_core::endpoint::EndpointConfig;
use kcp_core::fec::NativeConfig;
use kcp_core::legacy::LegacyConfig;
use kcp_core::net::{DriverConfig, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::session::{FecMode, Protection, SessionConfig};
use std::ffi::{c_char, c_int, CStr};
use std::mem::size_of;
use std::net::SocketAddr;

/// Length in bytes of a raw key (`kcp_config.key`).
pub const KCP_KEY_LEN: u32 = 32;

/// Which protocol a socket speaks (`kcp_config.mode`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum kcp_mode {
    /// The native sealed mode (the default): an authenticated handshake on a pre-shared key,
    /// ChaCha20-Poly1305 on every datagram, replay protection, sessions that survive an
    /// address change. Both ends must use libkcp (or kcp-core) with the same key.
    KCP_MODE_SEALED = 0,
    /// kcp-go / kcptun's protocol, to talk to kcptun and kcp-go programs: a legacy cipher
    /// (`kcp_config.crypt`) under kcptun's key derivation, kcp-go's FEC framing. Not
    /// authenticated (see the README): prefer the sealed mode between libkcp peers.
    KCP_MODE_LEGACY = 1,
}

/// The ARQ tuning (`kcp_config.profile`): kcptun's `-mode` presets.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum kcp_profile {
    /// The mode's default: `KCP_PROFILE_FAST3` in sealed mode (low latency), kcptun's default
    /// `KCP_PROFILE_FAST` in legacy mode.
    KCP_PROFILE_DEFAULT = 0,
    /// kcptun `normal`: no nodelay, 40 ms interval, fast resend after 2, no congestion window.
    KCP_PROFILE_NORMAL = 1,
    /// kcptun `fast`: no nodelay, 30 ms interval.
    KCP_PROFILE_FAST = 2,
    /// kcptun `fast2`: nodelay, 20 ms interval.
    KCP_PROFILE_FAST2 = 3,
    /// kcptun `fast3`: nodelay, 10 ms interval (lowest latency, most datagrams).
    KCP_PROFILE_FAST3 = 4,
}

/// The packet protection of legacy mode (`kcp_config.crypt`): kcptun's `-crypt` names.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum kcp_crypt {
    /// `aes`: AES-256-CFB (kcptun's default).
    KCP_CRYPT_AES = 0,
    /// `aes-128`: AES-128-CFB.
    KCP_CRYPT_AES_128 = 1,
    /// `aes-192`: AES-192-CFB.
    KCP_CRYPT_AES_192 = 2,
    /// `salsa20`.
    KCP_CRYPT_SALSA20 = 3,
    /// `xor`: a fixed pad derived from the key (obfuscation only).
    KCP_CRYPT_XOR = 4,
    /// `none`: kcp-go's nonce and CRC32 header, no encryption.
    KCP_CRYPT_NONE = 5,
    /// `null`: no header at all.
    KCP_CRYPT_NULL = 6,
}

/// How a socket is made. Fill it with `kcp_config_init()`, then change what you need; a field
/// left at its `kcp_config_init()` value keeps the default. The socket reads the struct (and
/// the strings and key it points to) only during `kcp_server_new()` / `kcp_client_new()`: the
/// caller keeps ownership and may free or reuse them as soon as the call returns.
///
/// The struct grows only at its end, and `size` tells the library how much of it a program
/// knows: a program built against an older header keeps working with a newer library (the
/// fields it does not know take their defaults), and the reverse.
///
/// Both ends of a connection must agree on `mode`, `stream`, the key, and in legacy mode
/// `crypt` and the FEC shard counts.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct kcp_config {
    /// `sizeof(kcp_config)` as the program knows it; set by `kcp_config_init()`.
    pub size: u32,
    /// One of `kcp_mode`. Default `KCP_MODE_SEALED`.
    pub mode: u32,
    /// One of `kcp_profile`. Default `KCP_PROFILE_DEFAULT`.
    pub profile: u32,
    /// 0: message mode (the default): each `kcp_send()` arrives as one `kcp_recv()`, whole
    /// and in order. 1: stream mode: a byte stream (kcptun uses it), small sends coalesce and
    /// `kcp_recv()` returns as many bytes as fit.
    pub stream: u32,
    /// A NUL-terminated passphrase, or NULL. Sealed mode: stretched into the key with
    /// Argon2id (a few ms on a desktop, about a second on a small router; done once here).
    /// Legacy mode: kcptun's `-key`, through kcptun's PBKDF2. Used byte for byte.
    pub passphrase: *const c_char,
    /// `KCP_KEY_LEN` (32) raw key bytes, or NULL; used instead of `passphrase` when set.
    /// Sealed mode: the pre-shared key (best: 32 random bytes shared out of band). Legacy
    /// mode: the 32 bytes kcptun's PBKDF2 derives from its `-key`.
    pub key: *const u8,
    /// Legacy mode: one of `kcp_crypt`. Default `KCP_CRYPT_AES`. Ignored in sealed mode.
    pub crypt: u32,
    /// Forward error correction: data shards per group. FEC is on when both shard counts are
    /// above 0 (default 10 and 3, kcptun's). Legacy mode: kcp-go's fixed groups, and both
    /// ends must use the same counts. Sealed mode: turns the adaptive native FEC on (the
    /// counts themselves are not used).
    pub fec_data_shards: u32,
    /// FEC parity shards per group (see `fec_data_shards`).
    pub fec_parity_shards: u32,
    /// Largest datagram in bytes; 0: the default (1400 sealed, 1350 legacy as in kcptun).
    pub mtu: u32,
    /// Send window in segments; 0: the default (128).
    pub send_window: u32,
    /// Receive window in segments; 0: the default (512).
    pub recv_window: u32,
    /// Most sessions at once on the socket; 0: the default (1024).
    pub max_sessions: u32,
    /// A session that hears nothing from its peer for this long is closed
    /// (`KCP_CLOSE_IDLE_TIMEOUT`), in ms; 0: the default (30000). In legacy mode this is how
    /// a server notices a departed client: the protocol has no close message.
    pub idle_timeout_ms: u32,
    /// Sealed mode: a session that has sent nothing for this long sends a keepalive, in ms;
    /// 0: the default (10000). Keep it well below `idle_timeout_ms` on both ends.
    pub keepalive_ms: u32,
    /// Sealed mode: how long a connection attempt may take, in ms; 0: the default (10000).
    pub handshake_timeout_ms: u32,
}

// No padding: the struct is copied byte for byte between the caller's memory and ours.
const _: () = assert!(size_of::<kcp_config>() == 14 * 4 + 2 * size_of::<usize>());

/// The size of the first published `kcp_config`: the least a caller may pass. Stays at this
/// value when fields are added.
const CONFIG_V1_SIZE: usize = size_of::<kcp_config>();

impl kcp_config {
    /// The defaults, as `kcp_config_init()` writes them.
    fn defaults() -> kcp_config {
        kcp_config {
            size: size_of::<kcp_config>() as u32,
            mode: kcp_mode::KCP_MODE_SEALED as u32,
            profile: kcp_profile::KCP_PROFILE_DEFAULT as u32,
            stream: 0,
            passphrase: std::ptr::null(),
            key: std::ptr::null(),
            crypt: kcp_crypt::KCP_CRYPT_AES as u32,
            fec_data_shards: 10,
            fec_parity_shards: 3,
            mtu: 0,
            send_window: 0,
            recv_window: 0,
            max_sessions: 0,
            idle_timeout_ms: 0,
            keepalive_ms: 0,
            handshake_timeout_ms: 0,
        }
    }
}

/// Fills `*config` with the defaults: sealed mode, the mode's default profile, message mode,
/// no key (set `passphrase` or `key`), FEC on (10 and 3), everything else at its default.
///
/// `size` must be `sizeof(kcp_config)` (or `sizeof *config`): it records how much of the
/// struct the program knows, so that old programs keep working with newer libraries.
///
/// Returns `KCP_OK`, or `KCP_EINVAL` if `config` is NULL or `size` is smaller than the first
/// version of the struct.
///
/// # Safety
///
/// `config` is NULL or points to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn kcp_config_init(config: *mut kcp_config, size: usize) -> c_int {
    entry(|| {
        if config.is_null() {
            return Err(Error::null("config"));
        }
        if size < CONFIG_V1_SIZE || size > u32::MAX as usize {
            return Err(Error::new(
                KCP_EINVAL,
                format!("size {size} is not sizeof(kcp_config) ({CONFIG_V1_SIZE} or more)"),
            ));
        }
        let mut defaults = kcp_config::defaults();
        defaults.size = size as u32;
        // SAFETY: the caller gives `size` writable bytes at `config`; we write at most
        // that many, from a value of our own.
        unsafe { write_prefix(config.cast(), size, &defaults) };
        Ok(KCP_OK.code())
    })
}

/// Copies `value` into the first `size` bytes at `out`, zeroing any bytes beyond it (fields of
/// a newer header that this library does not know).
///
/// # Safety
///
/// `out` points to `size` writable bytes; `T` has no padding the caller relies on.
pub(crate) unsafe fn write_prefix<T: Copy>(out: *mut u8, size: usize, value: &T) {
    let ours = size_of::<T>();
    let n = size.min(ours);
    // SAFETY: `value` is `ours` readable bytes, `out` is `size` writable bytes (the caller's
    // promise), and a caller's buffer cannot overlap a value on our stack.
    unsafe {
        std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out, n);
        if size > ours {
            std::ptr::write_bytes(out.add(ours), 0, size - ours);
        }
    }
}

/// Reads a caller's `kcp_config`: the fields its `size` covers, defaults for the rest.
///
/// # Safety
///
/// `config` is NULL or points to a `kcp_config` of at least `config->size` readable bytes.
pub(crate) unsafe fn read_config(config: *const kcp_config) -> Result<kcp_config, Error> {
    if config.is_null() {
        return Err(Error::null("config"));
    }
    // SAFETY: `size` is the first field of every version; the caller gives at least that.
    let size = unsafe { std::ptr::addr_of!((*config).size).read_unaligned() } as usize;
    if size < CONFIG_V1_SIZE {
        return Err(Error::new(
            KCP_EINVAL,
            format!("config->size is {size}: call kcp_config_init(&config, sizeof config) first"),
        ));
    }
    let mut ours = kcp_config::defaults();
    let n = size.min(size_of::<kcp_config>());
    // SAFETY: the caller's struct has `size` readable bytes, `ours` has `n` writable ones, and
    // every bit pattern is a valid `kcp_config` (integers and raw pointers only).
    unsafe {
        std::ptr::copy_nonoverlapping(
            config.cast::<u8>(),
            (&mut ours as *mut kcp_config).cast::<u8>(),
            n,
        );
    }
    Ok(ours)
}

/// Which side a socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Accepts sessions.
    Server,
    /// Only connects.
    Client,
}

/// Reads the passphrase or raw key of a config.
///
/// # Safety
///
/// `config.passphrase` is NULL or a NUL-terminated string; `config.key` is NULL or points to
/// `KCP_KEY_LEN` readable bytes.
unsafe fn key_material(config: &kcp_config) -> Result<Option<KeyMaterial<'_>>, Error> {
    if !config.key.is_null() {
        let mut bytes = [0u8; KCP_KEY_LEN as usize];
        // SAFETY: the caller promises `KCP_KEY_LEN` readable bytes at `key`.
        unsafe { std::ptr::copy_nonoverlapping(config.key, bytes.as_mut_ptr(), bytes.len()) };
        return Ok(Some(KeyMaterial::Raw(bytes)));
    }
    if !config.passphrase.is_null() {
        // SAFETY: the caller promises a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(config.passphrase) };
        if text.is_empty() {
            return Err(Error::fixed(KCP_EKEY, c"config->passphrase is empty"));
        }
        return Ok(Some(KeyMaterial::Passphrase(text)));
    }
    Ok(None)
}

enum KeyMaterial<'a> {
    Raw([u8; KCP_KEY_LEN as usize]),
    Passphrase(&'a CStr),
}

fn enum_value<T: Copy>(field: &str, value: u32, all: &[(T, u32)]) -> Result<T, Error> {
    all.iter()
        .find(|(_, v)| *v == value)
        .map(|&(t, _)| t)
        .ok_or_else(|| Error::new(KCP_EINVAL, format!("config->{field} {value} is not known")))
}

/// The ARQ profile's `ikcp_nodelay` arguments, `None` for the mode's default.
fn profile_of(config: &kcp_config) -> Result<Option<(u32, u32)>, Error> {
    use kcp_profile::*;
    let profile = enum_value(
        "profile",
        config.profile,
        &[
            (KCP_PROFILE_DEFAULT, KCP_PROFILE_DEFAULT as u32),
            (KCP_PROFILE_NORMAL, KCP_PROFILE_NORMAL as u32),
            (KCP_PROFILE_FAST, KCP_PROFILE_FAST as u32),
            (KCP_PROFILE_FAST2, KCP_PROFILE_FAST2 as u32),
            (KCP_PROFILE_FAST3, KCP_PROFILE_FAST3 as u32),
        ],
    )?;
    // (nodelay, interval); every preset resends after 2 and has no congestion window.
    Ok(match profile {
        KCP_PROFILE_DEFAULT => None,
        KCP_PROFILE_NORMAL => Some((0, 40)),
        KCP_PROFILE_FAST => Some((0, 30)),
        KCP_PROFILE_FAST2 => Some((1, 20)),
        KCP_PROFILE_FAST3 => Some((1, 10)),
    })
}

/// Applies the fields shared by both modes to an ARQ configuration and checks it.
fn tune_arq(arq: &mut kcp_core::Config, config: &kcp_config) -> Result<(), Error> {
    if let Some((nodelay, interval)) = profile_of(config)? {
        *arq = arq.clone().with_nodelay(nodelay, interval, 2, true);
    }
    arq.stream = match config.stream {
        0 => false,
        1 => true,
        other => {
            return Err(Error::new(
                KCP_EINVAL,
                format!("config->stream {other} is neither 0 nor 1"),
            ))
        }
    };
    if config.mtu != 0 {
        arq.mtu = config.mtu;
    }
    let window = |field: &str, value: u32| {
        u16::try_from(value).map_err(|_| {
            Error::new(
                KCP_EINVAL,
                format!("config->{field} {value} is above 65535 segments"),
            )
        })
    };
    if config.send_window != 0 {
        arq.send_window = window("send_window", config.send_window)?;
    }
    if config.recv_window != 0 {
        arq.recv_window = window("recv_window", config.recv_window)?;
        // A message may not have more fragments than the receive window holds.
        let most = u8::try_from(arq.recv_window).unwrap_or(u8::MAX);
        arq.max_fragments = arq.max_fragments.min(most);
    }
    arq.validate()
        .map_err(|e| Error::new(KCP_EINVAL, format!("config: {e}")))
}

/// Builds the driver configuration for a socket bound at `bind`.
///
/// # Safety
///
/// As for [`key_material`].
pub(crate) unsafe fn driver_config(
    config: &kcp_config,
    bind: SocketAddr,
    role: Role,
) -> Result<DriverConfig, Error> {
    let mode = enum_value(
        "mode",
        config.mode,
        &[
            (kcp_mode::KCP_MODE_SEALED, kcp_mode::KCP_MODE_SEALED as u32),
            (kcp_mode::KCP_MODE_LEGACY, kcp_mode::KCP_MODE_LEGACY as u32),
        ],
    )?;
    let fec = config.fec_data_shards > 0 && config.fec_parity_shards > 0;
    let accept = role == Role::Server;
    // SAFETY: passed on from the caller.
    let material = unsafe { key_material(config) }?;
    let mode = match mode {
        kcp_mode::KCP_MODE_SEALED => {
            let key = match material {
                Some(KeyMaterial::Raw(bytes)) => Key::from_bytes(bytes),
                Some(KeyMaterial::Passphrase(text)) => {
                    let text = text.to_str().map_err(|_| {
                        Error::fixed(KCP_EKEY, c"config->passphrase is not valid UTF-8")
                    })?;
                    Key::from_passphrase(text)
                        .map_err(|e| Error::new(KCP_EKEY, format!("config->passphrase: {e}")))?
                }
                None => {
                    return Err(Error::fixed(
                        KCP_EKEY,
                        c"sealed mode needs a key: set config->passphrase or config->key",
                    ))
                }
            };
            let mut endpoint = EndpointConfig::new(key);
            endpoint.accept = accept;
            tune_arq(&mut endpoint.arq, config)?;
            endpoint.fec = if fec {
                FecMode::Native(NativeConfig::default())
            } else {
                FecMode::Off
            };
            if config.max_sessions != 0 {
                endpoint.max_sessions = config.max_sessions as usize;
            }
            if config.idle_timeout_ms != 0 {
                endpoint.idle_timeout = config.idle_timeout_ms;
            }
            if config.keepalive_ms != 0 {
                endpoint.keepalive = config.keepalive_ms;
            }
            if config.handshake_timeout_ms != 0 {
                endpoint.handshake_timeout = config.handshake_timeout_ms;
            }
            Mode::Native(endpoint)
        }
        kcp_mode::KCP_MODE_LEGACY => {
            use kcp_crypt::*;
            let crypt = enum_value(
                "crypt",
                config.crypt,
                &[
                    (KCP_CRYPT_AES, KCP_CRYPT_AES as u32),
                    (KCP_CRYPT_AES_128, KCP_CRYPT_AES_128 as u32),
                    (KCP_CRYPT_AES_192, KCP_CRYPT_AES_192 as u32),
                    (KCP_CRYPT_SALSA20, KCP_CRYPT_SALSA20 as u32),
                    (KCP_CRYPT_XOR, KCP_CRYPT_XOR as u32),
                    (KCP_CRYPT_NONE, KCP_CRYPT_NONE as u32),
                    (KCP_CRYPT_NULL, KCP_CRYPT_NULL as u32),
                ],
            )?;
            let cipher = match crypt {
                KCP_CRYPT_AES => Some(CipherKind::Aes256),
                KCP_CRYPT_AES_128 => Some(CipherKind::Aes128),
                KCP_CRYPT_AES_192 => Some(CipherKind::Aes192),
                KCP_CRYPT_SALSA20 => Some(CipherKind::Salsa20),
                KCP_CRYPT_XOR => Some(CipherKind::Xor),
                KCP_CRYPT_NONE => Some(CipherKind::None),
                KCP_CRYPT_NULL => None,
            };
            let key = match material {
                Some(KeyMaterial::Raw(bytes)) => bytes,
                Some(KeyMaterial::Passphrase(text)) => derive_key(text.to_bytes()),
                // Without encryption the key is never used.
                None if matches!(crypt, KCP_CRYPT_NONE | KCP_CRYPT_NULL) => [0; 32],
                None => {
                    return Err(Error::fixed(
                        KCP_EKEY,
                        c"legacy mode with a cipher needs a key: set config->passphrase (kcptun's -key) or config->key",
                    ))
                }
            };
            let protection = match cipher {
                Some(cipher) => Protection::Legacy { cipher, key },
                None => Protection::None,
            };
            let fec = if fec {
                let (data, parity) = (
                    config.fec_data_shards as usize,
                    config.fec_parity_shards as usize,
                );
                if data + parity > kcp_core::fec::MAX_SHARDS {
                    return Err(Error::new(
                        KCP_EINVAL,
                        format!(
                            "config: {data} data and {parity} parity shards; at most {} in all",
                            kcp_core::fec::MAX_SHARDS
                        ),
                    ));
                }
                FecMode::KcpGo { data, parity }
            } else {
                FecMode::Off
            };
            let mut arq = if profile_of(config)?.is_none() {
                kcp_core::Config::fast()
            } else {
                kcp_core::Config::default()
            };
            arq.mtu = 1350;
            arq.send_window = 128;
            arq.recv_window = 512;
            arq.send_queue_limit = 1024;
            tune_arq(&mut arq, config)?;
            let mut legacy = LegacyConfig::new(SessionConfig {
                arq,
                fec,
                protection,
            });
            legacy.accept = accept;
            if config.max_sessions != 0 {
                legacy.max_sessions = config.max_sessions as usize;
            }
            if config.idle_timeout_ms != 0 {
                legacy.idle_timeout = config.idle_timeout_ms;
            }
            Mode::Legacy(legacy)
        }
    };
    Ok(DriverConfig::new(bind, mode))
}
