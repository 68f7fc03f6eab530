//! The websocket exec session: the first text frame is the `ExecRequest`; binary
//! frames carry stdin up and output down; text frames carry resize, end of input
//! and, last, the exit code.

use std::io::{self, IsTerminal, Read};

use anyhow::{anyhow, bail, Context};
use corral_api::ExecRequest;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use super::ExecArgs;
use crate::client::{error_from_body, install_crypto_provider, Client};
use crate::console::Console;
use crate::error::ClientError;
use crate::node_ref::NodeRef;
use crate::terminal::{self, TermiosGuard};

/// Control frames the client sends after the request.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Control {
    Resize { resize: (u16, u16) },
    Eof { eof: bool },
}

/// A text frame from the server: the exit code that ends a session, or an error
/// that ends it early (the command could not be started).
#[derive(Debug, Deserialize)]
struct ServerText {
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    error: Option<String>,
}

fn control(c: &Control) -> Message {
    Message::text(serde_json::to_string(c).expect("control frames always encode"))
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs an interactive session and returns the command's exit code.
pub async fn run(client: &Client, args: &ExecArgs, console: &mut Console) -> anyhow::Result<i32> {
    let ws = connect(client, &args.node).await?;
    let tty = args.tty;
    let request = ExecRequest {
        command: args.command.clone(),
        stdin: None,
        tty,
        size: if tty { terminal::size() } else { None },
    };
    // Raw mode only when stdin is a terminal; the guard restores it on every return.
    let _raw = if tty && io::stdin().is_terminal() {
        Some(TermiosGuard::raw(io::stdin()).context("putting the terminal in raw mode")?)
    } else {
        None
    };
    let (tx, input) = mpsc::channel::<Message>(16);
    if args.interactive {
        spawn_stdin_reader(tx);
    } else {
        let _ = tx.send(control(&Control::Eof { eof: true })).await;
    }
    let winch = if tty {
        Some(signal(SignalKind::window_change()).context("watching the terminal size")?)
    } else {
        None
    };
    pump(ws, &request, input, winch, console).await
}

/// Opens the websocket of a node's exec endpoint with the caller's token.
async fn connect(client: &Client, node: &NodeRef) -> anyhow::Result<Ws> {
    let mut url = client.url(&node.segments(&["exec", "ws"]));
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| anyhow!("cannot make a websocket URL of {url}"))?;
    let mut request = url.as_str().into_client_request()?;
    if let Some(token) = client.token() {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .context("the token is not a valid header value")?,
        );
    }
    install_crypto_provider();
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| connect_error(client, url.as_str(), e))?;
    Ok(ws)
}

/// Sends the request, then moves input and resizes up and output down until the
/// server sends the exit code and closes.
async fn pump(
    ws: Ws,
    request: &ExecRequest,
    mut input: mpsc::Receiver<Message>,
    mut winch: Option<Signal>,
    console: &mut Console,
) -> anyhow::Result<i32> {
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text(serde_json::to_string(request)?))
        .await
        .context("sending the exec request")?;
    let mut exit = None;
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                None | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Binary(bytes))) => console.write_stream(false, &bytes)?,
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerText>(&text) {
                    Ok(ServerText { error: Some(message), .. }) => bail!("exec failed: {message}"),
                    Ok(ServerText { exit_code: Some(code), .. }) => exit = Some(code),
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("exec session broke"),
            },
            Some(msg) = input.recv() => {
                // A failed send means the server closed; its close frame says why.
                let _ = sink.send(msg).await;
            }
            Some(()) = next_resize(&mut winch) => {
                if let Some(size) = terminal::size() {
                    let _ = sink.send(control(&Control::Resize { resize: size })).await;
                }
            }
        }
    }
    exit.ok_or_else(|| anyhow!("the exec session closed before the command's exit code arrived"))
}

