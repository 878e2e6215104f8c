//! Generated code for the `hotline.v1` gRPC package. Only `hotline-core` (server) and clients
//! (the CLI, the IVR) use these types; protobuf stops at the gRPC layer. [`auth::BearerToken`]
//! is the one bearer-token interceptor of every client; [`session::ServiceSession`] is the
//! service account's session (log in, log in again on a refused token, time limit) that the
//! IVR, the SIP call server and the FastAGI server share.

pub mod auth;
pub mod session;

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("hotline.v1");
}

/// The encoded `FileDescriptorSet` of `hotline.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hotline_descriptor.bin"));
