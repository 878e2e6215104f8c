//! Voicemail messages (SF9, RE1): stored by the IVR, claimed by one recording extractor at a
//! time (the claim is a conditional update, so two extractors never get the same message),
//! then converted into a ticket or escalated to a senior.

use crate::rows::parse;
use crate::{Result, Store, StoreError};
use hotline_domain::named::named_enum;
use hotline_domain::{TicketId, Timestamp};
use sqlx::Row;

named_enum!(
    /// Where a voicemail message is in its life: the database's `voicemails.state` and the
    /// API's `Voicemail.state`.
    VoicemailState {
        /// Registered by the IVR, not yet claimed.
        New = "new", "新留言";
        /// Held by one recording extractor.
        Claimed = "claimed", "处理中";
        /// Turned into a `voicemail`-channel ticket.
        Converted = "converted", "已转工单";
        /// Handed to a senior.
        Escalated = "escalated", "已转高级话务员";
    }
);

/// How a claimed message ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Converted into this ticket.
    Converted(TicketId),
    /// Escalated to a senior.
    Escalated,
}

impl Finish {
    pub fn state(self) -> VoicemailState {
        match self {
            Finish::Converted(_) => VoicemailState::Converted,
            Finish::Escalated => VoicemailState::Escalated,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoicemailRecord {
    pub id: i64,
    pub call_id: String,
    pub caller_id: String,
    pub number_entered: String,
    /// File name inside the voicemail directory.
    pub file_name: String,
    pub duration_ms: i64,
    pub received_at: Timestamp,
    pub state: VoicemailState,
    pub claimed_by: Option<String>,
    pub ticket_id: Option<TicketId>,
    pub note: String,
}

#[derive(Clone, Debug)]
pub struct NewVoicemail {
    pub call_id: String,
    pub caller_id: String,
    pub number_entered: String,
    pub file_name: String,
    pub duration_ms: i64,
    pub received_at: Timestamp,
}

const COLUMNS: &str = "SELECT id, call_id, caller_id, number_entered, file_name, duration_ms, received_at, state, claimed_by, ticket_id, note FROM voicemails";

fn row(r: &sqlx::any::AnyRow) -> Result<VoicemailRecord> {
    Ok(VoicemailRecord {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        caller_id: r.try_get("caller_id")?,
        number_entered: r.try_get("number_entered")?,
        file_name: r.try_get("file_name")?,
        duration_ms: r.try_get("duration_ms")?,
        received_at: Timestamp(r.try_get("received_at")?),
        state: parse(
            "voicemail state",
            &r.try_get::<String, _>("state")?,
            VoicemailState::parse,
        )?,
        claimed_by: r.try_get("claimed_by")?,
        ticket_id: r.try_get("ticket_id")?,
        note: r.try_get("note")?,
    })
}

impl Store {
    /// Stores a message's metadata; the same call id twice returns the first record (the IVR
    /// may retry after a lost reply, or re-register a recording found after a crash).
    pub async fn create_voicemail(&self, v: &NewVoicemail) -> Result<VoicemailRecord> {
        let inserted = sqlx::query("INSERT INTO voicemails (call_id, caller_id, number_entered, file_name, duration_ms, received_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (call_id) DO NOTHING")
            .bind(v.call_id.as_str())
            .bind(v.caller_id.as_str())
            .bind(v.number_entered.as_str())
            .bind(v.file_name.as_str())
            .bind(v.duration_ms)
            .bind(v.received_at.0)
            .bind(v.received_at.0)
            .execute(&self.pool)
            .await?;
        let rec = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE call_id = $1")))
            .bind(v.call_id.as_str())
            .fetch_one(&self.pool)
            .await?;
        if inserted.rows_affected() == 1 {
            tracing::info!(call_id = %v.call_id, "voicemail stored");
        }
        row(&rec)
    }

    pub async fn get_voicemail(&self, id: i64) -> Result<VoicemailRecord> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("voicemail {id}")))?;
        row(&r)
    }

    /// Messages in a state (`None` = any), oldest first.
    pub async fn list_voicemails(
        &self,
        state: Option<VoicemailState>,
        limit: u32,
    ) -> Result<Vec<VoicemailRecord>> {
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = if let Some(state) = state {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} WHERE state = $1 ORDER BY id LIMIT $2"
            )))
            .bind(state.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
        } else {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} ORDER BY id LIMIT $1"
            )))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
        };
        rows.iter().map(row).collect()
    }

    /// Claims a new message for `agent`. `Ok(None)` when someone else has it already.
    pub async fn claim_voicemail(
        &self,
        id: i64,
        agent: &str,
        now: Timestamp,
    ) -> Result<Option<VoicemailRecord>> {
        let done = sqlx::query("UPDATE voicemails SET state = $1, claimed_by = $2, claimed_at = $3, updated_at = $4 WHERE id = $5 AND state = $6")
            .bind(VoicemailState::Claimed.as_str())
            .bind(agent)
            .bind(now.0)
            .bind(now.0)
            .bind(id)
            .bind(VoicemailState::New.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            self.get_voicemail(id).await?; // NotFound if it does not exist
            return Ok(None);
        }
        Ok(Some(self.get_voicemail(id).await?))
    }

    /// Moves a message claimed by `agent` to `converted` (with its ticket) or `escalated`.
    /// `Ok(false)` when the message is not claimed by `agent`.
    pub async fn finish_voicemail(
        &self,
        id: i64,
        agent: &str,
        how: Finish,
        note: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let ticket = match how {
            Finish::Converted(t) => Some(t),
            Finish::Escalated => None,
        };
        let done = sqlx::query("UPDATE voicemails SET state = $1, ticket_id = $2, note = $3, updated_at = $4 WHERE id = $5 AND state = $6 AND claimed_by = $7")
            .bind(how.state().as_str())
            .bind(ticket)
            .bind(note)
            .bind(now.0)
            .bind(id)
            .bind(VoicemailState::Claimed.as_str())
            .bind(agent)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::VoicemailState;

    #[test]
    fn voicemail_states_keep_their_database_names_and_labels() {
        let named: Vec<_> = VoicemailState::ALL
            .iter()
            .map(|s| (s.as_str(), s.label_zh()))
            .collect();
        assert_eq!(
            named,
            [
                ("new", "新留言"),
                ("claimed", "处理中"),
                ("converted", "已转工单"),
                ("escalated", "已转高级话务员")
            ]
        );
        assert_eq!(VoicemailState::parse("Claimed"), None);
    }
}
