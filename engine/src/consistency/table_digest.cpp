#include "consistency/table_digest.h"

#include <QCryptographicHash>

#include <cstring>

#include "sqlite/sqlite_value.h"

namespace hl {

namespace {

// Row encoding (docs/consistency.md#digest): per value one byte of storage class, then
// INTEGER and REAL as 8 bytes big-endian (a REAL by its IEEE 754 bits), TEXT and BLOB as a
// 4-byte big-endian length and the bytes. NULL is the class byte alone.
enum : uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

void put64(QByteArray* out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = char(v & 0xff);
  out->append(b, 8);
}

void encodeValue(sqlite3_stmt* stmt, int col, QByteArray* out) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      out->append(char(kInteger));
      put64(out, uint64_t(sqlite3_column_int64(stmt, col)));
      break;
    case SQLITE_FLOAT: {
      // -0.0 as 0.0: SQLite compares them equal, and a sender may have written either.
      const double d =
          sqlite3_column_double(stmt, col) == 0.0 ? 0.0 : sqlite3_column_double(stmt, col);
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      out->append(char(kReal));
      put64(out, bits);
      break;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const bool text = sqlite3_column_type(stmt, col) == SQLITE_TEXT;
      const void* p = text ? static_cast<const void*>(sqlite3_column_text(stmt, col))
                           : sqlite3_column_blob(stmt, col);
      const int n = sqlite3_column_bytes(stmt, col);
      out->append(char(text ? kText : kBlob));
      const char len[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
      out->append(len, 4);
      if (n > 0) out->append(static_cast<const char*>(p), n);
      break;
    }
    default:
      out->append(char(kNull));
  }
}

std::array<uint8_t, 16> hashOf(const QByteArray& encoded) {
  // BLAKE2b from Qt (no extra dependency); 160 bits, of which the first 128 are used.
  const QByteArray h = QCryptographicHash::hash(encoded, QCryptographicHash::Blake2b_160);
  std::array<uint8_t, 16> out{};
  std::memcpy(out.data(), h.constData(), out.size());
  return out;
}

QString hex128(uint64_t hi, uint64_t lo) {
  return QStringLiteral("%1%2").arg(hi, 16, 16, QLatin1Char('0')).arg(lo, 16, 16, QLatin1Char('0'));
}

// SELECT of the key columns first, then every stored column, in declaration order; the
// indexes of each group in `keys` and `stored`.
QString selectFor(const TableInfo& table, QVector<int>* keys, QVector<int>* stored) {
  QStringList cols;
  for (const QString& k : table.keyColumns()) {
    keys->append(int(cols.size()));
    cols << (table.hasDeclaredPk() ? quoteIdentifier(k) : table.rowidName);
  }
  for (const QString& c : table.storedColumns()) {
    stored->append(int(cols.size()));
    cols << quoteIdentifier(c);
  }
  // A rowid table without a declared key: the rowid is part of the row (it is replicated).
  if (!table.hasDeclaredPk()) stored->prepend(keys->first());
  return QStringLiteral("SELECT %1 FROM %2").arg(cols.join(", "), table.quotedName);
}

}  // namespace

void RowSetDigest::add(const std::array<uint8_t, 16>& h) {
  uint64_t a = 0, b = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | h[size_t(i)];
  for (int i = 8; i < 16; ++i) b = (b << 8) | h[size_t(i)];
  const uint64_t lo2 = lo + b;
  hi += a + (lo2 < lo ? 1 : 0);
  lo = lo2;
  ++rows;
}

QString RowSetDigest::hex() const {
  return hex128(hi, lo);
}

std::array<uint8_t, 16> rowHashOf(sqlite3_stmt* stmt, const QVector<int>& columns) {
  QByteArray encoded;
  encoded.reserve(256);
  for (int c : columns) encodeValue(stmt, c, &encoded);
  return hashOf(encoded);
}

int bucketOf(sqlite3_stmt* stmt, const QVector<int>& keyColumns, int buckets) {
  if (buckets <= 1) return 0;
  const std::array<uint8_t, 16> h = rowHashOf(stmt, keyColumns);
  const uint32_t v = uint32_t(h[0]) << 24 | uint32_t(h[1]) << 16 | uint32_t(h[2]) << 8 | h[3];
  return int(v & uint32_t(buckets - 1));
}

