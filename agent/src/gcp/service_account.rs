//! Service-account key files and the OAuth 2.0 JWT bearer grant (RFC 7523) Google documents for
//! them: an RS256 JWT signed with the key, exchanged at the key's `token_uri` for an access
//! token.

use std::fmt;
use std::path::Path;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::GcpError;

/// The OAuth scope meshcd asks for: every Google Cloud API the account's roles allow.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The `grant_type` of the JWT bearer flow.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long a signed assertion is valid (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// The fields of a key file meshcd uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

/// A loaded service-account key: who it is, where to trade assertions, and the signing key.
#[derive(Clone)]
pub(crate) struct ServiceAccountKey {
    pub(crate) client_email: String,
    pub(crate) private_key_id: String,
    pub(crate) token_uri: String,
    key: EncodingKey,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("private_key", &"***")
            .finish()
    }
}

/// The claims of the assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) scope: String,
    pub(crate) aud: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
}

impl ServiceAccountKey {
    /// Reads and checks a key file; the key is tried once so a broken one fails here.
    pub(crate) fn load(path: &Path) -> Result<Self, GcpError> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|error| {
            GcpError::Config(format!(
                "cannot read the service-account key {shown}: {error}"
            ))
        })?;
        Self::parse(&text).map_err(|error| match error {
            GcpError::Config(message) => {
                GcpError::Config(format!("service-account key {shown}: {message}"))
            }
            other => other,
        })
    }

    /// Parses the JSON of a key file.
    pub(crate) fn parse(text: &str) -> Result<Self, GcpError> {
        let file: KeyFile = serde_json::from_str(text).map_err(|error| {
            // serde_json errors give a line and column, never the text.
            GcpError::Config(format!("not a JSON key file ({error})"))
        })?;
        match file.kind.as_deref() {
            Some("service_account") => {}
            Some(other) => {
                return Err(GcpError::Config(format!(
                    "its type is `{other}`, but only `service_account` keys are supported; for \
                     user credentials pass a token instead (MESHCD_GCP_ACCESS_TOKEN=$(gcloud auth \
                     print-access-token))"
                )))
            }
            None => return Err(GcpError::Config("it has no `type` field".into())),
        }
        let field = |value: Option<String>, name: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| GcpError::Config(format!("it has no `{name}` field")))
        };
        let client_email = field(file.client_email, "client_email")?;
        let private_key_id = field(file.private_key_id, "private_key_id")?;
        let token_uri = field(file.token_uri, "token_uri")?;
        let private_key = field(file.private_key, "private_key")?;
        // jsonwebtoken reads PKCS#8 `PRIVATE KEY` (what Google issues) and PKCS#1 `RSA PRIVATE
        // KEY` blocks and refuses keys of other algorithms. Its errors carry no key material, but
        // they say little either, so the message is ours.
        let key = EncodingKey::from_rsa_pem(private_key.as_bytes()).map_err(|_| {
            GcpError::Config(
                "its `private_key` is not a PEM RSA private key (`-----BEGIN PRIVATE KEY-----`); \
                 only RS256 keys are supported"
                    .into(),
            )
        })?;
        let loaded = ServiceAccountKey {
            client_email,
            private_key_id,
            token_uri,
            key,
        };
        loaded.assertion(0).map_err(|_| {
            GcpError::Config("its `private_key` is not a usable RSA private key".into())
        })?;
        Ok(loaded)
    }

    /// The claims of an assertion issued at `now` (seconds since the epoch).
    pub(crate) fn claims(&self, now: u64) -> Claims {
        Claims {
            iss: self.client_email.clone(),
            scope: CLOUD_PLATFORM_SCOPE.to_string(),
            aud: self.token_uri.clone(),
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        }
    }

    /// The JWT header: RS256 with the key's id.
    pub(crate) fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.private_key_id.clone());
        header
    }

    /// A signed assertion issued at `now`.
    pub(crate) fn assertion(&self, now: u64) -> Result<String, GcpError> {
        jsonwebtoken::encode(&self.header(), &self.claims(now), &self.key)
            .map_err(|error| GcpError::Auth(format!("cannot sign the JWT assertion: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gcp")
            .join(name);
        std::fs::read_to_string(path).expect("read a test key")
    }

    fn key_json(private_key: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "project_id": "p",
            "private_key_id": "kid-1",
            "private_key": private_key,
            "client_email": "meshcd@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string()
    }

    #[test]
    fn claims_follow_googles_jwt_bearer_flow() {
        let key = ServiceAccountKey::parse(&key_json(&fixture("test-sa-key.pem"))).unwrap();
        let claims = key.claims(1_700_000_000);
        assert_eq!(
            claims,
            Claims {
                iss: "meshcd@p.iam.gserviceaccount.com".into(),
                scope: "https://www.googleapis.com/auth/cloud-platform".into(),
                aud: "https://oauth2.googleapis.com/token".into(),
                iat: 1_700_000_000,
                exp: 1_700_003_600,
            }
        );
        let header = key.header();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("kid-1"));
    }

    #[test]
    fn assertion_verifies_with_the_public_key_and_has_no_sub() {
        let key = ServiceAccountKey::parse(&key_json(&fixture("test-sa-key.pem"))).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let jwt = key.assertion(now).unwrap();
        let public = DecodingKey::from_rsa_pem(fixture("test-sa-key.pub.pem").as_bytes()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.googleapis.com/token"]);
        validation.set_issuer(&["meshcd@p.iam.gserviceaccount.com"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &public, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("kid-1"));
        assert!(data.claims.get("sub").is_none());
        assert_eq!(data.claims["scope"], CLOUD_PLATFORM_SCOPE);
    }

    #[test]
    fn bad_key_files_are_config_errors_without_key_material() {
        let pem = fixture("test-sa-key.pem");
        let body_line = pem.lines().nth(1).unwrap().to_string();
        let wrong_type = key_json(&pem).replace("service_account", "authorized_user");
        let message = ServiceAccountKey::parse(&wrong_type)
            .unwrap_err()
            .to_string();
        assert!(message.contains("authorized_user"), "{message}");

        let truncated: String = pem.lines().take(5).collect::<Vec<_>>().join("\n");
        let message = ServiceAccountKey::parse(&key_json(&truncated))
            .unwrap_err()
            .to_string();
        assert!(!message.contains(&body_line), "{message}");

        let mut lines: Vec<&str> = pem.lines().collect();
        lines.remove(3);
        let message = ServiceAccountKey::parse(&key_json(&lines.join("\n")))
            .unwrap_err()
            .to_string();
        assert!(!message.contains(&body_line), "{message}");

        let message = ServiceAccountKey::parse("{\"type\":\"service_account\"}")
            .unwrap_err()
            .to_string();
        assert!(message.contains("client_email"), "{message}");
    }

    /// A throwaway Ed25519 key (PKCS#8, like Google's RSA keys): a valid key, but not RSA.
    const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEII1IDALJCPAd9Xv1BRXXdNRQ75VqokARHmxryPCPqrYV\n\
        -----END PRIVATE KEY-----\n";

    #[test]
    fn keys_that_are_not_rsa_private_keys_are_config_errors() {
        let public = fixture("test-sa-key.pub.pem");
        let public_body = public.lines().nth(1).unwrap().to_string();
        let ed25519_body = ED25519_KEY.lines().nth(1).unwrap().trim().to_string();
        for (what, key) in [
            ("not PEM", "not a key".to_string()),
            ("an RSA public key", public),
            ("an Ed25519 key", ED25519_KEY.to_string()),
        ] {
            let error = ServiceAccountKey::parse(&key_json(&key)).unwrap_err();
            assert!(matches!(error, GcpError::Config(_)), "{what}: {error:?}");
            let message = error.to_string();
            assert!(message.contains("private_key"), "{what}: {message}");
            assert!(!message.contains(&public_body), "{what}: {message}");
            assert!(!message.contains(&ed25519_body), "{what}: {message}");
        }
    }

    #[test]
    fn load_names_the_file_in_key_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meshcd-sa.json");
        std::fs::write(&path, key_json(ED25519_KEY)).unwrap();
        let error = ServiceAccountKey::load(&path).unwrap_err();
        assert!(matches!(error, GcpError::Config(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("meshcd-sa.json"), "{message}");
        assert!(message.contains("RSA"), "{message}");

        std::fs::write(&path, key_json(&fixture("test-sa-key.pem"))).unwrap();
        let key = ServiceAccountKey::load(&path).unwrap();
        assert_eq!(key.client_email, "meshcd@p.iam.gserviceaccount.com");
    }

    #[test]
    fn debug_hides_the_private_key() {
        let key = ServiceAccountKey::parse(&key_json(&fixture("test-sa-key.pem"))).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("meshcd@p.iam.gserviceaccount.com"));
        assert!(!shown.contains("PRIVATE"));
    }
}
