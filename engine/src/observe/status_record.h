// The cluster status record (docs/replication.md#cluster-view): every node publishes one every
// 2 s on <stream_prefix>-status.<node id>, and shows every node it hears. A compact JSON object:
//
//   {"node_id": 2, "instance": "<random hex per process>", "version": "0.1.0",
//    "healthy": true, "reason": "", "schema_hash": "<hex>", "lag_messages": 0,
//    "lag_seconds": 0.0, "shards": "1:running 2:running"}
//
// Records come from the network: decoding bounds every text and refuses a record without a
// positive node id. The instance tells a second process with our node id apart from ourselves.
// Thread: pure functions; any thread.
#pragma once

#include <QByteArray>
#include <QString>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

struct StatusRecord {
  PeerStatus peer;  // lastSeenMs is left 0: the receiver sets it
  QString instance;
};

QByteArray encodeStatusRecord(const NodeStatus& status, const QString& instance);
// kInvalidArgument for anything that is not a record (malformed JSON, no positive node_id).
Result<StatusRecord> decodeStatusRecord(const QByteArray& json);

}  // namespace hl
