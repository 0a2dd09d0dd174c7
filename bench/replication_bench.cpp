// Replication benchmark (issues 4, 17): one nats-server and two harmonylite nodes on this
// machine.
//  - raw: nats.c asynchronous JetStream publish of the same message count and size, same run
//  - pipeline: the bare JetStream pipeline, same run: that publish on one connection while a
//    pull consumer on another fetches and acks every message; messages/s from the first publish
//    to the last ack (what replication could reach at most); and the same with one pull
//    consumer per node, since every node reads every message. The bulk and wide cases print
//    their ceiling: the writer's commit, then that pipeline, with no work of the nodes at all
//  - bulk: node 1 commits N rows in one transaction (sqlite3 program); rows/s until node 2
//    has them all; the same with wide rows (20 columns, about 1 KB)
//  - single-row transactions: one writer commits autocommit inserts as fast as it can for S
//    seconds; its commit rate, what node 2 applied meanwhile, and how long the rest took
//  - idle: a third node on a database without tables, headless, idle for --idle-seconds (60):
//    its resident memory at the end and the CPU it used
//  - steady: node 1 commits R rows/s for S seconds (one autocommit insert each); p50/p99 of
//    commit -> applied on node 2 (applied time taken by a trigger inside node 2's apply
//    transaction, commit time taken right after node 1's commit; same clock), and its stalls
//    (rows over 15 ms, grouped); its baseline, same run: the bare pipeline at the same rate
//    (one stream per shard, two push consumers), publish -> delivery
//
//   replication_bench [--rows 100000] [--rate 500] [--seconds 20] [--burst-seconds 10]
//                     [--idle-seconds 60] [--wide 1] [--nodes 2] [--shards 2]
//                     [--policy auto]
// --nodes and --shards for the scaling tables (the bulk and wide cases then wait for every node).
// --wide 0 leaves out the wide rows, --idle-seconds 0 the idle node (for profiling one case).
// --policy sets [conflicts] policy on both nodes (docs/configuration.md#conflicts): Books is
// keep-both under auto, so last-writer-wins shows what telling chosen keys apart costs.
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTextStream>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include <unistd.h>
#include <thread>

#include "bench_stats.h"
#include "nats/nats_handles.h"
#include "nats_test_client.h"
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

// An asynchronous JetStream publisher on a connection of its own, with a file stream for its
// subject.
struct AsyncPublisher {
  NatsConnectionPtr conn;
  JsCtxPtr ctx;
  QByteArray subject;

  bool open(const QString& url, const QByteArray& stream, const QByteArray& subjectName) {
    subject = subjectName;
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, url.toUtf8().constData()) != NATS_OK) return false;
    conn.reset(nc);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 8192;
    jo.PublishAsync.AckHandler = onAck;
    jsCtx* js = nullptr;
    if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) return false;
    ctx.reset(js);
    return addStream(stream, subject);
  }
  // Another file stream, for `subjectName`.
  bool addStream(const QByteArray& stream, const QByteArray& subjectName) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.constData();
    const char* subjects[] = {subjectName.constData()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo* si = nullptr;
    if (js_AddStream(&si, ctx.get(), &cfg, nullptr, nullptr) != NATS_OK) return false;
    jsStreamInfo_Destroy(si);
    return true;
  }
  // Queues `count` messages of `size` bytes, each with its own Nats-Msg-Id (the acks are
  // counted by onAck); false when one was refused.
  bool publish(int count, int size) {
    const QByteArray payload(size, 'x');
    for (int i = 0; i < count; ++i) {
      natsMsg* m = nullptr;
      natsMsg_Create(&m, subject.constData(), nullptr, payload.constData(), int(payload.size()));
      const QByteArray id = subject + '-' + QByteArray::number(i);
      natsMsgHeader_Set(m, "Nats-Msg-Id", id.constData());
      if (js_PublishMsgAsync(ctx.get(), &m, nullptr) != NATS_OK) {
        if (m) natsMsg_Destroy(m);
        std::fprintf(stderr, "%s: publish %d refused\n", subject.constData(), i);
        return false;
      }
    }
    return true;
  }
};

