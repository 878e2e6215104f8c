//! Abuse controls applied before a request reaches the transaction layer: a per-source budget of
//! requests per second (fixed one-second windows), a temporary ban of sources that flood far past
//! it or guess passwords across many accounts, a lockout of one account from one source after
//! repeated wrong digests, and a deny list of scanner User-Agents. Drops are counted in
//! [`DropCounters`].
//!
//! Every table here is bounded ([`MAX_TRACKED`] entries; expired entries are swept when it is
//! reached), so a scan from many addresses costs memory in proportion to the limit, not to the
//! scan.

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
    /// A source whose requests over its budget reach this many in one window is banned
    /// (every request dropped) for [`AbuseConfig::ban`]. 0 never bans for rate.
    pub ban_after_excess: u32,
    /// How long a ban lasts. Zero disables bans.
    pub ban: Duration,
    /// Wrong digests for one account from one source, within [`AbuseConfig::auth_window`],
    /// that lock that account out from that source (403 even for the right password) for
    /// [`AbuseConfig::auth_lockout`]. 0 never locks.
    pub auth_max_failures: u32,
    /// Wrong digests from one source, over all accounts, within the window, that ban the source
    /// (extension guessing). 0 never bans for this.
    pub auth_source_max_failures: u32,
    /// The window that failures are counted in.
    pub auth_window: Duration,
    /// How long an account stays locked for a source.
    pub auth_lockout: Duration,
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
            ban_after_excess: 1_000,
            ban: Duration::from_secs(300),
            auth_max_failures: 5,
            auth_source_max_failures: 20,
            auth_window: Duration::from_secs(300),
            auth_lockout: Duration::from_secs(900),
        }
    }
}

/// Entries each table keeps before it sweeps the expired ones (and, if still full, forgets the
/// oldest windows: a flood of distinct addresses cannot grow memory without bound).
pub const MAX_TRACKED: usize = 100_000;

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
    /// Dropped because the source is banned.
    pub banned: u64,
    /// REGISTERs refused because the account is locked for the source.
    pub locked_out: u64,
}

/// What [`AbuseGuard::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the per-source budget in this window.
    RateLimited,
    /// The source is banned until the ban runs out.
    Banned,
}

/// Per-source windows plus the deny list.
#[derive(Debug)]
pub struct AbuseGuard {
    config: AbuseConfig,
    windows: HashMap<IpAddr, (Instant, u32)>,
    /// Source → end of its ban.
    bans: HashMap<IpAddr, Instant>,
    /// (source, account) → (window start, wrong digests in it).
    auth_fails: HashMap<(IpAddr, String), (Instant, u32)>,
    /// Source → (window start, wrong digests over all accounts).
    source_fails: HashMap<IpAddr, (Instant, u32)>,
    /// (source, account) → end of its lockout.
    lockouts: HashMap<(IpAddr, String), Instant>,
}

/// Counts one event in a fixed window; returns the count in the current window.
fn bump<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, (Instant, u32)>,
    key: K,
    now: Instant,
    window: Duration,
) -> u32 {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    let w = map.entry(key).or_insert((now, 0));
    if now.saturating_duration_since(w.0) >= window {
        *w = (now, 0);
    }
    w.1 = w.1.saturating_add(1);
    w.1
}

/// Whether `key` is in `map` with an end still ahead; forgets it once over.
fn active<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Instant>, key: &K, now: Instant) -> bool {
    match map.get(key) {
        Some(until) if now < *until => true,
        Some(_) => {
            map.remove(key);
            false
        }
        None => false,
    }
}

