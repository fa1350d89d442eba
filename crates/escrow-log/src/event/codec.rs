//! The canonical encoding of an [`Entry`]: version, algorithm id, time, kind, then the
//! kind's fields, big-endian, with u16-length text. The decoder refuses unknown
//! versions, kinds and trailing bytes.

use super::*;

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// `s` as u16 length + bytes; [`Text`] guarantees the characters, `max` is the
    /// field's own limit (ids, codes, callers are shorter than [`MAX_TEXT`]).
    fn text(&mut self, s: &Text, max: usize) -> Result<(), LogError> {
        if s.len() > max {
            return Err(LogError::InvalidEntry("text field too long"));
        }
        self.u16(u16::try_from(s.len()).map_err(|_| LogError::InvalidEntry("text field too long"))?);
        self.bytes(s.as_bytes());
        Ok(())
    }
}

struct R<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LogError> {
        let end = self.pos.checked_add(n).ok_or(LogError::InvalidEntry("truncated"))?;
        let s = self.buf.get(self.pos..end).ok_or(LogError::InvalidEntry("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], LogError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, LogError> {
        Ok(u8::from_be_bytes(self.arr()?))
    }
    fn u16(&mut self) -> Result<u16, LogError> {
        Ok(u16::from_be_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, LogError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, LogError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    fn text(&mut self, max: usize) -> Result<Text, LogError> {
        let n = usize::from(self.u16()?);
        if n > max {
            return Err(LogError::InvalidEntry("text field too long"));
        }
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| LogError::InvalidEntry("text field not UTF-8"))?;
        Text::new(s)
    }
}

impl Entry {
    /// Canonical encoding: version, alg, time, kind, fields (big-endian, u16-length text).
    pub fn to_bytes(&self) -> Result<Vec<u8>, LogError> {
        let mut w = W(Vec::with_capacity(128));
        w.u8(ENTRY_VERSION);
        w.u16(ENTRY_ALG);
        w.u64(self.time);
        match &self.event {
            Event::WarrantReceived {
                warrant_id,
                court,
                agency,
                window_from,
                window_to,
                valid_until,
                reveal_at,
                details_commitment,
                arrival,
                reason,
            } => {
                w.u8(1);
                w.bytes(warrant_id);
                w.text(court, MAX_ID)?;
                w.text(agency, MAX_ID)?;
                w.u64(*window_from);
                w.u64(*window_to);
                w.u64(*valid_until);
                w.u64(*reveal_at);
                w.bytes(details_commitment);
                w.u8(match arrival {
                    Arrival::Received => 1,
                    Arrival::ApprovedByPolicy => 2,
                    Arrival::DeniedByPolicy => 3,
                });
                w.text(reason, MAX_TEXT)?;
            }
            Event::WarrantDecided { warrant_id, decision, operator, reason } => {
                w.u8(2);
                w.bytes(warrant_id);
                w.u8(match decision {
                    Decision::Approve => 1,
                    Decision::Deny => 2,
                    Decision::Revoke => 3,
                });
                w.text(operator, MAX_ID)?;
                w.text(reason, MAX_TEXT)?;
            }
            Event::SharesReleased { warrant_id, agency, fields } => {
                w.u8(3);
                w.bytes(warrant_id);
                w.text(agency, MAX_ID)?;
                if fields.len() > MAX_FIELDS_PER_ENTRY {
                    return Err(LogError::InvalidEntry("too many fields in one entry"));
                }
                w.u32(u32::try_from(fields.len()).map_err(|_| LogError::InvalidEntry("too many fields"))?);
                for f in fields {
                    w.bytes(f);
                }
            }
            Event::DayKeysReleased { warrant_id, agency, days } => {
                w.u8(9);
                w.bytes(warrant_id);
                w.text(agency, MAX_ID)?;
                if days.len() > MAX_DAYS_PER_ENTRY {
                    return Err(LogError::InvalidEntry("too many day keys in one entry"));
                }
                w.u32(u32::try_from(days.len()).map_err(|_| LogError::InvalidEntry("too many day keys"))?);
                for d in days {
                    w.u64(d.epoch);
                    w.u32(d.day);
                    w.bytes(&d.party);
                }
            }
            Event::RequestRefused { warrant_id, code, rule } => {
                w.u8(4);
                w.bytes(warrant_id);
                w.text(code, MAX_ID)?;
                w.text(rule, MAX_TEXT)?;
            }
            Event::RequestsRefused { caller, warrant_id, code, rule, count, first, last } => {
                if *count == 0 || first > last {
                    return Err(LogError::InvalidEntry("a refusal count must be positive and first <= last"));
                }
                w.u8(7);
                w.text(caller, MAX_CALLER)?;
                match warrant_id {
                    Some(id) => {
                        w.u8(1);
                        w.bytes(id);
                    }
                    None => w.u8(0),
                }
                w.text(code, MAX_ID)?;
                w.text(rule, MAX_TEXT)?;
                w.u32(*count);
                w.u64(*first);
                w.u64(*last);
            }
            Event::EpochInstalled { epoch, public_key_hash, trustee_index } => {
                w.u8(5);
                w.u64(*epoch);
                w.bytes(public_key_hash);
                w.u16(*trustee_index);
            }
            Event::EpochDestroyed { epoch } => {
                w.u8(6);
                w.u64(*epoch);
            }
            Event::Ceremony { ceremony, step } => {
                w.u8(8);
                w.bytes(ceremony);
                match step {
                    CeremonyStep::Proposed { proposal, proposer, epoch, plan, threshold, players } => {
                        w.u8(1);
                        w.bytes(proposal);
                        w.text(proposer, MAX_ID)?;
                        w.u64(*epoch);
                        w.u8(*plan);
                        w.u16(*threshold);
                        w.u16(*players);
                    }
                    CeremonyStep::Accepted { by } => {
                        w.u8(2);
                        w.text(by, MAX_ID)?;
                    }
                    CeremonyStep::Executed => w.u8(3),
                    CeremonyStep::Dealt { dealer, commitment } => {
                        w.u8(4);
                        w.text(dealer, MAX_ID)?;
                        w.bytes(commitment);
                    }
                    CeremonyStep::Complained { by, against, grievance } => {
                        w.u8(5);
                        w.text(by, MAX_ID)?;
                        w.text(against, MAX_ID)?;
                        w.u8(*grievance);
                    }
                    CeremonyStep::Justified { dealer, player } => {
                        w.u8(6);
                        w.text(dealer, MAX_ID)?;
                        w.text(player, MAX_ID)?;
                    }
                    CeremonyStep::Disqualified { dealer, why } => {
                        w.u8(7);
                        w.text(dealer, MAX_ID)?;
                        w.u8(*why);
                    }
                    CeremonyStep::Agreed { by, announcement } => {
                        w.u8(8);
                        w.text(by, MAX_ID)?;
                        w.bytes(announcement);
                    }
                    CeremonyStep::Installed { announcement, epoch, generation, destroy_at } => {
                        w.u8(9);
                        w.bytes(announcement);
                        w.u64(*epoch);
                        w.u32(*generation);
                        w.u64(*destroy_at);
                    }
                    CeremonyStep::Aborted { reason } => {
                        w.u8(10);
                        w.text(reason, MAX_TEXT)?;
                    }
                }
            }
        }
        Ok(w.0)
    }

    /// Decodes an entry; refuses unknown versions, kinds, trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(LogError::InvalidEntry("entry too long"));
        }
        let mut r = R { buf: bytes, pos: 0 };
        if r.u8()? != ENTRY_VERSION {
            return Err(LogError::InvalidEntry("unsupported entry version"));
        }
        if r.u16()? != ENTRY_ALG {
            return Err(LogError::InvalidEntry("not a log entry (algorithm id)"));
        }
        let time = r.u64()?;
        let event = match r.u8()? {
            1 => Event::WarrantReceived {
                warrant_id: r.arr()?,
                court: r.text(MAX_ID)?,
                agency: r.text(MAX_ID)?,
                window_from: r.u64()?,
                window_to: r.u64()?,
                valid_until: r.u64()?,
                reveal_at: r.u64()?,
                details_commitment: r.arr()?,
                arrival: match r.u8()? {
                    1 => Arrival::Received,
                    2 => Arrival::ApprovedByPolicy,
                    3 => Arrival::DeniedByPolicy,
                    _ => return Err(LogError::InvalidEntry("unknown arrival state")),
                },
                reason: r.text(MAX_TEXT)?,
            },
            2 => Event::WarrantDecided {
                warrant_id: r.arr()?,
                decision: match r.u8()? {
                    1 => Decision::Approve,
                    2 => Decision::Deny,
                    3 => Decision::Revoke,
                    _ => return Err(LogError::InvalidEntry("unknown decision")),
                },
                operator: r.text(MAX_ID)?,
                reason: r.text(MAX_TEXT)?,
            },
            3 => {
                let warrant_id = r.arr()?;
                let agency = r.text(MAX_ID)?;
                let n = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
                if n > MAX_FIELDS_PER_ENTRY {
                    return Err(LogError::InvalidEntry("too many fields in one entry"));
                }
                let mut fields = Vec::with_capacity(n);
                for _ in 0..n {
                    fields.push(r.arr()?);
                }
                Event::SharesReleased { warrant_id, agency, fields }
            }
            9 => {
                let warrant_id = r.arr()?;
                let agency = r.text(MAX_ID)?;
                let n = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
                if n > MAX_DAYS_PER_ENTRY {
                    return Err(LogError::InvalidEntry("too many day keys in one entry"));
                }
                let mut days = Vec::with_capacity(n);
                for _ in 0..n {
                    days.push(DayRelease { epoch: r.u64()?, day: r.u32()?, party: r.arr()? });
                }
                Event::DayKeysReleased { warrant_id, agency, days }
            }
            4 => Event::RequestRefused { warrant_id: r.arr()?, code: r.text(MAX_ID)?, rule: r.text(MAX_TEXT)? },
            5 => Event::EpochInstalled { epoch: r.u64()?, public_key_hash: r.arr()?, trustee_index: r.u16()? },
            6 => Event::EpochDestroyed { epoch: r.u64()? },
            7 => {
                let caller = r.text(MAX_CALLER)?;
                let warrant_id = match r.u8()? {
                    0 => None,
                    1 => Some(r.arr()?),
                    _ => return Err(LogError::InvalidEntry("unknown warrant-id presence flag")),
                };
                let (code, rule) = (r.text(MAX_ID)?, r.text(MAX_TEXT)?);
                let (count, first, last) = (r.u32()?, r.u64()?, r.u64()?);
                if count == 0 || first > last {
                    return Err(LogError::InvalidEntry("a refusal count must be positive and first <= last"));
                }
                Event::RequestsRefused { caller, warrant_id, code, rule, count, first, last }
            }
            8 => {
                let ceremony = r.arr()?;
                let step = match r.u8()? {
                    1 => CeremonyStep::Proposed {
                        proposal: r.arr()?,
                        proposer: r.text(MAX_ID)?,
                        epoch: r.u64()?,
                        plan: r.u8()?,
                        threshold: r.u16()?,
                        players: r.u16()?,
                    },
                    2 => CeremonyStep::Accepted { by: r.text(MAX_ID)? },
                    3 => CeremonyStep::Executed,
                    4 => CeremonyStep::Dealt { dealer: r.text(MAX_ID)?, commitment: r.arr()? },
                    5 => CeremonyStep::Complained { by: r.text(MAX_ID)?, against: r.text(MAX_ID)?, grievance: r.u8()? },
                    6 => CeremonyStep::Justified { dealer: r.text(MAX_ID)?, player: r.text(MAX_ID)? },
                    7 => CeremonyStep::Disqualified { dealer: r.text(MAX_ID)?, why: r.u8()? },
                    8 => CeremonyStep::Agreed { by: r.text(MAX_ID)?, announcement: r.arr()? },
                    9 => CeremonyStep::Installed {
                        announcement: r.arr()?,
                        epoch: r.u64()?,
                        generation: r.u32()?,
                        destroy_at: r.u64()?,
                    },
                    10 => CeremonyStep::Aborted { reason: r.text(MAX_TEXT)? },
                    _ => return Err(LogError::InvalidEntry("unknown ceremony step")),
                };
                Event::Ceremony { ceremony, step }
            }
            _ => return Err(LogError::InvalidEntry("unknown event kind")),
        };
        if r.pos != bytes.len() {
            return Err(LogError::InvalidEntry("trailing bytes"));
        }
        Ok(Entry { time, event })
    }
}
