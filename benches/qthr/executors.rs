//! The executors measured, all behind [`Exec`]: qthr through its C ABI
//! ([`Qthr`]), and the peers it is compared with: (a) the PyKX pattern, (b) a
//! mutex + condvar queue, (c) std mpsc, (d) a mutex-protected direct call.

use crate::job::{c_job, engine_job};

use qthr::ffi::*;
use std::collections::{LinkedList, VecDeque};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;

pub(crate) trait Exec: Send + Sync {
    fn call(&self, x: usize) -> usize;
}

/// qthr through its C ABI.
pub(crate) struct Qthr(pub(crate) *mut qthr_runtime);
// SAFETY: qthr runtimes are designed to be shared between threads.
unsafe impl Send for Qthr {}
// SAFETY: as above.
unsafe impl Sync for Qthr {}

impl Qthr {
    pub(crate) fn new() -> Qthr {
        Qthr::on_cpu(-1)
    }

    /// A runtime whose worker is pinned to `cpu` (-1: not pinned).
    pub(crate) fn on_cpu(cpu: i32) -> Qthr {
        let mut cfg = std::mem::MaybeUninit::<qthr_config>::uninit();
        let mut rt = std::ptr::null_mut();
        // SAFETY: qthr_config_init_sized fills the whole struct; valid out-pointer.
        unsafe {
            qthr_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<qthr_config>());
            let mut cfg = cfg.assume_init();
            cfg.cpu = cpu;
            assert_eq!(qthr_init(&cfg, &mut rt), qthr_status::QTHR_OK);
        }
        Qthr(rt)
    }

    pub(crate) fn submit_wait(&self, x: usize) -> usize {
        let mut f = std::ptr::null_mut();
        let mut r = std::ptr::null_mut();
        // SAFETY: live runtime, valid job and out-pointers; f freed once.
        unsafe {
            assert_eq!(
                qthr_submit(self.0, Some(c_job), x as *mut c_void, &mut f),
                qthr_status::QTHR_OK
            );
            assert_eq!(qthr_wait(f, -1, &mut r), qthr_status::QTHR_OK);
            qthr_future_free(f);
        }
        r as usize
    }

    /// Submits `n` jobs in one batch and waits for all of them.
    pub(crate) fn batch(&self, n: usize, futs: &mut [*mut qthr_future]) {
        let fns = [Some(c_job as unsafe extern "C" fn(*mut c_void) -> *mut c_void); 64];
        let args = [1usize as *mut c_void; 64];
        // SAFETY: n <= 64 entries; live runtime; futures freed once.
        unsafe {
            assert_eq!(
                qthr_submit_batch(self.0, n, fns.as_ptr(), args.as_ptr(), futs.as_mut_ptr()),
                qthr_status::QTHR_OK
            );
            for f in &futs[..n] {
                assert_eq!(
                    qthr_wait(*f, -1, std::ptr::null_mut()),
                    qthr_status::QTHR_OK
                );
                qthr_future_free(*f);
            }
        }
    }
}

impl Exec for Qthr {
    fn call(&self, x: usize) -> usize {
        let mut r = std::ptr::null_mut();
        // SAFETY: live runtime, valid job and out-pointer.
        assert_eq!(
            unsafe { qthr_call(self.0, Some(c_job), x as *mut c_void, &mut r) },
            qthr_status::QTHR_OK
        );
        r as usize
    }
}

impl Drop for Qthr {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe { qthr_free(self.0) };
    }
}

/// (a) PyKX's `_tcore.c` pattern: a linked list under one mutex; the worker
/// waits on a condvar and keeps the mutex locked while the job runs; the caller
/// loops lock / signal / unlock until its done flag is set.
pub(crate) struct PyKx {
    inner: Arc<PyKxInner>,
    worker: Option<thread::JoinHandle<()>>,
}
struct PyKxReq {
    x: usize,
    result: AtomicUsize,
    done: AtomicBool,
}
struct PyKxInner {
    queue: Mutex<LinkedList<Arc<PyKxReq>>>,
    cv: Condvar,
    stop: AtomicBool,
}

