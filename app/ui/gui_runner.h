// The dashboard host (docs/dashboard.md): runs the engine on its thread and shows it in a Qt Quick
// window. The window reads only the DashboardController (copies of the status, list models);
// controls and restarts leave the controller as signals and reach the engine as queued calls,
// so the interface never blocks on the engine.
// Thread: the GUI (main) thread; needs a QApplication (QtCharts). Owns the engine thread, the
// endpoints, the controller and the QML engine.
#pragma once

#include <QObject>
#include <QQmlApplicationEngine>
#include <QTimer>

#include <memory>
#include <optional>

#include "dashboard_controller.h"
#include "endpoints_host.h"
#include "harmonylite/config.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/status.h"
#include "remembered_setup.h"
#include "tray_icon.h"

class QQuickItem;
class QQuickWindow;

namespace hl {

class GuiRunner final : public QObject {
  Q_OBJECT
 public:
  explicit GuiRunner(Config config, QObject* parent = nullptr);
  // The setup the dashboard keeps for the next start without -config (remembered_setup.h):
  // `restored` says that `config` came from it. Without this call nothing is remembered, so a
  // host run with -config, or a test, never touches the user's file.
  void rememberSetups(const RememberedSetup& current, bool restored);
  ~GuiRunner() override;

  // Binds the endpoints, opens the window and starts the engine. An error (a taken port, QML
  // that does not load) is one line naming the cause. A node that fails to start is not an
  // error here: the window shows why, and the user can point it elsewhere.
  Status start();
  // start(), then the event loop until the window is closed or SIGINT/SIGTERM; the exit code.
  int exec();
  // Stops the engine (joins its thread). Safe to call twice.
  void stop();

  DashboardController* controller() { return &m_controller; }
  QQuickWindow* window() const { return m_window; }
  EngineThread* engine() const { return m_engine.get(); }
  TrayIcon* tray() const { return m_tray.get(); }

 private:
  void startEngine(const Config& config);
  void restartWith(const Config& config);
  void onOldEngineFinished();
  void startPendingConfig();
  void rememberChosenSetup();
  void forgetSetup();

  Config m_config;
  EndpointsHost m_endpoints;
  DashboardController m_controller;
  std::unique_ptr<EngineThread> m_engine;
  // A restart stops the old engine without blocking the window: it sits here until its thread
  // has ended (bounded by m_stopDeadline), then the newest requested config starts.
  std::unique_ptr<EngineThread> m_stopping;
  std::optional<Config> m_pendingConfig;
  QTimer m_stopDeadline;
  std::unique_ptr<TrayIcon> m_tray;
  std::unique_ptr<QQmlApplicationEngine> m_qml;
  QQuickWindow* m_window = nullptr;
  bool m_remembering = false;      // rememberSetups() was called
  bool m_rememberOnStart = false;  // the engine now starting runs on a setup the user chose
};

// Links in the QML module HarmonyLite.Backend (the controller, its models and the engine's
// state enums, which register themselves when QML imports the module), registers the
// metatypes the engine thread's signals carry, and picks the scene graph backend (software
// unless QT_QUICK_BACKEND or QSG_RHI_BACKEND say otherwise). Call once after the
// QApplication exists; tests of the QML call it too.
void registerDashboardTypes();

// The first item named `objectName` in the visual tree under `root` (depth first), or nullptr.
// Tests and benchmarks read the rendered scene with it.
QQuickItem* findSceneItem(QQuickItem* root, const QString& objectName);

}  // namespace hl
