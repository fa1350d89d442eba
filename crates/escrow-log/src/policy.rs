//! C2SP `tlog-policy`: which logs are known, which witnesses, and which sets of
//! witness cosignatures make a checkpoint count.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> <k>|all|any <member>...
//! quorum <name>|none
//! ```
//!
//! Lines are separated by newlines, items by ASCII spaces and tabs; `#` starts a
//! comment line. A group or the quorum may only name witnesses and groups defined
//! above it, a name may be a group member once in the whole file, and no two logs or
//! witnesses may wrap the same public key. The spec treats high-bit octets (0x80–0xFF)
//! as opaque and only recommends UTF-8, so [`Policy::from_bytes`] takes a comment
//! line's bytes as they are (a comment in Latin-1 is still a comment), while every
//! other line must be UTF-8: a name or key with a stray high-bit byte is refused, as
//! the names are shown and compared as text. [`Policy::verify`] accepts a checkpoint
//! signed by a listed log (whose key name is the checkpoint's origin) and cosigned to
//! the quorum.

use std::str::FromStr;

use crate::checkpoint::Checkpoint;
use crate::cosignature::{verify_cosignatures, WitnessVerifier};
use crate::error::LogError;
use crate::note::{split_note, CheckpointVerifier};

/// Policies longer than this are refused before parsing.
pub const MAX_POLICY_LEN: usize = 256 * 1024;
/// At most this many logs, witnesses and groups each (the spec recommends supporting
/// at least 32).
pub const MAX_ENTRIES: usize = 1024;

/// A log the policy accepts checkpoints from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its key; the key name is the log's origin.
    pub key: CheckpointVerifier,
    /// Where to reach it, if given.
    pub url: Option<String>,
}

/// A witness the policy counts cosignatures from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name inside the policy (for groups and the quorum only).
    pub name: String,
    /// Its `cosignature/v1` key.
    pub key: WitnessVerifier,
    /// Its submission prefix, if given.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed, well-formed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Option<Member>,
}

/// A checkpoint signed by a policy log and cosigned to the policy's quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The policy names of the witnesses whose cosignatures verified, with their
    /// timestamps, in policy order.
    pub cosigners: Vec<(String, u64)>,
}

fn bad(line: usize, reason: impl Into<String>) -> LogError {
    LogError::MalformedPolicy { line, reason: reason.into() }
}

/// A name as the spec allows it: no ASCII control characters (the splitting on
/// spaces and tabs already keeps those out).
fn check_policy_name(line: usize, name: &str) -> Result<(), LogError> {
    if name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad(line, "control character in a name"));
    }
    Ok(())
}

impl Policy {
    /// Parses a policy file's bytes: comment lines are opaque (any byte but a control
    /// character), every other line must be UTF-8. Read policy files with this, not
    /// as a `String`, or a comment in another encoding refuses the whole file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogError> {
        if bytes.len() > MAX_POLICY_LEN {
            return Err(bad(0, format!("policy is {} bytes; the limit is {MAX_POLICY_LEN}", bytes.len())));
        }
        let mut text = String::with_capacity(bytes.len());
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                text.push('\n');
            }
            let is_comment = raw.iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b'#');
            match std::str::from_utf8(raw) {
                Ok(line) => text.push_str(line),
                // Control characters stay refused (by the text parser, which sees them
                // because only the high-bit bytes are dropped); the rest is opaque.
                Err(_) if is_comment => text.extend(raw.iter().filter(|b| b.is_ascii()).map(|&b| char::from(b))),
                Err(_) => return Err(bad(i + 1, "not UTF-8 (bytes 0x80-0xFF are allowed only in comments)")),
            }
        }
        text.parse()
    }
}

impl FromStr for Policy {
    type Err = LogError;

    fn from_str(text: &str) -> Result<Self, LogError> {
        if text.len() > MAX_POLICY_LEN {
            return Err(bad(0, format!("policy is {} bytes; the limit is {MAX_POLICY_LEN}", text.len())));
        }
        if let Some(i) = text.bytes().position(|b| (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f) {
            return Err(bad(text.get(..i).map_or(0, |t| t.matches('\n').count() + 1), "control character"));
        }
        let mut policy = Policy { logs: Vec::new(), witnesses: Vec::new(), groups: Vec::new(), quorum: None };
        let mut quorum_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let items: Vec<&str> = raw.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
            let Some((&keyword, args)) = items.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [vkey] => (vkey, None),
                        [vkey, url] => (vkey, Some((*url).to_owned())),
                        _ => return Err(bad(line, "expected: log <vkey> [<url>]")),
                    };
                    let key: CheckpointVerifier = vkey.parse().map_err(|e: LogError| bad(line, e.to_string()))?;
                    if policy.logs.iter().any(|l| l.key.key_bytes() == key.key_bytes()) {
                        return Err(bad(line, "duplicate log key"));
                    }
                    if policy.logs.len() == MAX_ENTRIES {
                        return Err(bad(line, format!("more than {MAX_ENTRIES} logs")));
                    }
                    policy.logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [name, vkey] => (name, vkey, None),
                        [name, vkey, url] => (name, vkey, Some((*url).to_owned())),
                        _ => return Err(bad(line, "expected: witness <name> <vkey> [<url>]")),
                    };
                    policy.check_new_name(line, name)?;
                    let key: WitnessVerifier = vkey.parse().map_err(|e: LogError| bad(line, e.to_string()))?;
                    if policy.witnesses.iter().any(|w| w.key.key_bytes() == key.key_bytes()) {
                        return Err(bad(line, "duplicate witness key"));
                    }
                    if policy.witnesses.len() == MAX_ENTRIES {
                        return Err(bad(line, format!("more than {MAX_ENTRIES} witnesses")));
                    }
                    policy.witnesses.push(PolicyWitness { name: (*name).to_owned(), key, url });
                }
                "group" => {
                    let [name, threshold, members @ ..] = args else {
                        return Err(bad(line, "expected: group <name> <k>|all|any <member>..."));
                    };
                    policy.check_new_name(line, name)?;
                    if members.is_empty() {
                        return Err(bad(line, "a group needs at least one member"));
                    }
                    let mut resolved = Vec::with_capacity(members.len());
                    for member in members {
                        let m = policy.resolve(line, member)?;
                        // Each name may be a member once in the whole policy, so a
                        // witness counts towards the quorum in one way only.
                        if resolved.contains(&m) || policy.groups.iter().any(|g| g.members.contains(&m)) {
                            return Err(bad(line, format!("{member} is listed as a group member more than once")));
                        }
                        resolved.push(m);
                    }
                    let n = resolved.len();
                    let k = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k => match k.parse::<usize>() {
                            Ok(k) if k.to_string() == *threshold && (1..=n).contains(&k) => k,
                            _ => return Err(bad(line, format!("threshold {k:?} is not all, any or 1..={n}"))),
                        },
                    };
                    if policy.groups.len() == MAX_ENTRIES {
                        return Err(bad(line, format!("more than {MAX_ENTRIES} groups")));
                    }
                    policy.groups.push(Group { name: (*name).to_owned(), threshold: k, members: resolved });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(bad(line, "expected: quorum <name>"));
                    };
                    if quorum_seen {
                        return Err(bad(line, "a second quorum line"));
                    }
                    quorum_seen = true;
                    policy.quorum = if *name == "none" { None } else { Some(policy.resolve(line, name)?) };
                }
                other => return Err(bad(line, format!("unknown keyword {other:?}"))),
            }
        }
        if !quorum_seen {
            return Err(bad(0, "no quorum line"));
        }
        Ok(policy)
    }
}

