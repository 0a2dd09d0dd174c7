#include "program.h"

#include <QCoreApplication>

#include <cstdio>

#include "consistency_command.h"
#include "harmonylite/capture_cleanup.h"
#include "harmonylite/logging.h"
#include "harmonylite/version.h"
#include "headless_runner.h"
#include "schema_command.h"
#include "snapshot_command.h"

namespace hl {
namespace {

QStringList splitList(const QString& s) {
  QStringList out;
  for (const QString& part : s.split(',', Qt::SkipEmptyParts)) out << part.trimmed();
  return out;
}

}  // namespace

std::optional<int> parseProgramArguments(int argc, char** argv, CommandLine* cli) {
  QStringList args;
  for (int i = 1; i < argc; ++i) args << QString::fromLocal8Bit(argv[i]);
  const ParseOutcome parsed = parseCommandLine(args);
  if (parsed.kind == ParseOutcome::Kind::kError) {
    printProgramError(parsed.error);
    std::fputs(usageText("harmonylite").toLocal8Bit().constData(), stderr);
    return 2;
  }
  *cli = parsed.commandLine;
  if (cli->help) {
    std::fputs(usageText("harmonylite").toLocal8Bit().constData(), stdout);
    return 0;
  }
  if (cli->version) {
    std::fputs(versionText().toLocal8Bit().constData(), stdout);
    return 0;
  }
  return std::nullopt;
}

bool displayAnnounced() {
  return !qEnvironmentVariableIsEmpty("DISPLAY") ||
         !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ||
         !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
}

void printProgramError(const QString& line) {
  flushLogs();  // after the log lines before it
  std::fputs(("harmonylite: " + line + '\n').toLocal8Bit().constData(), stderr);
}

Result<ChosenConfig> chooseConfig(const CommandLine& cli, bool gui) {
  ChosenConfig c;
  if (gui) c.remembered = loadRememberedSetup();
  if (!cli.configPath.isEmpty()) {
    auto loaded = loadConfigFile(cli.configPath);
    if (!loaded) return loaded.status();
    c.config = loaded->config;
    c.warnings = loaded->warnings;
  } else {
    if (!c.remembered.isEmpty()) {
      auto r = restoreSetup(c.remembered, &c.warnings);
      if (r) {
        c.config = *r;
        c.restored = true;
      } else {
        c.rememberedProblem = r.status().message();
      }
    }
    if (!c.restored) {
      auto defaults = firstRunConfig();
      if (!defaults) return defaults.status();
      c.config = *defaults;
    }
  }
  if (cli.nodeId) c.config.nodeId = *cli.nodeId;
  c.config.nats.clusterAddr = cli.clusterAddr;
  c.config.nats.clusterPeers = splitList(cli.clusterPeers);
  c.config.nats.leafServers = splitList(cli.leafServers);
  auto nodeId = resolveNodeId(c.config);
  if (!nodeId) return nodeId.status().withContext("node id");
  c.config.nodeId = *nodeId;
  return c;
}

void logStart(const ChosenConfig& c) {
  const Config& config = c.config;
  installLogHandler(logFormatFromName(config.logging.format), config.logging.verbose);
  setLogNodeId(config.nodeId);
  for (const ConfigWarning& w : c.warnings) qCWarning(lcConfig).noquote() << w.message;
  if (!c.rememberedProblem.isEmpty())
    qCWarning(lcMain).noquote() << "the setup remembered by the dashboard (" +
                                       c.remembered.describe() + ") no longer works:"
                                << c.rememberedProblem << "- running on the first-run defaults";
  if (c.restored)
    qCInfo(lcMain).noquote() << "opening on the setup remembered by the dashboard:"
                             << c.remembered.describe();
  qCInfo(lcMain).noquote() << "harmonylite" << versionInfo().version << "node" << config.nodeId
                           << "config"
                           << (!config.sourcePath.isEmpty() ? config.sourcePath
                               : c.restored ? QStringLiteral("(remembered by the dashboard)")
                                            : QStringLiteral("(first-run defaults)"));
}

std::optional<int> runOneShot(const CommandLine& cli, const Config& config) {
  if (cli.cleanup) {
    const Status s = removeCaptureObjects(config.dbPath);
    if (!s.isOk()) {
      printProgramError(s.message());
      return 1;
    }
    qCInfo(lcMain).noquote() << "removed every __harmonylite__ trigger and table from"
                             << config.dbPath;
    return 0;
  }
  if (wantsSnapshotCommand(cli)) return runSnapshotCommand(cli, config);
  if (wantsSchemaCommand(cli)) return runSchemaCommand(cli, config);
  if (wantsConsistencyCommand(cli)) return runConsistencyCommand(cli, config);
  return std::nullopt;
}

int runHeadless(const Config& config, const QString& why) {
  qCInfo(lcMain).noquote() << why;
  HeadlessRunner runner(config);
  return runner.exec();
}

}  // namespace hl
