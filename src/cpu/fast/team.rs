// One responsibility past 500 lines: the team ~370 of them, its unit tests the rest.
//! A fixed team of threads that run one job together, with spinning barriers between its phases.
//!
//! A training step on a small batch is a dozen short phases (gather, each layer's GEMM, the
//! loss, each layer's gradients), each worth tens of microseconds. Handing each phase to a thread
//! pool that puts idle workers to sleep costs a wake-up per phase, which is as long as the phase
//! itself. A team instead starts every member on the same job and lets them meet at barriers
//! that spin: a hand-over between phases costs well under a microsecond. Between jobs a member
//! spins briefly, then yields, then parks, so an idle team costs nothing.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle, Thread};

/// Busy-wait rounds (tens of microseconds) before a waiting member starts yielding its core.
const SPINS: u32 = 1 << 11;
/// Yields before a waiting member parks.
const YIELDS: u32 = 1 << 4;

type Job = *const (dyn Fn(&Member) + Sync);

struct Shared {
    threads: usize,
    /// Bumped to start a job; the job pointer is written before and read after it.
    epoch: AtomicUsize,
    job: UnsafeCell<Option<Job>>,
    /// Workers (members other than the caller) still inside the current job.
    running: AtomicUsize,
    /// Arrivals at the current barrier, and the barrier's generation.
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// A member's job panicked: the others leave their barriers instead of waiting forever.
    panicked: AtomicBool,
    quit: AtomicBool,
    /// Per worker: parked (or about to park) waiting for a job, and its handle to unpark it.
    sleeping: Vec<AtomicBool>,
    handles: Vec<std::sync::OnceLock<Thread>>,
    /// Per member: parked (or about to park) in a barrier.
    parked: Vec<AtomicBool>,
    /// The thread running member 0 (the caller of the current `run`).
    caller: std::sync::Mutex<Option<Thread>>,
}

impl Shared {
    /// Unparks every member that parked in the barrier just ended (or in a job that panicked).
    fn wake_barrier_sleepers(&self) {
        for (index, parked) in self.parked.iter().enumerate() {
            if parked.load(Ordering::SeqCst) {
                let thread = if index == 0 {
                    self.caller
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone()
                } else {
                    self.handles[index - 1].get().cloned()
                };
                if let Some(t) = thread {
                    t.unpark();
                }
            }
        }
    }
}

// SAFETY: `job` is written only by the thread that owns the `Team` (inside `run`, which takes
// `&mut self`) while no worker reads it: workers read it only after the epoch store that
// publishes it, and `run` waits for every worker to finish before it returns or writes again.
unsafe impl Sync for Shared {}
// SAFETY: as above; the job itself is `Sync`, so running it from any thread is sound.
unsafe impl Send for Shared {}

/// One member's view of the job it runs: its index (0 is the thread that called `run`) and
/// the barrier.
pub struct Member<'a> {
    pub index: usize,
    shared: &'a Shared,
}

impl Member<'_> {
    /// Waits until every member of the team has arrived. Every member must call it the same
    /// number of times in a job. A member that waits long (another member's thread is not
    /// running: more threads than free cores) stops spinning and parks, so it does not take
    /// the core from the member it waits for.
    pub fn barrier(&self) {
        let s = self.shared;
        if s.threads == 1 {
            return;
        }
        let generation = s.generation.load(Ordering::SeqCst);
        if s.arrived.fetch_add(1, Ordering::AcqRel) + 1 == s.threads {
            s.arrived.store(0, Ordering::Relaxed);
            s.generation.fetch_add(1, Ordering::SeqCst);
            s.wake_barrier_sleepers();
            return;
        }
        let mut rounds = 0u32;
        while s.generation.load(Ordering::SeqCst) == generation {
            if s.panicked.load(Ordering::SeqCst) {
                panic!("another member of the CPU team panicked");
            }
            if rounds < SPINS + YIELDS {
                wait_round(&mut rounds);
            } else {
                // As for jobs (see `work`): whoever ends the barrier bumps the generation and
                // then reads the flag; this sets the flag and then reads the generation.
                s.parked[self.index].store(true, Ordering::SeqCst);
                if s.generation.load(Ordering::SeqCst) == generation
                    && !s.panicked.load(Ordering::SeqCst)
                {
                    thread::park();
                }
                s.parked[self.index].store(false, Ordering::SeqCst);
            }
        }
    }
}

