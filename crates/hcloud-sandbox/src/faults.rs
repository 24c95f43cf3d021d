//! Fault injection: a small language that says which requests misbehave, how, and when.
//!
//! # Grammar
//! ```text
//! spec     := rule ("," rule)*
//! rule     := matcher ":" effect [trigger]
//! matcher  := "*"                          every request
//!           | [METHOD " "] PATH             PATH is relative to /v1 (a leading /v1 is accepted too);
//!                                           "*" in PATH matches exactly one segment, e.g. /servers/*/actions/poweroff
//! effect   := "latency=" DURATION          delay the response (DURATION: 200ms, 1s, 1.5s)
//!           | "429"                         429 rate_limit_exceeded (the bucket is not touched)
//!           | "409"                         409 conflict
//!           | "500" | "502" | "503" | "504" server_error / bad_gateway / unavailable / timeout
//!           | "action_error" ["=" CODE]     perform the request; every action it starts ends in `error`
//!           | "action_duration=" DURATION   perform the request; every action it starts runs this long (a slow
//!                                           action, e.g. to watch a resource stay locked while it runs)
//!           | "fail_after_create"           perform the request, then answer 503 unavailable instead
//!           | "drop_after_create"           perform the request, then close the connection with no response
//! trigger  := "@" PROBABILITY              each matching request with that probability (seeded RNG)
//!           | "#" N                        only the N-th matching request (1-based)
//!           | "#" N "+"                    the N-th matching request and every later one
//! ```
//! Without a trigger a rule fires on every matching request. Each rule has its own counter and its own random stream,
//! seeded from the sandbox's fault seed and the rule's position, so the same spec, seed and request sequence always
//! fire on the same requests. All rules are evaluated for every request: latencies add up, and the first firing rule
//! that replaces the response wins.
//!
//! Example: `POST /servers:429@0.5,GET /actions:latency=200ms,POST /servers/*/actions/poweroff:action_error,*:503@0.1`.

use std::time::Duration;

use axum::http::StatusCode;

use super::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Latency(Duration),
    Status(u16),
    ActionError(String),
    ActionDuration(Duration),
    FailAfterCreate,
    DropAfterCreate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    Always,
    Probability(f64),
    Nth(u64),
    FromNth(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub method: Option<String>,
    /// Path segments after `/v1`; `None` matches any path.
    pub path: Option<Vec<String>>,
    pub effect: Effect,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    pub rules: Vec<FaultRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("invalid fault rule `{rule}`: {reason}")]
#[diagnostic(
    code(sovstack::sandbox::fault_spec),
    help(
        "rules look like `POST /servers:503#2` or `*:latency=100ms@0.5`; see the sandbox module docs"
    )
)]
pub struct FaultSpecError {
    pub rule: String,
    pub reason: String,
}

