//! Pagination of every list endpoint: `?limit=N&after=CURSOR`. The body stays a JSON
//! array of items, so clients that read whole lists need no change; while more items
//! follow, a `Link: <URL>; rel="next"` header (RFC 8288, as GitHub does) gives the
//! next page's URL. The cursor is opaque to clients: the sort key of the page's last
//! item, hex encoded. Pages are cut by key, not by offset, so items added or removed
//! before a cursor neither repeat nor skip items after it.

use axum::http::header::LINK;
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use corral_api::ApiError;
use serde::{Deserialize, Serialize};

use super::error::HttpResult;

/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// `?limit=&after=` of every list endpoint.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (1 to 1000); every item when absent. When more follow,
    /// the response's `Link` header names the next page.
    #[param(minimum = 1, maximum = 1000, example = 50)]
    pub limit: Option<u32>,
    /// Continue after the item this cursor names: copy it from the `Link` header's next
    /// URL; it is opaque.
    #[param(example = "64656d6f")]
    pub after: Option<String>,
}

impl PageQuery {
    fn limit(&self) -> HttpResult<Option<usize>> {
        match self.limit {
            Some(n) if n == 0 || n > MAX_LIMIT => {
                Err(ApiError::invalid(format!("limit must be between 1 and {MAX_LIMIT}, not {n}")).into())
            }
            n => Ok(n.map(|n| n as usize)),
        }
    }

    fn after(&self) -> HttpResult<Option<String>> {
        let Some(cursor) = &self.after else {
            return Ok(None);
        };
        hex::decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("invalid cursor {cursor:?}: take it from a `Link` header")).into())
    }
}

/// One page of a list, answered as a JSON array with a `Link` header when more follow.
#[derive(Debug)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The `Link` header's value, when another page follows.
    link: Option<String>,
}

/// Sorts `items` by `key` (which must be unique per item), drops those up to the
/// query's cursor and cuts the page at its limit. `uri` is the request's, from which
/// the next page's URL is made.
pub fn paginate<T>(items: Vec<T>, key: impl Fn(&T) -> String, q: &PageQuery, uri: &Uri) -> HttpResult<Paged<T>> {
    let limit = q.limit()?;
    let after = q.after()?;
    let mut keyed: Vec<(String, T)> = items.into_iter().map(|t| (key(&t), t)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(after) = after {
        keyed.retain(|(k, _)| *k > after);
    }
    let mut link = None;
    if let Some(n) = limit {
        if keyed.len() > n {
            keyed.truncate(n);
            link = Some(next_link(uri, &hex::encode(&keyed[n - 1].0)));
        }
    }
    Ok(Paged {
        items: keyed.into_iter().map(|(_, t)| t).collect(),
        link,
    })
}

/// The request's own URL with `after` set to `cursor`, as a `Link` header value.
fn next_link(uri: &Uri, cursor: &str) -> String {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty() && *kv != "after" && !kv.starts_with("after="))
        .collect();
    let after = format!("after={cursor}");
    query.push(&after);
    format!("<{}?{}>; rel=\"next\"", uri.path(), query.join("&"))
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut resp = Json(self.items).into_response();
        if let Some(v) = self.link.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(LINK, v);
        }
        resp
    }
}

/// Whether `target` is `filter` or lies under it (`clusters/a` covers
/// `clusters/a/nodes/node-0`, not `clusters/ab`): the target filter of operations and
/// events.
pub fn under(target: &str, filter: &str) -> bool {
    target
        .strip_prefix(filter)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || filter.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: Option<u32>, after: Option<&str>, uri: &str) -> HttpResult<Paged<u32>> {
        let q = PageQuery {
            limit,
            after: after.map(str::to_string),
        };
        paginate(vec![5, 3, 1, 4, 2], |n| format!("{n:03}"), &q, &uri.parse().unwrap())
    }

    #[test]
    fn pages_follow_each_other_until_the_end() {
        let p = page(Some(2), None, "/v1/x?state=running&limit=2").unwrap();
        assert_eq!(p.items, [1, 2]);
        let link = p.link.unwrap();
        let cursor = hex::encode("002");
        assert_eq!(
            link,
            format!("</v1/x?state=running&limit=2&after={cursor}>; rel=\"next\"")
        );
        let p = page(Some(2), Some(&cursor), &format!("/v1/x?limit=2&after={cursor}")).unwrap();
        assert_eq!(p.items, [3, 4]);
        let next = hex::encode("004");
        assert_eq!(p.link.unwrap(), format!("</v1/x?limit=2&after={next}>; rel=\"next\""));
        let p = page(Some(2), Some(&next), "/v1/x").unwrap();
        assert_eq!((p.items, p.link), (vec![5], None));
    }

    #[test]
    fn no_limit_is_everything_sorted() {
        let p = page(None, None, "/v1/x").unwrap();
        assert_eq!((p.items, p.link), (vec![1, 2, 3, 4, 5], None));
    }

    #[test]
    fn bad_limits_and_cursors_are_invalid_requests() {
        for (limit, after) in [
            (Some(0), None),
            (Some(MAX_LIMIT + 1), None),
            (None, Some("zz")),
            (None, Some("ff")),
        ] {
            let e = page(limit, after, "/v1/x").unwrap_err();
            assert_eq!(e.0.code, corral_api::ErrorCode::InvalidRequest, "{limit:?} {after:?}");
        }
    }

    #[test]
    fn under_matches_whole_segments() {
        assert!(under("clusters/a", "clusters/a"));
        assert!(under("clusters/a/nodes/n-0", "clusters/a"));
        assert!(under("clusters/a/nodes/n-0", "clusters/"));
        assert!(!under("clusters/ab", "clusters/a"));
        assert!(!under("images/a", "clusters/a"));
    }
}
