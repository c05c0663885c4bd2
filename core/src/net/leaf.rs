//! Certificates read with a minimal DER walk, for what our verifier takes
//! from them itself:
//!
//! - the leaf's DNS subject alternative names, so host names are checked
//!   the way RFC 6125 says: when a certificate has DNS SANs, the host must
//!   match one of them and the common name is ignored. (embedded-tls 0.19
//!   falls back to the CN even then; this check runs before it.);
//! - the leaf's subject public key, kept for the CertificateVerify check
//!   instead of a copy of the whole chain;
//! - whether a certificate that signs another in the chain is a CA
//!   (basicConstraints `cA`), which embedded-tls does not check: without
//!   it, any certificate under the configured CA could issue one for our
//!   host.
//!
//! Only tbsCertificate's fields up to the key and its extensions are read;
//! everything else is skipped by length. Malformed input is an error,
//! never a panic.

/// subjectAltName, OID 2.5.29.17, as DER content bytes.
const SUBJECT_ALT_NAME: [u8; 3] = [0x55, 0x1D, 0x11];
/// basicConstraints, OID 2.5.29.19.
const BASIC_CONSTRAINTS: [u8; 3] = [0x55, 0x1D, 0x13];

/// Lengths above 2^24 cannot occur in a certificate that fits our buffers.
const MAX_LENGTH_OCTETS: usize = 3;

const TAG_BOOLEAN: u8 = 0x01;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_EXTENSIONS: u8 = 0xA3;
const TAG_DNS_NAME: u8 = 0x82;
const TAG_VERSION: u8 = 0xA0;
const TAG_BIT_STRING: u8 = 0x03;

/// tbsCertificate fields between the optional version and
/// subjectPublicKeyInfo: serialNumber, signature, issuer, validity,
/// subject (RFC 5280 §4.1).
const FIELDS_BEFORE_KEY: usize = 5;

/// What the SANs say about a host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SanCheck {
    /// A DNS SAN matches.
    Match,
    /// There are DNS SANs and none matches: refuse.
    Mismatch,
    /// No DNS SAN: the CN decides (checked by embedded-tls).
    NoDnsNames,
    /// The certificate could not be read: refuse.
    Malformed,
}

/// One TLV: (tag, value, rest). Single-byte tags only (all we read).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > MAX_LENGTH_OCTETS {
            return None;
        }
        let len = rest
            .get(..n)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest.get(n..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The value (the extnValue's content) of `cert`'s extension `oid`:
/// `Some(None)` if it has none, `None` if the certificate cannot be read.
fn extension<'c>(cert: &'c [u8], oid: &[u8]) -> Option<Option<&'c [u8]>> {
    let (_, certificate, _) = tlv(cert)?;
    let (_, mut tbs, _) = tlv(certificate)?;
    while !tbs.is_empty() {
        let (tag, value, rest) = tlv(tbs)?;
        tbs = rest;
        if tag != TAG_EXTENSIONS {
            continue;
        }
        let (_, mut extensions, _) = tlv(value)?;
        while !extensions.is_empty() {
            let (_, extension, rest) = tlv(extensions)?;
            extensions = rest;
            let (_, id, fields) = tlv(extension)?;
            if id != oid {
                continue;
            }
            let (mut tag, mut value, rest) = tlv(fields)?;
            if tag == TAG_BOOLEAN {
                (tag, value, _) = tlv(rest)?;
            }
            if tag != TAG_OCTET_STRING {
                return None;
            }
            return Some(Some(value));
        }
    }
    Some(None)
}

/// Call `each` with every dNSName of the leaf's subjectAltName.
fn dns_names<'c>(cert: &'c [u8], each: &mut dyn FnMut(&'c [u8])) -> Option<()> {
    let Some(value) = extension(cert, &SUBJECT_ALT_NAME)? else {
        return Some(());
    };
    let (_, mut names, _) = tlv(value)?;
    while !names.is_empty() {
        let (tag, name, rest) = tlv(names)?;
        names = rest;
        if tag == TAG_DNS_NAME {
            each(name);
        }
    }
    Some(())
}

