//! `sealed::open` with a fixed passphrase (the KAT's) and a fixed key file. The
//! argon2id cost parameters come from the blob and must be bounded before argon2 runs:
//! an input that makes one call run for long (libFuzzer `-timeout`) or allocate a lot
//! (`-rss_limit_mb`) is a finding. A blob that opens must be exactly what `seal` writes
//! for its plaintext, parameters, salt and nonce (replayed through the RNG).
#![no_main]
use escrow_crypto::sealed::{open, seal, KdfParams, Unlock};
use escrow_fuzz::{Replay, FUZZ_KEY_FILE, KAT_PASSPHRASE};
use libfuzzer_sys::fuzz_target;

fn u32_at(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]])
}

fuzz_target!(|data: &[u8]| {
    for unlock in [Unlock::Passphrase(KAT_PASSPHRASE), Unlock::KeyFile(&FUZZ_KEY_FILE)] {
        let Ok(plain) = open(data, &unlock) else { continue };
        // version, alg (3) ‖ kdf (1) ‖ m_kib, t, p (4 each) ‖ salt (16) ‖ nonce (12) ‖ ...
        let params = KdfParams { m_kib: u32_at(data, 4), t: u32_at(data, 8), p: u32_at(data, 12) };
        let resealed = seal(&plain, &unlock, params, &mut Replay(data[16..44].to_vec())).expect("opened, so seals");
        assert_eq!(resealed, data, "sealed secret encoding is not canonical");
    }
});
