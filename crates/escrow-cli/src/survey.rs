//! How one key ceremony stands at every participant, asked of each one's trustee:
//! `escrow dkg status --all` and `escrow dkg execute --wait`.
//!
//! A ceremony can end installed at some participants and aborted at others (a pause or
//! a partition at the agreement deadline; docs/protocol.md §5.14, "Split installs").
//! One trustee's status cannot show that, so these commands ask every participant and
//! say, per trustee, whether it is behind and what its operator should run. The
//! verdict is [`judge`], a pure function of the answers.

use std::time::Duration;

use escrow_proto::v1 as pb;
use sha2::{Digest, Sha256};

use crate::display::text;

/// How long one participant may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// What one participant said about the ceremony.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Its status.
    Status(Box<pb::CeremonyStatus>),
    /// It does not know the ceremony (`NOT_FOUND`): restarted since, or the proposal
    /// never reached it.
    Unknown,
    /// No answer (the error, as text from the network or the peer).
    Unreachable(String),
}

/// One participant, where it was asked, and its answer.
#[derive(Debug, Clone)]
pub struct Report {
    /// Trustee id.
    pub trustee: String,
    /// Address asked.
    pub addr: String,
    /// Its answer.
    pub answer: Answer,
}

/// Asks every participant `local` names (at the addresses its trustee uses) how the
/// ceremony stands there. The trustee that answered `local` (at `local_addr`) is not
/// asked again, and is always in the survey.
pub async fn survey(ctx: &crate::Ctx, local_addr: &str, local: &pb::CeremonyStatus) -> Vec<Report> {
    let id = pb::CeremonyRef { ceremony_id: local.ceremony_id.clone(), reason: String::new() };
    let mut out = Vec::new();
    for p in &local.peers {
        if p.trustee_id == local.trustee_id {
            out.push(Report {
                trustee: p.trustee_id.clone(),
                addr: local_addr.to_string(),
                answer: Answer::Status(Box::new(local.clone())),
            });
            continue;
        }
        let answer = ask(ctx, &p.addr, id.clone()).await;
        out.push(Report { trustee: p.trustee_id.clone(), addr: p.addr.clone(), answer });
    }
    if !out.iter().any(|r| r.trustee == local.trustee_id) {
        let me = Report {
            trustee: local.trustee_id.clone(),
            addr: local_addr.to_string(),
            answer: Answer::Status(Box::new(local.clone())),
        };
        out.insert(0, me);
    }
    out
}

async fn ask(ctx: &crate::Ctx, addr: &str, id: pb::CeremonyRef) -> Answer {
    let mut client = match ctx.credentials().and_then(|c| Ok(escrow_service::transport::ceremony_client(addr, &c)?)) {
        Ok(c) => c,
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    match tokio::time::timeout(ASK_TIMEOUT, client.status(id)).await {
        Err(_) => Answer::Unreachable(format!("no answer within {} s", ASK_TIMEOUT.as_secs())),
        Ok(Ok(s)) => Answer::Status(Box::new(s.into_inner())),
        Ok(Err(s)) if s.code() == tonic::Code::NotFound => Answer::Unknown,
        Ok(Err(s)) => Answer::Unreachable(format!("{:?}: {}", s.code(), s.message())),
    }
}

/// What the answers add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every participant installed the same announcement (its body's SHA-256).
    Installed([u8; 32]),
    /// Every participant that answered aborted, and none installed.
    Aborted,
    /// Some participants are still in the ceremony and none has diverged yet.
    Running,
    /// Installed at some, not (or not the same) at others: the holders do not share
    /// one key. Names the ones that installed and the rest.
    Split {
        /// Installed it.
        installed: Vec<String>,
        /// Did not (aborted, unknown, unreachable, still running, or another announcement).
        not: Vec<String>,
    },
}

/// SHA-256 of an installed status's announcement body, if it is one.
fn installed_hash(s: &pb::CeremonyStatus) -> Option<[u8; 32]> {
    if s.phase != "installed" {
        return None;
    }
    let signed = escrow_crypto::SignedAnnouncement::from_bytes(&s.announcement).ok()?;
    Some(Sha256::digest(signed.body()).into())
}

