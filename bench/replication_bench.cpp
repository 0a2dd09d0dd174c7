// Replication benchmark (issue 4): one nats-server and two harmonylite nodes on this machine.
//  - raw: nats.c asynchronous JetStream publish of the same message count and size, same run
//  - bulk: node 1 commits N rows in one transaction (sqlite3 program); rows/s until node 2
//    has them all
//  - steady: node 1 commits R rows/s for S seconds (one autocommit insert each); p50/p99 of
//    commit -> applied on node 2 (applied time taken by a trigger inside node 2's apply
//    transaction, commit time taken right after node 1's commit; same clock)
//
//   replication_bench [--rows 100000] [--rate 500] [--seconds 20] [--policy auto]
// --policy sets [conflicts] policy on both nodes (docs/configuration.md#conflicts): Books is
// keep-both under auto, so last-writer-wins shows what telling chosen keys apart costs.
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTextStream>
#include <QThread>

#include <algorithm>
#include <atomic>

#include "bench_stats.h"
#include "nats/nats_handles.h"
#include "node_process.h"
#include "sqlite/sqlite_db.h"
#include "test_support.h"
#include "wire/cbor_codec.h"

using namespace hl;
using hl::bench::percentile;

namespace {

std::atomic<int> g_acks{0};

void onAck(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr*, void*) {
  g_acks.fetch_add(1);
  natsMsg_Destroy(msg);
}

// Messages per second of a raw asynchronous JetStream publish of `count` messages of `size`.
double rawPublishRate(const QString& url, int count, int size) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, url.toUtf8().constData()) != NATS_OK) return -1;
  NatsConnectionPtr conn(nc);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 8192;
  jo.PublishAsync.AckHandler = onAck;
  jsCtx* js = nullptr;
  natsConnection_JetStream(&js, nc, &jo);
  JsCtxPtr ctx(js);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "RAW-BENCH";
  const char* subjects[] = {"raw-bench"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  js_AddStream(&si, js, &cfg, nullptr, nullptr);
  jsStreamInfo_Destroy(si);
  const QByteArray payload(size, 'x');
  g_acks = 0;
  QElapsedTimer t;
  t.start();
  for (int i = 0; i < count; ++i) {
    natsMsg* m = nullptr;
    natsMsg_Create(&m, "raw-bench", nullptr, payload.constData(), int(payload.size()));
    const QByteArray id = "raw-" + QByteArray::number(i);
    natsMsgHeader_Set(m, "Nats-Msg-Id", id.constData());
    if (js_PublishMsgAsync(js, &m, nullptr) != NATS_OK) {
      if (m) natsMsg_Destroy(m);
      std::fprintf(stderr, "raw publish %d refused\n", i);
      return -1;
    }
  }
  // Every ack (or ack error) arrives, or the baseline is reported as unavailable.
  QElapsedTimer deadline;
  deadline.start();
  while (g_acks.load() < count) {
    if (deadline.elapsed() > 120000) {
      std::fprintf(stderr, "raw publish: %d of %d acks after 120 s\n", g_acks.load(), count);
      return -1;
    }
    QThread::usleep(200);
  }
  return count / (double(t.nsecsElapsed()) / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  int rows = 100000, rate = 500, seconds = 20;
  QString policy = "auto";
  const QStringList args = app.arguments();
  for (int i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--rows")
      rows = args[i + 1].toInt();
    else if (args[i] == "--rate")
      rate = args[i + 1].toInt();
    else if (args[i] == "--seconds")
      seconds = args[i + 1].toInt();
    else if (args[i] == "--policy")
      policy = args[i + 1];
  }
  nats_Open(-1);
  QTemporaryDir dir;
  test::NatsServer server;
  if (Status s = server.start(); !s.isOk()) {
    std::fprintf(stderr, "%s\n", qPrintable(s.message()));
    return 1;
  }
  std::vector<std::unique_ptr<test::NodeProcess>> nodes;
  for (int i = 1; i <= 2; ++i) {
    test::NodeProcess::Options o;
    o.nodeId = uint64_t(i);
    o.dir = dir.filePath(QStringLiteral("node%1").arg(i));
    o.urls = {server.url()};
    o.shards = 2;
    o.tablesToml = QStringLiteral("[conflicts]\npolicy = \"%1\"\n").arg(policy);
    if (i == 2) {
      o.schema = QString(test::kReferenceSchema) +
                 "CREATE TABLE applied_at(id INTEGER PRIMARY KEY, ms REAL);";
      o.topLevelToml = "ignore_tables = [\"applied_at\"]";
    }
    nodes.push_back(std::make_unique<test::NodeProcess>(o));
    if (Status s = nodes.back()->start(); !s.isOk()) {
      std::fprintf(stderr, "%s\n", qPrintable(s.message()));
      return 1;
    }
  }
  test::NodeProcess& n1 = *nodes[0];
  test::NodeProcess& n2 = *nodes[1];

  // Message size of a typical row, for the raw baseline.
  Change sample;
  sample.fromNodeId = 1;
  sample.id = 12345;
  sample.table = "Books";
  sample.row = {{"id", Value::integer(12345)},
                {"title", Value::text("Title 12345")},
                {"author", Value::text("Author 12345")},
                {"publication_year", Value::integer(1999)}};
  sample.schemaHash = QString(64, 'a');
  const int messageSize = int(encodeMessage(sample, true).size());

  // Bulk: N rows in one transaction.
  QString bulk = "BEGIN;";
  for (int i = 1; i <= rows; ++i)
    bulk += QStringLiteral(
                "INSERT INTO Books(id, title, author, publication_year) VALUES (%1, 'Title %1', "
                "'Author %1', %2);")
                .arg(i)
                .arg(1900 + i % 120);
  bulk += "COMMIT;";
  QElapsedTimer t;
  t.start();
  n1.sql(bulk);
  const double committedS = double(t.nsecsElapsed()) / 1e9;
  // Polled through a connection of this process (a sqlite3 process per poll would load the CPU).
  auto reader = SqliteDb::open(n2.db());
  if (!reader) return 1;
  auto count = [&](const QString& sql) {
    auto v = reader->queryInt(sql);
    return v.ok() ? *v : int64_t(-1);
  };
  const bool all =
      test::waitFor([&] { return count("SELECT count(*) FROM Books") == rows; }, 600000, 5);
  const double bulkS = double(t.nsecsElapsed()) / 1e9;

  // Steady stream: `rate` autocommit inserts per second for `seconds`. Node 2 stamps the time
  // each row is applied with a trigger (created only now, so that it does not weigh on the bulk
  // case); it runs inside the apply transaction.
  if (!reader
           ->exec("CREATE TRIGGER bench_applied AFTER INSERT ON Books BEGIN INSERT INTO applied_at "
                  "VALUES (NEW.id, (julianday('now') - 2440587.5) * 86400000.0); END")
           .isOk())
    return 1;
  auto writer = SqliteDb::open(n1.db());
  if (!writer) return 1;
  sqlite3_busy_timeout(writer->handle(), 10000);
  QHash<int, double> committedAt;
  const int total = rate * seconds;
  const int firstId = rows + 1;
  QElapsedTimer pace;
  pace.start();
  for (int k = 0; k < total; ++k) {
    const qint64 due = qint64(k) * 1000000000LL / rate;
    while (pace.nsecsElapsed() < due) QThread::usleep(100);
    const int id = firstId + k;
    if (!writer
             ->exec(QStringLiteral(
                        "INSERT INTO Books(id, title, author) VALUES (%1, 'steady', 'bench')")
                        .arg(id))
             .isOk())
      return 1;
    committedAt.insert(id, double(QDateTime::currentMSecsSinceEpoch()));
  }
  const bool steadyAll = test::waitFor(
      [&] {
        return count(
                   QStringLiteral("SELECT count(*) FROM applied_at WHERE id >= %1").arg(firstId)) ==
               total;
      },
      120000, 50);
  QList<double> latencies;
  {
    auto stmt = reader->prepare(
        QStringLiteral("SELECT id, ms FROM applied_at WHERE id >= %1").arg(firstId));
    while (stmt && *stmt->step())
      latencies << stmt->columnDouble(1) - committedAt.value(int(stmt->columnInt(0)));
  }

  // The baseline last, on the same server, once the nodes are idle.
  const double raw = rawPublishRate(server.url(), rows, messageSize);

  QTextStream out(stdout);
  out << "replication benchmark: one nats-server "
      << "(" << server.url() << "), two nodes, 2 shards, compress on\n";
  out << QStringLiteral("%1 %2\n").arg("case", -46).arg("result");
  out << QStringLiteral("%1 %2 msgs/s\n")
             .arg(QStringLiteral("raw nats.c async publish, %1 x %2 B").arg(rows).arg(messageSize),
                  -46)
             .arg(raw, 0, 'f', 0);
  out << QStringLiteral("%1 %2 rows/s (%3% of raw; commit %4 s, all on node 2 after %5 s)%6\n")
             .arg(QStringLiteral("%1 rows, one transaction").arg(rows), -46)
             .arg(rows / bulkS, 0, 'f', 0)
             .arg(100.0 * (rows / bulkS) / raw, 0, 'f', 1)
             .arg(committedS, 0, 'f', 2)
             .arg(bulkS, 0, 'f', 2)
             .arg(all ? "" : " INCOMPLETE");
  out << QStringLiteral("%1 %2 rows/s (%3% of raw)\n")
             .arg(QStringLiteral("  same, counted from the end of the commit"), -46)
             .arg(rows / (bulkS - committedS), 0, 'f', 0)
             .arg(100.0 * (rows / (bulkS - committedS)) / raw, 0, 'f', 1);
  out << QStringLiteral("%1 p50 %2 ms, p99 %3 ms, max %4 ms (%5 rows)%6\n")
             .arg(QStringLiteral("steady %1 rows/s for %2 s, commit->applied")
                      .arg(rate)
                      .arg(seconds),
                  -46)
             .arg(percentile(latencies, 0.50), 0, 'f', 1)
             .arg(percentile(latencies, 0.99), 0, 'f', 1)
             .arg(latencies.isEmpty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()),
                  0, 'f', 1)
             .arg(latencies.size())
             .arg(steadyAll ? "" : " INCOMPLETE");
  for (auto& n : nodes) {
    n->stop();
    const QStringList warnings = n->log().split('\n').filter(" WRN ");
    out << QStringLiteral("node %1: %2 warnings logged%3\n")
               .arg(n->nodeId())
               .arg(warnings.size())
               .arg(warnings.isEmpty() ? QString()
                                       : ", first: " + warnings.first().section("] ", 1));
  }
  out.flush();
  return all && steadyAll ? 0 : 1;
}