// Messages per second of a raw asynchronous JetStream publish of `count` messages of `size`.
double rawPublishRate(const QString& url, int count, int size) {
  AsyncPublisher pub;
  if (!pub.open(url, "RAW-BENCH", "raw-bench")) return -1;
  g_acks = 0;
  QElapsedTimer t;
  t.start();
  if (!pub.publish(count, size)) return -1;
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

// Messages per second of the bare pipeline: `count` messages of `size` published asynchronously
// on one connection while `readers` pull consumers, each on a connection and a thread of its own,
// fetch (batches of 1,000) and ack each; from the first publish to the last ack of the last
// reader. -1 when it could not run. One reader is the baseline; one per node is what
// the server does at least for the nodes, which all read every message
// (docs/replication.md#performance).
double pipelineRate(const QString& url, int count, int size, int readers = 1) {
  const QByteArray name = QByteArray::number(size) + "-" + QByteArray::number(readers);
  const QByteArray stream = "PIPE-BENCH-" + name;
  AsyncPublisher pub;
  if (!pub.open(url, stream, "pipe-bench-" + name)) return -1;
  struct Reader {
    NatsConnectionPtr conn;
    JsCtxPtr ctx;
    NatsSubscriptionPtr sub;
    std::atomic<int> received{0};
  };
  std::vector<Reader> all(size_t(std::max(1, readers)));
  for (size_t i = 0; i < all.size(); ++i) {
    Reader& r = all[i];
    auto nc = test::connectTo(url);
    if (!nc) return -1;
    r.conn = std::move(*nc);
    auto js = test::jetStream(r.conn.get());
    if (!js) return -1;
    r.ctx = std::move(*js);
    natsSubscription* sub = nullptr;
    const QByteArray durable = "pipe" + QByteArray::number(qulonglong(i));
    if (js_PullSubscribe(&sub, r.ctx.get(), pub.subject.constData(), durable.constData(), nullptr,
                         nullptr, nullptr) != NATS_OK)
      return -1;
    r.sub.reset(sub);
  }
  QElapsedTimer t;
  t.start();
  std::vector<std::thread> threads;
  for (Reader& r : all)
    threads.emplace_back([&r, count] {
      QElapsedTimer idle;
      idle.start();
      while (r.received.load() < count && idle.elapsed() < 30000) {
        natsMsgList list{};
        if (natsSubscription_Fetch(&list, r.sub.get(), 1000, 1000, nullptr) == NATS_OK) {
          for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
          r.received.fetch_add(list.Count);
          if (list.Count > 0) idle.restart();
        }
        natsMsgList_Destroy(&list);
      }
    });
  g_acks = 0;
  (void)pub.publish(count, size);  // a refused one leaves the readers short: reported below
  for (std::thread& th : threads) th.join();
  const double seconds = double(t.nsecsElapsed()) / 1e9;
  int least = count;
  for (Reader& r : all) {
    natsSubscription_Unsubscribe(r.sub.get());
    least = std::min(least, r.received.load());
  }
  all.clear();
  js_DeleteStream(pub.ctx.get(), stream.constData(), nullptr, nullptr);
  if (least < count) {
    std::fprintf(stderr, "pipeline: %d of %d messages fetched by a reader\n", least, count);
    return -1;
  }
  return count / seconds;
}

// (latency ms, ms after the first message) pairs -> the stalls: entries over 15 ms, grouped
// when they began within 100 ms of each other; the worst latency of each and when it began.
using Timed = std::pair<double, double>;
QList<Timed> groupStalls(QList<Timed> rows) {
  std::sort(rows.begin(), rows.end(),
            [](const Timed& a, const Timed& b) { return a.second < b.second; });
  QList<Timed> stalls;
  for (const Timed& row : rows) {
    if (row.first < 15) continue;
    if (!stalls.isEmpty() && row.second - stalls.last().second < 100)
      stalls.last().first = std::max(stalls.last().first, row.first);
    else
      stalls.append(row);
  }
  return stalls;
}

// The steady case's baseline: `rate` messages of `size` bytes a second for `seconds`, published
// asynchronously on one connection to `streams` file streams in turn (as the changes go to the
// shards' streams), every message read by two push consumers on connections of their own (as
// the two nodes read every shard). Per message and consumer: (ms from its publish to its
// delivery, ms after the first publish). Empty when it could not run.
QList<Timed> steadyPipeline(const QString& url, int rate, int seconds, int size, int streams) {
  const auto streamName = [](int i) { return "STEADY-BENCH-" + QByteArray::number(i); };
  const auto subjectName = [](int i) { return "steady-bench-" + QByteArray::number(i); };
  AsyncPublisher pub;
  if (!pub.open(url, streamName(1), subjectName(1))) return {};
  for (int i = 2; i <= streams; ++i)
    if (!pub.addStream(streamName(i), subjectName(i))) return {};
  struct Reader {
    NatsConnectionPtr conn;
    JsCtxPtr ctx;
    std::vector<natsSubscription*> subs;
  };
  struct Shared {
    std::mutex mutex;
    QList<Timed> seen;
    std::chrono::steady_clock::time_point start;
  } shared;
  auto onMessage = [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* sh = static_cast<Shared*>(closure);
    const qint64 sentNs = QByteArray(natsMsg_GetData(msg), 20).trimmed().toLongLong();
    const qint64 nowNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - sh->start)
                             .count();
    natsMsg_Ack(msg, nullptr);
    natsMsg_Destroy(msg);
    std::lock_guard lock(sh->mutex);
    sh->seen.append({double(nowNs - sentNs) / 1e6, double(sentNs) / 1e6});
  };
  shared.start = std::chrono::steady_clock::now();
  std::vector<Reader> readers(2);
  for (Reader& r : readers) {
    auto nc = test::connectTo(url);
    if (!nc) return {};
    r.conn = std::move(*nc);
    auto js = test::jetStream(r.conn.get());
    if (!js) return {};
    r.ctx = std::move(*js);
    for (int i = 1; i <= streams; ++i) {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.ManualAck = true;
      so.Config.AckPolicy = js_AckAll;
      natsSubscription* sub = nullptr;
      if (js_Subscribe(&sub, r.ctx.get(), subjectName(i).constData(), onMessage, &shared, nullptr,
                       &so, nullptr) != NATS_OK)
        return {};
      r.subs.push_back(sub);
    }
  }
  const int total = rate * seconds;
  QByteArray payload(std::max(size, 21), 'x');
  for (int k = 0; k < total; ++k) {
    const qint64 dueNs = qint64(k) * 1000000000LL / rate;
    qint64 nowNs = 0;
    while ((nowNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - shared.start)
                        .count()) < dueNs)
      QThread::usleep(100);
    const QByteArray stamp = QByteArray::number(nowNs).leftJustified(20, ' ');
    payload.replace(0, 20, stamp);
    natsMsg* m = nullptr;
    const QByteArray subject = subjectName(1 + k % streams);
    natsMsg_Create(&m, subject.constData(), nullptr, payload.constData(), int(payload.size()));
    if (js_PublishMsgAsync(pub.ctx.get(), &m, nullptr) != NATS_OK && m) natsMsg_Destroy(m);
  }
  QElapsedTimer wait;
  wait.start();
  while (wait.elapsed() < 30000) {
    {
      std::lock_guard lock(shared.mutex);
      if (shared.seen.size() >= 2 * total) break;
    }
    QThread::msleep(5);
  }
  for (Reader& r : readers)
    for (natsSubscription* sub : r.subs) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
  for (int i = 1; i <= streams; ++i)
    js_DeleteStream(pub.ctx.get(), streamName(i).constData(), nullptr, nullptr);
  std::lock_guard lock(shared.mutex);
  if (shared.seen.size() < 2 * total) {
    std::fprintf(stderr, "steady pipeline: %lld of %d deliveries\n",
                 static_cast<long long>(shared.seen.size()), 2 * total);
    return {};
  }
  return shared.seen;
}

