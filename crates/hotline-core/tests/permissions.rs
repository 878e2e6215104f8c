//! The permission matrix over real gRPC: every role × every method of the `hotline.v1`
//! services, generated from `hotline_domain::permissions::MATRIX` (a new method or role
//! changes the cases, a method the proto has but the matrix lacks fails the coverage test);
//! then the rules on rows and fields the handlers keep (a surveyor sees the customer contact
//! only on its worklist's tickets, the system account looks tickets up by number only, task
//! kinds per role). Runs on SQLite, and on PostgreSQL at `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432).

use hotline_domain::Role;
use hotline_domain::permissions::{self, Access, MATRIX, PUBLIC_SERVICES};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{StartedCore, TestCore, authed};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_prost::prost::Message;

async fn login(ch: &Channel, id: &str, pw: &str) -> String {
    AgentServiceClient::new(ch.clone())
        .login(pb::LoginRequest {
            agent_id: id.into(),
            password: pw.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

fn agent_id(role: Role) -> String {
    format!("p-{}", role.as_str().replace('_', "-"))
}

fn password(role: Role) -> String {
    format!("{}-password", agent_id(role))
}

/// One agent per role (the bootstrap admin is the admin), created by the admin and logged in.
async fn boot(tc: TestCore) -> (StartedCore, HashMap<Role, String>) {
    let mut tc = tc.with_config(|cfg| cfg.scheduler_max_sleep = Duration::from_millis(200));
    for role in Role::ALL {
        if role != Role::Admin {
            tc = tc.with_named_agent(&agent_id(role), role.label_zh(), role, &password(role));
        }
    }
    let core = tc.start().await;
    let mut tokens: HashMap<Role, String> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Admin)
        .map(|r| (r, core.token(&agent_id(r)).to_string()))
        .collect();
    tokens.insert(Role::Admin, core.admin.clone());
    (core, tokens)
}

/// Calls `path` with an empty message (the default, minimal request of every method) and
/// returns the initial status: a unary reply's, or a stream's headers (the stream is dropped).
async fn call(ch: &Channel, path: &str, token: Option<&str>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("not ready: {e}")))?;
    let req = match token {
        Some(t) => authed(t, ()),
        None => Request::new(()),
    };
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let pq = PathAndQuery::try_from(path.to_string()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        grpc.server_streaming(req, pq, codec),
    )
    .await
    .map_err(|_| Status::deadline_exceeded(format!("{path}: no initial status in 10 s")))?
    .map(|_stream| ())
}

/// Every `package.Service/Method` of the `hotline.v1` descriptor set served for reflection.
fn proto_methods() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(hotline_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut out = BTreeSet::new();
    for file in set.file {
        let package = file.package().to_string();
        for service in &file.service {
            for m in &service.method {
                out.insert(format!("{package}.{}/{}", service.name(), m.name()));
            }
        }
    }
    out
}

#[test]
fn the_matrix_lists_every_method_of_the_proto_and_no_other() {
    let proto = proto_methods();
    assert!(proto.len() > 30, "descriptor set read: {proto:?}");
    let matrix: BTreeSet<String> = MATRIX.iter().map(|r| r.method.to_string()).collect();
    let missing: Vec<_> = proto.difference(&matrix).collect();
    let extra: Vec<_> = matrix.difference(&proto).collect();
    assert!(
        missing.is_empty(),
        "methods in proto/ without a row in hotline_domain::permissions::MATRIX (they are refused for everyone until listed): {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "rows in the matrix for methods the proto does not have: {extra:?}"
    );
}