/// Reads stdin on its own thread: a blocking read cannot be cancelled, and a thread
/// of its own (unlike a runtime blocking task) never holds up the process's exit.
fn spawn_stdin_reader(tx: mpsc::Sender<Message>) {
    std::thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.blocking_send(control(&Control::Eof { eof: true }));
                    return;
                }
                Ok(n) => {
                    if tx.blocking_send(Message::binary(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

async fn next_resize(winch: &mut Option<Signal>) -> Option<()> {
    match winch {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

fn connect_error(client: &Client, url: &str, err: tungstenite::Error) -> anyhow::Error {
    match err {
        tungstenite::Error::Http(resp) => {
            let body = resp.body().as_deref().unwrap_or_default();
            error_from_body(url, resp.status().as_u16(), body).into()
        }
        tungstenite::Error::Io(e) => ClientError::Unreachable {
            server: client.server().to_string(),
            source: e.into(),
        }
        .into(),
        other => ClientError::Transport {
            url: url.to_string(),
            source: other.into(),
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::extract::ws::{self as axws, WebSocket, WebSocketUpgrade};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::{Json, Router};
    use corral_api::{ApiError, ErrorCode};

    use super::*;
    use crate::config::Target;

    #[test]
    fn control_frames_match_the_protocol() {
        assert_eq!(
            control(&Control::Resize { resize: (24, 80) }),
            Message::text(r#"{"resize":[24,80]}"#)
        );
        assert_eq!(control(&Control::Eof { eof: true }), Message::text(r#"{"eof":true}"#));
        let t: ServerText = serde_json::from_str(r#"{"exit_code":3}"#).unwrap();
        assert_eq!(t.exit_code, Some(3));
        let t: ServerText = serde_json::from_str(r#"{"error":"no such node"}"#).unwrap();
        assert_eq!(t.error.as_deref(), Some("no such node"));
    }

    /// A fake exec endpoint: upper-cases stdin back as output until end of input,
    /// then reports what it was asked and exits with 3.
    async fn upgrade(ws: WebSocketUpgrade, headers: HeaderMap) -> Response {
        let Some(auth) = headers.get("authorization") else {
            let body = ApiError::new(ErrorCode::Unauthorized, "missing token");
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        };
        let auth = auth.to_str().unwrap().to_string();
        ws.on_upgrade(move |socket| serve(socket, auth))
    }

    async fn serve(mut socket: WebSocket, auth: String) {
        let Some(Ok(axws::Message::Text(first))) = socket.recv().await else {
            return;
        };
        let req: ExecRequest = serde_json::from_str(&first).unwrap();
        while let Some(Ok(msg)) = socket.recv().await {
            match msg {
                axws::Message::Binary(b) => {
                    let up = b.to_ascii_uppercase();
                    socket.send(axws::Message::Binary(up.into())).await.unwrap();
                }
                axws::Message::Text(t) if t.as_str() == r#"{"eof":true}"# => break,
                _ => {}
            }
        }
        let tail = format!("|{auth}|{:?}|{}", req.command, req.tty);
        let _ = socket.send(axws::Message::Binary(tail.into_bytes().into())).await;
        let exit = axws::Message::Text(r#"{"exit_code":3}"#.into());
        let _ = socket.send(exit).await;
        let _ = socket.send(axws::Message::Close(None)).await;
    }

    async fn fake_server() -> String {
        let app = Router::new().route("/v1/clusters/{c}/nodes/{n}/exec/ws", get(upgrade));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn session_carries_input_output_and_exit_code() {
        let client = Client::new(&Target {
            server: fake_server().await,
            token: Some("tok".into()),
        })
        .unwrap();
        let ws = connect(&client, &"demo/node-0".parse().unwrap()).await.unwrap();
        let (tx, rx) = mpsc::channel(4);
        tx.send(Message::binary(b"hello".to_vec())).await.unwrap();
        tx.send(control(&Control::Eof { eof: true })).await.unwrap();
        drop(tx);
        let out = Buf::default();
        let mut console = Console::new(Box::new(out.clone()), Box::new(io::sink()), false);
        let request = ExecRequest {
            command: vec!["cat".into()],
            stdin: None,
            tty: false,
            size: None,
        };
        let code = pump(ws, &request, rx, None, &mut console).await.unwrap();
        assert_eq!(code, 3);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, r#"HELLO|Bearer tok|["cat"]|false"#);
    }

    #[tokio::test]
    async fn a_refused_upgrade_is_an_api_error() {
        let client = Client::new(&Target {
            server: fake_server().await,
            token: None,
        })
        .unwrap();
        let err = connect(&client, &"demo/node-0".parse().unwrap()).await.err().unwrap();
        let text = crate::error::describe(&err);
        assert!(text.starts_with("error: missing token (unauthorized)"), "{text}");
    }
}
