//! Just enough PEM and DER reading to turn RSA keys into the PKCS#1 DER form `jsonwebtoken`
//! signs and verifies with (its `use_pem` feature is not enabled in this build).
//!
//! Google service-account key files hold a PKCS#8 `PRIVATE KEY`; `openssl rsa -pubout` writes an
//! X.509 `PUBLIC KEY` (SubjectPublicKeyInfo). Both wrap the PKCS#1 structure that the RSA code
//! wants, so reading them is: base64-decode, check the algorithm is `rsaEncryption`, unwrap.
//! Errors never quote the key.

use super::GcpError;

/// The DER of the `rsaEncryption` object identifier, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// The PKCS#1 `RSAPrivateKey` DER inside a PEM `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY`
/// (PKCS#1) block.
pub fn rsa_private_key_der(pem: &str) -> Result<Vec<u8>, GcpError> {
    let (label, der) = decode_pem(pem)?;
    match label.as_str() {
        "RSA PRIVATE KEY" => Ok(der),
        "PRIVATE KEY" => unwrap_pkcs8(&der),
        other => Err(key_error(&format!(
            "a PEM block `{other}` where an RSA private key (`PRIVATE KEY`) was expected"
        ))),
    }
}

/// The PKCS#1 `RSAPublicKey` DER inside a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) or
/// `RSA PUBLIC KEY` (PKCS#1) block.
pub fn rsa_public_key_der(pem: &str) -> Result<Vec<u8>, GcpError> {
    let (label, der) = decode_pem(pem)?;
    match label.as_str() {
        "RSA PUBLIC KEY" => Ok(der),
        "PUBLIC KEY" => unwrap_spki(&der),
        other => Err(key_error(&format!(
            "a PEM block `{other}` where an RSA public key (`PUBLIC KEY`) was expected"
        ))),
    }
}

fn key_error(what: &str) -> GcpError {
    GcpError::Config(format!("invalid RSA key: {what}"))
}

/// The label and the decoded bytes of the first PEM block in `text`.
fn decode_pem(text: &str) -> Result<(String, Vec<u8>), GcpError> {
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| key_error("no `-----BEGIN` line (the key is not PEM)"))?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| key_error("an unterminated `-----BEGIN` line"))?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + "-----".len()..];
    let end_line = format!("-----END {label}-----");
    let body_end = body
        .find(&end_line)
        .ok_or_else(|| key_error(&format!("no `{end_line}` line")))?;
    let der = base64_decode(&body[..body_end])
        .ok_or_else(|| key_error("the PEM body is not valid base64"))?;
    Ok((label, der))
}

/// Standard base64 with optional padding; whitespace is skipped.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    let mut padding = false;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// One DER element: its tag, its content, and what follows it.
fn read_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[count..];
        length
    };
    if rest.len() < length {
        return None;
    }
    Some((tag, &rest[..length], &rest[length..]))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), GcpError> {
    match read_element(input) {
        Some((found, content, rest)) if found == tag => Ok((content, rest)),
        _ => Err(key_error(&format!("malformed DER: expected {what}"))),
    }
}

/// Checks an `AlgorithmIdentifier` names `rsaEncryption`.
fn expect_rsa_algorithm(algorithm: &[u8]) -> Result<(), GcpError> {
    let (oid, _parameters) = expect(algorithm, TAG_OID, "the algorithm identifier")?;
    if oid == RSA_ENCRYPTION_OID {
        Ok(())
    } else {
        Err(key_error(
            "the key is not an RSA key (only RS256 keys are supported)",
        ))
    }
}

/// `PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier,
/// privateKey OCTET STRING, ... }`.
fn unwrap_pkcs8(der: &[u8]) -> Result<Vec<u8>, GcpError> {
    let (info, _) = expect(der, TAG_SEQUENCE, "a PrivateKeyInfo sequence")?;
    let (_version, rest) = expect(info, TAG_INTEGER, "the PKCS#8 version")?;
    let (algorithm, rest) = expect(rest, TAG_SEQUENCE, "the algorithm identifier")?;
    expect_rsa_algorithm(algorithm)?;
    let (key, _) = expect(rest, TAG_OCTET_STRING, "the private key octets")?;
    Ok(key.to_vec())
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
/// subjectPublicKey BIT STRING }`.
fn unwrap_spki(der: &[u8]) -> Result<Vec<u8>, GcpError> {
    let (info, _) = expect(der, TAG_SEQUENCE, "a SubjectPublicKeyInfo sequence")?;
    let (algorithm, rest) = expect(info, TAG_SEQUENCE, "the algorithm identifier")?;
    expect_rsa_algorithm(algorithm)?;
    let (bits, _) = expect(rest, TAG_BIT_STRING, "the public key bits")?;
    match bits.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err(key_error("malformed DER: the public key bit string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gcp")
            .join(name);
        std::fs::read_to_string(path).expect("read a test key")
    }

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("aGVs*G8=").is_none());
        assert!(base64_decode("aG=Vs").is_none());
    }

    #[test]
    fn pkcs8_private_key_unwraps_to_pkcs1() {
        let der = rsa_private_key_der(&fixture("test-sa-key.pem")).unwrap();
        // RSAPrivateKey ::= SEQUENCE { version INTEGER (0), modulus INTEGER, ... }
        let (body, rest) = expect(&der, TAG_SEQUENCE, "sequence").unwrap();
        assert!(rest.is_empty());
        let (version, _) = expect(body, TAG_INTEGER, "version").unwrap();
        assert_eq!(version, [0]);
    }

    #[test]
    fn spki_public_key_unwraps_to_pkcs1() {
        let der = rsa_public_key_der(&fixture("test-sa-key.pub.pem")).unwrap();
        let (body, _) = expect(&der, TAG_SEQUENCE, "sequence").unwrap();
        let (modulus, rest) = expect(body, TAG_INTEGER, "modulus").unwrap();
        assert_eq!(modulus.len(), 257, "2048-bit modulus with a sign byte");
        let (exponent, _) = expect(rest, TAG_INTEGER, "exponent").unwrap();
        assert_eq!(exponent, [1, 0, 1]);
    }

    #[test]
    fn errors_never_quote_the_key() {
        let key = fixture("test-sa-key.pem");
        let broken = key.replace("-----END PRIVATE KEY-----", "");
        let message = rsa_private_key_der(&broken).unwrap_err().to_string();
        assert!(message.contains("-----END PRIVATE KEY-----"), "{message}");
        let body_line = key.lines().nth(1).unwrap();
        assert!(!message.contains(body_line));
        let public_as_private = rsa_private_key_der(&fixture("test-sa-key.pub.pem"));
        assert!(public_as_private
            .unwrap_err()
            .to_string()
            .contains("PUBLIC KEY"));
        assert!(rsa_private_key_der("not a key").is_err());
    }
}
