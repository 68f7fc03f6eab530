//! The exec websocket protocol, answering side: the first text frame is an
//! `ExecRequest`; then binary frames carry input and output, text frames carry
//! `{"resize":[r,c]}` and `{"eof":true}` from the caller and, last,
//! `{"exit_code":N}` (or `{"error":"..."}`) to it. The user API and the agent's
//! listener both speak it, so a session can be relayed from one to the other.

use std::future::Future;

use axum::extract::ws::{Message, WebSocket};
use corral_api::ExecRequest;
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};

use crate::exec::{ExecInput, ExecOutput, ExecSession};

/// Control frames a caller sends as text.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Control {
    /// New terminal size: rows, columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<(u16, u16)>,
    /// End of input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eof: Option<bool>,
}

impl Control {
    /// The session input a control frame stands for.
    pub fn inputs(self) -> impl Iterator<Item = ExecInput> {
        let resize = self.resize.map(|(r, c)| ExecInput::Resize(r, c));
        let eof = (self.eof == Some(true)).then_some(ExecInput::Eof);
        resize.into_iter().chain(eof)
    }

    /// The text frame for a session input that is not data.
    pub fn frame(input: &ExecInput) -> Option<String> {
        let c = match input {
            ExecInput::Data(_) => return None,
            ExecInput::Resize(r, c) => Control {
                resize: Some((*r, *c)),
                eof: None,
            },
            ExecInput::Eof => Control {
                resize: None,
                eof: Some(true),
            },
        };
        serde_json::to_string(&c).ok()
    }
}

/// A final text frame: the exit code or why the session failed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Last {
    /// The command's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why the session failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn send_last(ws: &mut WebSocket, last: Last) {
    let text = serde_json::to_string(&last).unwrap_or_default();
    let _ = ws.send(Message::Text(text.into())).await;
    let _ = ws.close().await;
    // Read until the client's own close: dropping a socket with unread input (a late
    // `eof` or resize) makes the kernel send a reset, which can destroy the last frame
    // before the client reads it.
    let drain = async { while let Some(Ok(_)) = ws.recv().await {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

/// Reads the request, starts the session with `start` and relays until it ends.
/// When the caller goes away the session is dropped, which ends the command.
pub async fn serve<F, Fut>(mut ws: WebSocket, start: F)
where
    F: FnOnce(ExecRequest) -> Fut,
    Fut: Future<Output = Result<ExecSession, String>>,
{
    let req: ExecRequest = match ws.recv().await {
        Some(Ok(Message::Text(t))) => match serde_json::from_str(&t) {
            Ok(r) => r,
            Err(e) => {
                let error = Some(format!("malformed exec request: {e}"));
                return send_last(&mut ws, Last { exit_code: None, error }).await;
            }
        },
        _ => return,
    };
    let mut s = match start(req).await {
        Ok(s) => s,
        Err(e) => {
            return send_last(
                &mut ws,
                Last {
                    exit_code: None,
                    error: Some(e),
                },
            )
            .await
        }
    };
    loop {
        tokio::select! {
            out = s.output.recv() => match out {
                Some(ExecOutput::Data(b)) => {
                    if ws.send(Message::Binary(b.into())).await.is_err() {
                        return;
                    }
                }
                Some(ExecOutput::Exit(code)) => {
                    return send_last(&mut ws, Last { exit_code: Some(code), error: None }).await;
                }
                Some(ExecOutput::Error(e)) => {
                    return send_last(&mut ws, Last { exit_code: None, error: Some(e) }).await;
                }
                None => {
                    let error = Some("the session ended without an exit code".to_string());
                    return send_last(&mut ws, Last { exit_code: None, error }).await;
                }
            },
            msg = ws.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    let _ = s.input.send(ExecInput::Data(b.to_vec())).await;
                }
                Some(Ok(Message::Text(t))) => {
                    if let Ok(c) = serde_json::from_str::<Control>(&t) {
                        for i in c.inputs() {
                            let _ = s.input.send(i).await;
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_frames_round_trip() {
        for input in [ExecInput::Resize(24, 80), ExecInput::Eof] {
            let text = Control::frame(&input).unwrap();
            let back: Control = serde_json::from_str(&text).unwrap();
            assert_eq!(back.inputs().collect::<Vec<_>>(), vec![input]);
        }
        assert_eq!(Control::frame(&ExecInput::Data(vec![1])), None);
        let c: Control = serde_json::from_str(r#"{"resize":[5,6]}"#).unwrap();
        assert_eq!(c.inputs().collect::<Vec<_>>(), vec![ExecInput::Resize(5, 6)]);
    }
}
