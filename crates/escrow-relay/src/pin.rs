//! The relay remembers which key it served for each epoch, and refuses to start with
//! one that conflicts.
//!
//! An epoch's public key never changes once senders have used it: every message sealed
//! under it is opened only with shares of that key. A relay that switched to another
//! key for the same epoch (a second fresh ceremony, a swapped configuration file)
//! would seal new messages under a key the trustees' old shares cannot open, or serve
//! two announcements for one (epoch, generation), which is equivocation. So the relay
//! keeps, per epoch, the public key and the announcement it served, and [`decide`]
//! allows only:
//!
//! - the first key for an epoch;
//! - the same announcement again (a restart);
//! - a reshare: the same public key at a higher generation;
//! - a dealt key served bare now being served with its announcement (same key).
//!
//! It refuses a different public key, a lower generation, a different announcement at
//! the same generation, and going back from an announcement to a bare key.

use escrow_crypto::{EpochPublicKey, VerifiedAnnouncement};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// What the relay serves for one epoch, as pinned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Served {
    pub(crate) epoch: u64,
    /// The compressed master public key.
    pub(crate) public_key: [u8; 48],
    /// The announcement's generation and hash; `None` for a dealt key served bare.
    pub(crate) announced: Option<(u32, [u8; 32])>,
}

impl Served {
    pub(crate) fn new(key: &EpochPublicKey, announcement: Option<&VerifiedAnnouncement>) -> Self {
        Served {
            epoch: key.epoch().0,
            public_key: key.public_key_bytes(),
            announced: announcement.map(|a| (a.announcement().generation, a.signed().hash())),
        }
    }
}

/// Why a configured key may not be served for its epoch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochConflict {
    /// Another public key was served for this epoch.
    #[error(
        "epoch {epoch} was served with public key {served}…, and this configuration states {configured}…: an \
         epoch's key never changes (messages already sealed under it would be lost); only a reshare of the same key \
         may follow"
    )]
    AnotherKey {
        /// The epoch.
        epoch: u64,
        /// The first bytes of the served key, hex.
        served: String,
        /// The first bytes of the configured key, hex.
        configured: String,
    },
    /// The configured announcement is of an older generation than the one served.
    #[error("epoch {epoch} was served at generation {served}; this announcement is of generation {configured}, older")]
    OlderGeneration {
        /// The epoch.
        epoch: u64,
        /// Served generation.
        served: u32,
        /// Configured generation.
        configured: u32,
    },
    /// Two different announcements for one (epoch, generation): equivocation.
    #[error(
        "epoch {epoch} generation {generation} was served with announcement {served}…, and this one is \
         {configured}…: two announcements for one epoch and generation are equivocation"
    )]
    TwoAnnouncements {
        /// The epoch.
        epoch: u64,
        /// The generation.
        generation: u32,
        /// The served announcement's hash, first bytes in hex.
        served: String,
        /// The configured one's.
        configured: String,
    },
    /// The epoch was served with an announcement; serving its key bare would hide it.
    #[error(
        "epoch {epoch} was served with its trustees' announcement (generation {generation}); it cannot be served bare now"
    )]
    NoLongerAnnounced {
        /// The epoch.
        epoch: u64,
        /// The served generation.
        generation: u32,
    },
}

impl EpochConflict {
    /// The epoch refused.
    pub fn epoch(&self) -> u64 {
        match self {
            Self::AnotherKey { epoch, .. }
            | Self::OlderGeneration { epoch, .. }
            | Self::TwoAnnouncements { epoch, .. }
            | Self::NoLongerAnnounced { epoch, .. } => *epoch,
        }
    }
}

fn short(b: &[u8]) -> String {
    hex::encode(b.get(..8).unwrap_or(b))
}

/// Whether `configured` may be served given what was `served` for its epoch, and if
/// so whether the pin changes. Pure: the rule of this module.
pub(crate) fn decide(served: Option<&Served>, configured: &Served) -> Result<bool, EpochConflict> {
    let Some(served) = served else { return Ok(true) };
    let epoch = configured.epoch;
    if served.public_key != configured.public_key {
        return Err(EpochConflict::AnotherKey {
            epoch,
            served: short(&served.public_key),
            configured: short(&configured.public_key),
        });
    }
    match (served.announced, configured.announced) {
        (None, None) => Ok(false),
        (None, Some(_)) => Ok(true),
        (Some((generation, _)), None) => Err(EpochConflict::NoLongerAnnounced { epoch, generation }),
        (Some((g, h)), Some((cg, ch))) => {
            if cg < g {
                Err(EpochConflict::OlderGeneration { epoch, served: g, configured: cg })
            } else if cg == g && ch != h {
                Err(EpochConflict::TwoAnnouncements { epoch, generation: g, served: short(&h), configured: short(&ch) })
            } else {
                Ok(cg > g)
            }
        }
    }
}