// "19 ms at 9.79 s, ..."
QString stallsText(const QList<Timed>& stalls) {
  QStringList parts;
  for (const auto& [latency, at] : stalls)
    parts << QStringLiteral("%1 ms at %2 s").arg(latency, 0, 'f', 0).arg(at / 1000.0, 0, 'f', 2);
  return parts.isEmpty() ? QStringLiteral("none") : parts.join(", ");
}

// CPU seconds (user + system) a process has used so far, from /proc; -1 when unknown.
double cpuSeconds(qint64 pid) {
  QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
  if (!f.open(QIODevice::ReadOnly)) return -1;
  // The fields after the command (which may hold spaces), from its closing parenthesis.
  const QByteArray stat = f.readAll();
  const QList<QByteArray> fields = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
  if (fields.size() < 13) return -1;
  return double(fields[11].toLongLong() + fields[12].toLongLong()) / double(sysconf(_SC_CLK_TCK));
}

// Resident memory of a process in MB (VmRSS), -1 when unknown.
double residentMb(qint64 pid) {
  QFile f(QStringLiteral("/proc/%1/status").arg(pid));
  if (!f.open(QIODevice::ReadOnly)) return -1;
  for (const QByteArray& line : f.readAll().split('\n'))
    if (line.startsWith("VmRSS:"))
      return line.mid(6).trimmed().split(' ').first().toDouble() / 1024;
  return -1;
}

