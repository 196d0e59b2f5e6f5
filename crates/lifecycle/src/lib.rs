//! podvisor's pure lifecycle core: what the kubelet would decide, without IO, async or clocks.
#![deny(missing_docs)]

pub mod action;
pub mod backoff;
pub mod conditions;
pub mod env;
pub mod grace;
pub mod intake;
pub mod machine;
pub mod observation;
pub mod phase;
pub mod plan;
pub mod printer;
pub mod probe;
pub mod restart;
pub mod status;
pub mod termination_message;
pub mod time;
pub mod volume;
