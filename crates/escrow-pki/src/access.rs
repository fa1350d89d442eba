//! Who may call which RPC: one table, [`ACCESS`], and one decision, [`allow`], which
//! every request to a trustee or the relay passes before any handler runs
//! (`escrow_service::auth::AuthLayer`). A pure rule: no IO.
//!
//! A row says who may call an RPC at all, from the verified certificate alone (its
//! role, the trustee an operator operates, the organisation that certified an
//! agency). What depends on the object a call names — the warrant's agency, the
//! user a request speaks for, the signer of a ceremony message — is the row's
//! [`Object`]: [`allow`] hands it to the handler in the [`Grant`], and the handler
//! applies it to the object it loads. An RPC missing from the table is refused
//! (fails closed).

use crate::{Identity, Role};
use escrow_crypto::PartyId;

/// Who may call an RPC: a row lists one or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum May {
    /// Any party the federation certifies.
    Anyone,
    /// Any party of this role.
    Role(Role),
    /// An agency certified by an organisation this server serves (a trustee's policy
    /// may name `agency_organisations`; the relay serves every agency).
    ServedAgency,
    /// An operator of this trustee.
    OwnOperator,
}

/// What the handler must still check on the object the call names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// Nothing: the row decides.
    Nothing,
    /// An agency sees a warrant only if the warrant names it; another agency's
    /// warrant answers exactly as an unknown one (`NOT_FOUND`), and lists leave it
    /// out. A warrant it submits must name it (`PERMISSION_DENIED`).
    WarrantsAgency,
    /// The user the request speaks for (the key registered, the envelope's sender,
    /// the inbox) must be the caller.
    SameUser,
    /// The ceremony message's signer must be the calling trustee.
    Signer,
}

/// One row of [`ACCESS`].
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The gRPC path, `/escrow.v1.<Service>/<Method>`.
    pub path: &'static str,
    /// Who may call it (any one suffices).
    pub who: &'static [May],
    /// What the handler checks on the object it names.
    pub object: Object,
}

const fn rule(path: &'static str, who: &'static [May], object: Object) -> Rule {
    Rule { path, who, object }
}

use May::{Anyone, OwnOperator, ServedAgency};
use Object::{Nothing, SameUser, Signer, WarrantsAgency};

const AUDITORS_AND_OWN_OPERATOR: &[May] = &[May::Role(Role::Auditor), OwnOperator];

/// Every RPC of every escrow service, and who may call it. docs/security.md's table
/// is what calling each of them as each kind of party does; a test checks the two
/// agree.
pub const ACCESS: &[Rule] = &[
    rule("/escrow.v1.Trustee/GetInfo", &[Anyone], Nothing),
    rule("/escrow.v1.Trustee/SubmitWarrant", &[ServedAgency], WarrantsAgency),
    rule("/escrow.v1.Trustee/GetWarrant", &[ServedAgency, OwnOperator], WarrantsAgency),
    rule("/escrow.v1.Trustee/ListWarrants", &[ServedAgency, OwnOperator], WarrantsAgency),
    rule("/escrow.v1.Trustee/ApproveWarrant", &[OwnOperator], Nothing),
    rule("/escrow.v1.Trustee/DenyWarrant", &[OwnOperator], Nothing),
    rule("/escrow.v1.Trustee/RevokeWarrant", &[OwnOperator], Nothing),
    rule("/escrow.v1.Trustee/RequestShares", &[ServedAgency], WarrantsAgency),
    rule("/escrow.v1.Trustee/ExtractDayKeys", &[ServedAgency], WarrantsAgency),
    rule("/escrow.v1.Audit/GetCheckpoint", AUDITORS_AND_OWN_OPERATOR, Nothing),
    rule("/escrow.v1.Audit/GetEntries", AUDITORS_AND_OWN_OPERATOR, Nothing),
    rule("/escrow.v1.Audit/GetInclusionProof", AUDITORS_AND_OWN_OPERATOR, Nothing),
    rule("/escrow.v1.Audit/GetConsistencyProof", AUDITORS_AND_OWN_OPERATOR, Nothing),
    rule("/escrow.v1.Audit/GetDetailsOpening", AUDITORS_AND_OWN_OPERATOR, Nothing),
    rule("/escrow.v1.Relay/RegisterUser", &[May::Role(Role::User)], SameUser),
    rule("/escrow.v1.Relay/GetUser", &[May::Role(Role::User), ServedAgency], Nothing),
    rule("/escrow.v1.Relay/GetEpochKey", &[Anyone], Nothing),
    rule("/escrow.v1.Relay/Send", &[May::Role(Role::User)], SameUser),
    rule("/escrow.v1.Relay/FetchInbox", &[May::Role(Role::User)], SameUser),
    rule("/escrow.v1.Relay/Export", &[ServedAgency], WarrantsAgency),
    rule("/escrow.v1.Ceremony/Propose", &[OwnOperator], Nothing),
    rule("/escrow.v1.Ceremony/Accept", &[OwnOperator], Nothing),
    rule("/escrow.v1.Ceremony/Reject", &[OwnOperator], Nothing),
    rule("/escrow.v1.Ceremony/Execute", &[OwnOperator], Nothing),
    rule("/escrow.v1.Ceremony/Abort", &[OwnOperator], Nothing),
    rule(
        "/escrow.v1.Ceremony/Status",
        &[May::Role(Role::Trustee), May::Role(Role::Operator), May::Role(Role::Auditor)],
        Nothing,
    ),
    rule("/escrow.v1.Ceremony/Deliver", &[May::Role(Role::Trustee)], Signer),
    rule("/escrow.v1.Ceremony/GetAnnouncement", &[Anyone], Nothing),
];

