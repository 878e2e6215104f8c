//! Quality inspection and assessments over gRPC (QA1, QA2, SO1, SO4), on SQLite and
//! PostgreSQL: a random sample is the same for the same seed, a ticket is never sampled twice
//! in a period, scoring on the form with every refusal (bad item, out of range, unknown kind,
//! re-score, other people's scores, roles outside the matrix), a senior's assessment of a
//! junior whose order they rejected with the evidence in the person summary, and a recording
//! round-trip (a hound-made WAV uploaded by the service account, linked to its ticket by the
//! Call-ID, played back byte-equal; an invalid WAV refused).

use hotline_domain::Role;
use hotline_domain::qa::{self as dq, Candidate};
use hotline_proto::auth::BearerToken;
use hotline_proto::v1 as pb;
use hotline_proto::v1::quality_service_client::QualityServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{StartedCore, TestCore};
use std::collections::BTreeSet;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Qa = QualityServiceClient<InterceptedService<Channel, BearerToken>>;
type Tickets = TicketServiceClient<InterceptedService<Channel, BearerToken>>;

const IVR: (&str, &str) = ("ivr", "ivr-secret-1");

fn builder(tc: TestCore) -> TestCore {
    tc.with_config(|c| c.service_account = Some((IVR.0.into(), IVR.1.into())))
        .with_agent("qa1", Role::Qa, "qa1-password")
        .with_agent("s1", Role::Senior, "s1-password")
        .with_agent("s2", Role::Senior, "s2-password")
        .with_agent("j1", Role::Junior, "j1-password")
        .with_agent("j2", Role::Junior, "j2-password")
        .with_agent("sv1", Role::Surveyor, "sv1-password")
}

fn qa(core: &StartedCore, who: &str) -> Qa {
    core.client_as(core.token(who), QualityServiceClient::with_interceptor)
}

fn tickets(core: &StartedCore, who: &str) -> Tickets {
    core.client_as(core.token(who), TicketServiceClient::with_interceptor)
}

async fn ticket(t: &mut Tickets, n: usize, call_id: &str) -> i64 {
    t.create_ticket(pb::CreateTicketRequest {
        faulty_number: format!("0106111{n:04}"),
        fault_type: "noise".into(),
        channel: "phone".into(),
        customer_name: "王五".into(),
        description: "电话里有杂音".into(),
        call_id: call_id.into(),
        ..Default::default()
    })
    .await
    .expect("ticket")
    .into_inner()
    .ticket
    .expect("ticket")
    .id
}

fn full(score: u32) -> std::collections::HashMap<String, u32> {
    dq::default_form()
        .into_iter()
        .map(|f| (f.key, score))
        .collect()
}

fn draw(kind: &str, per_agent: u32, seed: Option<u64>) -> pb::DrawSamplesRequest {
    pb::DrawSamplesRequest {
        kind: kind.into(),
        per_agent,
        seed,
        ..Default::default()
    }
}

fn assert_code<T: std::fmt::Debug>(r: Result<T, tonic::Status>, code: Code, needle: &str) {
    let e = r.expect_err("refused");
    assert_eq!(e.code(), code, "{e:?}");
    assert!(e.message().contains(needle), "{needle:?} not in {e:?}");
}

