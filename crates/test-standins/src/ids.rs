//! Trace and span ids: random ones, and the W3C `traceparent` header a request carries.

use std::io::Read;

/// A trace context taken from a `traceparent` header (W3C Trace Context, version 00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_span_id: [u8; 8],
}

impl TraceParent {
    /// `00-<32 hex>-<16 hex>-<2 hex>`; anything else (or all-zero ids) is no context at all,
    /// as for the OpenTelemetry propagator vLLM uses.
    pub fn parse(header: &str) -> Option<TraceParent> {
        let mut parts = header.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00" || parts.next().is_some() || flags.len() != 2 {
            return None;
        }
        let trace_id: [u8; 16] = decode_hex(trace)?.try_into().ok()?;
        let parent_span_id: [u8; 8] = decode_hex(span)?.try_into().ok()?;
        if trace_id == [0; 16] || parent_span_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_span_id,
        })
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Lowercase hex, as ids are written in OTLP JSON and in `traceparent`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` random bytes, never all zero (an all-zero trace or span id is invalid).
pub fn random_id<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut id = [0u8; N];
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    while id == [0u8; N] {
        urandom.read_exact(&mut id)?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip_and_rejections() {
        let tp =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(hex(&tp.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&tp.parent_span_id), "00f067aa0ba902b7");
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn random_ids_differ() {
        let a: [u8; 16] = random_id().unwrap();
        let b: [u8; 16] = random_id().unwrap();
        assert_ne!(a, b);
    }
}
