//! What the command line prints, without ever panicking: `println!` panics when the reader has
//! gone (`sovstack plan --json | head -c1` closes the pipe). Everything the commands print goes
//! through these macros; once a stream is closed, later output to it is dropped and the command
//! carries on to its normal end and exit code (an apply must not stop half-way because nobody
//! reads its summary).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout; see the module docs.
pub fn stdout(args: std::fmt::Arguments<'_>) {
    write(&STDOUT_CLOSED, &mut std::io::stdout().lock(), args);
}

/// Writes to stderr; see the module docs.
pub fn stderr(args: std::fmt::Arguments<'_>) {
    write(&STDERR_CLOSED, &mut std::io::stderr().lock(), args);
}

fn write(closed: &AtomicBool, w: &mut dyn Write, args: std::fmt::Arguments<'_>) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    // Flushed at once, so a closed pipe is seen here and not at exit.
    if w.write_fmt(args).and_then(|()| w.flush()).is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}

/// `print!` that survives a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::stdout(format_args!($($arg)*)) };
}

/// `println!` that survives a closed stdout.
macro_rules! outln {
    () => { $crate::cli::out::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that survives a closed stderr.
macro_rules! eout {
    ($($arg:tt)*) => { $crate::cli::out::stderr(format_args!($($arg)*)) };
}

/// `eprintln!` that survives a closed stderr.
macro_rules! eoutln {
    () => { $crate::cli::out::stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone.
    struct Closed(usize);

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stream_is_noted_once_and_then_left_alone() {
        let closed = AtomicBool::new(false);
        let mut w = Closed(0);
        write(&closed, &mut w, format_args!("a{}\n", 1));
        assert!(closed.load(Ordering::Relaxed));
        write(&closed, &mut w, format_args!("b\n"));
        assert_eq!(w.0, 1, "nothing is written after the stream closed");
    }
}
