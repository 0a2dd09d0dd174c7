// The whole window on small and large screens, in both themes (docs/dashboard.md#small-screens):
// Main.qml with a DashboardController fed a busy node (long paths and hashes, errors, firing
// alerts, a cluster, dead letters, snapshots, a consistency difference). For every page at
// 1024x600 and 1920x1080:
//   - nothing is cut off: every visible item lies inside its page, or inside the content of the
//     scrollable area it is in (a Text that is not elided or wrapped counts with its whole text);
//   - every interactive item (button, combo box, text field, check box...) has an accessible
//     name and description;
//   - Tab reaches every enabled interactive item of the page;
// and a screenshot of each page in each theme is saved in <build>/tests/screenshots/ (test
// artifacts). The window also opens no larger than the screen's free area.
#include <QAccessible>
#include <QApplication>
#include <QDir>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QScreen>
#include <QtTest>

#include "dashboard_controller.h"
#include "gui_runner.h"
#include "observe/history_store.h"

using namespace hl;

namespace {

const QStringList kPages = {"overviewPage", "shardsPage",    "clusterPage", "eventsPage",
                            "settingsPage", "snapshotsPage", "schemaPage"};

NodeStatus busyNode() {
  const qint64 now = QDateTime::currentMSecsSinceEpoch();
  NodeStatus s;
  s.nodeId = 7;
  s.version = "0.9.0";
  s.uptimeSeconds = 3 * 86400 + 3600;
  s.dbPath = "/var/lib/harmonylite/a-rather-long-directory-name/of-an-edge-gateway/production.db";
  s.dbSizeBytes = 123456789;
  s.walSizeBytes = 4567890;
  s.dbConnected = true;
  s.natsConnected = true;
  s.natsServer = "nats://gateway-17.plant-floor.example.internal:4222";
  s.embeddedServer = ServerState::None;
  s.cdcInstalled = true;
  s.tablesTracked = 12;
  s.schemaHash = "5f0c3a9e1b7d2c4f8a6e0d1b3c5a7e9f1d3b5c7a9e1f3d5b7c9a1e3f5d7b9c1a";
  s.schema.hash = s.schemaHash;
  s.pendingChanges = 123456;
  s.published = 98765432;
  s.conflictCount = 1000;
  s.deadLetterCount = 3;
  s.insertCollisions.insert("Books", 12);
  s.lastPublishedMs = now - 3000;
  s.lastReplicatedMs = now - 2000;
  for (int i = 1; i <= 4; ++i) {
    ShardStatus sh;
    sh.shard = i;
    sh.stream = QStringLiteral("harmonylite-changes-c-%1").arg(i);
    sh.applied = 123456789;
    sh.lagMessages = i * 1000;
    sh.lagSeconds = i * 1.5;
    sh.state = i == 2   ? ShardState::Stopped
               : i == 3 ? ShardState::SchemaPaused
                        : ShardState::Running;
    sh.lastError = i == 2 ? "stream harmonylite-changes-c-2 is unavailable: no responders "
                            "available for request (nats: timeout after 5000 ms)"
                          : QString();
    sh.waitingForHash = i == 3 ? s.schemaHash : QString();
    sh.waitingReason = i == 3 ? "no column email_address_of_the_customer in CustomerAccounts" : "";
    sh.waitingTable = i == 3 ? "CustomerAccounts" : "";
    sh.waitingFromNode = 2;
    sh.waitingSeq = 4242;
    sh.waitingSinceMs = now - 60000;
    s.shards << sh;
  }
  for (int i = 1; i <= 3; ++i) {
    PeerStatus p;
    p.nodeId = quint64(i == 1 ? 7 : i);
    p.version = "0.9.0";
    p.lastSeenMs = now - 1000;
    p.healthy = i != 3;
    p.reason = i == 3 ? "NATS not connected" : "";
    p.schemaHash = i == 2 ? "0123456789abcdef0123456789abcdef" : s.schemaHash;
    p.lagMessages = 10;
    p.shardStates = {{1, ShardState::Running}, {2, ShardState::Stopped}};
    s.cluster << p;
  }
  for (int i = 1; i <= 3; ++i) {
    DeadLetterInfo d;
    d.id = i;
    d.at = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
    d.stream = "harmonylite-changes-c-1";
    d.seq = quint64(1000 + i);
    d.reason = "decode: malformed CBOR at byte 17 of a 4096-byte message from node 2";
    s.recentDeadLetters << d;
  }
  SnapshotStatus& sn = s.snapshots;
  sn.enabled = true;
  sn.store = "s3 bucket harmonylite-snapshots-of-the-plant-floor at minio.example.internal:9000";
  sn.catalogReadMs = now - 1000;
  for (int i = 0; i < 3; ++i) {
    SnapshotInfo info;
    info.id = QStringLiteral("20261130T15010%1123Z-n7").arg(i);
    info.object = info.id + ".db";
    info.takenAtMs = now - i * 3600000;
    info.nodeId = 7;
    info.version = "0.9.0";
    info.sizeBytes = 123456789;
    info.watermark = {100, 200, 300, 400};
    info.schemaHash = s.schemaHash;
    info.sha256 = QString(64, 'a');
    info.rowCounts = {{"Books", 1000000}, {"CustomerAccounts", 5000}};
    info.latest = i == 0;
    sn.catalog << info;
  }
  ConsistencyStatus& c = s.consistency;
  c.verdict = "differ";
  c.lastCheckMs = now - 5000;
  c.positions = "harmonylite-changes-c-1=123 harmonylite-changes-c-2=456";
  c.tablesChecked = 2;
  c.tablesDiffering = 1;
  c.rowsDiffering = 1;
  c.nodes = {{7, "agrees"}, {2, "differs in Books"}, {3, "not comparable: applied 560 > 559"}};
  ConsistencyTableView t;
  t.table = "Books";
  t.agree = false;
  t.digests = {"node 7: 30 rows, digest 5f0c3a9e1b7d", "node 2: 30 rows, digest 0123456789ab"};
  t.rows = {{"id=7", {"node 7: id=7, title=A long title of a book", "node 2: (no such row)"}}};
  c.tables << t;
  AlertInfo a;
  a.rule = "shard_stopped";
  a.severity = AlertSeverity::Critical;
  a.firing = true;
  a.sinceMs = now - 60000;
  a.message = "shard 2 stopped: stream harmonylite-changes-c-2 is unavailable";
  s.alerts << a;
  s.healthy = true;
  return s;
}

bool isInteractive(const QQuickItem* item) {
  // A combo box's own text field (the Fusion style's) is the combo box.
  for (const QQuickItem* a = item->parentItem(); a; a = a->parentItem())
    if (a->inherits("QQuickComboBox")) return false;
  for (const char* type : {"QQuickAbstractButton", "QQuickComboBox", "QQuickTextField",
                           "QQuickTextArea", "QQuickSpinBox", "QQuickSlider"})
    if (item->inherits(type)) return true;
  return false;
}

// Visible, with an area, and not inside a popup (dialogs are closed).
bool shown(const QQuickItem* item) {
  return item->isVisible() && item->width() > 0 && item->height() > 0 && item->opacity() > 0;
}

class LayoutWalk {
 public:
  QStringList clipped;
  QList<QQuickItem*> interactive;

