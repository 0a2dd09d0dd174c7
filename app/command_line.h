// The harmonylite command line, parsed with Go `flag` semantics (docs/configuration.md): `-name
// value`,
// `-name=value`, `--name value` and `--name=value`; boolean flags take no separate value
// (`-cleanup`, `-cleanup=false`). Parsing stops at `--` or at the first non-flag argument.
// Thread: pure functions, any thread.
#pragma once

#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

namespace hl {

struct CommandLine {
  QString configPath;                // -config PATH
  std::optional<uint64_t> nodeId;    // -node-id N
  bool cleanup = false;              // -cleanup
  bool saveSnapshot = false;         // -save-snapshot
  bool schemaStatus = false;         // -schema-status
  bool schemaStatusCluster = false;  // -schema-status-cluster
  QString clusterAddr;               // -cluster-addr HOST:PORT
  QString clusterPeers;              // -cluster-peers URL[,URL...]
  QString leafServers;               // -leaf-servers URL[,URL...]
  bool version = false;              // -version
  bool help = false;                 // -help, -h
  bool noGui = false;                // --no-gui
};

struct ParseOutcome {
  enum class Kind { kOk, kError };
  Kind kind = Kind::kOk;
  CommandLine commandLine;
  QString error;  // Go's wording, e.g. "flag provided but not defined: -x"
};

// `args` excludes the program name.
ParseOutcome parseCommandLine(const QStringList& args);

// The usage text printed by -help and after a flag error: one line per flag.
QString usageText(const QString& programName);

}  // namespace hl
