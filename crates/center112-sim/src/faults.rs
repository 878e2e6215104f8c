//! Fault injection: the current [`Faults`], the seeded random draws, and the axum middleware that
//! applies them to every API call (not to the `/sim` admin endpoints).
//!
//! Order of application: `down` (503 at once), `slow` (sleep), `error_rate` (500 without
//! processing), then the call runs and `drop_reply_rate` replaces its answer by a 500 after it
//! committed — the reply "lost" on the way back.

use crate::config::Faults;
use crate::util::error_response;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The faults in force and what they did.
pub struct FaultState {
    faults: RwLock<Faults>,
    rng: Mutex<StdRng>,
    pub refused_down: AtomicU64,
    pub injected_errors: AtomicU64,
    pub dropped_replies: AtomicU64,
}

impl FaultState {
    pub fn new(faults: Faults, seed: u64) -> Self {
        FaultState {
            faults: RwLock::new(faults),
            // a different stream from the per-ticket draws, still fixed by the seed
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_fa17)),
            refused_down: AtomicU64::new(0),
            injected_errors: AtomicU64::new(0),
            dropped_replies: AtomicU64::new(0),
        }
    }

    pub fn get(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the faults; refuses rates outside 0..=1.
    pub fn set(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        tracing::info!(?faults, "faults changed");
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = faults;
        Ok(())
    }

    /// One draw per configured rate: (answer 500 now, drop the reply later).
    fn draw(&self, f: &Faults) -> (bool, bool) {
        if f.error_rate <= 0.0 && f.drop_reply_rate <= 0.0 {
            return (false, false);
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let error = f.error_rate > 0.0 && rng.random::<f64>() < f.error_rate;
        let drop = !error && f.drop_reply_rate > 0.0 && rng.random::<f64>() < f.drop_reply_rate;
        (error, drop)
    }
}

/// The middleware of the API routes.
pub async fn inject(State(state): State<Arc<FaultState>>, req: Request, next: Next) -> Response {
    let f = state.get();
    if f.down {
        state.refused_down.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(uri = %req.uri(), "fault: down");
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the 112 centre is down (simulated)",
        );
    }
    if f.slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.slow_ms)).await;
    }
    let (error, drop) = state.draw(&f);
    if error {
        state.injected_errors.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(uri = %req.uri(), "fault: 500 without processing");
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "simulated failure (not processed)",
        );
    }
    let uri = req.uri().clone();
    let resp = next.run(req).await;
    if drop {
        state.dropped_replies.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%uri, processed_status = resp.status().as_u16(), "fault: reply dropped after processing");
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "simulated failure (processed, reply lost)",
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_respect_the_rates() {
        let f = Faults {
            error_rate: 0.5,
            ..Faults::default()
        };
        let a = FaultState::new(f.clone(), 7);
        let b = FaultState::new(f.clone(), 7);
        let da: Vec<_> = (0..64).map(|_| a.draw(&f)).collect();
        let db: Vec<_> = (0..64).map(|_| b.draw(&f)).collect();
        assert_eq!(da, db);
        let errors = da.iter().filter(|d| d.0).count();
        assert!((10..=54).contains(&errors), "{errors}");
        let all = Faults {
            drop_reply_rate: 1.0,
            ..Faults::default()
        };
        assert!((0..20).all(|_| a.draw(&all) == (false, true)));
        assert!(
            a.set(Faults {
                error_rate: 1.5,
                ..Faults::default()
            })
            .is_err()
        );
    }
}
