//! Finding what sovstack already made, by the ownership labels every cloud resource carries.

use std::future::Future;

use crate::providers::hcloud::{HcloudError, LabelSelector, ListParams};
use crate::resources::label_value;
use crate::resources::{ApplyContext, ApplyError};

pub(crate) const STACK_LABEL: &str = "sovstack.stack";
pub(crate) const ADDRESS_LABEL: &str = "sovstack.address";

/// Everything of this stack.
pub(crate) fn stack_params(stack: &str) -> ListParams {
    ListParams::selector(LabelSelector::new().eq(STACK_LABEL, label_value(stack)))
}

/// The one resource of this stack at `address`.
pub(crate) fn owned_params(stack: &str, address: &str) -> ListParams {
    ListParams::selector(
        LabelSelector::new()
            .eq(STACK_LABEL, label_value(stack))
            .eq(ADDRESS_LABEL, label_value(address)),
    )
}

/// At most one match is expected; two means a duplicate someone must look at, not guess about.
pub(crate) fn single<T>(
    address: &str,
    kind: &str,
    mut found: Vec<T>,
    id: impl Fn(&T) -> u64,
) -> Result<Option<T>, ApplyError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(ApplyError::Precondition {
            address: address.to_string(),
            message: format!(
                "{} {kind}s carry the labels of {address} (ids {})",
                found.len(),
                found
                    .iter()
                    .map(|t| id(t).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            help: Some(format!(
                "delete the extra {kind}s in the Hetzner console, keeping the one to adopt"
            )),
        }),
    }
}

/// What a create ended in.
pub(crate) enum Created<R, T> {
    /// The request succeeded.
    New(R),
    /// The request's outcome was unknown and the resource was found by its labels.
    Found(T),
}

/// Sends a create. When its outcome is unknown (lost response, 503 after the fact) it looks the
/// resource up by its labels; only when that proves the create did not happen is it sent again,
/// once.
pub(crate) async fn create_or_find<R, T, C, CF, F, FF>(
    cx: &ApplyContext,
    address: &str,
    create: C,
    find: F,
) -> Result<Created<R, T>, ApplyError>
where
    C: Fn() -> CF,
    CF: Future<Output = Result<R, HcloudError>>,
    F: Fn() -> FF,
    FF: Future<Output = Result<Option<T>, ApplyError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match create().await {
            Ok(r) => return Ok(Created::New(r)),
            Err(e) if e.is_outcome_unknown() => {
                cx.events.progress(
                    address,
                    "the create request's outcome is unknown; looking it up by its labels",
                );
                if let Some(found) = find().await? {
                    cx.events
                        .progress(address, "found what the create request made; adopting it");
                    return Ok(Created::Found(found));
                }
                if attempt >= 2 {
                    return Err(e.into());
                }
                cx.events.progress(
                    address,
                    "the create request did not take effect; sending it again",
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Maps "already gone" to success for deletes.
pub(crate) fn gone_ok<T>(r: Result<T, HcloudError>) -> Result<Option<T>, ApplyError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
