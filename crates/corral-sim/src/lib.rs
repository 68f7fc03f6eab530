//! `corral sim`: replays workloads through Corral's real placement, elasticity and
//! power code (crate `corral-policy`) with simulated hosts and a simulated clock, and
//! reports energy, powered host-hours, job waits and power cycles against baselines.

pub mod batch;
pub mod engine;
pub mod experiment;
pub mod ideal;
pub mod report;
pub mod swf;

use std::path::PathBuf;

use corral_policy::energy::PowerModel;

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The trace could not be read.
    #[error(transparent)]
    Trace(#[from] swf::SwfError),
    /// The trace has no job to replay.
    #[error("the trace has no job to replay")]
    Empty,
    /// The options do not fit together.
    #[error("{0}")]
    Options(String),
}

/// Which question `corral sim` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Question {
    /// How close to ideal is the power management?
    #[value(name = "1")]
    One,
    /// What does sharing one pool buy?
    #[value(name = "2")]
    Two,
    /// Both.
    All,
}

/// `corral sim` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Standard Workload Format trace to replay
    #[arg(long, default_value = "../shared/data/traces/KTH-SP2-1996-2.swf")]
    pub trace: PathBuf,
    /// Which question: 1 (power management vs ideal), 2 (shared pool vs dedicated), all
    #[arg(long, value_enum, default_value_t = Question::All)]
    pub question: Question,
    /// Replay only the first N jobs (0: all)
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Run only the default policy, not the whole policy table
    #[arg(long)]
    pub default_only: bool,
    /// Cpus per host
    #[arg(long, default_value_t = 32)]
    pub host_cpus: u32,
    /// Memory per host, GiB
    #[arg(long, default_value_t = 128)]
    pub host_memory_gib: u64,
    /// Cpus per node (a node of the traced machine)
    #[arg(long, default_value_t = 8)]
    pub node_cpus: u32,
    /// Memory per node, GiB
    #[arg(long, default_value_t = 32)]
    pub node_memory_gib: u64,
    /// Host draw when idle, watts
    #[arg(long, default_value_t = 100.0)]
    pub idle_watts: f64,
    /// Host draw at full cpu use, watts
    #[arg(long, default_value_t = 200.0)]
    pub peak_watts: f64,
    /// Seconds a host takes to boot, at peak draw
    #[arg(long, default_value_t = 120.0)]
    pub boot_seconds: f64,
    /// Peak cpu demand of the web service in question 2
    #[arg(long, default_value_t = 160.0)]
    pub web_peak_cpus: f64,
}

impl SimArgs {
    /// The setup these options describe, with the trace read.
    pub fn setup(&self) -> Result<experiment::Setup, SimError> {
        if self.node_cpus == 0 || self.node_cpus > self.host_cpus || self.node_memory_gib > self.host_memory_gib {
            return Err(SimError::Options("a node must fit on a host".into()));
        }
        let mut trace = swf::read(&self.trace)?;
        if self.jobs > 0 {
            trace.jobs.truncate(self.jobs);
        }
        if trace.jobs.is_empty() {
            return Err(SimError::Empty);
        }
        Ok(experiment::Setup {
            trace,
            host_cpus: self.host_cpus,
            host_memory_gib: self.host_memory_gib,
            node_cpus: self.node_cpus,
            node_memory_gib: self.node_memory_gib,
            model: PowerModel {
                idle_watts: self.idle_watts,
                peak_watts: self.peak_watts,
                boot_seconds: self.boot_seconds,
                ..PowerModel::default()
            },
            web_peak_cpus: self.web_peak_cpus,
            tz: chrono_tz::Europe::Stockholm,
        })
    }
}

/// Runs what the options ask and returns the report.
pub fn run(args: &SimArgs) -> Result<String, SimError> {
    let one = args.question != Question::Two;
    let two = args.question != Question::One;
    let setup = args.setup()?;
    let mut policies = experiment::Policy::table();
    if args.default_only {
        policies.truncate(1);
    }
    let mut out = format!(
        "Trace {}: {} jobs ({} dropped: no processors or run time), {} nodes; hosts of {} cpus / {} GiB, nodes of {} cpus / {} GiB; {} W idle, {} W peak, boot {} s.\n\n",
        args.trace.display(),
        setup.trace.jobs.len(),
        setup.trace.dropped,
        setup.trace.max_nodes.map_or("?".to_string(), |n| n.to_string()),
        args.host_cpus,
        args.host_memory_gib,
        args.node_cpus,
        args.node_memory_gib,
        args.idle_watts,
        args.peak_watts,
        args.boot_seconds
    );
    if one {
        out.push_str(&report::question1(&setup.question1(&policies)));
        out.push('\n');
    }
    if two {
        for mix in [experiment::Mix::Shifted, experiment::Mix::SplitByUser] {
            out.push_str(&report::question2(&setup.question2(mix, &policies)));
            out.push('\n');
        }
    }
    Ok(out)
}