/// Whether `cert` may issue certificates: its basicConstraints say
/// `cA: TRUE` (RFC 5280 §4.2.1.9). A certificate without the extension, or
/// one that cannot be read, may not.
pub(crate) fn is_ca(cert: &[u8]) -> bool {
    let Some(Some(value)) = extension(cert, &BASIC_CONSTRAINTS) else {
        return false;
    };
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... }
    match tlv(value).and_then(|(_, fields, _)| tlv(fields)) {
        Some((TAG_BOOLEAN, [flag], _)) => *flag != 0,
        _ => false,
    }
}

/// The leaf's subjectPublicKey: the bits of the BIT STRING in its
/// subjectPublicKeyInfo (for an EC key, the SEC1-encoded point). `None` if
/// the certificate cannot be read.
pub(crate) fn public_key(cert: &[u8]) -> Option<&[u8]> {
    let (_, certificate, _) = tlv(cert)?;
    let (_, tbs, _) = tlv(certificate)?;
    let (tag, _, after_version) = tlv(tbs)?;
    let mut fields = if tag == TAG_VERSION {
        after_version
    } else {
        tbs
    };
    for _ in 0..FIELDS_BEFORE_KEY {
        (_, _, fields) = tlv(fields)?;
    }
    let (_, key_info, _) = tlv(fields)?;
    let (_, _algorithm, key) = tlv(key_info)?;
    let (tag, bits, _) = tlv(key)?;
    if tag != TAG_BIT_STRING {
        return None;
    }
    // The first content byte counts the unused bits: a key has none.
    match bits.split_first()? {
        (0, key) => Some(key),
        _ => None,
    }
}

