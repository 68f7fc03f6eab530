//! Errors of talking to the server, and how every error is reported to a person.

use std::error::Error as StdError;
use std::io;

use corral_api::{ApiError, ErrorCode};

/// Why a request to the server did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{}", .error.message)]
    Api {
        /// HTTP status of the answer.
        status: u16,
        /// The error body.
        error: ApiError,
    },
    /// No connection could be made.
    #[error("cannot reach the Corral server at {server}")]
    Unreachable {
        /// The server URL tried.
        server: String,
        /// What the connection attempt said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The server answered with something that is not Corral's API (a proxy, say).
    #[error("unexpected answer from {url}: HTTP {status}: {body}")]
    Unexpected {
        /// URL asked.
        url: String,
        /// HTTP status of the answer.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// The request failed half-way or the answer could not be read.
    #[error("request to {url} failed")]
    Transport {
        /// URL asked.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Formats an error the way the CLI prints it: `error: <message> (<code>)` for API
/// errors, with a `hint:` line when there is something obvious to do about it.
pub fn describe(err: &anyhow::Error) -> String {
    if let Some(client) = err.downcast_ref::<ClientError>() {
        return describe_client_error(client);
    }
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return describe_api_error(api);
    }
    format!("error: {err:#}")
}

fn describe_client_error(err: &ClientError) -> String {
    match err {
        ClientError::Api { error, .. } => describe_api_error(error),
        ClientError::Unreachable { server, source } => {
            let cause = root_cause(source.as_ref());
            if refused(source.as_ref()) {
                format!(
                    "error: cannot reach the Corral server at {server}: {cause}\n\
                     hint: the server does not seem to be running; start one on this \
                     machine with `corral up`, or point to another with --server or \
                     CORRAL_SERVER"
                )
            } else {
                format!(
                    "error: cannot reach the Corral server at {server}: {cause}\n\
                     hint: check the address given with --server, CORRAL_SERVER or \
                     `corral login --server`"
                )
            }
        }
        ClientError::Transport { source, .. } => {
            format!("error: {err}: {}", root_cause(source.as_ref()))
        }
        ClientError::Unexpected { .. } => format!("error: {err}"),
    }
}

fn describe_api_error(err: &ApiError) -> String {
    let mut text = format!("error: {} ({})", err.message, code_name(err.code));
    if err.code == ErrorCode::Unauthorized {
        text.push_str("\nhint: log in with `corral login --user NAME`");
    }
    text
}

/// The code as it appears on the wire, e.g. `not_found`.
pub fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{code:?}"),
    }
}

fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn refused(err: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_shows_message_and_code() {
        let err = anyhow::Error::new(ClientError::Api {
            status: 404,
            error: ApiError::not_found("cluster", "demo"),
        });
        assert_eq!(describe(&err), "error: cluster \"demo\" not found (not_found)");
    }

    #[test]
    fn local_validation_error_looks_like_an_api_error() {
        let err = anyhow::Error::new(corral_api::quantity::parse_bytes("lots").unwrap_err());
        assert!(describe(&err).ends_with("(invalid_request)"), "{}", describe(&err));
    }

    #[test]
    fn unauthorized_hints_at_login() {
        let err = anyhow::Error::new(ApiError::new(ErrorCode::Unauthorized, "missing token"));
        let text = describe(&err);
        assert!(text.starts_with("error: missing token (unauthorized)\n"));
        assert!(text.contains("corral login"));
    }

    #[test]
    fn refused_connection_hints_at_corral_up() {
        let err = anyhow::Error::new(ClientError::Unreachable {
            server: "http://127.0.0.1:7700".into(),
            source: Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)),
        });
        let text = describe(&err);
        assert!(text.contains("http://127.0.0.1:7700"), "{text}");
        assert!(text.contains("corral up"), "{text}");
    }

    #[test]
    fn other_errors_keep_their_context() {
        let err = anyhow::anyhow!("no such file").context("reading spec.yaml");
        assert_eq!(describe(&err), "error: reading spec.yaml: no such file");
    }
}
