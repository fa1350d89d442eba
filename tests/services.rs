//! What any gRPC client can rely on: the standard health service and server
//! reflection (v1 and v1alpha, so grpcurl 1.8 works) on every server.

use escrow_tests::*;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

async fn reflected_services_v1(addr: &str) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut c = ServerReflectionClient::new(escrow_service::transport::channel(addr).unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = c.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

async fn reflected_services_v1alpha(addr: &str) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let mut c = ServerReflectionClient::new(escrow_service::transport::channel(addr).unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = c.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_on_every_server() {
    let d = Deployment::start(20, |_| String::new()).await;
    for (addr, service) in
        [(d.trustees[0].server.addr.to_string(), "escrow.v1.Trustee"), (d.relay.addr.to_string(), "escrow.v1.Relay")]
    {
        let mut h = HealthClient::new(escrow_service::transport::channel(&addr).unwrap());
        let st = h.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(st.status, ServingStatus::Serving as i32, "{service}");
        let unknown = h.check(HealthCheckRequest { service: "no.such.Service".into() }).await.unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
        for names in [reflected_services_v1(&addr).await, reflected_services_v1alpha(&addr).await] {
            assert!(names.iter().any(|n| n == service), "{names:?}");
            assert!(names.iter().any(|n| n == "grpc.health.v1.Health"), "{names:?}");
        }
    }
}
