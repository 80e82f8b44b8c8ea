//! Where `layer_fwd_bwd/gemm_floor` spends its time beyond three W0
//! products: each of the layer's three products (`z = x·W`, `dW = xᵀ·dy`,
//! `dx = dy·Wᵀ`, 256 x 1024 x 1024, f32, faer on rayon's pool) repeated on
//! its own operands, and the three run in sequence as the bench runs them.
//! Repeated, each keeps its operands where the last call left them; in
//! sequence, each product starts from the other products' data. Rounds
//! alternate the measurements so the host's drift hits all of them alike.
//!
//! ```text
//! cargo run --release -p mixact-bench --example gemm_orders [ROUNDS]
//! ```

use std::time::Instant;

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[path = "../workloads.rs"]
#[allow(dead_code)]
mod workloads;
use workloads::random;

fn view(m: &DMatrix<f32>) -> faer::MatRef<'_, f32> {
    faer::MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

fn view_mut(m: &mut DMatrix<f32>) -> faer::MatMut<'_, f32> {
    let (r, c) = m.shape();
    faer::MatMut::from_column_major_slice_mut(m.as_mut_slice(), r, c)
}

/// `c = a · b` on rayon's global pool, as `gemm_floor` computes it.
fn product(c: faer::MatMut<'_, f32>, a: faer::MatRef<'_, f32>, b: faer::MatRef<'_, f32>) {
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0, faer::Par::rayon(0));
}

/// Median milliseconds per call of `f` over 15 runs of 10 calls.
fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..10 {
                f();
            }
            t.elapsed().as_secs_f64() * 1e3 / 10.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let rounds: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 5,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            eprintln!("usage: gemm_orders [ROUNDS], ROUNDS from 1 to 1000");
            std::process::exit(2);
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (x, w, dy) = (
        random(256, 1024, &mut rng),
        random(1024, 1024, &mut rng),
        random(256, 1024, &mut rng),
    );
    let mut z = DMatrix::<f32>::zeros(256, 1024);
    let mut dw = DMatrix::<f32>::zeros(1024, 1024);
    let mut dx = DMatrix::<f32>::zeros(256, 1024);
    println!("round  x·W  xᵀ·dy  dy·Wᵀ  (ms, each repeated)  three in sequence  sum/(3 x x·W)  sequence/(3 x x·W)");
    for round in 1..=rounds {
        let plain = median_ms(|| product(view_mut(&mut z), view(&x), view(&w)));
        let left_t = median_ms(|| product(view_mut(&mut dw), view(&x).transpose(), view(&dy)));
        let right_t = median_ms(|| product(view_mut(&mut dx), view(&dy), view(&w).transpose()));
        let sequence = median_ms(|| {
            product(view_mut(&mut z), view(&x), view(&w));
            product(view_mut(&mut dw), view(&x).transpose(), view(&dy));
            product(view_mut(&mut dx), view(&dy), view(&w).transpose());
        });
        println!(
            "{round:5}  {plain:.3}  {left_t:.3}  {right_t:.3}  {sequence:.3}  {:.3}  {:.3}",
            (plain + left_t + right_t) / (3.0 * plain),
            sequence / (3.0 * plain)
        );
    }
}
