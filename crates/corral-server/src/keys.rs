//! The key layout of the store, in one place.

/// Key of a user.
pub fn user(name: &str) -> String {
    format!("/users/{name}")
}
/// Prefix of all users.
pub const USERS: &str = "/users/";
/// Key of an API token, by the sha256 of the token.
pub fn token(hash: &str) -> String {
    format!("/tokens/{hash}")
}
/// Key of a cluster.
pub fn cluster(owner: &str, name: &str) -> String {
    format!("/clusters/{owner}/{name}")
}
/// Prefix of one owner's clusters.
pub fn clusters_of(owner: &str) -> String {
    format!("/clusters/{owner}/")
}
/// Prefix of all clusters.
pub const CLUSTERS: &str = "/clusters/";
/// Key of a node.
pub fn node(cluster_uid: &str, name: &str) -> String {
    format!("/nodes/{cluster_uid}/{name}")
}
/// Prefix of one cluster's nodes.
pub fn nodes_of(cluster_uid: &str) -> String {
    format!("/nodes/{cluster_uid}/")
}
/// Prefix of all nodes.
pub const NODES: &str = "/nodes/";
/// Key of an image.
pub fn image(owner: &str, name: &str) -> String {
    format!("/images/{owner}/{name}")
}
/// Prefix of all images.
pub const IMAGES: &str = "/images/";
/// Key of an operation.
pub fn operation(id: &str) -> String {
    format!("/operations/{id}")
}
/// Prefix of all operations.
pub const OPERATIONS: &str = "/operations/";
/// Key of an event.
pub fn event(seq: u64) -> String {
    format!("/events/{seq:020}")
}
/// Prefix of all events.
pub const EVENTS: &str = "/events/";
/// Key of a host.
pub fn host(name: &str) -> String {
    format!("/hosts/{name}")
}
/// Prefix of all hosts.
pub const HOSTS: &str = "/hosts/";
/// Key claiming a subnet for a cluster.
pub fn subnet_claim(net: &str) -> String {
    format!("/ipam/subnets/{}", net.replace('/', "_"))
}
/// Prefix of subnet claims.
pub const SUBNET_CLAIMS: &str = "/ipam/subnets/";
/// Key claiming a VNI for a cluster.
pub fn vni_claim(vni: u32) -> String {
    format!("/ipam/vnis/{vni:08}")
}
/// Prefix of VNI claims.
pub const VNI_CLAIMS: &str = "/ipam/vnis/";
/// Key naming the host a certificate (by fingerprint) belongs to.
pub fn agent_cert(fingerprint: &str) -> String {
    format!("/agent-certs/{fingerprint}")
}
/// Key of a join token, by the sha256 of the token.
pub fn join_token(hash: &str) -> String {
    format!("/join-tokens/{hash}")
}
/// Key every scheduler pass compares and bumps, so concurrent passes conflict.
pub const SCHEDULER_EPOCH: &str = "/scheduler/epoch";
