//! The access keys hearth accepts, and the two file formats they are read from.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The access keys hearth accepts: access key id → secret access key.
///
/// `Debug` shows the key ids only, never a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    secrets: HashMap<String, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_ids", &self.access_key_ids())
            .finish_non_exhaustive()
    }
}

/// Why a credentials file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read.
    #[error("cannot read credentials file {}: {source}", .path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the file is not valid. Messages never contain a secret.
    #[error("{}line {line}: {message}", location(.path.as_deref()))]
    Syntax {
        /// The file, when the text came from [`Credentials::load`].
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

fn location(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("credentials file {}, ", p.display()),
        None => "credentials, ".to_owned(),
    }
}

fn syntax(line: usize, message: impl Into<String>) -> CredentialsError {
    CredentialsError::Syntax {
        path: None,
        line,
        message: message.into(),
    }
}

impl Credentials {
    /// Parses a credentials file. Two formats are accepted, told apart by the first line that is
    /// neither blank nor a comment:
    ///
    /// - **key lines**: one `ACCESS_KEY_ID SECRET` or `ACCESS_KEY_ID:SECRET` per line; blank
    ///   lines and lines starting with `#` are ignored.
    /// - **AWS shared-credentials INI** (the file starts with a `[profile]` header): every section
    ///   with both `aws_access_key_id` and `aws_secret_access_key` contributes one key; other
    ///   settings (`region`, `aws_session_token`, …) and sections with neither are ignored;
    ///   `#` and `;` start comments. `~/.aws/credentials` can be used as it is.
    ///
    /// Access key ids may contain ASCII letters, digits, `-`, `_` and `.`; secrets may contain
    /// anything but whitespace and control characters. The same id may appear twice only with
    /// the same secret. An empty file gives empty credentials (see [`Credentials::is_empty`]).
    pub fn parse(text: &str) -> Result<Self, CredentialsError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
        let mut builder = Builder::default();
        if first.is_some_and(|l| l.starts_with('[')) {
            parse_ini(text, &mut builder)?;
        } else {
            parse_key_lines(text, &mut builder)?;
        }
        Ok(Credentials {
            secrets: builder.secrets,
        })
    }

    /// Reads and parses a credentials file (see [`Credentials::parse`]); errors name the file.
    pub fn load(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            CredentialsError::Syntax { line, message, .. } => CredentialsError::Syntax {
                path: Some(path.to_owned()),
                line,
                message,
            },
            other => other,
        })
    }

    /// True when no key is configured (every signed request would then be refused).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Number of distinct access key ids.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// The configured access key ids, sorted (for logging; secrets are not exposed).
    pub fn access_key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.secrets.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    pub(super) fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.secrets.get(access_key_id).map(String::as_str)
    }
}

#[derive(Default)]
struct Builder {
    secrets: HashMap<String, String>,
    defined_on: HashMap<String, usize>,
}

impl Builder {
    fn add(
        &mut self,
        id: &str,
        id_line: usize,
        secret: &str,
        secret_line: usize,
    ) -> Result<(), CredentialsError> {
        if id.is_empty() {
            return Err(syntax(id_line, "empty access key id"));
        }
        if id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            // Not echoed: a secret written in the id's place must not end up in a log.
            return Err(syntax(
                id_line,
                "invalid access key id: use ASCII letters, digits, '-', '_' and '.' only (at most 128)",
            ));
        }
        if secret.is_empty() {
            return Err(syntax(
                secret_line,
                format!("empty secret for access key id `{id}`"),
            ));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(syntax(
                secret_line,
                format!(
                    "the secret for access key id `{id}` contains whitespace or control characters"
                ),
            ));
        }
        match self.secrets.get(id) {
            Some(existing) if existing == secret => Ok(()),
            Some(_) => {
                let first = self.defined_on.get(id).copied().unwrap_or(0);
                Err(syntax(
                    id_line,
                    format!(
                        "access key id `{id}` is already defined on line {first} with a different secret"
                    ),
                ))
            }
            None => {
                self.secrets.insert(id.to_owned(), secret.to_owned());
                self.defined_on.insert(id.to_owned(), id_line);
                Ok(())
            }
        }
    }
}

fn parse_key_lines(text: &str, builder: &mut Builder) -> Result<(), CredentialsError> {
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            return Err(syntax(
                n,
                "`[section]` header after `ACCESS_KEY_ID SECRET` lines: use one format per file",
            ));
        }
        let Some(pos) = line.find(|c: char| c == ':' || c.is_whitespace()) else {
            return Err(syntax(
                n,
                "expected `ACCESS_KEY_ID SECRET` or `ACCESS_KEY_ID:SECRET`",
            ));
        };
        let id = &line[..pos];
        let rest = line[pos..].trim_start();
        let secret = rest.strip_prefix(':').map(str::trim_start).unwrap_or(rest);
        if id.eq_ignore_ascii_case("aws_access_key_id")
            || id.eq_ignore_ascii_case("aws_secret_access_key")
        {
            return Err(syntax(
                n,
                format!(
                    "`{id} = …` outside a [profile] section: an INI credentials file must start with a `[profile]` header"
                ),
            ));
        }
        if secret.is_empty() {
            return Err(syntax(
                n,
                format!("missing secret after access key id `{}`", id.escape_debug()),
            ));
        }
        if secret.contains(char::is_whitespace) {
            return Err(syntax(
                n,
                "unexpected text after the secret: expected exactly `ACCESS_KEY_ID SECRET`",
            ));
        }
        builder.add(id, n, secret, n)?;
    }
    Ok(())
}

struct Section {
    name: String,
    line: usize,
    id: Option<(String, usize)>,
    secret: Option<(String, usize)>,
}

fn finish_section(section: Option<Section>, builder: &mut Builder) -> Result<(), CredentialsError> {
    let Some(s) = section else { return Ok(()) };
    match (s.id, s.secret) {
        (Some((id, id_line)), Some((secret, secret_line))) => {
            builder.add(&id, id_line, &secret, secret_line)
        }
        (Some((_, id_line)), None) => Err(syntax(
            s.line,
            format!(
                "profile [{}] sets aws_access_key_id (line {id_line}) but no aws_secret_access_key",
                s.name
            ),
        )),
        (None, Some((_, secret_line))) => Err(syntax(
            s.line,
            format!(
                "profile [{}] sets aws_secret_access_key (line {secret_line}) but no aws_access_key_id",
                s.name
            ),
        )),
        (None, None) => Ok(()),
    }
}

fn parse_ini(text: &str, builder: &mut Builder) -> Result<(), CredentialsError> {
    let mut current: Option<Section> = None;
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let Some(name) = header.strip_suffix(']') else {
                return Err(syntax(n, "section header without a closing `]`"));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(syntax(n, "empty section name `[]`"));
            }
            finish_section(current.take(), builder)?;
            current = Some(Section {
                name: name.to_owned(),
                line: n,
                id: None,
                secret: None,
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax(n, "expected `key = value` or a `[profile]` header"));
        };
        let Some(section) = current.as_mut() else {
            return Err(syntax(
                n,
                "`key = value` line before the first `[profile]` header",
            ));
        };
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => &mut section.id,
            "aws_secret_access_key" => &mut section.secret,
            // region, output, aws_session_token, nested settings…: not hearth's business.
            _ => continue,
        };
        if let Some((_, first)) = slot {
            return Err(syntax(
                n,
                format!(
                    "`{}` set twice in profile [{}] (first on line {first})",
                    key.trim(),
                    section.name
                ),
            ));
        }
        *slot = Some((value.trim().to_owned(), n));
    }
    finish_section(current, builder)
}
