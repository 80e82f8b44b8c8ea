//! Memory: what loading hostile and valid files, reading CSV and predicting
//! from many threads may allocate, and that a steady-state training step
//! allocates nothing. One global allocator (`watch`) serves every test.

mod watch;

#[global_allocator]
static GLOBAL: watch::Watch = watch::Watch;

mod bounds;
mod load_mutations;
mod no_alloc;
mod no_alloc_ensemble;
