//! X.509 certificates read with a minimal DER walk, and the chain check of
//! our verifier (RFC 5280 §6, as rustls-webpki applies it to TLS servers):
//!
//! - the path: from the leaf, each certificate is signed (ECDSA P-256 with
//!   SHA-256) by the next, found among the certificates the server sent in
//!   any order, up to the endpoint's configured CA (the trust anchor);
//! - every issuer on the path is a CA (basicConstraints `cA`), may sign
//!   certificates (keyUsage, when present, has keyCertSign), allows that
//!   many CAs below it (pathLenConstraint) and, when it names purposes
//!   (extendedKeyUsage), names serverAuth;
//! - the leaf is not a CA, may sign (keyUsage, when present, has
//!   digitalSignature: RFC 8446 §4.4.2.2) and serves servers
//!   (extendedKeyUsage, when present, has serverAuth);
//! - every certificate on the path is valid at the wall clock (the anchor
//!   is trusted as configured, as webpki does);
//! - a certificate with a critical extension we do not understand is
//!   refused; we understand keyUsage, subjectAltName, basicConstraints,
//!   nameConstraints, cRLDistributionPoints and extendedKeyUsage (webpki's
//!   set);
//! - the host name must match a dNSName of the leaf's subjectAltName
//!   (RFC 6125: the common name is never used), however many names there
//!   are and however long, and every dNSName of the leaf must be inside
//!   the dNSName subtrees that an issuer's nameConstraints permit and
//!   outside those they exclude.
//!
//! Everything is read in place from the buffers the TLS layer lends us:
//! nothing is copied. Malformed input is an error, never a panic.

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};

/// Lengths above 2^24 cannot occur in a certificate that fits our buffers.
const MAX_LENGTH_OCTETS: usize = 3;

/// Most CA certificates between the leaf and the anchor: public CAs use
/// one or two; four leave room and bound the signature checks a server can
/// make us do (each candidate issuer costs one).
pub(crate) const MAX_INTERMEDIATES: usize = 4;

/// Most certificates of a Certificate message we look at: the leaf, the
/// intermediates and a few extra (an anchor copy, cross-signs).
pub(crate) const MAX_ENTRIES: usize = 8;

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_VERSION: u8 = 0xA0;
const TAG_EXTENSIONS: u8 = 0xA3;
const TAG_DNS_NAME: u8 = 0x82;
const TAG_PERMITTED: u8 = 0xA0;
const TAG_EXCLUDED: u8 = 0xA1;

/// id-ce (2.5.29) extensions, by their last arc.
const ID_CE: [u8; 2] = [0x55, 0x1D];
const KEY_USAGE: u8 = 15;
const SUBJECT_ALT_NAME: u8 = 17;
const BASIC_CONSTRAINTS: u8 = 19;
const NAME_CONSTRAINTS: u8 = 30;
const CRL_DISTRIBUTION_POINTS: u8 = 31;
const EXT_KEY_USAGE: u8 = 37;

