#pragma once
// Order-independent digests of the watched tables, for the cross-node consistency check
// (docs/consistency.md). Reads only; the caller picks the connection and the transaction.

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>
#include <QVector>

#include <array>
#include <cstdint>
#include <functional>

#include "harmonylite/status.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"
#include "wire/value.h"

namespace hl {

// A multiset of rows: their count and the sum, modulo 2^128, of their 128-bit row hashes.
// Adding is commutative, so the order in which rows are read does not matter; two tables hold
// the same rows when their digests are equal (up to a 2^-128 chance).
struct RowSetDigest {
  uint64_t rows = 0;
  uint64_t lo = 0, hi = 0;

  void add(const std::array<uint8_t, 16>& rowHash);
  bool operator==(const RowSetDigest& o) const {
    return rows == o.rows && lo == o.lo && hi == o.hi;
  }
  bool operator!=(const RowSetDigest& o) const { return !(*this == o); }
  QString hex() const;  // 32 hex digits of the sum
};

struct TableDigest {
  QString table;
  RowSetDigest all;
  // Rows split by the hash of their key into buckets.size() buckets (empty when none were
  // asked): the buckets that differ between two nodes hold the rows that differ.
  QVector<RowSetDigest> buckets;
};

// One row as the locator lists it: its key and values as text, its hashes.
struct DigestedRow {
  QString key;             // the key columns' values, "k1|k2", each as in valueText()
  QList<Value> keyValues;  // the same, with their storage class (what a repair names)
  QString values;          // every stored column "name=value", in declaration order
  QString rowHash;         // 32 hex digits
};

struct DigestOptions {
  int buckets = 0;  // 0: the whole table only; else a power of two up to 65536
  // Called every `yieldEveryRows` rows with the rows read so far; returning false stops the
  // digest (kCancelled). Lets a long digest give the thread back or be abandoned.
  int yieldEveryRows = 10000;
  std::function<bool(uint64_t rowsSoFar)> progress;
};

// The 128-bit hash of the row the statement stands on, over `columns` (their indexes in the
// statement): each value with its storage class, so 1, 1.0, '1' and x'31' differ.
std::array<uint8_t, 16> rowHashOf(sqlite3_stmt* stmt, const QVector<int>& columns);
// Which of `buckets` (a power of two) the row's key falls in.
int bucketOf(sqlite3_stmt* stmt, const QVector<int>& keyColumns, int buckets);
// A value as the locator shows it: NULL, 42, 1.5 (full precision), 'text', x'0a0b'.
QString valueText(sqlite3_stmt* stmt, int column);

// The digest of one table as `db` sees it now. Call it inside a read transaction to digest
// several tables at one point (digestTables does).
Result<TableDigest> digestTable(SqliteDb& db, const TableInfo& table,
                                const DigestOptions& options = {});

// Every table of `tables`, in one read transaction of `db` (begun and ended here), with
// `atSnapshot` run inside it first (for what must be read at the same point, such as the
// applied positions). WAL mode: writers are not blocked meanwhile.
Result<QList<TableDigest>> digestTables(SqliteDb& db, const QList<TableInfo>& tables,
                                        const DigestOptions& options = {},
                                        const std::function<Status()>& atSnapshot = {});

// The rows of `table` whose key falls in one of `wanted` of `buckets` buckets.
Result<QList<DigestedRow>> rowsInBuckets(SqliteDb& db, const TableInfo& table, int buckets,
                                         const QList<int>& wanted);

}  // namespace hl
