//! The executor: walks the plan graph with bounded parallelism and emits progress events.