/// id-kp-serverAuth, 1.3.6.1.5.5.7.3.1.
const SERVER_AUTH: [u8; 8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
const ECDSA_SHA256: [u8; 8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: [u8; 7] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// prime256v1 (P-256), 1.2.840.10045.3.1.7.
const P256: [u8; 8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// keyUsage bits (RFC 5280 §4.2.1.3), numbered from the BIT STRING's
/// first bit.
const DIGITAL_SIGNATURE: u16 = 1 << 0;
const KEY_CERT_SIGN: u16 = 1 << 5;

/// Why a chain is refused (for the log: never a secret in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A certificate could not be read.
    Malformed,
    /// No path from the leaf to the configured CA: unknown issuer, a bad
    /// signature, an algorithm other than ECDSA P-256 with SHA-256, or too
    /// many CAs in between.
    UnknownIssuer,
    /// A certificate on the path is expired or not yet valid.
    NotValidNow,
    /// The host is not among the leaf's DNS names (or it has none).
    NameMismatch,
    /// An issuer on the path is not a CA, or may not sign certificates.
    IssuerNotCa,
    /// The leaf is a CA certificate.
    CaAsLeaf,
    /// An issuer allows fewer CAs below it than the path has.
    PathTooLong,
    /// A key usage or extended key usage does not allow this use.
    Usage,
    /// A leaf name is outside an issuer's name constraints.
    NameConstraint,
    /// A critical extension we do not understand.
    CriticalExtension,
}

impl Refusal {
    /// What the log says.
    pub(crate) fn text(self) -> &'static str {
        match self {
            Refusal::Malformed => "certificate refused: it cannot be read",
            Refusal::UnknownIssuer => {
                "certificate refused: no path to the configured CA (issuer, signature or algorithm)"
            }
            Refusal::NotValidNow => "certificate refused: expired or not yet valid",
            Refusal::NameMismatch => {
                "certificate refused: the host is not among the certificate's DNS names"
            }
            Refusal::IssuerNotCa => "certificate refused: a certificate in the chain is not a CA",
            Refusal::CaAsLeaf => "certificate refused: the server's certificate is a CA",
            Refusal::PathTooLong => {
                "certificate refused: more CAs in the chain than an issuer allows (pathLen)"
            }
            Refusal::Usage => "certificate refused: its key usage does not allow a TLS server",
            Refusal::NameConstraint => {
                "certificate refused: a name is outside an issuer's name constraints"
            }
            Refusal::CriticalExtension => {
                "certificate refused: a critical extension that is not understood"
            }
        }
    }
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

/// One TLV that must have `tag`: (value, rest).
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match tlv(input)? {
        (t, value, rest) if t == tag => Some((value, rest)),
        _ => None,
    }
}

/// A whole TLV with `tag` (header included) and the rest.
fn expect_whole(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (_, rest) = expect(input, tag)?;
    let used = input.len().checked_sub(rest.len())?;
    Some((input.get(..used)?, rest))
}

/// A certificate, read in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cert<'c> {
    /// The whole tbsCertificate TLV: what the issuer signed.
    tbs: &'c [u8],
    /// The outer signatureAlgorithm's OID.
    signature_algorithm: &'c [u8],
    /// The signature (DER ECDSA-Sig-Value), the BIT STRING's bits.
    signature: &'c [u8],
    /// issuer and subject Names, whole TLVs (compared byte for byte).
    issuer: &'c [u8],
    subject: &'c [u8],
    not_before: u64,
    not_after: u64,
    /// The subjectPublicKey (SEC1 point) if the key is ECDSA P-256.
    p256_key: Option<&'c [u8]>,
    ca: bool,
    path_len: Option<u64>,
    key_usage: Option<u16>,
    /// extendedKeyUsage's SEQUENCE content (OIDs).
    ext_key_usage: Option<&'c [u8]>,
    /// subjectAltName's GeneralNames content.
    alt_names: Option<&'c [u8]>,
    /// nameConstraints' SEQUENCE content.
    name_constraints: Option<&'c [u8]>,
    unknown_critical: bool,
}

impl<'c> Cert<'c> {
    /// Reads `der`: `None` if it is not a certificate we can read.
    pub(crate) fn read(der: &'c [u8]) -> Option<Self> {
        let (certificate, rest) = expect(der, TAG_SEQUENCE)?;
        if !rest.is_empty() {
            return None;
        }
        let (tbs, after_tbs) = expect_whole(certificate, TAG_SEQUENCE)?;
        let (algorithm, after_algorithm) = expect(after_tbs, TAG_SEQUENCE)?;
        let (signature_algorithm, _) = expect(algorithm, TAG_OID)?;
        let (bits, end) = expect(after_algorithm, TAG_BIT_STRING)?;
        if !end.is_empty() {
            return None;
        }
        let signature = match bits.split_first()? {
            (0, signature) => signature,
            _ => return None,
        };
        let (mut fields, _) = expect(tbs, TAG_SEQUENCE)?;
        if let Some((TAG_VERSION, _, rest)) = tlv(fields) {
            fields = rest;
        }
        let (_serial, rest) = expect(fields, TAG_INTEGER)?;
        let (inner_algorithm, rest) = expect(rest, TAG_SEQUENCE)?;
        // RFC 5280 §4.1.1.2: the signed algorithm is the outer one.
        if expect(inner_algorithm, TAG_OID)?.0 != signature_algorithm {
            return None;
        }
        let (issuer, rest) = expect_whole(rest, TAG_SEQUENCE)?;
        let (validity, rest) = expect(rest, TAG_SEQUENCE)?;
        let (not_before, validity) = time(validity)?;
        let (not_after, _) = time(validity)?;
        let (subject, rest) = expect_whole(rest, TAG_SEQUENCE)?;
        let (key_info, mut rest) = expect(rest, TAG_SEQUENCE)?;
        let mut cert = Cert {
            tbs,
            signature_algorithm,
            signature,
            issuer,
            subject,
            not_before,
            not_after,
            p256_key: p256_key(key_info),
            ca: false,
            path_len: None,
            key_usage: None,
            ext_key_usage: None,
            alt_names: None,
            name_constraints: None,
            unknown_critical: false,
        };
        // issuerUniqueID [1], subjectUniqueID [2], extensions [3].
        while let Some((tag, value, next)) = tlv(rest) {
            rest = next;
            if tag == TAG_EXTENSIONS {
                cert.read_extensions(value)?;
            }
        }
        if !rest.is_empty() {
            return None;
        }
        Some(cert)
    }

