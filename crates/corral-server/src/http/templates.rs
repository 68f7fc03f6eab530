//! `/v1/templates`: the cluster templates built into Corral (`templates/*.yaml`, the
//! same files the CLI's `--template` embeds), as specs a client can start a create
//! form from.

use axum::http::Uri;
use corral_api::template::TEMPLATES;
use corral_api::{ApiError, ClusterSpec, ClusterTemplate, ErrorCode};

use super::auth::Caller;
use super::error::HttpResult;
use super::page::{self, PageQuery, Paged};
use super::query::Query;
use super::responses::{BadQuery, Internal, Unauthorized};

/// `GET /v1/templates`: by name.
#[utoipa::path(
    get,
    path = "/v1/templates",
    operation_id = "list_templates",
    tag = "clusters",
    params(PageQuery),
    responses(
        (status = 200, description = "The cluster templates, by name; each spec's `name` is empty", body = [ClusterTemplate],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery, Unauthorized, Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn list(_caller: Caller, Query(p): Query<PageQuery>, uri: Uri) -> HttpResult<Paged<ClusterTemplate>> {
    let all = TEMPLATES
        .iter()
        .map(|(name, text)| template(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    page::paginate(all, |t| t.name.clone(), &p, &uri)
}

/// A template file read the way the CLI reads a spec file, with an empty name.
fn template(name: &str, text: &str) -> Result<ClusterTemplate, ApiError> {
    let broken = |e: String| ApiError::new(ErrorCode::Internal, format!("built-in template {name:?}: {e}"));
    let mut value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| broken(e.to_string()))?;
    let map = value.as_mapping_mut().ok_or_else(|| broken("not a mapping".into()))?;
    map.insert("name".into(), "".into());
    let spec: ClusterSpec = serde_yaml::from_value(value).map_err(|e| broken(e.to_string()))?;
    let description = text
        .lines()
        .find_map(|l| l.strip_prefix('#').map(str::trim).filter(|l| !l.is_empty()))
        .unwrap_or(name)
        .to_string();
    Ok(ClusterTemplate {
        name: name.to_string(),
        description,
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_reads_as_a_spec_with_a_description() {
        for (name, text) in TEMPLATES {
            let t = template(name, text).unwrap_or_else(|e| panic!("{name}: {}", e.message));
            assert_eq!(t.spec.name, "");
            assert!(!t.description.is_empty() && !t.description.starts_with('#'));
        }
    }
}
