//! Who may talk to hearth at all: the `Host` a request names and the web page (`Origin`) it
//! comes from, checked before anything else.
//!
//! A hearth on loopback without credentials trusts whoever can connect. A web page the user
//! visits can connect too: through DNS rebinding its own name resolves to 127.0.0.1, and a
//! `Content-Type: text/plain` POST needs no CORS preflight, so without these checks any page
//! on the web could create, invoke or read functions. Browsers always send the name they
//! resolved as `Host` and their page's `Origin` on cross-site requests; AWS tooling sends
//! the endpoint's host and no `Origin`. So a request is refused when:
//!
//! - its `Host` is not the address hearth listens on, `localhost`, an IP literal when hearth
//!   listens on every address (a rebinding attack needs a DNS name, never a literal), or a
//!   name given with `--allow-host`;
//! - it carries an `Origin` not given with `--allow-origin`.
//!
//! No CORS headers are ever sent, so a browser never lets a page read an answer either.

use super::errors::ApiError;
use hyper::{HeaderMap, StatusCode};
use std::net::IpAddr;

/// What `Host` and `Origin` values are accepted.
#[derive(Debug, Clone, Default)]
pub struct RequestGuard {
    /// The address hearth listens on; an unspecified one (`0.0.0.0`, `::`) admits every IP
    /// literal.
    listen: Option<IpAddr>,
    /// Host names (without port) accepted besides the listen address and `localhost`,
    /// lowercase.
    hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) whose pages may call hearth, lowercase.
    origins: Vec<String>,
}

impl RequestGuard {
    pub fn new(listen: IpAddr, hosts: &[String], origins: &[String]) -> Self {
        Self {
            listen: Some(listen),
            hosts: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            origins: origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Refuses a request whose `Host` or `Origin` is not allowed.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestException",
                    "The request has no valid Host header",
                )
            })?;
        if !self.host_allowed(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                format!(
                    "Host '{host}' is not an address of this hearth server (allow names with --allow-host)"
                ),
            ));
        }
        if let Some(origin) = headers.get(hyper::header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            let allowed = self
                .origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin.trim_end_matches('/')));
            if !allowed {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "AccessDeniedException",
                    format!(
                        "Requests from web pages are refused: Origin '{origin}' is not allowed (allow it with --allow-origin)"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        if name.eq_ignore_ascii_case("localhost") || self.hosts.iter().any(|h| h == &name) {
            return true;
        }
        let Ok(ip) = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return false;
        };
        match self.listen {
            None => true,
            Some(listen) if listen.is_unspecified() => true,
            Some(listen) => ip == listen || (listen.is_loopback() && ip.is_loopback()),
        }
    }
}

/// The host part of a `Host` value, lowercase, without the port (`[::1]:9001` → `[::1]`).
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn loopback_names_pass_foreign_names_do_not() {
        let guard = RequestGuard::new("127.0.0.1".parse().expect("ip"), &[], &[]);
        for ok in [
            "127.0.0.1:9001",
            "localhost:9001",
            "LOCALHOST",
            "[::1]:9001",
            "127.0.0.1",
        ] {
            assert!(guard.check(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example:9001",
            "127.0.0.1.nip.io:9001",
            "10.0.0.1:9001",
            "",
        ] {
            let e = guard.check(&headers(&[("host", bad)])).expect_err(bad);
            assert_eq!(e.status, 403, "{bad}");
        }
        assert_eq!(
            guard.check(&HeaderMap::new()).expect_err("none").status,
            400
        );
    }

    #[test]
    fn configured_hosts_and_unspecified_listen_addresses() {
        let names = ["hearth.internal".to_owned()];
        let guard = RequestGuard::new("0.0.0.0".parse().expect("ip"), &names, &[]);
        assert!(
            guard
                .check(&headers(&[("host", "HEARTH.internal:80")]))
                .is_ok()
        );
        assert!(guard.check(&headers(&[("host", "192.0.2.7:9001")])).is_ok());
        assert!(
            guard
                .check(&headers(&[("host", "rebind.example")]))
                .is_err()
        );
    }

    #[test]
    fn origins_are_refused_unless_allowed() {
        let origins = ["http://localhost:3000".to_owned()];
        let guard = RequestGuard::new("127.0.0.1".parse().expect("ip"), &[], &origins);
        let host = ("host", "127.0.0.1:9001");
        assert!(
            guard.check(&headers(&[host])).is_ok(),
            "no Origin: not a browser"
        );
        let ok = headers(&[host, ("origin", "http://localhost:3000")]);
        assert!(guard.check(&ok).is_ok());
        let page = headers(&[host, ("origin", "https://evil.example")]);
        assert_eq!(guard.check(&page).expect_err("page").status, 403);
        let null = headers(&[host, ("origin", "null")]);
        assert_eq!(guard.check(&null).expect_err("sandboxed page").status, 403);
    }
}
