//! "Only our own users": escrow domains per jurisdiction, and how much of *other*
//! jurisdictions' traffic each government can open alone under each composition rule.
//!
//! # Model
//!
//! Each party of a message (its sender and its recipient) has a home jurisdiction. Let
//! `E` be the set of *escrowing* domains among the parties' homes (a domain without
//! escrow adds nothing). A deployment composes escrow across domains by one [`Rule`]:
//!
//! - [`Rule::AnyOf`]: one escrow field per domain in `E`; domain `A` opens alone iff
//!   `A ∈ E`.
//! - [`Rule::AllOf`]: the data key is XOR-split across the domains in `E`; `A` opens
//!   alone iff `E = {A}` (so a message between `A` and a domain without escrow is still
//!   `A`'s alone).
//! - [`Rule::HomeOfSender`]: only the sender's domain escrows; `A` opens iff the sender
//!   lives in `A` and `A` escrows.
//! - [`Rule::Worldwide`], the baseline: one key for every user of the service, held by
//!   the first jurisdiction listed, which opens every message.
//!
//! The traffic is a synthetic contact graph ([`ContactGraph`]): `N` users apportioned
//! to jurisdictions by population share (largest remainder), each with `k` contacts;
//! each contact is, with probability `x` (the cross-border share), a uniformly drawn
//! user outside the user's own jurisdiction (so another jurisdiction is chosen in
//! proportion to its population), else a uniformly drawn other user of its own. Each
//! contact carries `m` one-to-one messages, each in a direction drawn at random.
//!
//! For each rule, opener `A` and victim `B`, the *reach* is the share of `B`'s users'
//! messages (those with a party whose home is `B`) that `A` opens alone; `A = B` is
//! `A`'s coverage of its own users. It is computed twice: **analytically**, from the
//! expected flow of messages between each pair of homes, and **by simulation** over a
//! seeded ChaCha20 graph, with a standard error, and the two must agree.
//!
//! Only homes matter to every rule, so the simulation tallies messages by the pair
//! (sender's home, recipient's home) and both computations apply the same predicate
//! ([`Rule::opens`]) to their matrix of flows.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use crate::render::{aligned, markdown};

mod plot;
pub use plot::{plot_jurisdiction_reach, plot_spillover};

/// The cross-border share of contacts used when none is given: an **assumption**, not
/// a measurement. It matches the figure of about 84% of Facebook friendships within one
/// country attributed to Ugander, Karrer, Backstrom and Marlow, "The Anatomy of the
/// Facebook Social Graph" (arXiv:1111.4503, 2011). That paper's abstract reports a
/// community structure "driven by nationality"; the 84% itself was not checked against
/// its text, and friendships are not messages.
pub const DEFAULT_CROSS_BORDER: f64 = 0.16;

/// At most this many messages per contact.
pub const MAX_MESSAGES_PER_CONTACT: u32 = 1000;

/// The cross-border shares of the spillover plot's x axis: 0 to 60% by 2%.
pub const SWEEP_STEPS: u32 = 30;
/// The right end of the spillover plot's x axis.
pub const SWEEP_MAX: f64 = 0.6;

/// At most this many users: the graph holds one `u32` per contact.
pub const MAX_USERS: u32 = 10_000_000;
/// At most this many contacts in all (`users × contacts`), about 80 MB of graph.
pub const MAX_CONTACTS_TOTAL: u64 = 20_000_000;

/// How escrow composes when a message's parties live in different jurisdictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// One escrow field per escrowing domain among the parties' homes; each domain's
    /// quorum opens alone.
    AnyOf,
    /// The data key split across every escrowing domain involved; all must agree.
    AllOf,
    /// Only the sender's domain escrows.
    HomeOfSender,
    /// Today's single key for every user, held by the first jurisdiction listed (what
    /// a worldwide order asks for): the baseline.
    Worldwide,
}

impl Rule {
    /// Every rule, the baseline last.
    pub const ALL: [Rule; 4] = [Rule::AnyOf, Rule::AllOf, Rule::HomeOfSender, Rule::Worldwide];

