//! `MessageLabel::from_bytes`: one encoding per message label, a home per party, and
//! every home a valid field domain under any rule but home-of-sender, where only the
//! sender's is.
#![no_main]
use escrow_crypto::{EpochId, MessageLabel, Rule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MessageLabel::from_bytes(data) {
        assert_eq!(m.to_bytes(), data, "message label encoding is not canonical");
        assert_eq!(m.homes().len(), m.parties().count());
        assert!(m.recipients().windows(2).all(|w| w[0] < w[1]), "recipients not strictly ascending");
        for (k, home) in m.homes().iter().enumerate() {
            let label = m.field_label(home, EpochId(1));
            assert_eq!(label.is_ok(), m.rule() != Rule::HomeOfSender || home == &m.homes()[0], "home {k}");
            if let Ok(label) = label {
                assert_eq!(escrow_crypto::Label::from_bytes(&label.to_bytes()).as_ref(), Ok(&label));
            }
        }
    }
});
