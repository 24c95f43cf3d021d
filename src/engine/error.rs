//! Everything that can stop a command in the engine, typed, with the help a user needs.
//! The command line shows these with miette and maps them to exit code 1.

use crate::resources::Unreadable;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EngineError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(#[from] crate::config::LoadError),
    /// The stack has errors; `rendered` holds every diagnostic as the user sees them.
    #[error("{rendered}")]
    #[diagnostic(code(sovstack::invalid))]
    Invalid { rendered: String },
    #[error("--var takes NAME=VALUE, got `{0}`")]
    #[diagnostic(code(sovstack::var_syntax))]
    VarSyntax(String),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    SavedPlan(#[from] crate::plan::SavedPlanError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Execute(#[from] super::executor::ExecuteError),
    /// What the kinds report (API, SSH, render and state errors among them).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Apply(#[from] crate::resources::ApplyError),
    #[error("the state key is missing, so recorded secrets cannot be compared")]
    #[diagnostic(
        code(sovstack::state::no_key),
        help("set SOVSTACK_STATE_KEY, or keep the <state>.key file beside the state")
    )]
    MissingStateKey,
    #[error("no state at {path}: there is nothing to compare the world with")]
    #[diagnostic(
        code(sovstack::state::none),
        help(
            "drift reports changes to what `sovstack apply` made; apply first, or point --state at the state file"
        )
    )]
    NoState { path: String },
    #[error("could not read everything: {}", .0.iter().map(|u| format!("{} ({})", u.address, u.message)).collect::<Vec<_>>().join("; "))]
    #[diagnostic(
        code(sovstack::refresh::unreadable),
        help("the plan would be a guess; fix the above, or run with --refresh=false")
    )]
    Unreadable(Vec<Unreadable>),
    #[error("sensitive variables have no value: {}", .0.join(", "))]
    #[diagnostic(
        code(sovstack::apply::unset_secrets),
        help(
            "set them in the environment (or --var NAME=VALUE) before apply; they are never stored"
        )
    )]
    UnsetSecrets(Vec<String>),
    #[error(
        "the state at {location} belongs to stack `{state_stack}`, but the stack file says `{stack}`"
    )]
    #[diagnostic(
        code(sovstack::state::wrong_stack),
        help(
            "nothing was read or written. If this stack was renamed, run `sovstack state rename-stack {state_stack} {stack}` (the next apply relabels every cloud resource); if it is another stack, give it its own state with --state FILE"
        )
    )]
    WrongStack {
        location: String,
        state_stack: String,
        stack: String,
    },
    #[error("{operation} needs confirmation; no terminal to ask on")]
    #[diagnostic(
        code(sovstack::apply::no_terminal),
        help("pass --auto-approve (or apply a saved plan)")
    )]
    NoTerminal { operation: String },
    #[error("{0} cancelled.")]
    #[diagnostic(code(sovstack::apply::cancelled))]
    Cancelled(String),
}

/// Errors the kinds already carry reach the engine through [`crate::resources::ApplyError`],
/// so each is described once.
macro_rules! through_apply_error {
    ($($error:ty),*) => {$(
        impl From<$error> for EngineError {
            fn from(e: $error) -> Self {
                Self::Apply(e.into())
            }
        }
    )*};
}

through_apply_error!(
    crate::render::RenderError,
    crate::state::StateError,
    crate::providers::hcloud::HcloudError
);
