// The change-message codec (docs/wire-format.md#message): a Change to and from the CBOR envelope
//
//   map(2){"FromNodeId": uint, "Payload": map(4|5){"Id", "Type", "TableName", "Row", "sh"?}}
//
// and the NATS payload form (the CBOR, zstd-compressed on "-c" streams; see compression.h).
//
// Wire choices:
// - Sending: keys in the order above, shortest integers, REAL always float64, NULL -> null,
//   BLOB -> byte string, "sh" only when Change::schemaHash is set. TEXT that is not valid UTF-8
//   (SQLite does not check) is sent as a CBOR byte string, because a Go receiver rejects the
//   whole message on an invalid text string: Go stores it as a BLOB, and so do we when we
//   decode it. No booleans and no tags are ever sent.
// - Receiving (what Go senders produce): keys in any order, definite or indefinite lengths
//   (maps, arrays, chunked strings), unknown keys ignored at both levels. Row values:
//   true/false -> INTEGER 1/0; tag 32 wrapping {1: <unix seconds>} -> TEXT
//   "YYYY-MM-DD HH:MM:SS+00:00" in UTC (years 0001..9999), tag 32 {1: null} -> NULL;
//   undefined -> NULL; float16/32/64 -> REAL. "Type" is matched case-insensitively.
// - Rejected, as Status::Code::kPoison with the field path in the message: any malformed,
//   truncated or trailing data; text that is not valid UTF-8 (anywhere, as Go does); integers
//   outside int64 (FromNodeId: uint64); a missing or duplicated field or Row column; other tags;
//   arrays or maps as Row values; nesting deeper than kMaxCborNesting; input larger than
//   the limit (`maxBytes`: [replication_log] max_message_bytes, default
//   kDefaultMaxMessageBytes), before or after zstd.
// The decoder drives libcbor's streaming decoder (one item header at a time, no item tree), so
// hostile input cannot exhaust the stack or make it reserve what a header merely declares.
//
// Thread: pure functions without shared state; any thread.
#pragma once

#include <QByteArray>

#include "harmonylite/status.h"
#include "wire/change.h"

namespace hl {

// Largest CBOR message (and largest decompressed payload) accepted by default: 8 MiB
// ([replication_log] max_message_bytes; docs/replication.md#hostile-input).
inline constexpr qsizetype kDefaultMaxMessageBytes = 8 * 1024 * 1024;
// Deepest nesting of maps, arrays and tags accepted (the envelope itself needs 5).
inline constexpr int kMaxCborNesting = 16;

// The CBOR envelope of `change`, exactly as a Go sender writes it.
QByteArray encodeChange(const Change& change);
// Parses one CBOR envelope; any defect gives a kPoison status naming where it is. Input larger
// than `maxBytes` is refused unread.
Result<Change> decodeChange(const QByteArray& cbor, qsizetype maxBytes = kDefaultMaxMessageBytes);

// encodeChange, zstd-compressed when `compress` (streams whose name has "-c").
QByteArray encodeMessage(const Change& change, bool compress);
// maybeDecompress (zstd is recognised by its magic) then decodeChange, both bounded by
// `maxBytes`: a zstd bomb is refused once its output passes the limit (or at once when its
// frame header declares more), never expanded whole.
Result<Change> decodeMessage(const QByteArray& natsPayload,
                             qsizetype maxBytes = kDefaultMaxMessageBytes);

}  // namespace hl
