//! Plan benchmark: times the real release binary planning generated stacks of 10 to 5,000
//! resources, and `for_each` fleets of 100 and 500 hosts (`plan/fleet.rs`), against a
//! matching state, and checks the performance targets.
//!
//! ```text
//! cargo bench --bench plan                          # full table + PASS/FAIL, non-zero exit on a miss
//! cargo bench --bench plan -- --sizes 10,100 --runs 3
//! cargo bench --bench plan -- --generate DIR N      # only write DIR/stack.hcl + matching state
//! cargo bench --bench plan -- --time RUNS -- CMD... [--vs CMD...]  # time commands, taking turns
//! ```
//!
//! The stack is layered with fan-out: one root `ssh_key` used by every server, then groups
//! of [`GROUP`] servers, each group with its own key, one volume per server and one firewall
//! applied to all of the group's servers. Every resource kind used plans offline, and the
//! state is written through the library's own backend from the desired resources, so the
//! plan of the unchanged stack is a no-op (exit 0 with `--detailed-exitcode`). The "changed
//! root" run passes `--var image=...`, which every server reads, so every server is replaced
//! and the plan has to render a large diff (exit 2).

#[path = "plan/fleet.rs"]
mod fleet;

use sovstack::config::{self, LoadOptions, Stack};
use sovstack::render::{self, RenderOptions};
use sovstack::resources::{self, Desired, DesiredContext};
use sovstack::state::{
    LocalBackend, ResourceState, ResourceStatus, StateBackend, StateFile, StateWriter,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// At most this many runs of a command per round of `--time` (see `time_commands`).
const MAX_REPEATS: usize = 20;
/// Servers per group (one key and one firewall per group).
const GROUP: usize = 8;
const DEFAULT_SIZES: &[usize] = &[10, 100, 1_000, 5_000];
const DEFAULT_RUNS: usize = 7;
const ROOT_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt";
const IMAGE: &str = "ubuntu-24.04";
const CHANGED_IMAGE: &str = "ubuntu-22.04";
/// Hosts in the `for_each` fleets measured by default.
const DEFAULT_FLEETS: &[usize] = &[100, 500];
const FLEET_IMAGE: &str = "nginx:1.27.3";
const FLEET_CHANGED_IMAGE: &str = "nginx:1.27.4";

/// Targets from the issue.
const NOOP_1000_MS: f64 = 50.0;
const PEAK_1000_MB: f64 = 30.0;
const NOOP_5000_MS: f64 = 250.0;
/// Per-resource cost at 5,000 may be at most this many times that at 1,000.
const LINEAR_FACTOR: f64 = 2.0;
/// A no-op plan of a fleet of 500 hosts (3,500 resources from `for_each`).
const NOOP_FLEET_500_MS: f64 = 500.0;

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    sizes: Vec<usize>,
    runs: usize,
    bin: PathBuf,
    keep: Option<PathBuf>,
    /// Hosts of each `for_each` fleet to plan (empty: none).
    fleets: Vec<usize>,
}

