//! What witnessing needs from the store: where each warrant's receipt and approval
//! sit in the log, the latest witnessed checkpoint, and proofs against it.

use std::collections::HashMap;

use escrow_crypto::WarrantId;
use escrow_log::event::{Arrival, Decision, Event};
use rusqlite::{params, OptionalExtension};

use super::{to_i64, to_u64, Store, StoreError};

/// Where a warrant's receipt and first approval were logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarrantMarks {
    /// Index of the warrant-received entry.
    pub received: u64,
    /// Index of the entry that approved it: the receipt itself when approved by
    /// policy on arrival, else the operator's approval.
    pub approved: Option<u64>,
}

/// One log entry that matters to witnessed release.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mark {
    Received { warrant: [u8; 16], approved: bool },
    Approved { warrant: [u8; 16] },
}

impl Mark {
    pub(crate) fn of(event: &Event) -> Option<Mark> {
        match event {
            Event::WarrantReceived { warrant_id, arrival, .. } => {
                Some(Mark::Received { warrant: *warrant_id, approved: *arrival == Arrival::ApprovedByPolicy })
            }
            Event::WarrantDecided { warrant_id, decision: Decision::Approve, .. } => {
                Some(Mark::Approved { warrant: *warrant_id })
            }
            _ => None,
        }
    }
}

/// Records `mark` at log index `idx`; the first approval counts.
pub(crate) fn apply(marks: &mut HashMap<[u8; 16], WarrantMarks>, idx: u64, mark: Mark) {
    match mark {
        Mark::Received { warrant, approved } => {
            marks.entry(warrant).or_insert(WarrantMarks { received: idx, approved: approved.then_some(idx) });
        }
        Mark::Approved { warrant } => {
            if let Some(m) = marks.get_mut(&warrant) {
                m.approved.get_or_insert(idx);
            }
        }
    }
}

/// A log entry with its inclusion proof in a tree of `size` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// Its index.
    pub index: u64,
    /// The encoded entry.
    pub entry: Vec<u8>,
    /// RFC 6962 inclusion proof.
    pub proof: Vec<escrow_log::Hash>,
}

/// Proof that a warrant's receipt and approval are in a witnessed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedApproval {
    /// The cosigned checkpoint note.
    pub checkpoint: String,
    /// The receipt entry.
    pub receipt: Inclusion,
    /// The approving entry.
    pub approval: Inclusion,
}

impl Store {
    pub(super) fn load_witnessed(&self) -> Result<Option<(u64, String)>, StoreError> {
        let row = self
            .conn
            .query_row("SELECT size, note FROM witnessed WHERE id = 1", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        row.map(|(size, note)| {
            let size = to_u64(size)?;
            if size > self.tree.size() {
                return Err(StoreError::Corrupt("witnessed checkpoint larger than the log"));
            }
            Ok((size, note))
        })
        .transpose()
    }

    /// Where `id`'s receipt and approval are in the log.
    pub fn warrant_marks(&self, id: &WarrantId) -> Option<WarrantMarks> {
        self.marks.get(&id.0).copied()
    }

    /// The latest witnessed checkpoint: its size and the cosigned note.
    pub fn witnessed(&self) -> Option<(u64, &str)> {
        self.witnessed.as_ref().map(|(s, n)| (*s, n.as_str()))
    }

    /// The current tree size and the checkpoint signed for it, to send to witnesses.
    pub fn checkpoint_now(&self) -> (u64, String) {
        (self.tree.size(), self.checkpoint.clone())
    }

    /// Records a cosigned checkpoint of `size` entries (its quorum already checked by
    /// the caller). A checkpoint no larger than the one held is ignored: the
    /// witnessed view only moves forward. Returns whether it was recorded.
    pub fn set_witnessed(&mut self, size: u64, note: &str) -> Result<bool, StoreError> {
        if size > self.tree.size() {
            return Err(StoreError::Corrupt("a witnessed checkpoint larger than the log"));
        }
        if self.witnessed.as_ref().is_some_and(|(held, _)| *held >= size) {
            return Ok(false);
        }
        self.conn.execute(
            "INSERT INTO witnessed (id, size, note) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET size = excluded.size, note = excluded.note",
            params![to_i64(size)?, note],
        )?;
        self.witnessed = Some((size, note.to_owned()));
        self.witnessed_at = std::time::Instant::now();
        Ok(true)
    }

    fn inclusion(&self, index: u64, size: u64) -> Result<Inclusion, StoreError> {
        let entry = self.entries(index, index + 1)?.pop().ok_or(StoreError::Corrupt("log entry missing"))?;
        let proof = self.tree.inclusion_proof(index, size)?;
        Ok(Inclusion { index, entry, proof })
    }

    /// Proof that `id` was received and approved, against the witnessed checkpoint:
    /// `None` if it is not approved, or the approval is not witnessed yet.
    pub fn witnessed_approval(&self, id: &WarrantId) -> Result<Option<WitnessedApproval>, StoreError> {
        let (Some(marks), Some((size, note))) = (self.warrant_marks(id), self.witnessed.as_ref()) else {
            return Ok(None);
        };
        let Some(approved) = marks.approved.filter(|a| a < size) else {
            return Ok(None);
        };
        Ok(Some(WitnessedApproval {
            checkpoint: note.clone(),
            receipt: self.inclusion(marks.received, *size)?,
            approval: self.inclusion(approved, *size)?,
        }))
    }
}