/// The verdict over every participant's answer. Pure.
pub fn judge(reports: &[Report]) -> Verdict {
    let mut installed: Vec<(&str, [u8; 32])> = Vec::new();
    let mut not = Vec::new();
    let mut running = false;
    for r in reports {
        match &r.answer {
            Answer::Status(s) => match installed_hash(s) {
                Some(h) => installed.push((&r.trustee, h)),
                None => {
                    running |= s.phase != "aborted";
                    not.push(r.trustee.clone());
                }
            },
            Answer::Unknown | Answer::Unreachable(_) => not.push(r.trustee.clone()),
        }
    }
    let Some((_, first)) = installed.first().copied() else {
        return if running { Verdict::Running } else { Verdict::Aborted };
    };
    let same: Vec<String> = installed.iter().filter(|(_, h)| *h == first).map(|(t, _)| (*t).to_string()).collect();
    not.extend(installed.iter().filter(|(_, h)| *h != first).map(|(t, _)| (*t).to_string()));
    if not.is_empty() {
        Verdict::Installed(first)
    } else {
        Verdict::Split { installed: same, not }
    }
}

/// Whether every participant has an answer that will not change (installed, aborted,
/// unknown). Unreachable ones and running ones may still change.
pub fn settled(reports: &[Report]) -> bool {
    reports.iter().all(|r| match &r.answer {
        Answer::Status(s) => s.phase == "installed" || s.phase == "aborted",
        Answer::Unknown => true,
        Answer::Unreachable(_) => false,
    })
}

/// Where one participant stands, as `dkg status --all` and `dkg execute --wait` show
/// it: its line of text, its element of the JSON array.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Standing {
    /// Trustee id.
    pub trustee: String,
    /// Address asked.
    pub addr: String,
    /// What it answered.
    pub state: State,
    /// Its phase, if it answered with its status.
    pub phase: Option<String>,
    /// Installed: SHA-256 of the announcement's body (hex), if it decodes.
    pub announcement_sha256: Option<String>,
    /// Aborted: why.
    pub abort_reason: Option<String>,
    /// Unreachable: the error.
    pub error: Option<String>,
    /// Whether, and how, it is behind the others.
    pub behind: Option<Behind>,
    /// Behind and still in the ceremony: what its operator should run.
    pub remedy: Option<String>,
}

/// A participant's answer, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// It installed the ceremony's announcement.
    Installed,
    /// It aborted the ceremony.
    Aborted,
    /// It is still in the ceremony.
    Running,
    /// It does not know the ceremony.
    Unknown,
    /// No answer.
    Unreachable,
}

/// How a participant is behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behind {
    /// Still in the ceremony while others aborted.
    OthersAborted,
    /// Still in the ceremony while others finished.
    OthersFinished,
    /// Does not know the ceremony (restarted since, or the proposal never reached it).
    DoesNotKnow,
}

/// Where each participant stands. Pure.
pub fn standings(reports: &[Report]) -> Vec<Standing> {
    let any_final = reports
        .iter()
        .any(|r| matches!(&r.answer, Answer::Status(s) if s.phase == "installed" || s.phase == "aborted"));
    let any_aborted = reports.iter().any(|r| matches!(&r.answer, Answer::Status(s) if s.phase == "aborted"));
    reports
        .iter()
        .map(|r| {
            let mut st = Standing {
                trustee: r.trustee.clone(),
                addr: r.addr.clone(),
                state: State::Running,
                phase: None,
                announcement_sha256: None,
                abort_reason: None,
                error: None,
                behind: None,
                remedy: None,
            };
            match &r.answer {
                Answer::Status(s) => {
                    st.phase = Some(s.phase.clone());
                    if s.phase == "installed" {
                        st.state = State::Installed;
                        st.announcement_sha256 = installed_hash(s).map(hex::encode);
                    } else if s.phase == "aborted" {
                        st.state = State::Aborted;
                        st.abort_reason = Some(s.abort_reason.clone());
                    } else if any_aborted || any_final {
                        st.behind = Some(if any_aborted { Behind::OthersAborted } else { Behind::OthersFinished });
                        st.remedy =
                            Some(format!("escrow dkg abort --trustee {} --id {}", r.addr, hex::encode(&s.ceremony_id)));
                    }
                }
                Answer::Unknown => {
                    st.state = State::Unknown;
                    st.behind = Some(Behind::DoesNotKnow);
                }
                Answer::Unreachable(e) => {
                    st.state = State::Unreachable;
                    st.error = Some(e.clone());
                }
            }
            st
        })
        .collect()
}