#[tokio::test]
async fn qa2_random_sample_same_for_same_seed() {
    let mut per_backend = Vec::new();
    for tc in TestCore::backends("qa-seed").await {
        let core = builder(tc).start().await;
        let mut cands = Vec::new();
        for (agent, n) in [("j1", 8), ("j2", 5)] {
            let mut t = tickets(&core, agent);
            for i in 0..n {
                let id = ticket(&mut t, cands.len() + i, "").await;
                cands.push(Candidate {
                    agent: agent.into(),
                    ticket_id: id,
                });
            }
        }
        // a senior's own tickets are sampled too; the surveyor cannot register any
        let mut q = qa(&core, "qa1");
        let d = q
            .draw_samples(draw("random", 3, Some(20261207)))
            .await
            .expect("draw")
            .into_inner();
        assert_eq!(d.seed, 20261207, "the seed used is returned");
        let got: Vec<(String, i64)> = d
            .samples
            .iter()
            .map(|s| (s.agent_id.clone(), s.ticket_id))
            .collect();
        // the domain's draw on the same data gives the same sample
        let want: Vec<(String, i64)> = dq::draw(20261207, &cands, &BTreeSet::new(), 3)
            .into_iter()
            .map(|c| (c.agent, c.ticket_id))
            .collect();
        assert_eq!(got, want);
        assert_eq!(got.len(), 6);
        assert!(
            d.samples
                .iter()
                .all(|s| s.seed == 20261207 && s.kind == "random")
        );
        // stored with the seed and the week
        let listed = q
            .list_samples(pb::ListSamplesRequest {
                period: d.period.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .samples;
        assert_eq!(listed.len(), 6);
        assert!(
            listed
                .iter()
                .all(|s| s.seed == 20261207 && s.period == d.period)
        );
        per_backend.push(got);
        core.shutdown().await;
    }
    // the same seed on the same data, on the other backend: the same sample
    assert!(
        per_backend.windows(2).all(|w| w[0] == w[1]),
        "{per_backend:?}"
    );
}

/// Draws of one period made at the same moment by two inspectors both succeed (the later one
/// draws again when the earlier took a ticket it picked) and never share a ticket.
#[tokio::test]
async fn qa2_concurrent_draws_all_succeed_without_sampling_a_ticket_twice() {
    for tc in TestCore::backends("qa-concurrent").await {
        let core = builder(tc)
            .with_agent("qa2", Role::Qa, "qa2-password")
            .start()
            .await;
        let mut t = tickets(&core, "j1");
        for i in 0..40 {
            ticket(&mut t, i, "").await;
        }
        let mut seen = BTreeSet::new();
        for round in 0..6u64 {
            let (mut a, mut b) = (qa(&core, "qa1"), qa(&core, "qa2"));
            let (x, y) = tokio::join!(
                a.draw_samples(draw("random", 3, Some(round))),
                b.draw_samples(draw("random", 3, Some(round))),
            );
            for d in [x, y] {
                let d = d
                    .unwrap_or_else(|e| panic!("round {round}: {e:?}"))
                    .into_inner();
                for s in &d.samples {
                    assert!(
                        seen.insert(s.ticket_id),
                        "ticket {} sampled twice",
                        s.ticket_id
                    );
                }
            }
        }
        assert_eq!(seen.len(), 36, "six rounds of two draws of three");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn qa2_a_ticket_is_never_sampled_twice_in_a_period() {
    for tc in TestCore::backends("qa-twice").await {
        let core = builder(tc).start().await;
        let mut t = tickets(&core, "j1");
        for i in 0..7 {
            ticket(&mut t, i, "").await;
        }
        let mut q = qa(&core, "qa1");
        let mut seen = BTreeSet::new();
        // the configured weekly quota (5) when per_agent is 0, then the rest, then nothing
        for (seed, want) in [(1, 5), (1, 2), (2, 0)] {
            let d = q
                .draw_samples(draw("scheduled", 0, Some(seed)))
                .await
                .expect("draw")
                .into_inner();
            assert_eq!(d.samples.len(), want, "seed {seed}");
            for s in &d.samples {
                assert!(
                    seen.insert(s.ticket_id),
                    "ticket {} sampled twice",
                    s.ticket_id
                );
                assert_eq!(s.agent_id, "j1");
            }
        }
        // a fresh seed is chosen and returned when none is given
        let d = q
            .draw_samples(draw("random", 1, None))
            .await
            .unwrap()
            .into_inner();
        assert!(d.samples.is_empty());
        let again = q
            .draw_samples(draw("random", 1, None))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(d.seed, again.seed, "fresh seeds differ");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn qa2_scoring_on_the_form_and_every_refusal() {
    for tc in TestCore::backends("qa-score").await {
        let core = builder(tc).start().await;
        let mut t = tickets(&core, "j1");
        ticket(&mut t, 1, "").await;
        ticket(&mut tickets(&core, "j2"), 2, "").await;
        let mut q = qa(&core, "qa1");
        // bad input to a draw names the field
        assert_code(
            q.draw_samples(draw("sometimes", 1, None)).await,
            Code::InvalidArgument,
            "kind",
        );
        assert_code(
            q.draw_samples(draw("assessment", 1, None)).await,
            Code::InvalidArgument,
            "OpenAssessment",
        );
        assert_code(
            q.draw_samples(pb::DrawSamplesRequest {
                kind: "random".into(),
                period: "2026-50".into(),
                ..Default::default()
            })
            .await,
            Code::InvalidArgument,
            "period",
        );
        // roles outside the matrix
        assert_code(
            qa(&core, "j1").draw_samples(draw("random", 1, None)).await,
            Code::PermissionDenied,
            "quality inspectors",
        );
        assert_code(
            qa(&core, "s1").draw_samples(draw("random", 1, None)).await,
            Code::PermissionDenied,
            "OpenAssessment",
        );
        assert_code(
            qa(&core, "j1")
                .list_samples(pb::ListSamplesRequest::default())
                .await,
            Code::PermissionDenied,
            "unannounced",
        );
        let d = q
            .draw_samples(draw("random", 1, Some(5)))
            .await
            .unwrap()
            .into_inner();
        let s1 = d.samples.iter().find(|s| s.agent_id == "j1").unwrap().id;
        let score = |items, comment: &str, reason: &str| pb::ScoreSampleRequest {
            sample_id: s1,
            items,
            comment: comment.into(),
            rescore_reason: reason.into(),
        };
        // bad sheets: out of range, unknown item, missing item
        let mut over = full(5);
        over.insert("greeting".into(), 11);
        assert_code(
            q.score_sample(score(over, "", "")).await,
            Code::InvalidArgument,
            "items: greeting",
        );
        let mut unknown = full(5);
        unknown.insert("smile".into(), 1);
        assert_code(
            q.score_sample(score(unknown, "", "")).await,
            Code::InvalidArgument,
            "unknown item \"smile\"",
        );
        let mut missing = full(5);
        missing.remove("courtesy");
        assert_code(
            q.score_sample(score(missing, "", "")).await,
            Code::InvalidArgument,
            "missing: courtesy",
        );
        assert_code(
            q.score_sample(pb::ScoreSampleRequest {
                sample_id: 9999,
                items: full(5),
                ..Default::default()
            })
            .await,
            Code::NotFound,
            "sample 9999",
        );
        assert_code(
            q.score_sample(score(full(5), "", "the first was wrong"))
                .await,
            Code::InvalidArgument,
            "rescore_reason",
        );
        // a senior does not score QA samples
        assert_code(
            qa(&core, "s1").score_sample(score(full(5), "", "")).await,
            Code::PermissionDenied,
            "may not score",
        );
        let mut sheet = full(10);
        sheet.insert("registration".into(), 5);
        let first = q
            .score_sample(score(sheet, "登记不全：缺联系电话", ""))
            .await
            .expect("score")
            .into_inner();
        // 100 - 25 × 5/10 = 87.5
        assert_eq!((first.total_centi, first.total), (8750, 87.5));
        assert_eq!(first.items.len(), 5);
        assert_eq!(first.items[0].label, "问候语");
        // twice: refused, unless an explicit re-score with a reason
        assert_code(
            q.score_sample(score(full(10), "", "")).await,
            Code::FailedPrecondition,
            "already scored",
        );
        let second = q
            .score_sample(score(
                full(10),
                "复核后改正",
                "the number was on the recording",
            ))
            .await
            .expect("re-score")
            .into_inner();
        assert_eq!(second.total_centi, 10000);
        let detail = q
            .get_sample(pb::GetSampleRequest { id: s1 })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(detail.sample.as_ref().unwrap().score_id, second.id);
        assert_eq!(detail.scores.len(), 2);
        assert!(detail.scores[0].superseded_at.is_some());
        assert!(detail.scores[1].superseded_at.is_none());
        assert_eq!(
            detail.ticket.as_ref().unwrap().id,
            detail.sample.unwrap().ticket_id
        );
        assert!(
            !detail.history.is_empty(),
            "the audit history comes with the sample"
        );
        assert!(detail.recording.is_none());
        // the agent sees their own scores (the one in force), not another's
        let mine = qa(&core, "j1")
            .list_scores(pb::ListScoresRequest::default())
            .await
            .expect("own scores")
            .into_inner()
            .scores;
        assert_eq!(mine.len(), 1);
        assert_eq!(
            (mine[0].total_centi, mine[0].comment.as_str()),
            (10000, "复核后改正")
        );
        assert_code(
            qa(&core, "j2")
                .list_scores(pb::ListScoresRequest {
                    agent_id: "j1".into(),
                    ..Default::default()
                })
                .await,
            Code::PermissionDenied,
            "another agent's scores",
        );
        assert_code(
            qa(&core, "sv1")
                .list_scores(pb::ListScoresRequest::default())
                .await,
            Code::PermissionDenied,
            "read QA scores",
        );
        // the inspector reads everyone's, with the superseded ones on request
        let all = q
            .list_scores(pb::ListScoresRequest {
                agent_id: "*".into(),
                include_superseded: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .scores;
        assert_eq!(all.len(), 2);
        let form = qa(&core, "j1")
            .get_form(pb::GetFormRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(form.items.len(), 5);
        assert_eq!(form.scheduled_per_agent, 5);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn so4_a_senior_assesses_the_junior_whose_order_they_rejected() {
    for tc in TestCore::backends("qa-so4").await {
        let core = builder(tc).start().await;
        let mut j = tickets(&core, "j1");
        let reviewed = ticket(&mut j, 1, "").await;
        let order = j
            .dispatch_ticket(pb::DispatchTicketRequest {
                id: reviewed,
                note: "派修".into(),
            })
            .await
            .expect("junior dispatch")
            .into_inner()
            .order
            .expect("order")
            .id;
        tickets(&core, "s1")
            .review_order(pb::ReviewOrderRequest {
                ticket_id: reviewed,
                order_id: order,
                approve: false,
                note: "故障类型选错".into(),
            })
            .await
            .expect("reject");
        let escalated = ticket(&mut j, 2, "").await;
        j.escalate_ticket(pb::EscalateTicketRequest {
            id: escalated,
            reason: "客户要求高级话务员".into(),
        })
        .await
        .expect("escalate");
        let untouched = ticket(&mut j, 3, "").await;

        let mut s1 = qa(&core, "s1");
        let open = |agent: &str, ticket_id| pb::OpenAssessmentRequest {
            agent_id: agent.into(),
            ticket_id,
        };
        // refusals: not reviewed, own work, not a junior, another role, unknown ticket
        assert_code(
            s1.open_assessment(open("j1", untouched)).await,
            Code::PermissionDenied,
            "has not reviewed",
        );
        assert_code(
            qa(&core, "s2").open_assessment(open("j1", reviewed)).await,
            Code::PermissionDenied,
            "s2 has not reviewed j1's work",
        );
        assert_code(
            s1.open_assessment(open("s1", reviewed)).await,
            Code::PermissionDenied,
            "their own work",
        );
        assert_code(
            s1.open_assessment(open("s2", reviewed)).await,
            Code::FailedPrecondition,
            "seniors assess juniors",
        );
        assert_code(
            qa(&core, "j2").open_assessment(open("j1", reviewed)).await,
            Code::PermissionDenied,
            "only seniors",
        );
        assert_code(
            s1.open_assessment(open("j1", 9999)).await,
            Code::NotFound,
            "9999",
        );
        let a = s1
            .open_assessment(open("j1", reviewed))
            .await
            .expect("assessment")
            .into_inner();
        assert_eq!(
            (a.kind.as_str(), a.opened_by.as_str()),
            ("assessment", "s1")
        );
        assert_code(
            s1.open_assessment(open("j1", reviewed)).await,
            Code::AlreadyExists,
            "assessment",
        );
        // the escalated ticket: s1 has not acted on it yet, then does
        assert_code(
            s1.open_assessment(open("j1", escalated)).await,
            Code::PermissionDenied,
            "has not reviewed",
        );
        tickets(&core, "s1")
            .add_note(pb::AddNoteRequest {
                id: escalated,
                text: "已联系客户".into(),
            })
            .await
            .expect("note");
        s1.open_assessment(open("j1", escalated))
            .await
            .expect("assessment of an escalation");
        // only the senior who opened it scores it (and sees it)
        let req = |items| pb::ScoreSampleRequest {
            sample_id: a.id,
            items,
            comment: "派单前核对故障类型".into(),
            rescore_reason: String::new(),
        };
        assert_code(
            qa(&core, "s2").score_sample(req(full(6))).await,
            Code::PermissionDenied,
            "opened by s1",
        );
        assert_code(
            qa(&core, "s2")
                .get_sample(pb::GetSampleRequest { id: a.id })
                .await,
            Code::PermissionDenied,
            "did not open",
        );
        let listed = s1
            .list_samples(pb::ListSamplesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .samples;
        assert_eq!(listed.len(), 2);
        assert!(
            qa(&core, "s2")
                .list_samples(pb::ListSamplesRequest::default())
                .await
                .unwrap()
                .into_inner()
                .samples
                .is_empty()
        );
        let sc = s1
            .score_sample(req(full(6)))
            .await
            .expect("score")
            .into_inner();
        assert_eq!(sc.total_centi, 6000);
        // seniors do not re-score
        assert_code(
            s1.score_sample(pb::ScoreSampleRequest {
                rescore_reason: "again".into(),
                ..req(full(7))
            })
            .await,
            Code::FailedPrecondition,
            "already scored",
        );
        // the evidence on j1's record
        let sum = s1
            .person_summary(pb::PersonSummaryRequest {
                agent_id: "j1".into(),
                ..Default::default()
            })
            .await
            .expect("summary")
            .into_inner();
        assert_eq!(
            (
                sum.reviews_passed,
                sum.reviews_rejected,
                sum.escalations,
                sum.no_answers,
                sum.scores,
                sum.average_score
            ),
            (0, 1, 1, 0, 1, Some(60.0))
        );
        let own = qa(&core, "j1")
            .person_summary(pb::PersonSummaryRequest::default())
            .await
            .expect("own summary")
            .into_inner();
        assert_eq!((own.agent_id.as_str(), own.reviews_rejected), ("j1", 1));
        assert_code(
            qa(&core, "j2")
                .person_summary(pb::PersonSummaryRequest {
                    agent_id: "j1".into(),
                    ..Default::default()
                })
                .await,
            Code::PermissionDenied,
            "another agent",
        );
        assert_code(
            s1.person_summary(pb::PersonSummaryRequest {
                agent_id: "nobody".into(),
                ..Default::default()
            })
            .await,
            Code::NotFound,
            "nobody",
        );
        core.shutdown().await;
    }
}

fn wav(seconds: u32) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
    for i in 0..(8000 * seconds) {
        let v = ((i as f32 * 0.05).sin() * 8000.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(-v).unwrap();
    }
    w.finalize().unwrap();
    buf.into_inner()
}

fn chunks(meta: pb::RecordingMeta, bytes: &[u8]) -> Vec<pb::RecordingChunk> {
    bytes
        .chunks(10_000)
        .enumerate()
        .map(|(i, c)| pb::RecordingChunk {
            meta: (i == 0).then(|| meta.clone()),
            data: c.to_vec(),
        })
        .collect()
}

#[tokio::test]
async fn qa1_recording_round_trip_linked_by_call_id() {
    for tc in TestCore::backends("qa-rec").await {
        let core = builder(tc).start().await;
        let call = "a84b4c76e66710@pc33.hotline.test";
        let id = ticket(&mut tickets(&core, "j1"), 1, call).await;
        let bytes = wav(3);
        let meta = pb::RecordingMeta {
            call_id: call.into(),
            agent_id: "j1".into(),
            ..Default::default()
        };
        let mut sys = qa(&core, IVR.0);
        let rec = sys
            .upload_recording(tokio_stream::iter(chunks(meta.clone(), &bytes)))
            .await
            .expect("upload")
            .into_inner();
        assert_eq!(rec.ticket_id, id, "linked through the ticket's Call-ID");
        assert_eq!(
            (rec.duration_ms, rec.channels, rec.sample_rate),
            (3000, 2, 8000)
        );
        assert_eq!(rec.size, bytes.len() as i64);
        // a second recording of the call, an invalid WAV, a truncated one, no meta, a person
        assert_code(
            sys.upload_recording(tokio_stream::iter(chunks(meta.clone(), &bytes)))
                .await,
            Code::AlreadyExists,
            call,
        );
        let other = pb::RecordingMeta {
            call_id: "other@h".into(),
            ..meta.clone()
        };
        assert_code(
            sys.upload_recording(tokio_stream::iter(chunks(
                other.clone(),
                b"RIFF\x10\0\0\0WAVEnot a wav at all",
            )))
            .await,
            Code::InvalidArgument,
            "data: not a valid WAV",
        );
        assert_code(
            sys.upload_recording(tokio_stream::iter(chunks(
                other.clone(),
                &bytes[..bytes.len() - 3001],
            )))
            .await,
            Code::InvalidArgument,
            "not a valid WAV",
        );
        assert_code(
            sys.upload_recording(tokio_stream::iter(vec![pb::RecordingChunk {
                meta: None,
                data: bytes.clone(),
            }]))
            .await,
            Code::InvalidArgument,
            "meta",
        );
        assert_code(
            sys.upload_recording(tokio_stream::iter(chunks(
                pb::RecordingMeta {
                    call_id: "bad id".into(),
                    ..meta.clone()
                },
                &bytes,
            )))
            .await,
            Code::InvalidArgument,
            "call_id",
        );
        assert_code(
            qa(&core, "qa1")
                .upload_recording(tokio_stream::iter(chunks(other, &bytes)))
                .await,
            Code::PermissionDenied,
            "service account",
        );
        // the sample brings the recording; it plays back byte for byte
        let mut q = qa(&core, "qa1");
        let d = q
            .draw_samples(draw("random", 1, Some(1)))
            .await
            .unwrap()
            .into_inner();
        let sample = d.samples[0].id;
        let detail = q
            .get_sample(pb::GetSampleRequest { id: sample })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(detail.recording.as_ref().map(|r| r.id), Some(rec.id));
        for req in [
            pb::PlayRecordingRequest {
                id: rec.id,
                sample_id: 0,
            },
            pb::PlayRecordingRequest {
                id: 0,
                sample_id: sample,
            },
        ] {
            let mut stream = q.play_recording(req).await.expect("play").into_inner();
            let mut got = Vec::new();
            while let Some(c) = stream.message().await.expect("chunk") {
                got.extend_from_slice(&c.data);
            }
            assert!(
                got == bytes,
                "played {} bytes, uploaded {}",
                got.len(),
                bytes.len()
            );
            let r = hound::WavReader::new(std::io::Cursor::new(&got)).expect("a WAV");
            assert_eq!(r.duration(), 3 * 8000, "the call's length");
        }
        assert_code(
            q.play_recording(pb::PlayRecordingRequest {
                id: 999,
                sample_id: 0,
            })
            .await,
            Code::NotFound,
            "recording 999",
        );
        assert_code(
            qa(&core, "j1")
                .play_recording(pb::PlayRecordingRequest {
                    id: rec.id,
                    sample_id: 0,
                })
                .await,
            Code::PermissionDenied,
            "play call recordings",
        );
        core.shutdown().await;
    }
}

/// QA1 retention: a recording older than `[qa] retention_days` loses its audio in the
/// retention pass (the row, its links and its metadata stay, playing it says why it is gone);
/// a younger one keeps it; a second pass removes nothing more. On SQLite and PostgreSQL.
#[tokio::test]
async fn qa1_recordings_past_their_retention_lose_the_audio_and_keep_the_row() {
    use hotline_core::clock::{Clock, ManualClock};
    use hotline_domain::Timestamp;
    use hotline_domain::time::DAY_MS;
    for tc in TestCore::backends("qa-retention").await {
        let start = hotline_core::clock::SystemClock.now().0;
        let clock = ManualClock::new(Timestamp(start));
        let core = builder(tc)
            .with_clock(std::sync::Arc::new(clock.clone()))
            .start()
            .await;
        let mut sys = qa(&core, IVR.0);
        let mut ids = Vec::new();
        for (call, age_days) in [("old@h", 20), ("new@h", 0)] {
            let meta = pb::RecordingMeta {
                call_id: call.into(),
                agent_id: "j1".into(),
                started_at: Some(prost_types::Timestamp {
                    seconds: (start - age_days * DAY_MS) / 1000,
                    nanos: 0,
                }),
                ..Default::default()
            };
            let r = sys
                .upload_recording(tokio_stream::iter(chunks(meta, &wav(1))))
                .await
                .expect("upload")
                .into_inner();
            ids.push(r.id);
        }
        let docs = hotline_docstore::FsStore::open(&core.intake_dir)
            .await
            .unwrap();
        let cfg = dq::QaConfig {
            retention_days: 30,
            ..Default::default()
        };
        let q = core.core.desk.quality(&docs, &cfg);
        clock.set(Timestamp(start + 9 * DAY_MS));
        assert_eq!(q.purge_recordings().await.unwrap(), 0, "not yet 30 days");
        clock.set(Timestamp(start + 11 * DAY_MS));
        assert_eq!(q.purge_recordings().await.unwrap(), 1, "the old one only");
        assert_eq!(q.purge_recordings().await.unwrap(), 0, "once");
        let old = core.core.desk.store.get_recording(ids[0]).await.unwrap();
        assert_eq!(old.purged_at, Some(Timestamp(start + 11 * DAY_MS)));
        assert_eq!((old.call_id.as_str(), old.duration_ms), ("old@h", 1000));
        let e = q.fetch_recording(ids[0]).await.unwrap_err();
        assert!(e.to_string().contains("retention"), "{e}");
        let (_, bytes) = q
            .fetch_recording(ids[1])
            .await
            .expect("the young one plays");
        assert_eq!(bytes, wav(1));
        core.shutdown().await;
    }
}
