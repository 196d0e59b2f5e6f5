//! podvisor's engine: the IO shell around the pure lifecycle core. Its single entry point is
//! the [`EngineHandle`] (commands with replies into the engine's loop, [`engine`]), which owns
//! one task per pod ([`worker`]) over the [`runtime::Runtime`] seam with its Linux
//! implementation, handlers shared by probes and hooks ([`handlers`]), the object [`store`]
//! (the loop and the workers are its only writers) and the live [`timeline`].

pub mod clock;
pub mod container_config;
pub mod engine;
pub mod error;
pub mod handle;
pub mod handlers;
pub mod ids;
pub mod logs;
pub mod metrics;
pub mod node;
pub mod objects;
pub mod persist;
pub mod probe_worker;
pub mod recover;
pub mod runtime;
pub mod static_pods;
pub mod store;
pub mod timeline;
pub mod volumes;
pub mod worker;

pub use engine::{start, start_in_memory, EngineConfig};
pub use error::EngineError;
pub use handle::{EngineHandle, WriteMode};
