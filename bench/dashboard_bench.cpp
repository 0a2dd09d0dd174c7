// Dashboard responsiveness benchmark (issue 6). Node 1 is hosted here by the real GuiRunner
// (engine thread + the real window, offscreen unless QT_QPA_PLATFORM says otherwise); node 2 is
// a real harmonylite process; one nats-server. A writer thread commits rows into node 2's
// database at --rate rows/s (batches of 100), so node 1's engine applies them while the window
// is asked to render at 60 Hz (a display's vsync). It prints, for the same run:
//  - frame intervals (p50/p99/max) with the engine idle (baseline), while applying, and under
//    the same load with the status no longer delivered to the window (second baseline: what
//    the machine's scheduling alone costs);
//  - click latency: a synthetic mouse click on "Pause/Resume publishing" until the button shows
//    the new state and the next frame is rendered (p50/p99/max);
//  - the apply rate node 1 actually reached.
//
// With --history-hours H, node 1's history file is filled first with H hours of per-minute
// samples (docs/alerts.md#history) and the Overview's rate chart shows its 24 h range while it
// is measured; the file's size and the time to read it back are printed too.
//
//   dashboard_bench [--rate 10000] [--seconds 20] [--history-hours 24]
#include <QApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <thread>

#include "bench_stats.h"
#include "gui_runner.h"
#include "harmonylite/history.h"
#include "node_process.h"
#include "observe/history_store.h"
#include "sqlite/sqlite_db.h"
#include "test_support.h"

using namespace hl;
using hl::bench::percentile;