    /// The rule's name in tables and plots.
    pub fn name(self) -> &'static str {
        match self {
            Rule::AnyOf => "any-of",
            Rule::AllOf => "all-of",
            Rule::HomeOfSender => "home-of-sender",
            Rule::Worldwide => "worldwide key",
        }
    }

    /// Whether jurisdiction `opener` opens alone a message from a user of `sender` to a
    /// user of `recipient` (indices into `domains`; the first domain holds the
    /// worldwide key). An index out of range escrows nothing.
    pub fn opens(self, opener: usize, sender: usize, recipient: usize, domains: &[Jurisdiction]) -> bool {
        let escrows = |i: usize| domains.get(i).is_some_and(|d| d.escrows);
        let in_e = |a: usize| escrows(a) && (a == sender || a == recipient);
        match self {
            Rule::AnyOf => in_e(opener),
            // E = {opener}: the opener is in E and no other party's home escrows.
            Rule::AllOf => in_e(opener) && [sender, recipient].iter().all(|&h| h == opener || !escrows(h)),
            Rule::HomeOfSender => sender == opener && escrows(opener),
            Rule::Worldwide => opener == 0,
        }
    }
}

/// One jurisdiction: its name, its share of the users, whether it escrows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jurisdiction {
    /// A short name ("uk").
    pub name: String,
    /// Its share of the service's users, in `(0, 1]`; all shares sum to 1.
    pub share: f64,
    /// Whether it runs an escrow domain (trustees and epoch keys of its own).
    pub escrows: bool,
}

impl Jurisdiction {
    /// A jurisdiction named `name` with `share` of the users.
    pub fn new(name: &str, share: f64, escrows: bool) -> Self {
        Jurisdiction { name: name.to_owned(), share, escrows }
    }
}

/// Why a scenario was refused; each variant names the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JurisdictionError {
    /// No users, or more than [`MAX_USERS`].
    #[error("users = {0}: must be between 1 and {MAX_USERS}")]
    Users(u32),
    /// Users with no contacts send no messages.
    #[error("contacts = 0: each user needs at least one contact")]
    Contacts,
    /// Contacts that carry no messages, or more than [`MAX_MESSAGES_PER_CONTACT`].
    #[error("messages per contact = {0}: must be between 1 and {MAX_MESSAGES_PER_CONTACT}")]
    Messages(u32),
    /// `users × contacts` above [`MAX_CONTACTS_TOTAL`].
    #[error("users × contacts = {0}: at most {MAX_CONTACTS_TOTAL} contacts in all")]
    GraphSize(u64),
    /// The cross-border share is NaN or outside `[0, 1]`.
    #[error("cross-border share x = {0}: must be a number in [0, 1]")]
    CrossBorder(f64),
    /// Fewer than two jurisdictions: nothing can cross a border.
    #[error("{0} jurisdiction(s): at least 2 are needed")]
    JurisdictionCount(usize),
    /// A name that is empty or given twice.
    #[error("jurisdiction name {0:?}: names must be non-empty and distinct")]
    Name(String),
    /// A population share that is NaN or outside `(0, 1]`.
    #[error("jurisdiction {name:?}: population share {share} must be a number in (0, 1]")]
    Share {
        /// The jurisdiction.
        name: String,
        /// Its rejected share.
        share: f64,
    },
    /// Shares that do not sum to 1 (within 1e-6).
    #[error("population shares sum to {0}, not 1")]
    ShareSum(f64),
    /// A jurisdiction that gets fewer than 2 users (one could only talk abroad).
    #[error("users = {users}: jurisdiction {name:?} gets {got} users, and every jurisdiction needs at least 2")]
    TooFewUsers {
        /// Total users asked for.
        users: u32,
        /// The jurisdiction left too small.
        name: String,
        /// The users it got.
        got: u32,
    },
}

/// One run: the jurisdictions and the graph's size, shape and seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// The jurisdictions; the first holds the worldwide key of the baseline and is the
    /// opener of the spillover plot, the second its victim.
    pub jurisdictions: Vec<Jurisdiction>,
    /// `N`, the users.
    pub users: u32,
    /// `k`, contacts per user.
    pub contacts: u32,
    /// `m`, messages per contact, each in a random direction.
    pub messages_per_contact: u32,
    /// `x`, the probability that a contact lives in another jurisdiction.
    pub cross_border: f64,
    /// Seed of the ChaCha20 generator that draws the graph and the messages.
    pub seed: u64,
}

