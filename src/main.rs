use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    sovstack::cli::main()
}

/// glibc malloc serves blocks above a moving threshold with their own mmap and unmaps them on
/// free, and trims the heap top as soon as 128 KiB are free: a large state's buffers and
/// vectors are then faulted in again at every turn. A fixed high threshold keeps them in the
/// heap for reuse; peak memory is unchanged (what is freed is reused, not returned).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