// The size of a message as a node sends it (compressed: streams are named "-c").
int messageBytes(const Change& change) {
  return int(encodeMessage(change, true).size());
}

// 19 text columns of 50 bytes (hex digits of a hash: compressible about as text is): a row of
// about 1 KB.
constexpr int kWideColumns = 19;
QString wideColumnsSql() {
  QStringList c;
  for (int i = 1; i <= kWideColumns; ++i) c << QStringLiteral("c%1 TEXT").arg(i);
  return c.join(", ");
}
QString wideValue(int row, int column) {
  const QByteArray seed = QByteArray::number(row) + ':' + QByteArray::number(column);
  return QString::fromLatin1(
      QCryptographicHash::hash(seed, QCryptographicHash::Sha256).toHex().left(50));
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  int rows = 100000, rate = 500, seconds = 20, burstSeconds = 10, idleSeconds = 60;
  bool wideCase = true;
  int nodeCount = 2, shards = 2;
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
    else if (args[i] == "--burst-seconds")
      burstSeconds = args[i + 1].toInt();
    else if (args[i] == "--idle-seconds")
      idleSeconds = args[i + 1].toInt();
    else if (args[i] == "--wide")
      wideCase = args[i + 1] != "0";
    else if (args[i] == "--nodes")
      nodeCount = std::max(2, args[i + 1].toInt());
    else if (args[i] == "--shards")
      shards = std::max(1, args[i + 1].toInt());
  }
  nats_Open(-1);
  QTemporaryDir dir;
  test::NatsServer server;
  if (Status s = server.start(); !s.isOk()) {
    std::fprintf(stderr, "%s\n", qPrintable(s.message()));
    return 1;
  }
  std::vector<std::unique_ptr<test::NodeProcess>> nodes;
  for (int i = 1; i <= nodeCount; ++i) {
    test::NodeProcess::Options o;
    o.nodeId = uint64_t(i);
    o.dir = dir.filePath(QStringLiteral("node%1").arg(i));
    o.urls = {server.url()};
    o.shards = shards;
    o.tablesToml = QStringLiteral("[conflicts]\npolicy = \"%1\"\n").arg(policy);
    o.schema =
        QString(test::kReferenceSchema) +
        QStringLiteral("CREATE TABLE Wide(id INTEGER PRIMARY KEY, %1);").arg(wideColumnsSql());
    if (i == 2) {
      o.schema += "CREATE TABLE applied_at(id INTEGER PRIMARY KEY, ms REAL);";
      o.topLevelToml = "ignore_tables = [\"applied_at\"]";
    }
    nodes.push_back(std::make_unique<test::NodeProcess>(o));
    if (Status s = nodes.back()->start(); !s.isOk()) {
      std::fprintf(stderr, "%s\n", qPrintable(s.message()));
      return 1;
    }
  }
  test::NodeProcess& n1 = *nodes[0];

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
  // CPU seconds each process used for a case, per 100,000 rows (the receiving nodes: their
  // mean).
  struct Cpu {
    double n1 = 0, others = 0, server = 0;
  };
  auto cpuNow = [&] {
    double others = 0;
    for (size_t i = 1; i < nodes.size(); ++i) others += cpuSeconds(nodes[i]->pid());
    return Cpu{cpuSeconds(n1.pid()), others / double(nodes.size() - 1), cpuSeconds(server.pid())};
  };
  auto cpuPer100k = [&](const Cpu& before) {
    const Cpu now = cpuNow();
    const double f = 100000.0 / std::max(1, rows);
    return Cpu{(now.n1 - before.n1) * f, (now.others - before.others) * f,
               (now.server - before.server) * f};
  };
  Cpu cpu = cpuNow();
  QElapsedTimer t;
  t.start();
  n1.sql(bulk);
  const double committedS = double(t.nsecsElapsed()) / 1e9;
  // Polled through connections of this process (a sqlite3 process per poll would load the
  // CPU); `reader` is node 2's.
  std::vector<SqliteDb> readers;
  for (size_t i = 1; i < nodes.size(); ++i) {
    auto r = SqliteDb::open(nodes[i]->db());
    if (!r) return 1;
    readers.push_back(std::move(r.value()));
  }
  SqliteDb* reader = &readers.front();
  auto countOn = [](SqliteDb& db, const QString& sql) {
    auto v = db.queryInt(sql);
    return v.ok() ? *v : int64_t(-1);
  };
  auto count = [&](const QString& sql) { return countOn(*reader, sql); };
  // Every 5 ms, a look-up of the last 32 keys (both shards' last rows are among them but for
  // a chance of 2^-31); the full count (a scan, about as long as the poll interval at 100,000
  // rows) only once they are there.
  auto allApplied = [&](const char* table) {
    return test::waitFor(
        [&] {
          for (SqliteDb& db : readers)
            if (countOn(db, QStringLiteral("SELECT count(*) FROM %1 WHERE id > %2")
                                .arg(table)
                                .arg(rows - 32)) != std::min(rows, 32) ||
                countOn(db, QStringLiteral("SELECT count(*) FROM %1").arg(table)) != rows)
              return false;
          return true;
        },
        600000, 5);
  };
  const bool all = allApplied("Books");
  const double bulkS = double(t.nsecsElapsed()) / 1e9;
  const Cpu bulkCpu = cpuPer100k(cpu);

  // The same with wide rows: 20 columns, about 1 KB each.
  QString wide = "BEGIN;";
  for (int i = 1; i <= rows; ++i) {
    QStringList values{QString::number(i)};
    for (int c = 1; c <= kWideColumns; ++c) values << "'" + wideValue(i, c) + "'";
    wide += QStringLiteral("INSERT INTO Wide VALUES (%1);").arg(values.join(','));
  }
  wide += "COMMIT;";
  Change wideSample;
  wideSample.fromNodeId = 1;
  wideSample.id = 12345;
  wideSample.table = "Wide";
  wideSample.row = {{"id", Value::integer(12345)}};
  for (int c = 1; c <= kWideColumns; ++c)
    wideSample.row.append({QStringLiteral("c%1").arg(c), Value::text(wideValue(12345, c))});
  wideSample.schemaHash = QString(64, 'a');
  const int wideMessageSize = messageBytes(wideSample);
  cpu = cpuNow();
  t.restart();
  if (wideCase) n1.sql(wide);
  const double wideCommittedS = double(t.nsecsElapsed()) / 1e9;
  const bool wideAll = !wideCase || allApplied("Wide");
  const double wideS = double(t.nsecsElapsed()) / 1e9;
  const Cpu wideCpu = cpuPer100k(cpu);

  // Single-row transactions: one writer, as fast as it can, for burstSeconds.
  auto burstWriter = SqliteDb::open(n1.db());
  if (!burstWriter) return 1;
  sqlite3_busy_timeout(burstWriter->handle(), 10000);
  constexpr int kBurstFirstId = 10000000;
  const QString burstApplied =
      QStringLiteral("SELECT count(*) FROM Books WHERE id >= %1").arg(kBurstFirstId);
  int burst = 0;
  QElapsedTimer burstClock;
  burstClock.start();
  while (burstClock.elapsed() < qint64(burstSeconds) * 1000) {
    if (!burstWriter
             ->exec(QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 'burst', 'b')")
                        .arg(kBurstFirstId + burst))
             .isOk())
      return 1;
    ++burst;
  }
  const double burstS = double(burstClock.nsecsElapsed()) / 1e9;
  const int64_t appliedDuring = count(burstApplied);
  QElapsedTimer drain;
  drain.start();
  const bool burstAll = test::waitFor([&] { return count(burstApplied) == burst; }, 120000, 5);
  const double drainMs = double(drain.nsecsElapsed()) / 1e6;

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
  QList<Timed> stalls;  // of the rows over 15 ms (groupStalls)
  {
    QList<Timed> rows;  // (latency, ms after the first commit)
    auto stmt = reader->prepare(
        QStringLiteral("SELECT id, ms FROM applied_at WHERE id >= %1").arg(firstId));
    while (stmt && *stmt->step()) {
      const int id = int(stmt->columnInt(0));
      latencies << stmt->columnDouble(1) - committedAt.value(id);
      rows.append({latencies.last(), committedAt.value(id) - committedAt.value(firstId)});
    }
    stalls = groupStalls(rows);
  }

  // The baseline last, on the same server, once the nodes are idle.
  const double raw = rawPublishRate(server.url(), rows, messageSize);
  const double serverBefore = cpuSeconds(server.pid());
  const double pipeline = pipelineRate(server.url(), rows, messageSize);
  const double pipelineServerCpu =
      (cpuSeconds(server.pid()) - serverBefore) * 100000.0 / std::max(1, rows);
  const double widePipeline = wideCase ? pipelineRate(server.url(), rows, 1024) : 0;
  // What the server does at least for the nodes: every node reads every message. The best of
  // three runs, so that the ceiling printed below errs high rather than low.
  const auto bestOfThree = [&](int size) {
    double best = -1;
    for (int run = 0; run < 3; ++run)
      best = std::max(best, pipelineRate(server.url(), rows, size, nodeCount));
    return best;
  };
  const double pipelinePerNode = bestOfThree(messageSize);
  const double widePipelinePerNode = wideCase ? bestOfThree(1024) : 0;
  // The steady case's: the same rate and message size without the nodes.
  const QList<Timed> steadyBare =
      seconds > 0 ? steadyPipeline(server.url(), rate, seconds, messageSize, shards)
                  : QList<Timed>{};

  QTextStream out(stdout);
  out << "replication benchmark: one nats-server "
      << "(" << server.url() << "), " << nodeCount << " nodes, " << shards
      << " shards, compress on; bulk and wide count until every node has all rows\n";
  out << QStringLiteral("%1 %2\n").arg("case", -46).arg("result");
  out << QStringLiteral("%1 %2 msgs/s\n")
             .arg(QStringLiteral("raw nats.c async publish, %1 x %2 B").arg(rows).arg(messageSize),
                  -46)
             .arg(raw, 0, 'f', 0);
  out << QStringLiteral("%1 %2 msgs/s\n")
             .arg(QStringLiteral("bare pipeline (publish + pull/ack), %1 x %2 B")
                      .arg(rows)
                      .arg(messageSize),
                  -46)
             .arg(pipeline, 0, 'f', 0);
  out << QStringLiteral("%1 nats-server %2 s\n")
             .arg(QStringLiteral("  CPU per 100,000 messages"), -46)
             .arg(pipelineServerCpu, 0, 'f', 2);
  const QString everyNode = nodeCount > 2 ? "every node" : "node 2";
  out << QStringLiteral("%1 %2 rows/s (%3% of raw; commit %4 s, all on %7 after %5 s)%6\n")
             .arg(QStringLiteral("%1 rows, one transaction").arg(rows), -46)
             .arg(rows / bulkS, 0, 'f', 0)
             .arg(100.0 * (rows / bulkS) / raw, 0, 'f', 1)
             .arg(committedS, 0, 'f', 2)
             .arg(bulkS, 0, 'f', 2)
             .arg(all ? "" : " INCOMPLETE", everyNode);
  out << QStringLiteral("%1 %2 rows/s (%3% of raw)\n")
             .arg(QStringLiteral("  same, counted from the end of the commit"), -46)
             .arg(rows / (bulkS - committedS), 0, 'f', 0)
             .arg(100.0 * (rows / (bulkS - committedS)) / raw, 0, 'f', 1);
  out << QStringLiteral("%1 %2% of the bare pipeline\n")
             .arg(QStringLiteral("  same, against the pipeline"), -46)
             .arg(100.0 * (rows / bulkS) / pipeline, 0, 'f', 1);
  // The most any node could reach here: nothing is sent before the writer's commit, and then the
  // server delivers every message to every node, with no work of the nodes at all.
  const auto ceilingLines = [&](double perNode, double commitS, double baseline) {
    out << QStringLiteral("%1 %2 msgs/s\n")
               .arg(QStringLiteral("  pipeline, a reader per node (%1), best of 3").arg(nodeCount),
                    -46)
               .arg(perNode, 0, 'f', 0);
    const double ceiling = rows / (commitS + rows / perNode);
    out << QStringLiteral("%1 %2 rows/s, %3% of the bare pipeline\n")
               .arg(QStringLiteral("  ceiling: the commit, then that pipeline"), -46)
               .arg(ceiling, 0, 'f', 0)
               .arg(100.0 * ceiling / baseline, 0, 'f', 1);
  };
  ceilingLines(pipelinePerNode, committedS, pipeline);
  auto cpuLine = [&](const Cpu& c) {
    out << QStringLiteral("%1 node 1 %2 s, %3 %4 s, nats-server %5 s\n")
               .arg(QStringLiteral("  CPU per 100,000 rows"), -46)
               .arg(c.n1, 0, 'f', 2)
               .arg(nodes.size() > 2 ? "each other node" : "node 2")
               .arg(c.others, 0, 'f', 2)
               .arg(c.server, 0, 'f', 2);
  };
  cpuLine(bulkCpu);
  if (wideCase) {
    out << QStringLiteral("%1 %2 msgs/s\n")
               .arg(QStringLiteral("bare pipeline, %1 x 1024 B").arg(rows), -46)
               .arg(widePipeline, 0, 'f', 0);
    out << QStringLiteral(
               "%1 %2 rows/s (%3% of the 1 KB pipeline; commit %4 s, all on %8 after %5 s; "
               "%6 B per message)%7\n")
               .arg(QStringLiteral("%1 wide rows (20 columns), one transaction").arg(rows), -46)
               .arg(rows / wideS, 0, 'f', 0)
               .arg(100.0 * (rows / wideS) / widePipeline, 0, 'f', 1)
               .arg(wideCommittedS, 0, 'f', 2)
               .arg(wideS, 0, 'f', 2)
               .arg(wideMessageSize)
               .arg(wideAll ? "" : " INCOMPLETE", everyNode);
    ceilingLines(widePipelinePerNode, wideCommittedS, widePipeline);
    cpuLine(wideCpu);
  }
  out << QStringLiteral(
             "%1 %2 commits/s (%3 in %4 s); node 2 applied %5% meanwhile; the rest in %6 ms%7\n")
             .arg(QStringLiteral("single-row transactions, one writer"), -46)
             .arg(burst / burstS, 0, 'f', 0)
             .arg(burst)
             .arg(burstS, 0, 'f', 1)
             .arg(100.0 * double(appliedDuring) / std::max(1, burst), 0, 'f', 1)
             .arg(drainMs, 0, 'f', 0)
             .arg(burstAll ? "" : " INCOMPLETE");
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
  // When the stalls happened (from the first steady commit), to match them with periodic work;
  // then the same for the bare pipeline at the same rate.
  out << QStringLiteral("%1 %2\n")
             .arg(QStringLiteral("  stalls over 15 ms"), -46)
             .arg(stallsText(stalls));
  if (seconds > 0) {
    QList<double> bare;
    for (const Timed& t : steadyBare) bare << t.first;
    out << QStringLiteral("%1 p50 %2 ms, p99 %3 ms, max %4 ms (%5 deliveries)%6\n")
               .arg(QStringLiteral("bare pipeline, %1 msgs/s, 2 readers").arg(rate), -46)
               .arg(percentile(bare, 0.50), 0, 'f', 1)
               .arg(percentile(bare, 0.99), 0, 'f', 1)
               .arg(bare.isEmpty() ? 0.0 : *std::max_element(bare.begin(), bare.end()), 0, 'f', 1)
               .arg(bare.size())
               .arg(bare.isEmpty() ? " UNAVAILABLE" : "");
    out << QStringLiteral("%1 %2\n")
               .arg(QStringLiteral("  stalls over 15 ms"), -46)
               .arg(stallsText(groupStalls(steadyBare)));
  }
  // Idle: a node without tables, on a server of its own (nothing to receive), once it runs, for
  // idleSeconds.
  test::NatsServer idleServer;
  if (Status st = idleServer.start(); !st.isOk()) {
    std::fprintf(stderr, "%s\n", qPrintable(st.message()));
    return 1;
  }
  {
    test::NodeProcess::Options o;
    o.nodeId = uint64_t(nodeCount + 1);
    o.dir = dir.filePath("idle");
    o.urls = {idleServer.url()};
    o.schema.clear();
    nodes.push_back(std::make_unique<test::NodeProcess>(o));
  }
  test::NodeProcess& idle = *nodes.back();
  double idleCpu = -1, idleRss = -1;
  if (idleSeconds > 0 && idle.start().isOk()) {
    QThread::sleep(2);  // past its start-up work
    const double before = cpuSeconds(idle.pid());
    QThread::sleep(idleSeconds);
    idleCpu = 100.0 * (cpuSeconds(idle.pid()) - before) / std::max(1, idleSeconds);
    idleRss = residentMb(idle.pid());
  }
  if (idleSeconds > 0)
    out << QStringLiteral("%1 resident %2 MB, CPU %3% of a core\n")
               .arg(QStringLiteral("idle node without tables, %1 s").arg(idleSeconds), -46)
               .arg(idleRss, 0, 'f', 1)
               .arg(idleCpu, 0, 'f', 2);
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
  return all && wideAll && burstAll && steadyAll && pipeline > 0 && pipelinePerNode > 0 &&
                 (!wideCase || (widePipeline > 0 && widePipelinePerNode > 0)) &&
                 (idleSeconds == 0 || idleRss > 0) && (seconds == 0 || !steadyBare.isEmpty())
             ? 0
             : 1;
}