/// Errors of [`pin`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum PinError {
    #[error(transparent)]
    Conflict(#[from] EpochConflict),
    #[error("relay database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("relay database: the epochs table holds a malformed row for epoch {0}")]
    Corrupt(u64),
}

/// A stored pin as read: public key, generation, announcement hash.
type PinRow = (Vec<u8>, Option<i64>, Option<Vec<u8>>);

/// Decides and records, in one immediate transaction, that `configured` is served:
/// nothing is written when it conflicts.
pub(crate) fn pin(conn: &mut Connection, configured: &Served, now: i64) -> Result<(), PinError> {
    let epoch = i64::try_from(configured.epoch).map_err(|_| PinError::Corrupt(configured.epoch))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<PinRow> = tx
        .query_row("SELECT public_key, generation, announcement FROM epochs WHERE epoch = ?1", params![epoch], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let served = match row {
        None => None,
        Some((key, generation, hash)) => {
            let corrupt = || PinError::Corrupt(configured.epoch);
            let public_key: [u8; 48] = key.try_into().map_err(|_| corrupt())?;
            let announced = match (generation, hash) {
                (None, None) => None,
                (Some(g), Some(h)) => {
                    Some((u32::try_from(g).map_err(|_| corrupt())?, <[u8; 32]>::try_from(h).map_err(|_| corrupt())?))
                }
                _ => return Err(corrupt()),
            };
            Some(Served { epoch: configured.epoch, public_key, announced })
        }
    };
    if decide(served.as_ref(), configured)? {
        tx.execute(
            "INSERT INTO epochs (epoch, public_key, generation, announcement, pinned_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (epoch) DO UPDATE SET generation = excluded.generation,
                 announcement = excluded.announcement, pinned_at = excluded.pinned_at",
            params![
                epoch,
                configured.public_key.as_slice(),
                configured.announced.map(|(g, _)| i64::from(g)),
                configured.announced.map(|(_, h)| h.to_vec()),
                now
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(key: u8, announced: Option<(u32, u8)>) -> Served {
        Served { epoch: 7, public_key: [key; 48], announced: announced.map(|(g, h)| (g, [h; 32])) }
    }

    #[test]
    fn only_the_same_key_at_the_same_or_a_higher_generation_may_follow() {
        let first = served(1, Some((0, 1)));
        assert_eq!(decide(None, &first), Ok(true));
        assert_eq!(decide(Some(&first), &first), Ok(false), "a restart changes nothing");
        assert_eq!(decide(Some(&first), &served(1, Some((1, 2)))), Ok(true), "a reshare moves the pin");
        assert_eq!(decide(Some(&served(1, None)), &first), Ok(true), "a bare key may gain its announcement");
        assert_eq!(decide(Some(&served(1, None)), &served(1, None)), Ok(false));

        let e = decide(Some(&first), &served(2, Some((0, 1)))).unwrap_err();
        assert!(matches!(e, EpochConflict::AnotherKey { epoch: 7, .. }), "{e}");
        assert!(e.to_string().contains("an epoch's key never changes"), "{e}");
        assert!(matches!(decide(Some(&first), &served(2, None)), Err(EpochConflict::AnotherKey { .. })));
        let e = decide(Some(&first), &served(1, Some((0, 9)))).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "epoch 7 generation 0 was served with announcement {}…, and this one is {}…: two announcements for \
                 one epoch and generation are equivocation",
                hex::encode([1u8; 8]),
                hex::encode([9u8; 8])
            )
        );
        let reshared = served(1, Some((2, 3)));
        assert_eq!(
            decide(Some(&reshared), &first),
            Err(EpochConflict::OlderGeneration { epoch: 7, served: 2, configured: 0 })
        );
        assert_eq!(
            decide(Some(&first), &served(1, None)),
            Err(EpochConflict::NoLongerAnnounced { epoch: 7, generation: 0 })
        );
    }

    #[test]
    fn a_refused_pin_writes_nothing_and_an_allowed_one_is_kept() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::store::SCHEMA).unwrap();
        let first = served(1, Some((0, 1)));
        pin(&mut conn, &first, 10).unwrap();
        let err = pin(&mut conn, &served(1, Some((0, 9))), 11).unwrap_err();
        assert!(matches!(err, PinError::Conflict(EpochConflict::TwoAnnouncements { .. })), "{err}");
        let row: (Option<i64>, Vec<u8>, i64) = conn
            .query_row("SELECT generation, announcement, pinned_at FROM epochs WHERE epoch = 7", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, (Some(0), vec![1; 32], 10), "the refused pin changed the row");
        pin(&mut conn, &served(1, Some((1, 2))), 12).unwrap();
        assert!(matches!(pin(&mut conn, &first, 13), Err(PinError::Conflict(EpochConflict::OlderGeneration { .. }))));
    }
}
