//! Building a `ClusterSpec` from `corral cluster create` flags and/or a spec file, and
//! checking it locally so a typo gets a clear error before any request is made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use corral_api::names::validate_name;
use corral_api::quantity::{parse_bytes, parse_millicpu};
use corral_api::{ClusterSpec, ElasticSpec, NodeGroupSpec, Placement, Resources};

/// Arguments of `corral cluster create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Cluster name (overrides the spec file's)
    pub name: Option<String>,
    /// Spec file, YAML or JSON; flags given beside it override its fields
    #[arg(short = 'f', long = "file", value_name = "SPEC")]
    pub file: Option<PathBuf>,
    /// A spec built into corral (`slurm`), used like a spec file
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub template: Option<String>,
    /// Image of every node
    #[arg(long)]
    pub image: Option<String>,
    /// Number of nodes
    #[arg(long)]
    pub nodes: Option<u32>,
    /// Cpu per node, e.g. 1, 0.5, 500m [default: 1]
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory per node, e.g. 512MiB, 1GiB [default: 512MiB]
    #[arg(long)]
    pub memory: Option<String>,
    /// Process limit per node [default: 1024]
    #[arg(long)]
    pub pids: Option<u32>,
    /// Subnet in CIDR form [default: chosen by Corral]
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// Environment variable of every node (repeatable)
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// How nodes are put on hosts: spread (different hosts) or pack (fewest hosts) [default: spread]
    #[arg(long, value_name = "POLICY")]
    pub placement: Option<Placement>,
    /// Host label the nodes' hosts must carry, e.g. site=a (repeatable)
    #[arg(long = "constraint", value_name = "LABEL=VALUE", value_parser = parse_env)]
    pub constraints: Vec<(String, String)>,
    /// Make the single group elastic with at least this many nodes (with --max);
    /// in a spec file, give a node group `elastic: {min, max, ...}` instead
    #[arg(long, requires = "max")]
    pub min: Option<u32>,
    /// Make the single group elastic with at most this many nodes (with --min)
    #[arg(long, requires = "min")]
    pub max: Option<u32>,
    /// Return once the request is accepted instead of waiting for the nodes
    #[arg(long = "async")]
    pub no_wait: bool,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, not {s:?}")),
    }
}

impl CreateArgs {
    /// The spec to send: the file's (if any) with the flags applied, checked.
    pub fn spec(&self) -> Result<ClusterSpec> {
        let mut spec = match (&self.file, &self.template) {
            (Some(path), _) => read_spec_file(path, self.name.as_deref(), self.image.as_deref())?,
            (None, Some(t)) => {
                let Some(name) = &self.name else {
                    bail!("a cluster needs a name: corral cluster create NAME --template {t}");
                };
                parse_spec(super::template::text(t)?, Some(name), self.image.as_deref())
                    .with_context(|| format!("in template {t:?}"))?
            }
            (None, None) => self.spec_from_flags()?,
        };
        if let Some(nodes) = self.nodes {
            spec.nodes = Some(nodes);
        }
        if let Some(cpu) = &self.cpu {
            spec.resources.cpu = cpu.clone();
        }
        if let Some(memory) = &self.memory {
            spec.resources.memory = memory.clone();
        }
        if let Some(pids) = self.pids {
            spec.resources.pids = pids;
        }
        if let Some(subnet) = &self.subnet {
            spec.subnet = Some(subnet.clone());
        }
        spec.env.extend(self.env.iter().cloned());
        if let Some(p) = self.placement {
            spec.placement = p;
        }
        spec.constraints.extend(self.constraints.iter().cloned());
        if let (Some(min), Some(max)) = (self.min, self.max) {
            make_elastic(&mut spec, min, max)?;
        }
        validate(&spec)?;
        Ok(spec)
    }

    fn spec_from_flags(&self) -> Result<ClusterSpec> {
        let Some(name) = &self.name else {
            bail!("a cluster needs a name: corral cluster create NAME --image IMAGE, or -f SPEC");
        };
        let Some(image) = &self.image else {
            bail!("a cluster needs an image: --image IMAGE (see `corral image list`)");
        };
        Ok(ClusterSpec {
            name: name.clone(),
            image: image.clone(),
            node_groups: Vec::new(),
            nodes: None,
            resources: Resources::default(),
            scripts: Default::default(),
            env: BTreeMap::new(),
            subnet: None,
            placement: Placement::default(),
            constraints: BTreeMap::new(),
            recovery: Default::default(),
            max_unavailable: None,
        })
    }
}

/// Turns the single-group shorthand (`nodes`) into one elastic group `node` within
/// [min, max], starting at `nodes` or else at min (at least one node).
fn make_elastic(spec: &mut ClusterSpec, min: u32, max: u32) -> Result<()> {
    if !spec.node_groups.is_empty() {
        bail!("--min/--max make the single group elastic; with node groups, give a group `elastic: {{min, max}}` in the spec file");
    }
    if min > max {
        bail!("--min {min} is above --max {max}");
    }
    let count = spec.nodes.take().unwrap_or_else(|| min.max(1).min(max));
    if count < min || count > max {
        bail!("--nodes {count} is outside --min {min} and --max {max}");
    }
    spec.node_groups = vec![NodeGroupSpec {
        name: "node".into(),
        count,
        resources: None,
        image: None,
        elastic: Some(ElasticSpec::bounds(min, max)),
    }];
    Ok(())
}