impl Default for Scenario {
    /// The illustrative default: "uk" (10% of users, escrows), "us" (50%, escrows) and
    /// "no-escrow" (40%, a domain with no escrow at all), UK to US about 1 to 5 as
    /// their populations are; 100,000 users with 20 contacts and 5 messages each; `x`
    /// = [`DEFAULT_CROSS_BORDER`]; seed 1.
    fn default() -> Self {
        Scenario {
            jurisdictions: vec![
                Jurisdiction::new("uk", 0.10, true),
                Jurisdiction::new("us", 0.50, true),
                Jurisdiction::new("no-escrow", 0.40, false),
            ],
            users: 100_000,
            contacts: 20,
            messages_per_contact: 5,
            cross_border: DEFAULT_CROSS_BORDER,
            seed: 1,
        }
    }
}

impl Scenario {
    /// Checks every parameter, naming the first at fault.
    pub fn validate(&self) -> Result<(), JurisdictionError> {
        self.user_counts().map(|_| ())
    }

    /// The users of each jurisdiction (largest-remainder apportionment of `users` by
    /// share), after checking every parameter.
    pub fn user_counts(&self) -> Result<Vec<u32>, JurisdictionError> {
        let Scenario { ref jurisdictions, users, contacts, messages_per_contact, cross_border, .. } = *self;
        if users == 0 || users > MAX_USERS {
            return Err(JurisdictionError::Users(users));
        }
        if contacts == 0 {
            return Err(JurisdictionError::Contacts);
        }
        if messages_per_contact == 0 || messages_per_contact > MAX_MESSAGES_PER_CONTACT {
            return Err(JurisdictionError::Messages(messages_per_contact));
        }
        let total = u64::from(users) * u64::from(contacts);
        if total > MAX_CONTACTS_TOTAL {
            return Err(JurisdictionError::GraphSize(total));
        }
        if !(0.0..=1.0).contains(&cross_border) {
            return Err(JurisdictionError::CrossBorder(cross_border));
        }
        if jurisdictions.len() < 2 {
            return Err(JurisdictionError::JurisdictionCount(jurisdictions.len()));
        }
        for (i, j) in jurisdictions.iter().enumerate() {
            if j.name.trim().is_empty() || jurisdictions.iter().take(i).any(|o| o.name == j.name) {
                return Err(JurisdictionError::Name(j.name.clone()));
            }
            if !(j.share > 0.0 && j.share <= 1.0) {
                return Err(JurisdictionError::Share { name: j.name.clone(), share: j.share });
            }
        }
        let sum: f64 = jurisdictions.iter().map(|j| j.share).sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(JurisdictionError::ShareSum(sum));
        }
        // Largest remainder: floors first, then one more to the largest remainders.
        let exact: Vec<f64> = jurisdictions.iter().map(|j| j.share / sum * f64::from(users)).collect();
        // Below `users`, so the cast neither truncates nor wraps.
        let mut counts: Vec<u32> = exact.iter().map(|e| e.floor() as u32).collect();
        let mut order: Vec<usize> = (0..exact.len()).collect();
        let rem = |i: usize| exact.get(i).map_or(0.0, |e| e - e.floor());
        order.sort_by(|&a, &b| rem(b).total_cmp(&rem(a)).then(a.cmp(&b)));
        let left = users.saturating_sub(counts.iter().sum());
        for &i in order.iter().cycle().take(left as usize) {
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        for (j, &got) in jurisdictions.iter().zip(&counts) {
            if got < 2 {
                return Err(JurisdictionError::TooFewUsers { users, name: j.name.clone(), got });
            }
        }
        Ok(counts)
    }

    /// This scenario with another cross-border share.
    pub fn with_cross_border(&self, x: f64) -> Scenario {
        Scenario { cross_border: x, ..self.clone() }
    }

    /// The expected share of messages from a user of `s` to a user of `r`, as
    /// `flows[s][r]` (summing to 1), for the apportioned user counts.
    ///
    /// A message's initiator is a uniformly drawn user (each has `k` contacts of `m`
    /// messages), of home `i` with probability `n_i / N`; its contact is at home
    /// (probability `1 - x`) or in `j != i` with probability `x n_j / (N - n_i)`; the
    /// direction is a fair coin, so `flows[s][r] = (P(i=s, j=r) + P(i=r, j=s)) / 2`.
    pub fn flows(&self) -> Result<Vec<Vec<f64>>, JurisdictionError> {
        let counts = self.user_counts()?;
        let n = f64::from(self.users);
        let x = self.cross_border;
        let pair = |i: usize, j: usize| -> f64 {
            let (ni, nj) = (count(&counts, i), count(&counts, j));
            let contact = if i == j { 1.0 - x } else { x * nj / (n - ni) };
            ni / n * contact
        };
        let len = counts.len();
        Ok((0..len).map(|s| (0..len).map(|r| (pair(s, r) + pair(r, s)) / 2.0).collect()).collect())
    }
}

