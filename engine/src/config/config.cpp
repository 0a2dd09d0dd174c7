// Loading and validating the TOML configuration (docs/configuration.md) with toml++.
//
// toml++ reports parse errors by exception; they are caught here, at the call site, and turned
// into a Status that names the file and the line. Every key is read through ConfigReader, which
// records the keys it knows, so that the keys it does not know can be warned about by name.

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSet>
#include <QStandardPaths>
#include <QUrl>
#include <QUrlQuery>

#include <toml++/toml.h>
#include <algorithm>
#include <limits>
#include <string>

#include "harmonylite/config.h"

namespace hl {
namespace {

const QSet<QString> kStores = {"nats", "s3", "webdav", "sftp", "local"};
const QSet<QString> kS3Addressing = {"auto", "path", "virtual"};
const QSet<QString> kLogFormats = {"console", "json"};

// Tables whose keys we know; any other table is an unknown key.
const QSet<QString> kKnownTables = {
    "replication_log", "snapshot",      "snapshot.nats",  "snapshot.s3",
    "snapshot.webdav", "snapshot.sftp", "snapshot.local", "nats",
    "logging",         "prometheus",    "health_check",   "sharding",
    "conflicts",       "consistency",   "alerts",         "history"};

const QSet<QString> kCollisionPolicies = {"auto", "keep-both", "dead-letter", "last-writer-wins"};

QString typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

QString qs(std::string_view s) {
  return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

// Validates "host:port" or ":port" (port 0..65535). `allowRandom` admits ":-1".
bool validBind(const QString& bind, bool allowRandom) {
  const qsizetype colon = bind.lastIndexOf(':');
  if (colon < 0) return false;
  const QString port = bind.mid(colon + 1);
  if (allowRandom && port == "-1") return true;
  bool ok = false;
  const int p = port.toInt(&ok);
  return ok && p >= 0 && p <= 65535;
}

class ConfigReader {
 public:
  ConfigReader(const toml::table& root, QString source)
      : m_root(root), m_source(std::move(source)) {}

  const Status& status() const { return m_status; }
  // Warnings in the order of the file (toml++ iterates tables by key).
  QList<ConfigWarning> takeWarnings() {
    std::stable_sort(
        m_warnings.begin(), m_warnings.end(),
        [](const ConfigWarning& a, const ConfigWarning& b) { return a.line < b.line; });
    return std::move(m_warnings);
  }

  // Looks up a dotted key ("nats.urls"); nullptr when absent. Marks the key as known.
  const toml::node* find(const QString& path) {
    m_known.insert(path);
    const QStringList parts = path.split('.');
    const toml::table* table = &m_root;
    for (qsizetype i = 0; i < parts.size(); ++i) {
      const toml::node* n = table->get(parts[i].toStdString());
      if (!n) return nullptr;
      if (i + 1 == parts.size()) return n;
      table = n->as_table();
      if (!table) return nullptr;  // reported by checkTables()
    }
    return nullptr;
  }

  void fail(const QString& path, const toml::node* n, const QString& what) {
    if (!m_status.isOk()) return;  // keep the first error
    m_status = Status::invalidArgument(QStringLiteral("%1:%2: %3: %4")
                                           .arg(m_source)
                                           .arg(n ? int(n->source().begin.line) : 0)
                                           .arg(path, what));
  }

  void readBool(const QString& path, bool& out) {
    const toml::node* n = find(path);
    if (!n) return;
    if (auto v = n->value<bool>(); v && n->is_boolean()) {
      out = *v;
    } else {
      fail(path, n, "expected a boolean, got " + typeName(*n));
    }
  }

  void readInt(const QString& path, int64_t min, int64_t max, int64_t& out) {
    const toml::node* n = find(path);
    if (!n) return;
    if (!n->is_integer()) {
      fail(path, n, "expected an integer, got " + typeName(*n));
      return;
    }
    const int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      fail(path, n, QStringLiteral("%1 is out of range (%2..%3)").arg(v).arg(min).arg(max));
      return;
    }
    out = v;
  }

  void readInt(const QString& path, int min, int max, int& out) {
    int64_t v = out;
    readInt(path, int64_t(min), int64_t(max), v);
    out = int(v);
  }

  void readString(const QString& path, QString& out) {
    const toml::node* n = find(path);
    if (!n) return;
    if (!n->is_string()) {
      fail(path, n, "expected a string, got " + typeName(*n));
      return;
    }
    out = qs(*n->value<std::string_view>());
  }

  void readChoice(const QString& path, const QSet<QString>& allowed, QString& out) {
    QString v = out;
    readString(path, v);
    if (!allowed.contains(v)) {
      QStringList names(allowed.begin(), allowed.end());
      names.sort();
      fail(path, find(path),
           QStringLiteral("unknown value \"%1\" (expected one of: %2)").arg(v, names.join(", ")));
      return;
    }
    out = v;
  }

  // A table of strings, each one of `allowed` ({ Name = "value", ... }).
  void readChoiceTable(const QString& path, const QSet<QString>& allowed,
                       QHash<QString, QString>& out) {
    const toml::node* n = find(path);
    if (!n) return;
    const toml::table* table = n->as_table();
    if (!table) {
      fail(path, n, "expected a table of strings, got " + typeName(*n));
      return;
    }
    QStringList names(allowed.begin(), allowed.end());
    names.sort();
    for (const auto& [key, value] : *table) {
      const QString item = path + '.' + qs(key.str());
      if (!value.is_string()) {
        fail(item, &value, "expected a string, got " + typeName(value));
        return;
      }
      const QString v = qs(*value.value<std::string_view>());
      if (!allowed.contains(v)) {
        fail(item, &value,
             QStringLiteral("unknown value \"%1\" (expected one of: %2)").arg(v, names.join(", ")));
        return;
      }
      out.insert(qs(key.str()), v);
    }
  }

  void readBind(const QString& path, bool allowRandom, QString& out) {
    QString v = out;
    readString(path, v);
    if (!validBind(v, allowRandom)) {
      fail(path, find(path),
           QStringLiteral("\"%1\" is not a bind address of the form host:port or :port").arg(v));
      return;
    }
    out = v;
  }

  void readStringList(const QString& path, QStringList& out) {
    const toml::node* n = find(path);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) {
      fail(path, n, "expected an array of strings, got " + typeName(*n));
      return;
    }
    QStringList list;
    for (const toml::node& item : *arr) {
      if (!item.is_string()) {
        fail(path, &item, "expected an array of strings, found " + typeName(item));
        return;
      }
      list << qs(*item.value<std::string_view>());
    }
    out = list;
  }

