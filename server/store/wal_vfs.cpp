// NAME
//   wal_vfs.cpp - the WAL write-coalescing VFS (see wal_vfs.h).
// CONTRACT
//   Every call goes to the wrapped default VFS unchanged, except writes to a WAL file, which follow these
//   rules (they rely on how SQLite writes a WAL; see sqlite3WalFrames in SQLite's wal.c):
//   - An append (a write that starts where the previous write to this file ended) is gathered; anything
//     else is written through, after the gathered bytes.
//   - A 24-byte frame header whose commit field (bytes 4-7) is non-zero marks a commit, whether it was
//     gathered or written through (it is written through when another connection appended to the WAL
//     since this one last wrote): the next append (that frame's page) is gathered and then everything is
//     written before returning. Checksum rewrites of earlier frames are never appends, so they are always
//     written through; a stale mark they leave only makes the next append flush early.
//   - Any other operation on the file writes the gathered bytes first.
//   - Nothing is gathered on a device without SQLITE_IOCAP_POWERSAFE_OVERWRITE, because SQLite then pads
//     commits to a sector boundary and may split a page write around a sync.
//   A failed write of the gathered bytes is reported by the call that triggered it; the bytes are
//   dropped, and SQLite rolls the transaction back as after any failed write.
#include "store/wal_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

namespace mailjar::store::internal {
namespace {

// Larger transactions are written in pieces of at most this size: the unix VFS writes at most 128 KiB - 1
// bytes per call (seekAndWriteFd masks the length with 0x1ffff) and reports anything longer as a full disk.
constexpr std::size_t kGatherCap = 124 * 1024;
constexpr int kFrameHeader = 24;

sqlite3_vfs* g_real = nullptr;
std::atomic<unsigned long long> g_gathered_commits{0};
sqlite3_vfs g_vfs;

struct Gather {
  std::string bytes;          // bytes not yet written, starting at `offset`
  sqlite3_int64 offset = 0;
  sqlite3_int64 end = -1;     // where the previous write to this file ended (-1: none yet)
  bool commit_pending = false;
};

struct File {
  sqlite3_file base;
  sqlite3_file* real;  // the wrapped file, stored right after this struct
  Gather* gather;      // null unless this is a WAL file that gathers
};

File* as_file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* real_of(sqlite3_file* f) { return as_file(f)->real; }

int flush(File* file) {
  Gather* g = file->gather;
  if (!g || g->bytes.empty()) return SQLITE_OK;
  const int rc = file->real->pMethods->xWrite(file->real, g->bytes.data(), static_cast<int>(g->bytes.size()),
                                              g->offset);
  g->bytes.clear();
  g->commit_pending = false;
  return rc;
}

int x_close(sqlite3_file* f) {
  File* file = as_file(f);
  const int flushed = flush(file);
  delete file->gather;
  file->gather = nullptr;
  const int rc = file->real->pMethods ? file->real->pMethods->xClose(file->real) : SQLITE_OK;
  return flushed != SQLITE_OK ? flushed : rc;
}

int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xRead(real_of(f), buf, amt, off);
}

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  File* file = as_file(f);
  Gather* g = file->gather;
  if (!g) return file->real->pMethods->xWrite(file->real, buf, amt, off);
  const auto* p = static_cast<const unsigned char*>(buf);
  const bool commit_header = amt == kFrameHeader && (p[4] | p[5] | p[6] | p[7]) != 0;
  const bool append = off == g->end;
  g->end = off + amt;
  if (!append || static_cast<std::size_t>(amt) > kGatherCap) {
    if (int rc = flush(file); rc != SQLITE_OK) return rc;
    const int rc = file->real->pMethods->xWrite(file->real, buf, amt, off);
    // A commit header written through still needs its page (the next append) flushed at once.
    g->commit_pending = commit_header;
    return rc;
  }
  if (g->bytes.size() + static_cast<std::size_t>(amt) > kGatherCap) {
    const bool pending = g->commit_pending;
    if (int rc = flush(file); rc != SQLITE_OK) return rc;
    g->commit_pending = pending;
  }
  if (g->bytes.empty()) g->offset = off;
  g->bytes.append(static_cast<const char*>(buf), static_cast<std::size_t>(amt));
  if (g->commit_pending) {  // this is the page of a commit frame: the transaction is complete
    g_gathered_commits.fetch_add(1, std::memory_order_relaxed);
    return flush(file);
  }
  g->commit_pending = commit_header;
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  if (Gather* g = as_file(f)->gather) g->end = -1;
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

int x_lock(sqlite3_file* f, int level) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xLock(real_of(f), level);
}

int x_unlock(sqlite3_file* f, int level) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

int x_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

int x_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }

int x_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xShmMap(real_of(f), region, size, extend, out);
}

int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

void x_shm_barrier(sqlite3_file* f) {
  flush(as_file(f));
  real_of(f)->pMethods->xShmBarrier(real_of(f));
}

int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
  if (int rc = flush(as_file(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xFetch(real_of(f), off, amt, out);
}

int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

// Version 3 of the methods; x_open only wraps files whose own methods are version 3 or later.
const sqlite3_io_methods kMethods3 = {
    3,          x_close,    x_read,          x_write,      x_truncate,    x_sync,
    x_file_size, x_lock,    x_unlock,        x_check_reserved, x_file_control, x_sector_size,
    x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  File* file = as_file(f);
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  file->gather = nullptr;
  std::memset(file->real, 0, static_cast<std::size_t>(g_real->szOsFile));
  const int rc = g_real->xOpen(g_real, name, file->real, flags, out_flags);
  if (!file->real->pMethods) {
    file->base.pMethods = nullptr;
    return rc == SQLITE_OK ? SQLITE_CANTOPEN : rc;
  }
  if (file->real->pMethods->iVersion < 3) {
    // Not the unix VFS this was written for: refuse rather than claim methods the file lacks.
    file->real->pMethods->xClose(file->real);
    file->base.pMethods = nullptr;
    return SQLITE_CANTOPEN;
  }
  file->base.pMethods = &kMethods3;
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) &&
      (file->real->pMethods->xDeviceCharacteristics(file->real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE)) {
    file->gather = new Gather();
  }
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void x_dl_error(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_real->xDlSym(g_real, handle, symbol);
}
void x_dl_close(sqlite3_vfs*, void* handle) { g_real->xDlClose(g_real, handle); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int x_sleep(sqlite3_vfs*, int micros) { return g_real->xSleep(g_real, micros); }
int x_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  if (g_real->iVersion >= 2 && g_real->xCurrentTimeInt64) return g_real->xCurrentTimeInt64(g_real, out);
  double days = 0;
  const int rc = g_real->xCurrentTime(g_real, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

}  // namespace

unsigned long long wal_gathered_commits() { return g_gathered_commits.load(std::memory_order_relaxed); }

const char* wal_coalescing_vfs() {
  static std::once_flag once;
  static const char* name = nullptr;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    if (!g_real) return;
    std::memset(&g_vfs, 0, sizeof g_vfs);
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = "mailjar-wal-gather";
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0) == SQLITE_OK) name = g_vfs.zName;
  });
  return name;
}

}  // namespace mailjar::store::internal