fn put_until<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Instant>,
    key: K,
    until: Instant,
    now: Instant,
) {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, end| now < *end);
    }
    if map.len() < MAX_TRACKED {
        map.insert(key, until);
    }
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
            bans: HashMap::new(),
            auth_fails: HashMap::new(),
            source_fails: HashMap::new(),
            lockouts: HashMap::new(),
        }
    }

    /// Counts one request from `ip` and decides whether it goes on.
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> Admission {
        if active(&mut self.bans, &ip, now) {
            return Admission::Banned;
        }
        let budget = if ip.is_loopback() {
            self.config.loopback_budget_per_sec
        } else {
            self.config.budget_per_sec
        };
        let n = bump(&mut self.windows, ip, now, Duration::from_secs(1));
        if n <= budget {
            return Admission::Admitted;
        }
        let excess = n - budget;
        if self.config.ban_after_excess > 0
            && excess >= self.config.ban_after_excess
            && !self.config.ban.is_zero()
        {
            tracing::warn!(%ip, requests = n, ban_secs = self.config.ban.as_secs(), "SIP flood: source banned");
            put_until(&mut self.bans, ip, now + self.config.ban, now);
            self.windows.remove(&ip);
        }
        Admission::RateLimited
    }

    /// Whether `account` is locked out for requests from `ip`.
    pub fn is_locked(&mut self, now: Instant, ip: IpAddr, account: &str) -> bool {
        if self.lockouts.is_empty() {
            return false;
        }
        active(&mut self.lockouts, &(ip, account.to_string()), now)
    }

    /// Records a wrong digest for `account` from `ip`: locks the account for that source, or
    /// bans the source, when their limits are reached.
    pub fn auth_failed(&mut self, now: Instant, ip: IpAddr, account: &str) {
        let window = self.config.auth_window;
        let per_account = bump(&mut self.auth_fails, (ip, account.to_string()), now, window);
        if self.config.auth_max_failures > 0 && per_account >= self.config.auth_max_failures {
            tracing::warn!(%ip, account, failures = per_account, lockout_secs = self.config.auth_lockout.as_secs(), "digest brute force: account locked for this source");
            put_until(
                &mut self.lockouts,
                (ip, account.to_string()),
                now + self.config.auth_lockout,
                now,
            );
            self.auth_fails.remove(&(ip, account.to_string()));
        }
        let per_source = bump(&mut self.source_fails, ip, now, window);
        if self.config.auth_source_max_failures > 0
            && per_source >= self.config.auth_source_max_failures
            && !self.config.ban.is_zero()
        {
            tracing::warn!(%ip, failures = per_source, "password guessing across accounts: source banned");
            put_until(&mut self.bans, ip, now + self.config.ban, now);
            self.source_fails.remove(&ip);
        }
    }

    /// Whether `ip` is banned now.
    pub fn is_banned(&mut self, now: Instant, ip: IpAddr) -> bool {
        active(&mut self.bans, &ip, now)
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
        let admitted = (0..5)
            .filter(|_| g.admit(t0, ip) == Admission::Admitted)
            .count();
        assert_eq!(admitted, 3);
        assert_eq!(
            g.admit(t0 + Duration::from_secs(1), ip),
            Admission::Admitted
        );
        assert!((0..100).all(|_| g.admit(t0, "127.0.0.1".parse().unwrap()) == Admission::Admitted));
    }

    #[test]
    fn a_flood_far_past_the_budget_bans_the_source_and_the_ban_runs_out() {
        let t0 = Instant::now();
        let mut g = AbuseGuard::new(AbuseConfig {
            budget_per_sec: 10,
            ban_after_excess: 5,
            ban: Duration::from_secs(60),
            ..AbuseConfig::default()
        });
        let flood: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let outcomes: Vec<Admission> = (0..20).map(|_| g.admit(t0, flood)).collect();
        assert_eq!(
            outcomes
                .iter()
                .filter(|a| **a == Admission::Admitted)
                .count(),
            10
        );
        assert_eq!(
            outcomes[14],
            Admission::RateLimited,
            "the 5th over budget bans"
        );
        assert_eq!(outcomes[15], Admission::Banned);
        // a new window does not lift the ban; another source is untouched
        assert_eq!(
            g.admit(t0 + Duration::from_secs(2), flood),
            Admission::Banned
        );
        assert_eq!(
            g.admit(t0 + Duration::from_secs(2), other),
            Admission::Admitted
        );
        assert_eq!(
            g.admit(t0 + Duration::from_secs(61), flood),
            Admission::Admitted
        );
    }

    #[test]
    fn wrong_digests_lock_one_account_for_one_source() {
        let t0 = Instant::now();
        let mut g = AbuseGuard::new(AbuseConfig {
            auth_max_failures: 3,
            auth_source_max_failures: 0,
            auth_lockout: Duration::from_secs(100),
            ..AbuseConfig::default()
        });
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        let agent: IpAddr = "192.0.2.50".parse().unwrap();
        for _ in 0..2 {
            g.auth_failed(t0, attacker, "1001");
        }
        assert!(!g.is_locked(t0, attacker, "1001"));
        g.auth_failed(t0, attacker, "1001");
        assert!(g.is_locked(t0, attacker, "1001"));
        // the real agent's phone elsewhere and another account are not locked
        assert!(!g.is_locked(t0, agent, "1001"));
        assert!(!g.is_locked(t0, attacker, "1002"));
        assert!(!g.is_locked(t0 + Duration::from_secs(100), attacker, "1001"));
    }

    #[test]
    fn guessing_across_accounts_bans_the_source() {
        let t0 = Instant::now();
        let mut g = AbuseGuard::new(AbuseConfig {
            auth_max_failures: 0,
            auth_source_max_failures: 4,
            ..AbuseConfig::default()
        });
        let scanner: IpAddr = "203.0.113.9".parse().unwrap();
        for ext in ["100", "101", "102"] {
            g.auth_failed(t0, scanner, ext);
        }
        assert!(!g.is_banned(t0, scanner));
        g.auth_failed(t0, scanner, "103");
        assert!(g.is_banned(t0, scanner));
        assert_eq!(g.admit(t0, scanner), Admission::Banned);
    }

    #[test]
    fn tables_stay_bounded_under_a_scan_from_many_addresses() {
        let t0 = Instant::now();
        let mut g = AbuseGuard::new(AbuseConfig::default());
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            g.admit(t0, ip);
            g.auth_failed(t0, ip, "1001");
        }
        assert!(g.windows.len() <= MAX_TRACKED);
        assert!(g.auth_fails.len() <= MAX_TRACKED);
        assert!(g.source_fails.len() <= MAX_TRACKED);
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