fn run() -> Result<ExitCode, Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Options {
        sizes: DEFAULT_SIZES.to_vec(),
        runs: DEFAULT_RUNS,
        bin: std::env::var_os("SOVSTACK_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sovstack"))),
        keep: None,
        fleets: DEFAULT_FLEETS.to_vec(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--generate" => {
                let dir = it.next().ok_or("--generate DIR N")?;
                let n = it.next().ok_or("--generate DIR N")?.parse()?;
                let g = generate(Path::new(dir), n)?;
                println!(
                    "{}: {} resources, state {} bytes",
                    dir, g.resources, g.state_bytes
                );
                return Ok(ExitCode::SUCCESS);
            }
            "--generate-fleet" => {
                let dir = it.next().ok_or("--generate-fleet DIR HOSTS")?;
                let hosts: usize = it.next().ok_or("--generate-fleet DIR HOSTS")?.parse()?;
                let g = generate_fleet(Path::new(dir), hosts)?;
                println!(
                    "{dir}: {hosts} hosts, {} resources, state {} bytes",
                    g.resources, g.state_bytes
                );
                return Ok(ExitCode::SUCCESS);
            }
            "--fleets" => {
                let list = it.next().ok_or("--fleets N,N,... or --fleets none")?;
                opts.fleets = match list.as_str() {
                    "none" => Vec::new(),
                    l => l.split(',').map(str::parse).collect::<Result<_, _>>()?,
                };
            }
            "--generate-terraform" => {
                let dir = it.next().ok_or("--generate-terraform DIR N")?;
                let n: usize = it.next().ok_or("--generate-terraform DIR N")?.parse()?;
                std::fs::create_dir_all(dir)?;
                std::fs::write(Path::new(dir).join("main.tf"), terraform_hcl(n))?;
                println!("{dir}/main.tf: {n} terraform_data resources");
                return Ok(ExitCode::SUCCESS);
            }
            // Used by vs-terraform.sh so that both tools are timed by the same fork/exec/wait4
            // loop (a shell's `date` and `/usr/bin/time` around each run add milliseconds).
            "--time" => {
                let runs: usize = it.next().ok_or("--time RUNS -- CMD...")?.parse()?;
                if it.next().map(String::as_str) != Some("--") {
                    return Err("--time RUNS -- CMD...".into());
                }
                let mut rest: Vec<String> = it.cloned().collect();
                // `cargo bench` appends its `--bench` after everything we were given.
                if rest.last().map(String::as_str) == Some("--bench") {
                    rest.pop();
                }
                let cmds: Vec<Vec<String>> = rest
                    .split(|a| a == "--vs")
                    .map(<[String]>::to_vec)
                    .collect();
                for (median, peak_kb, code) in time_commands(&cmds, runs.max(1))? {
                    println!("{:.6} {peak_kb} {code}", median.as_secs_f64());
                }
                return Ok(ExitCode::SUCCESS);
            }
            "--sizes" => {
                opts.sizes = it
                    .next()
                    .ok_or("--sizes N,N,...")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--runs" => opts.runs = it.next().ok_or("--runs K")?.parse()?,
            "--bin" => opts.bin = PathBuf::from(it.next().ok_or("--bin PATH")?),
            "--keep" => opts.keep = Some(PathBuf::from(it.next().ok_or("--keep DIR")?)),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    if opts.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    bench(&opts)
}

/// One size's measurements.
struct Row {
    n: usize,
    noop: Stats,
    changed: Stats,
    peak_kb: u64,
    state_bytes: u64,
}