/// Spins, then yields: one round of waiting for another member.
fn wait_round(rounds: &mut u32) {
    if *rounds < SPINS {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
    *rounds = rounds.saturating_add(1);
}

/// A team of `threads` members: the caller of `run` and `threads - 1` workers.
pub struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Team {
    /// Starts `threads - 1` workers (none for a team of one).
    pub fn new(threads: usize) -> std::io::Result<Team> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            threads,
            epoch: AtomicUsize::new(0),
            job: UnsafeCell::new(None),
            running: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            quit: AtomicBool::new(false),
            sleeping: (1..threads).map(|_| AtomicBool::new(false)).collect(),
            handles: (1..threads).map(|_| std::sync::OnceLock::new()).collect(),
            parked: (0..threads).map(|_| AtomicBool::new(false)).collect(),
            caller: std::sync::Mutex::new(None),
        });
        let mut team = Team {
            shared: shared.clone(),
            workers: Vec::new(),
        };
        for index in 1..threads {
            let mine = shared.clone();
            // On failure `team` is dropped, which stops the workers already started.
            let handle = thread::Builder::new()
                .name(format!("wgtrain-cpu-{index}"))
                .spawn(move || work(&mine, index))?;
            let _ = shared.handles[index - 1].set(handle.thread().clone());
            team.workers.push(handle);
        }
        Ok(team)
    }

    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// Runs `job` on every member at once and returns when all have finished. A panic in any
    /// member is raised again here, after every member has left the job.
    pub fn run(&mut self, job: &(dyn Fn(&Member) + Sync)) {
        let s = &*self.shared;
        if s.threads > 1 {
            *s.caller.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread::current());
            // SAFETY: the erased lifetime is not outlived: every worker has finished with the
            // pointer before this function returns (the wait on `running` below).
            let erased: Job = unsafe { std::mem::transmute::<&(dyn Fn(&Member) + Sync), Job>(job) };
            // SAFETY: no worker reads `job` until the epoch store below (see `Shared`).
            unsafe { *s.job.get() = Some(erased) };
            s.running.store(s.threads - 1, Ordering::Relaxed);
            s.epoch.fetch_add(1, Ordering::SeqCst);
            for (sleeping, handle) in s.sleeping.iter().zip(&s.handles) {
                if sleeping.load(Ordering::SeqCst)
                    && let Some(h) = handle.get()
                {
                    h.unpark();
                }
            }
        }
        let me = Member {
            index: 0,
            shared: s,
        };
        let mine = catch_unwind(AssertUnwindSafe(|| job(&me)));
        if mine.is_err() {
            s.panicked.store(true, Ordering::SeqCst);
            s.wake_barrier_sleepers();
        }
        let mut rounds = 0u32;
        while s.running.load(Ordering::Acquire) != 0 {
            wait_round(&mut rounds);
        }
        // SAFETY: every worker has left the job.
        unsafe { *s.job.get() = None };
        if s.panicked.swap(false, Ordering::SeqCst) {
            s.arrived.store(0, Ordering::Relaxed);
            match mine {
                Err(e) => resume_unwind(e),
                Ok(()) => panic!("a member of the CPU team panicked"),
            }
        }
    }
}

