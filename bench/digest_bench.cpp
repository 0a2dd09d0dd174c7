// Consistency digest benchmark (issue 18, docs/consistency.md#digest): the time and CPU to
// digest a table of --rows rows (with --buckets buckets), next to a plain read of every row
// of the same table in the same run; and the commit latency of a writer on another connection
// while the digest runs, next to the same writer with nothing else running.
//
//   digest_bench [--rows 1000000] [--buckets 4096]
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "consistency/table_digest.h"
#include "schema/catalog.h"

using namespace hl;

namespace {

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Latencies {
  std::vector<double> ms;
  double quantile(double q) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))];
  }
};

// Single-row commits on their own connection until `stop`; each commit's latency.
Latencies writeUntil(const QString& path, const std::atomic<bool>& stop, int firstId) {
  Latencies out;
  auto db = SqliteDb::open(path);
  if (!db) return out;
  int id = firstId;
  while (!stop.load()) {
    QElapsedTimer t;
    t.start();
    if (!db->exec(QStringLiteral("INSERT INTO w VALUES (%1, 'row %1')").arg(id++)).isOk()) break;
    out.ms.push_back(double(t.nsecsElapsed()) / 1e6);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  const QStringList args = app.arguments();
  auto opt = [&](const QString& name, int def) {
    const qsizetype i = args.indexOf(name);
    return i >= 0 && i + 1 < args.size() ? args[i + 1].toInt() : def;
  };
  const int rows = opt("--rows", 1000000), buckets = opt("--buckets", 4096);
  QTemporaryDir dir;
  const QString path = dir.filePath("digest.db");
  auto db = SqliteDb::open(path);
  if (!db || !db->exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, name "
                       "TEXT NOT NULL, qty INTEGER, price REAL, data BLOB); CREATE TABLE w(id "
                       "INTEGER PRIMARY KEY, v TEXT)")
                  .isOk())
    return 1;
  QElapsedTimer t;
  t.start();
  if (!db->exec(QStringLiteral("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                               "WHERE i < %1) INSERT INTO t SELECT i, 'item-' || i, i %% 97, i "
                               "+ 0.25, randomblob(16) FROM n")
                    .arg(rows)
                    .replace("%%", "%"))
           .isOk())
    return 1;
  std::printf("digest_bench: %d rows of 5 columns written in %.2f s\n", rows, t.elapsed() / 1e3);
  SchemaCatalog catalog(*db, {});
  if (!catalog.reload().isOk()) return 1;
  const TableInfo table = *catalog.find("t");

  // Baseline: every row read, every column touched, nothing hashed.
  auto stmt = db->prepare("SELECT id, name, qty, price, data FROM t");
  if (!stmt) return 1;
  t.restart();
  double cpu0 = cpuSeconds();
  uint64_t bytes = 0;
  while (*stmt->step())
    for (int c = 0; c < 5; ++c) bytes += uint64_t(sqlite3_column_bytes(stmt->handle(), c));
  const double readS = t.elapsed() / 1e3, readCpu = cpuSeconds() - cpu0;

  // Writer alone, then writer during the digest.
  std::atomic<bool> stop{false};
  Latencies alone;
  {
    std::thread w([&] { alone = writeUntil(path, stop, 1); });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    stop = true;
    w.join();
  }
  stop = false;
  Latencies during;
  std::thread w([&] { during = writeUntil(path, stop, 10000000); });
  DigestOptions o;
  o.buckets = buckets;
  t.restart();
  cpu0 = cpuSeconds();
  auto d = digestTables(*db, {table}, o);
  const double digestS = t.elapsed() / 1e3, digestCpu = cpuSeconds() - cpu0;
  stop = true;
  w.join();
  if (!d) {
    std::fprintf(stderr, "digest failed: %s\n", qPrintable(d.status().message()));
    return 1;
  }
  std::printf("| | wall s | CPU s | rows/s |\n|---|---|---|---|\n");
  std::printf("| plain read of every row (baseline) | %.3f | %.3f | %.0f |\n", readS, readCpu,
              rows / std::max(readS, 1e-9));
  std::printf("| digest, %d buckets | %.3f | %.3f | %.0f |\n", buckets, digestS, digestCpu,
              rows / std::max(digestS, 1e-9));
  std::printf("digest %s of %llu rows; %.2fx the plain read\n", qPrintable(d->first().all.hex()),
              static_cast<unsigned long long>(d->first().all.rows),
              digestS / std::max(readS, 1e-9));
  std::printf(
      "writer commits (another connection, WAL): alone p50 %.2f ms p99 %.2f ms max %.2f ms "
      "(%zu commits); during the digest p50 %.2f ms p99 %.2f ms max %.2f ms (%zu commits)\n",
      alone.quantile(0.5), alone.quantile(0.99), alone.quantile(1), alone.ms.size(),
      during.quantile(0.5), during.quantile(0.99), during.quantile(1), during.ms.size());
  return d->first().all.rows == uint64_t(rows) ? 0 : 1;
}
