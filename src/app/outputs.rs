//! Where the driver's results go in `replay` and `run`: the worklog (written inline, before
//! the checkpoint that records its window closed), the window gauges, the GitHub stage (its
//! clusters pushed into the durable outbox at once; the stage syncs on its own task, since a
//! sync may wait minutes on rate limits and the driver must not), and the alert stage (new
//! clusters and escalations at once, every counted entry as activity, each closed window's
//! count and sample for live alerts, issue links from the GitHub stage's index).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::driver::{Event, Outputs};
use crate::escalate::Priority;
use crate::pipeline::{Outcome, Pipeline};
use crate::report::WindowReport;
use crate::sinks::alert::{AlertHandle, Annotation};
use crate::sinks::github::{self, Outbox, ProblemId};
use crate::sinks::worklog::{WorklogError, WorklogSink};
use crate::telemetry::metrics::installed;

/// Windows remembered for the summary a replay prints (the last day of hourly windows).
pub const BRIEFS_KEPT: usize = 24;

/// One closed window, in a line.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowBrief {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub entries: u64,
    pub clusters: usize,
    /// The first cluster of the report: (priority, readable template).
    pub top: Option<(Priority, String)>,
    /// Windows without entries just before this one (not written).
    pub silent_before: Option<crate::report::Silence>,
}

impl WindowBrief {
    fn of(r: &WindowReport) -> WindowBrief {
        WindowBrief {
            start: r.window.start,
            end: r.window.end,
            entries: r.totals.entries,
            clusters: r.clusters.len(),
            top: r
                .incidents
                .first()
                .map(|i| (i.priority, i.title.clone()))
                .into_iter()
                .chain(
                    r.clusters
                        .first()
                        .map(|c| (c.priority, crate::report::readable(&c.template))),
                )
                .min_by_key(|(p, _)| *p),
            silent_before: r.silent_before,
        }
    }
}

/// The GitHub stage's side of the window close: the outbox it syncs from, and the channel on
/// which it learns that a window closed (to record what it did in that window's worklog).
pub struct GithubHandoff {
    pub outbox: Outbox,
    pub min_priority: Priority,
    /// Held here; the GitHub task holds the receiver and ends when this is dropped.
    pub windows: mpsc::Sender<WindowReport>,
}

pub struct WindowOutputs<W> {
    pub worklog: W,
    pub github: Option<GithubHandoff>,
    pub alerts: Option<AlertHandle>,
    /// Files written (worklog markdown and JSON).
    pub written: Vec<PathBuf>,
    /// The last [`BRIEFS_KEPT`] windows closed.
    pub briefs: VecDeque<WindowBrief>,
    /// Entries read leniently, by reason (`json_repaired`, …), over every worklog written.
    pub field_warnings: BTreeMap<String, u64>,
}

impl<W: WorklogSink> WindowOutputs<W> {
    pub fn new(worklog: W) -> WindowOutputs<W> {
        WindowOutputs {
            worklog,
            github: None,
            alerts: None,
            written: Vec::new(),
            briefs: VecDeque::new(),
            field_warnings: BTreeMap::new(),
        }
    }

    async fn one(&mut self, r: WindowReport) -> Result<(), WorklogError> {
        self.written.extend(self.worklog.write(&r)?);
        if let Some(m) = installed() {
            m.record_window(&r);
        }
        if self.briefs.len() == BRIEFS_KEPT {
            self.briefs.pop_front();
        }
        self.briefs.push_back(WindowBrief::of(&r));
        for (reason, n) in &r.field_warnings {
            *self.field_warnings.entry(reason.clone()).or_default() += n;
        }
        if r.revision.is_none() {
            // A revision is of an earlier window: live alerts keep the newest window's count.
            self.annotate_alerts(&r);
        }
        self.resolve_retracted(&r);
        if let Some(g) = &self.github {
            if let Err(e) = g.outbox.push(github::pending(&r, g.min_priority)) {
                // The sync still gets the clusters through the channel's window below only
                // if the process lives; say loudly that they are not durable.
                tracing::error!(error = %e, "cannot write the GitHub outbox; this window's issues are not durable");
            }
            // Waits only when the GitHub stage is a queue's worth of windows behind.
            let _ = g.windows.send(r).await;
        }
        Ok(())
    }
}

impl<W> WindowOutputs<W> {
    /// The closed window's count and sample for clusters with a live alert, and (once) where
    /// the alert stage finds their issues: the GitHub stage's index, through the outbox.
    fn annotate_alerts(&self, r: &WindowReport) {
        let Some(alerts) = &self.alerts else { return };
        self.link_issues();
        for c in r.clusters.iter().filter(|c| alerts.watches(c.id)) {
            alerts.annotate(Annotation {
                cluster: c.id,
                count: Some(c.count),
                sample: c.sample.as_ref().map(|s| s.to_string()),
                issue_url: None,
            });
        }
    }

    /// A revision's clusters of which nothing is left (every entry was a traceback's part):
    /// their alerts were raised for nothing.
    fn resolve_retracted(&self, r: &WindowReport) {
        let (Some(alerts), Some(rev)) = (&self.alerts, &r.revision) else {
            return;
        };
        for x in rev.retracted.iter().filter(|x| x.gone) {
            if alerts.watches(x.cluster) {
                alerts.retracted(x.cluster);
            }
        }
    }

    fn link_issues(&self) {
        if let (Some(alerts), Some(g)) = (&self.alerts, &self.github) {
            let outbox = g.outbox.clone();
            alerts.set_issue_lookup_once(Arc::new(move |c| outbox.issue_url(&ProblemId::from(c))));
        }
    }
}

impl<W: WorklogSink> Outputs for WindowOutputs<W> {
    type Error = WorklogError;

    fn alert_state(&self) -> Option<crate::alerting::AlertSnapshot> {
        self.alerts.as_ref().map(AlertHandle::snapshot)
    }

    fn fire_held(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.alerts.as_ref().map(AlertHandle::fire_held)
    }

    fn alert_state_durable(&mut self, seq: u64) {
        if let Some(a) = &self.alerts {
            a.committed(seq);
        }
    }

    fn observed(
        &mut self,
        outcomes: &[Outcome],
        events: &[Event],
        pipeline: &Pipeline,
        now: DateTime<Utc>,
    ) {
        let metrics = installed();
        if metrics.is_none() && self.alerts.is_none() {
            return;
        }
        for o in outcomes {
            let Outcome::Counted(c) = o else { continue };
            if let Some(m) = metrics {
                m.observe_event_lag(c.at, now);
            }
            if let Some(a) = &self.alerts {
                a.observe(c.cluster, c.at);
                a.observe(c.fine, c.at);
            }
        }
        if let Some(alerts) = &self.alerts {
            if !events.is_empty() {
                self.link_issues();
            }
            for e in events {
                if let Some(mut a) = super::alerts::to_alert(e, pipeline) {
                    if let Event::NewCluster { .. } = e {
                        // The trailing hour up to and with its first entry. A crossing keeps
                        // the count that crossed (its hour ends at the cluster's newest entry,
                        // not at the crossing one, which may be late).
                        let through = a.at + chrono::TimeDelta::milliseconds(1);
                        a.count = Some(pipeline.count_last(a.cluster, through));
                    }
                    alerts.notify(a);
                }
            }
        }
    }

    async fn closed(&mut self, reports: Vec<WindowReport>) -> Result<(), WorklogError> {
        for r in reports {
            self.one(r).await?;
        }
        Ok(())
    }
}