fn count(counts: &[u32], i: usize) -> f64 {
    counts.get(i).map_or(0.0, |&c| f64::from(c))
}

/// The synthetic contact graph: users numbered by jurisdiction, `k` contacts each.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactGraph {
    /// The first user of each jurisdiction, then `N`: jurisdiction `j` is users
    /// `starts[j]..starts[j + 1]`.
    pub starts: Vec<u32>,
    /// User `u`'s contacts are `contacts[u k .. (u + 1) k]`.
    pub contacts: Vec<u32>,
    /// `k`.
    pub per_user: u32,
}

impl ContactGraph {
    /// Draws the graph of `scenario` from `rng` (see the module's model).
    pub fn generate(scenario: &Scenario, rng: &mut ChaCha20Rng) -> Result<Self, JurisdictionError> {
        let counts = scenario.user_counts()?;
        let mut starts = vec![0u32];
        for c in &counts {
            starts.push(starts.last().copied().unwrap_or(0) + c);
        }
        let n = scenario.users;
        let k = scenario.contacts;
        let mut contacts = Vec::with_capacity(n as usize * k as usize);
        for (lo, hi) in starts.iter().zip(starts.iter().skip(1)).map(|(&lo, &hi)| (lo, hi)) {
            for u in lo..hi {
                for _ in 0..k {
                    let abroad = rng.gen::<f64>() < scenario.cross_border;
                    let v = if abroad {
                        // Uniform over the users outside lo..hi: proportional to population.
                        let v = rng.gen_range(0..n - (hi - lo));
                        if v >= lo {
                            v + (hi - lo)
                        } else {
                            v
                        }
                    } else {
                        // Uniform over the others at home (at least 2 users live here).
                        let v = rng.gen_range(lo..hi - 1);
                        if v >= u {
                            v + 1
                        } else {
                            v
                        }
                    };
                    contacts.push(v);
                }
            }
        }
        Ok(ContactGraph { starts, contacts, per_user: k })
    }

    /// The jurisdiction of user `u`.
    pub fn home(&self, u: u32) -> usize {
        self.starts.partition_point(|&s| s <= u).saturating_sub(1)
    }

    /// Sends `m` messages along every contact, each in a direction drawn from `rng`,
    /// and counts them by (sender's home, recipient's home); also counts the contacts by
    /// the pair of homes, unordered, as `contacts[min][max]`.
    pub fn tally(&self, m: u32, rng: &mut ChaCha20Rng) -> Tally {
        let len = self.starts.len().saturating_sub(1);
        let mut tally = Tally { messages: vec![vec![0; len]; len], contacts: vec![vec![0; len]; len] };
        let k = self.per_user.max(1) as usize;
        for (u, row) in (0u32..).zip(self.contacts.chunks(k)) {
            let hu = self.home(u);
            for &v in row {
                let hv = self.home(v);
                bump(&mut tally.contacts, hu.min(hv), hu.max(hv), 1);
                let forward = (0..m).filter(|_| rng.gen::<bool>()).count() as u64;
                bump(&mut tally.messages, hu, hv, forward);
                bump(&mut tally.messages, hv, hu, u64::from(m) - forward);
            }
        }
        tally
    }
}

fn bump(matrix: &mut [Vec<u64>], i: usize, j: usize, by: u64) {
    if let Some(cell) = matrix.get_mut(i).and_then(|row| row.get_mut(j)) {
        *cell += by;
    }
}

/// Messages and contacts of a simulated graph, by the homes of their ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    /// `messages[s][r]`: messages from a user of `s` to a user of `r`.
    pub messages: Vec<Vec<u64>>,
    /// `contacts[i][j]`, `i <= j`: contacts between a user of `i` and one of `j`.
    pub contacts: Vec<Vec<u64>>,
}

impl Tally {
    /// Contacts with an end in `b`: the independent units of the simulation (the `m`
    /// messages of one contact share their homes), so the standard error counts these.
    fn contacts_touching(&self, b: usize) -> u64 {
        let mut sum = 0;
        for (i, row) in self.contacts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                if i == b || j == b {
                    sum += c;
                }
            }
        }
        sum
    }
}