  // `bounds`: where `item` must lie, in scene coordinates.
  void walk(QQuickItem* item, QRectF bounds, const QString& path) {
    if (!shown(item)) return;
    const QString here =
        path + "/" +
        (item->objectName().isEmpty() ? QString::fromLatin1(item->metaObject()->className())
                                      : item->objectName());
    if (isInteractive(item)) interactive << item;
    QRectF r = item->mapRectToScene(QRectF(0, 0, item->width(), item->height()));
    if (item->inherits("QQuickText")) {
      // A text neither elided nor wrapped draws its whole width, whatever its box.
      const bool elided = item->property("elide").toInt() != 0;
      const bool wrapped = item->property("wrapMode").toInt() != 0;
      if (!elided && !wrapped)
        r.setWidth(std::max(r.width(), item->property("contentWidth").toReal()));
    }
    constexpr qreal kSlack = 1.5;
    if (r.left() < bounds.left() - kSlack || r.right() > bounds.right() + kSlack)
      clipped << QStringLiteral("%1: x %2..%3 outside %4..%5")
                     .arg(here)
                     .arg(r.left())
                     .arg(r.right())
                     .arg(bounds.left())
                     .arg(bounds.right());
    if (item->inherits("QQuickTableView")) return;  // its cells are its own business
    if (item->inherits("QQuickFlickable")) {
      // The content: as wide as the view, or as wide as the content when it scrolls sideways.
      QQuickItem* content = item->property("contentItem").value<QQuickItem*>();
      const qreal cw = std::max(item->width(), item->property("contentWidth").toReal());
      const qreal ch = std::max(item->height(), item->property("contentHeight").toReal());
      const bool sideways = item->property("contentWidth").toReal() > item->width() + kSlack &&
                            item->property("flickableDirection").toInt() != 2 /* Vertical */;
      QRectF inner = content ? content->mapRectToScene(QRectF(0, 0, cw, ch)) : r;
      inner.setLeft(std::max(inner.left(), r.left()));
      if (!sideways) inner.setRight(std::min(inner.right(), r.right()));
      for (QQuickItem* child : item->childItems()) walk(child, inner, here);
      return;
    }
    for (QQuickItem* child : item->childItems()) walk(child, bounds, here);
  }
};

}  // namespace

