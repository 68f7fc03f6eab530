//! Standard Workload Format (Feitelson's Parallel Workloads Archive): one job per line,
//! 18 whitespace-separated fields, `;` lines are the header. Fields used: 1 job number,
//! 2 submit time, 4 run time, 5 allocated processors, 8 requested processors,
//! 9 requested time, 12 user (all seconds or counts, -1 when unknown).

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SwfError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not SWF.
    #[error("line {line}: {why}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// A job of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Job number.
    pub id: u64,
    /// Submit time, seconds from the trace's start.
    pub submit: u64,
    /// Run time, seconds.
    pub runtime: u64,
    /// Nodes it runs on (processors: one per node on the traced machine).
    pub nodes: u32,
    /// Run time the user asked for, seconds; the run time when the trace has none.
    pub requested: u64,
    /// User number, -1 when unknown.
    pub user: i64,
}

/// A parsed trace.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Jobs that can be replayed, by submit time.
    pub jobs: Vec<Job>,
    /// Jobs dropped: no processors or no run time (-1 or 0).
    pub dropped: usize,
    /// `MaxNodes` (else `MaxProcs`) from the header, if given.
    pub max_nodes: Option<u32>,
    /// `UnixStartTime` from the header, if given.
    pub unix_start: Option<i64>,
}

/// Reads an SWF file.
pub fn read(path: &std::path::Path) -> Result<Trace, SwfError> {
    let text = std::fs::read_to_string(path).map_err(|source| SwfError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Parses SWF text.
pub fn parse(text: &str) -> Result<Trace, SwfError> {
    let mut trace = Trace::default();
    let mut max_procs = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix(';') {
            if let Some((key, value)) = header.split_once(':') {
                let value = value.trim();
                match key.trim() {
                    "MaxNodes" => trace.max_nodes = value.parse().ok(),
                    "MaxProcs" => max_procs = value.parse().ok(),
                    "UnixStartTime" => trace.unix_start = value.parse().ok(),
                    _ => {}
                }
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let fields: Vec<i64> = line
            .split_whitespace()
            .map(|f| f.parse::<f64>().map(|v| v as i64))
            .collect::<Result<_, _>>()
            .map_err(|e| SwfError::Syntax {
                line: n + 1,
                why: format!("not a number: {e}"),
            })?;
        if fields.len() < 18 {
            return Err(SwfError::Syntax {
                line: n + 1,
                why: format!("{} fields, SWF has 18", fields.len()),
            });
        }
        let procs = if fields[4] > 0 { fields[4] } else { fields[7] };
        let (submit, runtime, requested) = (fields[1], fields[3], fields[8]);
        if procs <= 0 || runtime <= 0 || submit < 0 {
            trace.dropped += 1;
            continue;
        }
        trace.jobs.push(Job {
            id: fields[0].max(0) as u64,
            submit: submit as u64,
            runtime: runtime as u64,
            nodes: procs as u32,
            requested: if requested > 0 {
                requested as u64
            } else {
                runtime as u64
            },
            user: fields[11],
        });
    }
    trace.max_nodes = trace.max_nodes.or(max_procs);
    trace.jobs.sort_by_key(|j| (j.submit, j.id));
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jobs_and_header_and_drops_unusable_ones() {
        let text = "; Version: 2.2\n; MaxNodes: 100\n; UnixStartTime: 843480031\n;\n\
            1 0 10 100 4 -1 -1 4 200 -1 1 7 7 -1 -1 -1 -1 -1\n\
            2 5 3 50 -1 -1 -1 2 -1 -1 1 8 8 -1 -1 -1 -1 -1\n\
            3 6 0 -1 4 -1 -1 4 100 -1 0 9 9 -1 -1 -1 -1 -1\n\
            4 7 0 60 0 -1 -1 0 100 -1 0 9 9 -1 -1 -1 -1 -1\n\
            \n\
            5 3 0 0 2 -1 -1 2 100 -1 0 9 9 -1 -1 -1 -1 -1\n";
        let t = parse(text).unwrap();
        assert_eq!(t.max_nodes, Some(100));
        assert_eq!(t.unix_start, Some(843_480_031));
        assert_eq!(t.dropped, 3, "no run time, no processors, zero run time");
        let first = Job {
            id: 1,
            submit: 0,
            runtime: 100,
            nodes: 4,
            requested: 200,
            user: 7,
        };
        assert_eq!(t.jobs[0], first);
        // Requested processors stand in for allocated ones; run time for a missing request.
        assert_eq!((t.jobs[1].nodes, t.jobs[1].requested), (2, 50));
    }

    #[test]
    fn refuses_lines_that_are_not_swf() {
        assert!(matches!(parse("1 2 3\n"), Err(SwfError::Syntax { line: 1, .. })));
        assert!(parse("1 0 x 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n").is_err());
    }
}
