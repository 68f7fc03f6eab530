//! Clusters: validation and admission of requests, and the desired state they write.
//! Nothing here touches a host; the scheduler and agents act on what is written.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use corral_api::agent::SshMaterial;
use corral_api::quantity::{format_bytes, parse_bytes, parse_millicpu};
use corral_api::{
    names, ApiError, Cluster, ClusterSpec, ClusterState, ErrorCode, GroupScaling, HostState, NetworkInfo,
    NodeGroupSpec, NodeState, ScaleRequest,
};
use corral_store::{typed, Compare, Op};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::{Result, ServerError};
use crate::node::{self, Desired, NodeRecord};
use crate::operation::{self, OperationRecord, WaitFor};
use crate::scheduler::placement::describe;
use crate::user::UserRecord;
use crate::{event, host, image, ipam, keys};

/// Most nodes in one group.
pub const MAX_GROUP_NODES: u32 = 1000;
/// Least memory a node may have: below it even a shell does not start reliably.
pub const MIN_NODE_MEMORY: u64 = 16 << 20;

/// A stored cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Unique id (8 hex characters), part of node ids.
    pub uid: String,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Spec with explicit node groups and their current desired sizes.
    pub spec: ClusterSpec,
    /// Network.
    pub network: NetworkInfo,
    /// SSH key pair of the cluster.
    pub ssh: SshMaterial,
    /// Whether nodes should run or be stopped.
    pub desired: Desired,
    /// Whether the cluster is being deleted.
    pub deleting: bool,
    /// Creation time.
    pub created_at: u64,
    /// Secret the cluster's nodes present to the node API (`/etc/corral/credential`):
    /// 32 random bytes, hex. Empty in clusters made before it existed, which the node
    /// API then refuses.
    #[serde(default)]
    pub credential: String,
    /// The last change of size of each node group, by group name: the elasticity
    /// manager's cooldown starts there, whoever made the change.
    #[serde(default)]
    pub scaling: BTreeMap<String, GroupScaling>,
}

/// A node group's resolved resources and image.
#[derive(Debug, Clone)]
struct GroupPlan {
    name: String,
    count: u32,
    cpu_millis: u32,
    memory_bytes: u64,
    pids_max: u32,
    image: String,
    image_digest: String,
}

fn conflict(msg: String) -> ServerError {
    ApiError::new(ErrorCode::Conflict, msg).into()
}

/// Checks a spec and resolves its groups; changes nothing.
fn plan(ctx: &Context, user: &UserRecord, spec: &ClusterSpec) -> Result<Vec<GroupPlan>> {
    names::validate_name("cluster", &spec.name)?;
    if !spec.node_groups.is_empty() && spec.nodes.is_some() {
        return Err(ApiError::invalid("give either `nodes` or `node_groups`, not both").into());
    }
    if spec.max_unavailable == Some(0) {
        return Err(ApiError::invalid("max_unavailable must be at least 1").into());
    }
    for k in spec.env.keys() {
        let ok = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ApiError::invalid(format!("invalid environment variable name {k:?}")).into());
        }
    }
    validate_constraints(&spec.constraints)?;
    let groups = spec.groups();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for g in &groups {
        names::validate_name("node group", &g.name)?;
        if !seen.insert(g.name.clone()) {
            return Err(ApiError::invalid(format!("node group {:?} appears twice", g.name)).into());
        }
        if g.count > MAX_GROUP_NODES {
            return Err(ApiError::invalid(format!(
                "node group {:?} asks for {} nodes; at most {MAX_GROUP_NODES}",
                g.name, g.count
            ))
            .into());
        }
        if let Some(e) = &g.elastic {
            crate::elastic::validate(&g.name, g.count, e, &groups)?;
        }
        out.push(plan_group(ctx, user, spec, g)?);
    }
    Ok(out)
}

