// harmonylite: the program. Parses the command line, loads the configuration, sets up logging
// and hands the node to a host (docs/dashboard.md). This program is the headless host and the
// one-shot commands only: when a window may open (a display is announced and --no-gui is not
// given) it starts harmonylite-dashboard in its place, with the same arguments and process id
// (docs/architecture.md#two-programs). So a service never loads the Qt Quick libraries.
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <optional>

#include <unistd.h>
#include <cerrno>
#include <cstring>

#include "harmonylite/engine_thread.h"
#include "harmonylite/logging.h"
#include "program.h"

namespace {

// Where harmonylite-dashboard is: beside this program (the build folder), else in
// ../lib/harmonylite/ (the package: /usr/bin and /usr/lib/harmonylite). Null when neither is.
QString findDashboardProgram() {
  const QFileInfo self(QFile::symLinkTarget(QStringLiteral("/proc/self/exe")));
  for (const QString& candidate :
       {self.dir().filePath(QStringLiteral("harmonylite-dashboard")),
        self.dir().filePath(QStringLiteral("../lib/harmonylite/harmonylite-dashboard"))}) {
    const QFileInfo info(candidate);
    if (info.isFile() && info.isExecutable()) return QDir::cleanPath(info.absoluteFilePath());
  }
  return {};
}

// Replaces this process by the dashboard program; returns only when it cannot, with the reason.
QString execDashboardProgram(char** argv) {
  const QString program = findDashboardProgram();
  if (program.isEmpty())
    return QStringLiteral(
        "the dashboard program (harmonylite-dashboard) is not installed beside this one");
  const QByteArray path = QFile::encodeName(program);
  ::execv(path.constData(), argv);
  return QStringLiteral("the dashboard program %1 could not be started: %2")
      .arg(program, QString::fromLocal8Bit(std::strerror(errno)));
}

}  // namespace

int main(int argc, char** argv) {
  hl::keepCryptoStateUntilExit();  // first: see its comment
  hl::CommandLine cli;
  if (const std::optional<int> rc = hl::parseProgramArguments(argc, argv, &cli)) return *rc;

  QString why = QStringLiteral("no display available; running headless");
  QString dashboardProblem;
  if (cli.noGui) {
    why = QStringLiteral("--no-gui given; running headless");
  } else if (hl::displayAnnounced()) {
    dashboardProblem = execDashboardProgram(argv);
    why = QStringLiteral("running headless");
  }

  QCoreApplication app(argc, argv);
  QCoreApplication::setApplicationName("harmonylite");
  QCoreApplication::setOrganizationName("harmonylite");

  auto chosen = hl::chooseConfig(cli, /*gui=*/false);
  if (!chosen) {
    hl::printProgramError(chosen.status().message());
    return 1;
  }
  hl::logStart(*chosen);
  if (!dashboardProblem.isEmpty()) qCWarning(lcMain).noquote() << dashboardProblem;
  const hl::Config& config = chosen->config;
  if (const std::optional<int> rc = hl::runOneShot(cli, config)) return *rc;
  return hl::runHeadless(config, why);
}
