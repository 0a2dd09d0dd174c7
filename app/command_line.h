// The harmonylite command line, parsed with Go `flag` semantics (docs/configuration.md): `-name
// value`,
// `-name=value`, `--name value` and `--name=value`; boolean flags take no separate value
// (`-cleanup`, `-cleanup=false`); flags with an optional value take it only after '='
// (`-restore-snapshot`, `-restore-snapshot=ID`). Parsing stops at `--` or at the first non-flag
// argument. Thread: pure functions, any thread.
#pragma once

#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

namespace hl {

struct CommandLine {
  QString configPath;              // -config PATH
  std::optional<uint64_t> nodeId;  // -node-id N
  bool cleanup = false;            // -cleanup
  bool saveSnapshot = false;       // -save-snapshot
  // -restore-snapshot, -restore-snapshot=ID: "" = the newest (docs/snapshots.md#restoring)
  std::optional<QString> restoreSnapshot;
  std::optional<QString> verifySnapshot;  // -verify-snapshot[=ID]: the restore drill
  bool listSnapshots = false;             // -list-snapshots
  bool force = false;                     // -force: restore a snapshot of another schema
  bool schemaStatus = false;              // -schema-status
  bool schemaStatusCluster = false;       // -schema-status-cluster
  bool digest = false;                    // -digest
  bool checkConsistency = false;          // -check-consistency
  uint64_t repairFrom = 0;                // -repair-from N (with or without -check-consistency)
  int expectNodes = 0;                    // -expect-nodes N
  QString clusterAddr;                    // -cluster-addr HOST:PORT
  QString clusterPeers;                   // -cluster-peers URL[,URL...]
  QString leafServers;                    // -leaf-servers URL[,URL...]
  bool version = false;                   // -version
  bool help = false;                      // -help, -h
  bool noGui = false;                     // --no-gui
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
