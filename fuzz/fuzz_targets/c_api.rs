//! Fuzz target: random sequences of C API calls on up to two runtimes.
//!
//! The input is a little program: each op is one byte (which call) followed by
//! argument bytes. Calls: qthr_init with odd configs (bad sizes, capacities,
//! nonblocking values, CPUs, failing on_start), submit (plain, sleeping and
//! re-entrant and cross-runtime jobs: calls, submit + wait, and shutdown of the
//! other runtime from a worker), fire-and-forget, batches (with NULL entries too), waits
//! with random timeouts, cancel, then, future_free in any order, qthr_call,
//! stats, shutdown in either (or a bad) mode, free.
//!
//! Invariants checked (a violation aborts, which libFuzzer reports as a crash):
//! every status is one the contract allows for that call and state; results
//! are the job's own; a cancelled job never ran and a waited-OK job ran exactly
//! once; after a runtime's shutdown (or free) every one of its futures is
//! resolved at once; every continuation runs exactly once; on_stop runs exactly
//! once per started runtime and never for a failed start. Jobs are short and
//! waits bounded, so an input never blocks for long (only `wait(-1)` on a job
//! that is sure to finish).

#![no_main]

use libfuzzer_sys::fuzz_target;
use qthr::ffi::qthr_status::{self, *};
use qthr::ffi::*;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

const MAX_FUTURES: usize = 64;
const MAGIC: usize = 0x5a5a_0000;

/// One job's record (boxed: stable address, lives until the end of the input).
struct JobRec {
    tag: usize,
    /// Microseconds to sleep (0..=63).
    sleep_us: u64,
    /// Runtime pointer for re-entrant jobs (null: not re-entrant).
    rt: *mut qthr_runtime,
    /// The other runtime, for cross-runtime jobs (null: none), and what to do
    /// there: 0 qthr_call, 1 submit + wait, 2 qthr_shutdown (runtime 0 -> 1 only).
    target: *mut qthr_runtime,
    cross: u8,
    /// Queued (a submit or batch returned OK).
    accepted: AtomicU32,
    ran: AtomicU32,
    /// The job returned.
    done: AtomicU32,
}

unsafe extern "C" fn job(arg: *mut c_void) -> *mut c_void {
    // SAFETY: arg is a live JobRec (kept until the end of the input).
    let r = unsafe { &*(arg as *const JobRec) };
    r.ran.fetch_add(1, SeqCst);
    if r.sleep_us != 0 {
        std::thread::sleep(std::time::Duration::from_micros(r.sleep_us));
    }
    if !r.rt.is_null() {
        // Re-entrant: on the worker of r.rt, which is alive while its job runs.
        // SAFETY: as above.
        unsafe {
            let ow = qthr_on_worker(r.rt);
            if ow != 1 {
                eprintln!("qthr_on_worker: {ow}");
            }
            must(ow == 1, "re-entrant job off its worker");
            let mut x = ptr::null_mut();
            let st = qthr_call(r.rt, Some(ident), 7 as *mut c_void, &mut x);
            if !(st == QTHR_OK && x as usize == 7) {
                eprintln!("qthr_call on the worker: {st:?}, result {x:?}");
            }
            must(st == QTHR_OK && x as usize == 7, "qthr_call on the worker must run inline");
            let st = qthr_submit(r.rt, Some(ident), ptr::null_mut(), ptr::null_mut());
            // Own queue full: QUEUE_FULL; shutting down: SHUTDOWN.
            must(matches!(st, QTHR_OK | QTHR_QUEUE_FULL | QTHR_SHUTDOWN), "submit from the worker");
            let st = qthr_shutdown(r.rt, QTHR_DRAIN);
            if st != QTHR_WOULD_DEADLOCK {
                eprintln!("qthr_shutdown on the worker: {st:?}");
            }
            must(st == QTHR_WOULD_DEADLOCK, "shutdown on the worker");
        }
    }
    if !r.target.is_null() {
        // Cross-runtime: the harness keeps the target alive until this job is
        // done (see State::quiesce_callers_of).
        // SAFETY: as above.
        unsafe { cross(r) };
    }
    r.done.store(1, SeqCst);
    (r.tag ^ MAGIC) as *mut c_void
}

