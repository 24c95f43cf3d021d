//! Walks the changes of a plan in dependency order, at most `parallelism` at a time, until
//! done or until a stop is requested: then nothing new starts, the running operations finish
//! and are recorded, and what was not started is reported.
//!
//! State discipline: a create is recorded as `Pending` before it starts (so a crash in the
//! middle leaves a state the next apply adopts from), and every completed operation is
//! recorded durably the moment it completes. A failure skips everything that depends on it;
//! independent branches finish.

use crate::graph::Graph;
use crate::plan::{Action, Plan, ResourceChange};
use crate::progress::{Event, Operation};
use crate::resources::{
    ApplyContext, ApplyError, CheckpointRequest, Deleted, Deletion, Desired, Op, Providers,
    Recorded,
};
use crate::state::{ResourceState, ResourceStatus, StateError, StateOp, StateWriter};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// What happened to each change.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    pub completed: Vec<(String, Action)>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    /// Not started because a stop was requested (sorted).
    pub not_started: Vec<String>,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.not_started.is_empty()
    }
}

/// How a walk goes: how many operations at once, and the request to stop starting new ones.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub parallelism: usize,
    pub stop: super::StopSignal,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExecuteError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error("no kind of resource is called `{0}`")]
    #[diagnostic(
        code(sovstack::apply::unknown_kind),
        help("the plan or state was written by another version of sovstack")
    )]
    UnknownKind(String),
}

/// What the executor runs each change through: the resource kinds (through [`Providers`]),
/// or a recorder in tests.
#[async_trait::async_trait]
pub trait Operations: Send + Sync {
    /// Whether resources of `kind` can be worked on at all.
    fn knows(&self, kind: &str) -> bool;
    async fn create(&self, op: Op<'_>) -> Recorded;
    async fn update(&self, op: Op<'_>) -> Recorded;
    async fn delete(&self, del: Deletion<'_>) -> Deleted;
}

/// The real thing: each change goes to its kind.
#[async_trait::async_trait]
impl Operations for Providers {
    fn knows(&self, kind: &str) -> bool {
        crate::resources::kind(kind).is_some()
    }
    async fn create(&self, op: Op<'_>) -> Recorded {
        self.create_op(op).await
    }
    async fn update(&self, op: Op<'_>) -> Recorded {
        self.update_op(op).await
    }
    async fn delete(&self, del: Deletion<'_>) -> Deleted {
        self.delete_op(del).await
    }
}

struct Task {
    address: String,
    action: Action,
    result: Result<Option<ResourceState>, ApplyError>,
    elapsed: Duration,
}

/// Runs every change of `plan` that is not a no-op.
pub async fn execute<W: StateWriter>(
    plan: &Plan,
    desired: &[Desired],
    ops: Arc<dyn Operations>,
    writer: &mut W,
    cx: ApplyContext,
    mut checkpoints: mpsc::UnboundedReceiver<CheckpointRequest>,
    how: &Walk,
) -> Result<Outcome, ExecuteError> {
    let parallelism = how.parallelism.max(1);
    let desired: BTreeMap<&str, &Desired> =
        desired.iter().map(|d| (d.address.as_str(), d)).collect();
    let changes: BTreeMap<&str, &ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.as_str(), c))
        .collect();
    for c in changes.values() {
        if !ops.knows(&c.kind) {
            return Err(ExecuteError::UnknownKind(c.kind.clone()));
        }
    }
    let graph = change_graph(&changes, &desired, &cx);
    graph.order()?;
    let mut walk = Walker::new(&graph, &changes, &desired, ops, writer, cx);
    let mut running: JoinSet<Task> = JoinSet::new();
    let mut checkpoints_open = true;
    let mut stopping = false;
    loop {
        stopping |= how.stop.is_requested();
        while !stopping && running.len() < parallelism {
            let Some(address) = walk.ready.pop_first() else {
                break;
            };
            walk.start(address, &mut running).await?;
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            () = how.stop.requested(), if !stopping => stopping = true,
            req = checkpoints.recv(), if checkpoints_open => match req {
                Some((address, state, ack)) => {
                    let r = record(walk.writer, &walk.cx, &address, Some(state))
                        .await
                        .map_err(|e| e.to_string());
                    let _ = ack.send(r);
                }
                None => checkpoints_open = false,
            },
            joined = running.join_next() => match joined {
                Some(Ok(task)) => walk.finished(task).await?,
                // A panic inside an operation: nothing can be said about its resource beyond
                // what was recorded before.
                Some(Err(e)) => walk
                    .outcome
                    .failed
                    .push(("(unknown)".into(), format!("an operation panicked: {e}"))),
                None => {}
            },
        }
    }
    if stopping {
        let left: Vec<String> = walk
            .ready
            .iter()
            .chain(walk.waiting.keys())
            .cloned()
            .collect();
        walk.outcome.not_started = left;
        walk.outcome.not_started.sort();
    }
    walk.outcome.skipped.sort();
    Ok(walk.outcome)
}

/// The state of one walk over the change graph: what waits on how many dependencies, what
/// is ready, what is blocked by a failure, and what happened.
struct Walker<'a, W: StateWriter> {
    graph: &'a Graph,
    changes: &'a BTreeMap<&'a str, &'a ResourceChange>,
    desired: &'a BTreeMap<&'a str, &'a Desired>,
    ops: Arc<dyn Operations>,
    writer: &'a mut W,
    cx: ApplyContext,
    waiting: BTreeMap<String, usize>,
    ready: BTreeSet<String>,
    blocked: BTreeSet<String>,
    outcome: Outcome,
}

