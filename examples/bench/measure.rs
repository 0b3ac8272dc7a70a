//! Run a command as a child process under `/usr/bin/time` and keep its wall time, peak RSS
//! (`%M`, from wait4's rusage: for a shell script, the largest process it waited for) and output.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

pub struct Run {
    pub wall: f64,
    pub rss_mb: f64,
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

pub fn run(program: &Path, args: &[&str], envs: &[(&str, &str)], tmp: &Path) -> Result<Run, String> {
    let time_out = tmp.join("time.out");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&time_out)
        .arg(program)
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("run /usr/bin/time {}: {e}", program.display()))?;
    let wall = start.elapsed().as_secs_f64();
    let timing = std::fs::read_to_string(&time_out).unwrap_or_default();
    // The last line is "%e %M" (a line before it may say "Command exited with non-zero status").
    let rss_kb: f64 = timing
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("no timing from /usr/bin/time: {timing:?}"))?;
    Ok(Run {
        wall,
        rss_mb: rss_kb / 1024.0,
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
