//! A step found already done is done. A run killed after the API took a request but before
//! state recorded it leaves the next run asking for the same thing again, and the API refuses:
//! `volume_already_attached` (422), `firewall_already_applied` (422), or
//! `firewall_resource_not_found` (404) for a removal already made. Such a refusal, and a
//! request whose outcome is unknown, is checked against the resource as it is now: when the
//! step's effect is there, the step succeeded. Any other refusal stands.

use std::future::Future;

use crate::providers::hcloud::HcloudError;
use crate::resources::{ApplyContext, ApplyError};

/// Sends `request`. When the API refuses it (a 4xx) or its outcome is unknown, `done` reads the
/// resource again and says whether what the request asked for is already so: then `Ok(None)`
/// (nothing to wait for). Otherwise the request's own error.
pub(crate) async fn unless_done<T, R, D, DF>(
    cx: &ApplyContext,
    address: &str,
    step: &str,
    request: R,
    done: D,
) -> Result<Option<T>, ApplyError>
where
    R: Future<Output = Result<T, HcloudError>>,
    D: FnOnce() -> DF,
    DF: Future<Output = Result<bool, HcloudError>>,
{
    match request.await {
        Ok(v) => Ok(Some(v)),
        Err(e) if worth_checking(&e) => match done().await {
            Ok(true) => {
                cx.events.progress(
                    address,
                    format!("{step}: already done (an earlier request took effect)"),
                );
                Ok(None)
            }
            // Not done, or unreadable: the refusal itself says most.
            _ => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Refusals that may mean "already so", and requests that may have been applied.
fn worth_checking(e: &HcloudError) -> bool {
    e.is_outcome_unknown() || matches!(e, HcloudError::Api(api) if (400..500).contains(&api.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::EventSink;
    use crate::resources::{ApplyOptions, Checkpoint};
    use crate::state::KeyedHasher;
    use std::collections::BTreeMap;
    use std::sync::{Arc, RwLock};

    fn cx() -> ApplyContext {
        let stack = crate::config::load_str(
            "s.hcl",
            "stack \"s\" {}\n",
            std::path::Path::new("."),
            &crate::config::LoadOptions::default(),
        )
        .stack
        .expect("a stack");
        ApplyContext {
            stack: Arc::new(stack),
            resources: Arc::new(RwLock::new(BTreeMap::new())),
            hasher: Arc::new(KeyedHasher::from_key([1; 32])),
            events: EventSink::new().0,
            checkpoint: Checkpoint::new().0,
            options: ApplyOptions::default(),
        }
    }

    fn refusal(status: u16, code: &str) -> HcloudError {
        HcloudError::Api(Box::new(crate::providers::hcloud::ApiError {
            method: "POST".into(),
            path: "/volumes/1/actions/attach".into(),
            status,
            code: crate::providers::hcloud::ErrorCode::parse(code),
            message: code.into(),
            fields: Vec::new(),
            limits: Vec::new(),
            correlation_id: None,
            attempts: 1,
        }))
    }

    #[tokio::test]
    async fn a_refusal_for_what_is_already_so_is_success_and_any_other_stands() {
        let cx = cx();
        let already = || async { Err::<(), _>(refusal(422, "volume_already_attached")) };
        let done = || async { Ok(true) };
        let not_done = || async { Ok(false) };
        assert_eq!(
            unless_done(&cx, "volume.v", "attach", already(), done)
                .await
                .unwrap(),
            None
        );
        let err = unless_done(&cx, "volume.v", "attach", already(), not_done)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("volume_already_attached"), "{err}");
        // A server error is not a refusal to check: it stands without a second look.
        let looked = std::sync::atomic::AtomicBool::new(false);
        let err = unless_done(
            &cx,
            "volume.v",
            "attach",
            async { Err::<(), _>(refusal(500, "server_error")) },
            || async {
                looked.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(true)
            },
        )
        .await
        .unwrap_err();
        assert!(!looked.load(std::sync::atomic::Ordering::Relaxed), "{err}");
        assert_eq!(
            unless_done(
                &cx,
                "volume.v",
                "attach",
                async { Ok::<_, HcloudError>(7) },
                done
            )
            .await
            .unwrap(),
            Some(7)
        );
    }
}
