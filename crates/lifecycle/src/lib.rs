//! podvisor's pure lifecycle core: what the kubelet would decide, without IO, async or clocks.
#![deny(missing_docs)]

pub mod action;
pub mod observation;
pub mod plan;
pub mod time;
pub mod backoff;
pub mod conditions;
pub mod grace;
pub mod machine;
pub mod phase;
pub mod probe;
pub mod restart;
pub mod status;
pub mod env;
pub mod termination_message;
pub mod volume;
pub mod printer;
