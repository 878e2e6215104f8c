//! Abuse controls applied before a request reaches the transaction layer: a per-source budget of
//! requests per second (fixed one-second windows) and a deny list of scanner User-Agents.
//! Drops are counted in [`DropCounters`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Abuse settings.
#[derive(Debug, Clone)]
pub struct AbuseConfig {
    /// Requests per second allowed from one non-loopback source address.
    pub budget_per_sec: u32,
    /// Requests per second allowed from a loopback address (generous: test tools live there).
    pub loopback_budget_per_sec: u32,
    /// Case-insensitive User-Agent substrings whose requests are dropped silently.
    pub scanner_agents: Vec<String>,
}

impl Default for AbuseConfig {
    fn default() -> AbuseConfig {
        AbuseConfig {
            budget_per_sec: 200,
            loopback_budget_per_sec: 1_000_000,
            scanner_agents: [
                "friendly-scanner",
                "sipvicious",
                "sipcli",
                "vaxsipuseragent",
                "sip-scan",
                "sipscan",
                "sundayddr",
                "iwar",
                "pplsip",
                "smap",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Counters of dropped input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// Over the per-source budget.
    pub rate_limited: u64,
    /// Known scanner User-Agent.
    pub scanner: u64,
    /// Malformed and unanswerable, or malformed responses.
    pub malformed: u64,
    /// Failed digest authentications.
    pub auth_failures: u64,
}

/// Per-source windows plus the deny list.
#[derive(Debug)]
pub struct AbuseGuard {
    config: AbuseConfig,
    windows: HashMap<IpAddr, (Instant, u32)>,
}

impl AbuseGuard {
    /// A guard with `config`.
    pub fn new(mut config: AbuseConfig) -> AbuseGuard {
        for a in &mut config.scanner_agents {
            *a = a.to_ascii_lowercase();
        }
        AbuseGuard {
            config,
            windows: HashMap::new(),
        }
    }

    /// Counts one request from `ip`; `false` if it is over budget.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        let budget = if ip.is_loopback() {
            self.config.loopback_budget_per_sec
        } else {
            self.config.budget_per_sec
        };
        if self.windows.len() > 100_000 {
            self.windows.retain(|_, (start, _)| {
                now.saturating_duration_since(*start) < Duration::from_secs(1)
            });
        }
        let w = self.windows.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(w.0) >= Duration::from_secs(1) {
            *w = (now, 0);
        }
        w.1 = w.1.saturating_add(1);
        w.1 <= budget
    }

    /// Whether `user_agent` belongs to a known scanner.
    pub fn is_scanner(&self, user_agent: &str) -> bool {
        let ua = user_agent.to_ascii_lowercase();
        self.config
            .scanner_agents
            .iter()
            .any(|s| ua.contains(s.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_window() {
        let t0 = Instant::now();
        let mut g = AbuseGuard::new(AbuseConfig {
            budget_per_sec: 3,
            ..AbuseConfig::default()
        });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let admitted = (0..5).filter(|_| g.admit(t0, ip)).count();
        assert_eq!(admitted, 3);
        assert!(g.admit(t0 + Duration::from_secs(1), ip));
        assert!((0..100).all(|_| g.admit(t0, "127.0.0.1".parse().unwrap())));
    }

    #[test]
    fn scanners() {
        let g = AbuseGuard::new(AbuseConfig::default());
        assert!(g.is_scanner("friendly-scanner"));
        assert!(g.is_scanner("SIPVicious 0.3"));
        assert!(g.is_scanner("VaxSIPUserAgent/3.1"));
        assert!(!g.is_scanner("baresip v1.0.0 (x86_64/linux)"));
    }
}