fn plan_group(ctx: &Context, user: &UserRecord, spec: &ClusterSpec, g: &NodeGroupSpec) -> Result<GroupPlan> {
    let res = g.resources.as_ref().unwrap_or(&spec.resources);
    let cpu_millis = parse_millicpu(&res.cpu)?;
    let memory_bytes = parse_bytes(&res.memory)?;
    if memory_bytes < MIN_NODE_MEMORY {
        return Err(ApiError::invalid(format!(
            "memory {} is too small: at least {}",
            res.memory,
            format_bytes(MIN_NODE_MEMORY)
        ))
        .into());
    }
    if !(16..=1_000_000).contains(&res.pids) {
        return Err(ApiError::invalid(format!("pids {} out of range 16..1000000", res.pids)).into());
    }
    let image_name = g.image.as_deref().unwrap_or(&spec.image);
    let img = image::resolve(ctx, user, image_name)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownImage,
            format!("unknown image {image_name:?}: see `corral image list`, or build it with `corral image build {image_name}`"),
        )
    })?;
    Ok(GroupPlan {
        name: g.name.clone(),
        count: g.count,
        cpu_millis,
        memory_bytes,
        pids_max: res.pids,
        image: image_name.to_string(),
        image_digest: img.digest,
    })
}

/// What a set of new nodes needs.
#[derive(Debug, Default, Clone)]
struct Demand {
    nodes: u64,
    cpu_millis: u64,
    memory_bytes: u64,
    /// (cpu, memory) of each kind of node, to check that one host could hold it.
    shapes: Vec<(u32, u64)>,
}

impl Demand {
    fn add(&mut self, count: u32, cpu: u32, mem: u64) {
        if count == 0 {
            return;
        }
        self.nodes += count as u64;
        self.cpu_millis += count as u64 * cpu as u64;
        self.memory_bytes += count as u64 * mem;
        if !self.shapes.contains(&(cpu, mem)) {
            self.shapes.push((cpu, mem));
        }
    }
}

fn insufficient(m: String) -> ServerError {
    ApiError::new(ErrorCode::InsufficientCapacity, m).into()
}

/// Refuses what the pool could never hold, even empty: a node bigger than every
/// host that may take it, no host carrying the constraint labels, or a cluster
/// bigger than all those hosts together. Room that is only taken for now is not
/// checked: those nodes wait pending until the scheduler finds room. `whole` is the
/// cluster's size after the request.
fn check_fits_pool(ctx: &Context, whole: &Demand, constraints: &BTreeMap<String, String>) -> Result<()> {
    let hosts: Vec<host::HostRecord> = host::all(ctx)?
        .into_iter()
        .filter(|h| h.state != HostState::Removed)
        .filter(|h| constraints.iter().all(|(k, v)| h.labels.get(k) == Some(v)))
        .collect();
    let which = if constraints.is_empty() {
        "host".to_string()
    } else {
        format!("host with {}", describe(constraints))
    };
    if hosts.is_empty() {
        return Err(insufficient(format!("no {which} in the pool")));
    }
    for &(cpu, mem) in &whole.shapes {
        let fits = hosts
            .iter()
            .any(|h| h.capacity.memory_bytes >= mem && h.capacity.cpu_millis >= cpu as u64);
        if !fits {
            let m = hosts.iter().map(|h| h.capacity.memory_bytes).max().unwrap_or(0);
            let c = hosts.iter().map(|h| h.capacity.cpu_millis).max().unwrap_or(0);
            return Err(insufficient(format!(
                "a node with {} cpus and {} of memory fits on no {which} (largest: {} cpus, {} of memory)",
                cpu as f64 / 1000.0,
                format_bytes(mem),
                c as f64 / 1000.0,
                format_bytes(m)
            )));
        }
    }
    let cap_mem: u64 = hosts.iter().map(|h| h.capacity.memory_bytes).sum();
    let cap_cpu = hosts.iter().map(|h| h.capacity.cpu_millis).sum::<u64>() as f64 * ctx.cfg.cpu_overcommit;
    if whole.memory_bytes > cap_mem {
        return Err(insufficient(format!(
            "the cluster needs {} of memory; every {which} together has {}",
            format_bytes(whole.memory_bytes),
            format_bytes(cap_mem)
        )));
    }
    if whole.cpu_millis as f64 > cap_cpu {
        return Err(insufficient(format!(
            "the cluster needs {} cpus; every {which} together has {:.1}, over-commit included",
            whole.cpu_millis as f64 / 1000.0,
            cap_cpu / 1000.0
        )));
    }
    Ok(())
}

