//! Load `stack.hcl`: parse with spans, evaluate variables, locals and functions, build the typed `Stack`.

pub mod diagnostic;
mod eval;
pub mod fmt;
pub mod functions;
mod load;
pub mod model;
pub mod refs;
pub mod schema;
pub mod source;
pub mod suggest;
pub mod value;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use load::backend::{BackendInvalid, RemoteState, read_backend};
pub use load::{
    LoadError, LoadOptions, Loaded, load_file, load_str, parse_port_mapping, parse_port_range,
};
pub use model::*;
pub use source::{SourceFile, Span, Spanned};