/// The share of `victim`'s users' messages that `opener` opens alone under `rule`,
/// given the flows `w[s][r]` (any non-negative weights); 0 if `victim` has none.
pub fn reach_share(rule: Rule, opener: usize, victim: usize, w: &[Vec<f64>], domains: &[Jurisdiction]) -> f64 {
    let (mut opened, mut involving) = (0.0, 0.0);
    for (s, row) in w.iter().enumerate() {
        for (r, &cell) in row.iter().enumerate() {
            if s == victim || r == victim {
                involving += cell;
                if rule.opens(opener, s, r, domains) {
                    opened += cell;
                }
            }
        }
    }
    if involving > 0.0 {
        opened / involving
    } else {
        0.0
    }
}

/// The share of `victim`'s users' messages, in flows `w`, whose other party lives
/// elsewhere.
fn crossing_share(w: &[Vec<f64>], victim: usize) -> f64 {
    let (mut crossing, mut involving) = (0.0, 0.0);
    for (s, row) in w.iter().enumerate() {
        for (r, &cell) in row.iter().enumerate() {
            if s == victim || r == victim {
                involving += cell;
                if s != r {
                    crossing += cell;
                }
            }
        }
    }
    if involving > 0.0 {
        crossing / involving
    } else {
        0.0
    }
}

/// One rule, opener and victim: the share of the victim's users' messages the opener
/// opens alone, exact and simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reach {
    /// The composition rule.
    pub rule: Rule,
    /// The government opening.
    pub opener: String,
    /// The jurisdiction whose users' messages are counted (the opener's own: coverage).
    pub victim: String,
    /// The model's expected share.
    pub analytic: f64,
    /// The share in the simulated graph.
    pub simulated: f64,
    /// The simulated share's standard error, `sqrt(s (1 - s) / c)` with `c` the contacts
    /// touching the victim (an upper bound: a contact's `m` messages average out).
    pub std_error: f64,
    /// `c`: contacts touching the victim in the simulated graph.
    pub contacts: u64,
}

impl Reach {
    /// Whether the simulation agrees with the model: within 4 standard errors (taken
    /// at whichever of the two shares gives the larger), never tighter than `1 / c`.
    pub fn agrees(&self) -> bool {
        let c = self.contacts.max(1) as f64;
        let se = self.std_error.max((self.analytic * (1.0 - self.analytic) / c).max(0.0).sqrt());
        (self.simulated - self.analytic).abs() <= (4.0 * se).max(1.0 / c)
    }
}

/// One cross-border share on the spillover plot: the first jurisdiction's reach into
/// the second's users under each rule, exact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// `x`.
    pub cross_border: f64,
    /// The reach under each rule, in the order of [`Rule::ALL`].
    pub reach: Vec<f64>,
}

/// What `jurisdictions.json` holds: the scenario, every reach, and the sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JurisdictionsReport {
    /// The inputs.
    pub scenario: Scenario,
    /// Users per jurisdiction, as apportioned.
    pub users_per_jurisdiction: Vec<u32>,
    /// Per jurisdiction, the model's share of its users' messages that have a party
    /// abroad: above `x` for a small jurisdiction, whose users also receive contacts
    /// from the larger ones.
    pub crossing: Vec<f64>,
    /// Messages simulated.
    pub messages: u64,
    /// Every rule × escrowing opener (and the worldwide key's holder) × victim.
    pub reach: Vec<Reach>,
    /// The first jurisdiction's reach into the second's users over `x` in 0..60%.
    pub sweep: Vec<SweepPoint>,
}

