//! `describe`: scan (live or `--from`), find one finding, and print it whole with what `fix`
//! would do about it.

use harvester_hygiene::finding::{Confidence, Finding, fingerprint};
use harvester_hygiene::remedy::{self, ActionKind};
use harvester_hygiene::report::describe::{self as view, Description, FixVerdict};
use harvester_hygiene::report::{ExitStatus, Format, Printer};
use harvester_hygiene::rules;
use harvester_hygiene::scan::{gather, judge};

use super::DescribeArgs;

fn is_fingerprint(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What `fix` would do about `f`, from the planner itself.
fn verdict(f: &Finding, inv: &harvester_hygiene::inventory::Inventory) -> FixVerdict {
    if !remedy::fixable(&f.rule) {
        return FixVerdict::No {
            reason: "`fix` does not change what this rule finds: follow the remediation above.".into(),
        };
    }
    let actions = remedy::plan(std::slice::from_ref(f), inv);
    match actions.into_iter().next() {
        Some(a) => match &a.action {
            ActionKind::Manual { reason } => FixVerdict::No {
                reason: format!("`fix` plans it as manual and leaves it: {reason}"),
            },
            action => FixVerdict::Yes {
                description: a.description.clone(),
                action: serde_json::to_value(action).unwrap_or_default(),
            },
        },
        None if f.confidence == Confidence::Possible => FixVerdict::No {
            reason: "`fix` never acts on a `possible` finding: settle what the message says is unknown first.".into(),
        },
        None => FixVerdict::No {
            reason: "`fix` plans nothing for it: it lacks the facts the fix needs (for import-openstack-leak, \
                     the OpenStack listing of --openstack)."
                .into(),
        },
    }
}

/// What `describe` looks for: a rule and an object, or a fingerprint.
struct Target {
    rule: Option<String>,
    key: Option<String>,
    fingerprint: String,
}

impl Target {
    /// From the arguments; a usage error is printed and returned as its exit status.
    fn parse(args: &DescribeArgs, p: &mut Printer) -> Result<Target, ExitStatus> {
        let (rule, key) = match (&args.object, is_fingerprint(&args.target)) {
            (None, true) => (None, None),
            (Some(obj), _) => (Some(args.target.clone()), Some(obj.clone())),
            (None, false) => {
                p.error(&format!(
                    "describe takes RULE NAMESPACE/NAME or a fingerprint (16 hex digits); {:?} is neither",
                    args.target
                ));
                return Err(ExitStatus::Usage);
            }
        };
        if let Some(r) = &rule
            && rules::find(r).is_none()
        {
            p.error(&format!(
                "unknown rule {r:?}; known rules: {}",
                rules::REGISTRY.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
            ));
            return Err(ExitStatus::Usage);
        }
        Ok(Target {
            rule,
            key,
            fingerprint: args.target.clone(),
        })
    }

    fn wants(&self, f: &Finding) -> bool {
        match (&self.rule, &self.key) {
            (Some(r), Some(k)) => {
                &f.rule == r && (f.object.key() == *k || (f.object.namespace.is_none() && &f.object.name == k))
            }
            _ => fingerprint(f) == self.fingerprint,
        }
    }

    /// Nothing matched: say why (exempted, or what there is instead) and the exit status.
    fn not_found(&self, report: &harvester_hygiene::report::Report, p: &mut Printer) -> ExitStatus {
        if let Some(ex) = report.exempted.iter().find(|e| self.wants(&e.finding)) {
            p.error(&format!(
                "that finding is exempted by the object's harvester-hygiene.io/ignore annotation: {}",
                ex.reason
            ));
            return ExitStatus::Findings;
        }
        let what = match (&self.rule, &self.key) {
            (Some(r), Some(k)) => format!("no {r} finding for {k}"),
            _ => format!("no finding with fingerprint {}", self.fingerprint),
        };
        let others: Vec<String> = report
            .findings
            .iter()
            .filter(|f| self.rule.as_ref().is_none_or(|r| &f.rule == r))
            .take(5)
            .map(|f| format!("{} {}", f.rule, f.object.key()))
            .collect();
        let hint = if others.is_empty() {
            String::new()
        } else {
            format!("; findings there are: {}", others.join(", "))
        };
        p.error(&format!("{what} in this scan{hint}"));
        if report.summary.incomplete {
            p.error("the scan could not read every kind the rule needs (see `scan`)");
            return ExitStatus::Incomplete;
        }
        ExitStatus::Findings
    }
}

pub fn run(args: DescribeArgs) -> ExitStatus {
    let mut p = Printer::stdio(args.view.color);
    let target = match Target::parse(&args, &mut p) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut common = args.common;
    if let Some(r) = &target.rule
        && common.rules.is_empty()
    {
        // Only the rule asked about: less to read, less RBAC needed.
        common.rules = vec![r.clone()];
    }
    let limits = args.limits.limits();
    let opts = match super::scan_options(common, args.from, limits, &mut p) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let rt = match super::runtime(&mut p) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let g = match rt.block_on(gather(&opts)) {
        Ok(g) => g,
        Err(e) => {
            p.error(&e.to_string());
            return super::error_code(&e);
        }
    };
    let now = harvester_hygiene::scan::clock(&opts, &g.inv);
    let report = judge(&g.inv, &g.rules, &opts.config, now, g.source.clone());
    let found: Vec<&Finding> = report.findings.iter().filter(|f| target.wants(f)).collect();
    if found.is_empty() {
        return target.not_found(&report, &mut p);
    }
    let descriptions: Vec<Description> = found
        .into_iter()
        .map(|f| {
            let run = report.rules.iter().find(|r| r.id == f.rule).cloned();
            Description::new(f.clone(), run, verdict(f, &g.inv))
        })
        .collect();
    print(&descriptions, args.output, &mut p)
}

/// The descriptions as JSON, YAML or text; a write error other than a closed pipe is exit 2.
fn print(descriptions: &[Description], output: Format, p: &mut Printer) -> ExitStatus {
    let result = match output {
        Format::Json => serde_json::to_string_pretty(&one_or_many(descriptions))
            .map(|t| p.line(&t))
            .map_err(|e| e.to_string()),
        Format::Yaml => serde_saphyr::to_string(&one_or_many(descriptions))
            .map(|t| {
                let _ = p.out().write_all(t.as_bytes());
            })
            .map_err(|e| e.to_string()),
        _ => {
            let term = p.term;
            let mut r = Ok(());
            for (i, d) in descriptions.iter().enumerate() {
                if i > 0 {
                    p.line("");
                }
                if let Err(e) = view::render(d, term, p.out()) {
                    r = Err(e.to_string());
                }
            }
            r
        }
    };
    p.flush();
    if let Err(e) = result
        && !e.contains("Broken pipe")
    {
        p.error(&e);
        return ExitStatus::Usage;
    }
    ExitStatus::Ok
}

fn one_or_many(d: &[Description]) -> serde_json::Value {
    match d {
        [one] => serde_json::to_value(one).unwrap_or_default(),
        many => serde_json::to_value(many).unwrap_or_default(),
    }
}
