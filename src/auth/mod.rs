//! AWS Signature Version 4 verification for hearth's HTTP API.
//!
//! The AWS CLI, boto3/botocore and the other AWS SDKs sign every request with SigV4. This module
//! checks those signatures against a file of access key id / secret pairs ([`Credentials`]), so
//! that hearth can be driven by unmodified AWS tooling while refusing anyone without a key.
//!
//! # What is verified
//!
//! [`verify`] rebuilds the SigV4 canonical request exactly as botocore does for a non-S3 service
//! and checks the `Authorization` header's signature over it:
//!
//! - **method** as sent;
//! - **canonical URI**: the raw (still percent-encoded) wire path, URI-encoded *again* with the
//!   unreserved set `A-Z a-z 0-9 - _ . ~` plus `/`. botocore puts `my-fn%3A%24LATEST` on the wire
//!   and signs `my-fn%253A%2524LATEST`; this double encoding is the rule for every service but S3.
//!   Paths with empty, `.` or `..` segments are refused (see below);
//! - **canonical query**: each `key=value` pair percent-decoded, re-encoded with the unreserved
//!   set, sorted by key then value; a key without `=` gets an empty value;
//! - **canonical headers**: the headers named in `SignedHeaders`, values trimmed with internal
//!   runs of spaces/tabs collapsed, repeated headers joined with `,`. `host` must be signed, and
//!   its value includes the port (`127.0.0.1:9001`), as clients sign it;
//! - **payload hash**: hex SHA-256 of the body. If an `X-Amz-Content-SHA256` header is present
//!   it must equal that hash (it is what the client signed);
//! - **string to sign**: `AWS4-HMAC-SHA256`, `X-Amz-Date`, the scope
//!   `{date}/{region}/{service}/aws4_request` and the hex SHA-256 of the canonical request, one
//!   per line, signed with the key derived from `AWS4{secret}` → date → region → service →
//!   `aws4_request`. The signature comparison is constant-time;
//! - **clock skew**: `X-Amz-Date` must be within [`MAX_CLOCK_SKEW`] (15 minutes) of the server's
//!   clock, either way. (Real Lambda has been seen to enforce 5 minutes; 15 is the SigV4 norm and
//!   is kinder to self-hosted machines with sloppy clocks.)
//!
//! **Any region and any service** in the credential scope is accepted: hearth serves every
//! region on one endpoint, and a client configured for `eu-west-3` or pointed at hearth through
//! another service name must still work. The scope only has to be well formed
//! (`date/region/service/aws4_request`, date equal to the day of `X-Amz-Date`).
//!
//! # What is not covered
//!
//! - **Session tokens / STS**: hearth has no temporary credentials. A request carrying
//!   `X-Amz-Security-Token` is refused as [`AuthError::UnknownAccessKey`] ("The security token
//!   included in the request is invalid."), which is what AWS answers for a token it does not know.
//! - **Presigned URLs** (query-string authentication, `X-Amz-Signature=` in the query) and the
//!   `Date` header as an alternative to `X-Amz-Date`: refused as [`AuthError::Malformed`].
//! - **Unsigned or streaming payloads** (`X-Amz-Content-SHA256: UNSIGNED-PAYLOAD` or
//!   `STREAMING-…`): refused as malformed; hearth always wants the body covered by the signature.
//!   No Lambda operation lets botocore skip payload signing, so AWS tooling never sends these.
//! - **SigV4a** (`AWS4-ECDSA-P256-SHA256`) and the older SigV2/SigV3 schemes.
//! - **Replay** within the skew window: SigV4 has no nonce; a captured request can be replayed
//!   until its `X-Amz-Date` is 15 minutes old. Run hearth behind TLS.
//! - **Authorisation**: a valid key may do everything. There are no IAM policies.
//!
//! Paths containing empty, `.` or `..` segments (`//`, `/./`, `/../`) are refused: botocore
//! signs such paths after removing those segments, so the signature would cover a different path
//! than the one hearth routes. No AWS client produces them for Lambda's API.
//!
//! # Errors on the wire
//!
//! Every refusal is an [`AuthError`]; [`AuthError::code`] and [`AuthError::status`] give the
//! `x-amzn-ErrorType` and HTTP status Lambda uses, and its `Display` is the message in AWS's
//! words, so botocore raises the same `ClientError` it would against AWS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod credentials;

