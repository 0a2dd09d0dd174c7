#include "command_line.h"

#include <functional>

namespace hl {
namespace {

struct FlagSpec {
  const char* name;
  const char* valueName;  // nullptr for a boolean flag
  const char* help;
  std::function<bool(CommandLine&, const QString&)> set;  // false = invalid value
  bool optionalValue = false;  // valueName given only after '=' ("" when absent)
};

std::function<bool(CommandLine&, const QString&)> optionalSetter(
    std::optional<QString> CommandLine::*field) {
  return [field](CommandLine& c, const QString& v) {
    c.*field = v;
    return true;
  };
}

bool parseBool(const QString& v, bool& out) {
  // Go's strconv.ParseBool.
  static const QStringList kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const QStringList kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.contains(v)) {
    out = true;
    return true;
  }
  if (kFalse.contains(v)) {
    out = false;
    return true;
  }
  return false;
}

std::function<bool(CommandLine&, const QString&)> boolSetter(bool CommandLine::*field) {
  return [field](CommandLine& c, const QString& v) { return parseBool(v, c.*field); };
}

// A node id: an unsigned number above 0.
template <typename Field>
std::function<bool(CommandLine&, const QString&)> nodeIdSetter(Field CommandLine::*field) {
  return [field](CommandLine& c, const QString& v) {
    bool ok = false;
    const uint64_t id = v.toULongLong(&ok);
    if (!ok || id == 0) return false;
    c.*field = id;
    return true;
  };
}

std::function<bool(CommandLine&, const QString&)> stringSetter(QString CommandLine::*field) {
  return [field](CommandLine& c, const QString& v) {
    c.*field = v;
    return true;
  };
}

const std::vector<FlagSpec>& flags() {
  static const std::vector<FlagSpec> kFlags = {
      {"config", "PATH", "path of the TOML configuration file (none: first-run defaults)",
       stringSetter(&CommandLine::configPath)},
      {"node-id", "N", "node id, overriding node_id of the configuration",
       nodeIdSetter(&CommandLine::nodeId)},
      {"cleanup", nullptr, "remove every __harmonylite__ trigger and table, then exit",
       boolSetter(&CommandLine::cleanup)},
      {"save-snapshot", nullptr, "take a snapshot, upload it to the snapshot store, then exit",
       boolSetter(&CommandLine::saveSnapshot)},
      {"restore-snapshot", "ID",
       "restore the snapshot that covers most (or snapshot ID) into the database, then exit",
       optionalSetter(&CommandLine::restoreSnapshot), true},
      {"verify-snapshot", "ID",
       "restore drill: check the snapshot that covers most (or ID) in a temp file, then exit",
       optionalSetter(&CommandLine::verifySnapshot), true},
      {"list-snapshots", nullptr, "print the snapshot catalogue, then exit",
       boolSetter(&CommandLine::listSnapshots)},
      {"force", nullptr, "with -restore-snapshot: restore a snapshot of another schema too",
       boolSetter(&CommandLine::force)},
      {"schema-status", nullptr, "print the local schema hash and watched tables, then exit",
       boolSetter(&CommandLine::schemaStatus)},
      {"schema-status-cluster", nullptr,
       "print every node's schema hash from the registry, then exit",
       boolSetter(&CommandLine::schemaStatusCluster)},
      {"digest", nullptr,
       "print a digest of every watched table, the applied positions and pending changes, "
       "then exit",
       boolSetter(&CommandLine::digest)},
      {"check-consistency", nullptr,
       "ask every node to digest its tables at the same positions and compare them; exit 0 "
       "agree, 1 differ, 2 NATS unreachable, 3 not comparable",
       boolSetter(&CommandLine::checkConsistency)},
      {"repair-from", "N",
       "with the check: publish node N's version of every differing row, then check again",
       nodeIdSetter(&CommandLine::repairFrom)},
      {"expect-nodes", "N", "with the check: stop waiting for nodes once N answered",
       [](CommandLine& c, const QString& v) {
         bool ok = false;
         const int n = v.toInt(&ok);
         if (!ok || n < 1) return false;
         c.expectNodes = n;
         return true;
       }},
      {"cluster-addr", "HOST:PORT", "embedded NATS server: cluster listen address",
       stringSetter(&CommandLine::clusterAddr)},
      {"cluster-peers", "URLS", "embedded NATS server: comma-separated cluster peer URLs",
       stringSetter(&CommandLine::clusterPeers)},
      {"leaf-servers", "URLS", "embedded NATS server: comma-separated leaf-node remote URLs",
       stringSetter(&CommandLine::leafServers)},
      {"version", nullptr, "print version, commit, build date and library versions, then exit",
       boolSetter(&CommandLine::version)},
      {"help", nullptr, "print this help, then exit", boolSetter(&CommandLine::help)},
      {"no-gui", nullptr, "run headless (no dashboard window), as a service does",
       boolSetter(&CommandLine::noGui)},
  };
  return kFlags;
}

const FlagSpec* findFlag(const QString& name) {
  for (const FlagSpec& f : flags())
    if (name == QLatin1String(f.name)) return &f;
  return nullptr;
}

ParseOutcome error(const QString& message) {
  ParseOutcome o;
  o.kind = ParseOutcome::Kind::kError;
  o.error = message;
  return o;
}

}  // namespace

ParseOutcome parseCommandLine(const QStringList& args) {
  ParseOutcome out;
  CommandLine& c = out.commandLine;
  for (qsizetype i = 0; i < args.size(); ++i) {
    const QString& arg = args[i];
    if (arg == QLatin1String("--")) {
      if (i + 1 < args.size()) return error("unexpected argument: " + args[i + 1]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-')
      return error("unexpected argument: " + arg);  // harmonylite takes no positional arguments
    QString name = arg.mid(arg.startsWith(QLatin1String("--")) ? 2 : 1);
    if (name.isEmpty() || name[0] == '-' || name[0] == '=') return error("bad flag syntax: " + arg);
    std::optional<QString> value;
    if (const qsizetype eq = name.indexOf('='); eq >= 0) {
      value = name.mid(eq + 1);
      name = name.left(eq);
    }
    if (name == QLatin1String("h")) name = QStringLiteral("help");
    const FlagSpec* flag = findFlag(name);
    if (!flag) return error("flag provided but not defined: -" + name);
    if (flag->optionalValue) {
      flag->set(c, value.value_or(QString()));
      continue;
    }
    if (!flag->valueName) {
      if (!flag->set(c, value.value_or(QStringLiteral("true"))))
        return error(QStringLiteral("invalid boolean value \"%1\" for -%2").arg(*value, name));
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return error("flag needs an argument: -" + name);
      value = args[++i];
    }
    if (!flag->set(c, *value))
      return error(QStringLiteral("invalid value \"%1\" for flag -%2").arg(*value, name));
  }
  return out;
}

QString usageText(const QString& programName) {
  QString text = QStringLiteral("Usage: %1 [flags]\n\nFlags:\n").arg(programName);
  for (const FlagSpec& f : flags()) {
    const QString prefix = QLatin1String(f.name) == QLatin1String("no-gui") ? "--" : "-";
    QString left = prefix + QLatin1String(f.name);
    if (f.valueName)
      left += (f.optionalValue ? "[=" : " ") + QLatin1String(f.valueName) +
              (f.optionalValue ? "]" : "");
    text += QStringLiteral("  %1 %2\n").arg(left, -30).arg(QLatin1String(f.help));
  }
  text += QStringLiteral(
      "\nFlags may be written -name value, -name=value or --name value.\n"
      "Configuration keys are documented in docs/configuration.md.\n");
  return text;
}

}  // namespace hl