#[tokio::test]
async fn every_role_times_every_rpc_is_allowed_or_refused_as_the_matrix_says() {
    for tc in TestCore::backends("permissions").await {
        let url = tc.database_url().to_string();
        let (core, tokens) = boot(tc).await;
        let ch = core.channel.clone();
        let mut checked = 0;
        let mut failures = Vec::new();
        for rule in MATRIX {
            let path = format!("/{}", rule.method);
            if rule.access == Access::Anonymous {
                // Login needs no token; an empty request is invalid, not refused
                let r = call(&ch, &path, None).await;
                match r {
                    Err(s)
                        if matches!(s.code(), Code::PermissionDenied | Code::Unauthenticated) =>
                    {
                        failures.push(format!("{path} without a token: {s:?}"))
                    }
                    _ => {}
                }
                checked += 1;
                continue;
            }
            // without a token: UNAUTHENTICATED
            match call(&ch, &path, None).await {
                Err(s) if s.code() == Code::Unauthenticated => {}
                other => failures.push(format!("{path} without a token: {other:?}")),
            }
            for role in Role::ALL {
                // a minimal Logout ends the session: use a session of its own
                let fresh;
                let token = if rule.method.ends_with("/Logout") {
                    fresh = if role == Role::Admin {
                        login(&ch, "admin", "admin-secret").await
                    } else {
                        login(&ch, &agent_id(role), &password(role)).await
                    };
                    &fresh
                } else {
                    &tokens[&role]
                };
                let r = call(&ch, &path, Some(token)).await;
                checked += 1;
                if rule.allows(role) {
                    if let Err(s) = &r
                        && matches!(s.code(), Code::PermissionDenied | Code::Unauthenticated)
                    {
                        failures.push(format!(
                            "{path} as {role:?}: allowed by the matrix, got {s:?}"
                        ));
                    }
                } else {
                    match &r {
                        Err(s)
                            if s.code() == Code::PermissionDenied
                                && s.message().contains(rule.refusal)
                                && s.message().contains(role.as_str()) => {}
                        other => failures.push(format!(
                            "{path} as {role:?}: refused by the matrix ({:?}), got {other:?}",
                            rule.refusal
                        )),
                    }
                }
            }
        }
        // public services need no token; an unknown method is refused for everyone
        for service in PUBLIC_SERVICES {
            let method = if service.starts_with("grpc.health") {
                "Check"
            } else {
                "ServerReflectionInfo"
            };
            let r = call(&ch, &format!("/{service}/{method}"), None).await;
            assert!(r.is_ok(), "{service}/{method} without a token: {r:?}");
        }
        for role in Role::ALL {
            let e = call(
                &ch,
                "/hotline.v1.TicketService/PurgeTickets",
                Some(&tokens[&role]),
            )
            .await
            .unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied, "{role:?}: {e:?}");
            assert!(
                e.message().contains("not in the permission matrix"),
                "{e:?}"
            );
        }
        assert!(
            failures.is_empty(),
            "{url}: {} of {checked} cases differ from the matrix:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert_eq!(
            checked,
            MATRIX
                .iter()
                .map(|r| if r.access == Access::Anonymous {
                    1
                } else {
                    Role::ALL.len()
                })
                .sum::<usize>()
        );
        core.shutdown().await;
    }
}

fn ticket(number: &str, contact: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        faulty_number: number.into(),
        contact_number: contact.into(),
        fault_type: "noise".into(),
        channel: "phone".into(),
        customer_name: "钱七".into(),
        description: "杂音".into(),
        ..Default::default()
    }
}

