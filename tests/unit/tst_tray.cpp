// The tray icon (app/ui/tray_icon.h, docs/dashboard.md#tray) and the alert side of the
// controller, on statuses fed by hand: the icon's tone and tooltip follow health and alerts, the
// menu's actions reach the controller, an alert becomes a notification request and is counted
// (shown by the tray where there is one; offscreen there is none, and closing quits).
#include <QApplication>
#include <QSignalSpy>
#include <QtTest>

#include "dashboard_controller.h"
#include "tray_icon.h"

using namespace hl;

namespace {
NodeStatus healthy() {
  NodeStatus s;
  s.nodeId = 3;
  s.healthy = true;
  s.dbConnected = true;
  s.natsConnected = true;
  return s;
}
AlertInfo alert(const QString& rule, AlertSeverity severity, bool firing) {
  AlertInfo a;
  a.rule = rule;
  a.severity = severity;
  a.firing = firing;
  a.message = rule + " message";
  return a;
}
}  // namespace

class TestTray : public QObject {
  Q_OBJECT
 private slots:
  void toneAndTooltipFollowHealthAndAlerts() {
    DashboardController c;
    Config config;
    config.nodeId = 3;
    c.setConfig(config);
    TrayIcon tray(c);
    QVERIFY(!tray.available());  // offscreen: no tray
    QCOMPARE(tray.tone(), 0);    // starting
    QVERIFY(tray.toolTip().contains("starting"));

    NodeStatus s = healthy();
    c.applyStatusAt(s, 1000, 1000);
    QCOMPARE(tray.tone(), 1);
    QCOMPARE(tray.toolTip(), QString("HarmonyLite node 3: healthy"));

    s.alerts = {alert("lag_seconds", AlertSeverity::Warning, true),
                alert("dead_letters", AlertSeverity::Warning, false)};
    c.applyStatusAt(s, 2000, 2000);
    QCOMPARE(c.summary().alertLevel, 0);
    QCOMPARE(c.summary().alertsFiring, 1);
    QCOMPARE(c.summary().alertText, QString("lag_seconds: lag_seconds message"));
    QCOMPARE(c.alerts().size(), 2);
    QCOMPARE(c.alerts().at(1).toMap().value("firing").toBool(), false);
    QCOMPARE(tray.tone(), 2);
    QVERIFY(tray.toolTip().contains("lag_seconds message"));

    s.alerts << alert("nats_disconnected_seconds", AlertSeverity::Critical, true);
    c.applyStatusAt(s, 3000, 3000);
    QCOMPARE(c.summary().alertLevel, 1);
    QCOMPARE(c.summary().alertsFiring, 2);
    QCOMPARE(tray.tone(), 3);

    s.alerts.clear();
    s.healthy = false;
    s.unhealthyReason = "NATS not connected";
    c.applyStatusAt(s, 4000, 4000);
    QCOMPARE(tray.tone(), 3);
    QVERIFY(tray.toolTip().contains("unhealthy: NATS not connected"));
  }

  void menuActionsReachTheController() {
    DashboardController c;
    TrayIcon tray(c);
    QSignalSpy controls(&c, &DashboardController::controlRequested);
    QVERIFY(!tray.pauseAction()->isEnabled());  // no status yet
    c.applyStatusAt(healthy(), 1000, 1000);
    QVERIFY(tray.pauseAction()->isEnabled());
    QCOMPARE(tray.pauseAction()->text(), QString("Pause publishing"));
    tray.pauseAction()->trigger();
    QCOMPARE(controls.size(), 1);
    QCOMPARE(controls.at(0).at(0).value<EngineThread::Control>(),
             EngineThread::Control::kPausePublishing);
    NodeStatus paused = healthy();
    paused.publishingPaused = true;
    c.applyStatusAt(paused, 2000, 2000);
    QCOMPARE(tray.pauseAction()->text(), QString("Resume publishing"));
    tray.pauseAction()->trigger();
    QCOMPARE(controls.at(1).at(0).value<EngineThread::Control>(),
             EngineThread::Control::kResumePublishing);
    QCOMPARE(tray.menu()->actions().size(), 4);  // open, pause, separator, quit
  }

  // An alert event: a row of kind Alert and a notification request, critical only for a
  // firing critical alert; the tray counts each.
  void alertEventsBecomeNotifications() {
    DashboardController c;
    TrayIcon tray(c);
    QSignalSpy asked(&c, &DashboardController::notificationRequested);
    c.onEngineEvent(
        EngineEvent::alertChanged(alert("disk_free_percent", AlertSeverity::Critical, true)));
    c.onEngineEvent(
        EngineEvent::alertChanged(alert("disk_free_percent", AlertSeverity::Critical, false)));
    c.onEngineEvent(EngineEvent::alertChanged(alert("lag_seconds", AlertSeverity::Warning, true)));
    QCOMPARE(asked.size(), 3);
    QCOMPARE(asked.at(0).at(0).toString(), QString("Critical alert: disk_free_percent"));
    QCOMPARE(asked.at(0).at(2).toBool(), true);
    QCOMPARE(asked.at(1).at(0).toString(), QString("Alert disk_free_percent resolved"));
    QCOMPARE(asked.at(1).at(2).toBool(), false);
    QCOMPARE(asked.at(2).at(0).toString(), QString("Alert: lag_seconds"));
    QCOMPARE(tray.notifications(), 3);
    QCOMPARE(tray.lastNotification(), QString("Alert: lag_seconds: lag_seconds message"));
    EventModel* events = c.events();
    QCOMPARE(events->rowCount(), 3);
    QCOMPARE(events->data(events->index(0), EventModel::kKindRole).toInt(),
             int(EventModel::Kind::Alert));
    QCOMPARE(events->data(events->index(0), EventModel::kTitleRole).toString(),
             QString("Alert lag_seconds fired"));
    QCOMPARE(events->data(events->index(1), EventModel::kTitleRole).toString(),
             QString("Alert disk_free_percent resolved"));
  }
};

QTEST_MAIN(TestTray)
#include "tst_tray.moc"
