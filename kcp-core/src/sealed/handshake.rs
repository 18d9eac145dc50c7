//! The sealed mode's handshake: a stateless address-validation cookie, then Noise
//! `NNpsk0_25519_ChaChaPoly_BLAKE2s`.
//!
//! ```text
//! client                                             server
//! Hello       [1][ver][client u32][zero pad]   32 B ->
//!                                               <- 21 B  CookieReply [2][client u32][cookie 16]
//! Initiation  [3][ver][client u32][cookie 16][e 32][payload 8 + tag 16]   78 B ->
//!                                               <- 61 B  Response [4][client u32][e 32][payload 8 + tag 16]
//! sealed datagrams both ways ([`super::packet`]): kind 5 data, kind 6 control
//! ```
//!
//! # Why this construction
//!
//! * **Noise NNpsk0** (through `snow`, a spec-tested implementation): both sides prove they
//!   hold the pre-shared key (it is mixed in before the first message, so a client without it
//!   cannot produce an Initiation the server decrypts, and a server without it cannot produce a
//!   Response the client decrypts), and the transport keys come from an ephemeral-ephemeral
//!   Diffie-Hellman, so recording traffic and later stealing the key reveals nothing (forward
//!   secrecy). It is the pattern WireGuard would be without static keys: there is one shared
//!   key, so any holder of it can act as client or server; a deployment that needs to tell
//!   clients apart needs per-client keys (on separate endpoints).
//! * **The cookie** (as WireGuard's cookie reply and QUIC's Retry): the server answers a Hello
//!   with `BLAKE2s-128(secret, address || client id)` and keeps nothing. Only an Initiation
//!   that echoes a valid cookie, which proves the client receives at its source address, makes
//!   the server do any Diffie-Hellman or keep any state. The secret rotates every
//!   [`COOKIE_PERIOD_MS`] and the previous one is still accepted, so a cookie lives 2–4 minutes.
//!   Every reply is shorter than the datagram it answers (21 < 32, 61 < 78), so spoofed
//!   requests cannot turn the server into an amplifier.
//! * **The prologue** binds the protocol name, the version and the client's id in the clear
//!   header, so none of them can be swapped in flight.
//! * The Initiation is computed once per connection attempt and resent unchanged; the server
//!   recognises a resent one by its ephemeral key and resends its Response instead of making
//!   a second session.
//!
//! A wrong key is never answered: the server cannot decrypt the Initiation and stays silent,
//! which tells an attacker nothing it would not learn from any failed guess. The connecting
//! side still gets a clear error, because it saw the server answer its Hello (the server is
//! there) but never its Initiation.

use super::aead::KEY_LEN;
use super::keys::Key;
use super::rng::NoiseResolver;
use blake2::digest::{consts::U16, Mac};
use blake2::Blake2sMac;
use core::fmt;
use std::net::SocketAddr;
use zeroize::Zeroize;

/// The protocol version carried in Hello and Initiation.
pub const VERSION: u8 = 1;
/// The Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";

/// Datagram kinds (the first byte of every sealed-mode datagram).
pub mod kind {
    /// Client asks for a cookie.
    pub const HELLO: u8 = 1;
    /// Server's cookie.
    pub const COOKIE_REPLY: u8 = 2;
    /// Noise message 1 with the cookie.
    pub const INITIATION: u8 = 3;
    /// Noise message 2.
    pub const RESPONSE: u8 = 4;
    /// Sealed session data (FEC framing and KCP segments).
    pub const DATA: u8 = 5;
    /// Sealed control message (ping, pong, close, path challenge and response).
    pub const CONTROL: u8 = 6;
}

/// Bytes of a cookie.
pub const COOKIE_LEN: usize = 16;
/// Bytes of a Hello (padded so that the cookie reply is smaller).
pub const HELLO_LEN: usize = 32;
/// Bytes of a cookie reply.
pub const COOKIE_REPLY_LEN: usize = 1 + 4 + COOKIE_LEN;
const EPHEMERAL_LEN: usize = 32;
const PAYLOAD_LEN: usize = 8;
const TAG_LEN: usize = 16;
const NOISE1_LEN: usize = EPHEMERAL_LEN + PAYLOAD_LEN + TAG_LEN;
const NOISE2_LEN: usize = EPHEMERAL_LEN + PAYLOAD_LEN + TAG_LEN;
const INITIATION_HEAD: usize = 1 + 1 + 4 + COOKIE_LEN;
/// Bytes of an Initiation.
pub const INITIATION_LEN: usize = INITIATION_HEAD + NOISE1_LEN;
const RESPONSE_HEAD: usize = 1 + 4;
/// Bytes of a Response.
pub const RESPONSE_LEN: usize = RESPONSE_HEAD + NOISE2_LEN;
/// How often the cookie secret rotates (a cookie is good for one to two periods).
pub const COOKIE_PERIOD_MS: u64 = 120_000;

