//! The knowledge base's storage (DM1, DM2, DM3, DM4, SO7): versions kept whole, writes guarded
//! by version, the generation a search index follows, tags counted. On SQLite and PostgreSQL.

mod common;

use hotline_domain::kb::{ArticleAction, ArticleContent, ArticleState, TagScope};
use hotline_domain::rules::DeskRules;
use hotline_domain::ticket::NewTicket;
use hotline_domain::{FaultType, Role, Timestamp};
use hotline_store::tickets::CreateRequest;
use hotline_store::{ArticleWrite, NewArticle, StoreError, TagCount};
use std::sync::Arc;

const T0: i64 = 1_780_000_000_000;

fn content(title: &str, body: &str) -> ArticleContent {
    ArticleContent {
        title: title.into(),
        body: body.into(),
        tags: vec!["电力".into(), "小区".into()],
        fault_types: vec![FaultType::Other],
    }
}

async fn a_ticket(store: &hotline_store::Store) -> i64 {
    let t = NewTicket {
        faulty_number: "01061110001".into(),
        fault_type: "noise".into(),
        channel: "phone".into(),
        customer_name: "王五".into(),
        description: "电话有杂音".into(),
        ..Default::default()
    };
    let c = store
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
        .expect("ticket");
    c.ticket.id
}

#[tokio::test]
async fn dm2_versions_are_kept_and_a_stale_write_changes_nothing() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let g0 = store.kb_generation().await.unwrap();
        let ticket = a_ticket(&store).await;
        let a = store
            .create_article(
                &NewArticle {
                    content: content("停电", "小区突然停电"),
                    state: ArticleState::InReview,
                    ticket_id: Some(ticket),
                    note: "疑难案例".into(),
                },
                "s1",
                Timestamp(T0),
            )
            .await
            .unwrap();
        assert_eq!((a.version, a.ticket_id), (1, Some(ticket)), "{}", db.name);
        assert_eq!(a.generation, g0 + 1);
        let edited = store
            .edit_article(
                a.id,
                1,
                &content("停电处理", "小区突然停电：查电表"),
                "dm1",
                "补充",
                Timestamp(T0 + 1),
            )
            .await
            .unwrap();
        let ArticleWrite::Done(e) = edited else {
            panic!("{}: edit on the current version refused", db.name)
        };
        assert_eq!(
            (e.version, e.title.as_str(), e.updated_by.as_str()),
            (2, "停电处理", "dm1")
        );
        // a second editor who read version 1
        let stale = store
            .edit_article(a.id, 1, &content("x", "y"), "dm2", "", Timestamp(T0 + 2))
            .await
            .unwrap();
        assert_eq!(stale, ArticleWrite::Stale { current: 2 }, "{}", db.name);
        assert_eq!(store.get_article(a.id).await.unwrap().title, "停电处理");
        let published = store
            .set_article_state(
                a.id,
                2,
                ArticleState::Published,
                ArticleAction::Publish,
                "dm1",
                "",
                Timestamp(T0 + 3),
            )
            .await
            .unwrap();
        assert!(
            matches!(published, ArticleWrite::Done(ref p) if p.state == ArticleState::Published && p.version == 3)
        );
        let versions = store.article_versions(a.id).await.unwrap();
        let summary: Vec<_> = versions
            .iter()
            .map(|v| (v.version, v.change.as_str(), v.changed_by.as_str(), v.state))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "create", "s1", ArticleState::InReview),
                (2, "edit", "dm1", ArticleState::InReview),
                (3, "publish", "dm1", ArticleState::Published)
            ],
            "{}",
            db.name
        );
        assert_eq!(versions[0].body, "小区突然停电", "bodies are kept whole");
        assert_eq!(versions[1].tags, ["电力", "小区"]);
        // the generation a search index follows
        let g = store.kb_generation().await.unwrap();
        assert_eq!(g, g0 + 3);
        assert_eq!(store.articles_changed_since(g0).await.unwrap().len(), 1);
        assert!(store.articles_changed_since(g).await.unwrap().is_empty());
        assert_eq!(store.count_articles().await.unwrap(), 1);
        assert!(matches!(
            store
                .edit_article(999, 1, &content("x", "y"), "dm1", "", Timestamp(T0))
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store
                .create_article(
                    &NewArticle {
                        content: content("x", "y"),
                        state: ArticleState::InReview,
                        ticket_id: Some(999_999),
                        note: String::new(),
                    },
                    "s1",
                    Timestamp(T0),
                )
                .await,
            Err(StoreError::NotFound(_))
        ));
        store.close().await;
    }
}

#[tokio::test]
async fn dm3_dm4_tags_are_counted_by_scope_and_time() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let t1 = a_ticket(&store).await;
        let t2 = a_ticket(&store).await;
        let tags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            store
                .tag_ticket(
                    t1,
                    TagScope::Ticket,
                    &tags(&["停电", "大客户"]),
                    "dm1",
                    Timestamp(T0)
                )
                .await
                .unwrap(),
            ["停电", "大客户"],
            "code-point order"
        );
        // tagging twice keeps one row
        store
            .tag_ticket(
                t1,
                TagScope::Ticket,
                &tags(&["停电"]),
                "dm1",
                Timestamp(T0 + 5),
            )
            .await
            .unwrap();
        store
            .tag_ticket(
                t2,
                TagScope::Ticket,
                &tags(&["停电"]),
                "dm1",
                Timestamp(T0 + 10),
            )
            .await
            .unwrap();
        store
            .tag_ticket(
                t2,
                TagScope::Survey,
                &tags(&["满意"]),
                "sv1",
                Timestamp(T0 + 10),
            )
            .await
            .unwrap();
        let counts = store
            .count_by_tag(TagScope::Ticket, Timestamp(T0), Timestamp(T0 + 100))
            .await
            .unwrap();
        let c = |tag: &str, n| TagCount {
            tag: tag.into(),
            tickets: n,
        };
        assert_eq!(counts, [c("停电", 2), c("大客户", 1)], "{}", db.name);
        assert_eq!(
            store
                .count_by_tag(TagScope::Survey, Timestamp(T0), Timestamp(T0 + 100))
                .await
                .unwrap(),
            [c("满意", 1)]
        );
        assert_eq!(
            store
                .count_by_tag(TagScope::Ticket, Timestamp(T0 + 1), Timestamp(T0 + 100))
                .await
                .unwrap(),
            [c("停电", 1)],
            "the range is by tagging time"
        );
        assert!(matches!(
            store
                .tag_ticket(
                    999_999,
                    TagScope::Ticket,
                    &tags(&["x"]),
                    "dm1",
                    Timestamp(T0)
                )
                .await,
            Err(StoreError::NotFound(_))
        ));
        store.close().await;
    }
}
