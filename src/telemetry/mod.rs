//! The tool's own tracing.
