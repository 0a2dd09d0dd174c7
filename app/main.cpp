// harmonylite: the program. Parses the command line, loads the configuration, sets up logging
// and hands the node to a host: the headless runner (services, --no-gui, no display).
#include <QCoreApplication>
#include <QDir>

#include <cstdio>

#include "command_line.h"
#include "harmonylite/config.h"
#include "harmonylite/engine.h"
#include "harmonylite/logging.h"
#include "harmonylite/version.h"
#include "headless_runner.h"

namespace {

void printErr(const QString& line) {
  std::fputs(("harmonylite: " + line + '\n').toLocal8Bit().constData(), stderr);
}

// A display is available when X11 or Wayland says so.
bool displayAvailable() {
  return !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
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

  QCoreApplication app(argc, argv);
  QCoreApplication::setApplicationName("harmonylite");

  hl::Config config;
  QList<hl::ConfigWarning> warnings;
  if (!cli.configPath.isEmpty()) {
    auto loaded = hl::loadConfigFile(cli.configPath);
    if (!loaded) {
      printErr(loaded.status().message());
      return 1;
    }
    config = loaded->config;
    warnings = loaded->warnings;
  } else {
    auto defaults = hl::firstRunConfig();
    if (!defaults) {
      printErr(defaults.status().message());
      return 1;
    }
    config = *defaults;
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
  qCInfo(lcMain).noquote() << "harmonylite" << hl::versionInfo().version << "node"
                           << config.nodeId << "config"
                           << (config.sourcePath.isEmpty() ? QStringLiteral("(first-run defaults)")
                                                           : config.sourcePath);

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

  if (!cli.noGui && displayAvailable()) {
    qCInfo(lcMain) << "this build has no dashboard yet; running headless";
  } else if (!cli.noGui) {
    qCInfo(lcMain) << "no display available; running headless";
  }
  hl::HeadlessRunner runner(config);
  return runner.exec();
}
