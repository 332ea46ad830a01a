//! The report: every figure's samples over the rounds, printed as a table (best
//! round and median) and as JSON lines.

/// Every figure is measured in several interleaved rounds; the table reports
/// the best round (the one least disturbed by whatever else the shared machine
/// was doing) and the median.
pub(crate) struct Row {
    bench: String,
    callers: usize,
    samples: Vec<f64>,
}

impl Row {
    fn best(&self) -> f64 {
        self.samples.iter().cloned().fold(f64::NAN, f64::max)
    }
    fn median(&self) -> f64 {
        let mut v = self.samples.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }
}

pub(crate) struct Report {
    pub(crate) rows: Vec<Row>,
}

impl Report {
    pub(crate) fn add(&mut self, bench: &str, callers: usize, ops: f64) {
        match self
            .rows
            .iter_mut()
            .find(|r| r.bench == bench && r.callers == callers)
        {
            Some(r) => r.samples.push(ops),
            None => self.rows.push(Row {
                bench: bench.to_owned(),
                callers,
                samples: vec![ops],
            }),
        }
    }
    pub(crate) fn get(&self, bench: &str, callers: usize) -> f64 {
        self.rows
            .iter()
            .find(|r| r.bench == bench && r.callers == callers)
            .map_or(f64::NAN, Row::best)
    }
    pub(crate) fn print(&self) {
        println!(
            "{:<22} {:>3} {:>12} {:>12} {:>12}",
            "benchmark", "thr", "ns/op (best)", "ops/s best", "ops/s median"
        );
        for r in &self.rows {
            let (best, median) = (r.best(), r.median());
            let ns = 1e9 / best * r.callers as f64;
            println!(
                "{:<22} {:>3} {:>12.0} {:>12.0} {:>12.0}",
                r.bench, r.callers, ns, best, median
            );
        }
        for r in &self.rows {
            let (best, median) = (r.best(), r.median());
            let ns = 1e9 / best * r.callers as f64;
            println!(
                "{{\"bench\":\"{}\",\"callers\":{},\"ops_per_s\":{best:.0},\"ops_per_s_median\":{median:.0},\"ns_per_op\":{ns:.1},\"rounds\":{}}}",
                r.bench,
                r.callers,
                r.samples.len()
            );
        }
    }
}
