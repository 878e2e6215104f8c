//! A customer directory in front of the IVR's backend (JO8). The IVR alone cannot tell a big
//! customer's number: `GrpcBackend::create_report` sends no customer class, and the core does
//! not look one up, so every IVR report is `ordinary`. This wrapper plays the missing
//! directory: a report on a listed number is created in the core with `customer_class = big`
//! (as the IVR's service account, channel `ivr`); the core escalates it, and the IVR's own
//! mapping of the core's answer (`grpc_backend::report_created`) sends the caller to a senior.
//! Everything else goes to the real backend.

use std::sync::Arc;

use async_trait::async_trait;
use hotline_ivr::backend::{BackendError, NewReport, NewVoicemail, ReportCreated, TicketState};
use hotline_ivr::{Backend, grpc_backend};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use tonic::transport::Channel;

use super::{IVR_ID, IVR_PASSWORD, authed};

pub struct DirectoryBackend {
    pub inner: Arc<dyn Backend>,
    pub grpc: Channel,
    /// Numbers of big customers.
    pub big: Vec<String>,
}

fn status(e: tonic::Status) -> BackendError {
    BackendError::Refused(e.to_string())
}

#[async_trait]
impl Backend for DirectoryBackend {
    async fn create_report(&self, report: &NewReport) -> Result<ReportCreated, BackendError> {
        if !self.big.contains(&report.faulty_number) {
            return self.inner.create_report(report).await;
        }
        let token = AgentServiceClient::new(self.grpc.clone())
            .login(pb::LoginRequest {
                agent_id: IVR_ID.into(),
                password: IVR_PASSWORD.into(),
            })
            .await
            .map_err(|e| BackendError::Login(e.to_string()))?
            .into_inner()
            .token;
        let resp = TicketServiceClient::new(self.grpc.clone())
            .create_ticket(authed(
                &token,
                pb::CreateTicketRequest {
                    faulty_number: report.faulty_number.clone(),
                    contact_number: report.caller_id.clone(),
                    customer_name: "大用户测试公司".into(),
                    customer_class: "big".into(),
                    fault_type: report.fault_type.as_str().into(),
                    channel: "ivr".into(),
                    ..Default::default()
                },
            ))
            .await
            .map_err(status)?
            .into_inner();
        grpc_backend::report_created(&resp)
    }

    async fn latest_ticket(&self, number: &str) -> Result<Option<TicketState>, BackendError> {
        self.inner.latest_ticket(number).await
    }

    async fn agents_available(&self) -> Result<bool, BackendError> {
        self.inner.agents_available().await
    }

    async fn save_voicemail(&self, voicemail: &NewVoicemail) -> Result<(), BackendError> {
        self.inner.save_voicemail(voicemail).await
    }
}
