//! How long one cache line takes to go from one core to the other and
//! back: two threads hand a counter back and forth 200 000 times, and the
//! mean round trip is printed in nanoseconds. On the shared Zen 5 VM of
//! docs/performance.md it read 43-85 ns most of the time and 238-477 ns in
//! phases (the host, we take it, then running the two vCPUs farther apart),
//! and the MLP step's slow phases fell mostly in those. Run it beside a
//! workload's timings to see whether a slow run met such a phase:
//!
//! ```text
//! cargo build --release -p mixact-bench --example core_round_trip --example step_times
//! for i in $(seq 200); do
//!   echo "$(target/release/examples/core_round_trip) $(target/release/examples/step_times mlp)"
//! done
//! ```
//!
//! The threads are pinned to CPUs 0 and 1 (Linux; elsewhere they are left
//! where the scheduler puts them); `core_round_trip A B` pins them to A and B.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const ROUND_TRIPS: u64 = 200_000;

/// Keeps the calling thread on `cpu` (best effort: a CPU the process may
/// not use leaves the thread where it is).
#[cfg(target_os = "linux")]
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET ignores CPUs
    // past its size; sched_setaffinity reads the set and only fails.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin(_cpu: usize) {}

fn cpu_arg(position: usize, default: usize) -> usize {
    match std::env::args().nth(position).map(|a| a.parse::<usize>()) {
        None => default,
        Some(Ok(cpu)) if cpu < 1024 => cpu,
        Some(_) => {
            eprintln!("usage: core_round_trip [CPU_A CPU_B] (whole numbers below 1024)");
            std::process::exit(2);
        }
    }
}

fn main() {
    let (a, b) = (cpu_arg(1, 0), cpu_arg(2, 1));
    let counter = AtomicU64::new(0);
    let nanoseconds = std::thread::scope(|scope| {
        scope.spawn(|| {
            pin(b);
            for i in 0..ROUND_TRIPS {
                while counter.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                counter.store(2 * i + 2, Ordering::Release);
            }
        });
        pin(a);
        let start = Instant::now();
        for i in 0..ROUND_TRIPS {
            counter.store(2 * i + 1, Ordering::Release);
            while counter.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        start.elapsed().as_nanos() as f64 / ROUND_TRIPS as f64
    });
    println!("round trip {nanoseconds:.0} ns");
}
