//! Same configuration, same calls, same bytes: our state machine in `FlushMode::Interval`
//! against the reference C code, in lockstep.
//!
//! Two worlds run side by side, one with two C peers and one with two of ours, fed the same
//! application calls, the same clock and the same lossy, reordering network. After every step
//! each of our peers must have emitted exactly the datagrams its C twin emitted, byte for byte
//! (every header field: conv, cmd, frg, wnd, ts, sn, una, len, and the payloads), and received
//! the same data.

use kcp_benches::reference::CKcp;
use kcp_core::sim::{Link, LinkConfig, Rng};
use kcp_core::wire::Segments;
use kcp_core::{Config, FlushMode, Kcp};

/// One scenario: the `ikcp_nodelay` arguments, windows, MTU, mode and path.
#[derive(Clone, Debug)]
struct Scenario {
    nodelay: (i32, i32, i32, i32),
    min_rto: Option<i32>,
    fast_resend: Option<i32>,
    windows: (u16, u16),
    mtu: u32,
    stream: bool,
    loss: f64,
    delay: (u64, u64),
    /// Largest gap between two update calls, in ms (1 = every millisecond).
    max_step: u64,
}

/// A C peer and our peer, configured alike.
struct Twin {
    c: CKcp,
    ours: Kcp,
    label: &'static str,
}

impl Twin {
    fn new(conv: u32, s: &Scenario, label: &'static str) -> Twin {
        let mut c = CKcp::new(conv);
        let (nodelay, interval, resend, nc) = s.nodelay;
        c.nodelay(nodelay, interval, resend, nc);
        c.wndsize(i32::from(s.windows.0), i32::from(s.windows.1));
        assert_eq!(c.setmtu(s.mtu as i32), 0);
        c.set_stream(s.stream);
        let mut config = Config {
            send_window: s.windows.0,
            recv_window: s.windows.1,
            mtu: s.mtu,
            stream: s.stream,
            flush: FlushMode::Interval,
            ..Config::default()
        }
        .with_nodelay(nodelay as u32, interval as u32, resend as u32, nc != 0);
        if let Some(ms) = s.min_rto {
            c.set_min_rto(ms);
            config.min_rto = ms as u32;
        }
        if let Some(resend) = s.fast_resend {
            c.set_fast_resend(resend);
            config.fast_resend = resend as u32;
        }
        Twin {
            c,
            ours: Kcp::new(conv, &config).unwrap(),
            label,
        }
    }

    /// Both emit; the datagrams must be identical. Returns them.
    fn emitted(&mut self, now: u32, step: u64) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        let mut c_out = Vec::new();
        while let Some(d) = self.c.pop_output() {
            c_out.push(d);
        }
        let mut ours = Vec::new();
        while let Some(n) = self.ours.poll_transmit(now, &mut buf) {
            ours.push(buf[..n].to_vec());
        }
        for (i, (c, r)) in c_out.iter().zip(&ours).enumerate() {
            if c != r {
                let headers = |d: &[u8]| -> Vec<String> {
                    Segments::new(d)
                        .map(|s| format!("{:?}", s.map(|s| s.header)))
                        .collect()
                };
                panic!(
                    "{} step {step} t={now} datagram {i} differs\n   C: {:?}\nours: {:?}",
                    self.label,
                    headers(c),
                    headers(r)
                );
            }
        }
        assert_eq!(
            c_out.len(),
            ours.len(),
            "{} step {step}: datagram count",
            self.label
        );
        c_out
    }
}

fn run(seed: u64, s: &Scenario) {
    let mut rng = Rng::new(seed);
    let conv = rng.next_u64() as u32;
    let mut a = Twin::new(conv, s, "client");
    let mut b = Twin::new(conv, s, "server");
    let link = LinkConfig::lossy(s.loss, s.delay.0, s.delay.1);
    let mut ab = Link::new(link.clone(), rng.next_u64());
    let mut ba = Link::new(link, rng.next_u64());
    let origin = if rng.chance(0.5) { u32::MAX - 3_000 } else { 1 };

    let mss = (s.mtu - 24) as usize;
    // The client sends 200 kB, the server 50 kB back, at the same time.
    let mut flows = [Flow::new(&mut rng, 200_000), Flow::new(&mut rng, 50_000)];
    let mut buf = vec![0u8; 256 * 1024];
    let mut clock = 0u64;
    let mut step = 0u64;

    while flows.iter().any(|f| f.got_c.len() < f.payload.len()) {
        step += 1;
        assert!(clock < 3_600_000, "transfer did not finish");
        clock += rng.range(1, s.max_step);
        let now = origin.wrapping_add(clock as u32);

        for (flow, twin) in flows.iter_mut().zip([&mut a, &mut b]) {
            flow.offer(&mut rng, twin, mss, s.windows.0);
        }
        for twin in [&mut a, &mut b] {
            twin.c.update(now);
            twin.ours.handle_timeout(now);
        }
        for d in a.emitted(now, step) {
            ab.send(clock, &d);
        }
        for d in b.emitted(now, step) {
            ba.send(clock, &d);
        }
        for (link, twin) in [(&mut ab, &mut b), (&mut ba, &mut a)] {
            while let Some(d) = link.receive(clock) {
                assert_eq!(twin.c.input(&d), 0);
                twin.ours.handle_datagram(now, &d).unwrap();
            }
        }
        // Flow 0 is received by the server, flow 1 by the client.
        for (flow, twin) in flows.iter_mut().zip([&mut b, &mut a]) {
            flow.drain(twin, &mut buf, step);
        }
        for twin in [&a, &b] {
            assert_eq!(
                twin.ours.wait_send() as i32,
                twin.c.waitsnd(),
                "step {step}: waitsnd"
            );
            assert_eq!(twin.ours.rto() as i32, twin.c.rto(), "step {step}: rto");
        }
    }
    for flow in &flows {
        assert_eq!(flow.got_c, flow.payload);
        assert_eq!(flow.got_ours, flow.payload);
    }
}

