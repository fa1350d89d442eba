//! The `escrow.v1.Audit` service: this trustee's log, served to auditors.

use escrow_proto::v1 as pb;
use tonic::{Request, Response, Status};

use std::sync::Arc;

use crate::answer::{unknown_warrant, warrant_id};
use crate::core::Core;

/// Most entries one GetEntries call returns.
pub const MAX_ENTRIES_PER_CALL: u64 = 1000;

/// The audit view of a trustee; shares the trustee's store.
#[derive(Clone, Debug)]
pub struct AuditService {
    core: Arc<Core>,
}

impl AuditService {
    /// The audit service of `core`.
    pub(crate) fn new(core: Arc<Core>) -> Self {
        AuditService { core }
    }
}

fn log_status(e: escrow_log::LogError) -> Status {
    Status::out_of_range(e.to_string())
}

#[tonic::async_trait]
impl pb::audit_server::Audit for AuditService {
    async fn get_checkpoint(
        &self,
        _req: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let (checkpoint, verifier_key, witnessed_checkpoint) = self
            .core
            .with_store(|s| {
                let witnessed = s.witnessed().map(|(_, note)| note.to_owned()).unwrap_or_default();
                Ok((s.checkpoint().to_string(), s.verifier_key(), witnessed))
            })
            .await?;
        Ok(Response::new(pb::GetCheckpointResponse { checkpoint, verifier_key, witnessed_checkpoint }))
    }

    async fn get_entries(
        &self,
        req: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<pb::GetEntriesResponse>, Status> {
        let pb::GetEntriesRequest { start, end } = req.into_inner();
        if start >= end || end - start > MAX_ENTRIES_PER_CALL {
            return Err(Status::invalid_argument(format!(
                "ask for [start, end) with start < end and at most {MAX_ENTRIES_PER_CALL} entries"
            )));
        }
        let entries = self
            .core
            .with_store(move |s| {
                if end > s.log_size() {
                    return Ok(Err(s.log_size()));
                }
                s.entries(start, end).map(Ok)
            })
            .await?
            .map_err(|size| Status::out_of_range(format!("the log has {size} entries")))?;
        Ok(Response::new(pb::GetEntriesResponse { entries }))
    }

    async fn get_inclusion_proof(
        &self,
        req: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::ProofResponse>, Status> {
        let pb::GetInclusionProofRequest { index, tree_size } = req.into_inner();
        let proof =
            self.core.with_store(move |s| Ok(s.inclusion_proof(index, tree_size))).await?.map_err(log_status)?;
        Ok(Response::new(pb::ProofResponse { hashes: proof.iter().map(|h| h.to_vec()).collect() }))
    }

    async fn get_consistency_proof(
        &self,
        req: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ProofResponse>, Status> {
        let pb::GetConsistencyProofRequest { first, second } = req.into_inner();
        let proof = self.core.with_store(move |s| Ok(s.consistency_proof(first, second))).await?.map_err(log_status)?;
        Ok(Response::new(pb::ProofResponse { hashes: proof.iter().map(|h| h.to_vec()).collect() }))
    }

    async fn get_details_opening(
        &self,
        req: Request<pb::GetDetailsOpeningRequest>,
    ) -> Result<Response<pb::DetailsOpening>, Status> {
        let id = warrant_id(&req.into_inner().warrant_id)?;
        let opening =
            self.core.with_store(move |s| s.details_opening(&id)).await?.ok_or_else(|| unknown_warrant(&id))?;
        let now = self.core.clock.now();
        if now < opening.reveal_at {
            return Err(Status::failed_precondition(format!(
                "the details of warrant {id} stay sealed until {} (now {now})",
                opening.reveal_at
            )));
        }
        Ok(Response::new(pb::DetailsOpening {
            nonce: opening.nonce.to_vec(),
            warrant: opening.warrant,
            released: opening.released.into_iter().map(|(label, field)| pb::EscrowItem { label, field }).collect(),
        }))
    }
}
