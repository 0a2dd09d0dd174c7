// harmonylite: the program. Parses the command line, loads the configuration, sets up logging
// and hands the node to a host (docs/dashboard.md): the dashboard when a display can be opened, the
// headless runner otherwise (services, --no-gui, no display).
#include <QApplication>
#include <QCoreApplication>
#include <QDir>

#include <memory>

#include <cstdio>

#include "command_line.h"
#include "harmonylite/config.h"
#include "harmonylite/capture_cleanup.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/logging.h"
#include "harmonylite/version.h"
#include "gui_runner.h"
#include "headless_runner.h"
#include "remembered_setup.h"

namespace {

void printErr(const QString& line) {
  std::fputs(("harmonylite: " + line + '\n').toLocal8Bit().constData(), stderr);
}

// Worth trying to open a window: X11 or Wayland is announced, or QT_QPA_PLATFORM names a
// platform (offscreen, vnc, eglfs...).
bool displayAnnounced() {
  return !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ||
         !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
}

// Qt tries the platforms of QT_QPA_PLATFORM in turn; "minimal" last means "the display could
// not be opened" instead of Qt's fatal error, and we fall back to headless (docs/dashboard.md).
void addHeadlessFallbackPlatform() {
  QByteArray platforms = qgetenv("QT_QPA_PLATFORM");
  if (platforms.isEmpty())
    platforms = qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ? "xcb" : "wayland;xcb";
  if (!platforms.split(';').contains("minimal")) platforms += ";minimal";
  qputenv("QT_QPA_PLATFORM", platforms);
}

QStringList splitList(const QString& s) {
  QStringList out;
  for (const QString& part : s.split(',', Qt::SkipEmptyParts)) out << part.trimmed();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  QStringList args;
  for (int i = 1; i < argc; ++i) args << QString::fromLocal8Bit(argv[i]);

  const hl::ParseOutcome parsed = hl::parseCommandLine(args);
  if (parsed.kind == hl::ParseOutcome::Kind::kError) {
    printErr(parsed.error);
    std::fputs(hl::usageText("harmonylite").toLocal8Bit().constData(), stderr);
    return 2;
  }
  const hl::CommandLine& cli = parsed.commandLine;
  if (cli.help) {
    std::fputs(hl::usageText("harmonylite").toLocal8Bit().constData(), stdout);
    return 0;
  }
  if (cli.version) {
    std::fputs(hl::versionText().toLocal8Bit().constData(), stdout);
    return 0;
  }

  // The application object decides the host: QApplication (QtCharts needs it) when a window
  // may open, QCoreApplication otherwise.
  const bool tryGui = !cli.noGui && displayAnnounced();
  // When the display cannot be opened, the QApplication stays on the "minimal" platform and
  // the headless runner uses it as a plain event loop.
  std::unique_ptr<QCoreApplication> app;
  bool gui = false;
  if (tryGui) {
    const bool askedForMinimal = qgetenv("QT_QPA_PLATFORM").split(';').contains("minimal");
    addHeadlessFallbackPlatform();
    app = std::make_unique<QApplication>(argc, argv);
    gui = askedForMinimal || QGuiApplication::platformName() != QLatin1String("minimal");
  } else {
    app = std::make_unique<QCoreApplication>(argc, argv);
  }
  QCoreApplication::setApplicationName("harmonylite");
  QCoreApplication::setOrganizationName("harmonylite");

  hl::Config config;
  QList<hl::ConfigWarning> warnings;
  // What the dashboard remembers (shown in Settings even when -config is given).
  const hl::RememberedSetup remembered = gui ? hl::loadRememberedSetup() : hl::RememberedSetup{};
  bool restored = false;
  QString rememberedProblem;
  if (!cli.configPath.isEmpty()) {
    auto loaded = hl::loadConfigFile(cli.configPath);
    if (!loaded) {
      printErr(loaded.status().message());
      return 1;
    }
    config = loaded->config;
    warnings = loaded->warnings;
  } else {
    // The dashboard opens on the setup last chosen in it, if that still works; a headless
    // start always uses the first-run defaults (remembered_setup.h).
    if (!remembered.isEmpty()) {
      auto r = hl::restoreSetup(remembered, &warnings);
      if (r) {
        config = *r;
        restored = true;
      } else {
        rememberedProblem = r.status().message();
      }
    }
    if (!restored) {
      auto defaults = hl::firstRunConfig();
      if (!defaults) {
        printErr(defaults.status().message());
        return 1;
      }
      config = *defaults;
    }
  }
  if (cli.nodeId) config.nodeId = *cli.nodeId;
  config.nats.clusterAddr = cli.clusterAddr;
  config.nats.clusterPeers = splitList(cli.clusterPeers);
  config.nats.leafServers = splitList(cli.leafServers);

  auto nodeId = hl::resolveNodeId(config);
  if (!nodeId) {
    printErr("node id: " + nodeId.status().message());
    return 1;
  }
  config.nodeId = *nodeId;

  hl::installLogHandler(hl::logFormatFromName(config.logging.format), config.logging.verbose);
  hl::setLogNodeId(config.nodeId);
  for (const hl::ConfigWarning& w : warnings) qCWarning(lcConfig).noquote() << w.message;
  if (!rememberedProblem.isEmpty())
    qCWarning(lcMain).noquote() << "the setup remembered by the dashboard (" + remembered.describe() +
                                       ") no longer works:"
                                << rememberedProblem << "- running on the first-run defaults";
  if (restored)
    qCInfo(lcMain).noquote() << "opening on the setup remembered by the dashboard:" << remembered.describe();
  qCInfo(lcMain).noquote() << "harmonylite" << hl::versionInfo().version << "node"
                           << config.nodeId << "config"
                           << (!config.sourcePath.isEmpty() ? config.sourcePath
                               : restored                   ? QStringLiteral("(remembered by the dashboard)")
                                                            : QStringLiteral("(first-run defaults)"));

  if (cli.cleanup) {
    const hl::Status s = hl::removeCaptureObjects(config.dbPath);
    if (!s.isOk()) {
      printErr(s.message());
      return 1;
    }
    qCInfo(lcMain).noquote() << "removed every __harmonylite__ trigger and table from"
                             << config.dbPath;
    return 0;
  }
  if (cli.saveSnapshot || cli.schemaStatus || cli.schemaStatusCluster) {
    const char* which = cli.saveSnapshot   ? "-save-snapshot"
                        : cli.schemaStatus ? "-schema-status"
                                           : "-schema-status-cluster";
    printErr(QStringLiteral("%1 is not available in this version yet").arg(which));
    return 1;
  }

  if (gui) {
    hl::GuiRunner runner(config);
    runner.rememberSetups(remembered, restored);
    return runner.exec();
  }
  if (cli.noGui) {
    qCInfo(lcMain) << "--no-gui given; running headless";
  } else if (tryGui) {
    qCInfo(lcMain).noquote() << "the display could not be opened (DISPLAY=" + qEnvironmentVariable("DISPLAY") +
                                    "); running headless";
  } else {
    qCInfo(lcMain) << "no display available; running headless";
  }
  hl::HeadlessRunner runner(config);
  return runner.exec();
}