impl JurisdictionsReport {
    /// Validates `scenario`, simulates its graph and computes every reach and the sweep.
    pub fn new(scenario: &Scenario) -> Result<Self, JurisdictionError> {
        let users_per_jurisdiction = scenario.user_counts()?;
        let flows = scenario.flows()?;
        let mut rng = ChaCha20Rng::seed_from_u64(scenario.seed);
        let graph = ContactGraph::generate(scenario, &mut rng)?;
        let tally = graph.tally(scenario.messages_per_contact, &mut rng);
        // Exact: at most MAX_CONTACTS_TOTAL × MAX_MESSAGES_PER_CONTACT = 2e10 < 2^53.
        let counted: Vec<Vec<f64>> = tally.messages.iter().map(|r| r.iter().map(|&c| c as f64).collect()).collect();
        let domains = &scenario.jurisdictions;
        let mut reach = Vec::new();
        for rule in Rule::ALL {
            for opener in openers(domains) {
                for (victim, v) in domains.iter().enumerate() {
                    let simulated = reach_share(rule, opener, victim, &counted, domains);
                    let contacts = tally.contacts_touching(victim);
                    reach.push(Reach {
                        rule,
                        opener: domains.get(opener).map_or_else(String::new, |d| d.name.clone()),
                        victim: v.name.clone(),
                        analytic: reach_share(rule, opener, victim, &flows, domains),
                        simulated,
                        std_error: (simulated * (1.0 - simulated) / contacts.max(1) as f64).max(0.0).sqrt(),
                        contacts,
                    });
                }
            }
        }
        let sweep = (0..=SWEEP_STEPS)
            .map(|i| {
                let x = SWEEP_MAX * f64::from(i) / f64::from(SWEEP_STEPS);
                let flows = scenario.with_cross_border(x).flows()?;
                let reach = Rule::ALL.iter().map(|&rule| reach_share(rule, 0, 1, &flows, domains)).collect();
                Ok(SweepPoint { cross_border: x, reach })
            })
            .collect::<Result<_, JurisdictionError>>()?;
        let messages = tally.messages.iter().flatten().sum();
        let crossing = (0..domains.len()).map(|b| crossing_share(&flows, b)).collect();
        Ok(JurisdictionsReport { scenario: scenario.clone(), users_per_jurisdiction, crossing, messages, reach, sweep })
    }

    /// The reach of `rule`, `opener` into `victim`'s users, if computed.
    pub fn get(&self, rule: Rule, opener: &str, victim: &str) -> Option<&Reach> {
        self.reach.iter().find(|r| r.rule == rule && r.opener == opener && r.victim == victim)
    }

    /// Rows where the simulation disagrees with the model.
    pub fn disagreements(&self) -> usize {
        self.reach.iter().filter(|r| !r.agrees()).count()
    }

    /// The reach table as aligned plain text.
    pub fn text(&self) -> String {
        aligned(&HEADER, &self.reach.iter().map(cells).collect::<Vec<_>>())
    }

    /// The reach table as Markdown.
    pub fn markdown_table(&self) -> String {
        markdown(&HEADER, self.reach.iter().map(cells))
    }

    /// The Markdown report: the scenario, the rules, the table, the plots.
    pub fn markdown(&self) -> String {
        let s = &self.scenario;
        let domains: Vec<String> = s
            .jurisdictions
            .iter()
            .zip(self.users_per_jurisdiction.iter().zip(&self.crossing))
            .map(|(j, (n, c))| {
                let escrow = if j.escrows { "escrows" } else { "no escrow" };
                format!(
                    "{} ({:.1}% of users, {n} simulated, {escrow}; {} of its users' messages cross a border)",
                    j.name,
                    100.0 * j.share,
                    percent(*c)
                )
            })
            .collect();
        let (first, second) = self.pair_names();
        format!(
            "# Only our own users: escrow by jurisdiction\n\n\
             ## Scenario\n\n\
             - Jurisdictions (illustrative shares): {domains}.\n\
             - {users} users, {k} contacts each, {m} messages per contact in a random direction: \
             {messages} messages (ChaCha20, seed {seed}).\n\
             - Cross-border share of contacts x = {x}{x_note}. x is the share of the contacts \
             each user makes abroad, so x of all messages cross a border; a small jurisdiction's \
             users also receive contacts from the larger ones, so more of their messages do.\n\n\
             ## Rules\n\n\
             With E the escrowing domains among a message's parties' homes: **any-of**, every domain \
             in E opens alone; **all-of**, only when E is the opener alone; **home-of-sender**, the \
             sender's domain if it escrows; **worldwide key**, the baseline, the first jurisdiction \
             ({first}) opens everything.\n\n\
             ## Reach\n\n\
             Share of the victim's users' messages (a party lives there) that the opener opens \
             alone; opener = victim is its coverage of its own users. Analytic is the model's \
             expectation; simulated is the graph's, with a standard error over the contacts that \
             touch the victim; the check is agreement within 4 standard errors. Rows outside: {off} \
             of {rows}.\n\n{table}\n\
             ![Spillover](jurisdictions-spillover.svg)\n\n\
             *Spillover*: the share of {second}'s users' messages {first} opens alone against x, one \
             line per rule, the worldwide key at 100%; the dotted line is this scenario's x, the \
             rings its simulated values.\n\n\
             ![Reach](jurisdictions-reach.svg)\n\n\
             *Reach*: at x = {x}, each government's share of each jurisdiction's users' messages, \
             one bar per rule.\n",
            domains = domains.join(", "),
            users = s.users,
            k = s.contacts,
            m = s.messages_per_contact,
            messages = crate::render::amount(self.messages as f64),
            seed = s.seed,
            x = s.cross_border,
            x_note = if s.cross_border == DEFAULT_CROSS_BORDER { X_NOTE } else { "" },
            off = self.disagreements(),
            rows = self.reach.len(),
            table = self.markdown_table(),
        )
    }