struct Stats {
    min: Duration,
    median: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench(opts: &Options) -> Result<ExitCode, Error> {
    println!(
        "sovstack plan benchmark: {} ({} runs after a warm-up, {} core(s))",
        opts.bin.display(),
        opts.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let tmp = tempfile::tempdir()?;
    let base = opts
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let mut rows = Vec::new();
    for &n in &opts.sizes {
        let dir = base.join(format!("n{n}"));
        std::fs::create_dir_all(&dir)?;
        let t = Instant::now();
        let g = generate(&dir, n)?;
        eprintln!("  generated {n} resources in {:.0} ms", ms(t.elapsed()));
        rows.push(measure(opts, &dir, n, CHANGED_IMAGE, g.state_bytes)?);
    }
    print!("{}", table(&rows));
    let mut failed = check_targets(&rows);
    if !opts.fleets.is_empty() {
        let plain = measure_fleets(opts, &base, "fleet", |dir, hosts| {
            generate_fleet(dir, hosts)
        })?;
        println!(
            "\nfor_each fleets ({} resources per host):",
            fleet::RESOURCES_PER_HOST
        );
        failed |= report_fleets(&plain);
        let modules = measure_fleets(opts, &base, "module-fleet", |dir, hosts| {
            std::fs::create_dir_all(dir)?;
            let text = fleet::module_fleet_hcl(dir, hosts, FLEET_IMAGE)?;
            generate_text(dir, &text, hosts * fleet::RESOURCES_PER_HOST)
        })?;
        println!("\nthe same fleets, each host a `for_each` instance of a local module:");
        failed |= report_fleets(&modules);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Each fleet size of `opts`, generated by `generate` under `base/{name}{hosts}` and measured.
fn measure_fleets(
    opts: &Options,
    base: &Path,
    name: &str,
    generate: impl Fn(&Path, usize) -> Result<Generated, Error>,
) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for &hosts in &opts.fleets {
        let dir = base.join(format!("{name}{hosts}"));
        let t = Instant::now();
        let g = generate(&dir, hosts)?;
        eprintln!(
            "  generated {name} of {hosts} hosts ({} resources) in {:.0} ms",
            g.resources,
            ms(t.elapsed())
        );
        rows.push(measure(
            opts,
            &dir,
            hosts,
            FLEET_CHANGED_IMAGE,
            g.state_bytes,
        )?);
    }
    Ok(rows)
}

/// The table of fleet rows (per host) and their targets; true when one failed.
fn report_fleets(rows: &[Row]) -> bool {
    print!(
        "{}",
        table(rows)
            .replace("µs/resource", "   µs/host")
            .replace("     N |", " hosts |")
    );
    check_fleet_targets(rows)
}

/// The no-op plan of the stack in `dir`, and the plan with `var.image` changed to
/// `changed_image` (which must change something).
fn measure(
    opts: &Options,
    dir: &Path,
    n: usize,
    changed_image: &str,
    state_bytes: u64,
) -> Result<Row, Error> {
    let noop = time_plan(opts, dir, &[], 0)?;
    let changed = time_plan(
        opts,
        dir,
        &["--var".into(), format!("image={changed_image}")],
        2,
    )?;
    Ok(Row {
        n,
        noop: noop.stats,
        changed: changed.stats,
        peak_kb: noop.peak_kb.max(changed.peak_kb),
        state_bytes,
    })
}

fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:>6} | {:>12} | {:>12} | {:>17} | {:>17} | {:>8} | {:>9} | {:>11}",
        "N",
        "no-op med ms",
        "no-op min ms",
        "changed med ms",
        "changed min ms",
        "peak MB",
        "state KB",
        "µs/resource"
    );
    let _ = writeln!(s, "{}", "-".repeat(117));
    for r in rows {
        let _ = writeln!(
            s,
            "{:>6} | {:>12.1} | {:>12.1} | {:>17.1} | {:>17.1} | {:>8.1} | {:>9.1} | {:>11.1}",
            r.n,
            ms(r.noop.median),
            ms(r.noop.min),
            ms(r.changed.median),
            ms(r.changed.min),
            r.peak_kb as f64 / 1024.0,
            r.state_bytes as f64 / 1024.0,
            r.noop.median.as_secs_f64() * 1e6 / r.n as f64,
        );
    }
    s
}

/// Prints PASS/FAIL per target for the sizes that were measured; true when one failed.
fn check_targets(rows: &[Row]) -> bool {
    let at = |n: usize| rows.iter().find(|r| r.n == n);
    let mut failed = false;
    let mut verdict = |ok: bool, what: String| failed |= !print_verdict(ok, &what);
    println!();
    if let Some(r) = at(1_000) {
        let t = ms(r.noop.median);
        verdict(
            t < NOOP_1000_MS,
            format!("no-op plan of 1,000 resources: {t:.1} ms (target < {NOOP_1000_MS} ms)"),
        );
        let mb = r.peak_kb as f64 / 1024.0;
        verdict(
            mb < PEAK_1000_MB,
            format!("peak RSS at 1,000 resources: {mb:.1} MB (target < {PEAK_1000_MB} MB)"),
        );
    }
    if let Some(r) = at(5_000) {
        let t = ms(r.noop.median);
        verdict(
            t < NOOP_5000_MS,
            format!("no-op plan of 5,000 resources: {t:.1} ms (target < {NOOP_5000_MS} ms)"),
        );
    }
    if let (Some(a), Some(b)) = (at(1_000), at(5_000)) {
        let per = |r: &Row| r.noop.median.as_secs_f64() / r.n as f64;
        let ratio = per(b) / per(a);
        verdict(
            ratio <= LINEAR_FACTOR,
            format!(
                "linear cost: µs/resource at 5,000 is {ratio:.2}x that at 1,000 (target <= {LINEAR_FACTOR}x)"
            ),
        );
        let per_changed = |r: &Row| r.changed.median.as_secs_f64() / r.n as f64;
        let ratio = per_changed(b) / per_changed(a);
        verdict(
            ratio <= LINEAR_FACTOR,
            format!(
                "linear cost of the changed plan: µs/resource at 5,000 is {ratio:.2}x that at 1,000 (target <= {LINEAR_FACTOR}x)"
            ),
        );
    }
    failed
}