/// Refuses a demand the user's quota cannot hold. Called under the admission lock,
/// so the check and the write that follows are one step.
fn check_quota(ctx: &Context, user: &UserRecord, demand: &Demand) -> Result<()> {
    if demand.nodes == 0 || user.is_admin() {
        return Ok(());
    }
    let mine: Vec<NodeRecord> = node::all(ctx)?
        .into_iter()
        .map(|d| d.value)
        .filter(|n| n.desired != Desired::Deleted && n.owner == user.name)
        .collect();
    let quota = |what: &str, used: u64, asked: u64, max: u64, fmt: &dyn Fn(u64) -> String| -> Result<()> {
        if used + asked > max {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "quota exceeded: {what} {} in use + {} asked > {} allowed",
                    fmt(used),
                    fmt(asked),
                    fmt(max)
                ),
            )
            .into());
        }
        Ok(())
    };
    let plain = |v: u64| v.to_string();
    let cpus = |v: u64| format!("{:.1}", v as f64 / 1000.0);
    let bytes = |v: u64| format_bytes(v);
    quota(
        "nodes",
        mine.len() as u64,
        demand.nodes,
        ctx.cfg.quota_nodes as u64,
        &plain,
    )?;
    let cpu: u64 = mine.iter().map(|n| n.cpu_millis as u64).sum();
    quota("cpu", cpu, demand.cpu_millis, ctx.cfg.quota_cpu_millis, &cpus)?;
    let mem: u64 = mine.iter().map(|n| n.memory_bytes).sum();
    quota("memory", mem, demand.memory_bytes, ctx.cfg.quota_memory_bytes, &bytes)?;
    Ok(())
}

/// Checks constraint labels: the same rules as a host's labels.
fn validate_constraints(constraints: &BTreeMap<String, String>) -> Result<()> {
    let ok = |s: &str, empty_ok: bool| {
        (empty_ok || !s.is_empty())
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    };
    for (k, v) in constraints {
        if !ok(k, false) || !ok(v, true) {
            return Err(ApiError::invalid(format!(
                "invalid constraint {k:?}={v:?}: labels are up to 63 letters, digits, '-', '_', '.' or '/'"
            ))
            .into());
        }
    }
    Ok(())
}

