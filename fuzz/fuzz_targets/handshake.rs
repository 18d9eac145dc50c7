//! The sealed mode's handshake messages are what an endpoint reads before anything is
//! authenticated, so they take any bytes from anyone; and the handshake must fail closed:
//!
//! * `Message::parse` and `Control::parse` (the plaintext of sealed control datagrams) never
//!   panic on any bytes (arbitrary ones, or a type byte followed by arbitrary bytes of that
//!   type's length), and what they parse writes back to the same bytes: Hello through `hello`,
//!   CookieReply through `write_cookie_reply`, control messages through `Control::write`;
//!   Initiation and Response, which only the Noise code writes, field by field, with their
//!   Noise part a view of the datagram's tail;
//! * `Cookies::check` accepts exactly the cookies made for that address and client id by the
//!   current or the previous secret;
//! * `respond` refuses every Initiation not made with the key (arbitrary bytes, a genuine one
//!   damaged, cut, extended or with a replaced prefix, or sent under another version or client
//!   id), and accepts the genuine one;
//! * `Initiator::finish` refuses every Response not made with the key, and however many forged
//!   ones it refused, the initiator still completes the real handshake: a forged Response does
//!   not spoil it, and the keys still agree with the server's.

#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use kcp_core::sealed::control::{self, Control};
use kcp_core::sealed::handshake::{
    self, kind, Cookies, Initiator, Message, COOKIE_LEN, COOKIE_REPLY_LEN, HELLO_LEN,
    INITIATION_LEN, RESPONSE_LEN, VERSION,
};
use kcp_core::sealed::keys::Key;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = *b"handshake fuzz target key 012345";
/// The genuine handshake's client id, server id and ephemeral seeds.
const CLIENT: u32 = 0x0c11_e417;
const SERVER: u32 = 0x5e7e_7e75;
const CLIENT_SEED: [u8; 32] = [0xc1; 32];
const SERVER_SEED: [u8; 32] = [0x5e; 32];
/// Where the Noise message starts in an Initiation and in a Response.
const INITIATION_HEAD: usize = 1 + 1 + 4 + COOKIE_LEN;
const RESPONSE_HEAD: usize = 1 + 4;
/// Forged Responses fed to one initiator before the genuine one.
const MAX_FORGERIES: usize = 16;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Parsed as a handshake datagram.
    handshake: Shaped,
    /// Parsed as a control plaintext.
    control: Shaped,
    /// A cookie presented by `client` from `addr`.
    cookie: Cookie,
    /// An Initiation's Noise message, with the version and client id it claims.
    initiation: Claimed,
    /// Response Noise messages the initiator reads before the genuine one.
    responses: Vec<Forgery>,
}

/// Bytes to parse.
#[derive(Arbitrary, Debug)]
enum Shaped {
    /// Exactly these.
    Raw(Vec<u8>),
    /// Type byte number `kind` (modulo the number of types) followed by `body`, cut or padded
    /// with zeros to that type's length, so that the parsers' success paths are reached.
    Typed { kind: u8, body: Vec<u8> },
}

impl Shaped {
    /// The bytes, with `types` the (type byte, length) of every type.
    fn bytes(&self, types: &[(u8, usize)]) -> Vec<u8> {
        match self {
            Shaped::Raw(bytes) => bytes.clone(),
            Shaped::Typed { kind, body } => {
                let (kind, len) = types[usize::from(*kind) % types.len()];
                let mut bytes = vec![kind];
                bytes.extend_from_slice(body);
                bytes.resize(len, 0);
                bytes
            }
        }
    }
}

/// Handshake message types and lengths.
const HANDSHAKE_TYPES: [(u8, usize); 4] = [
    (kind::HELLO, HELLO_LEN),
    (kind::COOKIE_REPLY, COOKIE_REPLY_LEN),
    (kind::INITIATION, INITIATION_LEN),
    (kind::RESPONSE, RESPONSE_LEN),
];
/// Control message types and lengths.
const CONTROL_TYPES: [(u8, usize); 5] = [(0, 1), (1, 1), (2, 5), (3, 9), (4, 9)];

#[derive(Arbitrary, Debug)]
struct Cookie {
    addr: Addr,
    client: u32,
    /// `None`: the genuine cookie for `addr` and `client`, from a jar picked by `previous`.
    bytes: Option<[u8; COOKIE_LEN]>,
    previous: bool,
}