    /// The names of the first two jurisdictions: the spillover plot's opener and victim.
    pub(crate) fn pair_names(&self) -> (&str, &str) {
        let name = |i: usize| self.scenario.jurisdictions.get(i).map_or("", |j| j.name.as_str());
        (name(0), name(1))
    }
}

/// Why the default x is what it is, for the report.
const X_NOTE: &str = " (an assumption: it matches the figure of about 84% of Facebook friendships within one \
                      country attributed to Ugander et al., \"The Anatomy of the Facebook Social Graph\", \
                      arXiv:1111.4503, 2011, which was not checked against the paper's text; friendships \
                      are not messages)";

/// The escrowing jurisdictions, and the first (the worldwide key's holder) if it does
/// not escrow: the governments that can open anything.
pub(crate) fn openers(domains: &[Jurisdiction]) -> Vec<usize> {
    (0..domains.len()).filter(|&i| i == 0 || domains.get(i).is_some_and(|d| d.escrows)).collect()
}

const HEADER: [&str; 6] =
    ["rule", "opener", "victim's users", "opened alone (analytic)", "simulated ± SE", "check (4 SE)"];

fn cells(r: &Reach) -> [String; 6] {
    [
        r.rule.name().to_owned(),
        r.opener.clone(),
        r.victim.clone(),
        percent(r.analytic),
        format!("{} ± {:.2}", percent(r.simulated), 100.0 * r.std_error),
        if r.agrees() { "ok".to_owned() } else { "OFF".to_owned() },
    ]
}