QString valueText(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      return QString::number(sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT: {
      // As SQLite shows a REAL: with a decimal point, so that 2.0 is not read as the integer 2.
      QString r = QString::number(sqlite3_column_double(stmt, col), 'g', 17);
      if (!r.contains('.') && !r.contains('e') && !r.contains("inf") && !r.contains("nan"))
        r += QStringLiteral(".0");
      return r;
    }
    case SQLITE_TEXT: {
      QString t = QString::fromUtf8(reinterpret_cast<const char*>(sqlite3_column_text(stmt, col)),
                                    sqlite3_column_bytes(stmt, col));
      return '\'' + t.replace('\'', QLatin1String("''")) + '\'';
    }
    case SQLITE_BLOB:
      return QStringLiteral("x'%1'").arg(
          QString::fromLatin1(QByteArray(static_cast<const char*>(sqlite3_column_blob(stmt, col)),
                                         sqlite3_column_bytes(stmt, col))
                                  .toHex()));
    default:
      return QStringLiteral("NULL");
  }
}

Result<TableDigest> digestTable(SqliteDb& db, const TableInfo& table,
                                const DigestOptions& options) {
  if (options.buckets < 0 || options.buckets > 65536 ||
      (options.buckets & (options.buckets - 1)) != 0)
    return Status::invalidArgument(
        QStringLiteral("digest buckets must be 0 or a power of two up to 65536, not %1")
            .arg(options.buckets));
  QVector<int> keys, stored;
  auto stmt = db.prepare(selectFor(table, &keys, &stored));
  if (!stmt) return stmt.status();
  TableDigest out;
  out.table = table.name;
  out.buckets.resize(options.buckets);
  sqlite3_stmt* s = stmt->handle();
  const int every = std::max(1, options.yieldEveryRows);
  for (;;) {
    auto more = stmt->step();
    if (!more) return more.status();
    if (!*more) break;
    const std::array<uint8_t, 16> h = rowHashOf(s, stored);
    out.all.add(h);
    if (options.buckets > 0) out.buckets[bucketOf(s, keys, options.buckets)].add(h);
    if (options.progress && out.all.rows % uint64_t(every) == 0 && !options.progress(out.all.rows))
      return Status::cancelled(
          QStringLiteral("digest of %1 stopped after %2 rows").arg(table.name).arg(out.all.rows));
  }
  return out;
}

Result<QList<TableDigest>> digestTables(SqliteDb& db, const QList<TableInfo>& tables,
                                        const DigestOptions& options,
                                        const std::function<Status()>& atSnapshot) {
  auto txn = SqliteTxn::begin(db, SqliteTxn::Mode::kDeferred);
  if (!txn) return txn.status();
  // A deferred transaction takes its snapshot at its first read: make that read now, so that
  // `atSnapshot` and every table see the same point.
  if (auto r = db.queryInt(QStringLiteral("SELECT count(*) FROM sqlite_schema")); !r)
    return r.status();
  if (atSnapshot) HL_RETURN_IF_ERROR(atSnapshot());
  QList<TableDigest> out;
  for (const TableInfo& t : tables) {
    auto d = digestTable(db, t, options);
    if (!d) return d.status();
    out.append(std::move(*d));
  }
  HL_RETURN_IF_ERROR(txn->commit());  // a read transaction: ends the snapshot
  return out;
}

Result<QList<DigestedRow>> rowsInBuckets(SqliteDb& db, const TableInfo& table, int buckets,
                                         const QList<int>& wanted) {
  if (buckets < 1 || (buckets & (buckets - 1)) != 0)
    return Status::invalidArgument(
        QStringLiteral("buckets must be a power of two, not %1").arg(buckets));
  QVector<int> keys, stored;
  auto stmt = db.prepare(selectFor(table, &keys, &stored));
  if (!stmt) return stmt.status();
  const QStringList names = table.storedColumns();
  sqlite3_stmt* s = stmt->handle();
  QList<DigestedRow> out;
  for (;;) {
    auto more = stmt->step();
    if (!more) return more.status();
    if (!*more) break;
    if (!wanted.contains(bucketOf(s, keys, buckets))) continue;
    DigestedRow row;
    QStringList key, values;
    for (int k : keys) {
      key << valueText(s, k);
      row.keyValues << readValue(*stmt, k);
    }
    const int offset = table.hasDeclaredPk() ? 0 : 1;  // stored[0] is the rowid then
    if (offset) values << table.rowidName + '=' + valueText(s, stored[0]);
    for (int i = offset; i < stored.size(); ++i)
      values << names[i - offset] + '=' + valueText(s, stored[i]);
    row.key = key.join('|');
    row.values = values.join(", ");
    const std::array<uint8_t, 16> h = rowHashOf(s, stored);
    row.rowHash = QString::fromLatin1(
        QByteArray::fromRawData(reinterpret_cast<const char*>(h.data()), int(h.size())).toHex());
    out.append(row);
  }
  return out;
}

}  // namespace hl