/// A handshake datagram, parsed. Views of the datagram; parsing never panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Client asks for a cookie.
    Hello {
        /// Protocol version.
        version: u8,
        /// The id the client chose for the session.
        client: u32,
    },
    /// Server's cookie for the client's address.
    CookieReply {
        /// The client's id, echoed.
        client: u32,
        /// The cookie.
        cookie: [u8; COOKIE_LEN],
    },
    /// Noise message 1 with the cookie.
    Initiation {
        /// Protocol version.
        version: u8,
        /// The client's id.
        client: u32,
        /// The cookie echoed.
        cookie: [u8; COOKIE_LEN],
        /// The Noise message.
        noise: &'a [u8],
    },
    /// Noise message 2.
    Response {
        /// The client's id, echoed.
        client: u32,
        /// The Noise message.
        noise: &'a [u8],
    },
}

/// A handshake datagram that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not a handshake kind.
    Kind,
    /// The length is wrong for the kind.
    Length,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Kind => f.write_str("not a handshake datagram"),
            Malformed::Length => f.write_str("handshake datagram of the wrong length"),
        }
    }
}

impl std::error::Error for Malformed {}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn cookie_at(bytes: &[u8], at: usize) -> [u8; COOKIE_LEN] {
    let mut c = [0; COOKIE_LEN];
    c.copy_from_slice(&bytes[at..at + COOKIE_LEN]);
    c
}

impl<'a> Message<'a> {
    /// Parses a handshake datagram. Each kind has one exact length.
    pub fn parse(datagram: &'a [u8]) -> Result<Message<'a>, Malformed> {
        let expected = match datagram.first() {
            Some(&kind::HELLO) => HELLO_LEN,
            Some(&kind::COOKIE_REPLY) => COOKIE_REPLY_LEN,
            Some(&kind::INITIATION) => INITIATION_LEN,
            Some(&kind::RESPONSE) => RESPONSE_LEN,
            _ => return Err(Malformed::Kind),
        };
        if datagram.len() != expected {
            return Err(Malformed::Length);
        }
        Ok(match datagram[0] {
            kind::HELLO => Message::Hello {
                version: datagram[1],
                client: u32_at(datagram, 2),
            },
            kind::COOKIE_REPLY => Message::CookieReply {
                client: u32_at(datagram, 1),
                cookie: cookie_at(datagram, 5),
            },
            kind::INITIATION => Message::Initiation {
                version: datagram[1],
                client: u32_at(datagram, 2),
                cookie: cookie_at(datagram, 6),
                noise: &datagram[INITIATION_HEAD..],
            },
            _ => Message::Response {
                client: u32_at(datagram, 1),
                noise: &datagram[RESPONSE_HEAD..],
            },
        })
    }
}

/// A Hello for the client id `client`.
pub fn hello(client: u32) -> [u8; HELLO_LEN] {
    let mut d = [0; HELLO_LEN];
    d[0] = kind::HELLO;
    d[1] = VERSION;
    d[2..6].copy_from_slice(&client.to_le_bytes());
    d
}

/// Writes a cookie reply into `out` (at least [`COOKIE_REPLY_LEN`] bytes) and returns its
/// length.
pub fn write_cookie_reply(client: u32, cookie: &[u8; COOKIE_LEN], out: &mut [u8]) -> usize {
    out[0] = kind::COOKIE_REPLY;
    out[1..5].copy_from_slice(&client.to_le_bytes());
    out[5..COOKIE_REPLY_LEN].copy_from_slice(cookie);
    COOKIE_REPLY_LEN
}

/// The server's rotating cookie secrets.
pub struct Cookies {
    current: [u8; 32],
    previous: [u8; 32],
    rotated_at: u64,
}

impl fmt::Debug for Cookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookies")
            .field("rotated_at", &self.rotated_at)
            .finish_non_exhaustive()
    }
}

impl Drop for Cookies {
    fn drop(&mut self) {
        self.current.zeroize();
        self.previous.zeroize();
    }
}

