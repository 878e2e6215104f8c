//! Survey storage (SS1, SS2, SS4, SS5, SS6): an attempt is numbered after the stored ones and a
//! race on the number is refused, a survey's answer is stored once, the task closes with the
//! attempt that ends the survey, every callback is audited on its ticket. On SQLite and
//! PostgreSQL.

mod common;

use hotline_domain::rules::DeskRules;
use hotline_domain::survey::{
    CallOutcome, Consent, CustomerProfile, Education, InvestigationOutcome, Satisfaction,
    SurveySource,
};
use hotline_domain::ticket::NewTicket;
use hotline_domain::{Role, Timestamp};
use hotline_store::tickets::CreateRequest;
use hotline_store::{CallbackWrite, CallbackWritten, ResultWrite, Store};
use std::sync::Arc;

const T0: i64 = 1_780_000_000_000;

async fn a_ticket(store: &Store) -> i64 {
    let t = NewTicket {
        faulty_number: "01061110001".into(),
        fault_type: "noise".into(),
        channel: "phone".into(),
        customer_name: "王五".into(),
        branch: "东城".into(),
        ..Default::default()
    };
    store
        .create_ticket(CreateRequest {
            valid: t.validate(Timestamp(T0)).expect("valid"),
            actor: "s1".into(),
            role: Role::Senior,
            now: Timestamp(T0),
            rules: Arc::new(DeskRules::default()),
            report_branch: String::new(),
            call_id: String::new(),
        })
        .await
        .expect("ticket")
        .ticket
        .id
}

fn write<'a>(
    ticket_id: i64,
    task_id: Option<i64>,
    attempt: u32,
    result: Option<ResultWrite<'a>>,
    closes: bool,
) -> CallbackWrite<'a> {
    CallbackWrite {
        ticket_id,
        task_id,
        attempt,
        outcome: if result.is_some() {
            CallOutcome::Reached
        } else {
            CallOutcome::NotReached
        },
        comment: "",
        channel: "person",
        result,
        closes,
        audit_detail: "回访",
        actor: "sv1",
        role: Role::Surveyor,
        now: Timestamp(T0 + i64::from(attempt) * 1000),
    }
}

#[tokio::test]
async fn ss2_attempts_are_numbered_and_the_answer_is_stored_once() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let id = a_ticket(&store).await;
        // SS1: the first attempt opens the survey task
        let CallbackWritten::Done { task_id, .. } = store
            .record_callback(&write(id, None, 1, None, false))
            .await
            .unwrap()
        else {
            panic!("{}: first attempt not stored", db.name)
        };
        let st = store.survey_state(id).await.unwrap();
        assert_eq!(st.open_task.map(|t| t.0), Some(task_id), "{}", db.name);
        assert_eq!((st.attempts, st.results), (1, 0));
        // the same attempt number again, or a second SS1 start, lost a race
        assert_eq!(
            store
                .record_callback(&write(id, Some(task_id), 1, None, false))
                .await
                .unwrap(),
            CallbackWritten::Raced
        );
        assert_eq!(
            store
                .record_callback(&write(id, None, 1, None, false))
                .await
                .unwrap(),
            CallbackWritten::Raced
        );
        let profile = CustomerProfile {
            education: Some(Education::Secondary),
            ..Default::default()
        };
        let answer = || ResultWrite {
            source: SurveySource::Completed,
            satisfaction: Satisfaction::Dissatisfied,
            consent: Consent::Given,
            profile: &profile,
        };
        let done = store
            .record_callback(&write(id, Some(task_id), 2, Some(answer()), true))
            .await
            .unwrap();
        assert!(
            matches!(
                done,
                CallbackWritten::Done {
                    result_id: Some(_),
                    ..
                }
            ),
            "{done:?}"
        );
        assert_eq!(
            store
                .record_callback(&write(id, Some(task_id), 3, Some(answer()), true))
                .await
                .unwrap(),
            CallbackWritten::AlreadyRecorded
        );
        let st = store.survey_state(id).await.unwrap();
        assert_eq!((st.open_task, st.results), (None, 1));
        let results = store.survey_results(id).await.unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].profile, profile);
        assert_eq!(results[0].source, SurveySource::Completed);
        let history = store.history(id).await.unwrap();
        let callbacks = history
            .iter()
            .filter(|a| a.action.wire() == "survey_callback")
            .count();
        assert_eq!(
            callbacks, 2,
            "{}: one audit row per stored attempt",
            db.name
        );
        assert!(
            history
                .iter()
                .any(|a| a.action.wire() == "task_done:survey")
        );
        let facts = store
            .survey_facts(Timestamp(T0), Timestamp(T0 + 10_000))
            .await
            .unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(
            (facts[0].branch.as_str(), facts[0].fault_type.as_str()),
            ("东城", "noise")
        );
        let counts = store
            .survey_attempt_counts(Timestamp(T0), Timestamp(T0 + 10_000))
            .await
            .unwrap();
        assert_eq!(
            (counts.attempts, counts.not_reached, counts.unreachable),
            (2, 1, 0)
        );
        // SS4: a stored investigation is read back and audited on the ticket
        let inv = store
            .record_investigation(
                id,
                InvestigationOutcome::Apology,
                "已致歉",
                None,
                "sv1",
                Role::Surveyor,
                Timestamp(T0 + 5000),
            )
            .await
            .unwrap();
        assert_eq!(store.investigations(id).await.unwrap(), vec![inv]);
        assert!(
            store
                .history(id)
                .await
                .unwrap()
                .iter()
                .any(|a| a.action.wire() == "survey_investigation:apology")
        );
        store.close().await;
    }
}

#[tokio::test]
async fn ss2_a_callback_on_an_unknown_ticket_or_task_is_not_found() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let id = a_ticket(&store).await;
        let e = store
            .record_callback(&write(id + 100, None, 1, None, false))
            .await
            .unwrap_err();
        assert!(matches!(e, hotline_store::StoreError::NotFound(_)), "{e}");
        let e = store
            .record_callback(&write(id, Some(4242), 1, None, false))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("survey task 4242"), "{e}");
        assert!(store.survey_state(id).await.unwrap().open_task.is_none());
        store.close().await;
    }
}