  // Walks the document: every key not read above is reported, and a known table written
  // as something else ("nats = 3") is an error.
  void checkUnknown(const toml::table& table, const QString& prefix) {
    for (const auto& [key, node] : table) {
      const QString path = prefix.isEmpty() ? qs(key.str()) : prefix + '.' + qs(key.str());
      if (kKnownTables.contains(path)) {
        if (const toml::table* sub = node.as_table()) {
          checkUnknown(*sub, path);
        } else {
          fail(path, &node, "expected a table, got " + typeName(node));
        }
        continue;
      }
      if (m_known.contains(path)) continue;
      const int line = int(node.source().begin.line);
      m_warnings.append(
          {path, line,
           QStringLiteral("%1:%2: unknown key \"%3\" ignored").arg(m_source).arg(line).arg(path)});
    }
  }

  const toml::table& root() const { return m_root; }

 private:
  const toml::table& m_root;
  QString m_source;
  QSet<QString> m_known;
  Status m_status;
  QList<ConfigWarning> m_warnings;
};

Result<LoadedConfig> readConfig(const toml::table& root, const QString& source,
                                const QString& baseDir) {
  ConfigReader r(root, source);
  Config c;
  c.sourcePath = source;

  r.readString("db_path", c.dbPath);
  int64_t nodeId = 0;
  r.readInt("node_id", 0, std::numeric_limits<int64_t>::max(), nodeId);
  c.nodeId = uint64_t(nodeId);
  r.readString("seq_map_path", c.seqMapPath);
  r.readBool("publish", c.publish);
  r.readBool("replicate", c.replicate);
  r.readInt("scan_max_changes", 1, 100000, c.scanMaxChanges);
  constexpr int64_t kMaxMs = int64_t(365) * 24 * 3600 * 1000;  // one year
  r.readInt("cleanup_interval", 0, kMaxMs, c.cleanupIntervalMs);
  r.readInt("sleep_timeout", 0, kMaxMs, c.sleepTimeoutMs);
  r.readInt("polling_interval", 0, kMaxMs, c.pollingIntervalMs);
  r.readStringList("ignore_tables", c.ignoreTables);
  if (r.find("sharding.ignore_tables")) {
    QStringList more;
    r.readStringList("sharding.ignore_tables", more);
    for (const QString& t : more)
      if (!c.ignoreTables.contains(t)) c.ignoreTables << t;
  }

  auto& rl = c.replicationLog;
  r.readInt("replication_log.shards", 1, 1024, rl.shards);
  r.readInt("replication_log.max_entries", 1, std::numeric_limits<int64_t>::max(), rl.maxEntries);
  r.readInt("replication_log.replicas", -1000, 1000, rl.replicas);
  r.readBool("replication_log.compress", rl.compress);
  r.readBool("replication_log.update_existing", rl.updateExisting);
  r.readInt("replication_log.max_message_bytes", 4096, int64_t(1) << 30, rl.maxMessageBytes);
  r.readInt("replication_log.keep_published", 0, kMaxMs, rl.keepPublishedMs);

  auto& s = c.snapshot;
  r.readBool("snapshot.enabled", s.enabled);
  r.readChoice("snapshot.store", kStores, s.store);
  r.readInt("snapshot.interval", 0, kMaxMs, s.intervalMs);
  r.readInt("consistency.interval", 0, kMaxMs, c.consistency.intervalMs);
  r.readInt("snapshot.leader_ttl", 1000, kMaxMs, s.leaderTtlMs);
  r.readInt("snapshot.keep", 1, 1000, s.keep);
  r.readBool("snapshot.auto_restore", s.autoRestore);
  r.readInt("snapshot.nats.replicas", 1, 5, s.nats.replicas);
  r.readString("snapshot.nats.bucket", s.nats.bucket);
  r.readString("snapshot.s3.endpoint", s.s3.endpoint);
  r.readString("snapshot.s3.path", s.s3.path);
  r.readString("snapshot.s3.bucket", s.s3.bucket);
  r.readString("snapshot.s3.access_key", s.s3.accessKey);
  r.readString("snapshot.s3.secret", s.s3.secret);
  r.readString("snapshot.s3.session_token", s.s3.sessionToken);
  r.readBool("snapshot.s3.use_ssl", s.s3.useSsl);
  r.readString("snapshot.s3.region", s.s3.region);
  r.readChoice("snapshot.s3.addressing", kS3Addressing, s.s3.addressing);
  r.readBool("snapshot.s3.insecure_skip_verify", s.s3.insecureSkipVerify);
  r.readString("snapshot.webdav.url", s.webdav.url);
  r.readBool("snapshot.webdav.insecure_skip_verify", s.webdav.insecureSkipVerify);
  r.readString("snapshot.sftp.url", s.sftp.url);
  r.readString("snapshot.sftp.key_file", s.sftp.keyFile);
  r.readString("snapshot.sftp.key_passphrase", s.sftp.keyPassphrase);
  r.readString("snapshot.sftp.known_hosts", s.sftp.knownHosts);
  r.readInt("snapshot.connect_timeout", 100, kMaxMs, s.connectTimeoutMs);
  r.readInt("snapshot.idle_timeout", 1000, kMaxMs, s.idleTimeoutMs);
  r.readInt("snapshot.retries", 0, 100, s.retries);
  r.readString("snapshot.local.path", s.localPath);

  auto& n = c.nats;
  r.readStringList("nats.urls", n.urls);
  r.readString("nats.subject_prefix", n.subjectPrefix);
  r.readString("nats.stream_prefix", n.streamPrefix);
  r.readBind("nats.bind_address", true, n.bindAddress);
  r.readString("nats.server_config", n.serverConfig);
  r.readInt("nats.connect_retries", 0, 1000000, n.connectRetries);
  r.readInt("nats.reconnect_wait_seconds", 0, 3600, n.reconnectWaitSeconds);
  r.readString("nats.user_name", n.userName);
  r.readString("nats.user_password", n.userPassword);
  r.readString("nats.seed_file", n.seedFile);
  r.readString("nats.ca_file", n.caFile);
  r.readString("nats.cert_file", n.certFile);
  r.readString("nats.key_file", n.keyFile);
  r.readString("nats.server_binary", n.serverBinary);

  r.readBool("logging.verbose", c.logging.verbose);
  r.readChoice("logging.format", kLogFormats, c.logging.format);

  r.readBool("prometheus.enable", c.prometheus.enable);
  r.readBind("prometheus.bind", false, c.prometheus.bind);
  r.readString("prometheus.namespace", c.prometheus.nameSpace);
  r.readString("prometheus.subsystem", c.prometheus.subsystem);

  r.readBool("health_check.enable", c.healthCheck.enable);
  r.readBind("health_check.bind", false, c.healthCheck.bind);
  r.readString("health_check.path", c.healthCheck.path);
  r.readBool("health_check.detailed", c.healthCheck.detailed);

  auto& al = c.alerts;
  constexpr int64_t kYearS = int64_t(365) * 24 * 3600;
  r.readInt("alerts.lag_seconds", 0, kYearS, al.lagSeconds);
  r.readInt("alerts.lag_messages", 0, std::numeric_limits<int64_t>::max(), al.lagMessages);
  r.readInt("alerts.snapshot_age_seconds", 0, kYearS, al.snapshotAgeSeconds);
  r.readInt("alerts.dead_letters", 0, std::numeric_limits<int64_t>::max(), al.deadLetters);
  r.readInt("alerts.conflicts_per_minute", 0, std::numeric_limits<int64_t>::max(),
            al.conflictsPerMinute);
  r.readInt("alerts.nats_disconnected_seconds", 0, kYearS, al.natsDisconnectedSeconds);
  r.readInt("alerts.disk_free_percent", 0, 100, al.diskFreePercent);
  r.readInt("alerts.hold_seconds", 0, 86400, al.holdSeconds);
  r.readInt("history.hours", 0, 8760, c.history.hours);
  r.readString("history.path", c.history.path);

  r.readChoice("conflicts.policy", kCollisionPolicies, c.conflicts.policy);
  r.readChoiceTable("conflicts.tables", kCollisionPolicies, c.conflicts.tables);

  r.checkUnknown(root, QString());
  if (!r.status().isOk()) return r.status();

  // Cross-field checks, after every value is known.
  // A key that is missing has no line: the line of `near` (the key that made it required).
  auto fail = [&](const QString& key, const QString& what,
                  const QString& near = QString()) -> Status {
    const toml::node* node = r.find(key);
    if (!node && !near.isEmpty()) node = r.find(near);
    return Status::invalidArgument(QStringLiteral("%1:%2: %3: %4")
                                       .arg(source)
                                       .arg(node ? int(node->source().begin.line) : 0)
                                       .arg(key, what));
  };
  if (c.dbPath.isEmpty())
    return fail("db_path", "required: the path of the application's SQLite database");
  if (!c.healthCheck.path.startsWith('/')) return fail("health_check.path", "must start with /");
  if (c.nats.subjectPrefix.isEmpty() || c.nats.subjectPrefix.contains(' '))
    return fail("nats.subject_prefix", "must be a non-empty subject token without spaces");
  if (c.nats.streamPrefix.isEmpty() || c.nats.streamPrefix.contains(QRegularExpression("[ .*>]")))
    return fail("nats.stream_prefix", "must be a non-empty stream name without spaces, . * or >");
  for (const QString& url : c.nats.urls) {
    if (url.trimmed().isEmpty()) return fail("nats.urls", "contains an empty URL");
  }
  // The chosen snapshot store's own keys (the others may stay empty).
  const SnapshotConfig& sn = c.snapshot;
  if (sn.enabled && sn.store == QLatin1String("s3")) {
    if (sn.s3.endpoint.isEmpty() || sn.s3.endpoint.contains(QRegularExpression("[/ ]")))
      return fail("snapshot.s3.endpoint",
                  "store = \"s3\" needs the server as host or host:port, without scheme or path",
                  "snapshot.store");
    if (sn.s3.bucket.isEmpty())
      return fail("snapshot.s3.bucket", "store = \"s3\" needs a bucket", "snapshot.store");
  }
  if (sn.enabled && sn.store == QLatin1String("webdav")) {
    const QUrl u(sn.webdav.url, QUrl::StrictMode);
    if (!u.isValid() || (u.scheme() != "http" && u.scheme() != "https") || u.host().isEmpty())
      return fail("snapshot.webdav.url",
                  "store = \"webdav\" needs an http:// or https:// URL with a host",
                  "snapshot.store");
  }
  if (sn.enabled && sn.store == QLatin1String("sftp")) {
    const QUrl u(sn.sftp.url, QUrl::StrictMode);
    if (!u.isValid() || u.scheme() != "sftp" || u.host().isEmpty() || u.userName().isEmpty())
      return fail("snapshot.sftp.url",
                  "store = \"sftp\" needs a URL sftp://user[:password]@host[:port]/path",
                  "snapshot.store");
    if (u.password().isEmpty() && sn.sftp.keyFile.isEmpty())
      return fail(
          "snapshot.sftp.url",
          "the URL has no password and snapshot.sftp.key_file is not set: no way to log in");
  }

  // Relative paths are taken relative to the config file's directory, so that a service and
  // a shell started elsewhere resolve them the same way.
  auto absolute = [&](QString& p) {
    if (!p.isEmpty() && QDir::isRelativePath(p)) p = QDir(baseDir).absoluteFilePath(p);
  };
  absolute(c.dbPath);
  absolute(c.seqMapPath);
  absolute(c.history.path);
  absolute(c.nats.serverConfig);
  absolute(c.nats.seedFile);
  absolute(c.nats.caFile);
  absolute(c.nats.certFile);
  absolute(c.nats.keyFile);
  absolute(c.snapshot.localPath);
  absolute(c.snapshot.sftp.keyFile);
  absolute(c.snapshot.sftp.knownHosts);

  LoadedConfig loaded{c, r.takeWarnings()};
  return loaded;
}

}  // namespace