impl<'a, W: StateWriter> Walker<'a, W> {
    fn new(
        graph: &'a Graph,
        changes: &'a BTreeMap<&'a str, &'a ResourceChange>,
        desired: &'a BTreeMap<&'a str, &'a Desired>,
        ops: Arc<dyn Operations>,
        writer: &'a mut W,
        cx: ApplyContext,
    ) -> Self {
        let mut waiting: BTreeMap<String, usize> = changes
            .keys()
            .map(|a| (a.to_string(), graph.dependencies(a).len()))
            .collect();
        let ready: BTreeSet<String> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(a, _)| a.clone())
            .collect();
        waiting.retain(|_, n| *n > 0);
        Self {
            graph,
            changes,
            desired,
            ops,
            writer,
            cx,
            waiting,
            ready,
            blocked: BTreeSet::new(),
            outcome: Outcome::default(),
        }
    }

    /// Starts the change at `address`; a create is recorded `Pending` first.
    async fn start(
        &mut self,
        address: String,
        running: &mut JoinSet<Task>,
    ) -> Result<(), ExecuteError> {
        let change = self.changes[address.as_str()];
        let d = self.desired.get(address.as_str()).map(|d| (*d).clone());
        let prior = self.cx.resource(&address);
        if change.action == Action::Create
            && let Some(d) = &d
        {
            // Durable before the provider is asked: a crash from here on is adoptable.
            let pending = ResourceState {
                kind: d.kind.to_string(),
                id: prior.as_ref().and_then(|p| p.id.clone()),
                attributes: merged_attributes(prior.as_ref(), d),
                sensitive_attributes: BTreeMap::new(),
                dependencies: d.dependencies.iter().cloned().collect(),
                status: ResourceStatus::Pending,
            };
            record(self.writer, &self.cx, &address, Some(pending)).await?;
        }
        let changed: Vec<String> = change.changes.iter().map(|c| c.name.clone()).collect();
        let (ops, task_cx, action) = (self.ops.clone(), self.cx.clone(), change.action);
        self.cx.events.send(Event::Started {
            address: address.clone(),
            operation: operation_of(action),
        });
        running.spawn(async move {
            let started = Instant::now();
            let result = run_one(
                &*ops,
                &task_cx,
                &address,
                action,
                d.as_ref(),
                prior.as_ref(),
                &changed,
            )
            .await;
            Task {
                address,
                action,
                result,
                elapsed: started.elapsed(),
            }
        });
        Ok(())
    }

    /// Records what a finished operation did and releases what waited for it, or skips
    /// everything that depends on a failed one.
    async fn finished(&mut self, task: Task) -> Result<(), ExecuteError> {
        let result = match task.result {
            Ok(result) => result,
            Err(e) => {
                self.failed(&task.address, task.action, e);
                return Ok(());
            }
        };
        let to_record = match (task.action, result) {
            (Action::Delete, _) | (_, None) => None,
            (_, Some(mut st)) => {
                if let Some(d) = self.desired.get(task.address.as_str()) {
                    finish_state(&mut st, d, &self.cx);
                }
                Some(st)
            }
        };
        record(self.writer, &self.cx, &task.address, to_record).await?;
        self.cx.events.send(Event::Finished {
            address: task.address.clone(),
            operation: operation_of(task.action),
            elapsed: task.elapsed,
        });
        self.outcome
            .completed
            .push((task.address.clone(), task.action));
        for dependent in self.graph.dependents(&task.address) {
            if self.graph.dependencies(&dependent).contains(&task.address)
                && let Some(n) = self.waiting.get_mut(&dependent)
            {
                *n -= 1;
                if *n == 0 && !self.blocked.contains(&dependent) {
                    self.waiting.remove(&dependent);
                    self.ready.insert(dependent);
                }
            }
        }
        Ok(())
    }

    fn failed(&mut self, address: &str, action: Action, e: ApplyError) {
        // The live line gets what went wrong; the full diagnostic (code, help) goes into the
        // outcome for the command to report.
        let summary = e.to_string();
        let message = format!("{:?}", miette::Report::new(e));
        self.cx.events.send(Event::Failed {
            address: address.to_string(),
            operation: operation_of(action),
            error: summary,
        });
        self.outcome.failed.push((address.to_string(), message));
        for dependent in self.graph.dependents(address) {
            if self.blocked.insert(dependent.clone()) {
                self.waiting.remove(&dependent);
                self.ready.remove(&dependent);
                self.cx.events.send(Event::Skipped {
                    address: dependent.clone(),
                    because: address.to_string(),
                });
                self.outcome.skipped.push(dependent);
            }
        }
    }
}

