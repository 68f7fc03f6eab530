//! Corral's command-line client: `corral <noun> <verb>` verbs that talk to the REST API.
//!
//! The `corral` binary wires [`Command`] and [`ClientOptions`] into its own parser and
//! calls [`run`]; everything here is a client of the HTTP API and nothing else.

mod client;
mod cmd;
mod config;
mod console;
mod error;
mod exec;
mod node_ref;
mod output;
mod password;
mod terminal;
mod wait;

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub use console::Console;
pub use output::OutputFormat;

/// Help heading of the options every client verb shares.
const HEADING: &str = "Client options";

/// How to reach the server and how to print; shared by every client verb.
#[derive(Debug, Clone, Args)]
pub struct ClientOptions {
    /// Server URL [default: from the config file, else http://127.0.0.1:7700]
    #[arg(long, env = "CORRAL_SERVER", global = true, help_heading = HEADING)]
    pub server: Option<String>,
    /// API token [default: from the config file written by `corral login`]
    #[arg(
        long,
        env = "CORRAL_TOKEN",
        global = true,
        hide_env_values = true,
        help_heading = HEADING
    )]
    pub token: Option<String>,
    /// Output format
    #[arg(
        short,
        long,
        value_enum,
        default_value_t = OutputFormat::Table,
        global = true,
        help_heading = HEADING
    )]
    pub output: OutputFormat,
    /// Config file [default: ~/.config/corral/config.json]
    #[arg(long, env = "CORRAL_CONFIG", global = true, help_heading = HEADING)]
    pub config: Option<PathBuf>,
}

/// The client verbs of `corral`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and save the server and token for later commands
    Login(cmd::login::LoginArgs),
    /// Show the user the token belongs to
    Whoami,
    /// Create, list, resize and delete virtual clusters
    #[command(subcommand)]
    Cluster(cmd::cluster::ClusterCommand),
    /// Inspect the nodes of a cluster and save one as an image
    #[command(subcommand)]
    Node(cmd::node::NodeCommand),
    /// Run a command in a node
    Exec(exec::ExecArgs),
    /// Open an SSH session to a node with the system `ssh`
    Ssh(cmd::ssh::SshArgs),
    /// Build, import, share and delete images
    #[command(subcommand)]
    Image(cmd::image::ImageCommand),
    /// Manage users and their SSH keys
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// The pool's hosts and join tokens (admin)
    #[command(subcommand)]
    Host(cmd::host::HostCommand),
    /// Watch asynchronous requests
    #[command(subcommand)]
    Operation(cmd::operation::OperationCommand),
    /// Read the event log
    #[command(subcommand)]
    Event(cmd::event::EventCommand),
}

/// Runs one client verb on the process's stdout and stderr and returns its exit code.
///
/// Errors from the API or the connection are printed to stderr as `error: ...` and turn
/// into exit code 1, so the caller only has to exit with the code.
pub async fn run(cmd: Command, opts: &ClientOptions) -> anyhow::Result<i32> {
    run_with(cmd, opts, &mut Console::stdio()).await
}

