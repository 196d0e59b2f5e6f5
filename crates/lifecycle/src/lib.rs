//! podvisor's pure lifecycle core: what the kubelet would decide, without IO, async or clocks.
//!
//! A manifest becomes a validated [`plan::PodPlan`] ([`intake`]); a [`machine::PodMachine`]
//! records what the engine observed and says what to do next; status is computed from the facts.
//!
//! ```
//! use podvisor_lifecycle::action::Action;
//! use podvisor_lifecycle::intake::{build_plan, parse};
//! use podvisor_lifecycle::machine::{NodeInfo, PodMachine};
//! use podvisor_lifecycle::observation::Observation;
//! use podvisor_lifecycle::time::{Timestamp, WallClock};
//!
//! let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: busybox, command: [sleep, '60']}\n";
//! let pod = parse(yaml, "web.yaml").unwrap().pods.remove(0);
//! let plan = build_plan(pod).unwrap();
//! let wall = WallClock { epoch: "2026-01-01T00:00:00Z".parse().unwrap() };
//! let node = NodeInfo { node_name: "node".into(), host_ip: "127.0.0.1".into() };
//! let mut m = PodMachine::new(plan, wall, node, Timestamp::ZERO);
//! // First the sandbox ...
//! assert!(m.decide(Timestamp::ZERO).contains(&Action::CreateSandbox));
//! m.observe(Timestamp::from_millis(5), Observation::SandboxReady { pod_ip: "127.244.0.2".into() });
//! // ... then the container.
//! let actions = m.decide(Timestamp::from_millis(5));
//! assert!(actions.iter().any(|a| matches!(a, Action::StartContainer { .. })));
//! assert_eq!(m.status().phase.as_deref(), Some("Pending"));
//! ```
#![deny(missing_docs)]
// No `unwrap()` outside tests: the core must not panic on what it is fed.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod action;
pub mod backoff;
pub mod conditions;
pub mod decode;
pub mod env;
pub mod field;
pub mod grace;
pub mod intake;
pub(crate) mod kill;
pub mod labels;
pub mod machine;
pub mod meta;
pub mod observation;
pub mod phase;
pub mod plan;
pub mod printer;
pub mod probe;
pub mod restart;
pub mod signal;
pub mod status;
pub mod termination_message;
pub mod time;
pub mod volume;
