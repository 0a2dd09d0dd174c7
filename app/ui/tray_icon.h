// TrayIcon: the node in the desktop's tray (docs/dashboard.md#tray), from Qt Widgets'
// QSystemTrayIcon (the desktop's StatusNotifierItem over D-Bus where there is one, else the
// XEmbed tray). Its colour is the node's state (grey starting, green healthy, amber a warning or
// data differing, red unhealthy or a critical alert), its tooltip says why, and its menu opens
// the window, pauses or resumes publishing and quits. An alert that fires or resolves
// (DashboardController::notificationRequested) becomes a desktop notification.
//
// Without a tray (no desktop, a test under offscreen or Xvfb) nothing is shown: notifications
// are logged, and closing the window quits (Main.qml asks `trayAvailable`). Every notification
// asked for is counted either way (notifications(), lastNotification()), for tests and the log.
// Thread: the GUI thread.
#pragma once

#include <QAction>
#include <QMenu>
#include <QObject>
#include <QSystemTrayIcon>

#include <memory>

#include "dashboard_controller.h"

class QWindow;

namespace hl {

class TrayIcon final : public QObject {
  Q_OBJECT
 public:
  // `window` is shown and raised by the menu's Open; null until the window exists.
  explicit TrayIcon(DashboardController& controller, QObject* parent = nullptr);
  ~TrayIcon() override;

  void setWindow(QWindow* window) { m_window = window; }
  bool available() const { return m_tray != nullptr; }

  // The tone the icon shows for `summary` and whether data differs: 0 neutral, 1 good, 2 warn,
  // 3 bad (the order of Theme.Tone).
  static int toneOf(const NodeSummary& summary, bool differs);
  int tone() const { return m_tone; }
  QString toolTip() const { return m_toolTip; }
  int notifications() const { return m_notifications; }
  QString lastNotification() const { return m_lastNotification; }
  QMenu* menu() { return &m_menu; }
  QAction* pauseAction() { return m_pause; }
  QAction* openAction() { return m_open; }

 private:
  void update();
  void notify(const QString& title, const QString& body, bool critical);

  DashboardController& m_controller;
  QWindow* m_window = nullptr;
  QMenu m_menu;
  QAction* m_open = nullptr;
  QAction* m_pause = nullptr;
  QAction* m_quit = nullptr;
  std::unique_ptr<QSystemTrayIcon> m_tray;  // null without a tray
  int m_tone = -1;
  QString m_toolTip;
  int m_notifications = 0;
  QString m_lastNotification;
};

}  // namespace hl