QString Config::stateDir() const {
  return QFileInfo(dbPath).absolutePath();
}

QString Config::effectiveSeqMapPath() const {
  return seqMapPath.isEmpty() ? QDir(stateDir()).filePath("seq-map.cbor") : seqMapPath;
}

QString Config::effectiveSnapshotBucket() const {
  return snapshot.nats.bucket.isEmpty() ? nats.streamPrefix + "-snapshot-store"
                                        : snapshot.nats.bucket;
}

QString Config::effectiveHistoryPath() const {
  return history.path.isEmpty() ? QDir(stateDir()).filePath("harmonylite-history.db")
                                : history.path;
}

QString Config::keptHistoryPath() const {
  return history.hours > 0 ? effectiveHistoryPath() : QString();
}

int Config::effectiveReplicas() const {
  int r = replicationLog.replicas;
  if (r < 1) r = replicationLog.shards / 2 + 1;
  return std::min(r, 5);
}

QString Config::streamName(int shard) const {
  return replicationLog.compress ? QStringLiteral("%1-c-%2").arg(nats.streamPrefix).arg(shard)
                                 : QStringLiteral("%1-%2").arg(nats.streamPrefix).arg(shard);
}

QString Config::subjectName(int shard) const {
  return QStringLiteral("%1-%2").arg(nats.subjectPrefix).arg(shard);
}

