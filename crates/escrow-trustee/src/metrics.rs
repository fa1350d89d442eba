//! A trustee's Prometheus metrics: events counted as they happen (decisions, shares
//! released) and state read from the store at each scrape (warrants by state, fields
//! released, the log and its witnessed checkpoint, ceremonies, epochs). RPC latencies
//! and refusals by rule come from the transport's layer
//! ([`escrow_service::metrics`]). Every label value is from a fixed set or from this
//! trustee's own configuration (its witnesses' names), never from a caller.

use std::sync::atomic::AtomicU64;

use escrow_service::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Unit;

use crate::state::State;
use crate::store::{StoreCounts, StoreError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DecisionLabels {
    pub(crate) decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabels {
    witness: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;

/// The metrics of one trustee.
#[derive(Clone, Debug)]
pub(crate) struct TrusteeMetrics {
    pub(crate) registry: Metrics,
    pub(crate) decisions: Family<DecisionLabels, Counter>,
    pub(crate) shares_released: Counter,
    pub(crate) day_keys_released: Counter,
    warrants: Family<StateLabels, Gauge>,
    fields_released: Gauge,
    log_size: Gauge,
    witnessed_size: Gauge,
    checkpoint_age: Seconds,
    witnessed_age: Seconds,
    witness_lag: Family<WitnessLabels, Gauge>,
    ceremonies: Family<PhaseLabels, Gauge>,
    epochs_held: Gauge,
}

impl TrusteeMetrics {
    pub(crate) fn new() -> Self {
        let m = TrusteeMetrics {
            registry: Metrics::new(|_| {}),
            decisions: Family::default(),
            shares_released: Counter::default(),
            day_keys_released: Counter::default(),
            warrants: Family::default(),
            fields_released: Gauge::default(),
            log_size: Gauge::default(),
            witnessed_size: Gauge::default(),
            checkpoint_age: Seconds::default(),
            witnessed_age: Seconds::default(),
            witness_lag: Family::default(),
            ceremonies: Family::default(),
            epochs_held: Gauge::default(),
        };
        let registry = Metrics::new(|r| {
            r.register(
                "warrant_decisions",
                "Operator decisions on warrants since start, by decision",
                m.decisions.clone(),
            );
            r.register(
                "shares_released",
                "Decryption shares sent to agencies since start (a field asked for again counts again)",
                m.shares_released.clone(),
            );
            r.register(
                "day_keys_released",
                "Extraction shares of day keys sent to agencies since start, the day mode (a day asked for again counts again)",
                m.day_keys_released.clone(),
            );
            r.register("warrants", "Warrants held, by stored state", m.warrants.clone());
            r.register(
                "fields_released",
                "Distinct escrow fields ever released, all warrants",
                m.fields_released.clone(),
            );
            r.register("log_size", "Entries in this trustee's transparency log", m.log_size.clone());
            r.register(
                "log_witnessed_size",
                "Entries in the latest checkpoint the witness quorum cosigned (0: none yet)",
                m.witnessed_size.clone(),
            );
            r.register_with_unit(
                "checkpoint_age",
                "Time since this trustee signed its current checkpoint",
                Unit::Seconds,
                m.checkpoint_age.clone(),
            );
            r.register_with_unit(
                "witnessed_checkpoint_age",
                "Time since the witnessed checkpoint last grew (or the trustee started)",
                Unit::Seconds,
                m.witnessed_age.clone(),
            );
            r.register(
                "witness_lag_entries",
                "Entries of this log each witness has not cosigned yet, as far as this trustee knows",
                m.witness_lag.clone(),
            );
            r.register(
                "ceremonies",
                "Key ceremonies this trustee took part in since start, by phase (the running one and the last finished)",
                m.ceremonies.clone(),
            );
            r.register("epochs_held", "Epochs whose key share this trustee holds now", m.epochs_held.clone());
        });
        TrusteeMetrics { registry, ..m }
    }
}

/// What one scrape reads: from the store, the publisher, the epochs and the ceremonies.
pub(crate) struct Reading {
    /// The store's counts, or why they could not be read; `None`: the store is poisoned.
    pub(crate) counts: Option<Result<StoreCounts, StoreError>>,
    /// Per witness (by its policy name), the size of this log it last cosigned.
    pub(crate) witnesses: Vec<(String, u64)>,
    /// Epochs whose share is held now.
    pub(crate) epochs_held: usize,
    /// The phase of each ceremony held; `None` without ceremony keys or while a step
    /// holds the ceremony state (the last values stay).
    pub(crate) phases: Option<Vec<&'static str>>,
}

impl TrusteeMetrics {
    /// Sets the gauges read from state. A store error leaves the last values and is
    /// traced.
    pub(crate) fn refresh(&self, reading: Reading) {
        let m = self;
        match reading.counts {
            None => return,
            Some(Ok(c)) => {
                for s in [State::Received, State::Approved, State::Denied, State::Revoked] {
                    let n = c.warrants.iter().find(|(st, _)| *st == s).map_or(0, |(_, n)| *n);
                    m.warrants.get_or_create(&StateLabels { state: s.as_str() }).set(gauge(n));
                }
                m.fields_released.set(gauge(c.fields_released));
                m.log_size.set(gauge(c.log_size));
                m.witnessed_size.set(gauge(c.witnessed_size));
                m.checkpoint_age.set(c.checkpoint_age);
                m.witnessed_age.set(c.witnessed_age);
                for (name, held) in reading.witnesses {
                    m.witness_lag
                        .get_or_create(&WitnessLabels { witness: name })
                        .set(gauge(c.log_size.saturating_sub(held)));
                }
            }
            Some(Err(e)) => tracing::error!(error = %e, "could not read the store for metrics"),
        }
        m.epochs_held.set(gauge(reading.epochs_held as u64));
        if let Some(phases) = reading.phases {
            m.ceremonies.clear();
            for p in phases {
                m.ceremonies.get_or_create(&PhaseLabels { phase: p }).inc();
            }
        }
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