class TestLayout : public QObject {
  Q_OBJECT
  DashboardController m_controller;
  std::unique_ptr<QQmlApplicationEngine> m_qml;
  QQuickWindow* m_window = nullptr;
  QString m_shots;

  QQuickItem* page(const QString& name) { return findSceneItem(m_window->contentItem(), name); }
  void show(int index, const QSize& size) {
    m_window->resize(size);
    m_window->setProperty("currentPage", index);
    // Layouts settle over a few polishes: render until two frames agree.
    QImage before;
    for (int i = 0; i < 10; ++i) {
      QCoreApplication::processEvents();
      const QImage now = m_window->grabWindow();
      if (now == before) break;
      before = now;
    }
  }

 private slots:
  void initTestCase() {
    QAccessible::setActive(true);  // accessible interfaces for the items
    registerDashboardTypes();
    Config config;
    config.nodeId = 7;
    config.dbPath = busyNode().dbPath;
    m_controller.setConfig(config);
    m_controller.onEngineStarting();
    m_controller.onEngineStarted();
    const NodeStatus s = busyNode();
    m_controller.applyStatusAt(s, QDateTime::currentMSecsSinceEpoch(), 1000);
    NodeStatus next = s;
    next.published += 500;
    m_controller.applyStatusAt(next, QDateTime::currentMSecsSinceEpoch(), 2000);
    for (const DeadLetterInfo& d : s.recentDeadLetters)
      m_controller.onEngineEvent(EngineEvent::deadLettered(d));
    m_controller.onEngineEvent(EngineEvent::alertChanged(s.alerts.first()));
    m_qml = std::make_unique<QQmlApplicationEngine>();
    m_qml->setInitialProperties({{"controller", QVariant::fromValue(&m_controller)}});
    m_qml->load(QUrl("qrc:/qt-project.org/imports/HarmonyLite/Dashboard/Main.qml"));
    QVERIFY(!m_qml->rootObjects().isEmpty());
    m_window = qobject_cast<QQuickWindow*>(m_qml->rootObjects().first());
    QVERIFY(m_window);
    QVERIFY(QTest::qWaitForWindowExposed(m_window));
    m_shots = QDir(QCoreApplication::applicationDirPath()).filePath("screenshots");
    QVERIFY(QDir().mkpath(m_shots));
  }

  // It opens no larger than the screen's free area (the offscreen screen is 800x600 here).
  void opensWithinTheScreen() {
    const QRect free = m_window->screen()->availableGeometry();
    QVERIFY2(m_window->width() <= free.width() && m_window->height() <= free.height(),
             qPrintable(QStringLiteral("%1x%2 on %3x%4")
                            .arg(m_window->width())
                            .arg(m_window->height())
                            .arg(free.width())
                            .arg(free.height())));
    QVERIFY(m_window->minimumWidth() <= free.width());
  }

