// Private to store: an SQLite VFS that writes each WAL commit with one pwrite instead of two per frame.
//
// SQLite appends every WAL frame as two writes (a 24-byte frame header, then the page), so a group commit
// of 20 pages costs about 40 system calls, which in a virtual machine is a large share of the writer's
// time. This VFS wraps the default one and passes every call through, except that writes to a WAL file
// that continue the previous one are gathered in memory and written together:
// - at the end of a commit frame (a frame header whose "database size after commit" field is non-zero,
//   then its page), before the write call returns; so a committed transaction is in the file exactly
//   when SQLite would have put it there, before SQLite publishes it in the WAL index;
// - before any other operation on that file (read, sync, truncate, size, lock, shm, close), and when a
//   write does not continue the gathered bytes, and past a size cap.
// Durability and crash behaviour are therefore SQLite's own: only frames of a transaction that has not
// committed yet can be held in memory.
#pragma once

namespace mailjar::store::internal {

// Registers the VFS (once per process, thread-safe) and returns its name for sqlite3_open_v2, or
// nullptr when it could not be registered (then the default VFS is used).
const char* wal_coalescing_vfs();

// How many commits this process has written through the VFS as one gathered write (for tests that check
// a connection really uses it).
unsigned long long wal_gathered_commits();

}  // namespace mailjar::store::internal
