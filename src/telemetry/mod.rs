//! The tool's own traces and logs over OpenTelemetry.
