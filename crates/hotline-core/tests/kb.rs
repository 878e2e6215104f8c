//! The knowledge base over gRPC (DM1-DM4, DM6, SO7), on SQLite and PostgreSQL: two-character
//! Chinese words and mixed queries find their articles, a senior's case from a ticket is
//! reviewed and published, a stale edit is refused with the current version, the index is
//! rebuilt from the database when it is deleted or stale, bad input is INVALID_ARGUMENT naming
//! the field and roles outside the matrix are PERMISSION_DENIED.

use hotline_domain::Role;
use hotline_proto::auth::BearerToken;
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_service_client::KnowledgeServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{ScratchDir, StartedCore, TestCore};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Kb = KnowledgeServiceClient<InterceptedService<Channel, BearerToken>>;

fn builder(tc: TestCore) -> TestCore {
    tc.with_agent("dm1", Role::DataManager, "dm1-password")
        .with_agent("s1", Role::Senior, "s1-password")
        .with_agent("j1", Role::Junior, "j1-password")
        .with_agent("sv1", Role::Surveyor, "sv1-password")
}

fn kb(core: &StartedCore, who: &str) -> Kb {
    core.client_as(core.token(who), KnowledgeServiceClient::with_interceptor)
}

fn content(title: &str, body: &str, fault: &str, tags: &[&str]) -> pb::ArticleContent {
    pb::ArticleContent {
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        fault_types: vec![fault.into()],
    }
}