use crate::api::query::Query;

pub use credentials::{Credentials, CredentialsError};

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, Method};
use sha2::{Digest, Sha256};

/// The one signing algorithm hearth accepts in the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far `X-Amz-Date` may be from the server's clock, in either direction.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

type HmacSha256 = Hmac<Sha256>;

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

/// Why a request was refused. `Display` is the message in AWS's words; [`AuthError::code`] and
/// [`AuthError::status`] are what AWS Lambda answers for the same fault (all are 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header. Lambda: 403 `MissingAuthenticationTokenException`.
    #[error("Missing Authentication Token")]
    Missing,
    /// The `Authorization` header or `X-Amz-Date` is malformed, the algorithm or scheme is not
    /// supported, `host` is not signed, or the request uses a feature hearth does not support
    /// (presigned URL, unsigned payload). Lambda: 403 `IncompleteSignatureException`.
    #[error("{0}")]
    Malformed(String),
    /// The access key id is not in the credentials file, or the request carries a session token.
    /// Lambda: 403 `UnrecognizedClientException`.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The signature does not match. Lambda: 403 `InvalidSignatureException`.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// `X-Amz-Date` is more than [`MAX_CLOCK_SKEW`] away from now. Lambda: 403
    /// `InvalidSignatureException`, "Signature expired: … is now earlier than …".
    #[error("{0}")]
    Expired(String),
}

impl AuthError {
    /// The AWS error code, for the `x-amzn-ErrorType` header and the JSON body's `__type`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Malformed(_) => "IncompleteSignatureException",
            AuthError::UnknownAccessKey => "UnrecognizedClientException",
            AuthError::SignatureMismatch | AuthError::Expired(_) => "InvalidSignatureException",
        }
    }

    /// The HTTP status: 403 for every variant, as Lambda does (its API reference lists
    /// `IncompleteSignature` as 403, unlike the query-protocol services' 400).
    pub fn status(&self) -> u16 {
        403
    }
}

// ------------------------------------------------------------------------------------------------
// Verification
// ------------------------------------------------------------------------------------------------