/// A share as a percentage with two decimals.
pub(crate) fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two(x: f64, escrows: [bool; 2]) -> Scenario {
        Scenario {
            jurisdictions: vec![Jurisdiction::new("a", 0.5, escrows[0]), Jurisdiction::new("b", 0.5, escrows[1])],
            users: 1000,
            contacts: 10,
            messages_per_contact: 1,
            cross_border: x,
            seed: 7,
        }
    }

    fn analytic(s: &Scenario, rule: Rule, opener: usize, victim: usize) -> f64 {
        reach_share(rule, opener, victim, &s.flows().unwrap(), &s.jurisdictions)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn no_border_crossing_no_spillover() {
        let s = two(0.0, [true, true]);
        for rule in [Rule::AnyOf, Rule::AllOf, Rule::HomeOfSender] {
            assert_eq!(analytic(&s, rule, 0, 1), 0.0, "{rule:?}");
            assert_eq!(analytic(&s, rule, 1, 0), 0.0, "{rule:?}");
        }
        // Each government covers all of its own users' messages, except home-of-sender,
        // which still covers them all (every sender at home is its own).
        for rule in [Rule::AnyOf, Rule::AllOf, Rule::HomeOfSender] {
            assert_eq!(analytic(&s, rule, 0, 0), 1.0, "{rule:?}");
        }
        assert_eq!(analytic(&s, Rule::Worldwide, 0, 1), 1.0);
        assert_eq!(analytic(&s, Rule::Worldwide, 1, 0), 0.0);
    }

    /// Two equal jurisdictions: flows (1-x)/2 at home each, x/2 across each way, so b's
    /// users are in (1+x)/2 of messages; any-of opens the crossing x of them, 2x/(1+x);
    /// home-of-sender half of that; all-of none, and leaves a only (1-x)/(1+x) of its own.
    #[test]
    fn equal_populations_by_hand() {
        for x in [0.25, 0.5, 1.0] {
            let s = two(x, [true, true]);
            assert!(close(analytic(&s, Rule::AnyOf, 0, 1), 2.0 * x / (1.0 + x)));
            assert!(close(analytic(&s, Rule::HomeOfSender, 0, 1), x / (1.0 + x)));
            assert_eq!(analytic(&s, Rule::AllOf, 0, 1), 0.0);
            assert!(close(analytic(&s, Rule::AllOf, 0, 0), (1.0 - x) / (1.0 + x)));
            assert_eq!(analytic(&s, Rule::AnyOf, 0, 0), 1.0);
        }
        // x = 1: every message crosses.
        let s = two(1.0, [true, true]);
        assert_eq!(analytic(&s, Rule::AnyOf, 0, 1), 1.0);
        assert!(close(analytic(&s, Rule::HomeOfSender, 0, 1), 0.5));
        assert_eq!(analytic(&s, Rule::AllOf, 0, 0), 0.0);
    }

    /// All-of against a domain without escrow: E = {a}, so a opens those messages alone,
    /// exactly as under any-of; b, escrowing nothing, opens nothing.
    #[test]
    fn all_of_with_a_domain_without_escrow() {
        let s = two(0.5, [true, false]);
        let any = analytic(&s, Rule::AnyOf, 0, 1);
        assert!(close(any, 2.0 * 0.5 / 1.5));
        assert!(close(analytic(&s, Rule::AllOf, 0, 1), any));
        assert_eq!(analytic(&s, Rule::AllOf, 0, 0), 1.0);
        assert_eq!(analytic(&s, Rule::AnyOf, 1, 0), 0.0);
        assert_eq!(analytic(&s, Rule::HomeOfSender, 1, 0), 0.0);
    }

    /// Home-of-sender opens exactly the share of the victim's messages sent from the
    /// opener's users: the incoming share, counted directly from the flows.
    #[test]
    fn home_of_sender_is_the_incoming_share() {
        let s = Scenario::default();
        let w = s.flows().unwrap();
        let total: f64 = w.iter().flatten().sum();
        assert!(close(total, 1.0));
        let row = |i: usize| w.get(i).unwrap();
        // Messages involving us (1): sent from uk (0) to us, over all with us a party.
        let involving: f64 = row(1).iter().sum::<f64>() + w.iter().map(|r| r[1]).sum::<f64>() - row(1)[1];
        assert!(close(analytic(&s, Rule::HomeOfSender, 0, 1), row(0)[1] / involving));
        // And any-of: either direction between uk and us.
        assert!(close(analytic(&s, Rule::AnyOf, 0, 1), (row(0)[1] + row(1)[0]) / involving));
    }

    #[test]
    fn opens_follows_the_rules() {
        let d =
            [Jurisdiction::new("a", 0.4, true), Jurisdiction::new("b", 0.3, true), Jurisdiction::new("f", 0.3, false)];
        assert!(Rule::AnyOf.opens(0, 0, 1, &d) && Rule::AnyOf.opens(1, 0, 1, &d));
        assert!(!Rule::AllOf.opens(0, 0, 1, &d) && !Rule::AllOf.opens(1, 1, 0, &d));
        assert!(Rule::AllOf.opens(0, 2, 0, &d) && Rule::AllOf.opens(0, 0, 0, &d));
        assert!(!Rule::AnyOf.opens(2, 2, 2, &d), "no escrow opens nothing");
        assert!(Rule::HomeOfSender.opens(1, 1, 0, &d) && !Rule::HomeOfSender.opens(1, 0, 1, &d));
        assert!(Rule::Worldwide.opens(0, 2, 2, &d) && !Rule::Worldwide.opens(1, 1, 1, &d));
    }

    #[test]
    fn apportionment_and_homes() {
        let mut s = Scenario::default();
        assert_eq!(s.user_counts().unwrap(), vec![10_000, 50_000, 40_000]);
        s.users = 7;
        s.jurisdictions = vec![Jurisdiction::new("a", 0.5, true), Jurisdiction::new("b", 0.5, true)];
        assert_eq!(s.user_counts().unwrap(), vec![4, 3]);
        s.users = 40;
        s.contacts = 3;
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let g = ContactGraph::generate(&s, &mut rng).unwrap();
        assert_eq!(g.starts, vec![0, 20, 40]);
        assert_eq!((g.home(0), g.home(19), g.home(20), g.home(39)), (0, 0, 1, 1));
        assert_eq!(g.contacts.len(), 120);
        for (u, row) in (0u32..).zip(g.contacts.chunks(3)) {
            assert!(row.iter().all(|&v| v != u && v < 40), "no self-contacts");
        }
    }
}
