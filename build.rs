//! Build facts for `sovstack version`: the commit and its date. Outside a git checkout (a
//! source tarball) both are "unknown". The date is the commit's, not the clock's, so a
//! rebuild of one commit prints the same thing.
//!
//! Also the table of the modules that ship inside the binary (`source = "sovstack/<name>"`):
//! every `.hcl` file of each directory under `modules/`, embedded with `include_str!`, so
//! a module is versioned with the binary that runs it.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// `shipped_modules.rs` in `OUT_DIR`: `SHIPPED`, one entry per module directory, its files
/// in name order.
fn shipped_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("modules");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.is_dir());
    dirs.sort();
    let mut out = String::from("pub static SHIPPED: &[ShippedModule] = &[\n");
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|e| e == "hcl"));
        files.sort();
        let _ = writeln!(out, "    ShippedModule {{ name: {name:?}, files: &[");
        for f in files {
            let file = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let path = f.display().to_string();
            let _ = writeln!(
                out,
                "        ShippedFile {{ name: {file:?}, text: include_str!({path:?}) }},"
            );
        }
        out.push_str("    ] },\n");
    }
    out.push_str("];\n");
    let Some(dest) = std::env::var_os("OUT_DIR") else {
        return;
    };
    let dest = Path::new(&dest).join("shipped_modules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
    }
}

fn main() {
    shipped_modules();
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SOVSTACK_COMMIT={commit}");
    println!("cargo:rustc-env=SOVSTACK_BUILD_DATE={date}");
    // A new commit changes HEAD or the branch it points at.
    for path in ["HEAD", "refs/heads"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