impl std::str::FromStr for FaultSpec {
    type Err = FaultSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl FaultSpec {
    pub fn parse(input: &str) -> Result<Self, FaultSpecError> {
        let rules = input
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(parse_rule)
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn parse_rule(rule: &str) -> Result<FaultRule, FaultSpecError> {
    let fail = |reason: &str| FaultSpecError {
        rule: rule.to_owned(),
        reason: reason.to_owned(),
    };
    let (matcher, rest) = rule
        .rsplit_once(':')
        .ok_or_else(|| fail("expected `<matcher>:<effect>`"))?;
    let matcher = matcher.trim();
    let (method, path) = if matcher == "*" {
        (None, None)
    } else {
        let (method, path) = match matcher.split_once(char::is_whitespace) {
            Some((m, p)) => (Some(m.trim().to_ascii_uppercase()), p.trim()),
            None => (None, matcher),
        };
        if let Some(m) = &method
            && !["GET", "POST", "PUT", "DELETE", "PATCH", "*"].contains(&m.as_str())
        {
            return Err(fail("unknown HTTP method"));
        }
        if !path.starts_with('/') {
            return Err(fail("the path must start with `/`"));
        }
        let path = path.strip_prefix("/v1").unwrap_or(path);
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (method.filter(|m| m != "*"), Some(segments))
    };
    let (effect, trigger) = match rest.find(['@', '#']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let effect = parse_effect(effect.trim()).map_err(|r| fail(&r))?;
    let trigger = match trigger {
        None => Trigger::Always,
        Some(t) => parse_trigger(t.trim()).map_err(|r| fail(&r))?,
    };
    Ok(FaultRule {
        method,
        path,
        effect,
        trigger,
    })
}

fn parse_effect(effect: &str) -> Result<Effect, String> {
    if let Some(d) = effect.strip_prefix("latency=") {
        return parse_duration(d).map(Effect::Latency);
    }
    if let Some(d) = effect.strip_prefix("action_duration=") {
        return parse_duration(d).map(Effect::ActionDuration);
    }
    if let Some(code) = effect.strip_prefix("action_error=") {
        if code.is_empty() {
            return Err("action_error= needs a code".into());
        }
        return Ok(Effect::ActionError(code.to_owned()));
    }
    match effect {
        "action_error" => Ok(Effect::ActionError("action_failed".into())),
        "fail_after_create" => Ok(Effect::FailAfterCreate),
        "drop_after_create" => Ok(Effect::DropAfterCreate),
        "409" | "429" | "500" | "502" | "503" | "504" => Ok(Effect::Status(
            effect.parse().map_err(|_| "bad status".to_owned())?,
        )),
        _ => Err(format!("unknown effect `{effect}`")),
    }
}

fn parse_duration(d: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration `{d}` (use e.g. 200ms or 1.5s)");
    let (num, scale) = if let Some(n) = d.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = d.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(bad());
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(v * scale))
}

fn parse_trigger(t: &str) -> Result<Trigger, String> {
    if let Some(p) = t.strip_prefix('@') {
        let p: f64 = p.parse().map_err(|_| format!("bad probability `{p}`"))?;
        if !(0.0..=1.0).contains(&p) {
            return Err("probability must be within 0..=1".into());
        }
        return Ok(Trigger::Probability(p));
    }
    if let Some(n) = t.strip_prefix('#') {
        let (n, from) = match n.strip_suffix('+') {
            Some(n) => (n, true),
            None => (n, false),
        };
        let n: u64 = n
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("bad request number `{n}`"))?;
        return Ok(if from {
            Trigger::FromNth(n)
        } else {
            Trigger::Nth(n)
        });
    }
    Err(format!("unknown trigger `{t}`"))
}

impl FaultRule {
    fn matches(&self, method: &str, path: &[&str]) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        match &self.path {
            None => true,
            Some(p) => p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == "*" || a == b),
        }
    }
}

/// What the faults decided for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOutcome {
    pub latency: Duration,
    /// Answer with this error instead of handling the request.
    pub replace: Option<ApiError>,
    /// Actions started by this request end in `error` with this code.
    pub action_error: Option<String>,
    /// Actions started by this request run this long instead of the sandbox's action duration.
    pub action_duration: Option<Duration>,
    pub fail_after_create: bool,
    pub drop_after_create: bool,
    /// The rules that fired, as text, for the request log.
    pub fired: Vec<String>,
}

/// A fault spec with its per-rule counters and random streams.
#[derive(Debug)]
pub struct FaultEngine {
    spec: FaultSpec,
    state: Vec<RuleState>,
}

#[derive(Debug)]
struct RuleState {
    seen: u64,
    rng: SplitMix64,
}

impl FaultEngine {
    pub fn new(spec: FaultSpec, seed: u64) -> Self {
        let state = (0..spec.rules.len() as u64)
            .map(|i| RuleState {
                seen: 0,
                rng: SplitMix64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            })
            .collect();
        Self { spec, state }
    }

    /// Decides the faults for one request; `path` is the request path (with or without `/v1`).
    pub fn evaluate(&mut self, method: &str, path: &str) -> FaultOutcome {
        let path = path.strip_prefix("/v1").unwrap_or(path);
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut out = FaultOutcome::default();
        for (rule, st) in self.spec.rules.iter().zip(self.state.iter_mut()) {
            if !rule.matches(method, &segments) {
                continue;
            }
            st.seen += 1;
            let fire = match rule.trigger {
                Trigger::Always => true,
                Trigger::Nth(n) => st.seen == n,
                Trigger::FromNth(n) => st.seen >= n,
                Trigger::Probability(p) => st.rng.next_f64() < p,
            };
            if !fire {
                continue;
            }
            out.fired.push(describe(rule));
            match &rule.effect {
                Effect::Latency(d) => out.latency += *d,
                Effect::Status(code) => {
                    if out.replace.is_none() {
                        out.replace = Some(status_error(*code));
                    }
                }
                Effect::ActionError(code) => out.action_error = Some(code.clone()),
                Effect::ActionDuration(d) => out.action_duration = Some(*d),
                Effect::FailAfterCreate => out.fail_after_create = true,
                Effect::DropAfterCreate => out.drop_after_create = true,
            }
        }
        out
    }
}

fn describe(rule: &FaultRule) -> String {
    format!(
        "{} /{}:{:?}",
        rule.method.as_deref().unwrap_or("*"),
        rule.path
            .as_ref()
            .map(|p| p.join("/"))
            .unwrap_or("*".into()),
        rule.effect
    )
}