namespace {

// What toml++ 3.3 (Debian 12) must not see, found by tests/fuzz/fuzz_config.cpp; each is invalid
// TOML anyway, refused here with the file and the line:
// - a raw control character other than tab, LF and the CR of CRLF (TOML allows none);
// - a non-ASCII character outside strings and comments (bare keys are ASCII): toml++'s
//   whitespace test reaches TOML_UNREACHABLE for U+00A1..U+0499 there;
// - a table header whose name does not start with a key character or a quote ("[@", "[[["):
//   toml++ asserts (in a release build: assumes) it does (upstream marzer/tomlplusplus#294);
// - a quote inside a bare value ("a = 2t=\"x"): toml++ reads a value that is not a string,
//   array or table up to whitespace, ',', ']', '}' or '#', testing each character with that
//   whitespace test, so a non-ASCII character after such a quote reaches it too.
// A small scan that knows strings, comments, brackets, value positions and line starts, nothing
// more.
Status precheckToml(const QByteArray& bytes, const QString& sourceName) {
  const auto bad = [&](int line, const QString& what) {
    return Status::invalidArgument(QStringLiteral("%1:%2: %3").arg(sourceName).arg(line).arg(what));
  };
  const auto isKeyStart = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '"' || c == '\'';
  };
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };
  In in = In::kCode;
  int line = 1;
  std::vector<char> open;  // the [ and { of values still open, innermost last
  char lastSig = 0;        // the last character of code that was not whitespace
  bool lineStart = true, header = false, bareValue = false;
  const qsizetype n = bytes.size();
  for (qsizetype i = 0; i < n; ++i) {
    const char ch = bytes[i];
    const auto c = uchar(ch);
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
      return bad(line, QStringLiteral("control character 0x%1 (TOML allows none but tab and "
                                      "newline)")
                           .arg(uint(c), 2, 16, QLatin1Char('0')));
    if (ch == '\n') {
      ++line;
      if (in == In::kComment || in == In::kBasic || in == In::kLiteral) in = In::kCode;
      if (in == In::kCode) {
        lineStart = true;
        header = false;
        bareValue = false;
        if (open.empty()) lastSig = 0;
      }
      continue;
    }
    const auto next3 = [&](const char* q) { return i + 2 < n && bytes.mid(i, 3) == q; };
    switch (in) {
      case In::kComment:
        continue;
      case In::kBasic:
        if (ch == '\\')
          ++i;  // the escaped character
        else if (ch == '"')
          in = In::kCode;
        continue;
      case In::kLiteral:
        if (ch == '\'') in = In::kCode;
        continue;
      case In::kMultiBasic:
        if (ch == '\\') {
          // toml++ tests the character after a backslash, and the first one after a
          // line-ending backslash's blank space, with the whitespace test.
          qsizetype j = i + 1;
          int lines = 0;
          while (j < n &&
                 (bytes[j] == ' ' || bytes[j] == '\t' || bytes[j] == '\r' || bytes[j] == '\n'))
            lines += bytes[j++] == '\n';
          if (j < n && uchar(bytes[j]) >= 0x80 && (j == i + 1 || lines > 0))
            return bad(line + lines,
                       QStringLiteral("a non-ASCII character right after a backslash in a "
                                      "multi-line string (write it as \\uXXXX)"));
          if (i + 1 < n && bytes[i + 1] == '\n') continue;  // a line-ending backslash
          ++i;
        } else if (next3("\"\"\"")) {
          in = In::kCode;
          i += 2;
          while (i + 1 < n && bytes[i + 1] == '"') ++i;  // up to two quotes of content
        }
        continue;
      case In::kMultiLiteral:
        if (next3("'''")) {
          in = In::kCode;
          i += 2;
          while (i + 1 < n && bytes[i + 1] == '\'') ++i;
        }
        continue;
      case In::kCode:
        break;
    }
    if (ch == ' ' || ch == '\t' || ch == '\r') {
      bareValue = false;
      continue;
    }
    const bool first = lineStart;
    lineStart = false;
    if (c >= 0x80)
      return bad(line, QStringLiteral("a non-ASCII character outside a string or comment"));
    const bool quote = ch == '"' || ch == '\'';
    const bool ends = ch == ',' || ch == ']' || ch == '}' || ch == '#';
    if (bareValue && quote)
      return bad(line, QStringLiteral("a quote inside a value that is not a string"));
    if (bareValue && !ends) {
      lastSig = ch;
      continue;
    }
    bareValue = false;
    const bool valuePlace = lastSig == '=' || (!open.empty() && open.back() == '[' &&
                                               (lastSig == '[' || lastSig == ','));
    lastSig = ch;
    if (valuePlace && !quote && !ends && ch != '[' && ch != '{') {
      bareValue = true;  // a number, boolean or date, read by toml++ up to a terminator
      continue;
    }
    // A quote glued to a bare word or value ("t\"", "2'") opens no string in TOML, and toml++
    // 3.3 reads on past it into what looks like a string here (found by fuzz_config: a non-ASCII
    // character there reached TOML_UNREACHABLE).
    const bool glued =
        i > 0 && isKeyStart(bytes[i - 1]) && bytes[i - 1] != '"' && bytes[i - 1] != '\'';
    if ((ch == '"' || ch == '\'') && glued)
      return bad(line,
                 QStringLiteral("a quote right after \"%1\"").arg(QChar::fromLatin1(bytes[i - 1])));
    if (ch == '#') {
      in = In::kComment;
    } else if (ch == '"') {
      in = next3("\"\"\"") ? In::kMultiBasic : In::kBasic;
      if (in == In::kMultiBasic) i += 2;
    } else if (ch == '\'') {
      in = next3("'''") ? In::kMultiLiteral : In::kLiteral;
      if (in == In::kMultiLiteral) i += 2;
    } else if (ch == '[' && first && open.empty()) {
      qsizetype j = i + 1;
      if (j < n && bytes[j] == '[') ++j;
      while (j < n && (bytes[j] == ' ' || bytes[j] == '\t')) ++j;
      if (j >= n || !isKeyStart(bytes[j]))
        return bad(line, QStringLiteral("a table header must start with a key"));
      header = true;
      i = j - 1;
    } else if ((ch == '[' || ch == '{') && !header) {
      open.push_back(ch);
    } else if ((ch == ']' || ch == '}') && !header && !open.empty()) {
      open.pop_back();
    }
  }
  return Status::ok();
}

}  // namespace