unsafe fn cross(r: &JobRec) {
    // SAFETY (whole body): the target runtime is alive while this job runs.
    unsafe {
        match r.cross {
            0 => {
                let mut x = ptr::null_mut();
                let st = qthr_call(r.target, Some(ident), 11 as *mut c_void, &mut x);
                must(
                    matches!(st, QTHR_OK | QTHR_SHUTDOWN | QTHR_QUEUE_FULL | QTHR_CANCELLED),
                    "cross-runtime call status",
                );
                must(st != QTHR_OK || x as usize == 11, "cross-runtime call result");
            }
            1 => {
                let mut f: *mut qthr_future = ptr::null_mut();
                let st = qthr_submit(r.target, Some(ident), 12 as *mut c_void, &mut f);
                must(matches!(st, QTHR_OK | QTHR_SHUTDOWN | QTHR_QUEUE_FULL), "cross-runtime submit");
                if st == QTHR_OK {
                    let mut x = ptr::null_mut();
                    let st = qthr_wait(f, -1, &mut x);
                    must(matches!(st, QTHR_OK | QTHR_CANCELLED), "cross-runtime wait");
                    must(st != QTHR_OK || x as usize == 12, "cross-runtime wait result");
                    qthr_future_free(f);
                }
            }
            _ => {
                let st = qthr_shutdown(r.target, QTHR_DRAIN);
                must(st == QTHR_OK, "shutdown of another runtime from a worker");
            }
        }
    }
}

unsafe extern "C" fn ident(arg: *mut c_void) -> *mut c_void {
    arg
}

/// A continuation's own counter (boxed, lives until the end of the input).
unsafe extern "C" fn then_cb(ctx: *mut c_void, st: qthr_status, _r: *mut c_void) {
    must(
        matches!(st, QTHR_OK | QTHR_CANCELLED | QTHR_EXPIRED),
        "continuation status",
    );
    // SAFETY: ctx is a live AtomicU32.
    unsafe { &*(ctx as *const AtomicU32) }.fetch_add(1, SeqCst);
}

unsafe extern "C" fn on_start(ctx: *mut c_void) -> i32 {
    // SAFETY: ctx is a live Hooks.
    let h = unsafe { &*(ctx as *const Hooks) };
    h.starts.fetch_add(1, SeqCst);
    h.start_rc
}

unsafe extern "C" fn on_stop(ctx: *mut c_void) {
    // SAFETY: ctx is a live Hooks.
    unsafe { &*(ctx as *const Hooks) }.stops.fetch_add(1, SeqCst);
}

struct Hooks {
    start_rc: i32,
    starts: AtomicU32,
    stops: AtomicU32,
    /// The runtime started (on_stop must then run exactly once).
    started: bool,
}

fn must(cond: bool, what: &str) {
    if !cond {
        eprintln!("INVARIANT VIOLATED: {what}");
        std::process::abort();
    }
}

struct Fut {
    f: *mut qthr_future,
    rt: usize,
    job: *const JobRec,
}

struct State {
    rts: [*mut qthr_runtime; 2],
    /// The main thread's qthr_shutdown of that runtime returned OK (quiescent).
    stopped: [bool; 2],
    futs: Vec<Fut>,
    jobs: Vec<Box<JobRec>>,
    thens: Vec<Box<AtomicU32>>,
    hooks: Vec<Box<Hooks>>,
    next_tag: usize,
}

/// Reads argument bytes (0 when the input ran out).
struct Input<'a>(&'a [u8]);
impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
}

impl State {
    fn new_job(&mut self, inp: &mut Input, rt: usize) -> *const JobRec {
        let b = inp.byte();
        let tag = self.next_tag;
        self.next_tag += 1;
        let other = self.rts[1 - rt];
        let (target, cross) = if b & 0x0c == 0x0c && !other.is_null() {
            // Shutdowns only from runtime 0 to runtime 1 (two workers shutting
            // each other down is covered by tests/reliability_faults/).
            match b & 3 {
                2 if rt == 0 => (other, 2),
                1 => (other, 1),
                _ => (other, 0),
            }
        } else {
            (ptr::null_mut(), 0)
        };
        let rec = Box::new(JobRec {
            tag,
            sleep_us: if b & 0xc0 == 0xc0 { (b & 0x3f) as u64 } else { 0 },
            rt: if b & 0x30 == 0x30 { self.rts[rt] } else { ptr::null_mut() },
            target,
            cross,
            accepted: AtomicU32::new(0),
            ran: AtomicU32::new(0),
            done: AtomicU32::new(0),
        });
        let p = &*rec as *const JobRec;
        self.jobs.push(rec);
        p
    }

