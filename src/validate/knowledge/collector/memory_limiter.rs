//! The `memory_limiter` processor's own config validation, so a config it would refuse is reported before deploy.

/// Why a `memory_limiter` config fails the collector's own validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryLimiterProblem {
    #[error("memory_limiter needs check_interval greater than 0")]
    CheckIntervalNotPositive,
    #[error("`{0}` is not a duration (e.g. 1s, 500ms)")]
    BadDuration(String),
    #[error("memory_limiter needs limit_mib or limit_percentage")]
    NoLimit,
}

/// The checks of `internal/memorylimiter/config.go` Validate that the reference confirms: `check_interval` > 0, and
/// one of `limit_mib` / `limit_percentage` non-zero.
pub fn check_memory_limiter(
    check_interval: Option<&str>,
    limit_mib: Option<u64>,
    limit_percentage: Option<u64>,
) -> Vec<MemoryLimiterProblem> {
    let mut problems = Vec::new();
    match check_interval {
        None => problems.push(MemoryLimiterProblem::CheckIntervalNotPositive),
        Some(text) => match parse_go_duration_nanos(text) {
            None => problems.push(MemoryLimiterProblem::BadDuration(text.to_owned())),
            Some(n) if n <= 0 => problems.push(MemoryLimiterProblem::CheckIntervalNotPositive),
            Some(_) => {}
        },
    }
    if limit_mib.unwrap_or(0) == 0 && limit_percentage.unwrap_or(0) == 0 {
        problems.push(MemoryLimiterProblem::NoLimit);
    }
    problems
}

/// Parse a Go `time.Duration` string (`1s`, `1m30s`, `500ms`, `-1s`, `0`) into nanoseconds.
/// A bare integer is nanoseconds, as confmap decodes it.
pub fn parse_go_duration_nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        let n: i128 = rest.parse().ok()?;
        return Some(if negative { -n } else { n });
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * factor;
    }
    let n = total.round() as i128;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_nanos("1s"), Some(1_000_000_000));
        assert_eq!(parse_go_duration_nanos("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go_duration_nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration_nanos("-1s"), Some(-1_000_000_000));
        assert_eq!(parse_go_duration_nanos("0"), Some(0));
        assert_eq!(parse_go_duration_nanos("100"), Some(100));
        for bad in ["", "s", "1x", "1 s", "-"] {
            assert_eq!(parse_go_duration_nanos(bad), None, "{bad}");
        }
    }
}
