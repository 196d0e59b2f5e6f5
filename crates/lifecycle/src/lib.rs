//! podvisor's pure lifecycle core: what the kubelet would decide, without IO, async or clocks.
#![deny(missing_docs)]

pub mod action;
pub mod observation;
pub mod plan;
pub mod time;
