// Shard selection (docs/wire-format.md#shard): a change's shard is a pure function of its table
// name and primary key values, computed exactly as Go HarmonyLite does so that both pick the same
// stream.
//
// The key is the CBOR indefinite array [table, [pk name, value]...] with the PK columns sorted
// by byte-wise (UTF-8) name order and values encoded as in the change message
// (docs/wire-format.md#message), except that TEXT is always a text string even when it is not valid
// UTF-8: Go's encoder writes its strings without checking, and these bytes are only hashed, never
// sent. Columns declared BOOLEAN/DATE/DATETIME/TIMESTAMP are hashed by Go as the converted value
// (bool, integer seconds); the caller passes such values already converted.
// Thread: pure functions; any thread.
#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>

#include <cstdint>

#include "wire/value.h"

namespace hl {

// CBOR bytes of the shard key of (table, primary-key columns), in any column order.
QByteArray shardKeyBytes(const QString& table, const QList<QPair<QString, Value>>& pkColumns);
// FNV-1 64 (not FNV-1a): per byte, multiply by the prime, then xor.
uint64_t fnv1_64(const QByteArray& bytes);
// Shard 1..shardCount of the row: fnv1_64(shardKeyBytes) mod shardCount + 1. A shardCount
// below 1 is taken as 1.
int shardFor(const QString& table, const QList<QPair<QString, Value>>& pkColumns, int shardCount);
// The shard of key bytes already made with shardKeyBytes().
int shardOfKeyBytes(const QByteArray& keyBytes, int shardCount);

}  // namespace hl
