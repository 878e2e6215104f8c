//! Agents and their sessions. Password hashing happens in the core; this stores the hash.

use crate::{Result, Store, StoreError};
use hotline_domain::role::Presence;
use hotline_domain::{Role, Timestamp};
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRecord {
    pub agent_id: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub presence: Presence,
    pub active: bool,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub agent_id: String,
    pub expires_at: Timestamp,
}

fn agent_row(r: &sqlx::any::AnyRow) -> Result<AgentRecord> {
    Ok(AgentRecord {
        agent_id: r.try_get("agent_id")?,
        name: r.try_get("name")?,
        role: crate::rows::parse("role", &r.try_get::<String, _>("role")?, Role::parse)?,
        password_hash: r.try_get("password_hash")?,
        presence: crate::rows::parse(
            "presence",
            &r.try_get::<String, _>("presence")?,
            Presence::parse,
        )?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

const AGENT_COLUMNS: &str =
    "SELECT agent_id, name, role, password_hash, presence, active, created_at FROM agents";

impl Store {
    pub async fn create_agent(&self, a: &AgentRecord) -> Result<()> {
        sqlx::query("INSERT INTO agents (agent_id, name, role, password_hash, presence, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(a.agent_id.as_str())
            .bind(a.name.as_str())
            .bind(a.role.as_str())
            .bind(a.password_hash.as_str())
            .bind(a.presence.as_str())
            .bind(i64::from(a.active))
            .bind(a.created_at.0)
            .execute(&self.pool)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!("agent {}", a.agent_id)),
                other => other,
            })?;
        Ok(())
    }

    pub async fn get_agent(&self, agent_id: &str) -> Result<AgentRecord> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AGENT_COLUMNS} WHERE agent_id = $1"
        )))
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("agent {agent_id}")))?;
        agent_row(&row)
    }

    pub async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AGENT_COLUMNS} ORDER BY agent_id"
        )))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(agent_row)
        .collect()
    }

    pub async fn count_agents(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM agents")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    pub async fn set_presence(&self, agent_id: &str, presence: Presence) -> Result<()> {
        let r = sqlx::query("UPDATE agents SET presence = $1 WHERE agent_id = $2")
            .bind(presence.as_str())
            .bind(agent_id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("agent {agent_id}")));
        }
        Ok(())
    }

    /// Replaces an agent's password hash and role (service accounts re-keyed at start-up).
    pub async fn rekey_agent(&self, agent_id: &str, role: Role, password_hash: &str) -> Result<()> {
        let r = sqlx::query(
            "UPDATE agents SET password_hash = $1, role = $2, active = 1 WHERE agent_id = $3",
        )
        .bind(password_hash)
        .bind(role.as_str())
        .bind(agent_id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("agent {agent_id}")));
        }
        Ok(())
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        agent_id: &str,
        expires_at: Timestamp,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, agent_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(agent_id)
            .bind(expires_at.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        let row = sqlx::query("SELECT agent_id, expires_at FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(SessionRecord {
                agent_id: r.try_get("agent_id")?,
                expires_at: Timestamp(r.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
