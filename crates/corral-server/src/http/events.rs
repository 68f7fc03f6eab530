//! `GET /v1/events/stream`: lifecycle events as server-sent events, as they happen.
//! `?since=SEQ` first replays the stored events after SEQ, so a client that
//! reconnects misses nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use corral_api::Event;
use futures_util::Stream;
use serde::Deserialize;

use super::auth::Caller;
use super::error::HttpResult;
use super::query::Query;
use crate::context::Context;
use crate::user::UserRecord;
use crate::{event, keys};

/// Query of the stream.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Replay stored events with a larger sequence number first.
    #[serde(default)]
    #[param(example = 120)]
    pub since: Option<u64>,
}

/// Whether `user` may see `e`: the admin sees all; a user their own actions and the
/// events of their clusters.
pub fn visible(ctx: &Context, user: &UserRecord, e: &Event) -> bool {
    if user.is_admin() || e.actor == user.name {
        return true;
    }
    if !e.owner.is_empty() {
        return e.owner == user.name;
    }
    let Some(rest) = e.target.strip_prefix("clusters/") else {
        return false;
    };
    let name = rest.split('/').next().unwrap_or_default();
    ctx.store.get(&keys::cluster(&user.name, name)).ok().flatten().is_some()
}

fn sse(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.seq.to_string())
        .event(e.kind.clone())
        .data(serde_json::to_string(e).unwrap_or_default())
}

/// The stream handler.
#[utoipa::path(
    get,
    path = "/v1/events/stream",
    operation_id = "stream_events",
    tag = "events",
    params(StreamQuery),
    responses(
        (status = 200, description = "Server-sent events as they happen: each has the event's `seq` as id, its `kind` as event type and the `Event` as JSON data; a keep-alive comment every 15 s", content_type = "text/event-stream", body = Event),
        (status = 400, description = "A query parameter is invalid (`invalid_request`)", body = corral_api::ApiError),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = corral_api::ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = corral_api::ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn stream(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Query(q): Query<StreamQuery>,
) -> HttpResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    // Subscribe before reading the backlog, so nothing falls between the two.
    let watch = ctx.store.watch();
    let backlog: Vec<Event> = match q.since {
        Some(since) => event::list(&ctx, "", 10_000)?
            .into_iter()
            .filter(|e| e.seq > since)
            .collect(),
        None => Vec::new(),
    };
    let stream = events_after(ctx, caller.0, backlog, watch);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The backlog, then every new visible event; events already in the backlog are not
/// sent twice.
fn events_after(
    ctx: Arc<Context>,
    user: UserRecord,
    backlog: Vec<Event>,
    watch: tokio::sync::broadcast::Receiver<corral_store::WatchEvent>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let last = backlog.last().map(|e| e.seq).unwrap_or(0);
    let replay = futures_util::stream::iter(
        backlog
            .into_iter()
            .filter(|e| visible(&ctx, &user, e))
            .map(|e| Ok(sse(&e)))
            .collect::<Vec<_>>(),
    );
    let live = futures_util::stream::unfold(
        (ctx, user, watch, last),
        |(ctx, user, mut watch, mut last)| async move {
            loop {
                match watch.recv().await {
                    Ok(ev) if ev.key.starts_with(keys::EVENTS) => {
                        let Some(bytes) = ev.value else { continue };
                        let Ok(e) = serde_json::from_slice::<Event>(&bytes) else {
                            continue;
                        };
                        if e.seq <= last || !visible(&ctx, &user, &e) {
                            continue;
                        }
                        last = e.seq;
                        return Some((Ok(sse(&e)), (ctx, user, watch, last)));
                    }
                    Ok(_) => continue,
                    // Lagged: some events were dropped from the buffer; the client can
                    // replay them with `since`. Keep going.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    futures_util::StreamExt::chain(replay, live)
}
