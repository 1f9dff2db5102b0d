//! Web Push from the box itself, no relay: the VAPID key pair (RFC 8292), payload
//! encryption (RFC 8291 with RFC 8188's `aes128gcm`), and the request a push
//! service takes. Pure apart from reading or making the key file; the sending is
//! the notify thread's ([`crate::notify`]).

use aes_gcm::aead::Aead;
use aes_gcm::{Aes128Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use std::fmt;
use std::path::{Path, PathBuf};

/// RFC 8188 record size we announce: the whole payload fits in one record.
const RECORD_SIZE: u32 = 4096;
/// Largest plaintext one record holds (record size minus tag and delimiter);
/// push services take 4096 bytes of body at most, so the payload stays well under.
pub const MAX_PLAINTEXT: usize = 3000;
/// A VAPID JWT is good for this long (RFC 8292 allows up to 24 hours).
const JWT_LIFETIME_SECS: u64 = 12 * 3600;

/// Why a push could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum PushError {
    /// The subscription's `p256dh` or `auth` is not a usable key.
    BadKey(&'static str),
    /// The payload is too large for one record.
    TooLarge,
    /// The endpoint is not an https (or, for tests, http) URL with a host.
    BadEndpoint,
    Crypto,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::BadKey(which) => write!(f, "the subscription's {which} key is not valid"),
            PushError::TooLarge => write!(f, "the payload is too large"),
            PushError::BadEndpoint => write!(f, "the endpoint is not a URL"),
            PushError::Crypto => write!(f, "encryption failed"),
        }
    }
}

/// The server's VAPID key pair (P-256), kept in `<data dir>/vapid.key` (0600).
pub struct Vapid {
    key: SecretKey,
}

impl Vapid {
    /// The data dir's key, made on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Vapid> {
        let path = key_path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = B64.decode(text.trim()).map_err(invalid)?;
                let key = SecretKey::from_slice(&bytes).map_err(|_| invalid("not a P-256 key"))?;
                Ok(Vapid { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random_key()?;
                write_private(&path, &B64.encode(key.to_bytes()))?;
                log::info!("push: made a new VAPID key pair in {}", path.display());
                Ok(Vapid { key })
            }
            Err(e) => Err(e),
        }
    }

    #[cfg(test)]
    pub fn from_key(key: SecretKey) -> Vapid {
        Vapid { key }
    }

    /// The public key as `PushManager.subscribe` wants it (`applicationServerKey`):
    /// the uncompressed point, base64url.
    pub fn public_b64(&self) -> String {
        B64.encode(self.key.public_key().to_sec1_point(false).as_bytes())
    }

    /// The `Authorization` header for a push to `endpoint` (RFC 8292 §3):
    /// `vapid t=<ES256 JWT>, k=<public key>`.
    pub fn authorization(
        &self,
        endpoint: &str,
        subject: &str,
        now_secs: u64,
    ) -> Result<String, PushError> {
        let aud = origin(endpoint).ok_or(PushError::BadEndpoint)?;
        let jwt = self.jwt(&aud, now_secs + JWT_LIFETIME_SECS, subject);
        Ok(format!("vapid t={jwt}, k={}", self.public_b64()))
    }

    fn jwt(&self, aud: &str, exp: u64, sub: &str) -> String {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({"aud": aud, "exp": exp, "sub": sub});
        let input = format!("{header}.{}", B64.encode(claims.to_string()));
        let signature: Signature = SigningKey::from(&self.key).sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("vapid.key")
}

fn invalid(why: impl fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("vapid.key: {why}"))
}

/// Writes a secret readable by this user only (created 0600, never widened).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A fresh P-256 private key from the OS's randomness.
fn random_key() -> std::io::Result<SecretKey> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        // Out of range (zero or above the group order) about once in 2^32 draws.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}

/// `scheme://host[:port]` of a URL: the JWT's audience.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// A browser's subscription keys, decoded.
pub struct UaKeys {
    public: Vec<u8>,
    auth: Vec<u8>,
}

impl UaKeys {
    /// From `PushSubscription.toJSON().keys` (base64url, padded or not).
    pub fn parse(p256dh: &str, auth: &str) -> Result<UaKeys, PushError> {
        let decode = |s: &str| B64.decode(s.trim_end_matches('='));
        let public = decode(p256dh).map_err(|_| PushError::BadKey("p256dh"))?;
        PublicKey::from_sec1_bytes(&public).map_err(|_| PushError::BadKey("p256dh"))?;
        if public.len() != 65 {
            return Err(PushError::BadKey("p256dh"));
        }
        let auth = decode(auth).map_err(|_| PushError::BadKey("auth"))?;
        if auth.len() != 16 {
            return Err(PushError::BadKey("auth"));
        }
        Ok(UaKeys { public, auth })
    }
}

