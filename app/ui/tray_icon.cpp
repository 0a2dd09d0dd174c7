#include "tray_icon.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QPainter>
#include <QPixmap>
#include <QWindow>

#include "harmonylite/logging.h"

namespace hl {
namespace {

// Theme.qml's tone colours.
QColor toneColor(int tone) {
  switch (tone) {
    case 1:
      return QColor("#1f8a4c");
    case 2:
      return QColor("#b86e00");
    case 3:
      return QColor("#c0392b");
    default:
      return QColor("#5c6b7a");
  }
}

QIcon dot(int tone) {
  QIcon icon;
  for (int size : {16, 22, 32, 64}) {
    QPixmap pixmap(size, size);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(QColor("#1f2a37"), std::max(1, size / 16)));
    p.setBrush(toneColor(tone));
    const int m = std::max(1, size / 8);
    p.drawEllipse(m, m, size - 2 * m, size - 2 * m);
    icon.addPixmap(pixmap);
  }
  return icon;
}

}  // namespace

TrayIcon::TrayIcon(DashboardController& controller, QObject* parent)
    : QObject(parent), m_controller(controller) {
  m_open = m_menu.addAction(tr("Open HarmonyLite"));
  m_pause = m_menu.addAction(tr("Pause publishing"));
  m_menu.addSeparator();
  m_quit = m_menu.addAction(tr("Quit (stops the node)"));
  connect(m_open, &QAction::triggered, this, [this] {
    if (!m_window) return;
    m_window->show();
    m_window->raise();
    m_window->requestActivate();
  });
  connect(m_pause, &QAction::triggered, this, [this] {
    if (m_controller.summary().publishingPaused)
      m_controller.resumePublishing();
    else
      m_controller.pausePublishing();
  });
  connect(m_quit, &QAction::triggered, this, [] { QCoreApplication::quit(); });
  if (QSystemTrayIcon::isSystemTrayAvailable()) {
    m_tray = std::make_unique<QSystemTrayIcon>();
    m_tray->setContextMenu(&m_menu);
    connect(m_tray.get(), &QSystemTrayIcon::activated, this,
            [this](QSystemTrayIcon::ActivationReason reason) {
              if (reason == QSystemTrayIcon::Trigger) m_open->trigger();
            });
  }
  connect(&m_controller, &DashboardController::statusChanged, this, &TrayIcon::update);
  connect(&m_controller, &DashboardController::engineStateChanged, this, &TrayIcon::update);
  connect(&m_controller, &DashboardController::notificationRequested, this, &TrayIcon::notify);
  update();
  if (m_tray) m_tray->show();
  qCInfo(lcMain).noquote() << (m_tray ? "tray icon shown: closing the window keeps the node running"
                                      : "no system tray: closing the window stops the node");
}

TrayIcon::~TrayIcon() = default;

int TrayIcon::toneOf(const NodeSummary& s, bool differs) {
  if (!s.valid) return 0;
  if (!s.healthy || s.alertLevel >= 1) return 3;
  if (s.alertLevel == 0 || differs) return 2;
  return 1;
}

void TrayIcon::update() {
  const NodeSummary s = m_controller.summary();
  const bool differs = m_controller.consistency().value("verdict").toString() == "differ";
  const int tone = toneOf(s, differs);
  const QString state = !s.valid             ? tr("starting")
                        : !s.healthy         ? tr("unhealthy: %1").arg(s.unhealthyReason)
                        : s.alertsFiring > 0 ? s.alertText
                        : differs            ? tr("data differs between nodes")
                                             : tr("healthy");
  m_toolTip = tr("HarmonyLite node %1: %2").arg(m_controller.nodeId(), state);
  m_pause->setText(s.publishingPaused ? tr("Resume publishing") : tr("Pause publishing"));
  m_pause->setEnabled(s.valid);
  if (m_tray) {
    if (tone != m_tone) m_tray->setIcon(dot(tone));
    m_tray->setToolTip(m_toolTip);
  }
  m_tone = tone;
}

void TrayIcon::notify(const QString& title, const QString& body, bool critical) {
  ++m_notifications;
  m_lastNotification = title + QStringLiteral(": ") + body;
  if (m_tray && QSystemTrayIcon::supportsMessages()) {
    m_tray->showMessage(title, body,
                        critical ? QSystemTrayIcon::Critical : QSystemTrayIcon::Warning, 10000);
    return;
  }
  qCInfo(lcMain).noquote() << "notification (no tray to show it):" << m_lastNotification;
}

}  // namespace hl
