#pragma once
// The messages of the cross-node consistency check (docs/consistency.md#protocol): JSON over
// core NATS on <stream_prefix>-consistency.<what>, each with the check's id. The requester
// (runtime/consistency_check.cpp) and each node's responder (runtime/consistency_responder.h)
// both read and write them here, so the two cannot drift apart. Everything read from the
// network is checked here; a message that does not parse gives an error naming what is wrong.
// Thread: any (value types).

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QString>

#include "harmonylite/status.h"
#include "wire/value.h"

namespace hl {

namespace check {

inline constexpr int kVersion = 1;
// The subjects: where, hold, buckets, rows, end (to every node) and repair.<node id>.
QByteArray subject(const QString& streamPrefix, const QString& what);

// A value with its storage class, exactly: ["null"], ["int","42"], ["real","<16 hex digits of
// its IEEE 754 bits>"], ["text","<base64 of its bytes>"], ["blob","<base64>"].
QJsonArray valueToJson(const Value& v);
Result<Value> valueFromJson(const QJsonValue& json);
// A row's key: its values in key-column order, each as above.
QJsonArray keyToJson(const QList<Value>& key);
Result<QList<Value>> keyFromJson(const QJsonValue& json);

// What a node answers to where and hold. `state`: "here" (where), "held" (hold: digested at
// the target), "busy" (hold: not comparable, `reason` says why).
struct TableSum {
  QString table;
  quint64 rows = 0;
  QString digest;  // 32 hex digits
};
struct NodeAnswer {
  QString check;
  quint64 node = 0;
  QString state;
  QString reason;
  QString schemaHash;
  QMap<QString, quint64> positions;  // stream -> applied position
  qint64 pending = 0;                // own changes not yet acknowledged
  QList<TableSum> tables;            // hold, held: every watched table, sorted by name
  qint64 heldMs = 0;                 // how long the applier was held for this check
  qint64 digestMs = 0;
};
QByteArray encode(const NodeAnswer& a);
Result<NodeAnswer> decodeAnswer(const QByteArray& json);

// A request: its kind is its subject; the fields each kind uses.
struct Request {
  QString check;
  QMap<QString, quint64> target;  // hold: stream -> the position to hold at
  qint64 holdMs = 0;              // hold: how long to wait for the target
  QString table;                  // buckets, rows, repair
  int buckets = 0;                // buckets, rows: a power of two up to 65536
  QList<int> wanted;              // rows: which buckets
  int maxRows = 0;                // rows: at most so many
  QList<QList<Value>> keys;       // repair: the keys of the rows to publish again
};
QByteArray encode(const Request& r);
// Refuses what a node must not act on: no check id, a bucket count that is not a power of two
// up to 65536, bucket numbers out of range, more than kMaxKeys keys, a value that is not one
// of the five forms.
Result<Request> decodeRequest(const QByteArray& json);
inline constexpr int kMaxBuckets = 65536;
inline constexpr int kMaxKeys = 10000;

// Answers to buckets, rows and repair: `error` set when the node could not do it.
struct BucketsAnswer {
  quint64 node = 0;
  QString table;
  QString error;
  QList<QPair<quint64, QString>> buckets;  // rows and digest of each bucket
};
QByteArray encode(const BucketsAnswer& a);
Result<BucketsAnswer> decodeBuckets(const QByteArray& json);

struct RowAnswer {
  QList<Value> key;
  QString keyText;  // "k1|k2" as the locator shows it
  QString values;   // "name=value, ..."
  QString hash;     // 32 hex digits
};
struct RowsAnswer {
  quint64 node = 0;
  QString table;
  QString error;
  QList<RowAnswer> rows;
  bool truncated = false;  // more rows than maxRows were in the buckets
};
QByteArray encode(const RowsAnswer& a);
Result<RowsAnswer> decodeRows(const QByteArray& json);

struct RepairAnswer {
  quint64 node = 0;
  QString table;
  QString error;
  int republished = 0;  // rows this node holds, captured again as updates
  int deleted = 0;      // rows it lacks, captured as deletes
};
QByteArray encode(const RepairAnswer& a);
Result<RepairAnswer> decodeRepair(const QByteArray& json);

}  // namespace check
}  // namespace hl
