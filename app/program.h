// The steps both programs take (docs/architecture.md#two-programs): `harmonylite`, the small
// program that runs headless and the one-shot commands, and `harmonylite-dashboard`, the same
// program with the dashboard linked in, which `harmonylite` starts in its place when a window
// may open. Keeping the Qt Quick libraries out of `harmonylite` keeps a headless node's
// resident memory small (docs/replication.md#performance).
// Thread: the main thread, before and around the host's event loop.
#pragma once

#include <QString>

#include <optional>

#include "command_line.h"
#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "remembered_setup.h"

namespace hl {

// Reads the command line. Returns the exit code when there is nothing to run (-help, -version,
// a parse error, each printed), else nullopt and the parsed line in *cli.
std::optional<int> parseProgramArguments(int argc, char** argv, CommandLine* cli);

// Worth trying to open a window: X11 or Wayland is announced, or QT_QPA_PLATFORM names a
// platform (offscreen, vnc, eglfs...).
bool displayAnnounced();

// "harmonylite: <line>" on standard error, after the log lines before it.
void printProgramError(const QString& line);

// The configuration this start runs on, and where it came from.
struct ChosenConfig {
  Config config;
  QList<ConfigWarning> warnings;
  RememberedSetup remembered;  // what the dashboard remembers (shown in Settings)
  bool restored = false;       // the remembered setup is the one in use
  QString rememberedProblem;   // why the remembered setup could not be used
};

// -config, else (with a dashboard) the setup last chosen in it if that still works, else the
// first-run defaults (remembered_setup.h); then the flags that override the file.
Result<ChosenConfig> chooseConfig(const CommandLine& cli, bool gui);

// Installs the log handler the configuration asks for and logs what this start runs on.
void logStart(const ChosenConfig& chosen);

// The flags that do one thing and exit (-cleanup, the snapshot, schema and consistency
// commands); nullopt when the node is to run.
std::optional<int> runOneShot(const CommandLine& cli, const Config& config);

// Logs `why` and runs the node with the headless runner until SIGINT/SIGTERM.
int runHeadless(const Config& config, const QString& why);

}  // namespace hl