#[derive(Arbitrary, Debug)]
enum Addr {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

impl Addr {
    fn socket(&self) -> SocketAddr {
        match *self {
            Addr::V4(ip, port) => SocketAddr::from((Ipv4Addr::from(ip), port)),
            Addr::V6(ip, port) => SocketAddr::from((Ipv6Addr::from(ip), port)),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Claimed {
    /// `None`: the genuine version and client id.
    header: Option<(u8, u32)>,
    noise: Forgery,
}

/// A Noise message made from the genuine one (`genuine`) or from nothing.
#[derive(Arbitrary, Debug)]
enum Forgery {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// The genuine message with byte `at` (modulo its length) XORed with `xor` (0 taken as 1).
    Damaged { at: u8, xor: u8 },
    /// The genuine message cut to `len` bytes (modulo its length).
    Truncated(u8),
    /// The genuine message with bytes after it.
    Extended(Vec<u8>),
    /// The genuine message with its first `len` bytes (modulo its length) replaced by `bytes`
    /// (a forger's own ephemeral key, say), repeated as needed.
    Prefixed { len: u8, bytes: Vec<u8> },
}

impl Forgery {
    fn make(&self, genuine: &[u8]) -> Vec<u8> {
        let mut out = genuine.to_vec();
        match self {
            Forgery::Raw(bytes) => return bytes.clone(),
            Forgery::Damaged { at, xor } => out[usize::from(*at) % genuine.len()] ^= xor.max(&1),
            Forgery::Truncated(len) => out.truncate(usize::from(*len) % genuine.len()),
            Forgery::Extended(bytes) => out.extend_from_slice(bytes),
            Forgery::Prefixed { len, bytes } => {
                let len = usize::from(*len) % genuine.len();
                for (o, b) in out[..len].iter_mut().zip(bytes.iter().cycle()) {
                    *o = *b;
                }
            }
        }
        out
    }
}

/// One genuine handshake, made once: the seeds fix every byte of it.
struct Genuine {
    key: Key,
    /// The Initiation's Noise message.
    initiation: Vec<u8>,
    /// The Response's Noise message.
    response: Vec<u8>,
    /// The server's keys (send, receive).
    server_keys: ([u8; 32], [u8; 32]),
}

fn genuine() -> &'static Genuine {
    static GENUINE: OnceLock<Genuine> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let key = Key::from_bytes(KEY);
        let initiator = Initiator::new(&key, CLIENT, CLIENT_SEED);
        let datagram = initiator.initiation(&[0; COOKIE_LEN]);
        let initiation = datagram[INITIATION_HEAD..].to_vec();
        let responded = handshake::respond(&key, VERSION, CLIENT, &initiation, SERVER, SERVER_SEED)
            .expect("the genuine Initiation is accepted");
        assert_eq!(responded.keys.peer, CLIENT);
        assert_eq!(&responded.ephemeral[..], &initiation[..32]);
        Genuine {
            key,
            response: responded.response[RESPONSE_HEAD..].to_vec(),
            server_keys: (responded.keys.send, responded.keys.recv),
            initiation,
        }
    })
}

/// The cookie jars: the same two secrets, in either order.
fn jars() -> &'static (Cookies, Cookies) {
    static JARS: OnceLock<(Cookies, Cookies)> = OnceLock::new();
    JARS.get_or_init(|| {
        (
            Cookies::new([1; 32], [2; 32], 0),
            Cookies::new([2; 32], [1; 32], 0),
        )
    })
}

fuzz_target!(|input: Input| {
    parse_handshake(&input.handshake.bytes(&HANDSHAKE_TYPES));
    parse_control(&input.control.bytes(&CONTROL_TYPES));
    check_cookie(&input.cookie);
    let genuine = genuine();
    check_respond(genuine, &input.initiation);
    check_finish(genuine, &input.responses);
});

