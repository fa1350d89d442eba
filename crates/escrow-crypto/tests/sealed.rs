//! Secrets sealed at rest.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use escrow_crypto::sealed::{open, seal, KdfParams, Unlock};
use escrow_crypto::*;

#[test]
fn passphrase_and_key_file_round_trip() {
    let w = World::new(1, 1, 3, &[]);
    let share = w.keys.shares[2].to_bytes();
    let sealed = seal(&share, &Unlock::Passphrase(b"correct horse"), KdfParams::insecure_fast(), &mut rng(1)).unwrap();
    let opened = open(&sealed, &Unlock::Passphrase(b"correct horse")).unwrap();
    let back = TrusteeKeyShare::from_bytes(&opened).unwrap();
    back.check_against(&w.keys.public).unwrap();
    assert!(!sealed.windows(32).any(|win| win == &share[13..]), "plaintext visible in the sealed file");

    let key = [7u8; 32];
    let sealed = seal(&share, &Unlock::KeyFile(&key), KdfParams::default(), &mut rng(2)).unwrap();
    assert_eq!(&*open(&sealed, &Unlock::KeyFile(&key)).unwrap(), &*share);
}

#[test]
fn wrong_secret_or_tampering_is_refused_without_detail() {
    let sealed = seal(b"secret", &Unlock::Passphrase(b"pw"), KdfParams::insecure_fast(), &mut rng(3)).unwrap();
    assert_eq!(open(&sealed, &Unlock::Passphrase(b"pW")), Err(Error::DecryptionFailed));
    assert!(matches!(open(&sealed, &Unlock::KeyFile(&[0; 32])), Err(Error::InvalidInput { what: "unlock", .. })));
    // Every byte is authenticated: KDF parameters and salt included (as AAD).
    for i in 3..sealed.len() {
        let mut b = sealed.clone();
        b[i] ^= 0x01;
        assert!(open(&b, &Unlock::Passphrase(b"pw")).is_err(), "byte {i}");
    }
}

#[test]
fn hostile_kdf_parameters_are_refused_before_running_the_kdf() {
    let mut sealed = seal(b"s", &Unlock::Passphrase(b"pw"), KdfParams::insecure_fast(), &mut rng(4)).unwrap();
    sealed[4..8].copy_from_slice(&u32::MAX.to_be_bytes()); // m_kib: 4 TiB
    assert!(matches!(
        open(&sealed, &Unlock::Passphrase(b"pw")),
        Err(Error::Decode { reason: DecodeError::InvalidValue { field: "kdf parameters", .. }, .. })
    ));
    assert!(seal(&vec![0; 64 * 1024 + 1], &Unlock::KeyFile(&[0; 32]), KdfParams::default(), &mut rng(5)).is_err());
    assert_eq!(format!("{:?}", Unlock::Passphrase(b"hunter2")), "Unlock::Passphrase(<redacted>)");
}