/// Paths every certified party may call whatever the table says: server reflection
/// describes the services this server runs, and nothing else.
pub const REFLECTION_PREFIXES: [&str; 2] =
    ["/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"];

/// The server a request reaches, as far as access depends on it.
#[derive(Clone, Debug, Default)]
pub struct Server {
    /// A trustee's own id (its operators are `OwnOperator`); `None` at the relay,
    /// which has no operators.
    pub trustee: Option<PartyId>,
    /// The organisations whose agencies this server serves; empty: every agency.
    pub agency_organisations: Vec<String>,
}

/// The caller, as its verified certificate says.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// Who.
    pub identity: &'a Identity,
    /// The organisation whose CA certified it.
    pub organisation: &'a str,
}

/// Permission to call: what the handler must still check on the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The row's object rule.
    pub object: Object,
}

/// Why a call was refused (`PERMISSION_DENIED`, with this as the rule).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The path is in no row: fails closed.
    #[error("no such RPC here")]
    UnknownRpc,
    /// The caller's role is not among those the row allows.
    #[error("only {0} may")]
    Role(String),
    /// An agency of an organisation this server does not serve.
    #[error("this trustee serves agencies of {served} only, and {organisation} certified this one")]
    AgencyNotServed {
        /// The organisations served.
        served: String,
        /// The caller's.
        organisation: String,
    },
}

impl Denied {
    /// A stable name for the refusal, for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::UnknownRpc => "unknown-rpc",
            Denied::Role(_) => "role",
            Denied::AgencyNotServed { .. } => "agency-not-served",
        }
    }
}

/// The row for `path`, if there is one.
pub fn rule_for(path: &str) -> Option<&'static Rule> {
    ACCESS.iter().find(|r| r.path == path)
}

/// Whether `caller` may call `path` at `server`: the one decision on access.
pub fn allow(path: &str, caller: Caller<'_>, server: &Server) -> Result<Grant, Denied> {
    if REFLECTION_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return Ok(Grant { object: Object::Nothing });
    }
    let rule = rule_for(path).ok_or(Denied::UnknownRpc)?;
    let who = caller.identity;
    let own_operator = |t: &Option<PartyId>| t.as_ref().is_some_and(|t| who.operates(t));
    let mut agency_of_unserved = false;
    for may in rule.who {
        let ok = match may {
            May::Anyone => true,
            May::Role(r) => who.role() == *r,
            May::OwnOperator => own_operator(&server.trustee),
            May::ServedAgency => {
                let agency = who.role() == Role::Agency;
                let served = server.agency_organisations.is_empty()
                    || server.agency_organisations.iter().any(|o| o == caller.organisation);
                agency_of_unserved |= agency && !served;
                agency && served
            }
        };
        if ok {
            return Ok(Grant { object: rule.object });
        }
    }
    if agency_of_unserved {
        return Err(Denied::AgencyNotServed {
            served: server.agency_organisations.join(", "),
            organisation: caller.organisation.to_string(),
        });
    }
    Err(Denied::Role(describe(rule.who, server)))
}

/// "agency, an operator of trustee-0": who a row allows, in words.
fn describe(who: &[May], server: &Server) -> String {
    let names: Vec<String> = who
        .iter()
        .map(|m| match m {
            May::Anyone => "any party".to_string(),
            May::Role(r) => format!("{r}s"),
            May::ServedAgency => "agencies".to_string(),
            May::OwnOperator => match &server.trustee {
                Some(t) => format!("an operator of {t}"),
                None => "an operator of this server".to_string(),
            },
        })
        .collect();
    names.join(" or ")
}