namespace {

// Runs the event loop for `ms`, recording the interval between rendered frames.
QList<double> frameIntervals(QQuickWindow* window, int ms,
                             const std::function<void()>& eachSecond = {}) {
  QList<double> intervals;
  QElapsedTimer clock;
  clock.start();
  qint64 last = -1;
  auto c = QObject::connect(window, &QQuickWindow::frameSwapped, [&] {
    const qint64 now = clock.nsecsElapsed();
    if (last >= 0) intervals << double(now - last) / 1e6;
    last = now;
  });
  QTimer vsync;
  vsync.setTimerType(Qt::PreciseTimer);
  QObject::connect(&vsync, &QTimer::timeout, window, &QQuickWindow::update);
  vsync.start(16);
  QTimer second;
  if (eachSecond) {
    QObject::connect(&second, &QTimer::timeout, eachSecond);
    second.start(1000);
  }
  while (clock.elapsed() < ms) QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
  QObject::disconnect(c);
  return intervals;
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  int rate = 10000, seconds = 20, historyHours = 0;
  const QStringList args = app.arguments();
  for (int i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--rate")
      rate = args[i + 1].toInt();
    else if (args[i] == "--seconds")
      seconds = args[i + 1].toInt();
    else if (args[i] == "--history-hours")
      historyHours = args[i + 1].toInt();
  }
  QTextStream out(stdout);
  QTemporaryDir dir;
  test::NatsServer server;
  if (Status s = server.start(); !s.isOk()) {
    out << "nats-server: " << s.message() << "\n";
    return 1;
  }

  test::NodeProcess::Options o;
  o.nodeId = 2;
  o.dir = dir.filePath("node2");
  o.urls = {server.url()};
  QDir().mkpath(o.dir);
  test::NodeProcess node2(o);
  if (Status s = node2.start(); !s.isOk()) {
    out << s.message() << "\n";
    return 1;
  }

  QDir().mkpath(dir.filePath("node1"));
  const QString db1 = dir.filePath("node1/app.db");
  test::sqlite3(db1, test::kReferenceSchema);
  auto loaded =
      loadConfigText(QStringLiteral("db_path = \"%1\"\nnode_id = 1\n[replication_log]\nshards = 2\n"
                                    "max_entries = 10000000\n[nats]\nurls = [\"%2\"]\n")
                         .arg(db1, server.url()),
                     "bench.toml");
  if (!loaded) {
    out << loaded.status().message() << "\n";
    return 1;
  }
  QString historyLine;
  if (historyHours > 0) {  // H hours of minutes, as a node running that long would have
    const QString path = loaded->config.effectiveHistoryPath();
    HistoryStore store(path, historyHours);
    if (!store.open().isOk()) return 1;
    NodeStatus s;
    for (int shard = 1; shard <= 2; ++shard) {
      ShardStatus sh;
      sh.shard = shard;
      s.shards << sh;
    }
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const int minutes = historyHours * 60;
    QElapsedTimer writing;
    writing.start();
    for (int m = 0; m < minutes; ++m) {
      s.published += 600000 + (m % 17) * 1000;
      s.shards[0].appliedChanges += 300000;
      s.shards[1].lagMessages = m % 50;
      s.pendingChanges = m % 100;
      s.dbSizeBytes = 100'000'000 + m;
      store.add(s, m, now - qint64(minutes - m) * 60000);
    }
    store.flush();
    const double writeMs = double(writing.nsecsElapsed()) / 1e6;
    QElapsedTimer reading;
    reading.start();
    const auto samples = readHistory(path, 0);
    historyLine = QStringLiteral(
                      "history: %1 h = %2 samples of 2 shards, file %3 KB (+ WAL %4 KB), "
                      "written in %5 ms (%6 us per minute), read back in %7 ms, CSV %8 KB\n")
                      .arg(historyHours)
                      .arg(samples.ok() ? samples->size() : -1)
                      .arg(QFileInfo(path).size() / 1024)
                      .arg(QFileInfo(path + "-wal").size() / 1024)
                      .arg(writeMs, 0, 'f', 0)
                      .arg(writeMs * 1000 / minutes, 0, 'f', 0)
                      .arg(double(reading.nsecsElapsed()) / 1e6, 0, 'f', 1)
                      .arg(samples.ok() ? historyCsv(*samples).size() / 1024 : -1);
  }
  GuiRunner gui(loaded->config);
  if (Status s = gui.start(); !s.isOk()) {
    out << s.message() << "\n";
    return 1;
  }
  QQuickWindow* window = gui.window();
  test::waitFor(
      [&] {
        return gui.controller()->engineState() == DashboardController::EngineState::Running &&
               gui.controller()->summary().natsConnected;
      },
      30000);

  if (historyHours > 0) {  // the 24 h range of the Overview's chart, drawn from the history
    auto rssKb = [] {
      QFile f("/proc/self/status");
      if (!f.open(QIODevice::ReadOnly)) return qint64(-1);
      for (const QByteArray& l : f.readAll().split('\n'))
        if (l.startsWith("VmRSS:")) return l.mid(6).trimmed().split(' ').first().toLongLong();
      return qint64(-1);
    };
    const qint64 before = rssKb();
    if (QQuickItem* chart = findSceneItem(window->contentItem(), "rateChart"))
      chart->setProperty("range", 2);
    for (int i = 0; i < 20; ++i) {  // drawn
      window->update();
      QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    }
    historyLine += QStringLiteral("the 24 h chart drawn from it: resident memory %1 -> %2 MB\n")
                       .arg(double(before) / 1024, 0, 'f', 1)
                       .arg(double(rssKb()) / 1024, 0, 'f', 1);
  }

  // Baseline: the same window, engine idle.
  const QList<double> idle = frameIntervals(window, 5000);

  auto reader = SqliteDb::open(db1);
  if (!reader) return 1;
  auto count = [&] {
    auto v = reader->queryInt("SELECT count(*) FROM Books");
    return v.ok() ? *v : int64_t(-1);
  };

  std::atomic<bool> stop{false};
  std::atomic<qint64> written{0};
  std::thread writer([&] {
    auto w = SqliteDb::open(node2.db());
    if (!w) return;
    sqlite3_busy_timeout(w->handle(), 10000);
    QElapsedTimer pace;
    pace.start();
    const int batch = 100;
    for (qint64 k = 0; !stop.load(); ++k) {
      const qint64 due = k * batch * 1000000000LL / rate;
      while (pace.nsecsElapsed() < due && !stop.load())
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      QString sql = "BEGIN;";
      for (int i = 0; i < batch; ++i)
        sql += "INSERT INTO Books(title, author, publication_year) VALUES('load', 'bench', 2000);";
      sql += "COMMIT;";
      if (!w->exec(sql).isOk()) return;
      written += batch;
    }
  });

  // Warm up until node 1 applies, then measure frames and clicks for `seconds`.
  test::waitFor([&] { return count() > rate; }, 30000);
  const int64_t rowsBefore = count();
  QElapsedTimer window_clock;
  window_clock.start();
  QList<double> clicks;
  QQuickItem* button = findSceneItem(window->contentItem(), "publishingButton");
  auto click = [&] {
    if (!button) return;
    const QString before = button->property("text").toString();
    QElapsedTimer t;
    t.start();
    const QPointF centre = button->mapToScene(QPointF(button->width() / 2, button->height() / 2));
    QTest::mouseClick(window, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
    bool swapped = false;
    auto c = QObject::connect(window, &QQuickWindow::frameSwapped,
                              [&] { swapped = button->property("text").toString() != before; });
    while (!swapped && t.elapsed() < 5000)
      QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    QObject::disconnect(c);
    clicks << double(t.nsecsElapsed()) / 1e6;
  };
  const QList<double> busy = frameIntervals(window, seconds * 1000, click);
  const double elapsedS = double(window_clock.nsecsElapsed()) / 1e9;
  const int64_t rowsAfter = count();
  // Second baseline, same load: the window no longer receives the status (nor the engine's
  // events), so what is left of the frame intervals is the machine's own scheduling under this
  // load.
  QObject::disconnect(gui.engine(), &EngineThread::statusChanged, gui.controller(), nullptr);
  QObject::disconnect(gui.engine(), &EngineThread::event, gui.controller(), nullptr);
  const QList<double> unfed = frameIntervals(window, std::max(5, seconds / 2) * 1000);
  stop = true;
  writer.join();
  if (gui.controller()->summary().publishingPaused) gui.controller()->resumePublishing();
  gui.stop();
  node2.stop();

  out << "dashboard benchmark: window " << window->width() << "x" << window->height() << " on "
      << QGuiApplication::platformName() << ", render requests at 60 Hz; node 1 = this process\n";
  auto line = [&](const QString& what, const QList<double>& v) {
    out << QStringLiteral("%1 p50 %2 ms, p99 %3 ms, max %4 ms (%5 samples)\n")
               .arg(what, -52)
               .arg(percentile(v, 0.5), 0, 'f', 1)
               .arg(percentile(v, 0.99), 0, 'f', 1)
               .arg(v.isEmpty() ? 0.0 : *std::max_element(v.begin(), v.end()), 0, 'f', 1)
               .arg(v.size());
  };
  out << historyLine;
  line("frame interval, engine idle (baseline)", idle);
  line(QStringLiteral("frame interval, applying (target p99 < 33 ms)"), busy);
  line("frame interval, same load, window not fed (baseline)", unfed);
  line("click -> new state rendered (target < 250 ms)", clicks);
  out << QStringLiteral("%1 %2 rows/s (writer asked for %3 rows/s on node 2)\n")
             .arg("rows applied by node 1 while measuring", -52)
             .arg(double(rowsAfter - rowsBefore) / elapsedS, 0, 'f', 0)
             .arg(rate);
  return 0;
}