/// Like [`run`], printing to the given console (tests capture the output this way).
pub async fn run_with(cmd: Command, opts: &ClientOptions, console: &mut Console) -> anyhow::Result<i32> {
    match cmd::dispatch(cmd, opts, console).await {
        Ok(code) => Ok(code),
        Err(err) => {
            console.error(&error::describe(&err));
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cmd::cluster::ClusterCommand;
    use crate::cmd::image::ImageCommand;
    use crate::cmd::node::NodeCommand;
    use crate::cmd::user::UserCommand;

    /// Stands in for the `corral` binary's parser, which embeds ours the same way.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: ClientOptions,
        #[command(subcommand)]
        cmd: Command,
    }

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("corral").chain(line.split_whitespace()))
    }

    #[test]
    fn parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cluster_create_from_flags() {
        let cli = parse(
            "cluster create demo --image minimal --nodes 3 --cpu 0.5 --memory 1GiB \
             --pids 64 --subnet 10.9.0.0/24 --env A=1 --env B=2 --async",
        )
        .unwrap();
        let Command::Cluster(ClusterCommand::Create(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!(a.name.as_deref(), Some("demo"));
        assert_eq!(a.nodes, Some(3));
        assert_eq!(a.env, [("A".into(), "1".into()), ("B".into(), "2".into())]);
        assert!(a.no_wait);
        let spec = a.spec().unwrap();
        assert_eq!(spec.resources.pids, 64);
        assert_eq!(spec.subnet.as_deref(), Some("10.9.0.0/24"));
    }

    #[test]
    fn cluster_create_from_file_needs_no_name() {
        let cli = parse("cluster create -f spec.yaml").unwrap();
        let Command::Cluster(ClusterCommand::Create(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!(a.file.unwrap().to_str(), Some("spec.yaml"));
        assert_eq!(a.name, None);
    }

    #[test]
    fn output_and_server_are_global() {
        let cli = parse("cluster list -o json --server http://h:1").unwrap();
        assert_eq!(cli.opts.output, OutputFormat::Json);
        assert_eq!(cli.opts.server.as_deref(), Some("http://h:1"));
        let cli = parse("--output yaml image list").unwrap();
        assert_eq!(cli.opts.output, OutputFormat::Yaml);
        assert!(parse("-o csv image list").is_err());
    }

    #[test]
    fn cluster_verbs() {
        let cli = parse("cluster scale demo --nodes 5 --group worker").unwrap();
        let Command::Cluster(ClusterCommand::Scale(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!((a.nodes, a.group.as_deref()), (5, Some("worker")));
        assert!(parse("cluster scale demo").is_err());
        assert!(parse("cluster delete demo --async").is_ok());
        assert!(parse("cluster stop demo").is_ok());
        assert!(parse("cluster events demo").is_ok());
        assert!(parse("cluster show").is_err());
    }

    #[test]
    fn node_verbs() {
        let cli = parse("node save demo/node-0 --as snap").unwrap();
        let Command::Node(NodeCommand::Save(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!(a.as_image, "snap");
        assert_eq!(a.node.cluster, "demo");
        assert!(parse("node show demo").is_err());
        assert!(parse("node list demo").is_ok());
    }

    #[test]
    fn image_verbs() {
        let cli = parse("image import rootfs.tar --name foo").unwrap();
        let Command::Image(ImageCommand::Import(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!(a.name, "foo");
        assert!(parse("image import rootfs.tar").is_err());
        assert!(parse("image build debian --name deb").is_ok());
        assert!(parse("image share foo").is_ok());
    }

    #[test]
    fn user_and_login_password_sources_exclude_each_other() {
        let cli = parse("user create bob --admin --password-stdin").unwrap();
        let Command::User(UserCommand::Create(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert!(a.admin && a.password.password_stdin);
        assert!(parse("user create bob --password-stdin --password-file f").is_err());
        assert!(parse("login --user alice --password-file pw --server http://x:1").is_ok());
        assert!(parse("login").is_err());
        assert!(parse("user add-key bob --key-file k.pub").is_ok());
    }

    #[test]
    fn ssh_passes_arguments_after_double_dash() {
        let cli = parse("ssh demo/node-0 -- -v hostname").unwrap();
        let Command::Ssh(a) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!(a.args, ["-v", "hostname"]);
    }

    #[test]
    fn list_verbs_take_filters_and_pages() {
        let cli = parse("cluster list --state running --prefix web --limit 5 --after 6162").unwrap();
        let Command::Cluster(ClusterCommand::List(a)) = cli.cmd else {
            panic!("wrong command");
        };
        assert_eq!(
            (a.state.as_deref(), a.prefix.as_deref()),
            (Some("running"), Some("web"))
        );
        assert_eq!((a.page.limit, a.page.after.as_deref()), (Some(5), Some("6162")));
        assert!(parse("node list demo --group worker --state pending --host h1").is_ok());
        assert!(parse("host list --state ready --label site=a,gpu").is_ok());
        assert!(parse("operation list --status running --target clusters/demo --kind cluster.create").is_ok());
        assert!(parse("event list --kind node.running --target clusters/demo --since 10 --limit 20").is_ok());
        assert!(parse("image list --limit 2").is_ok());
        assert!(parse("user list --after 61").is_ok());
        assert!(parse("event list --since yesterday").is_err());
        assert!(parse("cluster list --limit many").is_err());
    }

    #[test]
    fn operation_and_whoami() {
        assert!(parse("operation wait op-1").is_ok());
        assert!(parse("operation list").is_ok());
        assert!(parse("whoami").is_ok());
        assert!(parse("event list").is_ok());
    }
}
