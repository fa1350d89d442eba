//! What any gRPC client can rely on: the standard health service and server
//! reflection (v1 and v1alpha, so grpcurl 1.8 works) on every server. Health answers
//! probes without a client certificate; reflection, like everything else, needs one.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_pki::Role;
use escrow_service::transport::Credentials;
use escrow_tests::*;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

async fn reflected_services_v1(addr: &str, server: Role, creds: &Credentials) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut c = ServerReflectionClient::new(escrow_service::transport::channel(addr, creds, server).unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = c.server_reflection_info(tokio_stream::iter(vec![req])).await?.into_inner();
    let resp = stream.message().await?.unwrap();
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => Ok(l.service.into_iter().map(|s| s.name).collect()),
        other => panic!("unexpected {other:?}"),
    }
}

async fn reflected_services_v1alpha(
    addr: &str,
    server: Role,
    creds: &Credentials,
) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let mut c = ServerReflectionClient::new(escrow_service::transport::channel(addr, creds, server).unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = c.server_reflection_info(tokio_stream::iter(vec![req])).await?.into_inner();
    let resp = stream.message().await?.unwrap();
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => Ok(l.service.into_iter().map(|s| s.name).collect()),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_on_every_server() {
    let d = deploy_plain(20).await;
    let anonymous = Credentials::anonymous(pki().trust().clone());
    for (addr, service, role) in [
        (d.trustees[0].server.addr.to_string(), "escrow.v1.Trustee", Role::Trustee),
        (d.relay.addr.to_string(), "escrow.v1.Relay", Role::Relay),
    ] {
        let mut h = HealthClient::new(escrow_service::transport::channel(&addr, &anonymous, role).unwrap());
        let st = h.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(st.status, ServingStatus::Serving as i32, "{service}");
        let unknown = h.check(HealthCheckRequest { service: "no.such.Service".into() }).await.unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
        let me = auditor_creds();
        for names in [
            reflected_services_v1(&addr, role, &me).await.unwrap(),
            reflected_services_v1alpha(&addr, role, &me).await.unwrap(),
        ] {
            assert!(names.iter().any(|n| n == service), "{names:?}");
            assert!(names.iter().any(|n| n == "grpc.health.v1.Health"), "{names:?}");
        }
        let refused = reflected_services_v1(&addr, role, &anonymous).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{}", refused.message());
    }
}