/// A worker's life: wait for a new epoch, run the job, report, repeat.
fn work(s: &Shared, index: usize) {
    // A worker runs nothing but training phases: it flushes subnormals for its whole life.
    let _flush = super::flush::Flush::on();
    let mut seen = 0;
    loop {
        let mut rounds = 0u32;
        loop {
            let epoch = s.epoch.load(Ordering::Acquire);
            if epoch != seen {
                seen = epoch;
                break;
            }
            if s.quit.load(Ordering::Acquire) {
                return;
            }
            if rounds < SPINS + YIELDS {
                wait_round(&mut rounds);
            } else {
                // Park, unless a job arrived meanwhile: `run` stores the epoch before it reads
                // `sleeping`, this reads the epoch after storing `sleeping` (both SeqCst), so
                // one of the two sees the other. A stale unpark only ends a park early.
                s.sleeping[index - 1].store(true, Ordering::SeqCst);
                if s.epoch.load(Ordering::SeqCst) == seen && !s.quit.load(Ordering::SeqCst) {
                    thread::park();
                }
                s.sleeping[index - 1].store(false, Ordering::SeqCst);
            }
        }
        // SAFETY: published before the epoch this worker just saw, and kept alive until
        // `running` drops to zero.
        let job = unsafe { (*s.job.get()).expect("a job with its epoch") };
        let me = Member { index, shared: s };
        // SAFETY: see above: the job outlives this call.
        if catch_unwind(AssertUnwindSafe(|| unsafe { (*job)(&me) })).is_err() {
            s.panicked.store(true, Ordering::SeqCst);
            s.wake_barrier_sleepers();
        }
        s.running.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.quit.store(true, Ordering::SeqCst);
        for handle in self.shared.handles.iter().filter_map(|h| h.get()) {
            handle.unpark();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Chooses, step by step, between running a shared step on the team and running all its parts
/// on the calling thread, from the wall time of full steps. The team is the default. When other
/// programs hold the cores, a member waits for one whose thread is not running, at every
/// barrier, and a shared step can take many times longer than one thread alone would: after
/// several slow steps the steps run alone for a while, then the team is tried again, and kept
/// if it beats the time alone. Both ways compute exactly the same thing, so the choice changes
/// speed only.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// The fastest team step since the team was last chosen.
    best_team: f64,
    /// Which of the last 16 team steps were slow (a bit each, newest lowest).
    slow: u16,
    /// Steps left to run alone before trying the team again, and that span's length.
    alone_left: u64,
    period: u64,
    /// Recent step times alone, and team steps timed in a trial.
    alone: Vec<f64>,
    trial: Vec<f64>,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            best_team: f64::INFINITY,
            slow: 0,
            alone_left: 0,
            period: Pacing::FIRST_PERIOD,
            alone: Vec::new(),
            trial: Vec::new(),
        }
    }
}

impl Pacing {
    /// A team step slower than this multiple of the best one counts as slow (a team of two
    /// is at most twice as fast as one thread, so such a step was slower than one thread).
    const SLOW: f64 = 2.0;
    /// Slow steps among the last 16 that send the steps to one thread.
    const SLOW_STEPS: u32 = 4;
    const FIRST_PERIOD: u64 = 64;
    const LAST_PERIOD: u64 = 4096;
    /// Team steps timed when the team is tried again.
    const TRIAL: usize = 4;

    /// Whether the next step should run on the team.
    pub fn use_team(&mut self) -> bool {
        if self.alone_left > 0 {
            self.alone_left -= 1;
            return false;
        }
        true
    }

    /// Records how long a full step took, and on what.
    pub fn record(&mut self, team: bool, seconds: f64) {
        if !team {
            self.alone.push(seconds);
            if self.alone.len() > 8 {
                self.alone.remove(0);
            }
            return;
        }
        if !self.alone.is_empty() && self.slow == 0 && self.best_team.is_infinite() {
            // On trial after a span alone: keep the team if it beats one thread.
            self.trial.push(seconds);
            if self.trial.len() < Pacing::TRIAL {
                return;
            }
            let (team, alone) = (median(&mut self.trial), median(&mut self.alone.clone()));
            self.trial.clear();
            if team < alone {
                self.period = Pacing::FIRST_PERIOD;
                self.alone.clear();
                self.best_team = team;
            } else {
                self.period = (self.period * 2).min(Pacing::LAST_PERIOD);
                self.alone_left = self.period;
            }
            return;
        }
        self.best_team = self.best_team.min(seconds);
        let slow = seconds > Pacing::SLOW * self.best_team;
        self.slow = (self.slow << 1) | slow as u16;
        if self.slow.count_ones() >= Pacing::SLOW_STEPS {
            self.slow = 0;
            self.best_team = f64::INFINITY;
            self.alone_left = self.period;
        }
    }

