//! Locals benchmark: loads stacks whose locals form one chain (`l1 = local.l0 + 1`, ...) of
//! 1,000 to 100,000 links, and checks that loading stays linear and the 100,000-link chain
//! loads in under a second.
//!
//! ```text
//! cargo bench --bench locals                        # 1,000, 10,000, 100,000 links, 3 runs each
//! cargo bench --bench locals -- --sizes 50000 --runs 5
//! ```
//!
//! It times `config::load_str` in this process (parse, check, evaluate every local in
//! dependency order, build the model): the cost that grew superlinearly before, without the
//! process start and state reading the `plan` benchmark already covers.

use sovstack::config::{LoadOptions, load_str};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const DEFAULT_SIZES: &[usize] = &[1_000, 10_000, 100_000];
const DEFAULT_RUNS: usize = 3;
/// The issue's target: a 100,000-local chain in under a second.
const TARGET_100K: Duration = Duration::from_secs(1);
/// Per-link cost at the largest size may be at most this many times that at the smallest.
const LINEAR_FACTOR: f64 = 2.0;

fn main() -> ExitCode {
    let (sizes, runs) = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{:>8} | {:>10} | {:>10} | {:>10}",
        "links", "min ms", "median ms", "ns/link"
    );
    let mut per_link = Vec::new();
    let mut pass = true;
    for n in sizes {
        let text = chain(n);
        let mut times: Vec<Duration> = (0..runs.max(1)).map(|_| time_load(&text, n)).collect();
        times.sort();
        let (min, median) = (times[0], times[times.len() / 2]);
        let ns = median.as_nanos() as f64 / n as f64;
        println!(
            "{n:>8} | {:>10.1} | {:>10.1} | {ns:>10.0}",
            ms(min),
            ms(median)
        );
        per_link.push(ns);
        if n == 100_000 {
            let ok = median < TARGET_100K;
            pass &= ok;
            println!(
                "{} 100,000-local chain: {:.1} ms (target < {} ms)",
                verdict(ok),
                ms(median),
                TARGET_100K.as_millis()
            );
        }
    }
    if let (Some(first), Some(last)) = (per_link.first(), per_link.last()) {
        let ratio = last / first;
        let ok = ratio <= LINEAR_FACTOR;
        pass &= ok;
        println!(
            "{} linear cost: ns/link at the largest size is {ratio:.2}x that at the smallest (target <= {LINEAR_FACTOR}x)",
            verdict(ok)
        );
    }
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn options() -> Result<(Vec<usize>, usize), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sizes = DEFAULT_SIZES.to_vec();
    let mut runs = DEFAULT_RUNS;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                let v = it.next().ok_or("--sizes needs a value")?;
                sizes = v
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--sizes {s}: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--runs" => {
                let v = it.next().ok_or("--runs needs a value")?;
                runs = v.parse().map_err(|e| format!("--runs {v}: {e}"))?;
            }
            // `cargo bench` passes `--bench` to every harness-less bench.
            "--bench" => {}
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok((sizes, runs))
}

/// A stack with `n` locals, each one more than the one before.
fn chain(n: usize) -> String {
    let mut text = String::from("stack \"chain\" {}\n\nlocals {\n  l0 = 0\n");
    for i in 1..n {
        let _ = writeln!(text, "  l{i} = local.l{} + 1", i - 1);
    }
    let _ = writeln!(
        text,
        "}}\n\noutput \"last\" {{\n  value = local.l{}\n}}",
        n - 1
    );
    text
}

/// Loads the chain once and checks that the last link has the value it must.
fn time_load(text: &str, n: usize) -> Duration {
    let started = Instant::now();
    let loaded = load_str("stack.hcl", text, Path::new("."), &LoadOptions::default());
    let elapsed = started.elapsed();
    let stack = loaded
        .stack
        .unwrap_or_else(|| panic!("the chain loads: {:?}", loaded.diagnostics));
    assert_eq!(stack.outputs[0].value.value, serde_json::json!(n - 1));
    elapsed
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}
