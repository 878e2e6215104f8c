//! End to end over real gRPC (tonic client ↔ server on 127.0.0.1:0): an IVR-created ticket
//! through junior dispatch, senior review and urgent dispatch; the event feed; the deadline
//! scheduler; and the bad input the API must refuse. Runs on SQLite, and on PostgreSQL at
//! `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432).

use hotline_core::server::RunningCore;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{TestCore, authed};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request};

struct Clients {
    agents: AgentServiceClient<Channel>,
    tickets: TicketServiceClient<Channel>,
}

async fn clients(core: &RunningCore) -> Clients {
    let ch = Channel::from_shared(format!("http://{}", core.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Clients {
        agents: AgentServiceClient::new(ch.clone()),
        tickets: TicketServiceClient::new(ch),
    }
}

async fn login(c: &mut Clients, id: &str, pw: &str) -> String {
    c.agents
        .login(pb::LoginRequest {
            agent_id: id.into(),
            password: pw.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

/// Creates agents (password `<id>-password`) as the admin and logs each in; returns their tokens.
async fn staff<const N: usize>(
    c: &mut Clients,
    admin: &str,
    agents: [(&str, &str); N],
) -> [String; N] {
    let mut tokens = Vec::with_capacity(N);
    for (id, role) in agents {
        let password = format!("{id}-password");
        c.agents
            .create_agent(authed(
                admin,
                pb::CreateAgentRequest {
                    agent_id: id.into(),
                    name: id.into(),
                    role: role.into(),
                    password: password.clone(),
                },
            ))
            .await
            .unwrap();
        tokens.push(login(c, id, &password).await);
    }
    tokens
        .try_into()
        .unwrap_or_else(|_| unreachable!("one token per agent"))
}

fn ticket_req(number: &str, fault: &str, channel: &str, class: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        faulty_number: number.into(),
        fault_type: fault.into(),
        channel: channel.into(),
        customer_class: class.into(),
        customer_name: "赵六".into(),
        branch: "朝阳分公司".into(),
        description: "用户反映电话无音".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn ivr_ticket_through_junior_dispatch_senior_review_and_urgent_dispatch() {
    for tc in TestCore::backends("e2e").await {
        let url = tc.database_url().to_string();
        let core = tc.start().await;
        let mut c = clients(&core).await;
        let admin = core.admin.clone();
        let [ivr, j1, s1, _s2] = staff(
            &mut c,
            &admin,
            [
                ("ivr", "system"),
                ("j1", "junior"),
                ("s1", "senior"),
                ("s2", "senior"),
            ],
        )
        .await;

        // the senior's event feed
        let mut feed = c
            .agents
            .stream_events(authed(&s1, pb::StreamEventsRequest {}))
            .await
            .unwrap()
            .into_inner();

        // IVR-style creation
        let created = c
            .tickets
            .create_ticket(authed(
                &ivr,
                ticket_req("01087654321", "no_dial_tone", "ivr", ""),
            ))
            .await
            .unwrap()
            .into_inner();
        let t = created.ticket.unwrap();
        assert_eq!(
            (t.status.as_str(), t.channel.as_str(), t.created_by.as_str()),
            ("new", "ivr", "ivr"),
            "{url}"
        );
        assert_eq!(t.fault_type_label, "无音");
        assert_eq!(t.repair_limit_hours, 24);
        assert!(!created.repeat.unwrap().is_repeat);

        // junior dispatch waits for review (JO7)
        let r = c
            .tickets
            .dispatch_ticket(authed(
                &j1,
                pb::DispatchTicketRequest {
                    id: t.id,
                    note: "无音, 派测量台".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let order = r.order.unwrap();
        assert_eq!(
            (
                r.ticket.unwrap().status.as_str(),
                order.review.as_str(),
                order.delivery.as_str()
            ),
            ("awaiting_review", "pending", "not_sendable")
        );

        // the senior sees the review request on the feed
        let review_request = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(ev) = feed.next().await {
                if let Some(pb::event::Kind::ReviewRequested(rr)) = ev.unwrap().kind {
                    return rr;
                }
            }
            panic!("feed ended");
        })
        .await
        .expect("review request within 5 s");
        assert_eq!(review_request.order.unwrap().id, order.id);

        // the junior may not approve; the senior does (SO4)
        let e = c
            .tickets
            .review_order(authed(
                &j1,
                pb::ReviewOrderRequest {
                    ticket_id: t.id,
                    order_id: order.id,
                    approve: true,
                    note: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let r = c
            .tickets
            .review_order(authed(
                &s1,
                pb::ReviewOrderRequest {
                    ticket_id: t.id,
                    order_id: order.id,
                    approve: true,
                    note: "同意派单".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let after = r.ticket.unwrap();
        assert_eq!(after.status, "dispatched");
        assert_eq!(after.orders[0].delivery, "queued");
        assert!(
            after
                .deadlines
                .iter()
                .any(|d| d.kind == "dispatch" && d.met_at.is_some())
        );

        // a big customer goes to the senior queue and is dispatched at once, flagged urgent (JO8, SO2)
        let big = c
            .tickets
            .create_ticket(authed(
                &ivr,
                ticket_req("01011112222", "drops", "ivr", "big"),
            ))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        assert_eq!(big.status, "escalated");
        let e = c
            .tickets
            .dispatch_ticket(authed(
                &j1,
                pb::DispatchTicketRequest {
                    id: big.id,
                    note: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        c.tickets
            .mark_urgent(authed(
                &s1,
                pb::MarkUrgentRequest {
                    id: big.id,
                    reason: "大用户".into(),
                },
            ))
            .await
            .unwrap();
        let r = c
            .tickets
            .dispatch_ticket(authed(
                &s1,
                pb::DispatchTicketRequest {
                    id: big.id,
                    note: "加急".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let o = r.order.unwrap();
        assert!(
            o.urgent && o.review == "not_required" && o.delivery == "queued",
            "{o:?}"
        );

        // the history records who did what
        let h = c
            .tickets
            .get_ticket_history(authed(&s1, pb::GetTicketHistoryRequest { id: t.id }))
            .await
            .unwrap()
            .into_inner()
            .events;
        let seen: Vec<_> = h
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![("create", "ivr"), ("dispatch", "j1"), ("review", "s1")]
        );
        core.shutdown().await;
    }
}

#[tokio::test]
async fn bad_input_gets_the_right_code_and_changes_nothing() {
    for tc in TestCore::backends("e2e").await {
        let core = tc.start().await;
        let mut c = clients(&core).await;
        let admin = core.admin.clone();
        let [j1, s1, q1] = staff(
            &mut c,
            &admin,
            [("j1", "junior"), ("s1", "senior"), ("q1", "qa")],
        )
        .await;

        let cases: Vec<(pb::CreateTicketRequest, &str)> = vec![
            (ticket_req("", "noise", "phone", ""), "faulty_number"),
            (ticket_req("12", "noise", "phone", ""), "faulty_number"),
            (
                ticket_req("0108765x321", "noise", "phone", ""),
                "faulty_number",
            ),
            (ticket_req("01087654321", "fire", "phone", ""), "fault_type"),
            (ticket_req("01087654321", "noise", "pigeon", ""), "channel"),
            (
                ticket_req("01087654321", "noise", "phone", "platinum"),
                "customer_class",
            ),
            (
                pb::CreateTicketRequest {
                    description: "长".repeat(2001),
                    ..ticket_req("01087654321", "noise", "phone", "")
                },
                "description",
            ),
        ];
        for (req, field) in cases {
            let e = c.tickets.create_ticket(authed(&j1, req)).await.unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
            assert!(
                e.message().starts_with(field),
                "message names {field}: {}",
                e.message()
            );
        }
        let listed = c
            .tickets
            .list_tickets(authed(&j1, pb::ListTicketsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(
            listed.tickets.is_empty(),
            "nothing was created by bad input"
        );

        // no token, garbage token, role that may not register reports
        let e = c
            .tickets
            .create_ticket(Request::new(ticket_req(
                "01087654321",
                "noise",
                "phone",
                "",
            )))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let e = c
            .tickets
            .get_ticket(authed("not-a-token", pb::GetTicketRequest { id: 1 }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let e = c
            .tickets
            .create_ticket(authed(&q1, ticket_req("01087654321", "noise", "phone", "")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);

        let t = c
            .tickets
            .create_ticket(authed(&j1, ticket_req("01087654321", "noise", "phone", "")))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        // follow-up of a never-dispatched ticket
        let e = c
            .tickets
            .follow_up_ticket(authed(
                &j1,
                pb::FollowUpTicketRequest {
                    id: t.id,
                    note: "改时间".into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        // unknown ticket, bad id
        let e = c
            .tickets
            .get_ticket(authed(&j1, pb::GetTicketRequest { id: 999_999 }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = c
            .tickets
            .get_ticket(authed(&j1, pb::GetTicketRequest { id: -1 }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("id"));
        // a senior's own order (made while acting as reviewer) cannot be approved by them:
        c.tickets
            .dispatch_ticket(authed(
                &j1,
                pb::DispatchTicketRequest {
                    id: t.id,
                    note: String::new(),
                },
            ))
            .await
            .unwrap();
        let v = c
            .tickets
            .get_ticket(authed(&s1, pb::GetTicketRequest { id: t.id }))
            .await
            .unwrap()
            .into_inner();
        let order = v.orders[0].id;
        let e = c
            .tickets
            .review_order(authed(
                &s1,
                pb::ReviewOrderRequest {
                    ticket_id: t.id,
                    order_id: order + 100,
                    approve: true,
                    note: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        // reject → answered + callback; then closed; acting on a closed ticket is refused
        c.tickets
            .review_order(authed(
                &s1,
                pb::ReviewOrderRequest {
                    ticket_id: t.id,
                    order_id: order,
                    approve: false,
                    note: "无需派单, 已回访".into(),
                },
            ))
            .await
            .unwrap();
        // SO4: the rejection left a callback task for the desk; QA sees no tasks of that kind
        let tasks = c
            .tickets
            .list_tasks(authed(&j1, pb::ListTasksRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tasks;
        let cb = tasks
            .iter()
            .find(|k| k.ticket_id == t.id && k.kind == "callback")
            .expect("a callback task after the rejection")
            .clone();
        assert_eq!(cb.kind_label, "回访用户");
        let e = c
            .tickets
            .list_tasks(authed(
                &q1,
                pb::ListTasksRequest {
                    kind: "callback".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let e = c
            .tickets
            .list_tasks(authed(
                &j1,
                pb::ListTasksRequest {
                    kind: "laundry".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("kind"), "{e:?}");
        let e = c
            .tickets
            .complete_task(authed(
                &q1,
                pb::CompleteTaskRequest {
                    id: cb.id,
                    note: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let done = c
            .tickets
            .complete_task(authed(
                &j1,
                pb::CompleteTaskRequest {
                    id: cb.id,
                    note: "已电话回访用户，用户认可".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(done.done_at.is_some());
        // done once: a second agent is told
        let e = c
            .tickets
            .complete_task(authed(
                &s1,
                pb::CompleteTaskRequest {
                    id: cb.id,
                    note: "重复".into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        let open = c
            .tickets
            .list_tasks(authed(&j1, pb::ListTasksRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tasks;
        assert!(
            open.iter().all(|k| k.id != cb.id),
            "done tasks leave the open list"
        );
        let history = c
            .tickets
            .get_ticket_history(authed(&s1, pb::GetTicketHistoryRequest { id: t.id }))
            .await
            .unwrap()
            .into_inner()
            .events;
        assert!(
            history.iter().any(|h| h.action == "task_done:callback"),
            "completing a task is audited on the ticket"
        );
        c.tickets
            .close_ticket(authed(
                &s1,
                pb::CloseTicketRequest {
                    id: t.id,
                    note: "结案".into(),
                },
            ))
            .await
            .unwrap();
        let before = c
            .tickets
            .get_ticket(authed(&s1, pb::GetTicketRequest { id: t.id }))
            .await
            .unwrap()
            .into_inner();
        let e = c
            .tickets
            .add_note(authed(
                &s1,
                pb::AddNoteRequest {
                    id: t.id,
                    text: "x".into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition);
        assert!(e.message().contains("closed"), "{}", e.message());
        let after = c
            .tickets
            .get_ticket(authed(&s1, pb::GetTicketRequest { id: t.id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            before.version, after.version,
            "a refused action changes nothing"
        );
        // over-long note
        let e = c
            .tickets
            .add_note(authed(
                &j1,
                pb::AddNoteRequest {
                    id: t.id,
                    text: "x".repeat(2001),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("text"));
        // a stale token after logout
        c.agents
            .logout(authed(&j1, pb::LogoutRequest {}))
            .await
            .unwrap();
        let e = c
            .tickets
            .get_ticket(authed(&j1, pb::GetTicketRequest { id: t.id }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        // wrong password
        let e = c
            .agents
            .login(pb::LoginRequest {
                agent_id: "s1".into(),
                password: "wrong".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn te1_so2_scheduler_raises_alerts_on_the_feed_and_in_the_store() {
    for tc in TestCore::backends("e2e").await {
        let url = tc.database_url().to_string();
        let core = tc.start().await;
        let mut c = clients(&core).await;
        let admin = core.admin.clone();
        let [t1] = staff(&mut c, &admin, [("t1", "text_entry")]).await;
        let mut feed = c
            .agents
            .stream_events(authed(&admin, pb::StreamEventsRequest {}))
            .await
            .unwrap()
            .into_inner();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // a fax received 55 minutes ago: entry within 2 h is met, the dispatch deadline (1 h) is
        // past its 80 % warning, and escalation (2 h) is not yet due
        let mut req = ticket_req("02155556666", "noise", "fax", "");
        req.received_at = Some(prost_types::Timestamp {
            seconds: now - 55 * 60,
            nanos: 0,
        });
        let t = c
            .tickets
            .create_ticket(authed(&t1, req))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        let alert = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(ev) = feed.next().await {
                if let Some(pb::event::Kind::Alert(a)) = ev.unwrap().kind {
                    return a;
                }
            }
            panic!("feed ended");
        })
        .await
        .expect("alert within 5 s");
        assert_eq!(
            (
                alert.ticket_id,
                alert.deadline_kind.as_str(),
                alert.level.as_str()
            ),
            (t.id, "dispatch", "warning"),
            "{url}"
        );
        assert!(alert.message.contains("派单时限"), "{}", alert.message);
        let listed = c
            .tickets
            .list_alerts(authed(
                &admin,
                pb::ListAlertsRequest {
                    page_size: 10,
                    ticket_id: t.id,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.alerts.len(), 1, "raised once");
        let http = reqwest_metrics(core.http_addr).await;
        assert!(
            http.contains("hotline_deadline_alerts_total{kind=\"dispatch\",level=\"warning\"} 1"),
            "{http}"
        );
        core.shutdown().await;
    }
}

/// GET /metrics with a plain TCP request (no HTTP client dependency needed).
async fn reqwest_metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn jo8_an_ivr_report_inherits_the_customer_known_for_the_number() {
    for tc in TestCore::backends("e2e").await {
        let core = tc.start().await;
        let mut c = clients(&core).await;
        let admin = core.admin.clone();
        let [j1] = staff(&mut c, &admin, [("j1", "junior")]).await;
        // an agent once registered the number as a big customer's
        let first = c
            .tickets
            .create_ticket(authed(
                &j1,
                ticket_req("01088886666", "noise", "phone", "big"),
            ))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        assert_eq!(first.customer.as_ref().unwrap().class, "big");
        // the IVR knows only the number
        let ivr = c
            .tickets
            .create_ticket(authed(
                &admin,
                pb::CreateTicketRequest {
                    faulty_number: "010-8888-6666".into(),
                    fault_type: "no_dial_tone".into(),
                    channel: "ivr".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        let cust = ivr.customer.unwrap();
        assert_eq!(cust.class, "big");
        assert_eq!(cust.name, "赵六");
        // a big customer's report goes to the senior queue (JO8)
        assert_eq!(ivr.status, "escalated", "{:?}", ivr.status_label);
        // an unknown number stays an ordinary customer
        let other = c
            .tickets
            .create_ticket(authed(
                &admin,
                pb::CreateTicketRequest {
                    faulty_number: "01077775555".into(),
                    fault_type: "noise".into(),
                    channel: "ivr".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        assert_eq!(other.customer.unwrap().class, "ordinary");
        core.shutdown().await;
    }
}
