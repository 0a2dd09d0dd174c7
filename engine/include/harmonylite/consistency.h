// -digest (docs/consistency.md#command-line): this node's order-independent digest of every
// watched table, with the applied positions and the count of its own changes not yet
// acknowledged, all read at one point. Runs on the caller's thread with its own read-only
// connection, and closes it.
#pragma once

#include <QList>
#include <QMap>
#include <QString>

#include "harmonylite/config.h"
#include "harmonylite/status.h"

#include <atomic>

namespace hl {

struct TableDigestReport {
  QString table;
  quint64 rows = 0;
  QString digest;  // 32 hex digits (docs/consistency.md#digest)
};

struct LocalDigestReport {
  QString schemaHash;
  QMap<QString, quint64> positions;  // stream -> the position this node applied
  qint64 pendingChanges = 0;         // own changes captured and not yet acknowledged by a stream
  QList<TableDigestReport> tables;   // watched tables, sorted by name
  qint64 elapsedMs = 0;              // how long the read transaction lasted
};

// Reads db_path read-only (WAL: the running node and the application go on writing).
Result<LocalDigestReport> readLocalDigest(const Config& config);

// -check-consistency (docs/consistency.md#check): every node that answers is asked to hold at
// the same stream positions and digest its tables there; tables that differ are located down
// to their rows; on request, one node's version of those rows is published again.
struct CheckOptions {
  int discoverMs = 1500;        // how long to gather the nodes' where-are-you answers
  int expectNodes = 0;          // stop gathering once so many answered (0: wait discoverMs)
  int holdMs = 5000;            // how long each node may take to reach the target positions
  int attempts = 5;             // targets tried before the check says "busy, not comparable"
  int answerTimeoutMs = 60000;  // for a node's digest, buckets or rows
  int buckets = 4096;           // of the locator
  int maxRows = 1000;           // differing rows listed per table and node, at most
  quint64 repairFrom = 0;       // publish this node's version of every differing row (0: no)
  // Set from another thread: the check stops within about 200 ms (kCancelled).
  const std::atomic<bool>* cancel = nullptr;
};

struct NodeCheck {
  quint64 node = 0;
  QString state;  // "held" (digested at the target), "busy" (with reason), "silent" (no answer)
  QString reason;
  QString schemaHash;
  qint64 heldMs = 0;  // how long its applier waited at the target
  qint64 digestMs = 0;
};

struct DifferingRow {
  QString key;                    // "k1|k2", each value as SQL shows it
  QByteArray keyJson;             // the same, with storage classes (docs/consistency.md#protocol)
  QMap<quint64, QString> values;  // node -> "name=value, ..."; no entry: the node lacks it
};

struct TableCheck {
  QString table;
  bool agree = true;
  QMap<quint64, QString> digests;  // node -> "<rows> rows, digest <hex>" ("missing": no table)
  QList<DifferingRow> rows;        // when it differs: the rows that differ
  bool rowsTruncated = false;      // more than maxRows were in the differing buckets
  QString locateError;
};

struct RepairResult {
  QString table;
  quint64 node = 0;
  int republished = 0;
  int deleted = 0;
  QString error;
};

struct ClusterCheckReport {
  QString id;
  qint64 atMs = 0;  // when it began (epoch ms)
  qint64 elapsedMs = 0;
  QString verdict;  // "agree", "differ", "busy" (not comparable: `reason`)
  QString reason;
  int attempts = 0;
  QMap<QString, quint64> target;  // stream -> the position the nodes were compared at
  QList<NodeCheck> nodes;
  QList<TableCheck> tables;
  QList<RepairResult> repairs;
  int messages = 0;  // NATS messages sent and received for it
};

// Connects like -schema-status-cluster (nats.urls, or the running node's embedded server).
// kUnavailable when NATS cannot be reached; otherwise a report (verdict "busy" when no node
// answered or no comparable point was found).
Result<ClusterCheckReport> checkClusterConsistency(const Config& config,
                                                   const CheckOptions& options);

}  // namespace hl
