// zstd for change-message payloads (docs/wire-format.md#message: compressed exactly when the stream
// name carries
// "-c"). Decompression is bounded: at most `maxBytes` of output (a frame whose header declares
// more is refused before any of it is expanded; one that does not say is expanded in steps and
// stopped one byte past the limit) and a window of at most 2^kMaxZstdWindowLog bytes, whatever
// the frame header claims; frames without a content size (streamed by the sender) work too.
// Every failure is a kPoison status.
// Thread: pure functions without shared state; any thread.
#pragma once

#include <QByteArray>
#include <QByteArrayView>

#include "harmonylite/status.h"
#include "wire/cbor_codec.h"  // kDefaultMaxMessageBytes

namespace hl {

// 16 MiB: no message we accept needs a larger window than its own size.
inline constexpr int kMaxZstdWindowLog = 24;

// True when `payload` starts with the zstd frame magic 28 b5 2f fd.
bool isZstdFrame(QByteArrayView payload);
// One zstd frame (level 3) holding `raw`, with its content size in the header.
QByteArray compressPayload(const QByteArray& raw);
// The decompressed payload when it is a zstd frame (or several), else `payload` unchanged.
Result<QByteArray> maybeDecompress(const QByteArray& payload,
                                   qsizetype maxBytes = kDefaultMaxMessageBytes);

}  // namespace hl