/// The executor never runs no-ops; a no-op reaching here is reported as an update.
fn operation_of(a: Action) -> Operation {
    Operation::of(a).unwrap_or(Operation::Update)
}

async fn run_one(
    ops: &dyn Operations,
    cx: &ApplyContext,
    address: &str,
    action: Action,
    desired: Option<&Desired>,
    prior: Option<&ResourceState>,
    changed: &[String],
) -> Result<Option<ResourceState>, ApplyError> {
    let missing = || ApplyError::Precondition {
        address: address.to_string(),
        message: "the plan and the stack disagree about this resource".into(),
        help: Some("make a new plan".into()),
    };
    let deletion = |prior| Deletion { cx, address, prior };
    match action {
        Action::Create => {
            let desired = desired.ok_or_else(missing)?;
            ops.create(Op::create(cx, desired)).await.map(Some)
        }
        Action::Update => {
            let op = Op {
                cx,
                desired: desired.ok_or_else(missing)?,
                prior: Some(prior.ok_or_else(missing)?),
                changed,
            };
            ops.update(op).await.map(Some)
        }
        Action::Replace => {
            let desired = desired.ok_or_else(missing)?;
            if let Some(p) = prior {
                ops.delete(deletion(p)).await?;
            }
            ops.create(Op::create(cx, desired)).await.map(Some)
        }
        Action::Delete => {
            if let Some(p) = prior {
                ops.delete(deletion(p)).await?;
            }
            Ok(None)
        }
        Action::NoOp => Ok(None),
    }
}