    fn read_extensions(&mut self, value: &'c [u8]) -> Option<()> {
        let (mut extensions, _) = expect(value, TAG_SEQUENCE)?;
        while !extensions.is_empty() {
            let (extension, rest) = expect(extensions, TAG_SEQUENCE)?;
            extensions = rest;
            let (id, fields) = expect(extension, TAG_OID)?;
            let (critical, fields) = match tlv(fields)? {
                (TAG_BOOLEAN, [flag], rest) => (*flag != 0, rest),
                _ => (false, fields),
            };
            let (content, _) = expect(fields, TAG_OCTET_STRING)?;
            let known = match id {
                [a, b, arc] if [*a, *b] == ID_CE => *arc,
                _ => 0,
            };
            match known {
                KEY_USAGE => {
                    let (bits, _) = expect(content, TAG_BIT_STRING)?;
                    let (_unused, bits) = bits.split_first()?;
                    // Bit 0 is the first byte's most significant bit.
                    let mut usage = 0u16;
                    for (i, byte) in bits.iter().take(2).enumerate() {
                        for bit in 0..8 {
                            if byte & (0x80 >> bit) != 0 {
                                usage |= 1 << (i * 8 + bit);
                            }
                        }
                    }
                    self.key_usage = Some(usage);
                }
                SUBJECT_ALT_NAME => self.alt_names = Some(expect(content, TAG_SEQUENCE)?.0),
                BASIC_CONSTRAINTS => {
                    // SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLen INTEGER OPTIONAL }
                    let (mut fields, _) = expect(content, TAG_SEQUENCE)?;
                    if let Some((TAG_BOOLEAN, [flag], rest)) = tlv(fields) {
                        self.ca = *flag != 0;
                        fields = rest;
                    }
                    if let Some((TAG_INTEGER, value, _)) = tlv(fields) {
                        self.path_len = Some(unsigned(value)?);
                    }
                }
                NAME_CONSTRAINTS => self.name_constraints = Some(expect(content, TAG_SEQUENCE)?.0),
                EXT_KEY_USAGE => self.ext_key_usage = Some(expect(content, TAG_SEQUENCE)?.0),
                CRL_DISTRIBUTION_POINTS => {}
                _ => self.unknown_critical |= critical,
            }
        }
        Some(())
    }

    /// Valid at `now` (seconds since 1970)?
    fn valid_at(&self, now: u64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Does `issuer` sign this certificate: its subject is our issuer and
    /// its P-256 key verifies our ECDSA-with-SHA-256 signature?
    fn signed_by(&self, issuer: &Cert<'_>) -> bool {
        if self.issuer != issuer.subject || self.signature_algorithm != ECDSA_SHA256 {
            return false;
        }
        let Some(key) = issuer
            .p256_key
            .and_then(|k| VerifyingKey::from_sec1_bytes(k).ok())
        else {
            return false;
        };
        let Some(signature) = ecdsa_signature(self.signature) else {
            return false;
        };
        key.verify(self.tbs, &signature).is_ok()
    }

    /// Allows serverAuth: no extendedKeyUsage, or one that lists it.
    fn serves_servers(&self) -> bool {
        let Some(mut purposes) = self.ext_key_usage else {
            return true;
        };
        while let Some((value, rest)) = expect(purposes, TAG_OID) {
            if value == SERVER_AUTH {
                return true;
            }
            purposes = rest;
        }
        false
    }

    /// The leaf's ECDSA P-256 key (SEC1), for the CertificateVerify check.
    pub(crate) fn p256_key(&self) -> Option<&'c [u8]> {
        self.p256_key
    }