/// Prints PASS or FAIL and what was checked; returns `ok`.
fn print_verdict(ok: bool, what: &str) -> bool {
    println!("{} {what}", if ok { "PASS" } else { "FAIL" });
    ok
}

/// PASS/FAIL for the fleet targets; true when one failed.
fn check_fleet_targets(rows: &[Row]) -> bool {
    let at = |n: usize| rows.iter().find(|r| r.n == n);
    let mut failed = false;
    let mut verdict = |ok: bool, what: String| failed |= !print_verdict(ok, &what);
    println!();
    if let Some(r) = at(500) {
        let t = ms(r.noop.median);
        verdict(
            t < NOOP_FLEET_500_MS,
            format!(
                "no-op plan of a 500-host for_each fleet: {t:.1} ms (target < {NOOP_FLEET_500_MS} ms)"
            ),
        );
    }
    if let (Some(a), Some(b)) = (rows.first(), rows.last())
        && b.n > a.n
    {
        let per = |r: &Row| r.noop.median.as_secs_f64() / r.n as f64;
        let ratio = per(b) / per(a);
        verdict(
            ratio <= LINEAR_FACTOR,
            format!(
                "linear in hosts: µs/host at {} is {ratio:.2}x that at {} (target <= {LINEAR_FACTOR}x)",
                b.n, a.n
            ),
        );
    }
    failed
}

/// A fleet of `hosts` hosts in `dir`, with the state in which all of it exists.
fn generate_fleet(dir: &Path, hosts: usize) -> Result<Generated, Error> {
    let text = fleet::fleet_hcl(hosts, FLEET_IMAGE);
    generate_text(dir, &text, hosts * fleet::RESOURCES_PER_HOST)
}

struct Timed {
    stats: Stats,
    peak_kb: u64,
}