Result<LoadedConfig> loadConfigText(const QString& text, const QString& sourceName) {
  return loadConfigBytes(text.toUtf8(), sourceName);
}

Result<LoadedConfig> loadConfigBytes(const QByteArray& bytes, const QString& sourceName) {
  HL_RETURN_IF_ERROR(precheckToml(bytes, sourceName));
  const std::string src = sourceName.toStdString();
  const auto parse = [&](const QByteArray& text, const QString& note) -> Result<toml::table> {
    try {
      return toml::parse(text.toStdString(), src);
    } catch (const toml::parse_error& e) {
      return Status::invalidArgument(QStringLiteral("%1:%2: %3%4")
                                         .arg(sourceName)
                                         .arg(e.source().begin.line)
                                         .arg(qs(e.description()), note));
    }
  };
  // The last guard against toml++ 3.3's whitespace test (precheckToml above): the document is
  // parsed first with every non-ASCII byte read as '~', which TOML too allows only in strings
  // and comments. Only when that parses does toml++ see the real characters, which are then
  // inside strings and comments as toml++ itself reads them.
  QByteArray ascii = bytes;
  for (char& ch : ascii)
    if (uchar(ch) >= 0x80) ch = '~';
  if (ascii != bytes) {
    auto shape = parse(ascii, QStringLiteral(" (non-ASCII characters read as '~')"));
    if (!shape) return shape.status();
  }
  // The rest as it is: toml++ refuses invalid UTF-8 with the line it is on.
  auto root = parse(bytes, QString());
  if (!root) return root.status();
  const QString baseDir =
      sourceName.isEmpty() ? QDir::currentPath() : QFileInfo(sourceName).absolutePath();
  return readConfig(*root, sourceName, baseDir);
}

