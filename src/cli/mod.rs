//! Command-line definitions and dispatch; one file per command.

/// Entry point used by the binary; returns the process exit code.
pub fn main() -> i32 {
    0
}
