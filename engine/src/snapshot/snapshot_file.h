// The snapshot file (docs/snapshots.md#saving, #restoring): making one from the live database,
// checking a downloaded one, and copying one into the live database.
//
//   make:    VACUUM INTO a temp file on a connection of its own (in WAL mode it is a reader:
//            the application's writers never wait for it), read the applied positions (the
//            watermark) from that copy, so that rows and watermark agree by construction, drop
//            every __harmonylite__ table and trigger (a Go node restores it as it is), VACUUM,
//            then schema hash, row counts and SHA-256 of the result.
//   inspect: size and SHA-256 first (a truncated or corrupt download is refused before SQLite
//            opens it), the SQLite header, PRAGMA integrity_check, schema hash, row counts.
//   prepare: on the verified temp file, never on the live database: capture tables and
//            triggers, the replication tables and the applied positions from the watermark.
//   copy in: SQLite's online backup API from the prepared file into the live database: one
//            write transaction, so other connections see the old database until it commits and
//            the restored one from their next transaction (Go copies bytes over the open file).
// Thread: any thread; each function opens the connections it needs, except copyIntoLive(),
// which uses the caller's (the engine thread's) connection.
#pragma once

#include <QHash>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <functional>

#include "harmonylite/status.h"
#include "sqlite/sqlite_db.h"

namespace hl {

struct Config;

// What a snapshot file holds, as far as its bytes tell.
struct SnapshotContent {
  qint64 size = 0;
  QString sha256;  // lower-case hex
  QString schemaHash;
  QList<QPair<QString, qint64>> rowCounts;  // watched tables (docs/wire-format.md#schema-hash)
  QHash<QString, quint64> streams;  // make: the watermark read from the copy; inspect: empty
};

// (done, total) units of work (bytes or pages); false cancels.
using FileProgress = std::function<bool(qint64 done, qint64 total)>;

// Makes the snapshot of `dbPath` at `outPath` (replaced). `ignoreTables` as in the config.
// With `hash` false, size and sha256 are left for the caller (the snapshot worker hashes the
// file while uploading it: one read less).
Result<SnapshotContent> makeSnapshotFile(const QString& dbPath, const QString& outPath,
                                         const QStringList& ignoreTables,
                                         const FileProgress& progress = {}, bool hash = true);

// Reads and checks a snapshot file without changing it: not SQLite, integrity_check failures
// and unreadable schemas are Corruption naming the file. `knownSha256` (hashed while it was
// downloaded) saves reading it once more.
Result<SnapshotContent> inspectSnapshotFile(const QString& path, const QStringList& ignoreTables,
                                            const QString& knownSha256 = QString());

// SHA-256 (hex) and size of a file, read in bounded chunks.
Result<QPair<qint64, QString>> fileSha256(const QString& path, const FileProgress& progress = {});

// Prepares a verified snapshot file for the live database: capture objects (when `publish`),
// replication tables, the applied positions `positions` (stream -> seq), the sequence up to
// which this node's own messages are to be applied again `replayOwnUpTo` (stream -> the
// stream's last sequence now), the live change log's highest change id `lastChangeId` (ids go
// on above it: a message id "<node>-<change id>" used again within the stream's duplicate
// window would be dropped by JetStream), and the page size of the live database
// `livePageSize` (the backup API needs them equal in WAL mode).
Status prepareForRestore(const QString& path, const Config& config,
                         const QHash<QString, quint64>& positions,
                         const QHash<QString, quint64>& replayOwnUpTo, int64_t lastChangeId,
                         int livePageSize);

// Carries the live database's local changes not published yet into the prepared snapshot file
// at `snapshotPath`, whose capture triggers record them again, so that they are published after
// the restore instead of lost with the old database. Meant for copyIntoLive()'s `underLock`:
// the application cannot commit anything new meanwhile. Returns how many it carried.
Result<int> carryPendingChanges(const QString& liveDbPath, const QString& snapshotPath,
                                const Config& config);

// Copies `path` into the live database through `live` with the backup API, in steps (progress
// in pages). The application's writers wait (their busy timeout) for the few seconds it takes;
// its readers never do. `underLock` runs once the copy holds the live database's write lock and
// before any page is copied: nothing can commit from then on; when it fails, nothing is copied
// and its Status is returned.
Status copyIntoLive(SqliteDb& live, const QString& path, const FileProgress& progress = {},
                    const std::function<Status()>& underLock = {});

}  // namespace hl
