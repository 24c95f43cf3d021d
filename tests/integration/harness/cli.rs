//! Running the real `sovstack` binary: a clean, deterministic environment per run (no inherited
//! `SOVSTACK_*` variables, no colours), and the repository's stacks listed from disk so that a new
//! example is covered without editing a test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (where `stack.hcl` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `examples/<name>/` directory that holds a `stack.hcl`, sorted by name.
pub fn example_dirs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("stack.hcl").is_file())
        .collect();
    out.sort();
    out
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams when the exit code is not `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A `sovstack` invocation run in a given directory with `-C`.
pub struct Sovstack {
    cmd: Command,
}

impl Sovstack {
    /// `sovstack -C <dir> <args...>`, with the environment cleared of anything that changes
    /// the outcome (variables, state key, colour settings).
    pub fn in_dir(dir: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sovstack"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("SOVSTACK_")
                || k.starts_with("OTEL_")
                || matches!(
                    k.as_str(),
                    "FORCE_COLOR" | "CLICOLOR_FORCE" | "CLICOLOR" | "COLUMNS" | "RUST_LOG"
                )
            {
                cmd.env_remove(&k);
            }
        }
        cmd.env("NO_COLOR", "1");
        cmd.arg("-C").arg(dir);
        Sovstack { cmd }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("the sovstack binary runs");
        Run {
            // A signal is no exit code: make it fail every assertion on codes.
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

/// A temporary directory holding a copy of `src_dir`'s `stack.hcl` and the files it reads
/// (`keys/`), so a test may rewrite it.
pub fn copy_stack_dir(src_dir: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_tree(src_dir, tmp.path());
    tmp
}

/// Makes the stack in `dir` call a copy of the modules shipped with sovstack (`modules/` of
/// the repository, copied to `dir/modules`) instead of the binary's own, so that a test may
/// change a module: `source = "sovstack/x"` becomes `source = "./modules/x"`.
pub fn call_copied_modules(dir: &Path) {
    copy_tree(&repo_root().join("modules"), &dir.join("modules"));
    let stack = dir.join("stack.hcl");
    let text = std::fs::read_to_string(&stack).expect("stack.hcl");
    assert!(
        text.contains("\"sovstack/"),
        "the stack calls no shipped module"
    );
    std::fs::write(&stack, text.replace("\"sovstack/", "\"./modules/")).expect("stack.hcl");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("readable dir") {
        let e = e.expect("entry");
        let name = e.file_name();
        let ty = e.file_type().expect("file type");
        // Only what a stack reads: never build output or another stack's state.
        if name == "target" || name == ".sovstack" || name == ".git" {
            continue;
        }
        if ty.is_dir() {
            // The repository root holds the crate; a stack only needs its `keys/` next to it.
            if from == repo_root() && name != "keys" {
                continue;
            }
            copy_tree(&e.path(), &to.join(&name));
        } else if ty.is_file() {
            std::fs::copy(e.path(), to.join(&name)).expect("copy file");
        }
    }
}
