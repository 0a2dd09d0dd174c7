// harmonylite: the program. Parses the command line, loads the configuration, sets up logging
// and hands the node to a host (docs/dashboard.md): the dashboard when a display can be opened, the
// headless runner otherwise (services, --no-gui, no display).
#include <QApplication>
#include <QCoreApplication>
#include <QDir>

#include <memory>
#include <optional>

#include <cstdio>

#include "command_line.h"
#include "consistency_command.h"
#include "gui_runner.h"
#include "harmonylite/capture_cleanup.h"
#include "harmonylite/config.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/logging.h"
#include "harmonylite/version.h"
#include "headless_runner.h"
#include "remembered_setup.h"
#include "schema_command.h"
#include "snapshot_command.h"

namespace {

void printErr(const QString& line) {
  hl::flushLogs();  // after the log lines before it
  std::fputs(("harmonylite: " + line + '\n').toLocal8Bit().constData(), stderr);
}

// Worth trying to open a window: X11 or Wayland is announced, or QT_QPA_PLATFORM names a
// platform (offscreen, vnc, eglfs...).
bool displayAnnounced() {
  return !qEnvironmentVariableIsEmpty("DISPLAY") ||
         !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ||
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

// The configuration this start runs on, and where it came from.
struct ChosenConfig {
  hl::Config config;
  QList<hl::ConfigWarning> warnings;
  hl::RememberedSetup remembered;  // what the dashboard remembers (shown in Settings)
  bool restored = false;           // the remembered setup is the one in use
  QString rememberedProblem;       // why the remembered setup could not be used
};

// -config, else (with a dashboard) the setup last chosen in it if that still works, else the
// first-run defaults (remembered_setup.h); then the flags that override the file.
hl::Result<ChosenConfig> chooseConfig(const hl::CommandLine& cli, bool gui) {
  ChosenConfig c;
  if (gui) c.remembered = hl::loadRememberedSetup();
  if (!cli.configPath.isEmpty()) {
    auto loaded = hl::loadConfigFile(cli.configPath);
    if (!loaded) return loaded.status();
    c.config = loaded->config;
    c.warnings = loaded->warnings;
  } else {
    if (!c.remembered.isEmpty()) {
      auto r = hl::restoreSetup(c.remembered, &c.warnings);
      if (r) {
        c.config = *r;
        c.restored = true;
      } else {
        c.rememberedProblem = r.status().message();
      }
    }
    if (!c.restored) {
      auto defaults = hl::firstRunConfig();
      if (!defaults) return defaults.status();
      c.config = *defaults;
    }
  }
  if (cli.nodeId) c.config.nodeId = *cli.nodeId;
  c.config.nats.clusterAddr = cli.clusterAddr;
  c.config.nats.clusterPeers = splitList(cli.clusterPeers);
  c.config.nats.leafServers = splitList(cli.leafServers);
  auto nodeId = hl::resolveNodeId(c.config);
  if (!nodeId) return nodeId.status().withContext("node id");
  c.config.nodeId = *nodeId;
  return c;
}

void logStart(const ChosenConfig& c) {
  const hl::Config& config = c.config;
  hl::installLogHandler(hl::logFormatFromName(config.logging.format), config.logging.verbose);
  hl::setLogNodeId(config.nodeId);
  for (const hl::ConfigWarning& w : c.warnings) qCWarning(lcConfig).noquote() << w.message;
  if (!c.rememberedProblem.isEmpty())
    qCWarning(lcMain).noquote() << "the setup remembered by the dashboard (" +
                                       c.remembered.describe() + ") no longer works:"
                                << c.rememberedProblem << "- running on the first-run defaults";
  if (c.restored)
    qCInfo(lcMain).noquote() << "opening on the setup remembered by the dashboard:"
                             << c.remembered.describe();
  qCInfo(lcMain).noquote() << "harmonylite" << hl::versionInfo().version << "node" << config.nodeId
                           << "config"
                           << (!config.sourcePath.isEmpty() ? config.sourcePath
                               : c.restored ? QStringLiteral("(remembered by the dashboard)")
                                            : QStringLiteral("(first-run defaults)"));
}

// The flags that do one thing and exit (-cleanup, the snapshot commands, and the ones not
// available yet); nullopt when the node is to run.
std::optional<int> runOneShot(const hl::CommandLine& cli, const hl::Config& config) {
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
  if (hl::wantsSnapshotCommand(cli)) return hl::runSnapshotCommand(cli, config);
  if (hl::wantsSchemaCommand(cli)) return hl::runSchemaCommand(cli, config);
  if (hl::wantsConsistencyCommand(cli)) return hl::runConsistencyCommand(cli, config);
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  hl::keepCryptoStateUntilExit();  // first: see its comment
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

  auto chosen = chooseConfig(cli, gui);
  if (!chosen) {
    printErr(chosen.status().message());
    return 1;
  }
  logStart(*chosen);
  const hl::Config& config = chosen->config;
  if (const std::optional<int> rc = runOneShot(cli, config)) return *rc;

  if (gui) {
    hl::GuiRunner runner(config);
    runner.rememberSetups(chosen->remembered, chosen->restored);
    return runner.exec();
  }
  if (cli.noGui) {
    qCInfo(lcMain) << "--no-gui given; running headless";
  } else if (tryGui) {
    qCInfo(lcMain).noquote() << "the display could not be opened (DISPLAY=" +
                                    qEnvironmentVariable("DISPLAY") + "); running headless";
  } else {
    qCInfo(lcMain) << "no display available; running headless";
  }
  hl::HeadlessRunner runner(config);
  return runner.exec();
}