/// Verifies the SigV4 signature of one request and returns the access key id that signed it:
/// [`check_headers`] and then [`PendingSignature::verify_body`].
pub fn verify(
    creds: &Credentials,
    method: &Method,
    raw_path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<String, AuthError> {
    check_headers(creds, method, raw_path, query, headers, now)?.verify_body(body)
}

/// A request whose signature has been checked as far as it can be without its body: the
/// `Authorization` header is well formed, `host` is signed, the key is known, the date is
/// within the skew. What is left is the payload hash and the signature itself.
#[derive(Debug)]
pub struct PendingSignature {
    access_key_id: String,
    /// The key derived from the secret, date, region and service.
    signing_key: Vec<u8>,
    /// `AWS4-HMAC-SHA256\n{date}\n{scope}\n`, waiting for the canonical request's hash.
    string_to_sign_head: String,
    /// The canonical request up to (and with the newline before) the payload hash.
    canonical_head: Vec<u8>,
    /// `X-Amz-Content-SHA256` as sent, if it was.
    declared_payload_hash: Option<Vec<u8>>,
    signature: [u8; 32],
}

/// Checks everything in a request's signature that does not need its body, so that a
/// request without a valid key is refused before a byte of its body is read.
///
/// - `raw_path`: the path exactly as it arrived on the wire, still percent-encoded
///   (`uri.path()` from hyper), without the query.
/// - `query`: the request's query as the router reads it (one parser for both).
/// - `headers`: all request headers. `host` must be among them: over HTTP/2, insert it from the
///   `:authority` before calling.
/// - `now`: the current time, for the [`MAX_CLOCK_SKEW`] check.
///
/// Checks run in this order, so the error names the first problem: `Authorization` present →
/// well formed (with `X-Amz-Date`, a valid scope, `host` signed, a normalised path) → no
/// session token → known key → within the clock skew; then, with the body, payload hash →
/// signature.
pub fn check_headers(
    creds: &Credentials,
    method: &Method,
    raw_path: &str,
    query: &Query,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<PendingSignature, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(authorization) = values.next() else {
        if query.contains("X-Amz-Signature") || query.contains("X-Amz-Algorithm") {
            return Err(AuthError::Malformed(
                "Presigned URLs (query-string authentication) are not supported by hearth: sign requests with an Authorization header."
                    .to_owned(),
            ));
        }
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::Malformed(
            "The request has more than one Authorization header.".to_owned(),
        ));
    }
    let Ok(authorization) = authorization.to_str() else {
        return Err(AuthError::Malformed(
            "The Authorization header contains characters that are not visible ASCII.".to_owned(),
        ));
    };

    let amz_date_value = single_header(headers, "x-amz-date")?;
    let auth = parse_authorization(
        authorization,
        amz_date_value.is_some(),
        headers.contains_key(http::header::DATE),
    )?;
    let amz_date_bytes = amz_date_value.map(|v| v.as_bytes()).unwrap_or_default();
    let Some((amz_date, request_time)) = std::str::from_utf8(amz_date_bytes)
        .ok()
        .and_then(|s| Some((s, parse_amz_date(s)?)))
    else {
        return Err(AuthError::Malformed(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            String::from_utf8_lossy(amz_date_bytes)
        )));
    };
    let scope = parse_scope(auth.credential, amz_date)?;
    let signed_headers = parse_signed_headers(auth.signed_headers)?;
    let uri = canonical_uri(raw_path)?;

    if headers.contains_key("x-amz-security-token") {
        return Err(AuthError::UnknownAccessKey);
    }
    let Some(secret) = creds.secret(scope.access_key_id) else {
        return Err(AuthError::UnknownAccessKey);
    };
    check_skew(amz_date, request_time, unix_seconds(now))?;

    let declared_payload_hash = headers.get("x-amz-content-sha256").map(|v| v.as_bytes());
    if let Some(declared) = declared_payload_hash
        && (declared == b"UNSIGNED-PAYLOAD" || declared.starts_with(b"STREAMING-"))
    {
        return Err(AuthError::Malformed(format!(
            "hearth requires a signed payload: X-Amz-Content-SHA256 must be the hex SHA-256 of the body, not '{}'.",
            String::from_utf8_lossy(declared)
        )));
    }
    let Some(signature) = decode_signature(auth.signature) else {
        return Err(AuthError::SignatureMismatch);
    };
    let canonical_head = canonical_request_head(
        method,
        &uri,
        query,
        headers,
        &signed_headers,
        auth.signed_headers,
    );
    Ok(PendingSignature {
        access_key_id: scope.access_key_id.to_owned(),
        signing_key: signing_key(secret, scope.date, scope.region, scope.service)?,
        string_to_sign_head: format!(
            "{ALGORITHM}\n{amz_date}\n{}/{}/{}/aws4_request\n",
            scope.date, scope.region, scope.service
        ),
        canonical_head,
        declared_payload_hash: declared_payload_hash.map(<[u8]>::to_vec),
        signature,
    })
}

