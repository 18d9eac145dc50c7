//! The sealed endpoint on the simulated network: handshakes, transfers, life cycle.

use kcp_core::endpoint::{CloseReason, Endpoint, EndpointConfig, Event, SessionId};
use kcp_core::sealed::keys::Key;
use kcp_core::sim::net::{Host, Net};
use kcp_core::sim::LinkConfig;
use std::net::SocketAddr;

const SERVER: &str = "10.0.0.1:4000";
const CLIENT: &str = "10.0.0.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config(key: [u8; 32], accept: bool) -> EndpointConfig {
    let mut c = EndpointConfig::new(Key::from_bytes(key));
    c.accept = accept;
    c
}

fn host(config: EndpointConfig, seed: u8, at: &str) -> Host {
    Host {
        endpoint: Endpoint::new(config, [seed; 32], 0).unwrap(),
        addr: addr(at),
    }
}

fn pair(key_client: [u8; 32], key_server: [u8; 32]) -> Vec<Host> {
    vec![
        host(config(key_server, true), 1, SERVER),
        host(config(key_client, false), 2, CLIENT),
    ]
}

fn events(h: &mut Host) -> Vec<Event> {
    std::iter::from_fn(|| h.endpoint.poll_event()).collect()
}

/// Connects host 1 to host 0 and returns (client id, server id).
fn connect(net: &mut Net, hosts: &mut [Host]) -> Option<(SessionId, SessionId)> {
    let id = hosts[1].endpoint.connect(net.now(), addr(SERVER)).unwrap();
    let (mut client, mut server) = (None, None);
    net.run_until(hosts, net.clock() + 30_000, |h| {
        for e in events(&mut h[1]) {
            match e {
                Event::Connected(c) => client = Some(c),
                Event::Closed(..) => return true,
                _ => {}
            }
        }
        for e in events(&mut h[0]) {
            if let Event::Accepted(s) = e {
                server = Some(s);
            }
        }
        client.is_some() && server.is_some()
    });
    assert!(client.is_none() || client == Some(id));
    Some((client?, server?))
}

#[test]
fn handshake_and_echo_on_a_clean_link() {
    let mut net = Net::new(1, |_, _| LinkConfig::lossy(0.0, 10, 10));
    let mut hosts = pair([7; 32], [7; 32]);
    let (c, s) = connect(&mut net, &mut hosts).expect("handshake");
    hosts[1]
        .endpoint
        .send(c, b"hello over the sealed mode")
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = None;
    net.run_until(&mut hosts, net.clock() + 5_000, |h| {
        got = h[0].endpoint.recv(s, &mut buf).ok();
        got.is_some()
    });
    assert_eq!(&buf[..got.unwrap()], b"hello over the sealed mode");
    let stats = hosts[0].endpoint.stats();
    assert_eq!(
        (stats.sessions, stats.handshakes, stats.accepted),
        (1, 0, 1)
    );
}

#[test]
fn wrong_key_fails_with_a_clear_reason_and_leaves_nothing() {
    let mut net = Net::new(2, |_, _| LinkConfig::lossy(0.0, 10, 10));
    let mut hosts = pair([1; 32], [2; 32]);
    let id = hosts[1].endpoint.connect(0, addr(SERVER)).unwrap();
    let mut closed = None;
    net.run_until(&mut hosts, 60_000, |h| {
        closed = events(&mut h[1]).into_iter().find_map(|e| match e {
            Event::Closed(i, reason) => Some((i, reason)),
            _ => None,
        });
        closed.is_some()
    });
    let (i, reason) = closed.expect("the attempt ends");
    assert_eq!(i, id);
    assert_eq!(
        reason,
        CloseReason::HandshakeTimeout {
            server_answered: true
        }
    );
    assert!(reason.to_string().contains("key"), "{reason}");
    let server = hosts[0].endpoint.stats();
    assert_eq!(server.sessions, 0);
    assert!(server.handshake_failures > 0);
}
