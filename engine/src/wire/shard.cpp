#include "wire/shard.h"

#include <algorithm>

#include "wire/cbor_writer.h"

namespace hl {

QByteArray shardKeyBytes(const QString& table, const QList<QPair<QString, Value>>& pkColumns) {
  QList<QPair<QByteArray, const Value*>> columns;
  columns.reserve(pkColumns.size());
  for (const auto& [name, value] : pkColumns) columns.append({name.toUtf8(), &value});
  // QByteArray compares as unsigned bytes: the byte-wise order Go's sort.Strings uses.
  std::stable_sort(columns.begin(), columns.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  CborWriter writer;
  writer.indefiniteArrayStart();
  writer.text(table.toUtf8());
  for (const auto& [name, value] : columns) {
    writer.arrayStart(2);
    writer.text(name);
    writer.value(*value, CborWriter::InvalidUtf8::kAsText);
  }
  writer.breakCode();
  return writer.take();
}

uint64_t fnv1_64(const QByteArray& bytes) {
  constexpr uint64_t kOffsetBasis = 14695981039346656037ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t hash = kOffsetBasis;
  for (const char c : bytes) {
    hash *= kPrime;
    hash ^= uint8_t(c);
  }
  return hash;
}

int shardOfKeyBytes(const QByteArray& keyBytes, int shardCount) {
  const uint64_t count = uint64_t(std::max(shardCount, 1));
  return int(fnv1_64(keyBytes) % count) + 1;
}

int shardFor(const QString& table, const QList<QPair<QString, Value>>& pkColumns, int shardCount) {
  return shardOfKeyBytes(shardKeyBytes(table, pkColumns), shardCount);
}

}  // namespace hl