  void everyPageFitsAndIsReachable_data() {
    QTest::addColumn<int>("index");
    QTest::addColumn<QSize>("size");
    for (const QSize& size : {QSize(1024, 600), QSize(1920, 1080)})
      for (int i = 0; i < kPages.size(); ++i)
        QTest::newRow(qPrintable(
            QStringLiteral("%1 %2x%3").arg(kPages[i]).arg(size.width()).arg(size.height())))
            << i << size;
  }
  void everyPageFitsAndIsReachable() {
    QFETCH(int, index);
    QFETCH(QSize, size);
    show(index, size);
    QQuickItem* p = page(kPages[index]);
    QVERIFY(p);
    QVERIFY(p->isVisible());
    const QRectF pageRect = p->mapRectToScene(QRectF(0, 0, p->width(), p->height()));
    QVERIFY2(pageRect.right() <= size.width() + 1 && pageRect.bottom() <= size.height() + 1,
             "the page is larger than the window");

    LayoutWalk walk;
    walk.walk(p, pageRect, QString());
    QVERIFY2(walk.clipped.isEmpty(), qPrintable(walk.clipped.join('\n')));

    QStringList unnamed;
    QSet<QQuickItem*> expected;
    for (QQuickItem* item : walk.interactive) {
      QAccessibleInterface* iface = QAccessible::queryAccessibleInterface(item);
      const QString name = iface ? iface->text(QAccessible::Name) : QString();
      const QString description = iface ? iface->text(QAccessible::Description) : QString();
      if (name.trimmed().isEmpty() || description.trimmed().isEmpty())
        unnamed << item->objectName() + " (" + item->metaObject()->className() + ")" +
                       (name.trimmed().isEmpty() ? " name" : " description");
      if (item->isEnabled() && item->property("focusPolicy").toInt() != Qt::NoFocus)
        expected.insert(item);
    }
    QVERIFY2(unnamed.isEmpty(), qPrintable("no accessible: " + unnamed.join(", ")));

    // Tab from the navigation rail through the page until the focus comes round again.
    QQuickItem* rail = findSceneItem(m_window->contentItem(), "navigation");
    QVERIFY(rail);
    rail->forceActiveFocus(Qt::TabFocusReason);
    QSet<QQuickItem*> reached;
    for (int i = 0; i < 400 && reached.size() < expected.size(); ++i) {
      QTest::keyClick(m_window, Qt::Key_Tab);
      QQuickItem* f = m_window->activeFocusItem();
      for (QQuickItem* a = f; a; a = a->parentItem())
        if (expected.contains(a)) reached.insert(a);
    }
    QStringList missed;
    for (QQuickItem* item : expected)
      if (!reached.contains(item))
        missed << item->objectName() + " (" + item->metaObject()->className() + ")";
    QVERIFY2(missed.isEmpty(), qPrintable("not reached with Tab: " + missed.join(", ")));
    QVERIFY(!expected.isEmpty());  // every page has controls
    qInfo().noquote() << kPages[index] << expected.size() << "controls reached with Tab";
  }