    /// Calls `each` with every dNSName of the subjectAltName; `None` if the
    /// names cannot be read.
    fn dns_names(&self, each: &mut dyn FnMut(&'c [u8]) -> bool) -> Option<bool> {
        let Some(mut names) = self.alt_names else {
            return Some(true);
        };
        while !names.is_empty() {
            let (tag, name, rest) = tlv(names)?;
            names = rest;
            if tag == TAG_DNS_NAME && !each(name) {
                return Some(false);
            }
        }
        Some(true)
    }
}

/// An unsigned DER INTEGER that fits a u64.
fn unsigned(value: &[u8]) -> Option<u64> {
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let value = match value {
        [0, rest @ ..] if !rest.is_empty() => rest,
        v => v,
    };
    if value.is_empty() || value.len() > 8 {
        return None;
    }
    Some(value.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// The subjectPublicKey of an id-ecPublicKey P-256 subjectPublicKeyInfo.
fn p256_key(key_info: &[u8]) -> Option<&[u8]> {
    let (algorithm, rest) = expect(key_info, TAG_SEQUENCE)?;
    let (kind, params) = expect(algorithm, TAG_OID)?;
    let (curve, _) = expect(params, TAG_OID)?;
    if kind != EC_PUBLIC_KEY || curve != P256 {
        return None;
    }
    let (bits, _) = expect(rest, TAG_BIT_STRING)?;
    match bits.split_first()? {
        (0, key) => Some(key),
        _ => None,
    }
}

/// A DER ECDSA-Sig-Value (`SEQUENCE { r INTEGER, s INTEGER }`) as a P-256
/// signature: what TLS 1.3's CertificateVerify and certificates carry.
pub(crate) fn ecdsa_signature(der: &[u8]) -> Option<Signature> {
    let (fields, end) = expect(der, TAG_SEQUENCE)?;
    if !end.is_empty() {
        return None;
    }
    let (r, rest) = expect(fields, TAG_INTEGER)?;
    let (s, end) = expect(rest, TAG_INTEGER)?;
    if !end.is_empty() {
        return None;
    }
    let scalar = |v: &[u8]| -> Option<[u8; 32]> {
        let v = match v {
            [0, rest @ ..] => rest,
            v => v,
        };
        let mut out = [0u8; 32];
        let start = out.len().checked_sub(v.len())?;
        out.get_mut(start..)?.copy_from_slice(v);
        Some(out)
    };
    Signature::from_scalars(scalar(r)?, scalar(s)?).ok()
}

/// A UTCTime or GeneralizedTime (`…Z`, seconds) as seconds since 1970,
/// and the rest.
fn time(input: &[u8]) -> Option<(u64, &[u8])> {
    let (tag, text, rest) = tlv(input)?;
    let (year, text) = match tag {
        // RFC 5280 §4.1.2.5.1: YY < 50 is 20YY.
        TAG_UTC_TIME => {
            let yy = digits(text.get(..2)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        TAG_GENERALIZED_TIME => (digits(text.get(..4)?)?, text.get(4..)?),
        _ => return None,
    };
    if text.len() != 11 || text.last() != Some(&b'Z') {
        return None;
    }
    let field = |i: usize| text.get(i..i + 2).and_then(digits);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some((days * 86_400 + hour * 3_600 + minute * 60 + second, rest))
}

fn digits(text: &[u8]) -> Option<u64> {
    text.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// Days from 1970-01-01 to the date (proleptic Gregorian; the calendar of
/// [`crate::time`]), for years from 1970 on (earlier certificates are not
/// valid now anyway: 0).
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let field = |v: u64| i32::try_from(v).ok();
    let days = crate::time::days_from_civil(field(year)?, field(month)?, field(day)?);
    Some(u64::try_from(days).unwrap_or(0))
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

/// A DNS name is inside a dNSName subtree (RFC 5280 §4.2.1.10): equal to
/// it, or below it (`example.com` covers `a.example.com`; `.example.com`
/// only names below it). A wildcard name is judged by its text.
fn within(name: &[u8], subtree: &[u8]) -> bool {
    if subtree.is_empty() {
        return true;
    }
    let tail = name
        .len()
        .checked_sub(subtree.len())
        .and_then(|start| name.get(start..).map(|tail| (start, tail)));
    let Some((start, tail)) = tail else {
        return false;
    };
    if !tail.eq_ignore_ascii_case(subtree) {
        return false;
    }
    if subtree.first() == Some(&b'.') {
        return start > 0;
    }
    start == 0 || name.get(start - 1) == Some(&b'.')
}

/// Whether every dNSName of `leaf` satisfies `issuer`'s name constraints
/// (only dNSName subtrees constrain DNS names); `None` if unreadable.
fn names_allowed(leaf: &Cert<'_>, issuer: &Cert<'_>) -> Option<bool> {
    let Some(mut constraints) = issuer.name_constraints else {
        return Some(true);
    };
    let mut permitted: Option<&[u8]> = None;
    let mut excluded: Option<&[u8]> = None;
    while let Some((tag, value, rest)) = tlv(constraints) {
        match tag {
            TAG_PERMITTED => permitted = Some(value),
            TAG_EXCLUDED => excluded = Some(value),
            _ => return None,
        }
        constraints = rest;
    }
    if !constraints.is_empty() {
        return None;
    }
    // The dNSName bases of GeneralSubtrees: SEQUENCE { base, min, max }.
    let dns_bases = |mut subtrees: &'_ [u8], each: &mut dyn FnMut(&[u8])| -> Option<()> {
        while !subtrees.is_empty() {
            let (subtree, rest) = expect(subtrees, TAG_SEQUENCE)?;
            subtrees = rest;
            let (tag, base, _) = tlv(subtree)?;
            if tag == TAG_DNS_NAME {
                each(base);
            }
        }
        Some(())
    };
    let mut ok = true;
    let read = leaf.dns_names(&mut |name| {
        if let Some(p) = permitted {
            let mut any_dns = false;
            let mut inside = false;
            if dns_bases(p, &mut |base| {
                any_dns = true;
                inside |= within(name, base);
            })
            .is_none()
            {
                ok = false;
            }
            if any_dns && !inside {
                ok = false;
            }
        }
        if let Some(x) = excluded {
            if dns_bases(x, &mut |base| ok &= !within(name, base)).is_none() {
                ok = false;
            }
        }
        ok
    })?;
    Some(read && ok)
}

/// Checks the chain the server sent (`entries`, leaf first, DER) for
/// `host` against the trust anchor `anchor_der` at `now` (seconds since
/// 1970); returns the leaf, whose key then checks CertificateVerify.
pub(crate) fn verify<'c>(
    entries: &[&'c [u8]],
    anchor_der: &[u8],
    host: &str,
    now: u64,
) -> Result<Cert<'c>, Refusal> {
    let anchor = Cert::read(anchor_der).ok_or(Refusal::Malformed)?;
    let (&leaf_der, others) = entries.split_first().ok_or(Refusal::Malformed)?;
    let leaf = Cert::read(leaf_der).ok_or(Refusal::Malformed)?;
    if leaf.unknown_critical {
        return Err(Refusal::CriticalExtension);
    }
    if leaf.ca {
        return Err(Refusal::CaAsLeaf);
    }
    if leaf.key_usage.is_some_and(|u| u & DIGITAL_SIGNATURE == 0) || !leaf.serves_servers() {
        return Err(Refusal::Usage);
    }
    let mut named = false;
    leaf.dns_names(&mut |name| {
        named |= matches(name, host.as_bytes());
        !named
    })
    .ok_or(Refusal::Malformed)?;
    if !named {
        return Err(Refusal::NameMismatch);
    }
    if !leaf.valid_at(now) {
        return Err(Refusal::NotValidNow);
    }
    // The certificates the server sent besides the leaf, read once; a
    // copy of the anchor among them is not an intermediate.
    let mut pool: [Option<Cert<'c>>; MAX_ENTRIES] = [None; MAX_ENTRIES];
    for (slot, der) in pool.iter_mut().zip(others.iter()) {
        if *der != anchor_der {
            *slot = Some(Cert::read(der).ok_or(Refusal::Malformed)?);
        }
    }
    let mut used = [false; MAX_ENTRIES];
    let mut child = leaf;
    for below in 0..=MAX_INTERMEDIATES {
        // `below`: how many CAs lie between the next issuer and the leaf.
        // The anchor is trusted as configured (webpki's rule): only its
        // name constraints apply.
        if child.signed_by(&anchor) {
            return match names_allowed(&leaf, &anchor) {
                Some(true) => Ok(leaf),
                Some(false) => Err(Refusal::NameConstraint),
                None => Err(Refusal::Malformed),
            };
        }
        let mut found = None;
        for (candidate, taken) in pool.iter().zip(used.iter_mut()) {
            if let (Some(c), false) = (candidate, *taken) {
                if child.signed_by(c) {
                    *taken = true;
                    found = Some(*c);
                    break;
                }
            }
        }
        let issuer = found.ok_or(Refusal::UnknownIssuer)?;
        if !issuer.valid_at(now) {
            return Err(Refusal::NotValidNow);
        }
        if issuer.unknown_critical {
            return Err(Refusal::CriticalExtension);
        }
        if !issuer.ca || issuer.key_usage.is_some_and(|u| u & KEY_CERT_SIGN == 0) {
            return Err(Refusal::IssuerNotCa);
        }
        if issuer.path_len.is_some_and(|n| (below as u64) > n) {
            return Err(Refusal::PathTooLong);
        }
        if !issuer.serves_servers() {
            return Err(Refusal::Usage);
        }
        if !names_allowed(&leaf, &issuer).ok_or(Refusal::Malformed)? {
            return Err(Refusal::NameConstraint);
        }
        child = issuer;
    }
    Err(Refusal::UnknownIssuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_both_forms() {
        let utc = [&[TAG_UTC_TIME, 13][..], b"700101000000Z"].concat();
        assert_eq!(time(&utc).map(|t| t.0), Some(0));
        let utc = [&[TAG_UTC_TIME, 13][..], b"491231235959Z"].concat();
        assert_eq!(time(&utc).map(|t| t.0), Some(2_524_607_999));
        let generalized = [&[TAG_GENERALIZED_TIME, 15][..], b"20261206121442Z"].concat();
        assert_eq!(time(&generalized).map(|t| t.0), Some(1_796_559_282));
        for bad in [
            &b"2026120612144Z"[..],
            b"20261306121442Z",
            b"20261206121442+",
        ] {
            let mut der = std::vec![TAG_GENERALIZED_TIME, bad.len() as u8];
            der.extend_from_slice(bad);
            assert_eq!(time(&der), None, "{bad:?}");
        }
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        assert!(matches(b"*.example.com", b"api.example.com"));
        assert!(!matches(b"*.example.com", b"a.b.example.com"));
        assert!(!matches(b"*.example.com", b"example.com"));
        assert!(!matches(b"*.example.com", b".example.com"));
        assert!(!matches(b"*.com", b"example.com"));
        assert!(matches(b"LOCALHOST", b"localhost"));
    }

    #[test]
    fn subtrees_cover_names_at_and_below_them() {
        assert!(within(b"example.com", b"example.com"));
        assert!(within(b"api.EXAMPLE.com", b"example.com"));
        assert!(!within(b"badexample.com", b"example.com"));
        assert!(!within(b"example.com", b".example.com"));
        assert!(within(b"a.example.com", b".example.com"));
        assert!(within(b"anything", b""));
    }

    #[test]
    fn ecdsa_signatures_of_any_integer_width() {
        use p256::ecdsa::signature::Signer as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        for message in [&b"a"[..], b"b", b"c", b"d", b"e", b"f"] {
            let signature: Signature = key.sign(message);
            let der = signature.to_der();
            assert_eq!(ecdsa_signature(der.as_bytes()), Some(signature));
            for len in 0..der.as_bytes().len() {
                assert_eq!(ecdsa_signature(&der.as_bytes()[..len]), None);
            }
        }
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        assert!(Cert::read(&[]).is_none());
        assert!(Cert::read(&[0x30, 0x84, 1, 2, 3, 4]).is_none());
        assert_eq!(
            verify(&[&[0x30, 0x00]], &[0x30, 0x00], "localhost", 0).err(),
            Some(Refusal::Malformed)
        );
        assert_eq!(
            verify(&[], &[], "localhost", 0).err(),
            Some(Refusal::Malformed)
        );
    }
}