/// Creates and publishes an article as the data manager; returns it.
async fn published(dm: &mut Kb, c: pb::ArticleContent) -> pb::Article {
    let a = dm
        .create_article(pb::CreateArticleRequest {
            content: Some(c),
            submit: false,
            note: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    dm.change_article_state(pb::ChangeArticleStateRequest {
        id: a.id,
        expected_version: a.version,
        action: "publish".into(),
        note: String::new(),
    })
    .await
    .expect("publish")
    .into_inner()
}

async fn search(c: &mut Kb, q: &str) -> Vec<pb::ArticleHit> {
    c.search_articles(pb::SearchArticlesRequest {
        query: q.into(),
        limit: 10,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("search {q}: {e}"))
    .into_inner()
    .hits
}

async fn corpus(dm: &mut Kb) -> Vec<i64> {
    let mut ids = Vec::new();
    for c in [
        content(
            "停电了怎么办",
            "小区突然停电时，先看电表空开是否跳闸，再拨 95598 报修。",
            "other",
            &["电力"],
        ),
        content(
            "电费与话费",
            "电费由供电公司收取，话费请到营业厅缴纳。",
            "other",
            &["账务"],
        ),
        content(
            "通话杂音",
            "通话中有杂音或串音，多为入户线受潮，派修线路。",
            "noise",
            &["线路"],
        ),
        content(
            "线路断线",
            "大风后电杆倒伏造成断线，联系抢修队。",
            "cable_damage",
            &["线路"],
        ),
        content(
            "宽带经常掉线",
            "ADSL 掉线时先重启光猫和路由器，再测线。",
            "drops",
            &["宽带"],
        ),
    ] {
        ids.push(published(dm, c).await.id);
    }
    ids
}

#[tokio::test]
async fn dm6_two_character_words_and_mixed_queries_find_their_articles() {
    for tc in TestCore::backends("kb-search").await {
        let core = builder(tc).start().await;
        let mut dm = kb(&core, "dm1");
        let ids = corpus(&mut dm).await;
        let mut j = kb(&core, "j1");
        for (q, want) in [
            ("停电", ids[0]),
            ("电费", ids[1]),
            ("杂音", ids[2]),
            ("断线", ids[3]),
            ("ADSL 掉线", ids[4]),
            ("95598", ids[0]),
        ] {
            let hits = search(&mut j, q).await;
            assert_eq!(hits.first().map(|h| h.id), Some(want), "{q}: {hits:?}");
        }
        // the body says 小区突然停电: the snippet highlights the word
        let hit = &search(&mut j, "停电").await[0];
        let s = hit.snippet.as_ref().expect("snippet");
        assert!(s.text.contains("小区突然停电"), "{s:?}");
        let r = &s.ranges[0];
        assert_eq!(&s.text[r.start as usize..r.end as usize], "停电");
        // filters
        let by_fault = j
            .search_articles(pb::SearchArticlesRequest {
                query: "线路 派修 断线".into(),
                fault_type: "noise".into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert_eq!(by_fault.iter().map(|h| h.id).collect::<Vec<_>>(), [ids[2]]);
        let by_tag = j
            .search_articles(pb::SearchArticlesRequest {
                query: "线路 断线 杂音".into(),
                tags: vec!["线路".into()],
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert_eq!(by_tag.len(), 2, "{by_tag:?}");
        // a draft is not offered to agents; the data manager finds it with include_unpublished
        let draft = dm
            .create_article(pb::CreateArticleRequest {
                content: Some(content("停电草稿", "尚未审核的停电说明", "other", &[])),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            search(&mut j, "停电")
                .await
                .iter()
                .all(|h| h.id != draft.id)
        );
        let all = dm
            .search_articles(pb::SearchArticlesRequest {
                query: "停电".into(),
                include_unpublished: true,
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert!(all.iter().any(|h| h.id == draft.id), "{all:?}");
        // the screen pop / ticket form: fault type and the text typed so far
        let sugg = j
            .suggest_articles(pb::SuggestArticlesRequest {
                fault_type: "drops".into(),
                text: String::new(),
                limit: 5,
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert_eq!(sugg.iter().map(|h| h.id).collect::<Vec<_>>(), [ids[4]]);
        let sugg = j
            .suggest_articles(pb::SuggestArticlesRequest {
                fault_type: "noise".into(),
                text: "用户说有串音".into(),
                limit: 5,
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert_eq!(sugg.first().map(|h| h.id), Some(ids[2]));
        let none = j
            .suggest_articles(pb::SuggestArticlesRequest {
                fault_type: String::new(),
                text: "，。！".into(),
                limit: 5,
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        assert!(none.is_empty(), "punctuation typed so far suggests nothing");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn so7_a_senior_submits_a_case_and_dm2_a_stale_edit_is_refused_with_the_current_version() {
    for tc in TestCore::backends("kb-so7").await {
        let core = builder(tc).start().await;
        let ticket = core
            .client_as(core.token("s1"), TicketServiceClient::with_interceptor)
            .create_ticket(pb::CreateTicketRequest {
                faulty_number: "01061110001".into(),
                fault_type: "noise".into(),
                channel: "phone".into(),
                customer_name: "王五".into(),
                description: "电话里有串音，换话机无效".into(),
                ..Default::default()
            })
            .await
            .expect("ticket")
            .into_inner()
            .ticket
            .expect("ticket")
            .id;
        let mut s = kb(&core, "s1");
        let case = s
            .submit_case(pb::SubmitCaseRequest {
                ticket_id: ticket,
                content: Some(content(
                    "串音疑难案例",
                    "换话机无效的串音：检查分线盒跳线。",
                    "crosstalk",
                    &["疑难"],
                )),
                note: "用户多次申告".into(),
            })
            .await
            .expect("a senior submits a case")
            .into_inner();
        assert_eq!(
            (case.state.as_str(), case.ticket_id, case.version),
            ("in_review", ticket, 1)
        );
        let mut j = kb(&core, "j1");
        assert!(
            search(&mut j, "串音").await.is_empty(),
            "in review: not offered yet"
        );
        // the data manager edits it; a second edit made on version 1 is stale
        let mut dm = kb(&core, "dm1");
        let edit = |v: i64, body: &str| pb::EditArticleRequest {
            id: case.id,
            expected_version: v,
            content: Some(content(
                "串音疑难案例",
                body,
                "crosstalk",
                &["疑难", "线路"],
            )),
            note: "审核修改".into(),
        };
        let v2 = dm
            .edit_article(edit(
                1,
                "换话机无效的串音：检查分线盒跳线，必要时更换入户线。",
            ))
            .await
            .expect("edit on the current version")
            .into_inner();
        assert_eq!(v2.version, 2);
        let stale = dm
            .edit_article(edit(1, "另一个人的修改"))
            .await
            .unwrap_err();
        assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
        assert!(
            stale.message().contains("version 2, not 1"),
            "{}",
            stale.message()
        );
        // publish on the current version; now agents find it
        let p = dm
            .change_article_state(pb::ChangeArticleStateRequest {
                id: case.id,
                expected_version: 2,
                action: "publish".into(),
                note: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((p.state.as_str(), p.version), ("published", 3));
        assert_eq!(search(&mut j, "串音").await[0].id, case.id);
        // who changed what, when; a diff between versions
        let d = j
            .get_article(pb::GetArticleRequest { id: case.id })
            .await
            .unwrap()
            .into_inner();
        let trail: Vec<_> = d
            .versions
            .iter()
            .map(|v| (v.version, v.change.as_str(), v.changed_by.as_str()))
            .collect();
        assert_eq!(
            trail,
            [
                (1, "create", "s1"),
                (2, "edit", "dm1"),
                (3, "publish", "dm1")
            ]
        );
        let diff = dm
            .diff_article(pb::DiffArticleRequest {
                id: case.id,
                from_version: 1,
                to_version: 2,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            diff.unified.contains("-换话机无效的串音：检查分线盒跳线。"),
            "{}",
            diff.unified
        );
        assert!(
            diff.unified
                .contains("+换话机无效的串音：检查分线盒跳线，必要时更换入户线。")
        );
        // retired: no longer offered
        dm.change_article_state(pb::ChangeArticleStateRequest {
            id: case.id,
            expected_version: 3,
            action: "retire".into(),
            note: String::new(),
        })
        .await
        .unwrap();
        assert!(search(&mut j, "串音").await.is_empty());
        // a case from a ticket that does not exist
        let missing = s
            .submit_case(pb::SubmitCaseRequest {
                ticket_id: 999_999,
                content: Some(content("x", "y", "other", &[])),
                note: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn dm6_the_index_is_rebuilt_from_the_database_when_deleted_or_stale() {
    // the database outlives each core (a TestCore's own SQLite file goes with its scratch dir)
    let keep = ScratchDir::new("kb-rebuild");
    let mut urls = vec![hotline_testkit::sqlite_url(keep.path(), "kb.db")];
    urls.extend(hotline_testkit::fresh_postgres().await);
    for (n, url) in urls.into_iter().enumerate() {
        let tc = TestCore::on(url.clone());
        let keep = keep.path().join(format!("backend-{n}"));
        let index = keep.join("index");
        let old = keep.join("index-old");
        // agents are created at each start, so each start has its own
        let with_index = |tc: TestCore, dir: std::path::PathBuf, k: u32| {
            tc.with_agent(&format!("dm{k}"), Role::DataManager, "dm-password")
                .with_agent(&format!("j{k}"), Role::Junior, "j-password")
                .with_config(move |c| c.kb_index_dir = Some(dir))
        };
        let core = with_index(tc, index.clone(), 1).start().await;
        let first = published(
            &mut kb(&core, "dm1"),
            content("停电", "小区突然停电", "other", &[]),
        )
        .await;
        core.shutdown().await;
        // keep a copy of the index as it is now (one article)
        copy_dir(&index, &old);

        // deleted: the next start rebuilds it from the database
        std::fs::remove_dir_all(&index).unwrap();
        let core = with_index(TestCore::on(url.clone()), index.clone(), 2)
            .start()
            .await;
        assert!(index.join("meta.json").exists());
        assert_eq!(search(&mut kb(&core, "j2"), "停电").await[0].id, first.id);
        let second = published(
            &mut kb(&core, "dm2"),
            content("杂音", "电话杂音大", "noise", &[]),
        )
        .await;
        core.shutdown().await;

        // stale: the copy misses the second article; the start catches up
        std::fs::remove_dir_all(&index).unwrap();
        copy_dir(&old, &index);
        let core = with_index(TestCore::on(url.clone()), index.clone(), 3)
            .start()
            .await;
        assert_eq!(search(&mut kb(&core, "j3"), "杂音").await[0].id, second.id);
        assert_eq!(search(&mut kb(&core, "j3"), "停电").await[0].id, first.id);
        core.shutdown().await;
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn dm6_bad_input_names_the_field_and_roles_outside_the_matrix_are_refused() {
    let core = builder(TestCore::sqlite()).start().await;
    let mut dm = kb(&core, "dm1");
    let field = |e: tonic::Status| {
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        e.message()
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let punct = dm
        .search_articles(pb::SearchArticlesRequest {
            query: "，。！？……".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(punct), "query");
    let empty_title = dm
        .create_article(pb::CreateArticleRequest {
            content: Some(content(" ", "正文", "other", &[])),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(empty_title), "title");
    let bad_fault = dm
        .create_article(pb::CreateArticleRequest {
            content: Some(content("标题", "正文", "power_cut", &[])),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(bad_fault), "fault_types");
    let no_version = dm
        .edit_article(pb::EditArticleRequest {
            id: 1,
            expected_version: 0,
            content: Some(content("标题", "正文", "other", &[])),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(field(no_version), "expected_version");
    let bad_action = dm
        .change_article_state(pb::ChangeArticleStateRequest {
            id: 1,
            expected_version: 1,
            action: "delete".into(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(field(bad_action), "action");
    let bad_scope = dm
        .tag_ticket(pb::TagTicketRequest {
            ticket_id: 1,
            scope: "caller".into(),
            tags: vec!["x".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(field(bad_scope), "scope");
    let long = dm
        .search_articles(pb::SearchArticlesRequest {
            query: "停电".repeat(101),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(long), "query");

    // the matrix: a junior may not write, a surveyor may not classify, a senior may not publish
    let denied = kb(&core, "j1")
        .create_article(pb::CreateArticleRequest {
            content: Some(content("标题", "正文", "other", &[])),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(
        denied.message().contains("data manager"),
        "{}",
        denied.message()
    );
    let denied = kb(&core, "sv1")
        .tag_ticket(pb::TagTicketRequest {
            ticket_id: 1,
            scope: "survey".into(),
            tags: vec!["满意".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = kb(&core, "s1")
        .change_article_state(pb::ChangeArticleStateRequest {
            id: 1,
            expected_version: 1,
            action: "publish".into(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    core.shutdown().await;
}

#[tokio::test]
async fn dm3_dm4_tickets_and_survey_results_are_tagged_and_counted() {
    for tc in TestCore::backends("kb-tags").await {
        let core = builder(tc).start().await;
        let mut tickets = core.client_as(core.token("s1"), TicketServiceClient::with_interceptor);
        let mut ids = Vec::new();
        for n in ["01061110001", "01061110002"] {
            ids.push(
                tickets
                    .create_ticket(pb::CreateTicketRequest {
                        faulty_number: n.into(),
                        fault_type: "no_dial_tone".into(),
                        channel: "phone".into(),
                        customer_name: "王五".into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .ticket
                    .unwrap()
                    .id,
            );
        }
        let mut dm = kb(&core, "dm1");
        let tag = |id: i64, scope: &str, tags: &[&str]| pb::TagTicketRequest {
            ticket_id: id,
            scope: scope.into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
        };
        let t = dm
            .tag_ticket(tag(ids[0], "ticket", &["停电", "大客户"]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(t.tags, ["停电", "大客户"]);
        dm.tag_ticket(tag(ids[1], "ticket", &["停电"]))
            .await
            .unwrap();
        dm.tag_ticket(tag(ids[1], "survey", &["不满意"]))
            .await
            .unwrap();
        let counts = dm
            .count_by_tag(pb::CountByTagRequest {
                scope: "ticket".into(),
                from: None,
                to: None,
            })
            .await
            .unwrap()
            .into_inner()
            .counts;
        let got: Vec<_> = counts.iter().map(|c| (c.tag.as_str(), c.tickets)).collect();
        assert_eq!(got, [("停电", 2), ("大客户", 1)]);
        let survey = dm
            .count_by_tag(pb::CountByTagRequest {
                scope: "survey".into(),
                from: None,
                to: None,
            })
            .await
            .unwrap()
            .into_inner()
            .counts;
        assert_eq!(survey.len(), 1);
        let missing = dm
            .tag_ticket(tag(999_999, "ticket", &["x"]))
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        core.shutdown().await;
    }
}