Result<LoadedConfig> loadConfigFile(const QString& path) {
  QFile file(path);
  if (!QFileInfo::exists(path))
    return Status::notFound(QStringLiteral("config file %1 does not exist").arg(path));
  if (!file.open(QIODevice::ReadOnly))
    return Status::ioError(
        QStringLiteral("config file %1 cannot be read: %2").arg(path, file.errorString()));
  const QByteArray bytes = file.readAll();
  return loadConfigBytes(bytes, path);
}

QString defaultDataDir() {
  return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation))
      .filePath("harmonylite");
}

Result<Config> firstRunConfig(const QString& dataDir) {
  const QString dir = dataDir.isEmpty() ? defaultDataDir() : dataDir;
  if (!QDir().mkpath(dir))
    return Status::ioError(QStringLiteral("cannot create the data directory %1").arg(dir));
  Config c;
  c.dbPath = QDir(dir).filePath("harmonylite.db");
  return c;
}

Result<uint64_t> resolveNodeId(const Config& config) {
  if (config.nodeId != 0) return config.nodeId;
  const QString path = QDir(config.stateDir()).filePath("node-id");
  QFile file(path);
  if (file.exists()) {
    if (!file.open(QIODevice::ReadOnly))
      return Status::ioError(QStringLiteral("cannot read %1: %2").arg(path, file.errorString()));
    bool ok = false;
    const uint64_t id = file.readAll().trimmed().toULongLong(&ok);
    if (!ok || id == 0)
      return Status::corruption(QStringLiteral("%1 does not hold a node id").arg(path));
    return id;
  }
  if (!QDir().mkpath(config.stateDir()))
    return Status::ioError(QStringLiteral("cannot create %1").arg(config.stateDir()));
  // Random, not derived from the machine id: cloned images must not share ids
  // (docs/configuration.md#first-run). Kept below 2^31 so that it prints the same in every tool and
  // fits Go's int on any platform.
  const uint64_t id = 1 + QRandomGenerator::system()->bounded(quint32(0x7ffffffe));
  QSaveFile out(path);
  if (!out.open(QIODevice::WriteOnly) || out.write(QByteArray::number(quint64(id)) + '\n') < 0 ||
      !out.commit())
    return Status::ioError(QStringLiteral("cannot write %1: %2").arg(path, out.errorString()));
  return id;
}

}  // namespace hl

