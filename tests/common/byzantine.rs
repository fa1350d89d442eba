//! A byzantine trustee: a real gRPC server that forwards every call to an honest
//! trustee and corrupts what it returns: the decryption shares (S_i becomes 2·S_i,
//! still a valid subgroup point, so only share verification can catch it) and the
//! extraction shares of day keys (d_i becomes 2·d_i), or the witnessed approval that
//! must come with them.

use blsttc::blstrs::{G1Affine, G1Projective, G2Affine, G2Projective};
use blsttc::group::Curve;
use escrow_proto::v1 as pb;
use pb::trustee_client::TrusteeClient;
use pb::trustee_server::{Trustee, TrusteeServer};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use escrow_kit::Node;

/// What the proxy does to share answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Doubles every share.
    Shares,
    /// Drops the witnessed approval: shares released off the witnessed log.
    DropWitness,
    /// Keeps the proof but points the approval at the receipt (as if approved by
    /// policy when it was not).
    FakeApproval,
}

#[derive(Debug)]
pub struct Byzantine {
    honest: TrusteeClient<Channel>,
    lie: Lie,
}

/// An extraction share's d_i (G2, after header, epoch and index) doubled.
fn corrupt_extraction(share: &[u8]) -> Vec<u8> {
    let mut out = share.to_vec();
    let point: [u8; 96] = share[13..109].try_into().unwrap();
    let p = G2Affine::from_compressed(&point).unwrap();
    let doubled = (G2Projective::from(p) + G2Projective::from(p)).to_affine();
    out[13..109].copy_from_slice(&doubled.to_compressed());
    out
}

fn corrupt(share: &[u8]) -> Vec<u8> {
    let mut out = share.to_vec();
    let point: [u8; 48] = share[13..61].try_into().unwrap();
    let p = G1Affine::from_compressed(&point).unwrap();
    let doubled = (G1Projective::from(p) + G1Projective::from(p)).to_affine();
    out[13..61].copy_from_slice(&doubled.to_compressed());
    out
}

#[tonic::async_trait]
impl Trustee for Byzantine {
    async fn get_info(&self, r: Request<pb::GetInfoRequest>) -> Result<Response<pb::TrusteeInfo>, Status> {
        self.honest.clone().get_info(r.into_inner()).await
    }
    async fn submit_warrant(
        &self,
        r: Request<pb::SubmitWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        self.honest.clone().submit_warrant(r.into_inner()).await
    }
    async fn get_warrant(&self, r: Request<pb::GetWarrantRequest>) -> Result<Response<pb::WarrantStatus>, Status> {
        self.honest.clone().get_warrant(r.into_inner()).await
    }
    async fn list_warrants(
        &self,
        r: Request<pb::ListWarrantsRequest>,
    ) -> Result<Response<pb::ListWarrantsResponse>, Status> {
        self.honest.clone().list_warrants(r.into_inner()).await
    }
    async fn approve_warrant(
        &self,
        r: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        self.honest.clone().approve_warrant(r.into_inner()).await
    }
    async fn deny_warrant(&self, r: Request<pb::DecideWarrantRequest>) -> Result<Response<pb::WarrantStatus>, Status> {
        self.honest.clone().deny_warrant(r.into_inner()).await
    }
    async fn revoke_warrant(
        &self,
        r: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        self.honest.clone().revoke_warrant(r.into_inner()).await
    }
    async fn request_shares(
        &self,
        r: Request<pb::RequestSharesRequest>,
    ) -> Result<Response<pb::RequestSharesResponse>, Status> {
        let mut resp = self.honest.clone().request_shares(r.into_inner()).await?.into_inner();
        match self.lie {
            Lie::Shares => resp.shares = resp.shares.iter().map(|s| corrupt(s)).collect(),
            Lie::DropWitness => resp.witnessed = None,
            Lie::FakeApproval => {
                if let Some(w) = resp.witnessed.as_mut() {
                    w.approval = w.receipt.clone();
                }
            }
        }
        Ok(Response::new(resp))
    }
    async fn extract_day_keys(
        &self,
        r: Request<pb::ExtractDayKeysRequest>,
    ) -> Result<Response<pb::ExtractDayKeysResponse>, Status> {
        let mut resp = self.honest.clone().extract_day_keys(r.into_inner()).await?.into_inner();
        match self.lie {
            Lie::Shares => resp.shares = resp.shares.iter().map(|s| corrupt_extraction(s)).collect(),
            Lie::DropWitness => resp.witnessed = None,
            Lie::FakeApproval => {
                if let Some(w) = resp.witnessed.as_mut() {
                    w.approval = w.receipt.clone();
                }
            }
        }
        Ok(Response::new(resp))
    }
}

/// Starts a byzantine proxy in front of the honest trustee at `honest_addr`.
///
/// The proxy is trustee `index` gone bad: it serves with that trustee's certificate
/// and forwards what the agency asks with the agency's.
pub async fn start(honest_addr: String, index: usize) -> Node {
    start_lying(honest_addr, index, Lie::Shares).await
}

/// [`start`] telling `lie`.
pub async fn start_lying(honest_addr: String, index: usize, lie: Lie) -> Node {
    let honest = crate::trustee_client_at(&honest_addr, &crate::agency_creds());
    let me = crate::creds(escrow_pki::Role::Trustee, &format!("trustee-{index}"));
    Node::serve(&format!("byzantine-{index}"), |listener, shutdown| async move {
        let routes = tonic::service::Routes::new(TrusteeServer::new(Byzantine { honest, lie }));
        escrow_service::transport::serve(
            listener,
            routes,
            &[],
            &me,
            None,
            escrow_pki::access::Server {
                trustee: Some(escrow_crypto::PartyId::new(format!("trustee-{index}")).unwrap()),
                agency_organisations: Vec::new(),
            },
            &escrow_service::metrics::Metrics::new(|_| {}),
            shutdown,
        )
        .await
    })
    .await
    .unwrap()
}