impl PyKx {
    pub(crate) fn new() -> PyKx {
        let inner = Arc::new(PyKxInner {
            queue: Mutex::new(LinkedList::new()),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let i2 = inner.clone();
        let worker = thread::spawn(move || {
            let mut q = i2.queue.lock().unwrap();
            loop {
                while let Some(req) = q.pop_front() {
                    // The job runs with the queue mutex held, as in PyKX.
                    req.result.store(engine_job(req.x), Ordering::Relaxed);
                    req.done.store(true, Ordering::Release);
                }
                if i2.stop.load(Ordering::Relaxed) {
                    return;
                }
                q = i2.cv.wait(q).unwrap();
            }
        });
        PyKx {
            inner,
            worker: Some(worker),
        }
    }
}

impl Exec for PyKx {
    fn call(&self, x: usize) -> usize {
        let req = Arc::new(PyKxReq {
            x,
            result: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        });
        self.inner.queue.lock().unwrap().push_back(req.clone());
        self.inner.cv.notify_one();
        while !req.done.load(Ordering::Acquire) {
            let g = self.inner.queue.lock().unwrap();
            self.inner.cv.notify_one();
            drop(g);
        }
        req.result.load(Ordering::Relaxed)
    }
}

impl Drop for PyKx {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        {
            let _g = self.inner.queue.lock().unwrap();
            self.inner.cv.notify_all();
        }
        self.worker.take().unwrap().join().unwrap();
    }
}

/// (b) A mutex + condvar queue, with a condvar per call for the reply.
pub(crate) struct CondvarExec {
    inner: Arc<CvInner>,
    worker: Option<thread::JoinHandle<()>>,
}
struct CvReq {
    x: usize,
    reply: Mutex<Option<usize>>,
    cv: Condvar,
}
struct CvInner {
    queue: Mutex<(VecDeque<Arc<CvReq>>, bool)>,
    cv: Condvar,
}

impl CondvarExec {
    pub(crate) fn new() -> CondvarExec {
        let inner = Arc::new(CvInner {
            queue: Mutex::new((VecDeque::new(), false)),
            cv: Condvar::new(),
        });
        let i2 = inner.clone();
        let worker = thread::spawn(move || loop {
            let req = {
                let mut q = i2.queue.lock().unwrap();
                loop {
                    if let Some(r) = q.0.pop_front() {
                        break r;
                    }
                    if q.1 {
                        return;
                    }
                    q = i2.cv.wait(q).unwrap();
                }
            };
            *req.reply.lock().unwrap() = Some(engine_job(req.x));
            req.cv.notify_one();
        });
        CondvarExec {
            inner,
            worker: Some(worker),
        }
    }
}

impl Exec for CondvarExec {
    fn call(&self, x: usize) -> usize {
        let req = Arc::new(CvReq {
            x,
            reply: Mutex::new(None),
            cv: Condvar::new(),
        });
        self.inner.queue.lock().unwrap().0.push_back(req.clone());
        self.inner.cv.notify_one();
        let mut r = req.reply.lock().unwrap();
        loop {
            if let Some(v) = *r {
                return v;
            }
            r = req.cv.wait(r).unwrap();
        }
    }
}

impl Drop for CondvarExec {
    fn drop(&mut self) {
        self.inner.queue.lock().unwrap().1 = true;
        self.inner.cv.notify_all();
        self.worker.take().unwrap().join().unwrap();
    }
}

/// (c) std mpsc with a reply channel per call.
type Request = (usize, mpsc::Sender<usize>);

pub(crate) struct MpscExec {
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl MpscExec {
    pub(crate) fn new() -> MpscExec {
        let (tx, rx) = mpsc::channel::<Request>();
        let worker = thread::spawn(move || {
            for (x, reply) in rx {
                let _ = reply.send(engine_job(x));
            }
        });
        MpscExec {
            tx: Mutex::new(Some(tx)),
            worker: Some(worker),
        }
    }
}

impl Exec for MpscExec {
    fn call(&self, x: usize) -> usize {
        let (rtx, rrx) = mpsc::channel();
        let tx = self.tx.lock().unwrap().as_ref().unwrap().clone();
        tx.send((x, rtx)).unwrap();
        rrx.recv().unwrap()
    }
}

impl Drop for MpscExec {
    fn drop(&mut self) {
        self.tx.lock().unwrap().take();
        self.worker.take().unwrap().join().unwrap();
    }
}

/// (d) A mutex-protected direct call on the caller's thread: NOT thread-affine
/// (an engine bound to one thread cannot be used like this). A reference ceiling.
pub(crate) struct MutexDirect(pub(crate) Mutex<()>);

impl Exec for MutexDirect {
    fn call(&self, x: usize) -> usize {
        let _g = self.0.lock().unwrap();
        engine_job(x)
    }
}