/// Runs `plan` once to warm up and `opts.runs` more times; every run must exit `expect`.
fn time_plan(opts: &Options, dir: &Path, extra: &[String], expect: i32) -> Result<Timed, Error> {
    let mut times = Vec::with_capacity(opts.runs);
    let mut peak_kb = 0;
    for i in 0..=opts.runs {
        let (elapsed, code, maxrss_kb) = run_plan(&opts.bin, dir, extra)?;
        if code != expect {
            return Err(format!(
                "plan in {} {extra:?} exited {code}, expected {expect}",
                dir.display()
            )
            .into());
        }
        peak_kb = peak_kb.max(maxrss_kb);
        if i > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    Ok(Timed {
        stats: Stats {
            min: times[0],
            median: times[times.len() / 2],
        },
        peak_kb,
    })
}

/// One `sovstack plan`: wall time, exit code and the child's own peak RSS in KiB.
fn run_plan(bin: &Path, dir: &Path, extra: &[String]) -> Result<(Duration, i32, u64), Error> {
    let mut cmd = Command::new(bin);
    cmd.arg("-C")
        .arg(dir)
        .args(["plan", "--refresh=false", "--detailed-exitcode"])
        .args(extra);
    run_command(cmd)
}

/// Runs each command once to warm up and `runs` more times: per command, the median wall
/// time, the largest peak RSS in KiB, and the exit code (which must be 0 or 2, "no changes"
/// or "changes", every time).
///
/// Several commands (`A --vs B`) take turns, round after round: a machine whose speed drifts
/// (shared cores) then slows all of them alike, and their ratio holds. In each round a faster
/// command runs as many times as fit in the slowest one's warm-up (at most
/// [`MAX_REPEATS`]), so its median is not made of runs that all follow the other tool's exit.
fn time_commands(cmds: &[Vec<String>], runs: usize) -> Result<Vec<(Duration, u64, i32)>, Error> {
    struct Series {
        times: Vec<Duration>,
        peak_kb: u64,
        last: i32,
    }
    let mut series: Vec<Series> = cmds
        .iter()
        .map(|_| Series {
            times: Vec::with_capacity(runs),
            peak_kb: 0,
            last: 0,
        })
        .collect();
    let mut repeats = vec![1; cmds.len()];
    for round in 0..=runs {
        for ((cmd, s), &reps) in cmds.iter().zip(&mut series).zip(&repeats) {
            let (program, args) = cmd.split_first().ok_or("no command to time")?;
            for _ in 0..reps {
                let mut c = Command::new(program);
                c.args(args);
                let (elapsed, code, kb) = run_command(c)?;
                if code != 0 && code != 2 {
                    return Err(format!("{} exited {code}", cmd.join(" ")).into());
                }
                s.last = code;
                s.peak_kb = s.peak_kb.max(kb);
                // Round 0 is the warm-up.
                s.times.push(elapsed);
            }
        }
        if round == 0 {
            let warm: Vec<Duration> = series.iter_mut().map(|s| s.times.remove(0)).collect();
            let slowest = warm.iter().max().copied().unwrap_or_default();
            repeats = warm
                .iter()
                .map(|t| {
                    let fit = slowest.as_secs_f64() / t.as_secs_f64().max(1e-6);
                    (fit as usize).clamp(1, MAX_REPEATS)
                })
                .collect();
        }
    }
    Ok(series
        .into_iter()
        .map(|mut s| {
            s.times.sort();
            (s.times[s.times.len() / 2], s.peak_kb, s.last)
        })
        .collect())
}

/// Runs one command to its end: wall time, exit code (-1 if killed by a signal) and the
/// child's own peak RSS in KiB. Its output is written in full but not kept, except stderr on
/// failure.
fn run_command(mut cmd: Command) -> Result<(Duration, i32, u64), Error> {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of a plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 gives this child's own rusage, so ru_maxrss is not a maximum over earlier children.
    // SAFETY: the pointers are valid for the call; the pid is our child and not yet reaped.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    if r != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()).into());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    if code == 1 || code == -1 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        eprint!("{err}");
        return Err(format!("{cmd:?} failed ({code})").into());
    }
    // ru_maxrss is in KiB on Linux.
    Ok((elapsed, code, usage.ru_maxrss.max(0) as u64))
}

/// What [`generate`] wrote.
pub struct Generated {
    pub resources: usize,
    pub state_bytes: u64,
}

/// The shape of a generated stack: which blocks, in order, making exactly `n` resources.
#[derive(Debug, Default)]
struct Shape {
    /// Servers per group; a group has a key, its servers, a volume per server and a firewall.
    groups: Vec<GroupShape>,
}

#[derive(Debug, Default)]
struct GroupShape {
    servers: usize,
    volumes: usize,
    firewall: bool,
}

impl Shape {
    fn for_count(n: usize) -> Shape {
        // The root key is resource 1; each group is filled in order key, (server, volume)*,
        // firewall until `n` is reached.
        let mut left = n.saturating_sub(1);
        let mut groups = Vec::new();
        while left > 0 {
            left -= 1; // the group key
            let mut g = GroupShape::default();
            while g.servers < GROUP && left > 0 {
                g.servers += 1;
                left -= 1;
                if left > 0 {
                    g.volumes += 1;
                    left -= 1;
                }
            }
            if left > 0 && g.servers > 0 {
                g.firewall = true;
                left -= 1;
            }
            groups.push(g);
        }
        Shape { groups }
    }
}

/// The variables both generators declare (the same text is valid in both languages).
fn variables_hcl(s: &mut String) {
    let _ = writeln!(
        s,
        "variable \"image\" {{\n  type    = string\n  default = \"{IMAGE}\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "variable \"admin_cidrs\" {{\n  type    = list(string)\n  default = [\"198.51.100.0/24\"]\n}}\n"
    );
}

