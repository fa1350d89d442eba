//! `escrow pki ...`: one CA for a whole one-machine deployment, and a certificate for
//! every party. One root: whoever holds `ca.key` can certify an operator of every
//! trustee. A deployment of independent organisations uses `escrow org` and
//! `escrow federation` instead.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::Subcommand;
use escrow_crypto::PartyId;
use escrow_pki::{Ca, Identity, Role, Validity};

use crate::files::{write_private, SecretArgs};
use crate::CliError;

use escrow_crypto::TrusteeSigningKey;
use escrow_pki::federation::Pin;
use escrow_pki::layout::{PartyFiles, FEDERATION};
pub use escrow_pki::layout::{CA_CERT, CA_KEY};
use escrow_pki::Federation;

/// The one organisation of `escrow pki init`'s federation.
pub const ONE_ROOT: &str = "root";

#[derive(Subcommand, Debug)]
pub enum PkiCmd {
    /// Make ONE CA and a certificate for every party of a one-machine deployment:
    /// trustees (server and peer), the relay, agencies, one operator per trustee,
    /// auditors and users. Writes <dir>/ca.pem, <dir>/ca.key (sealed), the one-root
    /// <dir>/federation.toml and, per party, <stem>.pem, <stem>.key (sealed) and
    /// <stem>.profile.toml. Whoever holds ca.key can approve at every trustee.
    Init {
        /// Output directory (must not already hold a CA).
        dir: PathBuf,
        /// Deployment name, in the CA's common name.
        #[arg(long, default_value = "local")]
        name: String,
        /// Trustees trustee-0 .. trustee-(n-1), each with operator op-<i>.
        #[arg(long, default_value_t = 5)]
        trustees: u16,
        /// Agency ids (repeat).
        #[arg(long = "agency", default_values_t = vec!["agency-1".to_string()])]
        agencies: Vec<String>,
        /// Auditor ids (repeat).
        #[arg(long = "auditor", default_values_t = vec!["auditor-1".to_string()])]
        auditors: Vec<String>,
        /// User ids (repeat).
        #[arg(long = "user", default_values_t = vec!["alice".to_string(), "bob".to_string(), "carol".to_string()])]
        users: Vec<String>,
        /// Witness ids (repeat): server certificates for `escrow witness serve`.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// Validity of every certificate, days.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Issue one more certificate from an existing CA directory.
    Issue {
        /// The directory `escrow pki init` made.
        dir: PathBuf,
        #[command(flatten)]
        party: crate::federation::PartyArgs,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Print who a certificate names.
    Show {
        /// A certificate (PEM).
        cert: PathBuf,
    },
    /// Unseal a TLS key into a plain PEM file (mode 0600) for tools such as grpcurl.
    /// The plain file is a secret: delete it after use.
    ExportKey {
        /// The sealed key.
        key: PathBuf,
        /// Where to write the PEM.
        #[arg(long)]
        out: PathBuf,
    },
}

fn party(s: &str) -> Result<PartyId, CliError> {
    Ok(PartyId::new(s)?)
}

/// Writes a party's certificate, sealed key and profile into `dir`; a trustee also
/// gets its signing key, whose public half the one-root entry pins (re-signed at the
/// next generation).
pub fn write_party(
    dir: &Path,
    ca: &Ca,
    identity: &Identity,
    validity: Validity,
    secret: &SecretArgs,
) -> Result<PathBuf, CliError> {
    let issued = ca.issue(identity, validity)?;
    let files = PartyFiles::of(identity);
    let profile = dir.join(&files.profile);
    if let Some(signing) = &files.signing_key {
        let key = TrusteeSigningKey::generate(identity.id().clone(), &mut rand::rngs::OsRng);
        let path = dir.join(FEDERATION);
        let fed = crate::tls::load_federation(&path)?;
        let entry = fed.organisation(ONE_ROOT).ok_or_else(|| CliError::bad_file(&path, "no one-root organisation"))?;
        let entry = entry
            .reissue(ca, |d| {
                d.pins.retain(|p| !matches!(p, Pin::Trustee(k) if k.trustee() == identity.id()));
                d.pins.push(Pin::Trustee(key.public()));
            })
            .map_err(|e| CliError::bad_file(&path, e))?;
        let (fed, _) = fed.with(entry).map_err(|e| CliError::bad_file(&path, e))?;
        secret.write_sealed(&dir.join(signing), &key.to_bytes())?;
        crate::files::write_whole(&path, fed.render().as_bytes())?;
    }
    std::fs::write(dir.join(&files.cert), &issued.cert_pem).map_err(|e| CliError::io(&dir.join(&files.cert), e))?;
    secret.write_sealed(&dir.join(&files.key), issued.key_pem.as_bytes())?;
    std::fs::write(&profile, files.profile_text()).map_err(|e| CliError::io(&profile, e))?;
    Ok(profile)
}

/// Every party of a local deployment with `n` trustees.
pub fn deployment_identities(
    n: u16,
    agencies: &[String],
    auditors: &[String],
    users: &[String],
) -> Result<Vec<Identity>, CliError> {
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    Ok(escrow_pki::layout::deployment_identities(n, &strs(agencies), &strs(auditors), &strs(users))?)
}

/// Makes the CA and every party's files in `dir`.
pub fn init(
    dir: &Path,
    name: &str,
    identities: &[Identity],
    days: u32,
    secret: &SecretArgs,
) -> Result<Vec<PathBuf>, CliError> {
    if dir.join(CA_CERT).exists() {
        return Err(CliError::Usage(format!(
            "{} already holds a CA: use `escrow pki issue` to add parties",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    let validity = Validity::days_from(SystemTime::now(), days);
    let ca = Ca::generate(name, validity)?;
    let fed = Federation::one_root(name, ONE_ROOT, &ca, vec![]).map_err(|e| CliError::Usage(e.to_string()))?;
    secret.write_sealed(&dir.join(CA_KEY), ca.key_pem().as_bytes())?;
    std::fs::write(dir.join(CA_CERT), ca.cert_pem()).map_err(|e| CliError::io(&dir.join(CA_CERT), e))?;
    crate::files::write_whole(&dir.join(FEDERATION), fed.render().as_bytes())?;
    identities.iter().map(|id| write_party(dir, &ca, id, validity, secret)).collect()
}

fn load_ca(dir: &Path, secret: &SecretArgs) -> Result<Ca, CliError> {
    let cert = std::fs::read_to_string(dir.join(CA_CERT)).map_err(|e| CliError::io(&dir.join(CA_CERT), e))?;
    let key = secret.read_sealed(&dir.join(CA_KEY))?;
    let key = std::str::from_utf8(&key).map_err(|_| CliError::bad_file(&dir.join(CA_KEY), "not a PEM key"))?;
    Ok(Ca::from_pem(&cert, key)?)
}

pub fn run(cmd: PkiCmd, secret: &SecretArgs) -> Result<(), CliError> {
    match cmd {
        PkiCmd::Init { dir, name, trustees, agencies, auditors, users, witnesses, days } => {
            let mut ids = deployment_identities(trustees, &agencies, &auditors, &users)?;
            for w in &witnesses {
                ids.push(Identity::new(Role::Witness, party(w)?)?);
            }
            let profiles = init(&dir, &name, &ids, days, secret)?;
            println!("CA: {} (key sealed in {})", dir.join(CA_CERT).display(), dir.join(CA_KEY).display());
            println!("Federation: {}", dir.join(FEDERATION).display());
            println!(
                "ONE ROOT: this one CA certifies every party, so whoever holds its key can approve a warrant at \
                 all {trustees} trustees. For independent organisations, use `escrow org init` and \
                 `escrow federation add`."
            );
            for (id, p) in ids.iter().zip(&profiles) {
                println!("{:<28} {}", id.to_string(), p.display());
            }
            println!("Pass a profile with --profile <file> or ESCROW_PROFILE=<file>.");
            Ok(())
        }
        PkiCmd::Issue { dir, party, days } => {
            let identity = party.identity()?;
            if dir.join(format!("{}.pem", identity.file_stem())).exists() {
                return Err(CliError::Usage(format!("{identity} already has a certificate in {}", dir.display())));
            }
            let ca = load_ca(&dir, secret)?;
            let validity = Validity::days_from(SystemTime::now(), days);
            let profile = write_party(&dir, &ca, &identity, validity, secret)?;
            println!("{identity}: {}", profile.display());
            Ok(())
        }
        PkiCmd::Show { cert } => {
            let pem = std::fs::read_to_string(&cert).map_err(|e| CliError::io(&cert, e))?;
            let id = Identity::from_cert_pem(&pem)?;
            println!("{id} ({})", id.uri());
            Ok(())
        }
        PkiCmd::ExportKey { key, out } => {
            let pem = secret.read_sealed(&key)?;
            write_private(&out, &pem)?;
            eprintln!("WARNING: {} holds an unsealed private key; delete it after use.", out.display());
            Ok(())
        }
    }
}
