//! Leaf helpers the other modules share, so that none of them imports another for these:
//! where the API lives, the TMF error body, and the wall clock in milliseconds and RFC 3339.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Where the trouble-ticket API lives.
pub const BASE_PATH: &str = "/tmf-api/troubleTicketManagement/v4";

/// A TMF-style error answer.
pub fn error_response(status: StatusCode, code: &str, reason: impl Into<String>) -> Response {
    let reason = reason.into();
    let body = serde_json::json!({
        "code": code,
        "reason": reason,
        "message": reason,
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC with exactly three fraction digits, so that the strings sort like the times.
pub fn rfc3339(ms: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(FORMAT)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_milliseconds() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(rfc3339(1_700_000_000_140), "2023-11-14T22:13:20.140Z");
        assert!(rfc3339(1_700_000_000_999) < rfc3339(1_700_000_001_000));
        assert_eq!(
            rfc3339(i64::MAX),
            "1970-01-01T00:00:00.000Z",
            "out of range: no panic"
        );
    }
}
