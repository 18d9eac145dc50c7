//! "No heap allocation per packet in steady state", checked: a counting allocator watches a
//! bulk transfer of 20,000 segments between two peers after two warm-up transfers of the same
//! shape, with and without loss. The harness itself allocates nothing while it counts.
//!
//! Buffers are pooled, so an allocation happens only when the number of segments held at once
//! reaches a new high-water mark (a few dozen over a run, as burst sizes vary); one allocation
//! per packet would show up as tens of thousands.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kcp_core::sim::Rng;
use kcp_core::{Config, Kcp};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Preallocated datagram slots, so moving datagrams costs the harness no allocation.
struct Wire {
    slots: Vec<Vec<u8>>,
    lens: Vec<usize>,
    used: usize,
}

impl Wire {
    fn new() -> Wire {
        Wire {
            slots: (0..4096).map(|_| vec![0u8; 1400]).collect(),
            lens: vec![0; 4096],
            used: 0,
        }
    }

    fn fill(&mut self, from: &mut Kcp, now: u32, rng: &mut Rng, loss: f64) {
        self.used = 0;
        while self.used < self.slots.len() {
            match from.poll_transmit(now, &mut self.slots[self.used]) {
                Some(n) if !rng.chance(loss) => {
                    self.lens[self.used] = n;
                    self.used += 1;
                }
                Some(_) => {}
                None => return,
            }
        }
    }

    fn deliver(&self, to: &mut Kcp, now: u32) {
        for i in 0..self.used {
            to.handle_datagram(now, &self.slots[i][..self.lens[i]])
                .unwrap();
        }
    }
}

/// Two peers and everything the harness needs, allocated up front.
struct Bench {
    a: Kcp,
    b: Kcp,
    forward: Wire,
    backward: Wire,
    message: Vec<u8>,
    out: Vec<u8>,
    clock: u32,
}

/// Sends `segments` MSS-sized messages from `a` to `b`.
fn transfer(bench: &mut Bench, segments: u32, loss: f64) {
    let Bench {
        a,
        b,
        forward,
        backward,
        message,
        out,
        clock,
    } = bench;
    let mut rng = Rng::new(u64::from(*clock));
    let (mut queued, mut delivered) = (0, 0);
    while delivered < segments {
        *clock += 1;
        let now = *clock;
        assert!(now < 10_000_000, "transfer stalled");
        a.handle_timeout(now);
        b.handle_timeout(now);
        while queued < segments && a.wait_send() < 512 {
            a.send(message).unwrap();
            queued += 1;
        }
        forward.fill(a, now, &mut rng, loss);
        forward.deliver(b, now);
        backward.fill(b, now, &mut rng, loss);
        backward.deliver(a, now);
        while b.recv(out).is_ok() {
            delivered += 1;
        }
    }
}

fn steady_state_allocations(loss: f64) -> usize {
    let config = Config {
        send_window: 256,
        recv_window: 256,
        ..Config::fast3()
    };
    let a = Kcp::new(1, &config).unwrap();
    let mss = a.mss() as usize;
    let mut bench = Bench {
        a,
        b: Kcp::new(1, &config).unwrap(),
        forward: Wire::new(),
        backward: Wire::new(),
        message: vec![7u8; mss],
        out: vec![0u8; mss],
        clock: 1,
    };
    transfer(&mut bench, 20_000, loss);
    transfer(&mut bench, 20_000, loss);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    transfer(&mut bench, 20_000, loss);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// One test only: the counter is process-wide, and tests run on parallel threads.
#[test]
fn bulk_transfers_allocate_nothing_per_packet() {
    for loss in [0.0, 0.05] {
        let allocations = steady_state_allocations(loss);
        assert!(
            allocations < 200,
            "{allocations} allocations for 20,000 segments at {loss} loss"
        );
    }
}