    fn init(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        if !self.rts[k].is_null() {
            return;
        }
        let (a, b, c) = (inp.byte(), inp.byte(), inp.byte());
        let mut cfg = std::mem::MaybeUninit::<qthr_config>::uninit();
        // SAFETY: qthr_config_init_sized writes every field.
        let mut cfg = unsafe {
            qthr_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<qthr_config>());
            cfg.assume_init()
        };
        let mut valid = true;
        let mut start_fails = false;
        cfg.queue_capacity = match a % 8 {
            0 => {
                valid = false;
                0
            }
            1 => {
                valid = false;
                (1 << 24) + 1
            }
            n => n as usize - 1, // 1..=6
        };
        cfg.nonblocking = match b % 4 {
            3 => {
                valid = false;
                2
            }
            n => (n & 1) as i32,
        };
        cfg.cpu = match c % 8 {
            0 => {
                valid = false;
                -5
            }
            1 => 0,
            2 => {
                start_fails = true;
                1023 // no such CPU here: pinning fails
            }
            _ => -1,
        };
        if b & 0x10 != 0 {
            valid = false;
            cfg.size = if b & 0x20 != 0 { 0 } else { cfg.size + 8 };
        }
        let start_rc = if c & 0x80 != 0 { 1 } else { 0 };
        if start_rc != 0 {
            start_fails = true;
        }
        let hooks = Box::new(Hooks {
            start_rc,
            starts: AtomicU32::new(0),
            stops: AtomicU32::new(0),
            started: false,
        });
        cfg.on_start = Some(on_start);
        cfg.on_stop = Some(on_stop);
        cfg.hook_ctx = &*hooks as *const Hooks as *mut c_void;
        let mut rt = ptr::null_mut();
        // SAFETY: valid pointers.
        let st = unsafe { qthr_init(&cfg, &mut rt) };
        let mut hooks = hooks;
        if !valid {
            must(st == QTHR_INVALID_ARGUMENT, "bad config must be INVALID_ARGUMENT");
        } else if start_fails {
            must(st == QTHR_START_FAILED, "failing start must be START_FAILED");
        } else {
            must(st == QTHR_OK, "valid config must start");
        }
        if st == QTHR_OK {
            must(!rt.is_null(), "init OK without a runtime");
            self.rts[k] = rt;
            self.stopped[k] = false;
            hooks.started = true;
        } else {
            must(rt.is_null(), "init wrote *out on failure");
        }
        self.hooks.push(hooks);
    }

    fn submit(&mut self, inp: &mut Input, with_future: bool) {
        let k = (inp.byte() & 1) as usize;
        let rt = self.rts[k];
        if rt.is_null() || (with_future && self.futs.len() >= MAX_FUTURES) {
            return;
        }
        let j = self.new_job(inp, k);
        let mut f: *mut qthr_future = ptr::null_mut();
        let out = if with_future { &mut f as *mut _ } else { ptr::null_mut() };
        // SAFETY: live runtime; the job record lives until the end.
        let st = unsafe { qthr_submit(rt, Some(job), j as *mut c_void, out) };
        must(matches!(st, QTHR_OK | QTHR_SHUTDOWN | QTHR_QUEUE_FULL), "submit status");
        if st == QTHR_OK {
            // SAFETY: live record.
            unsafe { &*j }.accepted.store(1, SeqCst);
        }
        if st == QTHR_OK && with_future {
            must(!f.is_null(), "submit OK without a future");
            self.futs.push(Fut { f, rt: k, job: j });
        } else {
            must(f.is_null(), "submit wrote *out on failure");
        }
    }

    fn batch(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        let b = inp.byte();
        let rt = self.rts[k];
        if rt.is_null() {
            return;
        }
        let n = (b % 5) as usize;
        let with = b & 0x10 != 0 && self.futs.len() + n <= MAX_FUTURES;
        let null_at = if b & 0x20 != 0 && n > 0 { Some((b >> 6) as usize % n) } else { None };
        let mut fns: Vec<qthr_fn> = Vec::new();
        let mut args = Vec::new();
        let mut recs = Vec::new();
        for i in 0..n {
            let j = self.new_job(inp, k);
            recs.push(j);
            fns.push(if Some(i) == null_at { None } else { Some(job) });
            args.push(j as *mut c_void);
        }
        let mut outs = vec![ptr::null_mut::<qthr_future>(); n];
        // SAFETY: n entries each; live runtime.
        let st = unsafe {
            qthr_submit_batch(
                rt,
                n,
                if n == 0 { ptr::null() } else { fns.as_ptr() },
                args.as_ptr(),
                if with { outs.as_mut_ptr() } else { ptr::null_mut() },
            )
        };
        if n == 0 {
            must(st == QTHR_OK, "empty batch is a no-op");
        } else if null_at.is_some() {
            must(st == QTHR_INVALID_ARGUMENT, "a NULL entry rejects the batch");
        } else {
            must(
                matches!(st, QTHR_OK | QTHR_SHUTDOWN | QTHR_QUEUE_FULL | QTHR_INVALID_ARGUMENT),
                "batch status",
            );
        }
        if st == QTHR_OK {
            for &j in &recs {
                // SAFETY: live record.
                unsafe { &*j }.accepted.store(1, SeqCst);
            }
        }
        if st == QTHR_OK && with {
            for (i, f) in outs.into_iter().enumerate() {
                must(!f.is_null(), "batch OK without futures");
                self.futs.push(Fut { f, rt: k, job: recs[i] });
            }
        } else {
            must(outs.iter().all(|f| f.is_null()), "batch wrote outs on failure");
        }
    }

    fn pick(&self, inp: &mut Input) -> Option<usize> {
        let b = inp.byte() as usize;
        (!self.futs.is_empty()).then(|| b % self.futs.len())
    }

    fn check_resolved(&self, i: usize, st: qthr_status, r: *mut c_void) {
        // SAFETY: job records live until the end.
        let j = unsafe { &*self.futs[i].job };
        match st {
            QTHR_OK => {
                must(r as usize == j.tag ^ MAGIC, "result is not the job's own");
                must(j.ran.load(SeqCst) == 1, "OK but the job did not run exactly once");
            }
            QTHR_CANCELLED => must(j.ran.load(SeqCst) == 0, "CANCELLED but the job ran"),
            QTHR_EXPIRED => must(j.ran.load(SeqCst) == 0, "EXPIRED but the job ran"),
            _ => must(false, "a resolved future must be OK, CANCELLED or EXPIRED"),
        }
    }

    fn wait(&mut self, inp: &mut Input) {
        let Some(i) = self.pick(inp) else { return };
        let t = match inp.byte() % 4 {
            0 => 0,
            1 => 1_000,
            2 => 100_000,
            _ => -1, // jobs are short and every runtime keeps running or is shut down
        };
        let mut r = ptr::null_mut();
        // SAFETY: live future.
        let st = unsafe { qthr_wait(self.futs[i].f, t, &mut r) };
        if st == QTHR_TIMEOUT {
            must(t >= 0, "an untimed wait timed out");
            return;
        }
        self.check_resolved(i, st, r);
    }

    fn cancel(&mut self, inp: &mut Input) {
        let Some(i) = self.pick(inp) else { return };
        // SAFETY: live future.
        let st = unsafe { qthr_cancel(self.futs[i].f) };
        must(matches!(st, QTHR_OK | QTHR_NOT_CANCELLABLE), "cancel status");
        if st == QTHR_OK {
            // SAFETY: live future.
            let st2 = unsafe { qthr_wait(self.futs[i].f, 0, ptr::null_mut()) };
            must(st2 == QTHR_CANCELLED, "cancelled future must wait CANCELLED at once");
        }
    }

    /// qthr_submit_ex with odd options: bad sizes and priorities, deadlines of
    /// 0, 1 us (expires behind any other job), 1 ms, urgent or not.
    fn submit_ex(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        let b = inp.byte();
        let rt = self.rts[k];
        if rt.is_null() || self.futs.len() >= MAX_FUTURES {
            return;
        }
        let j = self.new_job(inp, k);
        let opts = qthr_submit_opts {
            size: if b & 0x80 != 0 { (b & 0x1f) as usize } else { std::mem::size_of::<qthr_submit_opts>() },
            deadline_ns: match (b >> 2) & 3 {
                0 => 0,
                1 => 1_000,
                2 => 1_000_000,
                _ => -1,
            },
            priority: (b & 3) as u32 % 3, // 0, 1, or the invalid 2
        };
        let valid = opts.size == std::mem::size_of::<qthr_submit_opts>()
            && opts.deadline_ns >= 0
            && opts.priority <= 1;
        let mut f: *mut qthr_future = ptr::null_mut();
        // SAFETY: live runtime and options; the job record lives until the end.
        let st = unsafe { qthr_submit_ex(rt, Some(job), j as *mut c_void, &opts, &mut f) };
        if !valid {
            must(st == QTHR_INVALID_ARGUMENT, "bad options must be INVALID_ARGUMENT");
        } else {
            must(matches!(st, QTHR_OK | QTHR_SHUTDOWN | QTHR_QUEUE_FULL), "submit_ex status");
        }
        if st == QTHR_OK {
            // SAFETY: live record.
            unsafe { &*j }.accepted.store(1, SeqCst);
            must(!f.is_null(), "submit_ex OK without a future");
            self.futs.push(Fut { f, rt: k, job: j });
        } else {
            must(f.is_null(), "submit_ex wrote *out on failure");
        }
    }

    /// qthr_interrupt: withdraws a queued job; a running one has no hook here.
    fn interrupt(&mut self, inp: &mut Input) {
        let Some(i) = self.pick(inp) else { return };
        // SAFETY: live future.
        let st = unsafe { qthr_interrupt(self.futs[i].f) };
        must(matches!(st, QTHR_OK | QTHR_NOT_CANCELLABLE), "interrupt status");
        if st == QTHR_OK {
            // SAFETY: live future.
            let st2 = unsafe { qthr_wait(self.futs[i].f, 0, ptr::null_mut()) };
            must(st2 == QTHR_CANCELLED, "interrupted queued future must wait CANCELLED at once");
        }
    }

    fn then(&mut self, inp: &mut Input) {
        let Some(i) = self.pick(inp) else { return };
        let c = Box::new(AtomicU32::new(0));
        // SAFETY: live future; the counter lives until the end.
        let st = unsafe { qthr_future_then(self.futs[i].f, Some(then_cb), &*c as *const AtomicU32 as *mut c_void) };
        must(st == QTHR_OK, "then status");
        self.thens.push(c);
    }

    fn free_future(&mut self, inp: &mut Input) {
        let Some(i) = self.pick(inp) else { return };
        let f = self.futs.swap_remove(i);
        // SAFETY: live future, freed once.
        unsafe { qthr_future_free(f.f) };
    }

    fn call(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        let rt = self.rts[k];
        if rt.is_null() {
            return;
        }
        let j = self.new_job(inp, k);
        let mut r = ptr::null_mut();
        // SAFETY: live runtime.
        let st = unsafe { qthr_call(rt, Some(job), j as *mut c_void, &mut r) };
        must(matches!(st, QTHR_OK | QTHR_SHUTDOWN | QTHR_QUEUE_FULL | QTHR_CANCELLED), "call status");
        // SAFETY: live record.
        let j = unsafe { &*j };
        if st == QTHR_OK {
            must(r as usize == j.tag ^ MAGIC && j.ran.load(SeqCst) == 1, "call result");
        } else {
            must(j.ran.load(SeqCst) == 0, "a refused/cancelled call ran");
        }
    }

    /// After a runtime stopped, every future of it is resolved at once.
    fn all_resolved(&self, k: usize) {
        for i in 0..self.futs.len() {
            if self.futs[i].rt == k {
                let mut r = ptr::null_mut();
                // SAFETY: live future.
                let st = unsafe { qthr_wait(self.futs[i].f, 0, &mut r) };
                self.check_resolved(i, st, r);
            }
        }
    }

    fn shutdown(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        let mode = (inp.byte() % 3) as u32;
        let rt = self.rts[k];
        if rt.is_null() {
            return;
        }
        // SAFETY: live runtime.
        let st = unsafe { qthr_shutdown(rt, mode) };
        if mode > 1 {
            must(st == QTHR_INVALID_ARGUMENT, "bad mode");
            return;
        }
        must(st == QTHR_OK, "shutdown status");
        self.stopped[k] = true;
        self.all_resolved(k);
        // SAFETY: live runtime, shut down.
        let st = unsafe { qthr_submit(rt, Some(ident), ptr::null_mut(), ptr::null_mut()) };
        must(st == QTHR_SHUTDOWN, "submit after shutdown");
    }

    /// Before runtime k is freed: jobs of the other runtime that may still call
    /// into k (queued or running cross-runtime jobs) must be finished, so the
    /// other runtime is shut down (DRAIN: they all run or were cancelled).
    fn quiesce_callers_of(&mut self, k: usize) {
        let rt = self.rts[k];
        let pending = self.jobs.iter().any(|j| {
            j.target == rt && j.accepted.load(SeqCst) == 1 && j.done.load(SeqCst) == 0
        });
        let other = self.rts[1 - k];
        if pending && !other.is_null() {
            // SAFETY: live runtime.
            must(unsafe { qthr_shutdown(other, QTHR_DRAIN) } == QTHR_OK, "shutdown status");
            self.stopped[1 - k] = true;
            self.all_resolved(1 - k);
        }
    }

    fn free_rt(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        self.free_k(k);
    }

    fn free_k(&mut self, k: usize) {
        if self.rts[k].is_null() {
            return;
        }
        self.quiesce_callers_of(k);
        let rt = std::mem::replace(&mut self.rts[k], ptr::null_mut());
        if rt.is_null() {
            return;
        }
        // Re-entrant jobs queued for it hold its pointer: they run (drained)
        // before it is freed, and no new job can name it afterwards.
        // SAFETY: live runtime, freed once.
        unsafe { qthr_free(rt) };
        self.all_resolved(k);
        // Forget which runtime these futures belonged to: a new runtime may
        // take slot k.
        for f in &mut self.futs {
            if f.rt == k {
                f.rt = 2;
            }
        }
    }

    fn stats(&mut self, inp: &mut Input) {
        let k = (inp.byte() & 1) as usize;
        let rt = self.rts[k];
        let mut s = qthr_stats {
            size: std::mem::size_of::<qthr_stats>(),
            submitted: 0,
            completed: 0,
            cancelled: 0,
            queue_len: 0,
            queue_high_water: 0,
            expired: 0,
        };
        // SAFETY: rt live or NULL.
        let st = unsafe { qthr_get_stats(rt, &mut s) };
        if rt.is_null() {
            must(st == QTHR_INVALID_ARGUMENT, "stats(NULL)");
        } else {
            must(st == QTHR_OK, "stats status");
            // Exact only when quiescent (documented): while jobs flow the fields
            // are read one by one.
            if self.stopped[k] {
                must(s.completed + s.cancelled == s.submitted, "stats after shutdown: submitted");
                must(s.queue_len == 0, "stats after shutdown: queue_len");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let mut s = State {
        rts: [ptr::null_mut(); 2],
        stopped: [false; 2],
        futs: Vec::new(),
        jobs: Vec::new(),
        thens: Vec::new(),
        hooks: Vec::new(),
        next_tag: 1,
    };
    let mut ops = 0;
    while !inp.0.is_empty() && ops < 256 {
        ops += 1;
        match inp.byte() % 15 {
            0 => s.init(&mut inp),
            1 | 2 => s.submit(&mut inp, true),
            3 => s.submit(&mut inp, false),
            4 => s.batch(&mut inp),
            5 => s.wait(&mut inp),
            6 => s.cancel(&mut inp),
            7 => s.then(&mut inp),
            8 => s.free_future(&mut inp),
            9 => s.call(&mut inp),
            10 => s.shutdown(&mut inp),
            11 => s.free_rt(&mut inp),
            12 => s.stats(&mut inp),
            13 => s.submit_ex(&mut inp),
            _ => s.interrupt(&mut inp),
        }
    }
    // Tear down: free the runtimes (DRAIN), then everything must be resolved,
    // every continuation must have run exactly once, on_stop once per start.
    for k in 0..2 {
        s.free_k(k);
    }
    for i in 0..s.futs.len() {
        let mut r = ptr::null_mut();
        // SAFETY: live future.
        let st = unsafe { qthr_wait(s.futs[i].f, 0, &mut r) };
        s.check_resolved(i, st, r);
    }
    for f in s.futs.drain(..) {
        // SAFETY: live future, freed once.
        unsafe { qthr_future_free(f.f) };
    }
    for c in &s.thens {
        must(c.load(SeqCst) == 1, "a continuation did not run exactly once");
    }
    for j in &s.jobs {
        must(j.ran.load(SeqCst) <= 1, "a job ran twice");
    }
    for h in &s.hooks {
        let want = if h.started { 1 } else { 0 };
        must(h.stops.load(SeqCst) == want, "on_stop must run once per started runtime");
        must(h.starts.load(SeqCst) <= 1, "on_start ran twice");
    }
});