/// `pattern` (a SAN, maybe `*.example.com`) matches `host`, ignoring
/// ASCII case; a wildcard stands for exactly one left-most label, and only
/// in front of at least two labels (`*.com` matches nothing).
fn matches(pattern: &[u8], host: &[u8]) -> bool {
    match pattern.strip_prefix(b"*.") {
        Some(suffix) if !suffix.contains(&b'.') => false,
        Some(suffix) => match host.iter().position(|&b| b == b'.') {
            Some(dot) => host
                .get(dot + 1..)
                .is_some_and(|rest| rest.eq_ignore_ascii_case(suffix) && dot > 0),
            None => false,
        },
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Check `host` against the DNS SANs of the leaf certificate `cert` (DER).
pub(crate) fn check(cert: &[u8], host: &str) -> SanCheck {
    let mut seen = false;
    let mut matched = false;
    let read = dns_names(cert, &mut |name| {
        seen = true;
        matched |= matches(name, host.as_bytes());
    });
    match (read, seen, matched) {
        (None, _, _) => SanCheck::Malformed,
        (Some(()), _, true) => SanCheck::Match,
        (Some(()), true, false) => SanCheck::Mismatch,
        (Some(()), false, false) => SanCheck::NoDnsNames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of a TLV with a short or long length.
    fn der(tag: u8, value: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec![tag];
        if value.len() < 0x80 {
            out.push(value.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(value);
        out
    }

    /// A subjectPublicKey BIT STRING's content: no unused bits, a point.
    const KEY: [u8; 66] = {
        let mut key = [7u8; 66];
        key[0] = 0;
        key[1] = 4;
        key
    };

    /// A certificate skeleton with the given SAN entries (or none).
    fn cert(sans: &[&str], critical: bool) -> std::vec::Vec<u8> {
        let mut names = std::vec::Vec::new();
        for san in sans {
            names.extend(der(TAG_DNS_NAME, san.as_bytes()));
        }
        names.extend(der(0x87, &[127, 0, 0, 1])); // an IP SAN is skipped
        let mut fields = der(0x06, &SUBJECT_ALT_NAME);
        if critical {
            fields.extend(der(TAG_BOOLEAN, &[0xff]));
        }
        fields.extend(der(TAG_OCTET_STRING, &der(0x30, &names)));
        let other_ext = [der(0x06, &[0x55, 0x1D, 0x0F]), der(0x04, &[3, 2, 7, 0x80])].concat();
        let mut extensions = der(0x30, &other_ext);
        if !sans.is_empty() {
            extensions.extend(der(0x30, &fields));
        }
        let tbs = [
            der(0xA0, &der(0x02, &[2])),
            der(0x02, &[1; 20]),
            der(0x30, &[0; 10]),
            der(0x30, &[0; 200]),
            der(0x30, &[0; 30]),
            der(0x30, &[0; 150]),
            der(
                0x30,
                &[der(0x30, &[0; 19]), der(TAG_BIT_STRING, &KEY)].concat(),
            ),
            der(TAG_EXTENSIONS, &der(0x30, &extensions)),
        ]
        .concat();
        let certificate = [der(0x30, &tbs), der(0x30, &[0; 12]), der(0x03, &[0; 72])].concat();
        der(0x30, &certificate)
    }

    #[test]
    fn a_listed_name_matches_whatever_the_case() {
        let c = cert(&["api.example.com", "LOCALHOST"], false);
        assert_eq!(check(&c, "localhost"), SanCheck::Match);
        assert_eq!(check(&c, "API.example.com"), SanCheck::Match);
        assert_eq!(
            check(&cert(&["localhost"], true), "localhost"),
            SanCheck::Match
        );
    }

    #[test]
    fn names_not_listed_are_refused_even_if_the_cn_would_match() {
        let c = cert(&["other.example"], false);
        assert_eq!(check(&c, "localhost"), SanCheck::Mismatch);
        assert_eq!(check(&c, "other.example.evil"), SanCheck::Mismatch);
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        let c = cert(&["*.example.com"], false);
        assert_eq!(check(&c, "api.example.com"), SanCheck::Match);
        assert_eq!(check(&c, "a.b.example.com"), SanCheck::Mismatch);
        assert_eq!(check(&c, "example.com"), SanCheck::Mismatch);
        assert_eq!(check(&c, ".example.com"), SanCheck::Mismatch);
    }

    #[test]
    fn a_wildcard_needs_two_labels_after_it() {
        let c = cert(&["*.com"], false);
        assert_eq!(check(&c, "example.com"), SanCheck::Mismatch);
    }

    /// A certificate skeleton whose only extension is basicConstraints
    /// with `constraints` (the SEQUENCE's content), or without extensions.
    fn issuer(constraints: Option<&[u8]>) -> std::vec::Vec<u8> {
        let mut tbs = [der(0x02, &[1; 8]), der(0x30, &[0; 10])].concat();
        if let Some(content) = constraints {
            let fields = [
                der(0x06, &BASIC_CONSTRAINTS),
                der(TAG_BOOLEAN, &[0xff]),
                der(TAG_OCTET_STRING, &der(0x30, content)),
            ]
            .concat();
            tbs.extend(der(TAG_EXTENSIONS, &der(0x30, &der(0x30, &fields))));
        }
        der(0x30, &[der(0x30, &tbs), der(0x30, &[0; 12])].concat())
    }

    #[test]
    fn only_basic_constraints_with_ca_true_make_an_issuer() {
        assert!(is_ca(&issuer(Some(&der(TAG_BOOLEAN, &[0xff])))));
        let with_path_len = [der(TAG_BOOLEAN, &[0xff]), der(0x02, &[0])].concat();
        assert!(is_ca(&issuer(Some(&with_path_len))));
        assert!(!is_ca(&issuer(Some(&der(TAG_BOOLEAN, &[0])))));
        assert!(!is_ca(&issuer(Some(&[]))), "cA defaults to FALSE");
        assert!(!is_ca(&issuer(None)));
        assert!(!is_ca(&cert(&["localhost"], false)));
        let ca = issuer(Some(&der(TAG_BOOLEAN, &[0xff])));
        for len in 0..ca.len() {
            assert!(!is_ca(&ca[..len]), "cut at {len}");
        }
    }

    #[test]
    fn no_san_extension_leaves_the_cn_to_decide() {
        assert_eq!(check(&cert(&[], false), "localhost"), SanCheck::NoDnsNames);
    }

    #[test]
    fn the_public_key_is_the_bit_string_of_the_key_info() {
        let c = cert(&["localhost"], false);
        assert_eq!(public_key(&c), Some(&KEY[1..]));
        for len in 0..c.len() {
            assert_eq!(public_key(&c[..len]), None, "cut at {len}");
        }
    }

    #[test]
    fn truncated_or_garbage_certificates_are_malformed_never_a_panic() {
        let c = cert(&["localhost"], false);
        for len in 0..c.len() {
            assert_ne!(
                check(&c[..len], "localhost"),
                SanCheck::Match,
                "cut at {len}"
            );
        }
        assert_eq!(check(&[0x30, 0x84, 1, 2, 3, 4], "x"), SanCheck::Malformed);
        assert_eq!(check(&[], "x"), SanCheck::Malformed);
    }
}
