// ConsistencyResponder: this node's side of the cross-node consistency check
// (docs/consistency.md#protocol). On the engine thread it answers where-are-you, holds the
// consumer at a check's target positions until the node is comparable there (or says why not),
// and republishes rows on a repair request. The digest itself runs on its own thread
// (HeldRead, below) with its own read-only connection, in one read transaction opened while
// the consumer is held: the applier waits only until that transaction has its snapshot, not for
// the digest. The transaction stays open (up to kSessionIdleMs) for the locator's bucket and
// row requests, so they read the same point.
// Thread: the engine thread (HeldRead: its own). Created by the Engine with the consumer and
// the publisher, and destroyed before them.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <memory>
#include <optional>

#include "consistency/check_protocol.h"
#include "harmonylite/config.h"
#include "runtime/local_read.h"

namespace hl {

class ChangeLog;
class Consumer;
class NatsClient;
class Publisher;
class SchemaCatalog;
class ShardPositions;
class SqliteDb;
class SqliteTxn;

// The worker: one open read transaction at a time (one check).
class HeldRead final : public QObject {
  Q_OBJECT
 public:
  HeldRead(Config config, std::atomic<bool>* cancel)
      : m_config(std::move(config)), m_cancel(cancel) {}
  ~HeldRead() override;

  static constexpr int kSessionIdleMs = 30000;

 public slots:
  // Opens the read transaction, emits snapshotTaken(), then digests every watched table at
  // that point and answers `base` filled in on `reply`.
  void digest(const QByteArray& reply, const hl::check::NodeAnswer& base);
  void buckets(const QByteArray& reply, const hl::check::Request& request);
  void rows(const QByteArray& reply, const hl::check::Request& request);
  void close(const QString& check);

 signals:
  // The snapshot is taken: the consumer may go on. `comparable`: nothing of this node's own was
  // pending in it.
  void snapshotTaken(const QString& check, bool comparable);
  void answer(const QByteArray& reply, const QByteArray& json);

 private:
  void end();
  const TableInfo* table(const QString& check, const QString& name, QString* error);

  Config m_config;
  std::atomic<bool>* m_cancel;
  QString m_check;
  std::unique_ptr<LocalRead> m_read;
  std::unique_ptr<SqliteTxn> m_txn;
  QTimer* m_idle = nullptr;
};

class ConsistencyResponder final : public QObject {
  Q_OBJECT
 public:
  // `consumer` null: a node with replicate = false, never comparable; `publisher` null: a node
  // that does not publish.
  ConsistencyResponder(const Config& config, SqliteDb& db, SchemaCatalog& catalog,
                       ChangeLog& changeLog, ShardPositions& positions, NatsClient& nats,
                       Consumer* consumer, Publisher* publisher, QObject* parent = nullptr);
  ~ConsistencyResponder() override;

  // What this node answered, for /health and the dashboard.
  struct Counts {
    qint64 checks = 0;       // hold requests answered
    qint64 busy = 0;         // of them, not comparable here
    qint64 badRequests = 0;  // requests that did not parse (ignored, answered with the error)
    qint64 repairs = 0;      // repair requests carried out
    qint64 longestHoldMs = 0;
  };
  const Counts& counts() const { return m_counts; }

  void onRequest(const QByteArray& subject, const QByteArray& data, const QByteArray& reply);

 private:
  check::NodeAnswer here(const QString& check) const;
  void startHold(const check::Request& request, const QByteArray& reply);
  void pollHold();
  void endHold();
  void answerBusy(const QString& reason);
  Result<check::RepairAnswer> repair(const check::Request& request);
  Result<qint64> pendingOwn() const;
  void reply(const QByteArray& to, const QByteArray& json);

  Config m_config;
  SqliteDb& m_db;
  SchemaCatalog& m_catalog;
  ChangeLog& m_changeLog;
  ShardPositions& m_positions;
  NatsClient& m_nats;
  Consumer* m_consumer;
  Publisher* m_publisher;
  QThread m_thread;
  std::atomic<bool> m_cancel{false};
  HeldRead* m_worker = nullptr;  // on m_thread
  struct Hold {
    check::Request request;
    QByteArray reply;
    QHash<int, quint64> target;  // shard -> position
    QElapsedTimer since;
    bool snapshotAsked = false;
  };
  std::optional<Hold> m_hold;
  QTimer m_pollTimer;
  Counts m_counts;
};

}  // namespace hl
