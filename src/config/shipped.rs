//! The modules that ship inside the binary: `module "x" { source = "sovstack/signoz" }`.
//! Their files are the repository's `modules/<name>/*.hcl`, embedded at build time
//! (`build.rs`), so the module a stack calls is always the one this binary was tested with.

/// One `.hcl` file of a shipped module.
#[derive(Debug)]
pub struct ShippedFile {
    pub name: &'static str,
    pub text: &'static str,
}

/// One shipped module: a directory under `modules/`.
#[derive(Debug)]
pub struct ShippedModule {
    pub name: &'static str,
    pub files: &'static [ShippedFile],
}

/// The prefix of a shipped module's source: `sovstack/<name>`.
pub const SOURCE_PREFIX: &str = "sovstack/";

include!(concat!(env!("OUT_DIR"), "/shipped_modules.rs"));

/// The shipped module `name` (`signoz` for `sovstack/signoz`).
pub fn find(name: &str) -> Option<&'static ShippedModule> {
    SHIPPED.iter().find(|m| m.name == name)
}

/// The names of every shipped module, for suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    SHIPPED.iter().map(|m| m.name)
}

impl ShippedModule {
    /// How a file of the module is named in diagnostics: `sovstack/signoz/main.hcl`.
    pub fn file_name(&self, file: &ShippedFile) -> String {
        format!("{SOURCE_PREFIX}{}/{}", self.name, file.name)
    }
}
