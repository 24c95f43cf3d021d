//! Load `stack.hcl`: parse with spans, evaluate variables, locals and functions, build the typed `Stack`.

mod collections;
pub mod diagnostic;
mod eval;
pub mod fmt;
pub mod functions;
pub mod instance;
mod load;
pub mod model;
pub mod refs;
pub mod schema;
pub mod shipped;
pub mod source;
pub mod suggest;
pub mod value;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use load::backend::{BackendInvalid, RemoteState, read_backend};
pub use load::{
    AUTO_VAR_FILE_SUFFIX, DEFAULT_VAR_FILE, LoadError, LoadOptions, Loaded, load_file, load_str,
    parse_port_mapping, parse_port_range, read_var_files, var_file_paths,
};
pub use model::*;
pub use source::{SourceFile, Span, Spanned};
