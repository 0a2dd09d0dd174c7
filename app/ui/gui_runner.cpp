#include "gui_runner.h"

#include <utility>

#include <QGuiApplication>
#include <QQmlContext>
#include <QQuickItem>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QtQml>

#include "harmonylite/logging.h"
#include "headless_runner.h"
#include "unix_signals.h"

namespace hl {

void registerDashboardTypes() {
  static bool done = false;
  if (done) return;
  done = true;
  qRegisterMetaType<NodeStatus>();
  qRegisterMetaType<NodeSummary>();
  qmlRegisterUncreatableType<DashboardController>("HarmonyLite", 1, 0, "DashboardController", "from C++");
  qmlRegisterUncreatableType<ShardModel>("HarmonyLite", 1, 0, "ShardModel", "from C++");
  qmlRegisterUncreatableType<ClusterModel>("HarmonyLite", 1, 0, "ClusterModel", "from C++");
  qmlRegisterUncreatableType<EventModel>("HarmonyLite", 1, 0, "EventModel", "from C++");
  qmlRegisterUncreatableType<SettingsModel>("HarmonyLite", 1, 0, "SettingsModel", "from C++");
  // Edge gateways often have no GPU and tests have no display: draw in software unless the user
  // asked for a graphics API.
  if (qEnvironmentVariableIsEmpty("QT_QUICK_BACKEND") && qEnvironmentVariableIsEmpty("QSG_RHI_BACKEND"))
    QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
  if (qEnvironmentVariableIsEmpty("QT_QUICK_CONTROLS_STYLE")) QQuickStyle::setStyle(QStringLiteral("Fusion"));
}

QQuickItem* findSceneItem(QQuickItem* root, const QString& objectName) {
  if (!root) return nullptr;
  if (root->objectName() == objectName) return root;
  for (QQuickItem* child : root->childItems())
    if (QQuickItem* found = findSceneItem(child, objectName)) return found;
  return nullptr;
}

GuiRunner::GuiRunner(Config config, QObject* parent) : QObject(parent), m_config(std::move(config)) {
  connect(&m_controller, &DashboardController::restartRequested, this, &GuiRunner::restartWith);
  connect(&m_controller, &DashboardController::forgetSetupRequested, this, &GuiRunner::forgetSetup);
  m_stopDeadline.setSingleShot(true);
  m_stopDeadline.setInterval(EngineThread::kStopTimeoutMs);  // as stopEngineOrExit()
  connect(&m_stopDeadline, &QTimer::timeout, this, [] {
    qCCritical(lcMain) << "the engine did not stop within" << EngineThread::kStopTimeoutMs << "ms for a restart";
    exitWithoutCleanStop();
  });
}

void GuiRunner::rememberSetups(const RememberedSetup& current, bool restored) {
  m_remembering = true;
  m_controller.setRememberedSetup(current.isEmpty() ? QString() : current.describe());
  m_controller.setChosenInDashboard(restored);
}

void GuiRunner::rememberChosenSetup() {
  if (!m_remembering || !m_rememberOnStart) return;
  m_rememberOnStart = false;
  const RememberedSetup setup = RememberedSetup::fromConfig(m_config);
  if (Status s = saveRememberedSetup(setup); !s.isOk()) {
    qCWarning(lcMain).noquote() << "cannot remember the setup for the next start:" << s.message();
    return;
  }
  qCInfo(lcMain).noquote() << "remembered for the next start:" << setup.describe() << "in" << rememberedSetupPath();
  m_controller.setRememberedSetup(setup.describe());
}

void GuiRunner::forgetSetup() {
  if (Status s = forgetRememberedSetup(); !s.isOk()) {
    m_controller.setConfigError(s.message());
    return;
  }
  qCInfo(lcMain) << "remembered setup forgotten: the next start uses the first-run defaults";
  m_controller.setRememberedSetup(QString());
}

GuiRunner::~GuiRunner() { stop(); }

Status GuiRunner::start() {
  registerDashboardTypes();
  HL_RETURN_IF_ERROR(m_endpoints.start(m_config));
  m_controller.setConfig(m_config);

  m_qml = std::make_unique<QQmlApplicationEngine>();
  m_qml->rootContext()->setContextProperty(QStringLiteral("controller"), &m_controller);
  QStringList qmlErrors;
  connect(m_qml.get(), &QQmlApplicationEngine::warnings, this, [&qmlErrors](const QList<QQmlError>& warnings) {
    for (const QQmlError& e : warnings) qmlErrors << e.toString();
  });
  m_qml->load(QUrl(QStringLiteral("qrc:/qt-project.org/imports/HarmonyLite/Dashboard/Main.qml")));
  m_qml->disconnect(this);
  const QList<QObject*> roots = m_qml->rootObjects();
  m_window = roots.isEmpty() ? nullptr : qobject_cast<QQuickWindow*>(roots.first());
  if (!m_window)
    return Status::internal("the dashboard could not be loaded: " + qmlErrors.join("; "));
  for (const QString& w : qmlErrors) qCWarning(lcMain).noquote() << "qml:" << w;
  qCInfo(lcMain).noquote() << "dashboard open:" << m_window->title() << "on" << QGuiApplication::platformName();
  startEngine(m_config);
  return Status::ok();
}

void GuiRunner::startEngine(const Config& config) {
  m_engine = std::make_unique<EngineThread>(config);
  EngineThread* e = m_engine.get();
  m_endpoints.follow(*e);
  connect(e, &EngineThread::statusChanged, &m_controller, qOverload<const NodeStatus&>(&DashboardController::applyStatus));
  connect(e, &EngineThread::started, &m_controller, &DashboardController::onEngineStarted);
  connect(e, &EngineThread::failed, &m_controller, &DashboardController::onEngineFailed);
  connect(e, &EngineThread::stopped, &m_controller, &DashboardController::onEngineStopped);
  connect(e, &EngineThread::controlDone, &m_controller, &DashboardController::onControlDone);
  connect(&m_controller, &DashboardController::controlRequested, e, &EngineThread::control);
  connect(e, &EngineThread::started, this, [this] {
    qCInfo(lcMain) << "node running with the dashboard";
    rememberChosenSetup();  // only a setup that runs is kept for the next start
  });
  connect(e, &EngineThread::failed, this, [](const QString& reason) {
    qCCritical(lcMain).noquote() << "start-up failed:" << reason << "(shown in the dashboard)";
  });
  m_controller.onEngineStarting();
  e->start();
}

// The window keeps drawing while the old engine stops (it may wait on NATS for seconds): the
// stop is requested, and the new engine starts when the old thread has ended. A second request
// meanwhile replaces the first.
void GuiRunner::restartWith(const Config& config) {
  qCInfo(lcMain).noquote() << "restarting the node: database" << config.dbPath;
  m_pendingConfig = config;
  m_controller.setConfig(config);  // the window shows where it is going at once
  m_controller.onEngineStarting();
  if (m_stopping) return;  // started once the engine being stopped has ended
  if (!m_engine) {
    startPendingConfig();
    return;
  }
  m_stopping = std::move(m_engine);
  EngineThread* old = m_stopping.get();
  old->disconnect(&m_controller);  // its last statuses and answers are not the new node's
  old->disconnect(this);
  m_controller.disconnect(old);
  connect(old, &EngineThread::finished, this, &GuiRunner::onOldEngineFinished);
  m_stopDeadline.start();
  old->requestStop();
  if (!old->isRunning()) onOldEngineFinished();
}

void GuiRunner::onOldEngineFinished() {
  m_stopDeadline.stop();
  if (m_stopping) m_stopping.release()->deleteLater();  // its thread has ended: nothing blocks
  startPendingConfig();
}

void GuiRunner::startPendingConfig() {
  if (!m_pendingConfig) return;
  const Config config = *std::exchange(m_pendingConfig, std::nullopt);
  m_config = config;  // (the controller has shown it since restartWith())
  m_rememberOnStart = true;
  if (Status s = m_endpoints.start(config); !s.isOk()) {
    m_controller.onEngineFailed(s.message());
    return;
  }
  startEngine(config);
}

int GuiRunner::exec() {
  if (Status s = start(); !s.isOk()) {
    qCCritical(lcMain).noquote() << "start-up failed:" << s.message();
    return 1;
  }
  UnixSignals unixSignals;
  connect(&unixSignals, &UnixSignals::terminationRequested, this, [](int sig) {
    qCInfo(lcMain) << "signal" << sig << "received, stopping";
    QCoreApplication::quit();
  });
  const int rc = QGuiApplication::exec();
  stop();
  if (rc == 0) qCInfo(lcMain) << "stopped cleanly";
  return rc;
}

void GuiRunner::stop() {
  m_pendingConfig.reset();
  m_stopDeadline.stop();
  if (m_stopping) stopEngineOrExit(*m_stopping);  // waits for the restart's stop, bounded
  if (m_engine) stopEngineOrExit(*m_engine);
}

}  // namespace hl
