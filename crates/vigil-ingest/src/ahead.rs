//! How far ingest reads ahead: workers read, hash and parse files while the rows of
//! earlier ones are built, within a window of files and bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How far the workers may read ahead of the rows being built: a number of files and a
/// number of bytes in flight, so memory stays bounded whatever the input. The file whose
/// rows are due next is always let through, so a large file cannot stall the reading.
pub(crate) struct Window {
    state: std::sync::Mutex<WindowState>,
    changed: std::sync::Condvar,
    max_files: usize,
    max_bytes: u64,
}

#[derive(Default)]
struct WindowState {
    /// The next file to hand to a worker.
    next: usize,
    /// The file whose rows are due next.
    turn: usize,
    files: usize,
    bytes: u64,
    /// The sizes of files handed out and not yet done, by index.
    sizes: BTreeMap<usize, u64>,
    stopped: bool,
}

impl Window {
    pub(crate) fn new(workers: usize) -> Window {
        Window {
            state: std::sync::Mutex::new(WindowState::default()),
            changed: std::sync::Condvar::new(),
            // Many small files keep every worker busy; large ones are few at a time.
            max_files: 32 * workers,
            max_bytes: 32 * 1024 * 1024 * workers as u64,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next file for a worker to read, once there is room for it; `None` when every
    /// file is handed out or the reading stopped.
    pub(crate) fn take(&self, files: &[(PathBuf, bool)]) -> Option<usize> {
        let mut state = self.lock();
        let i = state.next;
        let (path, _) = files.get(i)?;
        state.next += 1;
        drop(state);
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let mut state = self.lock();
        while !state.stopped
            && i != state.turn
            && (state.files >= self.max_files || state.bytes + size > self.max_bytes)
        {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.stopped {
            return None;
        }
        state.files += 1;
        state.bytes += size;
        state.sizes.insert(i, size);
        Some(i)
    }

    /// The file whose rows are due next.
    pub(crate) fn turn(&self) -> usize {
        self.lock().turn
    }

    /// The rows of the file due have been built.
    pub(crate) fn done(&self) {
        let mut state = self.lock();
        let i = state.turn;
        if let Some(size) = state.sizes.remove(&i) {
            state.files -= 1;
            state.bytes -= size;
        }
        state.turn += 1;
        drop(state);
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// Stops the workers when the reading ends, however it ends.
pub(crate) struct StopOnDrop<'a>(pub(crate) &'a Window);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}
