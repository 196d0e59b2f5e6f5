//! podvisor's engine: the IO shell around the pure lifecycle core.

pub mod runtime;
