//! Training: the fit loop, schedules and early stopping, ensembles, and the errors a user meets.
//!
//! One test binary per subject (not one per file): each binary links the
//! whole library, so fewer of them build and link faster.

#[path = "../common/mod.rs"]
mod common;

mod concurrent_runs;
mod ensemble;
mod errors;
mod evaluation;
mod fit;
mod lanes;
mod own_data_training;
mod pinned_formulas;
mod psnr;
