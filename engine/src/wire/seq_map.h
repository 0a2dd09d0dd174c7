// The seq-map file's contents (docs/wire-format.md#seq-map): one CBOR map from stream name
// (definite text) to applied sequence (unsigned int), the map definite or indefinite, as Go
// writes it. Parsed with libcbor's streaming decoder one item header at a time: no item tree, no
// recursion, nothing reserved for what a header merely declares, so a corrupt, truncated or
// hostile file is a clear error and never a crash (fuzzed: tests/fuzz/fuzz_seq_map.cpp).
// Thread: pure functions without shared state; any thread.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QString>

#include "harmonylite/status.h"

namespace hl {

// Largest seq-map accepted: 1 MiB (thousands of streams fit in a few KiB).
inline constexpr qsizetype kMaxSeqMapBytes = 1024 * 1024;

// The positions held by `bytes`; any defect is a kCorruption status that starts with `source`
// (the file's path) and says what is wrong and at which byte.
Result<QHash<QString, quint64>> parseSeqMap(QByteArrayView bytes, const QString& source);

}  // namespace hl
