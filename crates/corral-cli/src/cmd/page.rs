//! `--limit` and `--after` of every `list` verb, and printing one page of a list.

use clap::Args;
use serde::de::DeserializeOwned;

use super::Ctx;
use crate::output::Render;

/// Which page of a list to show.
#[derive(Debug, Default, Args)]
pub struct PageArgs {
    /// Show at most this many (1 to 1000) [default: all]
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after this cursor, as printed at the end of the previous page
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
}

/// Query parameters from optional values; absent ones are left out.
pub fn query<'a>(pairs: &[(&'a str, Option<String>)]) -> Vec<(&'a str, String)> {
    pairs.iter().filter_map(|(k, v)| v.clone().map(|v| (*k, v))).collect()
}

/// Gets one page of `segments` with the filters in `filters`, prints it, and tells on
/// stderr how to get the next page when there is one (stdout keeps only the list, so
/// `-o json` output stays one JSON array).
pub async fn show<T>(
    ctx: &mut Ctx<'_>,
    segments: &[&str],
    mut filters: Vec<(&str, String)>,
    page: PageArgs,
) -> anyhow::Result<()>
where
    T: DeserializeOwned,
    Vec<T>: Render,
{
    filters.extend(query(&[
        ("limit", page.limit.map(|n| n.to_string())),
        ("after", page.after),
    ]));
    let (items, next): (Vec<T>, _) = ctx.client.list(segments, &filters).await?;
    ctx.show(&items)?;
    if let Some(cursor) = next {
        ctx.console.note(&format!("more follow: add --after {cursor}"));
    }
    Ok(())
}
