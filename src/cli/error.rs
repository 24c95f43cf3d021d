//! Errors the command line itself reports (a file it cannot read, an address not in state),
//! each with the help that says what to do.

/// A message for the user, with an optional help line.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(code(sovstack::cli))]
pub struct CliError {
    message: String,
    #[help]
    help: Option<String>,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}
