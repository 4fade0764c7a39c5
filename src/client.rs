//! The HTTP client behind `hearth deploy` and `hearth invoke`: it sends the same requests the
//! AWS CLI would (CreateFunction, Invoke), so what works here works from any AWS SDK.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::path::Path;

/// A response as the CLI needs it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Code: message` from a Lambda error response.
    pub fn error_text(&self) -> String {
        let code = self
            .header("x-amzn-ErrorType")
            .unwrap_or("Error")
            .to_owned();
        let message = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                v.get("Message")
                    .or_else(|| v.get("message"))
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        format!("{code}: {message}")
    }
}

/// An access key to sign requests with (SigV4), as the AWS SDKs do.
#[derive(Clone)]
pub struct SigningKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_REGION` from the environment,
    /// when both keys are set.
    pub fn from_env() -> Option<Self> {
        let access_key_id = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
        let secret_access_key = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into());
        Some(Self {
            access_key_id,
            secret_access_key,
            region,
        })
    }
}

/// Signs `request` with SigV4 the way the AWS SDKs do, using AWS's own signer: `host`, the
/// date and every header the request carries (so `X-Amz-Invocation-Type` and
/// `X-Amz-Log-Type` are covered), and the body.
fn sign(key: &SigningKey, request: &mut Request<Full<Bytes>>, body: &[u8]) -> anyhow::Result<()> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let host = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    request
        .headers_mut()
        .insert(hyper::header::HOST, host.parse()?);
    let identity = aws_credential_types::Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        None,
        None,
        "hearth-cli",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&key.region)
        .name("lambda")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .context("cannot sign the request")?
        .into();
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| Ok((k.as_str(), v.to_str()?)))
        .collect::<Result<Vec<_>, hyper::header::ToStrError>>()?;
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .context("cannot sign the request")?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .context("cannot sign the request")?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// [`sign`], for the verifier's tests.
#[doc(hidden)]
pub fn sign_for_tests(
    key: &SigningKey,
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
) -> anyhow::Result<()> {
    sign(key, request, body)
}

/// A client for one hearth endpoint.
#[derive(Debug, Clone)]
pub struct HearthClient {
    endpoint: String,
    http: Client<HttpConnector, Full<Bytes>>,
    signing: Option<SigningKey>,
}

impl HearthClient {
    /// An unsigned client (for a server without credentials).
    pub fn new(endpoint: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http: Client::builder(TokioExecutor::new()).build(connector),
            signing: None,
        }
    }

    /// A client that signs every request with `key`.
    pub fn signed(endpoint: &str, key: Option<SigningKey>) -> Self {
        Self {
            signing: key,
            ..Self::new(endpoint)
        }
    }

    /// Sends one request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Reply> {
        let body: Bytes = body.into();
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.endpoint));
        for (k, v) in headers {
            builder = builder.header(*k, v);
        }
        let mut request = builder.body(Full::new(body.clone()))?;
        if let Some(key) = &self.signing {
            sign(key, &mut request, &body)?;
        }
        let response = self
            .http
            .request(request)
            .await
            .with_context(|| format!("cannot reach hearth at {}", self.endpoint))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a JSON body.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<Reply> {
        self.send(
            method,
            path,
            &[("Content-Type", "application/json".into())],
            serde_json::to_vec(body)?,
        )
        .await
    }

    /// CreateFunction with a zip (a `.wasm` file is zipped as `handler`).
    pub async fn create_function(&self, request: &serde_json::Value) -> anyhow::Result<Reply> {
        self.send(
            Method::POST,
            "/2015-03-31/functions",
            &[("Content-Type", "application/json".into())],
            serde_json::to_vec(request)?,
        )
        .await
    }

    /// Invoke with an invocation type (`RequestResponse`, `Event`, `DryRun`).
    pub async fn invoke(
        &self,
        name: &str,
        payload: Vec<u8>,
        invocation_type: &str,
        log_tail: bool,
    ) -> anyhow::Result<Reply> {
        let mut headers = vec![("X-Amz-Invocation-Type", invocation_type.to_owned())];
        if log_tail {
            headers.push(("X-Amz-Log-Type", "Tail".to_owned()));
        }
        self.send(
            Method::POST,
            &format!("/2015-03-31/functions/{name}/invocations"),
            &headers,
            payload,
        )
        .await
    }
}

/// A deployment package from a file: a zip as is, a `.wasm` component zipped at `handler`.
pub fn package(file: &Path, handler: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.starts_with(b"PK") {
        return Ok(bytes);
    }
    if !bytes.starts_with(b"\0asm") {
        bail!("{} is neither a zip nor a wasm component", file.display());
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file(
        handler,
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )?;
    zip.write_all(&bytes)?;
    zip.finish()?;
    Ok(out.into_inner())
}

/// The CreateFunction body `hearth deploy` sends.
pub fn create_function_request(
    name: &str,
    zip: &[u8],
    handler: &str,
    memory_mb: Option<u32>,
    timeout_s: Option<u32>,
    env: &[(String, String)],
) -> serde_json::Value {
    let mut request = serde_json::json!({
        "FunctionName": name,
        "Runtime": "wasm32-wasip2",
        "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/hearth",
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip) },
        "PackageType": "Zip",
    });
    if let Some(m) = memory_mb {
        request["MemorySize"] = m.into();
    }
    if let Some(t) = timeout_s {
        request["Timeout"] = t.into();
    }
    if !env.is_empty() {
        let vars: serde_json::Map<String, serde_json::Value> = env
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        request["Environment"] = serde_json::json!({ "Variables": vars });
    }
    request
}