    #[cfg(test)]
    fn alone(&self) -> bool {
        self.alone_left > 0
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_member_runs_each_job_once_and_barriers_order_phases() {
        let mut team = Team::new(3).unwrap();
        for round in 0..200 {
            let cells: Vec<AtomicUsize> = (0..30).map(|_| AtomicUsize::new(0)).collect();
            let sums = Mutex::new(Vec::new());
            team.run(&|m: &Member| {
                let (lo, hi) = (m.index * 10, m.index * 10 + 10);
                for c in &cells[lo..hi] {
                    c.fetch_add(round + 1, Ordering::Relaxed);
                }
                m.barrier();
                // After the barrier every cell is written, whoever wrote it.
                let total: usize = cells.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                sums.lock().unwrap().push((m.index, total));
                m.barrier();
            });
            let mut sums = sums.into_inner().unwrap();
            sums.sort();
            assert_eq!(
                sums,
                (0..3).map(|i| (i, 30 * (round + 1))).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn parked_workers_wake_for_the_next_job() {
        let mut team = Team::new(2).unwrap();
        let count = AtomicUsize::new(0);
        team.run(&|_: &Member| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        // Long enough for the worker to give up spinning and yielding and park.
        thread::sleep(std::time::Duration::from_millis(300));
        team.run(&|_: &Member| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_member_parked_in_a_barrier_wakes_when_the_last_arrives() {
        let mut team = Team::new(3).unwrap();
        let order = Mutex::new(Vec::new());
        team.run(&|m: &Member| {
            if m.index == 2 {
                // Long enough for the others to stop spinning and park.
                thread::sleep(std::time::Duration::from_millis(100));
            }
            order.lock().unwrap().push(("before", m.index));
            m.barrier();
            order.lock().unwrap().push(("after", m.index));
        });
        let order = order.into_inner().unwrap();
        assert_eq!(order.len(), 6);
        assert!(order[..3].iter().all(|e| e.0 == "before"), "{order:?}");
        assert_eq!(order[2], ("before", 2));
    }

    #[test]
    fn a_panicking_member_is_reported_and_the_team_still_works() {
        let mut team = Team::new(2).unwrap();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            team.run(&|m: &Member| {
                if m.index == 1 {
                    panic!("boom");
                }
                // The caller would wait here forever if the panic did not release it.
                m.barrier();
            })
        }));
        assert!(caught.is_err());
        let count = AtomicUsize::new(0);
        team.run(&|m: &Member| {
            m.barrier();
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }

    /// Feeds `n` steps taking `team` seconds on the team and `alone` seconds alone; returns
    /// how many ran on the team.
    fn feed(s: &mut Pacing, n: usize, team: f64, alone: f64) -> usize {
        let mut on_team = 0;
        for _ in 0..n {
            let t = s.use_team();
            on_team += t as usize;
            s.record(t, if t { team } else { alone });
        }
        on_team
    }

    #[test]
    fn the_schedule_keeps_the_team_while_it_is_fast_and_noise_is_rare() {
        let mut s = Pacing::default();
        assert_eq!(feed(&mut s, 1000, 1.0, 1.8), 1000);
        // Three slow steps in sixteen are noise, not contention.
        for _ in 0..3 {
            feed(&mut s, 1, 5.0, 1.8);
            feed(&mut s, 4, 1.0, 1.8);
        }
        assert!(!s.alone());
        assert_eq!(feed(&mut s, 100, 1.0, 1.8), 100);
    }

    #[test]
    fn the_schedule_runs_alone_while_the_team_is_slower_and_returns_when_it_is_not() {
        let mut s = Pacing::default();
        feed(&mut s, 50, 1.0, 1.8);
        // Contention: team steps take 10, one thread 2.
        let on_team = feed(&mut s, 5000, 10.0, 2.0);
        // Four slow steps to notice, then trials of four, each after a span alone that doubles.
        assert!(on_team < 4 + 4 * 8, "{on_team} of 5000 steps on the team");
        assert!(s.alone());
        // The contention ends: within the longest span plus a trial the team is back.
        feed(
            &mut s,
            (Pacing::LAST_PERIOD as usize) + Pacing::TRIAL,
            1.0,
            1.8,
        );
        assert!(!s.alone());
        assert_eq!(feed(&mut s, 100, 1.0, 1.8), 100);
    }

    #[test]
    fn a_team_of_one_runs_on_the_caller() {
        let mut team = Team::new(1).unwrap();
        let caller = thread::current().id();
        team.run(&|m: &Member| {
            assert_eq!(m.index, 0);
            assert_eq!(thread::current().id(), caller);
            m.barrier();
        });
    }
}