/// Generates the cluster's SSH key pair with ssh-keygen.
fn ssh_keypair(ctx: &Context, label: &str) -> Result<(String, String)> {
    let dir = ctx.cfg.data_dir.join("tmp");
    std::fs::create_dir_all(&dir).map_err(|e| ServerError::Internal(format!("creating {}: {e}", dir.display())))?;
    let path = dir.join(format!("key-{}", crate::user::random_secret(6)));
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", label, "-f"])
        .arg(&path)
        .output()
        .map_err(|e| ServerError::Internal(format!("running ssh-keygen: {e}")))?;
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let private = read(&path);
    let public = read(&path.with_extension("pub")).trim().to_string();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    if !out.status.success() || private.is_empty() {
        return Err(ServerError::Internal(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok((private, public))
}

fn new_node(c: &ClusterRecord, g: &GroupPlan, index: u32, address: Ipv4Addr) -> NodeRecord {
    let name = format!("{}-{index}", g.name);
    let id = NodeRecord::make_id(&c.uid, &name);
    NodeRecord {
        mac: node::mac_for(&id),
        id,
        cluster_uid: c.uid.clone(),
        cluster: c.name.clone(),
        owner: c.owner.clone(),
        name,
        group: g.name.clone(),
        index,
        address: address.to_string(),
        host: None,
        desired: c.desired,
        image: g.image.clone(),
        image_digest: g.image_digest.clone(),
        cpu_millis: g.cpu_millis,
        memory_bytes: g.memory_bytes,
        pids_max: g.pids_max,
        state: NodeState::Pending,
        error: None,
        oom_kills: 0,
        started_at: None,
        created_at: crate::time::now(),
        recovered: false,
        migration: None,
    }
}

/// Validates, admits and writes a new cluster; returns the operation to watch.
pub async fn create(ctx: &Context, user: &UserRecord, spec: ClusterSpec) -> Result<OperationRecord> {
    let groups = plan(ctx, user, &spec)?;
    let mut demand = Demand::default();
    for g in &groups {
        demand.add(g.count, g.cpu_millis, g.memory_bytes);
    }
    let key = keys::cluster(&user.name, &spec.name);
    if ctx.store.get(&key)?.is_some() {
        return Err(already_exists(&spec.name));
    }
    let (private_key, public_key) = ssh_keypair(ctx, &format!("corral-cluster-{}", spec.name))?;
    check_fits_pool(ctx, &demand, &spec.constraints)?;
    let _guard = ctx.admission.lock().await;
    check_quota(ctx, user, &demand)?;
    let subnet = ipam::choose_subnet(ctx, spec.subnet.as_deref())?;
    let vni = ipam::choose_vni(ctx)?;
    let mut stored_spec = spec.clone();
    stored_spec.nodes = None;
    stored_spec.subnet = Some(subnet.to_string());
    stored_spec.node_groups = spec.groups();
    let mut authorized = vec![public_key.clone()];
    authorized.extend(user.ssh_keys.iter().cloned());
    let c = ClusterRecord {
        uid: crate::user::random_secret(4),
        name: spec.name.clone(),
        owner: user.name.clone(),
        spec: stored_spec,
        network: NetworkInfo {
            vni,
            subnet: subnet.to_string(),
            gateway: ipam::gateway(&subnet).to_string(),
            mtu: ctx.cfg.mtu,
        },
        ssh: SshMaterial {
            private_key,
            public_key,
            authorized_keys: authorized,
        },
        desired: Desired::Running,
        deleting: false,
        created_at: crate::time::now(),
        credential: crate::user::random_secret(32),
        scaling: BTreeMap::new(),
    };
    let total: usize = groups.iter().map(|g| g.count as usize).sum();
    let mut addrs = ipam::free_addresses(&subnet, &HashSet::new(), total)?.into_iter();
    let mut ops = vec![typed::put_op(&key, &c)?];
    for g in &groups {
        for i in 0..g.count {
            let n = new_node(&c, g, i, addrs.next().expect("counted above"));
            ops.push(typed::put_op(&keys::node(&c.uid, &n.name), &n)?);
        }
    }
    let op = operation::new(
        "cluster.create",
        &format!("clusters/{}", c.name),
        &user.name,
        WaitFor::ClusterRunning { uid: c.uid.clone() },
    );
    ops.push(operation::put_op(&op)?);
    let subnet_claim = ipam::claim_key(&subnet.to_string(), &c.uid);
    ops.push(Op::Put(subnet_claim.clone(), c.uid.as_bytes().to_vec()));
    ops.push(Op::Put(keys::vni_claim(vni), c.uid.as_bytes().to_vec()));
    let compares = [
        Compare::Absent(key),
        Compare::Absent(subnet_claim),
        Compare::Absent(keys::vni_claim(vni)),
    ];
    if ctx.store.txn(&compares, &ops)?.is_none() {
        return Err(already_exists(&spec.name));
    }
    event::record_owned(
        ctx,
        &user.name,
        &c.owner,
        &format!("clusters/{}", c.name),
        "cluster.created",
        format!("created with {total} nodes in {subnet}"),
    );
    Ok(op)
}

fn already_exists(name: &str) -> ServerError {
    ApiError::new(ErrorCode::AlreadyExists, format!("cluster {name:?} already exists")).into()
}

/// Reads a cluster the user may see; others' clusters are simply not found.
pub fn get(ctx: &Context, user: &UserRecord, owner: Option<&str>, name: &str) -> Result<typed::Doc<ClusterRecord>> {
    let owner = owner.unwrap_or(&user.name);
    if !user.may_access(owner) {
        return Err(ApiError::not_found("cluster", name).into());
    }
    typed::get::<ClusterRecord>(ctx.store.as_ref(), &keys::cluster(owner, name))?
        .ok_or_else(|| ApiError::not_found("cluster", name).into())
}

/// The clusters a user sees: their own, or every one for the admin.
pub fn list(ctx: &Context, user: &UserRecord) -> Result<Vec<ClusterRecord>> {
    let prefix = if user.is_admin() {
        keys::CLUSTERS.to_string()
    } else {
        keys::clusters_of(&user.name)
    };
    Ok(typed::list::<ClusterRecord>(ctx.store.as_ref(), &prefix)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// The state of a cluster, from its nodes.
pub fn state_of(c: &ClusterRecord, nodes: &[NodeRecord]) -> ClusterState {
    if c.deleting {
        return ClusterState::Deleting;
    }
    let live: Vec<&NodeRecord> = nodes.iter().filter(|n| n.desired != Desired::Deleted).collect();
    if c.desired == Desired::Stopped {
        return if live.iter().all(|n| n.state == NodeState::Stopped) {
            ClusterState::Stopped
        } else {
            ClusterState::Stopping
        };
    }
    if live.iter().any(|n| n.state == NodeState::Failed) {
        return ClusterState::Degraded;
    }
    if live.iter().all(|n| n.state == NodeState::Running) {
        ClusterState::Running
    } else {
        ClusterState::Creating
    }
}

/// The API view of a cluster.
pub fn view(ctx: &Context, c: &ClusterRecord) -> Result<Cluster> {
    let nodes: Vec<NodeRecord> = node::of_cluster(ctx, &c.uid)?.into_iter().map(|d| d.value).collect();
    let mut sorted = nodes.clone();
    sorted.sort_by(|a, b| (&a.group, a.index).cmp(&(&b.group, b.index)));
    Ok(Cluster {
        name: c.name.clone(),
        owner: c.owner.clone(),
        spec: c.spec.clone(),
        state: state_of(c, &nodes),
        network: c.network.clone(),
        nodes: sorted
            .iter()
            .filter(|n| n.desired != Desired::Deleted)
            .map(|n| n.to_api())
            .collect(),
        created_at: c.created_at,
        scaling: c.scaling.clone(),
    })
}

/// Changes the size of a node group at a user's request (API, CLI, UI).
pub async fn scale(
    ctx: &Context,
    user: &UserRecord,
    owner: Option<&str>,
    name: &str,
    req: ScaleRequest,
) -> Result<OperationRecord> {
    let doc = get(ctx, user, owner, name)?;
    let change = Resize::To {
        nodes: req.nodes,
        remove: Vec::new(),
    };
    let done = resize(
        ctx,
        &user.name,
        &doc.value.owner,
        name,
        req.group.as_deref(),
        change,
        None,
    )
    .await?;
    Ok(done.operation)
}

/// How a node group changes size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resize {
    /// To this many nodes. New nodes take the lowest free indices; when shrinking, the
    /// nodes named in `remove` go first, then the highest-numbered (names stay dense).
    To {
        /// The size asked for.
        nodes: u32,
        /// Nodes to remove first when shrinking (e.g. idle ones); unknown names are refused.
        remove: Vec<String>,
    },
    /// These nodes, by name: `add` are created (`<group>-<index>`, absent now),
    /// `remove` deleted. Slurm's power saving resumes and suspends nodes by name.
    Named {
        /// Nodes to create; ones that already exist are left as they are.
        add: Vec<String>,
        /// Nodes to delete; ones that do not exist are left as they are.
        remove: Vec<String>,
    },
}

/// What a resize did.
#[derive(Debug, Clone)]
pub struct Resized {
    /// The node group.
    pub group: String,
    /// Size before.
    pub from: u32,
    /// Size after.
    pub to: u32,
    /// Names of the nodes created.
    pub added: Vec<String>,
    /// Names of the nodes removed.
    pub removed: Vec<String>,
    /// The operation to watch.
    pub operation: OperationRecord,
}

/// Resizes a node group of the cluster `owner/name` in one transaction, as `actor`
/// (a user, or a control loop such as the elasticity manager). `why` ends the event's
/// message ("scaled worker 2→6: 4 jobs pending needing 6 nodes"). Callers check who may
/// ask; this checks capacity, quota, names and the group's upper limit.
pub async fn resize(
    ctx: &Context,
    actor: &str,
    owner: &str,
    name: &str,
    group: Option<&str>,
    change: Resize,
    why: Option<&str>,
) -> Result<Resized> {
    let _guard = ctx.admission.lock().await;
    let doc = typed::get::<ClusterRecord>(ctx.store.as_ref(), &keys::cluster(owner, name))?
        .ok_or_else(|| ApiError::not_found("cluster", name))?;
    let mut c = doc.value.clone();
    if c.deleting {
        return Err(conflict(format!("cluster {name:?} is being deleted")));
    }
    let group_name = match (group, c.spec.node_groups.as_slice()) {
        (Some(g), _) => g.to_string(),
        (None, [only]) => only.name.clone(),
        (None, _) => {
            return Err(ApiError::invalid("the cluster has several node groups: say which with `group`").into())
        }
    };
    let gi = c
        .spec
        .node_groups
        .iter()
        .position(|g| g.name == group_name)
        .ok_or_else(|| ApiError::not_found("node group", &group_name))?;
    let nodes = node::of_cluster(ctx, &c.uid)?;
    let live: Vec<&typed::Doc<NodeRecord>> = nodes
        .iter()
        .filter(|d| d.value.desired != Desired::Deleted && d.value.group == group_name)
        .collect();
    let current = live.len() as u32;
    let leaving: HashSet<u32> = nodes
        .iter()
        .filter(|d| d.value.desired == Desired::Deleted && d.value.group == group_name)
        .map(|d| d.value.index)
        .collect();
    let (add, remove) = resize_plan(&group_name, &live, &leaving, &change)?;
    let to = current + add.len() as u32 - remove.len() as u32;
    if to > MAX_GROUP_NODES {
        return Err(ApiError::invalid(format!("at most {MAX_GROUP_NODES} nodes in a group")).into());
    }
    if let Some(e) = &c.spec.node_groups[gi].elastic {
        check_bounds(&group_name, e, current, to)?;
    }
    let mut ops = Vec::new();
    let mut compares = vec![Compare::ModRevision(doc.key.clone(), doc.revision)];
    if !add.is_empty() {
        let owner_rec = crate::user::get(ctx, &c.owner)?
            .ok_or_else(|| ServerError::Internal(format!("owner {:?} of {name:?} is gone", c.owner)))?;
        let g = plan_group(ctx, &owner_rec, &c.spec, &c.spec.node_groups[gi])?;
        let mut demand = Demand::default();
        demand.add(add.len() as u32, g.cpu_millis, g.memory_bytes);
        let mut whole = demand.clone();
        for d in nodes.iter().filter(|d| d.value.desired != Desired::Deleted) {
            whole.add(1, d.value.cpu_millis, d.value.memory_bytes);
        }
        check_fits_pool(ctx, &whole, &c.spec.constraints)?;
        check_quota(ctx, &owner_rec, &demand)?;
        let subnet: Ipv4Net = c
            .network
            .subnet
            .parse()
            .map_err(|_| ServerError::Internal("bad stored subnet".into()))?;
        let used: HashSet<Ipv4Addr> = nodes.iter().filter_map(|d| d.value.address.parse().ok()).collect();
        let mut addrs = ipam::free_addresses(&subnet, &used, add.len())?.into_iter();
        for &index in &add {
            let n = new_node(&c, &g, index, addrs.next().expect("counted above"));
            let key = keys::node(&c.uid, &n.name);
            compares.push(Compare::Absent(key.clone()));
            ops.push(typed::put_op(&key, &n)?);
        }
    }
    for d in &remove {
        let mut n = d.value.clone();
        n.desired = Desired::Deleted;
        n.state = NodeState::Deleting;
        compares.push(Compare::ModRevision(d.key.clone(), d.revision));
        ops.push(typed::put_op(&d.key, &n)?);
    }
    let mut message = format!("scaled {group_name} {current}→{to}");
    if let Some(why) = why {
        message = format!("{message}: {why}");
    }
    c.spec.node_groups[gi].count = to;
    c.scaling.insert(
        group_name.clone(),
        GroupScaling {
            last_scaled: crate::time::now(),
            last_decision: message.clone(),
            actor: actor.to_string(),
        },
    );
    ops.push(typed::put_op(&doc.key, &c)?);
    let op = operation::new(
        "cluster.scale",
        &format!("clusters/{name}"),
        actor,
        WaitFor::ClusterRunning { uid: c.uid.clone() },
    );
    ops.push(operation::put_op(&op)?);
    if ctx.store.txn(&compares, &ops)?.is_none() {
        return Err(conflict(format!("cluster {name:?} changed meanwhile; try again")));
    }
    event::record_owned(
        ctx,
        actor,
        owner,
        &format!("clusters/{name}"),
        "cluster.scaled",
        message,
    );
    Ok(Resized {
        group: group_name.clone(),
        from: current,
        to,
        added: add.iter().map(|i| format!("{group_name}-{i}")).collect(),
        removed: remove.iter().map(|d| d.value.name.clone()).collect(),
        operation: op,
    })
}

/// Refuses a size outside an elastic group's [min, max]; a change that moves a group
/// already outside (its bounds were narrowed) towards them is let through.
fn check_bounds(group: &str, e: &corral_api::ElasticSpec, current: u32, to: u32) -> Result<()> {
    if (to < e.min && to < current) || (to > e.max && to > current) {
        return Err(ApiError::invalid(format!(
            "node group {group:?} is elastic with {} to {} nodes: {to} is outside [{}, {}]",
            e.min, e.max, e.min, e.max
        ))
        .into());
    }
    Ok(())
}

/// The indices to create and the nodes to delete for `change` of a group whose live
/// nodes are `live` and whose nodes still being removed have the indices `leaving`.
fn resize_plan<'a>(
    group: &str,
    live: &[&'a typed::Doc<NodeRecord>],
    leaving: &HashSet<u32>,
    change: &Resize,
) -> Result<(Vec<u32>, Vec<&'a typed::Doc<NodeRecord>>)> {
    let by_name = |n: &str| live.iter().copied().find(|d| d.value.name == n);
    let index_of = |n: &str| -> Result<u32> {
        n.strip_prefix(group)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|i| *i < MAX_GROUP_NODES && format!("{group}-{i}") == n)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{n:?} is not a node name of group {group:?} (`{group}-<index>`)"
                ))
                .into()
            })
    };
    let taken: HashSet<u32> = live.iter().map(|d| d.value.index).collect();
    match change {
        Resize::To { nodes, remove } => {
            let current = live.len() as u32;
            if *nodes > MAX_GROUP_NODES {
                return Err(ApiError::invalid(format!("at most {MAX_GROUP_NODES} nodes in a group")).into());
            }
            if *nodes >= current {
                let add = (0..)
                    .filter(|i| !taken.contains(i) && !leaving.contains(i))
                    .take((nodes - current) as usize)
                    .collect();
                return Ok((add, Vec::new()));
            }
            let mut victims = Vec::new();
            for n in remove {
                let d = by_name(n).ok_or_else(|| ApiError::not_found("node", n))?;
                if !victims.iter().any(|v: &&typed::Doc<NodeRecord>| v.key == d.key) {
                    victims.push(d);
                }
            }
            let mut rest: Vec<&typed::Doc<NodeRecord>> = live
                .iter()
                .copied()
                .filter(|d| !victims.iter().any(|v| v.key == d.key))
                .collect();
            rest.sort_by_key(|d| std::cmp::Reverse(d.value.index));
            victims.extend(rest);
            victims.truncate((current - nodes) as usize);
            Ok((Vec::new(), victims))
        }
        Resize::Named { add, remove } => {
            let mut indices = Vec::new();
            for n in add {
                let i = index_of(n)?;
                if leaving.contains(&i) {
                    return Err(conflict(format!(
                        "node {n:?} is still being removed; try again shortly"
                    )));
                }
                if !taken.contains(&i) && !indices.contains(&i) {
                    indices.push(i);
                }
            }
            let mut victims: Vec<&typed::Doc<NodeRecord>> = Vec::new();
            for n in remove {
                index_of(n)?;
                if let Some(d) = by_name(n) {
                    if !victims.iter().any(|v| v.key == d.key) {
                        victims.push(d);
                    }
                }
            }
            Ok((indices, victims))
        }
    }
}

