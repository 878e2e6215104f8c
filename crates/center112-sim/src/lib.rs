//! Simulator of the 112 measurement centre (测量管理中心), speaking the TMF621-shaped interface
//! of `hotline-center112` over HTTP, for the tests, the demo (`hotline serve` embeds it) and the
//! day-long simulation.
//!
//! Layout:
//! - [`config`]: [`SimConfig`] and the injectable [`Faults`].
//! - [`sim`]: [`Simulator::start`] → [`RunningSim`] (address, faults, stats, shutdown).
//! - [`api`]: the routes under [`util::BASE_PATH`] and the `/sim` admin endpoints.
//! - [`state`]: what handlers and tasks share, and its [`Stats`].
//! - [`util`]: leaf helpers (the base path, the TMF error body, wall-clock ms, RFC 3339).
//! - [`store`]: its own SQLite file; exactly-once by a unique index on `externalIdentifier`.
//! - [`lifecycle`]: acknowledged → inProgress → resolved (回单), some late, some failed.
//! - [`events`]: hub subscriptions and signed event delivery with retries.
//! - [`linetest`]: deterministic 人工测试 results by the number's last digit.
//! - [`faults`]: down, slow, 5xx, lost replies (and the event faults, applied in [`events`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use center112_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig { db_path: "/tmp/c112.db".into(), ..SimConfig::default() }).await?;
//! let center = hotline_center112::HttpCenter::new(sim.base_url(), std::time::Duration::from_secs(2))?;
//! // ... use `center`; sim.set_faults(...), sim.stats().await ...
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
pub mod events;
pub mod faults;
pub mod lifecycle;
pub mod linetest;
pub mod sim;
pub mod state;
pub mod store;
pub mod util;

pub use config::{Faults, IN_MEMORY, SimConfig};
pub use sim::{RunningSim, SimError, Simulator};
pub use state::Stats;
