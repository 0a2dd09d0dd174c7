// SnapshotStore: where snapshot files are kept (docs/snapshots.md#stores). One interface for
// every backend: the NATS object store and a local directory (this version), S3, WebDAV and
// SFTP (next). Every store passes the same conformance test (tests/integration/
// tst_snapshot_stores.cpp): put, get, list, remove, copy, a 200 MB object, an interrupted
// upload that leaves the previous object of that name intact.
//
// Objects are named with '/'-separated paths of [A-Za-z0-9._-] parts ("snapshot.db",
// "snapshots/20261130T150102123Z-n1.db"); validateObjectName() says which names are allowed.
// Data always streams through QIODevice in bounded chunks: no store holds a whole object in
// memory.
//
// Thread: a store is created, used and destroyed on one thread (the snapshot worker's);
// operations block until done or failed.
#pragma once

#include <QDateTime>
#include <QIODevice>
#include <QList>
#include <QPair>
#include <QString>

#include <functional>
#include <memory>

#include "harmonylite/status.h"

namespace hl {

struct StoreObject {
  QString name;
  qint64 size = -1;    // bytes; -1 = unknown
  QDateTime modified;  // UTC; invalid = unknown
  QString digest;      // "SHA-256=<base64url, padded>" where the store keeps one, else ""
  QString linkTo;      // a link object (nats): the name it points at; "" otherwise
  QList<QPair<QString, QString>> headers;  // object headers where the store has them (nats)
};

// Called as bytes move: (bytes done, total bytes or -1 when unknown). Returning false cancels
// the transfer; the operation then fails with Status::cancelled() and leaves no partial object.
using TransferProgress = std::function<bool(qint64 done, qint64 total)>;

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // Where it is, for logs and the dashboard ("local directory /mnt/usb/snapshots",
  // "nats bucket harmonylite-changes-snapshot-store"). Never contains a secret.
  virtual QString describe() const = 0;

  // Writes `size` bytes read from `source` as object `name`, replacing an object of that name
  // only once the whole new one is stored (an interrupted put leaves the old one intact).
  // `headers` are kept where the store supports object headers (nats), ignored elsewhere.
  virtual Status put(const QString& name, QIODevice& source, qint64 size,
                     const QList<QPair<QString, QString>>& headers,
                     const TransferProgress& progress) = 0;

  // Reads object `name` into `sink` (links are followed). NotFound when there is none. The
  // store checks its own digest where it keeps one (nats: a mismatch is Corruption).
  virtual Status get(const QString& name, QIODevice& sink, const TransferProgress& progress) = 0;

  // Every object, in no particular order, without reading their contents.
  virtual Result<QList<StoreObject>> list() = 0;

  // Removes object `name`; NotFound when there is none.
  virtual Status remove(const QString& name) = 0;

  // Makes `to` read as `from` without sending the bytes again where the store can (nats: a
  // link object; local: a hard link, else a copy). Replaces `to` atomically.
  virtual Status copy(const QString& from, const QString& to) = 0;
};

// OK, or InvalidArgument naming what is wrong: empty, longer than 255, a part that is empty,
// "." or "..", or a character outside [A-Za-z0-9._-] and '/'.
Status validateObjectName(const QString& name);

// Stores that cannot write an object atomically (webdav, sftp) upload to a temporary name
// beside the object and rename it into place: "a/.b.db.part-<16 hex>" for "a/b.db".
QString temporaryName(const QString& name);
// Whether the last part of `name` is such a temporary name (a leftover of an interrupted put,
// which the snapshot service removes once it is an hour old).
bool isTemporaryName(const QString& name);

}  // namespace hl