/// SS2: a surveyor calls back the customers of its worklist (open survey tasks) and sees their
/// contact number there, on no other ticket, in GetTicket, ListTickets, action replies and the
/// event feed.
#[tokio::test]
async fn ss2_a_surveyor_sees_the_customer_contact_only_on_its_worklist() {
    for tc in TestCore::backends("permissions").await {
        let url = tc.database_url().to_string();
        let (core, tokens) = boot(tc).await;
        let ch = core.channel.clone();
        let (senior, surveyor) = (&tokens[&Role::Senior], &tokens[&Role::Surveyor]);
        let mut t = TicketServiceClient::new(ch.clone());
        let tc = t.clone();
        let token = senior.clone();
        let create = move |number: &'static str, contact: &'static str| {
            let mut t = tc.clone();
            let token = token.clone();
            async move {
                t.create_ticket(authed(&token, ticket(number, contact)))
                    .await
                    .unwrap()
                    .into_inner()
                    .ticket
                    .unwrap()
            }
        };
        // the live feed: a surveyor's carries no contact number, a junior's does
        let feed = |token: String| {
            let mut agents = AgentServiceClient::new(ch.clone());
            async move {
                agents
                    .stream_events(authed(&token, pb::StreamEventsRequest {}))
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        let mut surveyor_feed = feed(surveyor.clone()).await;
        let mut junior_feed = feed(tokens[&Role::Junior].clone()).await;
        let surveyed = create("01061110001", "13900000001").await;
        let other = create("01061110002", "13900000002").await;
        for (f, want) in [(&mut surveyor_feed, ""), (&mut junior_feed, "13900000002")] {
            let seen = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(ev) = f.message().await.unwrap() {
                    if let Some(pb::event::Kind::TicketChanged(c)) = ev.kind
                        && let Some(t) = c.ticket
                        && t.id == other.id
                    {
                        return t;
                    }
                }
                panic!("feed ended");
            })
            .await
            .expect("the creation on the feed within 5 s");
            assert_eq!(seen.contact_number, want, "{url}");
        }
        // dispatched and cleared: the 112 centre's 回单 leaves a survey task (SS2)
        t.dispatch_ticket(authed(
            senior,
            pb::DispatchTicketRequest {
                id: surveyed.id,
                note: "派测量台".into(),
            },
        ))
        .await
        .unwrap();
        t.clear_ticket(authed(
            senior,
            pb::ClearTicketRequest {
                id: surveyed.id,
                note: "已修复".into(),
            },
        ))
        .await
        .unwrap();
        let tasks = t
            .list_tasks(authed(surveyor, pb::ListTasksRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tasks;
        let task = tasks
            .iter()
            .find(|k| k.ticket_id == surveyed.id && k.kind == "survey")
            .expect("a survey task for the cleared ticket")
            .clone();

        let tc = t.clone();
        let get = move |who: String, id: i64| {
            let mut t = tc.clone();
            async move {
                t.get_ticket(authed(&who, pb::GetTicketRequest { id }))
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        assert_eq!(
            get(surveyor.clone(), surveyed.id).await.contact_number,
            "13900000001",
            "{url}"
        );
        assert_eq!(
            get(surveyor.clone(), other.id).await.contact_number,
            "",
            "{url}"
        );
        // everyone else at the desk sees it
        assert_eq!(
            get(senior.clone(), other.id).await.contact_number,
            "13900000002"
        );
        assert_eq!(
            get(tokens[&Role::Junior].clone(), other.id)
                .await
                .contact_number,
            "13900000002"
        );
        let listed: HashMap<i64, String> = t
            .list_tickets(authed(surveyor, pb::ListTicketsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tickets
            .into_iter()
            .map(|x| (x.id, x.contact_number))
            .collect();
        assert_eq!(listed[&surveyed.id], "13900000001");
        assert_eq!(listed[&other.id], "");
        // a surveyor's note on a ticket outside its worklist comes back without the contact
        let r = t
            .add_note(authed(
                surveyor,
                pb::AddNoteRequest {
                    id: other.id,
                    text: "用户投诉前已回访".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.ticket.unwrap().contact_number, "");
        // the survey done, the ticket leaves the worklist
        t.complete_task(authed(
            surveyor,
            pb::CompleteTaskRequest {
                id: task.id,
                note: "满意".into(),
            },
        ))
        .await
        .unwrap();
        assert_eq!(get(surveyor.clone(), surveyed.id).await.contact_number, "");
        core.shutdown().await;
    }
}

/// JO9: the IVR's account reads a number's latest tickets (without the customer's contact
/// number), and cannot browse them.
#[tokio::test]
async fn jo9_the_system_account_looks_tickets_up_by_number_only() {
    for tc in TestCore::backends("permissions").await {
        let url = tc.database_url().to_string();
        let (core, tokens) = boot(tc).await;
        let ch = core.channel.clone();
        let ivr = &tokens[&Role::System];
        let mut t = TicketServiceClient::new(ch.clone());
        for i in 0..7 {
            t.create_ticket(authed(
                ivr,
                ticket("01062220000", &format!("1390000000{i}")),
            ))
            .await
            .unwrap();
        }
        t.create_ticket(authed(ivr, ticket("01062229999", "")))
            .await
            .unwrap();
        let e = t
            .list_tickets(authed(ivr, pb::ListTicketsRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{url}: {e:?}");
        assert!(e.message().starts_with("faulty_number"), "{e:?}");
        let by_number = |page_size: i32| pb::ListTicketsRequest {
            faulty_number: "01062220000".into(),
            page_size,
            ..Default::default()
        };
        for page_size in [0, 100] {
            let list = t
                .list_tickets(authed(ivr, by_number(page_size)))
                .await
                .unwrap()
                .into_inner()
                .tickets;
            assert_eq!(
                list.len(),
                5,
                "at most 5 for the IVR (page_size {page_size})"
            );
            assert!(list.iter().all(|x| x.faulty_number == "01062220000"));
            // the IVR needs status and progress, not the customer's contact number
            assert!(list.iter().all(|x| x.contact_number.is_empty()), "{list:?}");
        }
        let one = t
            .list_tickets(authed(ivr, by_number(1)))
            .await
            .unwrap()
            .into_inner()
            .tickets;
        assert_eq!(one.len(), 1);
        let got = t
            .get_ticket(authed(ivr, pb::GetTicketRequest { id: one[0].id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((got.id, got.contact_number.as_str()), (one[0].id, ""));
        // a person lists as many as asked
        let list = t
            .list_tickets(authed(&tokens[&Role::Junior], by_number(100)))
            .await
            .unwrap()
            .into_inner()
            .tickets;
        assert_eq!(list.len(), 7);
        assert!(
            list.iter()
                .all(|x| x.contact_number.starts_with("1390000000"))
        );
        core.shutdown().await;
    }
}

/// SO4/SS2/TE3: past the matrix, each role lists and completes only the task kinds it works.
#[tokio::test]
async fn task_kinds_stay_with_the_role_that_works_them() {
    for tc in TestCore::backends("permissions").await {
        let url = tc.database_url().to_string();
        let (core, tokens) = boot(tc).await;
        let ch = core.channel.clone();
        let senior = &tokens[&Role::Senior];
        let mut t = TicketServiceClient::new(ch.clone());
        let created = t
            .create_ticket(authed(senior, ticket("01063330000", "13900000009")))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        t.dispatch_ticket(authed(
            senior,
            pb::DispatchTicketRequest {
                id: created.id,
                note: String::new(),
            },
        ))
        .await
        .unwrap();
        t.clear_ticket(authed(
            senior,
            pb::ClearTicketRequest {
                id: created.id,
                note: String::new(),
            },
        ))
        .await
        .unwrap();
        let survey = t
            .list_tasks(authed(
                &tokens[&Role::Surveyor],
                pb::ListTasksRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner()
            .tasks
            .into_iter()
            .find(|k| k.ticket_id == created.id)
            .expect("survey task");
        // the data manager passes the matrix (it works originals) but not this kind
        let dm = &tokens[&Role::DataManager];
        let e = t
            .list_tasks(authed(
                dm,
                pb::ListTasksRequest {
                    kind: "survey".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{url}: {e:?}");
        assert!(e.message().contains("see this kind of task"), "{e:?}");
        let e = t
            .complete_task(authed(
                dm,
                pb::CompleteTaskRequest {
                    id: survey.id,
                    note: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("complete this kind of task"), "{e:?}");
        let mine = t
            .list_tasks(authed(dm, pb::ListTasksRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tasks;
        assert!(mine.iter().all(|k| k.kind == "file_original"), "{mine:?}");
        core.shutdown().await;
    }
}

/// The matrix's refusal reaches the client as written in the table (English, with the role's
/// Chinese label).
#[tokio::test]
async fn jo7_so4_a_refusal_names_the_reason_and_the_role() {
    let (core, tokens) = boot(TestCore::sqlite()).await;
    let ch = core.channel.clone();
    let e = TicketServiceClient::new(ch.clone())
        .review_order(authed(
            &tokens[&Role::RecordingExtractor],
            pb::ReviewOrderRequest {
                ticket_id: 1,
                order_id: 1,
                approve: true,
                note: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(
        e.message(),
        permissions::authorize(
            Role::RecordingExtractor,
            "/hotline.v1.TicketService/ReviewOrder"
        )
        .unwrap_err()
        .to_string()
    );
    assert!(
        e.message()
            .contains("only seniors and admins review orders (JO7/SO4)")
    );
    assert!(e.message().contains("录音提取员"));
    core.shutdown().await;
}