/// The HCL text of a stack with `n` resources.
pub fn stack_hcl(n: usize) -> String {
    let shape = Shape::for_count(n);
    let mut s = String::with_capacity(n * 200);
    let _ = writeln!(
        s,
        "# Generated by benches/plan.rs: {n} resources.\nstack \"bench\" {{}}\n"
    );
    variables_hcl(&mut s);
    if n == 0 {
        return s;
    }
    let _ = writeln!(
        s,
        "ssh_key \"root\" {{\n  public_key = \"{ROOT_KEY} root\"\n}}\n"
    );
    for (gi, g) in shape.groups.iter().enumerate() {
        let _ = writeln!(
            s,
            "ssh_key \"g{gi}\" {{\n  public_key = \"{ROOT_KEY} g{gi}\"\n}}\n"
        );
        for si in 0..g.servers {
            let _ = writeln!(
                s,
                "server \"g{gi}s{si}\" {{\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = var.image\n  ssh_keys    = [ssh_key.root, ssh_key.g{gi}]\n  labels = {{\n    group = \"g{gi}\"\n  }}\n}}\n"
            );
            if si < g.volumes {
                let _ = writeln!(
                    s,
                    "volume \"g{gi}s{si}\" {{\n  size   = 10\n  server = server.g{gi}s{si}\n  format = \"ext4\"\n}}\n"
                );
            }
        }
        if g.firewall {
            let targets: Vec<String> = (0..g.servers)
                .map(|si| format!("server.g{gi}s{si}"))
                .collect();
            let _ = writeln!(
                s,
                "firewall \"g{gi}\" {{\n  apply_to = [{}]\n\n  rule {{\n    description = \"SSH from the admin networks\"\n    port        = \"22\"\n    source_ips  = var.admin_cidrs\n  }}\n}}\n",
                targets.join(", ")
            );
        }
    }
    s
}

/// The same graph as [`stack_hcl`] as Terraform `terraform_data` resources: every resource's
/// `input` carries the same values and references the same resources, so Terraform walks a
/// graph of the same size and shape.
pub fn terraform_hcl(n: usize) -> String {
    let shape = Shape::for_count(n);
    let mut s = String::with_capacity(n * 250);
    let _ = writeln!(
        s,
        "# Generated by benches/plan.rs: {n} resources, the graph of `stack_hcl({n})`.\n"
    );
    variables_hcl(&mut s);
    if n == 0 {
        return s;
    }
    let _ = writeln!(
        s,
        "resource \"terraform_data\" \"ssh_key_root\" {{\n  input = {{\n    name       = \"bench-root\"\n    public_key = \"{ROOT_KEY} root\"\n  }}\n}}\n"
    );
    for (gi, g) in shape.groups.iter().enumerate() {
        let _ = writeln!(
            s,
            "resource \"terraform_data\" \"ssh_key_g{gi}\" {{\n  input = {{\n    name       = \"bench-g{gi}\"\n    public_key = \"{ROOT_KEY} g{gi}\"\n  }}\n}}\n"
        );
        for si in 0..g.servers {
            let _ = writeln!(
                s,
                "resource \"terraform_data\" \"server_g{gi}s{si}\" {{\n  input = {{\n    name        = \"bench-g{gi}s{si}\"\n    server_type = \"cx23\"\n    location    = \"nbg1\"\n    image       = var.image\n    ssh_keys    = [terraform_data.ssh_key_root.output.name, terraform_data.ssh_key_g{gi}.output.name]\n    labels      = {{ group = \"g{gi}\" }}\n  }}\n  triggers_replace = [var.image]\n}}\n"
            );
            if si < g.volumes {
                let _ = writeln!(
                    s,
                    "resource \"terraform_data\" \"volume_g{gi}s{si}\" {{\n  input = {{\n    name   = \"bench-g{gi}s{si}\"\n    size   = 10\n    server = terraform_data.server_g{gi}s{si}.id\n    format = \"ext4\"\n  }}\n}}\n"
                );
            }
        }
        if g.firewall {
            let targets: Vec<String> = (0..g.servers)
                .map(|si| format!("terraform_data.server_g{gi}s{si}.id"))
                .collect();
            let _ = writeln!(
                s,
                "resource \"terraform_data\" \"firewall_g{gi}\" {{\n  input = {{\n    name     = \"bench-g{gi}\"\n    apply_to = [{}]\n    rules = [{{\n      description = \"SSH from the admin networks\"\n      port        = \"22\"\n      source_ips  = var.admin_cidrs\n    }}]\n  }}\n}}\n",
                targets.join(", ")
            );
        }
    }
    s
}

