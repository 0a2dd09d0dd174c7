// LeaderLease: the snapshot leader lease in NATS KV, shared with Go nodes
// (docs/wire-format.md#kv): bucket "e-harmonylite" (file storage, history 1), key
// "snapshot-leader", value CBOR {"NodeID": uint, "Timestamp": int unix-ms}.
//
//   key missing (or deleted)            -> create; losing the race to create -> not leader
//   held by another node, Timestamp+TTL > now -> not leader (holder and expiry reported)
//   otherwise (ours, or expired)        -> update with the revision read (compare-and-set)
//   any error                           -> not leader
// The same record under key "snapshot" (TTL 10 s) marks an upload under way, as Go does; we
// take it around every upload so two nodes never upload at the same moment.
// Thread: the snapshot worker's; it uses, does not own, the connection.
#pragma once

#include <nats/nats.h>

#include <QByteArray>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QTimer>

#include <memory>

#include "harmonylite/status.h"
#include "nats/nats_handles.h"

namespace hl {

inline const QString kLeaseBucket = QStringLiteral("e-harmonylite");
inline const QString kLeaderKey = QStringLiteral("snapshot-leader");
inline const QString kUploadKey = QStringLiteral("snapshot");

struct LeaseRecord {
  uint64_t nodeId = 0;
  int64_t timestampMs = 0;
};
QByteArray encodeLeaseRecord(const LeaseRecord& r);
Result<LeaseRecord> decodeLeaseRecord(const QByteArray& cbor);

struct LeaseState {
  bool held = false;    // this node holds it
  uint64_t holder = 0;  // who holds it (0: nobody, or unknown after an error)
  int64_t untilMs = 0;  // when the holder's lease runs out
  QString error;        // why it could not be read or taken ("" when it worked)
};

class LeaderLease {
 public:
  LeaderLease(natsConnection* nc, uint64_t nodeId, int replicas);
  ~LeaderLease();

  // One acquire-or-renew attempt of `key` with `ttlMs` at `nowMs`.
  LeaseState tryAcquire(const QString& key, int64_t ttlMs, int64_t nowMs);
  // Gives `key` up when we hold it (deletes it), so another node need not wait for the TTL.
  void release(const QString& key);

 private:
  Status open();

  natsConnection* m_nc;
  uint64_t m_nodeId;
  int m_replicas;
  JsCtxPtr m_js;
  KvStorePtr m_kv;
};

// LeaseKeeper: keeps trying for the leader lease every TTL/3 (at least every second) on a thread
// of its own, so that a snapshot job of minutes on the worker's thread never lets the lease
// lapse (SnapshotService owns it). Tells every result with changed().
// Thread: created on the worker's thread, moved to its own; slots are called queued.
class LeaseKeeper final : public QObject {
  Q_OBJECT
 public:
  LeaseKeeper(natsConnection* nc, uint64_t nodeId, int replicas, int64_t ttlMs);
  ~LeaseKeeper() override;

 public slots:
  void start();
  void stop();  // gives the lease up when held
  // A node behind the log (a shard needs a restore) would only save old snapshots: it gives the
  // lease up at once and stops trying for it until it is eligible again, so that a node that
  // is up to date leads and saves.
  void setEligible(bool eligible);

 signals:
  void changed(const hl::LeaseState& state);

 private:
  void renew();

  LeaderLease m_lease;
  int64_t m_ttlMs;
  bool m_held = false;
  bool m_eligible = true;
  QTimer* m_timer = nullptr;
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::LeaseState)
