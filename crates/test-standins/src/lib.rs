//! Stand-ins for vLLM and the OpenTelemetry Collector, built as two small binaries that the
//! integration tests copy into container images and run on the test hosts' real Docker Engines
//! (`tests/integration/harness/README.md` says how the images are built).
//!
//! Neither can be had for real here: vLLM needs a GPU and model weights, the collector's
//! binary comes only from an image registry. Each stand-in behaves like the real one as far as
//! the reference stack uses it, over the same wire protocols, and refuses what it does not
//! implement instead of pretending:
//!
//! - `vllm` (`src/bin/vllm.rs`): `vllm serve MODEL` with the flags the stack passes, the
//!   OpenAI-compatible HTTP API and Prometheus metrics, and one real OTLP/gRPC span per chat
//!   completion carrying the request's `traceparent`.
//! - `otelcol-contrib` (`src/bin/otelcol_contrib.rs`): reads the rendered collector config,
//!   receives OTLP traces over gRPC and HTTP where the `otlp` receiver says, writes them as
//!   the file exporter's JSON lines to the exporter's path, and sends them on through plain-text
//!   OTLP/gRPC exporters.

pub mod collector_config;
pub mod file_exporter;
pub mod ids;
pub mod otlp_export;
pub mod shutdown;
pub mod span;