impl Standing {
    /// Its line of text. Every string from a trustee is escaped.
    pub fn line(&self) -> String {
        let who = format!("{} ({})", text(&self.trustee), text(&self.addr));
        let phase = text(self.phase.as_deref().unwrap_or_default()).into_owned();
        let remedy = text(self.remedy.as_deref().unwrap_or_default()).into_owned();
        let what = match (self.state, self.behind) {
            (State::Installed, _) => match &self.announcement_sha256 {
                Some(h) => format!("installed announcement {}…", h.get(..16).unwrap_or_default()),
                None => "installed, but its announcement does not decode".into(),
            },
            (State::Aborted, _) => format!("aborted: {}", text(self.abort_reason.as_deref().unwrap_or_default())),
            (State::Running, Some(Behind::OthersAborted)) => {
                format!("BEHIND: still {phase} while others aborted; its operator should run `{remedy}`")
            }
            (State::Running, Some(_)) => {
                format!("BEHIND: still {phase} while others finished; it ends at its own deadline (or run `{remedy}`)")
            }
            (State::Running, None) => phase,
            (State::Unknown, _) => {
                "BEHIND: does not know this ceremony (restarted since, or the proposal never reached it)".into()
            }
            (State::Unreachable, _) => format!("UNREACHABLE: {}", text(self.error.as_deref().unwrap_or_default())),
        };
        format!("  {who}: {what}")
    }
}

/// One line per participant: where it stands, and what its operator should do when it
/// is behind; then the verdict. Every string from a trustee is escaped.
pub fn lines(reports: &[Report], verdict: &Verdict) -> Vec<String> {
    standings(reports).iter().map(Standing::line).chain(std::iter::once(summary(verdict))).collect()
}