fn address_bytes(addr: &SocketAddr) -> ([u8; 18], usize) {
    let mut out = [0; 18];
    let n = match addr {
        SocketAddr::V4(a) => {
            out[..4].copy_from_slice(&a.ip().octets());
            4
        }
        SocketAddr::V6(a) => {
            out[..16].copy_from_slice(&a.ip().octets());
            16
        }
    };
    out[n..n + 2].copy_from_slice(&addr.port().to_le_bytes());
    (out, n + 2)
}

fn mac16(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 16] {
    // A 32-byte key is always a valid BLAKE2s key.
    let mut mac = <Blake2sMac<U16> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Equality whose time does not depend on where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Cookies {
    /// Secrets from `current` and `previous` (random), the current one made at `now` (ms).
    pub fn new(current: [u8; 32], previous: [u8; 32], now: u64) -> Cookies {
        Cookies {
            current,
            previous,
            rotated_at: now,
        }
    }

    /// When the current secret is due to be replaced.
    pub fn next_rotation(&self) -> u64 {
        self.rotated_at + COOKIE_PERIOD_MS
    }

    /// Replaces the current secret with `fresh` if a period has passed; returns whether it did.
    pub fn rotate(&mut self, now: u64, fresh: [u8; 32]) -> bool {
        if now < self.next_rotation() {
            return false;
        }
        self.previous = core::mem::replace(&mut self.current, fresh);
        self.rotated_at = now;
        true
    }

    fn make_with(secret: &[u8; 32], addr: &SocketAddr, client: u32) -> [u8; COOKIE_LEN] {
        let (bytes, n) = address_bytes(addr);
        mac16(secret, &[&[VERSION], &bytes[..n], &client.to_le_bytes()])
    }

    /// The cookie for `client` at `addr`.
    pub fn make(&self, addr: &SocketAddr, client: u32) -> [u8; COOKIE_LEN] {
        Cookies::make_with(&self.current, addr, client)
    }

    /// Whether `cookie` was made for `client` at `addr` by the current or previous secret.
    pub fn check(&self, addr: &SocketAddr, client: u32, cookie: &[u8; COOKIE_LEN]) -> bool {
        let current = constant_time_eq(&Cookies::make_with(&self.current, addr, client), cookie);
        let previous = constant_time_eq(&Cookies::make_with(&self.previous, addr, client), cookie);
        current | previous
    }
}

/// Why a handshake message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The Noise message did not decrypt: another key, or forged.
    Decrypt,
    /// The version or a reserved field is not ours.
    Version,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Decrypt => f.write_str("handshake did not authenticate (wrong key?)"),
            HandshakeError::Version => f.write_str("handshake from another protocol version"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// The transport keys one side gets from a finished handshake, and the peer's session id.
pub struct SessionKeys {
    /// The key this side seals with.
    pub send: [u8; KEY_LEN],
    /// The key this side opens with.
    pub recv: [u8; KEY_LEN],
    /// The id the peer chose: it goes in the receiver field of what this side sends.
    pub peer: u32,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Drop for SessionKeys {
    fn drop(&mut self) {
        self.send.zeroize();
        self.recv.zeroize();
    }
}

fn prologue(version: u8, client: u32) -> [u8; 24] {
    let mut p = [0; 24];
    p[..19].copy_from_slice(b"kcp-core sealed v1\0");
    p[19] = version;
    p[20..].copy_from_slice(&client.to_le_bytes());
    p
}

fn builder<'a>(
    psk: &'a [u8; 32],
    prologue: &'a [u8],
    seed: [u8; 32],
) -> Result<snow::Builder<'a>, snow::Error> {
    let params = NOISE_PATTERN.parse()?;
    snow::Builder::with_resolver(params, Box::new(NoiseResolver { seed }))
        .psk(0, psk)?
        .prologue(prologue)
}

/// The client's half of a handshake in progress.
pub struct Initiator {
    state: snow::HandshakeState,
    client: u32,
    noise: [u8; NOISE1_LEN],
}

impl fmt::Debug for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiator")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

fn split(state: &mut snow::HandshakeState, initiator: bool, peer: u32) -> SessionKeys {
    let (i_to_r, r_to_i) = state.dangerously_get_raw_split();
    let (send, recv) = if initiator {
        (i_to_r, r_to_i)
    } else {
        (r_to_i, i_to_r)
    };
    SessionKeys { send, recv, peer }
}

impl Initiator {
    /// Starts a handshake for the client id `client`; `seed` makes the ephemeral key.
    pub fn new(psk: &Key, client: u32, seed: [u8; 32]) -> Initiator {
        let prologue = prologue(VERSION, client);
        let mut noise = [0; NOISE1_LEN];
        // The pattern name is a constant, the psk and prologue always fit, and the seeded
        // generator never fails: none of these can err at run time.
        let mut state = builder(psk.as_bytes(), &prologue, seed)
            .and_then(|b| b.build_initiator())
            .expect("Noise parameters are constant");
        state
            .write_message(&[0; PAYLOAD_LEN], &mut noise)
            .expect("message 1 fits its buffer");
        Initiator {
            state,
            client,
            noise,
        }
    }

    /// The client id.
    pub fn client(&self) -> u32 {
        self.client
    }

    /// The Initiation datagram carrying `cookie` (the same Noise message every time).
    pub fn initiation(&self, cookie: &[u8; COOKIE_LEN]) -> [u8; INITIATION_LEN] {
        let mut d = [0; INITIATION_LEN];
        d[0] = kind::INITIATION;
        d[1] = VERSION;
        d[2..6].copy_from_slice(&self.client.to_le_bytes());
        d[6..INITIATION_HEAD].copy_from_slice(cookie);
        d[INITIATION_HEAD..].copy_from_slice(&self.noise);
        d
    }

    /// Reads the server's Response (its Noise part). On failure the handshake can go on: a
    /// forged Response does not spoil it.
    pub fn finish(&mut self, noise: &[u8]) -> Result<SessionKeys, HandshakeError> {
        let mut payload = [0; PAYLOAD_LEN];
        match self.state.read_message(noise, &mut payload) {
            Ok(PAYLOAD_LEN) => {}
            _ => return Err(HandshakeError::Decrypt),
        }
        if payload[4..] != [0; 4] {
            return Err(HandshakeError::Version);
        }
        let server = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        Ok(split(&mut self.state, true, server))
    }
}

/// What the server gets from a valid Initiation.
pub struct Responded {
    /// The keys, with the client's id as the peer.
    pub keys: SessionKeys,
    /// The Response datagram.
    pub response: [u8; RESPONSE_LEN],
    /// The client's ephemeral public key: a resent Initiation carries the same one.
    pub ephemeral: [u8; EPHEMERAL_LEN],
}

impl fmt::Debug for Responded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responded")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// The client's ephemeral key in an Initiation's Noise message (to recognise a resent one
/// before doing any cryptography).
pub fn initiation_ephemeral(noise: &[u8]) -> Option<[u8; EPHEMERAL_LEN]> {
    noise.get(..EPHEMERAL_LEN)?.try_into().ok()
}

/// Answers an Initiation whose cookie was checked: decrypts it with the pre-shared key and
/// writes the Response that gives the client `server` as its peer id.
pub fn respond(
    psk: &Key,
    version: u8,
    client: u32,
    noise: &[u8],
    server: u32,
    seed: [u8; 32],
) -> Result<Responded, HandshakeError> {
    if version != VERSION {
        return Err(HandshakeError::Version);
    }
    let ephemeral = initiation_ephemeral(noise).ok_or(HandshakeError::Decrypt)?;
    let prologue = prologue(version, client);
    let mut state = builder(psk.as_bytes(), &prologue, seed)
        .and_then(|b| b.build_responder())
        .expect("Noise parameters are constant");
    let mut payload = [0; PAYLOAD_LEN];
    match state.read_message(noise, &mut payload) {
        Ok(PAYLOAD_LEN) => {}
        _ => return Err(HandshakeError::Decrypt),
    }
    if payload != [0; PAYLOAD_LEN] {
        return Err(HandshakeError::Version);
    }
    let mut response = [0; RESPONSE_LEN];
    response[0] = kind::RESPONSE;
    response[1..5].copy_from_slice(&client.to_le_bytes());
    let mut reply_payload = [0; PAYLOAD_LEN];
    reply_payload[..4].copy_from_slice(&server.to_le_bytes());
    state
        .write_message(&reply_payload, &mut response[RESPONSE_HEAD..])
        .expect("message 2 fits its buffer");
    Ok(Responded {
        keys: split(&mut state, false, client),
        response,
        ephemeral,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn handshake_agrees_on_keys_and_ids() {
        let psk = Key::from_bytes([7; 32]);
        let mut client = Initiator::new(&psk, 0x1111, [1; 32]);
        let init = client.initiation(&[9; COOKIE_LEN]);
        let Ok(Message::Initiation {
            version,
            client: id,
            cookie,
            noise,
        }) = Message::parse(&init)
        else {
            panic!("initiation does not parse");
        };
        assert_eq!((version, id, cookie), (VERSION, 0x1111, [9; COOKIE_LEN]));
        let server = respond(&psk, version, id, noise, 0x2222, [2; 32]).unwrap();
        assert_eq!(server.keys.peer, 0x1111);
        let Ok(Message::Response {
            client: echoed,
            noise,
        }) = Message::parse(&server.response)
        else {
            panic!("response does not parse");
        };
        assert_eq!(echoed, 0x1111);
        let keys = client.finish(noise).unwrap();
        assert_eq!(keys.peer, 0x2222);
        assert_eq!(keys.send, server.keys.recv);
        assert_eq!(keys.recv, server.keys.send);
        assert_ne!(keys.send, keys.recv);
    }

    #[test]
    fn fresh_ephemerals_give_fresh_keys() {
        let psk = Key::from_bytes([7; 32]);
        let keys = |seed: u8| {
            let mut c = Initiator::new(&psk, 1, [seed; 32]);
            let init = c.initiation(&[0; COOKIE_LEN]);
            let r = respond(&psk, VERSION, 1, &init[INITIATION_HEAD..], 2, [seed; 32]).unwrap();
            c.finish(&r.response[RESPONSE_HEAD..]).unwrap().send
        };
        assert_eq!(keys(1), keys(1), "seeded, so reproducible");
        assert_ne!(keys(1), keys(2));
    }

    #[test]
    fn wrong_key_fails_on_both_sides() {
        let mut client = Initiator::new(&Key::from_bytes([1; 32]), 5, [3; 32]);
        let init = client.initiation(&[0; COOKIE_LEN]);
        let noise = &init[INITIATION_HEAD..];
        let wrong = Key::from_bytes([2; 32]);
        assert_eq!(
            respond(&wrong, VERSION, 5, noise, 6, [4; 32]).unwrap_err(),
            HandshakeError::Decrypt
        );
        // The client id is bound by the prologue.
        let right = Key::from_bytes([1; 32]);
        assert!(respond(&right, VERSION, 4, noise, 6, [4; 32]).is_err());
        assert!(respond(&right, VERSION + 1, 5, noise, 6, [4; 32]).is_err());
        // A server with another key cannot answer in a way the client accepts, and the
        // client's handshake survives the forgery.
        let other = respond(&right, VERSION, 5, noise, 6, [4; 32]).unwrap();
        let mut bad = other.response;
        bad[RESPONSE_LEN - 1] ^= 1;
        assert_eq!(
            client.finish(&bad[RESPONSE_HEAD..]).unwrap_err(),
            HandshakeError::Decrypt
        );
        assert!(client.finish(&other.response[RESPONSE_HEAD..]).is_ok());
    }

    #[test]
    fn cookies_bind_address_and_client_and_expire() {
        let mut jar = Cookies::new([1; 32], [2; 32], 0);
        let a = addr("192.0.2.1:4000");
        let c = jar.make(&a, 7);
        assert!(jar.check(&a, 7, &c));
        assert!(!jar.check(&addr("192.0.2.1:4001"), 7, &c));
        assert!(!jar.check(&addr("192.0.2.2:4000"), 7, &c));
        assert!(!jar.check(&addr("[2001:db8::1]:4000"), 7, &c));
        assert!(!jar.check(&a, 8, &c));
        assert!(!jar.rotate(COOKIE_PERIOD_MS - 1, [3; 32]));
        assert!(jar.rotate(COOKIE_PERIOD_MS, [3; 32]));
        assert!(jar.check(&a, 7, &c), "the previous secret still counts");
        assert!(jar.rotate(2 * COOKIE_PERIOD_MS, [4; 32]));
        assert!(!jar.check(&a, 7, &c), "two rotations later it is gone");
    }

    #[test]
    fn replies_are_smaller_than_requests() {
        const { assert!(COOKIE_REPLY_LEN < HELLO_LEN) };
        const { assert!(RESPONSE_LEN < INITIATION_LEN) };
    }

    #[test]
    fn parse_checks_kind_and_length() {
        assert_eq!(
            Message::parse(&hello(3)),
            Ok(Message::Hello {
                version: VERSION,
                client: 3
            })
        );
        assert_eq!(Message::parse(&hello(3)[..31]), Err(Malformed::Length));
        assert_eq!(Message::parse(&[]), Err(Malformed::Kind));
        assert_eq!(Message::parse(&[kind::DATA; 40]), Err(Malformed::Kind));
        let mut reply = [0; COOKIE_REPLY_LEN];
        write_cookie_reply(9, &[5; COOKIE_LEN], &mut reply);
        assert_eq!(
            Message::parse(&reply),
            Ok(Message::CookieReply {
                client: 9,
                cookie: [5; COOKIE_LEN]
            })
        );
    }
}
