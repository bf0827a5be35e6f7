//! RAM per active call, measured with a counting global allocator: two sans-IO phones idle,
//! then in one G.722 call with audio flowing for 3 s; the growth of live heap bytes divided by
//! the two call ends. Goal of issue 10: < 256 KB per call.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use common::{config, Net};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn ram_per_active_call_under_256_kib() {
    let mut net = Net::new();
    let a = net.add("alice", config(0, &[]), 1000.0);
    let b = net.add("bob", config(0, &[]), 1500.0);
    net.nodes[b].phone.features_mut().auto_answer = true;
    net.run(Duration::from_millis(100));
    // What the test keeps (recorded speaker audio) is not the phone's: reserve it now.
    for n in &mut net.nodes {
        n.heard.reserve(16000 * 8);
    }
    let idle = LIVE.load(Ordering::Relaxed);
    let now = net.now;
    let uri = net.uri(b);
    let id = net.nodes[a].phone.dial(now, &uri).unwrap();
    net.run(Duration::from_secs(3));
    let in_call = LIVE.load(Ordering::Relaxed);
    assert_eq!(net.nodes[a].phone.status().calls.len(), 1);
    let per_call = (in_call - idle) / 2;
    println!(
        "RAM per active call: {per_call} bytes ({:.1} KiB)",
        per_call as f64 / 1024.0
    );
    assert!(per_call > 1024, "a call allocates something: {per_call}");
    assert!(per_call < 256 * 1024, "{per_call} bytes per call");
    let now = net.now;
    net.nodes[a].phone.hangup(now, id).unwrap();
    net.run(Duration::from_millis(300));
    assert!(net.nodes[a].phone.status().calls.is_empty());
}