/// Data one side sends and the other receives, in both worlds.
struct Flow {
    payload: Vec<u8>,
    offset: usize,
    got_c: Vec<u8>,
    got_ours: Vec<u8>,
}

impl Flow {
    fn new(rng: &mut Rng, len: usize) -> Flow {
        Flow {
            payload: (0..len).map(|_| rng.next_u64() as u8).collect(),
            offset: 0,
            got_c: Vec::new(),
            got_ours: Vec::new(),
        }
    }

    /// Sends a random amount (at most 100 segments, under the C fragment limit) while the
    /// sender's queue is short; both worlds must answer alike.
    fn offer(&mut self, rng: &mut Rng, sender: &mut Twin, mss: usize, window: u16) {
        let total = self.payload.len();
        if self.offset == total || sender.c.waitsnd() >= 2 * i32::from(window) {
            return;
        }
        let n = (rng.range(0, 20 * mss as u64) as usize)
            .min(total - self.offset)
            .min(100 * mss);
        let chunk = &self.payload[self.offset..self.offset + n];
        let c_ret = sender.c.send(chunk);
        let ours = sender.ours.send(chunk);
        assert_eq!(c_ret, ours.map(|n| n as i32).unwrap_or(-2), "send return");
        self.offset += n;
    }

    fn drain(&mut self, receiver: &mut Twin, buf: &mut [u8], step: u64) {
        loop {
            let n = receiver.c.recv(buf);
            if n < 0 {
                break;
            }
            self.got_c.extend_from_slice(&buf[..n as usize]);
        }
        while let Ok(n) = receiver.ours.recv(buf) {
            self.got_ours.extend_from_slice(&buf[..n]);
        }
        assert_eq!(
            self.got_c.len(),
            self.got_ours.len(),
            "step {step}: received bytes"
        );
    }
}

fn scenarios() -> Vec<(&'static str, Scenario)> {
    let base = Scenario {
        nodelay: (0, 10, 0, 0),
        min_rto: None,
        fast_resend: None,
        windows: (128, 128),
        mtu: 1400,
        stream: false,
        loss: 0.0,
        delay: (20, 40),
        max_step: 1,
    };
    vec![
        (
            "default, congestion control, lossless",
            Scenario {
                nodelay: (0, 100, 0, 0),
                windows: (32, 128),
                ..base.clone()
            },
        ),
        (
            "default, 10% loss, irregular updates",
            Scenario {
                loss: 0.1,
                max_step: 25,
                ..base.clone()
            },
        ),
        (
            "normal 0,40,2,1 stream, 10% loss",
            Scenario {
                nodelay: (0, 40, 2, 1),
                stream: true,
                loss: 0.1,
                ..base.clone()
            },
        ),
        (
            "fast2 1,20,2,1, 30% loss",
            Scenario {
                nodelay: (1, 20, 2, 1),
                loss: 0.3,
                ..base.clone()
            },
        ),
        (
            "fast3 1,10,2,1 stream, mtu 500, 10% loss",
            Scenario {
                nodelay: (1, 10, 2, 1),
                stream: true,
                mtu: 500,
                loss: 0.1,
                ..base.clone()
            },
        ),
        (
            "test.cpp fast 2,10,2,1 minrto 10 resend 1, 10% loss",
            Scenario {
                nodelay: (2, 10, 2, 1),
                min_rto: Some(10),
                fast_resend: Some(1),
                loss: 0.1,
                delay: (30, 62),
                ..base.clone()
            },
        ),
        (
            "cwnd on 1,10,2,0, window 256, 10% loss",
            Scenario {
                nodelay: (1, 10, 2, 0),
                windows: (256, 256),
                loss: 0.1,
                ..base
            },
        ),
    ]
}

#[test]
fn emits_the_same_datagrams_as_the_reference() {
    for (name, scenario) in scenarios() {
        for seed in 0..4 {
            eprintln!("{name}, seed {seed}");
            run(seed, &scenario);
        }
    }
}