/// `Message::parse`: never panics, and what it parses writes back to the same bytes.
fn parse_handshake(bytes: &[u8]) {
    let Ok(message) = Message::parse(bytes) else {
        return;
    };
    match message {
        Message::Hello { version, client } => {
            assert_eq!(bytes.len(), HELLO_LEN);
            let mut written = handshake::hello(client);
            assert_eq!(
                Message::parse(&written),
                Ok(Message::Hello {
                    version: VERSION,
                    client
                })
            );
            // The writer always writes our version and zero padding; the parser ignores the
            // padding.
            written[1] = version;
            written[6..].copy_from_slice(&bytes[6..]);
            assert_eq!(&written[..], bytes);
        }
        Message::CookieReply { client, cookie } => {
            let mut written = [0u8; COOKIE_REPLY_LEN + 8];
            let n = handshake::write_cookie_reply(client, &cookie, &mut written);
            assert_eq!(&written[..n], bytes);
            assert_eq!(Message::parse(&written[..n]), Ok(message));
        }
        Message::Initiation {
            version,
            client,
            cookie,
            noise,
        } => {
            assert_eq!(bytes.len(), INITIATION_LEN);
            let mut written = vec![kind::INITIATION, version];
            written.extend_from_slice(&client.to_le_bytes());
            written.extend_from_slice(&cookie);
            assert_eq!(written.len(), INITIATION_HEAD);
            assert!(std::ptr::eq(noise, &bytes[INITIATION_HEAD..]));
            written.extend_from_slice(noise);
            assert_eq!(&written[..], bytes);
            assert_eq!(
                handshake::initiation_ephemeral(noise)
                    .as_ref()
                    .map(|e| &e[..]),
                Some(&noise[..32])
            );
        }
        Message::Response { client, noise } => {
            assert_eq!(bytes.len(), RESPONSE_LEN);
            let mut written = vec![kind::RESPONSE];
            written.extend_from_slice(&client.to_le_bytes());
            assert!(std::ptr::eq(noise, &bytes[RESPONSE_HEAD..]));
            written.extend_from_slice(noise);
            assert_eq!(&written[..], bytes);
        }
    }
}

/// `Control::parse`: never panics, and what it parses writes back to the same bytes.
fn parse_control(bytes: &[u8]) {
    let Ok(message) = Control::parse(bytes) else {
        return;
    };
    let mut written = [0u8; control::MAX_LEN];
    let n = message.write(&mut written);
    assert_eq!(&written[..n], bytes, "{message:?} wrote other bytes");
    assert_eq!(Control::parse(&written[..n]), Ok(message));
}

/// `Cookies::check` takes exactly the cookies either secret made for that address and id.
fn check_cookie(cookie: &Cookie) {
    let (jar, swapped) = jars();
    let addr = cookie.addr.socket();
    let made = [
        jar.make(&addr, cookie.client),
        swapped.make(&addr, cookie.client),
    ];
    let presented = match cookie.bytes {
        Some(bytes) => bytes,
        None => made[usize::from(cookie.previous)],
    };
    let valid = made.contains(&presented);
    assert_eq!(jar.check(&addr, cookie.client, &presented), valid);
    assert_eq!(swapped.check(&addr, cookie.client, &presented), valid);
}

/// `respond` accepts the genuine Initiation and nothing else.
fn check_respond(genuine: &Genuine, claimed: &Claimed) {
    let (version, client) = claimed.header.unwrap_or((VERSION, CLIENT));
    let noise = claimed.noise.make(&genuine.initiation);
    let result = handshake::respond(&genuine.key, version, client, &noise, SERVER, SERVER_SEED);
    let is_genuine = (version, client) == (VERSION, CLIENT) && noise == genuine.initiation;
    match result {
        Ok(responded) => {
            assert!(
                is_genuine,
                "an Initiation not made with the key was accepted: version {version}, client \
                 {client:#x}, noise {noise:02x?}"
            );
            assert_eq!(responded.keys.peer, CLIENT);
            assert_eq!(&responded.response[RESPONSE_HEAD..], &genuine.response[..]);
        }
        Err(e) => assert!(!is_genuine, "the genuine Initiation was refused: {e}"),
    }
}

/// `Initiator::finish` refuses forged Responses and still completes with the genuine one.
fn check_finish(genuine: &Genuine, forgeries: &[Forgery]) {
    let mut initiator = Initiator::new(&genuine.key, CLIENT, CLIENT_SEED);
    assert_eq!(
        &initiator.initiation(&[0; COOKIE_LEN])[INITIATION_HEAD..],
        &genuine.initiation[..],
        "the seeded Initiation is reproducible"
    );
    let mut keys = None;
    for forgery in forgeries.iter().take(MAX_FORGERIES) {
        let noise = forgery.make(&genuine.response);
        match initiator.finish(&noise) {
            Ok(finished) => {
                assert_eq!(
                    noise, genuine.response,
                    "a Response not made with the key was accepted: {noise:02x?}"
                );
                keys = Some(finished);
                break;
            }
            Err(e) => assert_ne!(
                noise, genuine.response,
                "the genuine Response was refused: {e}"
            ),
        }
    }
    let keys = match keys {
        Some(keys) => keys,
        None => initiator
            .finish(&genuine.response)
            .expect("forged Responses spoiled the handshake"),
    };
    assert_eq!(keys.peer, SERVER);
    assert_eq!(
        (keys.recv, keys.send),
        genuine.server_keys,
        "the keys disagree"
    );
}