namespace hl {
namespace {

const QString kMask = QStringLiteral("********");

QString tomlString(const QString& s) {
  QString out = s;
  out.replace('\\', "\\\\").replace('"', "\\\"");
  return '"' + out + '"';
}
QString tomlList(const QStringList& l) {
  QStringList quoted;
  for (const QString& s : l) quoted << tomlString(s);
  return '[' + quoted.join(", ") + ']';
}
QString tomlBool(bool b) {
  return b ? QStringLiteral("true") : QStringLiteral("false");
}

// The password of "scheme://user:password@host/..." and a "secret=" query item, masked.
QString maskUrl(const QString& url) {
  QUrl u(url);
  if (!u.isValid()) return url.isEmpty() ? url : kMask;
  if (!u.password().isEmpty()) u.setPassword(kMask);
  QUrlQuery q(u);
  if (q.hasQueryItem("secret")) {
    q.removeAllQueryItems("secret");
    q.addQueryItem("secret", kMask);
    u.setQuery(q);
  }
  return u.toString(QUrl::DecodeReserved);
}

}  // namespace

QList<ConfigEntry> describeConfig(const Config& c) {
  QList<ConfigEntry> out;
  auto add = [&out](const char* key, const QString& value) {
    out.append({QString::fromLatin1(key), value, false});
  };
  auto secret = [&out](const char* key, const QString& value) {
    out.append({QString::fromLatin1(key), value.isEmpty() ? QStringLiteral("\"\"") : kMask, true});
  };
  auto num = [](auto v) { return QString::number(v); };
  add("db_path", tomlString(c.dbPath));
  add("node_id", num(c.nodeId));
  add("seq_map_path", tomlString(c.effectiveSeqMapPath()));
  add("publish", tomlBool(c.publish));
  add("replicate", tomlBool(c.replicate));
  add("scan_max_changes", num(c.scanMaxChanges));
  add("cleanup_interval", num(c.cleanupIntervalMs));
  add("sleep_timeout", num(c.sleepTimeoutMs));
  add("polling_interval", num(c.pollingIntervalMs));
  add("ignore_tables", tomlList(c.ignoreTables));
  add("replication_log.shards", num(c.replicationLog.shards));
  add("replication_log.max_entries", num(c.replicationLog.maxEntries));
  add("replication_log.replicas", num(c.replicationLog.replicas));
  add("replication_log.compress", tomlBool(c.replicationLog.compress));
  add("replication_log.update_existing", tomlBool(c.replicationLog.updateExisting));
  add("replication_log.max_message_bytes", num(c.replicationLog.maxMessageBytes));
  add("replication_log.keep_published", num(c.replicationLog.keepPublishedMs));
  add("snapshot.enabled", tomlBool(c.snapshot.enabled));
  add("snapshot.store", tomlString(c.snapshot.store));
  add("snapshot.interval", num(c.snapshot.intervalMs));
  add("consistency.interval", num(c.consistency.intervalMs));
  add("snapshot.leader_ttl", num(c.snapshot.leaderTtlMs));
  add("snapshot.keep", num(c.snapshot.keep));
  add("snapshot.auto_restore", tomlBool(c.snapshot.autoRestore));
  add("snapshot.nats.replicas", num(c.snapshot.nats.replicas));
  add("snapshot.nats.bucket", tomlString(c.effectiveSnapshotBucket()));
  add("snapshot.s3.endpoint", tomlString(c.snapshot.s3.endpoint));
  add("snapshot.s3.path", tomlString(c.snapshot.s3.path));
  add("snapshot.s3.bucket", tomlString(c.snapshot.s3.bucket));
  secret("snapshot.s3.access_key", c.snapshot.s3.accessKey);
  secret("snapshot.s3.secret", c.snapshot.s3.secret);
  secret("snapshot.s3.session_token", c.snapshot.s3.sessionToken);
  add("snapshot.s3.use_ssl", tomlBool(c.snapshot.s3.useSsl));
  add("snapshot.s3.region", tomlString(c.snapshot.s3.region));
  add("snapshot.s3.addressing", tomlString(c.snapshot.s3.addressing));
  add("snapshot.s3.insecure_skip_verify", tomlBool(c.snapshot.s3.insecureSkipVerify));
  add("snapshot.webdav.url", tomlString(maskUrl(c.snapshot.webdav.url)));
  add("snapshot.webdav.insecure_skip_verify", tomlBool(c.snapshot.webdav.insecureSkipVerify));
  add("snapshot.sftp.url", tomlString(maskUrl(c.snapshot.sftp.url)));
  add("snapshot.sftp.key_file", tomlString(c.snapshot.sftp.keyFile));
  secret("snapshot.sftp.key_passphrase", c.snapshot.sftp.keyPassphrase);
  add("snapshot.sftp.known_hosts", tomlString(c.snapshot.sftp.knownHosts));
  add("snapshot.connect_timeout", num(c.snapshot.connectTimeoutMs));
  add("snapshot.idle_timeout", num(c.snapshot.idleTimeoutMs));
  add("snapshot.retries", num(c.snapshot.retries));
  add("snapshot.local.path", tomlString(c.snapshot.localPath));
  add("conflicts.policy", tomlString(c.conflicts.policy));
  {
    QStringList names = c.conflicts.tables.keys();
    names.sort();
    QStringList parts;
    for (const QString& name : names)
      parts << tomlString(name) + " = " + tomlString(c.conflicts.tables.value(name));
    add("conflicts.tables", "{ " + parts.join(", ") + (parts.isEmpty() ? "}" : " }"));
  }
  add("nats.urls", tomlList(c.nats.urls));
  add("nats.subject_prefix", tomlString(c.nats.subjectPrefix));
  add("nats.stream_prefix", tomlString(c.nats.streamPrefix));
  add("nats.bind_address", tomlString(c.nats.bindAddress));
  add("nats.server_config", tomlString(c.nats.serverConfig));
  add("nats.connect_retries", num(c.nats.connectRetries));
  add("nats.reconnect_wait_seconds", num(c.nats.reconnectWaitSeconds));
  add("nats.user_name", tomlString(c.nats.userName));
  secret("nats.user_password", c.nats.userPassword);
  add("nats.seed_file", tomlString(c.nats.seedFile));
  add("nats.ca_file", tomlString(c.nats.caFile));
  add("nats.cert_file", tomlString(c.nats.certFile));
  add("nats.key_file", tomlString(c.nats.keyFile));
  add("nats.server_binary", tomlString(c.nats.serverBinary));
  add("logging.verbose", tomlBool(c.logging.verbose));
  add("logging.format", tomlString(c.logging.format));
  add("prometheus.enable", tomlBool(c.prometheus.enable));
  add("prometheus.bind", tomlString(c.prometheus.bind));
  add("prometheus.namespace", tomlString(c.prometheus.nameSpace));
  add("prometheus.subsystem", tomlString(c.prometheus.subsystem));
  add("health_check.enable", tomlBool(c.healthCheck.enable));
  add("health_check.bind", tomlString(c.healthCheck.bind));
  add("health_check.path", tomlString(c.healthCheck.path));
  add("health_check.detailed", tomlBool(c.healthCheck.detailed));
  add("alerts.lag_seconds", num(c.alerts.lagSeconds));
  add("alerts.lag_messages", num(c.alerts.lagMessages));
  add("alerts.snapshot_age_seconds", num(c.alerts.snapshotAgeSeconds));
  add("alerts.dead_letters", num(c.alerts.deadLetters));
  add("alerts.conflicts_per_minute", num(c.alerts.conflictsPerMinute));
  add("alerts.nats_disconnected_seconds", num(c.alerts.natsDisconnectedSeconds));
  add("alerts.disk_free_percent", num(c.alerts.diskFreePercent));
  add("alerts.hold_seconds", num(c.alerts.holdSeconds));
  add("history.hours", num(c.history.hours));
  add("history.path", tomlString(c.effectiveHistoryPath()));
  return out;
}

}  // namespace hl