/// Sets every node of a cluster to run or to stop.
pub async fn set_running(
    ctx: &Context,
    user: &UserRecord,
    owner: Option<&str>,
    name: &str,
    run: bool,
) -> Result<OperationRecord> {
    let _guard = ctx.admission.lock().await;
    let doc = get(ctx, user, owner, name)?;
    let mut c = doc.value.clone();
    if c.deleting {
        return Err(conflict(format!("cluster {name:?} is being deleted")));
    }
    let desired = if run { Desired::Running } else { Desired::Stopped };
    c.desired = desired;
    let mut compares = vec![Compare::ModRevision(doc.key.clone(), doc.revision)];
    let mut ops = vec![typed::put_op(&doc.key, &c)?];
    for d in node::of_cluster(ctx, &c.uid)? {
        if d.value.desired == Desired::Deleted || d.value.desired == desired {
            continue;
        }
        let mut n = d.value.clone();
        n.desired = desired;
        compares.push(Compare::ModRevision(d.key.clone(), d.revision));
        ops.push(typed::put_op(&d.key, &n)?);
    }
    let (kind, wait) = if run {
        ("cluster.start", WaitFor::ClusterRunning { uid: c.uid.clone() })
    } else {
        ("cluster.stop", WaitFor::ClusterStopped { uid: c.uid.clone() })
    };
    let op = operation::new(kind, &format!("clusters/{name}"), &user.name, wait);
    ops.push(operation::put_op(&op)?);
    if ctx.store.txn(&compares, &ops)?.is_none() {
        return Err(conflict(format!("cluster {name:?} changed meanwhile; try again")));
    }
    event::record_owned(
        ctx,
        &user.name,
        &doc.value.owner,
        &format!("clusters/{name}"),
        kind,
        if run { "starting" } else { "stopping" },
    );
    Ok(op)
}