/// Encrypts `plaintext` for a subscription with a fresh sender key and salt.
pub fn encrypt(plaintext: &[u8], ua: &UaKeys) -> Result<Vec<u8>, PushError> {
    let sender = random_key().map_err(|_| PushError::Crypto)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| PushError::Crypto)?;
    encrypt_with(plaintext, ua, &sender, &salt)
}

/// RFC 8291 §3.4 with a given sender key and salt (the RFC's worked example
/// fixes both; [`encrypt`] draws them fresh for every message).
fn encrypt_with(
    plaintext: &[u8],
    ua: &UaKeys,
    sender: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, PushError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(PushError::TooLarge);
    }
    let ua_public = PublicKey::from_sec1_bytes(&ua.public).map_err(|_| PushError::Crypto)?;
    let as_public = sender.public_key().to_sec1_point(false);
    let as_public = as_public.as_bytes();
    let shared = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), ua_public.as_affine());
    // IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" || 0 || ua_public || as_public)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(&ua.public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&ua.auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| PushError::Crypto)?;
    // RFC 8188: the content key and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| PushError::Crypto)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| PushError::Crypto)?;
    // One record, the last: the plaintext, then the delimiter 2, no padding.
    let mut record = plaintext.to_vec();
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| PushError::Crypto)?;
    let sealed = cipher
        .encrypt(&nonce.into(), record.as_slice())
        .map_err(|_| PushError::Crypto)?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// How soon the push service must deliver (RFC 8030 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Normal,
    High,
}

impl Urgency {
    pub fn header(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn b(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    /// RFC 8291 Appendix A: its keys, salt and plaintext give exactly its body.
    #[test]
    fn rfc8291_worked_example_encrypts_to_the_rfcs_bytes() {
        let sender =
            SecretKey::from_slice(&b("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(
            B64.encode(sender.public_key().to_sec1_point(false).as_bytes()),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let ua = UaKeys::parse(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "BTBZMqHH6r4Tts7J_aSIgg",
        )
        .unwrap();
        let salt: [u8; 16] = b("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &ua,
            &sender,
            &salt,
        )
        .unwrap();
        assert_eq!(
            B64.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn the_vapid_jwt_verifies_with_the_public_key() {
        let vapid = Vapid::from_key(random_key().unwrap());
        let auth = vapid
            .authorization(
                "https://push.example.net/send/abc?x=1",
                "mailto:me@example.org",
                1000,
            )
            .unwrap();
        let (t, k) = auth
            .strip_prefix("vapid t=")
            .and_then(|r| r.split_once(", k="))
            .unwrap();
        assert_eq!(k, vapid.public_b64());
        let (input, sig) = t.rsplit_once('.').unwrap();
        let key = VerifyingKey::from_sec1_bytes(&b(k)).unwrap();
        let sig = Signature::from_slice(&b(sig)).unwrap();
        key.verify(input.as_bytes(), &sig).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&b(input.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1000 + JWT_LIFETIME_SECS);
        assert_eq!(claims["sub"], "mailto:me@example.org");
        let header: serde_json::Value =
            serde_json::from_slice(&b(input.split('.').next().unwrap())).unwrap();
        assert_eq!(header["alg"], "ES256");
        // A different key does not verify it.
        let other = Vapid::from_key(random_key().unwrap());
        let wrong = VerifyingKey::from_sec1_bytes(&b(&other.public_b64())).unwrap();
        assert!(wrong.verify(input.as_bytes(), &sig).is_err());
    }

    #[test]
    fn the_key_is_made_once_kept_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("hc-vapid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = Vapid::load_or_create(&dir).unwrap();
        let b = Vapid::load_or_create(&dir).unwrap();
        assert_eq!(a.public_b64(), b.public_b64());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_path(&dir))
            .unwrap()
            .permissions()
            .mode();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn bad_subscription_keys_are_refused() {
        assert!(UaKeys::parse("AAAA", "BTBZMqHH6r4Tts7J_aSIgg").is_err());
        assert!(
            UaKeys::parse(
                "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                "short"
            )
            .is_err()
        );
        assert_eq!(origin("ftp://x/y"), None);
        assert_eq!(
            origin("http://127.0.0.1:9/p").as_deref(),
            Some("http://127.0.0.1:9")
        );
    }
}
