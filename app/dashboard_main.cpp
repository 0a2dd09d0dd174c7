// harmonylite-dashboard: the program with the dashboard (docs/dashboard.md). `harmonylite`
// starts it in its own place when a window may open (docs/architecture.md#two-programs); run by
// itself it behaves as `harmonylite` does, and falls back to headless when the display cannot
// be opened.
#include <QApplication>
#include <QCoreApplication>

#include <memory>

#include "gui_runner.h"
#include "harmonylite/engine_thread.h"
#include "program.h"

namespace {

// Qt tries the platforms of QT_QPA_PLATFORM in turn; "minimal" last means "the display could
// not be opened" instead of Qt's fatal error, and we fall back to headless (docs/dashboard.md).
void addHeadlessFallbackPlatform() {
  QByteArray platforms = qgetenv("QT_QPA_PLATFORM");
  if (platforms.isEmpty())
    platforms = qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ? "xcb" : "wayland;xcb";
  if (!platforms.split(';').contains("minimal")) platforms += ";minimal";
  qputenv("QT_QPA_PLATFORM", platforms);
}

}  // namespace

int main(int argc, char** argv) {
  hl::keepCryptoStateUntilExit();  // first: see its comment
  hl::CommandLine cli;
  if (const std::optional<int> rc = hl::parseProgramArguments(argc, argv, &cli)) return *rc;

  // The application object decides the host: QApplication (QtCharts needs it) when a window
  // may open, QCoreApplication otherwise.
  const bool tryGui = !cli.noGui && hl::displayAnnounced();
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

  auto chosen = hl::chooseConfig(cli, gui);
  if (!chosen) {
    hl::printProgramError(chosen.status().message());
    return 1;
  }
  hl::logStart(*chosen);
  const hl::Config& config = chosen->config;
  if (const std::optional<int> rc = hl::runOneShot(cli, config)) return *rc;

  if (gui) {
    hl::GuiRunner runner(config);
    runner.rememberSetups(chosen->remembered, chosen->restored);
    return runner.exec();
  }
  if (cli.noGui) return hl::runHeadless(config, "--no-gui given; running headless");
  if (tryGui)
    return hl::runHeadless(config, "the display could not be opened (DISPLAY=" +
                                       qEnvironmentVariable("DISPLAY") + "); running headless");
  return hl::runHeadless(config, "no display available; running headless");
}