/// Attributes to record while a create is pending: the planned ones, keeping computed
/// values an earlier interrupted attempt may have checkpointed.
fn merged_attributes(
    prior: Option<&ResourceState>,
    d: &Desired,
) -> BTreeMap<String, serde_json::Value> {
    let mut attrs = prior.map(|p| p.attributes.clone()).unwrap_or_default();
    attrs.extend(d.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
    attrs
}

/// What every recorded resource gets regardless of kind: its dependencies, keyed hashes of
/// its sensitive attributes (never the values), status Ready.
fn finish_state(st: &mut ResourceState, d: &Desired, cx: &ApplyContext) {
    st.dependencies = d.dependencies.iter().cloned().collect();
    for (k, v) in &d.sensitive {
        if let Some(plain) = v {
            st.sensitive_attributes
                .insert(k.clone(), cx.hasher.hash(plain));
        }
    }
    st.status = ResourceStatus::Ready;
}

async fn record<W: StateWriter>(
    writer: &mut W,
    cx: &ApplyContext,
    address: &str,
    state: Option<ResourceState>,
) -> Result<(), StateError> {
    let op = match &state {
        Some(s) => StateOp::Upsert {
            address: address.to_string(),
            resource: s.clone(),
        },
        None => StateOp::Remove {
            address: address.to_string(),
        },
    };
    writer.record(op).await?;
    if let Ok(mut view) = cx.resources.write() {
        match state {
            Some(s) => {
                view.insert(address.to_string(), s);
            }
            None => {
                view.remove(address);
            }
        }
    }
    Ok(())
}

/// Edges between the changes: desired dependencies for what is created or updated; for
/// deletes, dependents go first, and a resource that is deleted goes before what it
/// depended on is replaced.
fn change_graph(
    changes: &BTreeMap<&str, &ResourceChange>,
    desired: &BTreeMap<&str, &Desired>,
    cx: &ApplyContext,
) -> Graph {
    let mut g = Graph::default();
    for a in changes.keys() {
        g.add_node(a);
    }
    for (a, c) in changes {
        if c.action == Action::Delete {
            let prior_deps = cx.resource(a).map(|p| p.dependencies).unwrap_or_default();
            for dep in prior_deps {
                match changes.get(dep.as_str()).map(|d| d.action) {
                    // The dependency is deleted too: this goes first.
                    Some(Action::Delete) | Some(Action::Replace) => g.add_edge(a, &dep),
                    _ => {}
                }
            }
        } else if let Some(d) = desired.get(a) {
            for dep in &d.dependencies {
                if changes
                    .get(dep.as_str())
                    .is_some_and(|x| x.action != Action::Delete)
                {
                    g.add_edge(dep, a);
                }
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};
    use crate::plan::{PlanInput, PlanOptions, compute};
    use crate::progress::EventSink;
    use crate::resources::{ApplyOptions, Checkpoint};
    use crate::state::{KeyedHasher, LocalBackend, StateBackend};
    use std::sync::{Mutex, RwLock};

    /// Records the order of calls; fails creates of the addresses it is told to.
    struct Recorder {
        calls: Mutex<Vec<String>>,
        fail: BTreeSet<String>,
        /// Requested by the first create, as a signal arriving while it runs.
        stop: Option<super::super::StopSignal>,
    }

    #[async_trait::async_trait]
    impl Operations for Recorder {
        fn knows(&self, _kind: &str) -> bool {
            true
        }
        async fn create(&self, op: Op<'_>) -> Recorded {
            let (cx, d) = (op.cx, op.desired);
            // Every dependency must already be recorded as done.
            for dep in &d.dependencies {
                if let Some(r) = cx.resource(dep) {
                    assert_eq!(
                        r.status,
                        ResourceStatus::Ready,
                        "{dep} before {}",
                        d.address
                    );
                }
            }
            self.calls
                .lock()
                .unwrap()
                .push(format!("create {}", d.address));
            if let Some(stop) = &self.stop {
                stop.request();
            }
            if self.fail.contains(&d.address) {
                return Err(ApplyError::Node {
                    address: d.address.clone(),
                    message: "boom".into(),
                });
            }
            Ok(ResourceState {
                kind: d.kind.into(),
                id: Some(format!("id-{}", d.address)),
                attributes: d.attributes.clone(),
                sensitive_attributes: BTreeMap::new(),
                dependencies: vec![],
                status: ResourceStatus::Ready,
            })
        }
        async fn update(&self, op: Op<'_>) -> Recorded {
            unreachable!("{}", op.desired.address)
        }
        async fn delete(&self, del: Deletion<'_>) -> Deleted {
            let a = del.address;
            self.calls.lock().unwrap().push(format!("delete {a}"));
            Ok(())
        }
    }

    const STACK: &str = r#"
stack "t" {}
ssh_key "k" { public_key = "ssh-ed25519 AAAA" }
server "a" {
  server_type = "cx23"
  location = "fsn1"
  image = "ubuntu-24.04"
  ssh_keys = [ssh_key.k]
}
server "b" {
  server_type = "cx23"
  location = "fsn1"
  image = "ubuntu-24.04"
}
firewall "f" { apply_to = [server.a] }
volume "v" {
  size = 10
  server = server.a
}
"#;

    async fn run(fail: &[&str]) -> (Outcome, Vec<String>, crate::state::StateFile) {
        let (outcome, calls, state, _) = run_with_events(fail).await;
        (outcome, calls, state)
    }

    async fn run_with_events(
        fail: &[&str],
    ) -> (Outcome, Vec<String>, crate::state::StateFile, Vec<Event>) {
        let how = Walk {
            parallelism: 3,
            ..Walk::default()
        };
        run_walking(fail, &how, None).await
    }

    /// Runs the test stack's plan with `how`; `stop_on_first`, when given, is requested by the
    /// first operation that runs.
    async fn run_walking(
        fail: &[&str],
        how: &Walk,
        stop_on_first: Option<super::super::StopSignal>,
    ) -> (Outcome, Vec<String>, crate::state::StateFile, Vec<Event>) {
        let stack = load_str(
            "t.hcl",
            STACK,
            std::path::Path::new("."),
            &LoadOptions::default(),
        )
        .stack
        .unwrap();
        let no_files = Vec::new();
        let hashes = BTreeMap::new();
        let desired = crate::resources::desired(&crate::resources::DesiredContext {
            stack: &stack,
            files: &no_files,
            bootstrap_sha256: "",
            service_hashes: &hashes,
        });
        let plan = compute(
            &PlanInput {
                stack: "t",
                desired: &desired,
                prior: None,
                hasher: None,
                inputs_hash: String::new(),
                drift: vec![],
            },
            &PlanOptions::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("state.json"));
        let mut writer = backend.lock("apply", Duration::ZERO).await.unwrap();
        writer.init("t").await.unwrap();
        let recorder = Arc::new(Recorder {
            calls: Mutex::new(vec![]),
            fail: fail.iter().map(|s| s.to_string()).collect(),
            stop: stop_on_first,
        });
        let (checkpoint, rx) = Checkpoint::new();
        let (events, mut events_rx) = EventSink::new();
        let cx = ApplyContext {
            stack: Arc::new(stack),
            resources: Arc::new(RwLock::new(BTreeMap::new())),
            hasher: Arc::new(KeyedHasher::from_key([7; 32])),
            events,
            checkpoint,
            options: ApplyOptions::default(),
        };
        let outcome = execute(
            &plan,
            &desired,
            recorder.clone() as Arc<dyn Operations>,
            &mut writer,
            cx,
            rx,
            how,
        )
        .await
        .unwrap();
        let calls = recorder.calls.lock().unwrap().clone();
        drop(writer);
        // What was recorded is durable: a fresh load sees it.
        let state = backend.load().await.unwrap().unwrap().state;
        let mut seen = Vec::new();
        while let Ok(e) = events_rx.try_recv() {
            seen.push(e);
        }
        (outcome, calls, state, seen)
    }

    /// The progress line of a failure says what failed (not only the diagnostic code, the
    /// first line of the rendered report); the outcome keeps the whole report.
    #[tokio::test]
    async fn a_failure_event_carries_the_message_and_the_outcome_the_report() {
        let (outcome, _, _, events) = run_with_events(&["server.a"]).await;
        let failed: Vec<&String> = events
            .iter()
            .filter_map(|e| match e {
                Event::Failed { address, error, .. } if address == "server.a" => Some(error),
                _ => None,
            })
            .collect();
        assert_eq!(failed, ["server.a: boom"]);
        assert!(
            events.iter().any(|e| crate::progress::plain::describe(e)
                == "server.a: create FAILED: server.a: boom"),
            "{events:?}"
        );
        let (_, report) = &outcome.failed[0];
        assert!(report.contains("boom"), "{report}");
    }

    #[tokio::test]
    async fn creates_in_dependency_order_and_records_each() {
        let (outcome, calls, state) = run(&[]).await;
        assert!(outcome.is_success(), "{outcome:?}");
        let pos = |a: &str| {
            calls
                .iter()
                .position(|c| c == &format!("create {a}"))
                .unwrap()
        };
        assert!(pos("ssh_key.k") < pos("server.a"));
        assert!(pos("server.a") < pos("firewall.f"));
        assert!(pos("server.a") < pos("volume.v"));
        assert_eq!(state.resources.len(), 5);
        assert!(
            state
                .resources
                .values()
                .all(|r| r.status == ResourceStatus::Ready)
        );
        assert_eq!(
            state.resources["server.a"].dependencies,
            vec!["ssh_key.k".to_string()]
        );
    }

    /// A stop requested while an operation runs: it finishes and is recorded, nothing else
    /// starts, and what was left is reported.
    #[tokio::test]
    async fn a_stop_lets_the_running_operation_finish_and_starts_nothing_more() {
        let stop = super::super::StopSignal::default();
        let how = Walk {
            parallelism: 1,
            stop: stop.clone(),
        };
        let (outcome, calls, state, _) = run_walking(&[], &how, Some(stop)).await;
        assert_eq!(calls, ["create server.b"]);
        assert_eq!(
            outcome.completed,
            [("server.b".to_string(), Action::Create)]
        );
        assert_eq!(state.resources["server.b"].status, ResourceStatus::Ready);
        assert_eq!(
            outcome.not_started,
            ["firewall.f", "server.a", "ssh_key.k", "volume.v"]
        );
        assert!(!outcome.is_success());
        assert_eq!(state.resources.len(), 1, "nothing else was started");
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_independent_branches_finish() {
        let (outcome, calls, state) = run(&["server.a"]).await;
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(
            outcome.skipped,
            vec!["firewall.f".to_string(), "volume.v".to_string()]
        );
        assert!(calls.contains(&"create server.b".to_string()));
        assert!(
            !calls
                .iter()
                .any(|c| c.contains("firewall.f") || c.contains("volume.v"))
        );
        // The failed create stays Pending: the next apply adopts or retries it.
        assert_eq!(state.resources["server.a"].status, ResourceStatus::Pending);
        assert_eq!(state.resources["server.b"].status, ResourceStatus::Ready);
        assert!(!state.resources.contains_key("firewall.f"));
    }
}