/// Reads a spec file; `name` and `image` from the command line fill in or override
/// the file's before it is checked, so a file may leave them out.
pub fn read_spec_file(path: &Path, name: Option<&str>, image: Option<&str>) -> Result<ClusterSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading spec file {}", path.display()))?;
    parse_spec(&text, name, image).with_context(|| format!("in spec file {}", path.display()))
}

/// Parses a spec in YAML or JSON (YAML's parser reads JSON too, but JSON's gives the
/// better message for a JSON file).
pub fn parse_spec(text: &str, name: Option<&str>, image: Option<&str>) -> Result<ClusterSpec> {
    let mut value: serde_yaml::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)?
    } else {
        serde_yaml::from_str(text)?
    };
    if value.is_null() {
        value = serde_yaml::Value::Mapping(Default::default());
    }
    let Some(map) = value.as_mapping_mut() else {
        bail!("a spec is a mapping of fields such as name, image and nodes");
    };
    if let Some(name) = name {
        map.insert("name".into(), name.into());
    }
    if let Some(image) = image {
        map.insert("image".into(), image.into());
    }
    Ok(serde_yaml::from_value(value)?)
}

/// Local checks of names and quantities; the server checks everything again.
pub fn validate(spec: &ClusterSpec) -> Result<()> {
    validate_name("cluster", &spec.name)?;
    check_resources(&spec.resources)?;
    for group in &spec.node_groups {
        validate_name("node group", &group.name)?;
        if let Some(r) = &group.resources {
            check_resources(r)?;
        }
    }
    Ok(())
}