/// Writes `dir/stack.hcl` with `n` resources and a state in which all of them exist as the
/// stack wants them, through the same load/render/desired steps `plan` uses.
pub fn generate(dir: &Path, n: usize) -> Result<Generated, Error> {
    generate_text(dir, &stack_hcl(n), n)
}

/// Writes `text` as `dir/stack.hcl` (which must make `n` resources) and the state in which
/// all of them exist as the stack wants them.
fn generate_text(dir: &Path, text: &str, n: usize) -> Result<Generated, Error> {
    std::fs::create_dir_all(dir)?;
    let stack_path = dir.join("stack.hcl");
    std::fs::write(&stack_path, text)?;
    let state_dir = dir.join(".sovstack");
    if state_dir.exists() {
        std::fs::remove_dir_all(&state_dir)?;
    }
    let loaded = config::load_file(&stack_path, &LoadOptions::default())?;
    if loaded.diagnostics.has_errors() {
        return Err(format!(
            "generated stack does not load:\n{}",
            config::diagnostic::render(&loaded.diagnostics, &loaded.source)
        )
        .into());
    }
    let stack = loaded.stack.ok_or("generated stack did not load")?;
    let desired = desired_of(&stack)?;
    if desired.len() != n {
        return Err(format!("generated {} resources, wanted {n}", desired.len()).into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let backend = LocalBackend::new(state_dir.join("state.json"));
    rt.block_on(async {
        let mut w = backend.lock("bench", Duration::ZERO).await?;
        w.init(&stack.name.value).await?;
        let mut state: StateFile = w.state().ok_or("no state after init")?.clone();
        for (i, d) in desired.iter().enumerate() {
            state.resources.insert(d.address.clone(), applied(d, i));
        }
        w.persist(state).await?;
        w.unlock().await?;
        Ok::<_, Error>(())
    })?;
    let state_bytes = std::fs::metadata(backend.paths().snapshot)?.len();
    Ok(Generated {
        resources: desired.len(),
        state_bytes,
    })
}

/// Desired resources exactly as `plan` builds them for a stack without node blocks.
fn desired_of(stack: &Stack) -> Result<Vec<Desired>, Error> {
    let validation = sovstack::validate::check(stack);
    if validation.has_errors() {
        return Err(format!("generated stack fails validation: {}", validation.len()).into());
    }
    let artifacts = render::render_stack(stack, &RenderOptions::redacted(BTreeMap::new()))?;
    let (files, service_hashes) = resources::node_inputs(stack, &artifacts);
    let bootstrap = sovstack::providers::node::bootstrap_sha256();
    Ok(resources::desired(&DesiredContext {
        stack,
        files: &files,
        bootstrap_sha256: &bootstrap,
        service_hashes: &service_hashes,
    }))
}

/// The state apply would record for `d`: its desired attributes plus the computed ones.
fn applied(d: &Desired, i: usize) -> ResourceState {
    let id = (1_000_000 + i).to_string();
    let mut attributes = d.attributes.clone();
    let computed: &[&str] = resources::kind(d.kind).map_or(&[], |k| k.computed());
    for &c in computed {
        let v = match c {
            "id" => id.clone(),
            "ipv4_address" => format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
            "ipv6_address" => format!("2001:db8::{i:x}"),
            "fingerprint" | "host_key_fingerprint" => format!("SHA256:bench{i:08}"),
            "status" => "running".into(),
            "linux_device" => format!("/dev/disk/by-id/scsi-0HC_Volume_{id}"),
            other => format!("{other}-{i}"),
        };
        attributes.insert(c.to_string(), serde_json::Value::String(v));
    }
    ResourceState {
        kind: d.kind.to_string(),
        id: Some(id),
        attributes,
        sensitive_attributes: BTreeMap::new(),
        dependencies: d.dependencies.iter().cloned().collect(),
        status: ResourceStatus::Ready,
    }
}
