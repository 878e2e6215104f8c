//! Agents and sessions: argon2 password hashes, opaque bearer tokens. The store keeps only the
//! SHA-256 of a token, so a leaked database holds no usable token; a cache spares the database
//! a read on every call.

use crate::clock::Clock;
use crate::error::CoreError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use hotline_domain::role::Presence;
use hotline_domain::time::HOUR_MS;
use hotline_domain::{Role, Timestamp, ValidationError};
use hotline_store::{AgentRecord, Store, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub agent_id: String,
    pub role: Role,
}

pub struct Auth {
    store: Store,
    clock: Arc<dyn Clock>,
    ttl_ms: i64,
    cache: RwLock<HashMap<String, (Principal, Timestamp)>>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn validate_agent_id(id: &str) -> Result<(), ValidationError> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(ValidationError::new(
            "agent_id",
            "must be 1-32 letters, digits, '_', '.' or '-'",
        ));
    }
    Ok(())
}

async fn hash_password(password: String) -> Result<String, CoreError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| CoreError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

impl Auth {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Auth {
            store,
            clock,
            ttl_ms: 12 * HOUR_MS,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Creates an agent. `by` is the calling admin (the permission matrix lets only admins
    /// call `CreateAgent`); `None` is the bootstrap path (config or `hotline admin`), which
    /// works only for the first agent or when explicitly requested.
    pub async fn create_agent(
        &self,
        by: Option<&Principal>,
        agent_id: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<AgentRecord, CoreError> {
        validate_agent_id(agent_id)?;
        let role = Role::parse(role).ok_or_else(|| {
            ValidationError::new("role", format!("unknown role {role:?}; expected one of junior, senior, text_entry, recording_extractor, surveyor, data_manager, qa, admin, system"))
        })?;
        if password.chars().count() < 8 {
            return Err(ValidationError::new("password", "must have at least 8 characters").into());
        }
        if name.chars().count() > 100 {
            return Err(ValidationError::new("name", "must have at most 100 characters").into());
        }
        let rec = AgentRecord {
            agent_id: agent_id.to_string(),
            name: name.to_string(),
            role,
            password_hash: hash_password(password.to_string()).await?,
            presence: Presence::LoggedOut,
            active: true,
            created_at: self.clock.now(),
        };
        self.store.create_agent(&rec).await?;
        tracing::info!(
            agent_id,
            role = role.as_str(),
            by = by.map(|p| p.agent_id.as_str()),
            "agent created"
        );
        Ok(rec)
    }

    /// Creates the `system`-role service account `agent_id` (the IVR's), or gives an existing
    /// one this password and the `system` role: the process that starts the core generates
    /// the password each run, so no long-lived secret for it sits on disk.
    pub async fn ensure_service_account(
        &self,
        agent_id: &str,
        password: &str,
    ) -> Result<(), CoreError> {
        match self.store.get_agent(agent_id).await {
            Ok(_) => {
                validate_agent_id(agent_id)?;
                if password.chars().count() < 8 {
                    return Err(ValidationError::new(
                        "password",
                        "must have at least 8 characters",
                    )
                    .into());
                }
                let hash = hash_password(password.to_string()).await?;
                self.store
                    .rekey_agent(agent_id, Role::System, &hash)
                    .await?;
                if let Ok(mut c) = self.cache.write() {
                    c.retain(|_, (p, _)| p.agent_id != agent_id);
                }
                tracing::info!(agent_id, "service account re-keyed");
            }
            Err(StoreError::NotFound(_)) => {
                self.create_agent(None, agent_id, "语音导航服务", "system", password)
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Checks the password and issues a token.
    pub async fn login(
        &self,
        agent_id: &str,
        password: &str,
    ) -> Result<(String, Timestamp, AgentRecord), CoreError> {
        let agent = match self.store.get_agent(agent_id).await {
            Ok(a) if a.active => a,
            Ok(_) | Err(StoreError::NotFound(_)) => {
                tracing::warn!(agent_id, "login refused: unknown or inactive agent");
                return Err(CoreError::BadCredentials);
            }
            Err(e) => return Err(e.into()),
        };
        if !verify_password(password.to_string(), agent.password_hash.clone()).await {
            tracing::warn!(agent_id, "login refused: wrong password");
            return Err(CoreError::BadCredentials);
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let expires = self.clock.now().plus_ms(self.ttl_ms);
        self.store
            .insert_session(&token_hash(&token), agent_id, expires)
            .await?;
        Ok((token, expires, agent))
    }

    pub async fn logout(&self, token: &str) -> Result<(), CoreError> {
        let h = token_hash(token);
        if let Ok(mut c) = self.cache.write() {
            c.remove(&h);
        }
        self.store.delete_session(&h).await?;
        Ok(())
    }

    /// Resolves a bearer token to the calling agent.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, CoreError> {
        let h = token_hash(token);
        let now = self.clock.now();
        let cached = self.cache.read().ok().and_then(|c| c.get(&h).cloned());
        if let Some((p, exp)) = cached {
            if exp > now {
                return Ok(p);
            }
            return Err(CoreError::SessionExpired);
        }
        let s = self
            .store
            .get_session(&h)
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        if s.expires_at <= now {
            return Err(CoreError::SessionExpired);
        }
        let agent = self.store.get_agent(&s.agent_id).await?;
        if !agent.active {
            return Err(CoreError::Unauthenticated);
        }
        let p = Principal {
            agent_id: agent.agent_id,
            role: agent.role,
        };
        if let Ok(mut c) = self.cache.write() {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(h, (p.clone(), s.expires_at));
        }
        Ok(p)
    }

    pub async fn set_presence(
        &self,
        who: &Principal,
        presence: Presence,
    ) -> Result<AgentRecord, CoreError> {
        self.store.set_presence(&who.agent_id, presence).await?;
        Ok(self.store.get_agent(&who.agent_id).await?)
    }
}