fn check_resources(r: &Resources) -> Result<()> {
    parse_millicpu(&r.cpu)?;
    parse_bytes(&r.memory)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use corral_api::ErrorCode;

    use super::*;

    fn args(name: Option<&str>) -> CreateArgs {
        CreateArgs {
            name: name.map(Into::into),
            file: None,
            template: None,
            image: None,
            nodes: None,
            cpu: None,
            memory: None,
            pids: None,
            subnet: None,
            env: vec![],
            placement: None,
            constraints: vec![],
            min: None,
            max: None,
            no_wait: false,
        }
    }

    #[test]
    fn min_max_flags_make_the_single_group_elastic() {
        let mut a = args(Some("demo"));
        a.image = Some("minimal".into());
        a.min = Some(2);
        a.max = Some(5);
        let spec = a.spec().unwrap();
        assert_eq!(spec.nodes, None);
        let g = &spec.node_groups[0];
        assert_eq!((g.name.as_str(), g.count), ("node", 2));
        assert_eq!(g.elastic, Some(ElasticSpec::bounds(2, 5)));
        a.nodes = Some(9);
        assert!(a.spec().unwrap_err().to_string().contains("outside"));
        a.nodes = None;
        a.min = Some(6);
        assert!(a.spec().unwrap_err().to_string().contains("above"));
    }

    #[test]
    fn spec_files_carry_elastic_triggers() {
        let spec = parse_spec(
            "name: hpc\nimage: minimal\nnode_groups:\n  - name: head\n    count: 1\n  - name: worker\n    count: 2\n    elastic:\n      min: 1\n      max: 8\n      cooldown: 30\n      metrics:\n        window: 120\n        scale_out_above: 70\n        scale_in_below: 20\n        scale_out: {change_in_percentage: {percent: 50, min_step: 2}}\n        scale_in: {change_in_capacity: -1}\n      schedule:\n        timezone: Europe/Stockholm\n        rules:\n          - {days: mon-fri, start: '08:00', end: '20:00', min: 4}\n      queue: {probe: slurm, idle_time: 600}\n",
            None,
            None,
        )
        .unwrap();
        let e = spec.node_groups[1].elastic.as_ref().unwrap();
        assert_eq!((e.min, e.max, e.cooldown), (1, 8, 30));
        let m = e.metrics.unwrap();
        assert_eq!(
            m.scale_out,
            corral_api::Adjustment::ChangeInPercentage {
                percent: 50,
                min_step: 2
            }
        );
        assert_eq!(m.scale_in, corral_api::Adjustment::ChangeInCapacity(-1));
        assert_eq!(e.schedule.as_ref().unwrap().rules[0].min, 4);
        assert_eq!(e.queue.as_ref().unwrap().idle_time, 600);
        // Defaults: cooldown 60, one node each way.
        let spec = parse_spec(
            "name: a\nimage: minimal\nnode_groups: [{name: w, count: 1, elastic: {min: 1, max: 2, metrics: {scale_out_above: 50}}}]\n",
            None,
            None,
        )
        .unwrap();
        let e = spec.node_groups[0].elastic.as_ref().unwrap();
        assert_eq!(e.cooldown, 60);
        assert_eq!(
            e.metrics.unwrap().scale_out,
            corral_api::Adjustment::ChangeInCapacity(1)
        );
    }

    #[test]
    fn yaml_spec_with_groups() {
        let spec = parse_spec(
            "name: hpc\nimage: debian\nnode_groups:\n  - name: head\n    count: 1\n  - name: worker\n    count: 4\n    resources: {cpu: '2', memory: 2GiB}\nresources:\n  memory: 1GiB\nenv:\n  SLURM: 'yes'\n",
            None,
            None,
        )
        .unwrap();
        assert_eq!(spec.name, "hpc");
        assert_eq!(spec.groups().len(), 2);
        assert_eq!(spec.resources.memory, "1GiB");
        assert_eq!(spec.resources.cpu, "1");
        assert_eq!(spec.env["SLURM"], "yes");
    }

    #[test]
    fn json_spec_and_name_override() {
        let spec = parse_spec(
            "{\n\t\"name\": \"a\", \"image\": \"minimal\", \"nodes\": 3\n}",
            Some("b"),
            None,
        )
        .unwrap();
        assert_eq!(spec.name, "b");
        assert_eq!(spec.nodes, Some(3));
    }

    #[test]
    fn file_may_leave_name_and_image_to_flags() {
        let spec = parse_spec("nodes: 2\n", Some("demo"), Some("minimal")).unwrap();
        assert_eq!((spec.name.as_str(), spec.image.as_str()), ("demo", "minimal"));
        let err = parse_spec("nodes: 2\n", Some("demo"), None).unwrap_err();
        assert!(err.to_string().contains("image"), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = parse_spec("name: a\nimage: b\nnodez: 3\n", None, None).unwrap_err();
        assert!(err.to_string().contains("nodez"), "{err}");
    }

    #[test]
    fn flags_build_and_override_a_spec() {
        let mut a = args(Some("demo"));
        a.image = Some("minimal".into());
        a.nodes = Some(3);
        a.memory = Some("1GiB".into());
        a.env = vec![("K".into(), "V".into())];
        let spec = a.spec().unwrap();
        assert_eq!(spec.nodes, Some(3));
        assert_eq!(spec.resources.memory, "1GiB");
        assert_eq!(spec.resources.cpu, "1");
        assert_eq!(spec.env["K"], "V");
    }

    #[test]
    fn placement_and_constraint_flags() {
        let mut a = args(Some("demo"));
        a.image = Some("minimal".into());
        a.placement = Some(Placement::Pack);
        a.constraints = vec![("site".into(), "a".into()), ("rack".into(), "r1".into())];
        let spec = a.spec().unwrap();
        assert_eq!(spec.placement, Placement::Pack);
        assert_eq!(spec.constraints.len(), 2);
        assert_eq!(spec.constraints["site"], "a");
        let spec = parse_spec("placement: pack\nconstraints: {site: b}\n", Some("x"), Some("minimal")).unwrap();
        assert_eq!(
            (spec.placement, spec.constraints["site"].as_str()),
            (Placement::Pack, "b")
        );
    }

    #[test]
    fn template_needs_a_name_and_takes_flags() {
        let mut a = args(None);
        a.template = Some("slurm".into());
        assert!(a.spec().unwrap_err().to_string().contains("NAME --template slurm"));
        let mut a = args(Some("hpc"));
        a.template = Some("slurm".into());
        a.env = vec![("SLURM_SUSPEND_TIME".into(), "15".into())];
        let spec = a.spec().unwrap();
        assert_eq!((spec.name.as_str(), spec.image.as_str()), ("hpc", "slurm"));
        assert_eq!(spec.env["SLURM_SUSPEND_TIME"], "15");
        a.template = Some("nope".into());
        assert!(a.spec().unwrap_err().to_string().contains("no template"));
    }

    #[test]
    fn flags_need_name_and_image() {
        assert!(args(None).spec().unwrap_err().to_string().contains("name"));
        assert!(args(Some("demo")).spec().unwrap_err().to_string().contains("image"));
    }

    #[test]
    fn bad_quantities_fail_locally_with_api_codes() {
        let mut a = args(Some("demo"));
        a.image = Some("minimal".into());
        a.memory = Some("lots".into());
        let err = a.spec().unwrap_err();
        let api = err.downcast_ref::<corral_api::ApiError>().unwrap();
        assert_eq!(api.code, ErrorCode::InvalidRequest);

        let mut a = args(Some("Bad_Name"));
        a.image = Some("minimal".into());
        let err = a.spec().unwrap_err();
        let api = err.downcast_ref::<corral_api::ApiError>().unwrap();
        assert_eq!(api.code, ErrorCode::InvalidName);
    }

    #[test]
    fn env_flag_needs_an_equals_sign() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env("A").is_err());
        assert!(parse_env("=x").is_err());
    }
}