impl PendingSignature {
    /// The access key id the request claims (known, not yet proven).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Finishes the check over the complete body (as received, before any content decoding)
    /// and returns the access key id that signed the request.
    pub fn verify_body(self, body: &[u8]) -> Result<String, AuthError> {
        let body_hash = hex::encode(Sha256::digest(body));
        if self
            .declared_payload_hash
            .is_some_and(|declared| declared != body_hash.as_bytes())
        {
            return Err(AuthError::SignatureMismatch);
        }
        let mut canonical = self.canonical_head;
        canonical.extend_from_slice(body_hash.as_bytes());
        let mut string_to_sign = self.string_to_sign_head;
        string_to_sign.push_str(&hex::encode(Sha256::digest(&canonical)));
        let mut mac = new_mac(&self.signing_key)?;
        mac.update(string_to_sign.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&self.signature)
            .map_err(|_| AuthError::SignatureMismatch)?;
        Ok(self.access_key_id)
    }
}

/// SigV4's signing key: `AWS4{secret}` → date → region → service → `aws4_request`.
fn signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Result<Vec<u8>, AuthError> {
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes())?;
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes())?;
    }
    Ok(key)
}

/// The three parameters of an `AWS4-HMAC-SHA256` Authorization header.
struct AuthorizationHeader<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization<'a>(
    value: &'a str,
    has_amz_date: bool,
    has_date: bool,
) -> Result<AuthorizationHeader<'a>, AuthError> {
    let trimmed = value.trim_matches([' ', '\t']);
    let (algorithm, params) = trimmed.split_once([' ', '\t']).unwrap_or((trimmed, ""));
    if algorithm != ALGORITHM && algorithm.starts_with("AWS4-") {
        return Err(AuthError::Malformed(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. hearth accepts only {ALGORITHM}."
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    if algorithm == ALGORITHM {
        // AWS splits the parameter list on commas and spaces: `Credential=AKID /2026…` yields
        // the well-known "not a valid key=value pair" error rather than an unknown key.
        for part in params.split([',', ' ', '\t']).filter(|p| !p.is_empty()) {
            let Some((name, val)) = part.split_once('=') else {
                return Err(AuthError::Malformed(format!(
                    "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
                )));
            };
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.is_some() {
                return Err(AuthError::Malformed(format!(
                    "Authorization header has more than one '{name}' parameter."
                )));
            }
            *slot = Some(val);
        }
    }
    let mut problems = String::new();
    for (name, found) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !found {
            problems.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if !has_amz_date {
        if has_date {
            problems.push_str("hearth requires the 'X-Amz-Date' header; signing with the 'Date' header is not supported. ");
        } else {
            problems.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) if problems.is_empty() => {
            Ok(AuthorizationHeader {
                credential,
                signed_headers,
                signature,
            })
        }
        _ => Err(AuthError::Malformed(format!(
            "{problems}Authorization={value}"
        ))),
    }
}

/// `AKID/20261124/us-east-1/lambda/aws4_request`, split.
struct Scope<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

fn parse_scope<'a>(credential: &'a str, amz_date: &str) -> Result<Scope<'a>, AuthError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(AuthError::Malformed(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if terminator != "aws4_request" {
        return Err(AuthError::Malformed(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    // `amz_date` has been validated: 16 ASCII characters.
    let day = amz_date.get(..8).unwrap_or(amz_date);
    if date != day {
        return Err(AuthError::Malformed(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{day}', from '{amz_date}'."
        )));
    }
    if region.is_empty() {
        return Err(AuthError::Malformed(
            "Credential should be scoped to a valid region, not ''.".to_owned(),
        ));
    }
    if service.is_empty() {
        return Err(AuthError::Malformed(
            "Credential should be scoped to a valid service, not ''.".to_owned(),
        ));
    }
    Ok(Scope {
        access_key_id,
        date,
        region,
        service,
    })
}

/// The `SignedHeaders` list, each name as written (for the canonical request) and parsed (for
/// looking the header up).
fn parse_signed_headers(list: &str) -> Result<Vec<(&str, HeaderName)>, AuthError> {
    let mut names = Vec::new();
    for name in list.split(';') {
        let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
            return Err(AuthError::Malformed(format!(
                "Invalid header name '{name}' in SignedHeaders '{list}'."
            )));
        };
        names.push((name, parsed));
    }
    if !names.iter().any(|(_, n)| n == http::header::HOST) {
        return Err(AuthError::Malformed(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    Ok(names)
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h http::HeaderValue>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::Malformed(format!(
            "The request has more than one '{name}' header."
        )));
    }
    Ok(first)
}

fn check_skew(amz_date: &str, request_time: i64, now: i64) -> Result<(), AuthError> {
    let skew = i64::try_from(MAX_CLOCK_SKEW.as_secs()).unwrap_or(i64::MAX);
    let minutes = skew / 60;
    if request_time < now.saturating_sub(skew) {
        return Err(AuthError::Expired(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
            format_amz_date(now.saturating_sub(skew)),
            format_amz_date(now)
        )));
    }
    if request_time > now.saturating_add(skew) {
        return Err(AuthError::Expired(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
            format_amz_date(now.saturating_add(skew)),
            format_amz_date(now)
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Canonical request
// ------------------------------------------------------------------------------------------------

/// The canonical request up to the payload hash: method, URI, query, signed headers and the
/// signed-header list, each followed by a newline.
fn canonical_request_head(
    method: &Method,
    canonical_uri: &str,
    query: &Query,
    headers: &HeaderMap,
    signed_headers: &[(&str, HeaderName)],
    signed_header_list: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(query.canonical().as_bytes());
    out.push(b'\n');
    for (written, name) in signed_headers {
        out.extend_from_slice(written.as_bytes());
        out.push(b':');
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(&mut out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_header_list.as_bytes());
    out.push(b'\n');
    out
}

/// Appends `value` without leading/trailing whitespace and with inner runs collapsed to one
/// space (SigV4's Trimall; botocore's `' '.join(value.split())`).
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut any = false;
    for &b in value {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            pending_space = any;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            any = true;
        }
    }
}

/// The wire path URI-encoded once more (non-S3 rule). Refuses paths botocore would normalise
/// before signing (empty, `.` and `..` segments), so the signed path is the routed path.
fn canonical_uri(raw_path: &str) -> Result<String, AuthError> {
    if raw_path.is_empty() {
        return Ok("/".to_owned());
    }
    if remove_dot_segments(raw_path) != raw_path {
        return Err(AuthError::Malformed(format!(
            "hearth does not accept request paths with empty, '.' or '..' segments: '{raw_path}'."
        )));
    }
    Ok(raw_path
        .split('/')
        .map(crate::api::query::sigv4_encode)
        .collect::<Vec<_>>()
        .join("/"))
}

/// botocore's `remove_dot_segments` (RFC 3986 §5.2.4, plus collapsing `//`), which it applies
/// to the path before signing.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !kept.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", kept.join("/"))
}

/// 64 hex digits → 32 bytes; anything else is `None`.
fn decode_signature(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

fn new_mac(key: &[u8]) -> Result<HmacSha256, AuthError> {
    // HMAC takes keys of any length, so this cannot fail; refuse rather than panic if it did.
    <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| AuthError::SignatureMismatch)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
    let mut mac = new_mac(key)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

// ------------------------------------------------------------------------------------------------
// Time
// ------------------------------------------------------------------------------------------------

/// `X-Amz-Date`'s ISO-8601 basic format, `20261124T061835Z`.
const AMZ_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// 9999-12-31T23:59:59Z: `now` is clamped into [epoch, this] so formatting stays 4-digit.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs())
            .unwrap_or(i64::MAX)
            .min(MAX_UNIX_SECONDS),
        Err(_) => 0,
    }
}

/// Parses `YYYYMMDDTHHMMSSZ` into Unix seconds; `None` unless it is exactly that and a real time.
fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let parsed = time::PrimitiveDateTime::parse(s, AMZ_DATE).ok()?;
    Some(parsed.assume_utc().unix_timestamp())
}

fn format_amz_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix.min(MAX_UNIX_SECONDS))
        .ok()
        .and_then(|t| t.format(AMZ_DATE).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
