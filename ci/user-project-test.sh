#!/usr/bin/env bash
# A new user's project, made as the README says: `cargo new`, `cargo add
# mixact` (here by path) and `cargo add rand` (whatever rand cargo picks
# today), the README's first code sample as main.rs, plus the user's own
# rand RNG handed to mixact. It must build and run: mixact and the user's
# rand must be one rand, not two clashing ones.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cargo new --quiet --bin --vcs none user_project
cd user_project
cargo add --quiet --path "$root" mixact
cargo add --quiet rand
# The README's first Rust block, as is.
awk '/^```rust$/ {inside = 1; next} inside && /^```$/ {exit} inside {print}' \
  "$root/README.md" > src/main.rs
grep -q "fn main" src/main.rs
cat >> src/main.rs <<'RUST'

/// The user's own rand (not mixact's re-export) drives mixact's initialisation.
#[allow(dead_code)]
fn with_the_users_own_rand() -> Result<(), mixact::Error> {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    let mut rng = StdRng::seed_from_u64(7);
    let layer = mixact::Dense::<mixact::Act>::new(2, 3, mixact::Act::Relu, &mut rng)?;
    assert_eq!(mixact::Layer::<mixact::Act>::output_width(&layer), 3);
    Ok(())
}
RUST
sed -i 's/^fn main() -> Result<(), mixact::Error> {$/fn main() -> Result<(), mixact::Error> {\n    with_the_users_own_rand()?;/' src/main.rs
grep -q "with_the_users_own_rand()?;" src/main.rs
echo "ci: user project depends on: $(grep -E '^(mixact|rand) ' Cargo.toml | tr '\n' ' ')"
CARGO_TARGET_DIR="$root/target/user-project" cargo run --quiet --release
