//! podvisor's engine: the IO shell around the pure lifecycle core. One task per pod
//! ([`worker`]), the [`runtime::Runtime`] seam with its Linux implementation, handlers shared by
//! probes and hooks ([`handlers`]), the object [`store`] and the live [`timeline`].

pub mod clock;
pub mod engine;
pub mod handlers;
pub mod persist;
pub mod probe_worker;
pub mod runtime;
pub mod static_pods;
pub mod store;
pub mod timeline;
pub mod volumes;
pub mod worker;

pub use engine::{Engine, EngineConfig, EngineError};