/// The verdict's line of text.
fn summary(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Installed(h) => {
            format!("every participant installed announcement {}…", hex::encode(&h[..8]))
        }
        Verdict::Aborted => "the ceremony ended with nothing installed; a new proposal is the remedy".into(),
        Verdict::Running => "the ceremony is still running".into(),
        Verdict::Split { installed, not } => format!(
            "SPLIT INSTALL: installed at {} but not at {}. Do not hand this announcement to the relay. The \
             holders that installed it can reshare it to every player (`escrow reshare --epoch ... --dealer ...` \
             naming them as dealers; it needs t+1 of them), or propose another epoch.",
            installed.iter().map(|t| text(t)).collect::<Vec<_>>().join(", "),
            not.iter().map(|t| text(t)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The verdict, as `--json` gives it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerdictJson {
    /// installed, aborted, running or split.
    pub outcome: &'static str,
    /// Installed at some participants but not (or not the same) at others.
    pub split: bool,
    /// Installed everywhere: SHA-256 of the announcement's body (hex).
    pub announcement_sha256: Option<String>,
    /// A split: the participants that installed it.
    pub installed: Option<Vec<String>>,
    /// A split: the rest.
    pub not_installed: Option<Vec<String>>,
}

impl VerdictJson {
    /// `verdict`, for JSON.
    pub fn of(verdict: &Verdict) -> Self {
        let (outcome, hash, installed, not) = match verdict {
            Verdict::Installed(h) => ("installed", Some(hex::encode(h)), None, None),
            Verdict::Aborted => ("aborted", None, None, None),
            Verdict::Running => ("running", None, None, None),
            Verdict::Split { installed, not } => ("split", None, Some(installed.clone()), Some(not.clone())),
        };
        VerdictJson {
            outcome,
            split: matches!(verdict, Verdict::Split { .. }),
            announcement_sha256: hash,
            installed,
            not_installed: not,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: &str, announcement: Vec<u8>) -> Answer {
        Answer::Status(Box::new(pb::CeremonyStatus {
            ceremony_id: vec![7; 16],
            phase: phase.into(),
            announcement,
            abort_reason: if phase == "aborted" {
                "timed out in Agreeing waiting for trustee-4".into()
            } else {
                String::new()
            },
            ..Default::default()
        }))
    }

    fn report(t: &str, answer: Answer) -> Report {
        Report { trustee: t.into(), addr: format!("{t}:7000"), answer }
    }

    /// A real signed announcement's bytes (one holder, signed; a fresh key each call),
    /// and its body hash.
    fn announcement() -> (Vec<u8>, [u8; 32]) {
        use escrow_crypto::announce::ANNOUNCEMENT_SIG_DST;
        use escrow_crypto::{dealer_keygen, Announcement, EpochId, PartyId, SignedAnnouncement, TrusteeSigningKey};
        let mut rng = rand::rngs::OsRng;
        let key = TrusteeSigningKey::generate(PartyId::new("trustee-0").unwrap(), &mut rng);
        let a = Announcement {
            key_set: dealer_keygen(EpochId(2), 0, 1, &mut rng).unwrap().public,
            generation: 0,
            holders: vec![key.trustee().clone()],
            valid_from: 1,
            destroy_at: 2,
            transcript: [0; 32],
            modes: escrow_crypto::Modes::PER_MESSAGE,
        };
        let body = a.to_bytes().unwrap();
        let signed =
            SignedAnnouncement::new(body.clone(), vec![(key.trustee().clone(), key.sign(ANNOUNCEMENT_SIG_DST, &body))]);
        (signed.to_bytes(), Sha256::digest(&body).into())
    }

    #[test]
    fn the_verdict_names_a_split_and_who_is_behind() {
        let (a, ha) = announcement();
        let (b, _) = announcement();
        let all = vec![report("t-0", status("installed", a.clone())), report("t-1", status("installed", a.clone()))];
        assert_eq!(judge(&all), Verdict::Installed(ha));
        assert!(settled(&all));

        // The case: 0, 1, 3 installed; 2 aborted; 4 restarted and forgot it.
        let split = vec![
            report("t-0", status("installed", a.clone())),
            report("t-1", status("installed", a.clone())),
            report("t-2", status("aborted", Vec::new())),
            report("t-3", status("installed", a.clone())),
            report("t-4", Answer::Unknown),
        ];
        let v = judge(&split);
        assert_eq!(
            v,
            Verdict::Split {
                installed: vec!["t-0".into(), "t-1".into(), "t-3".into()],
                not: vec!["t-2".into(), "t-4".into()]
            }
        );
        let text = lines(&split, &v).join("\n");
        assert!(text.contains("t-4 (t-4:7000): BEHIND: does not know this ceremony"), "{text}");
        assert!(text.contains("SPLIT INSTALL: installed at t-0, t-1, t-3 but not at t-2, t-4"), "{text}");

        // Two different announcements: a split too.
        let two = vec![report("t-0", status("installed", a.clone())), report("t-1", status("installed", b))];
        assert!(matches!(judge(&two), Verdict::Split { .. }));

        // Stranded: one still ready after the others aborted; unreachable is not settled.
        let stranded = vec![
            report("t-0", status("aborted", Vec::new())),
            report("t-1", status("ready", Vec::new())),
            report("t-2", Answer::Unreachable("connection refused".into())),
        ];
        assert_eq!(judge(&stranded), Verdict::Running);
        assert!(!settled(&stranded));
        let text = lines(&stranded, &judge(&stranded)).join("\n");
        assert!(
            text.contains("t-1 (t-1:7000): BEHIND: still ready while others aborted; its operator should run `escrow dkg abort --trustee t-1:7000 --id 07070707070707070707070707070707`"),
            "{text}"
        );
        assert!(text.contains("t-2 (t-2:7000): UNREACHABLE: connection refused"), "{text}");
        let aborted = vec![report("t-0", status("aborted", Vec::new())), report("t-1", Answer::Unknown)];
        assert_eq!(judge(&aborted), Verdict::Aborted);
    }
}