/// Replaces the cluster's node API credential: requests with the old one are refused
/// from now on, and the agents write the new one into the running nodes (a node that
/// starts later gets it at start). For when a node's secret may have leaked, or as a
/// routine rotation.
pub async fn rotate_credential(ctx: &Context, user: &UserRecord, owner: Option<&str>, name: &str) -> Result<Cluster> {
    let _guard = ctx.admission.lock().await;
    let doc = get(ctx, user, owner, name)?;
    let mut c = doc.value.clone();
    if c.deleting {
        return Err(conflict(format!("cluster {name:?} is being deleted")));
    }
    c.credential = crate::user::random_secret(32);
    let compares = [Compare::ModRevision(doc.key.clone(), doc.revision)];
    if ctx.store.txn(&compares, &[typed::put_op(&doc.key, &c)?])?.is_none() {
        return Err(conflict(format!("cluster {name:?} changed meanwhile; try again")));
    }
    event::record_owned(
        ctx,
        &user.name,
        &c.owner,
        &format!("clusters/{name}"),
        "cluster.credential_rotated",
        "node API credential replaced; the old one is refused",
    );
    view(ctx, &c)
}

/// Marks a cluster and all its nodes for deletion.
pub async fn delete(ctx: &Context, user: &UserRecord, owner: Option<&str>, name: &str) -> Result<OperationRecord> {
    let _guard = ctx.admission.lock().await;
    let doc = get(ctx, user, owner, name)?;
    let mut c = doc.value.clone();
    c.deleting = true;
    let mut compares = vec![Compare::ModRevision(doc.key.clone(), doc.revision)];
    let mut ops = vec![typed::put_op(&doc.key, &c)?];
    for d in node::of_cluster(ctx, &c.uid)? {
        if d.value.desired == Desired::Deleted {
            continue;
        }
        let mut n = d.value.clone();
        n.desired = Desired::Deleted;
        n.state = NodeState::Deleting;
        compares.push(Compare::ModRevision(d.key.clone(), d.revision));
        ops.push(typed::put_op(&d.key, &n)?);
    }
    let op = operation::new(
        "cluster.delete",
        &format!("clusters/{name}"),
        &user.name,
        WaitFor::ClusterGone {
            uid: c.uid.clone(),
            key: doc.key.clone(),
        },
    );
    ops.push(operation::put_op(&op)?);
    if ctx.store.txn(&compares, &ops)?.is_none() {
        return Err(conflict(format!("cluster {name:?} changed meanwhile; try again")));
    }
    event::record_owned(
        ctx,
        &user.name,
        &doc.value.owner,
        &format!("clusters/{name}"),
        "cluster.deleting",
        "deleting",
    );
    Ok(op)
}

/// Removes the record of a deleting cluster once no node is left, with its claims.
pub fn finalise(ctx: &Context, doc: &typed::Doc<ClusterRecord>) -> Result<bool> {
    let c = &doc.value;
    if !c.deleting || !node::of_cluster(ctx, &c.uid)?.is_empty() {
        return Ok(false);
    }
    let subnet = c.network.subnet.clone();
    let mut ops = vec![
        Op::Delete(doc.key.clone()),
        Op::Delete(ipam::claim_key(&subnet, &c.uid)),
        Op::Delete(keys::vni_claim(c.network.vni)),
    ];
    ops.extend(ipam::legacy_claim(ctx, &subnet, &c.uid)?.map(Op::Delete));
    if ctx
        .store
        .txn(&[Compare::ModRevision(doc.key.clone(), doc.revision)], &ops)?
        .is_some()
    {
        event::record_owned(
            ctx,
            "corral",
            &c.owner,
            &format!("clusters/{}", c.name),
            "cluster.deleted",
            "deleted",
        );
        return Ok(true);
    }
    Ok(false)
}

/// Env of a cluster, for assignments.
pub fn env(c: &ClusterRecord) -> BTreeMap<String, String> {
    c.spec.env.clone()
}
