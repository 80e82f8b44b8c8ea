//! The examples' command line: `--name value` pairs, each with a default,
//! and `--help`. Small enough that the examples need no argument-parsing
//! crate (which would be compiled for every `cargo test` as well).

use std::str::FromStr;

/// The `--name value` pairs of the command line.
pub struct Flags {
    pairs: Vec<(String, String)>,
}

impl Flags {
    /// Reads the command line; prints `usage` and exits on `--help`, and
    /// exits with status 2 on a flag not in `known` or one without a value.
    pub fn parse(usage: &str, known: &[&str]) -> Flags {
        let mut args = std::env::args().skip(1);
        let mut pairs = Vec::new();
        while let Some(a) = args.next() {
            if a == "--help" || a == "-h" {
                println!("{usage}");
                std::process::exit(0);
            }
            let name = a.strip_prefix("--").unwrap_or("");
            if !known.contains(&name) {
                eprintln!("error: unexpected argument \"{a}\"\n\n{usage}");
                std::process::exit(2);
            }
            let Some(value) = args.next() else {
                eprintln!("error: {a} needs a value\n\n{usage}");
                std::process::exit(2);
            };
            pairs.push((name.to_string(), value));
        }
        Flags { pairs }
    }

    /// The value of `--name` (the last one given), or `default`; exits with
    /// status 2 when it does not parse.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        match self.pairs.iter().rev().find(|(n, _)| n == name) {
            None => default,
            Some((_, v)) => v.parse().unwrap_or_else(|_| {
                eprintln!("error: invalid value \"{v}\" for --{name}");
                std::process::exit(2);
            }),
        }
    }
}
