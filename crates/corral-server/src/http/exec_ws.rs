//! `GET /v1/clusters/{name}/nodes/{node}/exec/ws`: an interactive command over a
//! websocket. The first text frame is an `ExecRequest`; then binary frames carry
//! input and output, text frames carry `{"resize":[r,c]}` and `{"eof":true}` from the
//! client and `{"exit_code":N}` from the server at the end.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use corral_api::ExecRequest;
use futures_util::SinkExt;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::auth::Caller;
use super::clusters::OwnerQuery;
use super::error::HttpResult;
use super::nodes::find;
use crate::context::Context;
use crate::exec;
use crate::node::NodeRecord;

/// Control messages a client sends as text frames.
#[derive(Debug, Deserialize)]
struct Control {
    resize: Option<(u16, u16)>,
    eof: Option<bool>,
}

/// Upgrades to a websocket once the caller may use the node.
pub async fn upgrade(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
    ws: WebSocketUpgrade,
) -> HttpResult<Response> {
    let n = find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?;
    Ok(ws.on_upgrade(move |socket| session(ctx, n, socket)))
}

async fn send_text(ws: &mut WebSocket, v: serde_json::Value) {
    let _ = ws.send(Message::Text(v.to_string().into())).await;
}

fn pump<R: AsyncRead + Unpin + Send + 'static>(mut r: R, tx: mpsc::Sender<Vec<u8>>) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
}

async fn session(ctx: Arc<Context>, n: NodeRecord, mut ws: WebSocket) {
    let req: ExecRequest = match ws.recv().await {
        Some(Ok(Message::Text(t))) => match serde_json::from_str(&t) {
            Ok(r) => r,
            Err(e) => {
                send_text(
                    &mut ws,
                    serde_json::json!({"error": format!("malformed exec request: {e}")}),
                )
                .await;
                return;
            }
        },
        _ => return,
    };
    let mut s = match exec::start(&ctx, &n, &req) {
        Ok(s) => s,
        Err(e) => {
            send_text(&mut ws, serde_json::json!({"error": e.to_api().message})).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let (mut input, master): (Box<dyn AsyncWrite + Unpin + Send>, _) = match s.pty.take() {
        Some(m) => {
            let reader =
                tokio::fs::File::from_std(std::fs::File::from(m.try_clone().expect("dup pty")));
            pump(reader, tx.clone());
            let writer =
                tokio::fs::File::from_std(std::fs::File::from(m.try_clone().expect("dup pty")));
            (Box::new(writer), Some(m))
        }
        None => {
            pump(s.child.stdout.take().expect("piped"), tx.clone());
            pump(s.child.stderr.take().expect("piped"), tx.clone());
            (Box::new(s.child.stdin.take().expect("piped")), None)
        }
    };
    drop(tx);
    let mut exited = None;
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(bytes) => { if ws.send(Message::Binary(bytes.into())).await.is_err() { break; } }
                None => { if exited.is_some() { break; } exited = Some(s.child.wait().await); break; }
            },
            status = s.child.wait(), if exited.is_none() => {
                exited = Some(status);
                // With a terminal the master stays readable after exit; drain briefly.
                if master.is_some() {
                    while let Ok(Some(bytes)) = tokio::time::timeout(std::time::Duration::from_millis(50), rx.recv()).await {
                        let _ = ws.send(Message::Binary(bytes.into())).await;
                    }
                    break;
                }
            },
            msg = ws.recv() => match msg {
                Some(Ok(Message::Binary(b))) => { let _ = input.write_all(&b).await; let _ = input.flush().await; }
                Some(Ok(Message::Text(t))) => {
                    if let Ok(c) = serde_json::from_str::<Control>(&t) {
                        if let (Some((r, col)), Some(m)) = (c.resize, master.as_ref()) { exec::resize(m, r, col); }
                        if c.eof == Some(true) { input = Box::new(tokio::io::sink()); }
                    }
                }
                Some(Ok(_)) => {}
                // The client went away: the command goes with it (kill_on_drop).
                _ => return,
            },
        }
    }
    let code = match exited {
        Some(Ok(st)) => exec::exit_code(st),
        _ => -1,
    };
    send_text(&mut ws, serde_json::json!({"exit_code": code})).await;
    let _ = ws.close().await;
}