pub fn status_error(code: u16) -> ApiError {
    let (status, api_code, msg) = match code {
        409 => (
            StatusCode::CONFLICT,
            "conflict",
            "the resource has changed during the request, please retry",
        ),
        429 => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "limit of requests per hour reached",
        ),
        502 => (
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "the request could not be answered by the API backend, please retry",
        ),
        503 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "service currently not available",
        ),
        504 => (
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request could not be answered in time, please retry",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "error within the API backend",
        ),
    };
    ApiError::new(status, api_code, msg)
}

/// A tiny, stable PRNG: the fault sequence must not change when a dependency's RNG does.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let spec = FaultSpec::parse(
            "POST /servers:429@0.5,GET /actions:latency=200ms,\
             POST /servers/*/actions/poweroff:action_error,*:503@0.1,POST /servers:fail_after_create,\
             DELETE /v1/firewalls/*:409#2,PUT /ssh_keys/*:500#3+,/volumes:drop_after_create,\
             POST /servers/*/actions/reboot:action_error=server_gone,\
             POST /volumes/*/actions/resize:action_duration=2s",
        )
        .unwrap();
        assert_eq!(spec.rules.len(), 10);
        assert_eq!(spec.rules[0].effect, Effect::Status(429));
        assert_eq!(spec.rules[0].trigger, Trigger::Probability(0.5));
        assert_eq!(
            spec.rules[1].effect,
            Effect::Latency(Duration::from_millis(200))
        );
        assert_eq!(
            spec.rules[2].effect,
            Effect::ActionError("action_failed".into())
        );
        assert_eq!(spec.rules[3].method, None);
        assert_eq!(spec.rules[3].path, None);
        assert_eq!(spec.rules[4].effect, Effect::FailAfterCreate);
        assert_eq!(
            spec.rules[5].path,
            Some(vec!["firewalls".into(), "*".into()])
        );
        assert_eq!(spec.rules[5].trigger, Trigger::Nth(2));
        assert_eq!(spec.rules[6].trigger, Trigger::FromNth(3));
        assert_eq!(spec.rules[7].method, None);
        assert_eq!(
            spec.rules[8].effect,
            Effect::ActionError("server_gone".into())
        );
        assert_eq!(
            spec.rules[9].effect,
            Effect::ActionDuration(Duration::from_secs(2))
        );
        assert!(FaultSpec::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_rules() {
        for bad in [
            "POST /servers",
            "POST /servers:418",
            "FETCH /servers:503",
            "POST servers:503",
            "*:latency=fast",
            "*:503@1.5",
            "*:503#0",
            "*:503%3",
            "*:action_error=",
            "*:action_duration=soon",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn nth_and_from_nth_count_matching_requests_only() {
        let mut e = FaultEngine::new(
            FaultSpec::parse("POST /servers:503#2,GET /servers/*:504#2+").unwrap(),
            0,
        );
        let fired = |o: FaultOutcome| o.replace.map(|e| e.status.as_u16());
        assert_eq!(fired(e.evaluate("POST", "/v1/servers")), None);
        assert_eq!(fired(e.evaluate("GET", "/v1/servers")), None);
        assert_eq!(fired(e.evaluate("POST", "/v1/servers")), Some(503));
        assert_eq!(fired(e.evaluate("POST", "/v1/servers")), None);
        assert_eq!(fired(e.evaluate("GET", "/v1/servers/1")), None);
        assert_eq!(fired(e.evaluate("GET", "/v1/servers/1")), Some(504));
        assert_eq!(fired(e.evaluate("GET", "/v1/servers/2")), Some(504));
        assert_eq!(fired(e.evaluate("GET", "/v1/servers/2/actions")), None);
    }

    #[test]
    fn probabilities_are_deterministic_per_seed() {
        let spec = FaultSpec::parse("*:503@0.3").unwrap();
        let run = |seed| {
            let mut e = FaultEngine::new(spec.clone(), seed);
            (0..200)
                .map(|_| e.evaluate("GET", "/servers").replace.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|h| **h).count();
        assert!(
            (30..90).contains(&hits),
            "about 30% of 200 should fire, got {hits}"
        );
    }

    #[test]
    fn effects_combine() {
        let mut e = FaultEngine::new(
            FaultSpec::parse(
                "*:latency=5ms,*:latency=0.01s,POST /servers:fail_after_create,*:502,*:500",
            )
            .unwrap(),
            1,
        );
        let o = e.evaluate("POST", "/servers");
        assert_eq!(o.latency, Duration::from_millis(15));
        assert!(o.fail_after_create);
        assert_eq!(o.replace.unwrap().code, "bad_gateway");
        assert_eq!(o.fired.len(), 5);
    }
}