  // The charts' 1 h and 24 h ranges read the node's history file (docs/alerts.md#history):
  // 90 minutes of samples give 60 points at 1 h and 90 at 24 h, with their times on the x axis;
  // the history and the event list save as CSV.
  void chartsShowHistoryAndSaveCsv() {
    QTemporaryDir dir;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 first = (now - 90 * 60000) / 60000 * 60000 + 60000;
    {
      HistoryStore store(dir.filePath("history.db"), 24);
      QVERIFY(store.open().isOk());
      NodeStatus s = busyNode();
      for (int m = 0; m < 90; ++m) {
        s.published = 6000 * m;  // 100 per second
        store.add(s, 0, first + m * 60000);
      }
      store.flush();
    }
    Config config = m_controller.config();
    config.history.path = dir.filePath("history.db");
    m_controller.setConfig(config);
    QCOMPARE(m_controller.history(24).size(), 90);
    show(0, QSize(1920, 1080));
    QQuickItem* chart = findSceneItem(m_window->contentItem(), "rateChart");
    QVERIFY(chart);
    QObject* series = chart->property("publishSeries").value<QObject*>();
    QVERIFY(series);
    for (const auto& [index, points] : {std::pair{2, 90}, std::pair{1, 60}}) {
      auto* button =
          findSceneItem(m_window->contentItem(), QStringLiteral("rateRange_%1").arg(index));
      QVERIFY(button);
      QTest::mouseClick(
          m_window, Qt::LeftButton, {},
          button->mapToScene(QPointF(button->width() / 2, button->height() / 2)).toPoint());
      QTRY_COMPARE(chart->property("range").toInt(), index);
      // 89 full minutes before now; the last one (index 89) is the newest.
      QTRY_VERIFY2(series->property("count").toInt() >= points - 1 &&
                       series->property("count").toInt() <= points,
                   qPrintable(QString::number(series->property("count").toInt())));
      QPointF last;
      QMetaObject::invokeMethod(series, "at", Q_RETURN_ARG(QPointF, last),
                                Q_ARG(int, series->property("count").toInt() - 1));
      QCOMPARE(qint64(last.x()), first + 89 * 60000);
      QVERIFY2(qAbs(last.y() - 100.0) < 0.01, qPrintable(QString::number(last.y())));
    }
    show(0, QSize(1920, 1080));
    const QImage shot = m_window->grabWindow();
    QVERIFY(shot.save(QDir(m_shots).filePath("overviewPage-history-1h.png")));

    QSignalSpy answers(&m_controller, &DashboardController::controlFinished);
    m_controller.saveHistoryCsv(QUrl::fromLocalFile(dir.filePath("h.csv")));
    QCOMPARE(answers.size(), 1);
    QVERIFY2(answers.at(0).at(0).toBool(), qPrintable(answers.at(0).at(1).toString()));
    QFile h(dir.filePath("h.csv"));
    QVERIFY(h.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = h.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 91);
    QVERIFY(lines[0].startsWith("time,published_per_second"));
    m_controller.saveEventsCsv(QUrl::fromLocalFile(dir.filePath("e.csv")));
    QVERIFY(answers.at(1).at(0).toBool());
    QFile e(dir.filePath("e.csv"));
    QVERIFY(e.open(QIODevice::ReadOnly));
    const QList<QByteArray> events = e.readAll().trimmed().split('\n');
    QCOMPARE(events.size(), m_controller.events()->rowCount() + 1);
    QCOMPARE(events[0].trimmed(), QByteArray("time,kind,title,detail"));
    QVERIFY2(events[1].contains(",alert,Alert shard_stopped fired,"), events[1].constData());
    bool letter = false;
    for (const QByteArray& line : events)
      letter = letter || line.contains(
                             ",dead-letter,Dead letter #1: harmonylite-changes-c-1 seq "
                             "1001,decode: malformed CBOR at byte 17");
    QVERIFY2(letter, events.join('\n').constData());
    // A detail with a comma or a quote is quoted (RFC 4180).
    m_controller.onEngineEvent(EngineEvent::shardError(1, "timeout, then \"no responders\""));
    m_controller.saveEventsCsv(QUrl::fromLocalFile(dir.filePath("e2.csv")));
    QFile e2(dir.filePath("e2.csv"));
    QVERIFY(e2.open(QIODevice::ReadOnly));
    const QByteArray quoted = e2.readAll().split('\n').value(1);
    QVERIFY2(quoted.contains(",error,Shard 1 error,\"timeout, then \"\"no responders\"\"\""),
             quoted.constData());
    // A file that cannot be written: the answer says so.
    m_controller.saveEventsCsv(QUrl::fromLocalFile(dir.filePath("no/such/dir/e.csv")));
    QVERIFY(!answers.at(3).at(0).toBool());
    QVERIFY(answers.at(3).at(1).toString().startsWith("Events not saved to"));
  }

  // Every page in both themes, at 1024x600 and 1920x1080, saved as PNG.
  void screenshots() {
    for (const QString& theme : {QStringLiteral("light"), QStringLiteral("dark")}) {
      m_controller.setTheme(theme);
      QCOMPARE(m_controller.darkTheme(), theme == "dark");
      for (const QSize& size : {QSize(1024, 600), QSize(1920, 1080)})
        for (int i = 0; i < kPages.size(); ++i) {
          show(i, size);
          const QImage shot = m_window->grabWindow();
          QCOMPARE(shot.size(), size * m_window->devicePixelRatio());
          const QString file = QDir(m_shots).filePath(QStringLiteral("%1-%2x%3-%4.png")
                                                          .arg(kPages[i])
                                                          .arg(size.width())
                                                          .arg(size.height())
                                                          .arg(theme));
          QVERIFY2(shot.save(file), qPrintable(file));
        }
      // The background follows the theme: dark pixels in the dark one.
      const QColor corner = m_window->grabWindow().pixelColor(size().width() - 5, 5);
      QCOMPARE(corner.lightness() < 128, theme == "dark");
    }
    m_controller.setTheme("system");
  }

 private:
  QSize size() const { return m_window->size(); }
};

int main(int argc, char** argv) {
  QApplication app(argc, argv);  // QtCharts
  TestLayout test;
  return QTest::qExec(&test, argc, argv);
}

#include "tst_layout.moc"