impl Policy {
    fn check_new_name(&self, line: usize, name: &str) -> Result<(), LogError> {
        check_policy_name(line, name)?;
        if name == "none" {
            return Err(bad(line, "\"none\" is reserved"));
        }
        if self.witnesses.iter().any(|w| w.name == name) || self.groups.iter().any(|g| g.name == name) {
            return Err(bad(line, format!("{name} is already defined")));
        }
        Ok(())
    }

    fn resolve(&self, line: usize, name: &str) -> Result<Member, LogError> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return Ok(Member::Group(i));
        }
        Err(bad(line, format!("{name} is not defined above this line")))
    }

    /// The logs, in file order.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses, in file order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The listed log whose key name is `origin`.
    pub fn log(&self, origin: &str) -> Option<&PolicyLog> {
        self.logs.iter().find(|l| l.key.name() == origin)
    }

    /// Whether the quorum is `none` (no cosignature needed).
    pub fn needs_no_witness(&self) -> bool {
        self.quorum.is_none()
    }

    fn witnessed(&self, member: Member, cosigned: &[bool]) -> bool {
        match member {
            Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
            // Groups only refer to earlier groups, so this recursion ends.
            Member::Group(i) => self
                .groups
                .get(i)
                .is_some_and(|g| g.members.iter().filter(|m| self.witnessed(**m, cosigned)).count() >= g.threshold),
        }
    }

    /// Whether cosignatures from the witnesses flagged in `cosigned` (policy order)
    /// satisfy the quorum.
    pub fn quorum_met(&self, cosigned: &[bool]) -> bool {
        self.quorum.is_none_or(|q| self.witnessed(q, cosigned))
    }

    /// The quorum in words, for errors: `"group X-and-Y"`, `"witness w1"`, `"none"`.
    pub fn quorum_name(&self) -> String {
        match self.quorum {
            None => "none".to_owned(),
            Some(Member::Witness(i)) => format!("witness {}", self.witnesses.get(i).map_or("?", |w| w.name.as_str())),
            Some(Member::Group(i)) => format!("group {}", self.groups.get(i).map_or("?", |g| g.name.as_str())),
        }
    }

    /// Verifies a cosigned checkpoint note: signed by the listed log named by its
    /// origin, with cosignatures from listed witnesses meeting the quorum. Unknown
    /// signature lines are ignored; a forged line from a listed key fails the note.
    pub fn verify(&self, note: &[u8]) -> Result<WitnessedCheckpoint, LogError> {
        let (text, _) = split_note(note)?;
        let origin = text.split('\n').next().unwrap_or_default();
        let log = self.log(origin).ok_or_else(|| LogError::UnknownLog { origin: origin.to_owned() })?;
        let checkpoint = log.key.verify_for_origin(note, origin)?;
        let keys: Vec<WitnessVerifier> = self.witnesses.iter().map(|w| w.key.clone()).collect();
        let valid = verify_cosignatures(note, &keys)?;
        let mut cosigned = vec![false; self.witnesses.len()];
        for c in &valid {
            if let Some(flag) = cosigned.get_mut(c.witness) {
                *flag = true;
            }
        }
        let names = |flags: &[bool]| -> Vec<String> {
            self.witnesses.iter().zip(flags).filter(|(_, f)| **f).map(|(w, _)| w.name.clone()).collect()
        };
        if !self.quorum_met(&cosigned) {
            return Err(LogError::QuorumNotMet { quorum: self.quorum_name(), cosigned: names(&cosigned) });
        }
        // One entry per witness already (verify_cosignatures); listed in policy order.
        let mut valid = valid;
        valid.sort_by_key(|c| c.witness);
        let cosigners =
            valid.iter().filter_map(|c| self.witnesses.get(c.witness).map(|w| (w.name.clone(), c.timestamp))).collect();
        Ok(WitnessedCheckpoint { checkpoint, cosigners })
    }
}
