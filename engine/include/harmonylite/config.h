// The node's configuration: every key of docs/configuration.md with its default, plus
// ignore_tables.
//
// Config is a plain value: load it once on the host thread with loadConfigFile() or
// firstRunConfig(), then hand a copy to the engine. Every field states its TOML key and
// default. Durations are in milliseconds unless the name says otherwise.
// Thread: value type, usable from any thread.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

#include "harmonylite/status.h"

namespace hl {

struct ReplicationLogConfig {
  int shards = 1;               // [replication_log] shards: number of streams, 1..1024
  int64_t maxEntries = 1024;    // max_entries: max messages kept per stream (>= 1)
  int replicas = 1;             // replicas: stream replicas; < 1 means shards/2+1; capped at 5
  bool compress = true;         // compress: zstd payloads, stream names carry "-c"
  bool updateExisting = false;  // update_existing: rewrite a live stream config that differs
  // max_message_bytes: largest change message accepted, after zstd decompression (4096..1 GiB);
  // a larger one is a dead letter, refused before it is expanded whole
  // (docs/replication.md#hostile-input).
  int64_t maxMessageBytes = 8 * 1024 * 1024;
  // keep_published: ms an own change stays in the change log after its ack, to be published
  // again if a stream loses it (docs/replication.md#durability); 0 = dropped at the next
  // cleanup, as Go does. 10 minutes covers nats-server 2.9's 2-minute sync with margin.
  int64_t keepPublishedMs = 600000;
};

struct SnapshotNatsConfig {
  int replicas = 1;  // [snapshot.nats] replicas
  QString bucket;    // bucket: "" means "<nats.stream_prefix>-snapshot-store"
};

struct SnapshotS3Config {
  QString endpoint;                 // [snapshot.s3] endpoint, host[:port]
  QString path;                     // path: key prefix inside the bucket
  QString bucket;                   // bucket
  QString accessKey;                // access_key (secret: never logged)
  QString secret;                   // secret (secret: never logged)
  QString sessionToken;             // session_token (secret: never logged)
  bool useSsl = false;              // use_ssl: https when true
  QString region;                   // region: signature v4 region; "" = from the endpoint
                                    // (s3.<region>.amazonaws.com), else us-east-1
  QString addressing = "auto";      // addressing: auto | path | virtual (bucket.endpoint)
  bool insecureSkipVerify = false;  // insecure_skip_verify: accept any TLS certificate
};

struct SnapshotWebDavConfig {
  QString url;                      // [snapshot.webdav] url (?dir=&login=&secret=; secret masked)
  bool insecureSkipVerify = false;  // insecure_skip_verify: accept any TLS certificate
};

struct SnapshotSftpConfig {
  QString url;            // [snapshot.sftp] url (sftp://user:pass@host:port/path)
  QString keyFile;        // key_file: private key (OpenSSH or PEM; ed25519/ECDSA)
  QString keyPassphrase;  // key_passphrase (secret: never logged)
  QString knownHosts;     // known_hosts: "" = ~/.ssh/known_hosts of the running user
};

struct SnapshotConfig {
  bool enabled = true;          // [snapshot] enabled
  QString store = "nats";       // store: nats | s3 | webdav | sftp | local
  int64_t intervalMs = 0;       // interval: ms between leader snapshots, 0 = off
  int64_t leaderTtlMs = 30000;  // leader_ttl: lease TTL in ms (>= 1000)
  int keep = 5;                 // keep: snapshots kept in the store's history (1..1000)
  bool autoRestore = true;      // auto_restore: restore at once when a shard needs it
  SnapshotNatsConfig nats;      // [snapshot.nats]
  SnapshotS3Config s3;          // [snapshot.s3]
  SnapshotWebDavConfig webdav;  // [snapshot.webdav]
  SnapshotSftpConfig sftp;      // [snapshot.sftp]
  // Remote stores (s3, webdav, sftp): connect_timeout (ms), idle_timeout (ms: a transfer that
  // moves no byte for this long is given up), retries (further attempts of a failed request).
  int64_t connectTimeoutMs = 10000;
  int64_t idleTimeoutMs = 60000;
  int retries = 3;
  QString localPath;  // [snapshot.local] path: directory for store = "local"
};

struct NatsConfig {
  QStringList
      urls;  // [nats] urls: [] means run the embedded server (docs/replication.md#embedded-server)
  QString subjectPrefix = "harmonylite-change-log";  // subject_prefix
  QString streamPrefix = "harmonylite-changes";      // stream_prefix
  QString bindAddress = ":-1";   // bind_address of the embedded server; ":-1" = random port
  QString serverConfig;          // server_config: nats-server config file merged on top
  int connectRetries = 5;        // connect_retries: first-connection attempts (external urls)
  int reconnectWaitSeconds = 2;  // reconnect_wait_seconds: backoff between reconnects
  QString userName;              // user_name
  QString userPassword;          // user_password (secret: never logged)
  QString seedFile;              // seed_file: NKey seed file
  QString caFile;                // ca_file: TLS CA bundle
  QString certFile;              // cert_file: client certificate (mTLS)
  QString keyFile;               // key_file: client key (mTLS)
  QString serverBinary;          // server_binary: nats-server program; "" = found on PATH
  // Set from the command line only (-cluster-addr, -cluster-peers, -leaf-servers):
  QString clusterAddr;       // embedded server's cluster listen address host:port
  QStringList clusterPeers;  // embedded server's cluster routes (nats://host:port)
  QStringList leafServers;   // embedded server's leaf-node remotes
};

struct LoggingConfig {
  bool verbose = false;        // [logging] verbose: debug level
  QString format = "console";  // format: console | json
};

struct PrometheusConfig {
  bool enable = false;                // [prometheus] enable
  QString bind = ":3010";             // bind: host:port (":port" = all interfaces)
  QString nameSpace = "harmonylite";  // namespace
  QString subsystem;                  // subsystem
};

// [consistency] (docs/consistency.md#in-the-appliance).
struct ConsistencyConfig {
  int64_t intervalMs = 0;  // interval: ms between scheduled cross-node checks, 0 = off
};

// [alerts] (docs/alerts.md): thresholds of the alert rules; 0 turns a rule off. The states
// that are always alerts (a shard stopped, needing a restore or paused by a schema difference;
// the database or capture broken; another process with this node id) have no key.
struct AlertsConfig {
  int64_t lagSeconds = 60;               // lag_seconds: oldest message not applied, seconds
  int64_t lagMessages = 10000;           // lag_messages: messages not applied, over all shards
  int64_t snapshotAgeSeconds = 172800;   // snapshot_age_seconds: newest snapshot older (2 days)
  int64_t deadLetters = 1;               // dead_letters: dead letters waiting for a decision
  int64_t conflictsPerMinute = 100;      // conflicts_per_minute: conflicts in the last 60 s
  int64_t natsDisconnectedSeconds = 30;  // nats_disconnected_seconds
  int64_t diskFreePercent = 10;          // disk_free_percent: free space of db_path's disk below
  int64_t holdSeconds = 30;              // hold_seconds: how long a condition holds before it fires
};

// [history] (docs/alerts.md#history): the node's own figures, one sample per minute.
struct HistoryConfig {
  int hours = 24;  // hours: how far back samples are kept (0 = no history), 1..8760
  QString path;    // path: "" = "<dir of db_path>/harmonylite-history.db"
};

struct HealthCheckConfig {
  bool enable = false;            // [health_check] enable
  QString bind = "0.0.0.0:8090";  // bind
  QString path = "/health";       // path
  bool detailed = true;           // detailed: JSON body with per-component state
};

// What a node does when its insert and another node's insert of the same key collide
// (docs/replication.md#insert-collisions).
struct ConflictsConfig {
  // [conflicts] policy: "auto" (keep-both for tables keyed by an INTEGER PRIMARY KEY or by
  // rowid, last-writer-wins for the others), "keep-both", "dead-letter" or "last-writer-wins"
  // (docs/replication.md#insert-collisions).
  QString policy = "auto";
  QHash<QString, QString> tables;  // [conflicts] tables = { Name = "policy" }: per table
};

struct Config {
  QString dbPath;  // db_path: the application's SQLite database (required)
  uint64_t nodeId =
      0;  // node_id: 0 = generated once and persisted (docs/configuration.md#first-run)
  QString seqMapPath;                // seq_map_path: "" = "<dir of db_path>/seq-map.cbor"
  bool publish = true;               // publish: false = local changes are not captured at all
  bool replicate = true;             // replicate: false = remote changes are not applied
  int scanMaxChanges = 512;          // scan_max_changes: changes read per publish batch (1..100000)
  int64_t cleanupIntervalMs = 5000;  // cleanup_interval: ms between cleanups; 0 = at once
  int64_t sleepTimeoutMs = 0;        // sleep_timeout: idle ms before exiting 0; 0 = off
  int64_t pollingIntervalMs = 0;     // polling_interval: extra polling of the db in ms; 0 = off
  QStringList ignoreTables;  // ignore_tables (also [sharding] ignore_tables): not replicated

  ReplicationLogConfig replicationLog;
  SnapshotConfig snapshot;
  NatsConfig nats;
  LoggingConfig logging;
  PrometheusConfig prometheus;
  HealthCheckConfig healthCheck;
  ConsistencyConfig consistency;
  ConflictsConfig conflicts;
  AlertsConfig alerts;
  HistoryConfig history;

  // Where it came from: the config file path, or "" for the first-run defaults.
  QString sourcePath;

  // Derived values (defaults applied to empty fields).
  QString effectiveSeqMapPath() const;
  QString effectiveSnapshotBucket() const;
  QString effectiveHistoryPath() const;  // history.path, or its default beside db_path
  QString keptHistoryPath() const;       // the same, "" when history.hours = 0 (none kept)
  int effectiveReplicas() const;  // docs/wire-format.md#streams: < 1 -> shards/2+1, capped at 5
  QString streamName(int shard) const;   // docs/wire-format.md#streams
  QString subjectName(int shard) const;  // docs/wire-format.md#streams
  QString stateDir() const;              // directory of db_path
};

// A warning found while loading (unknown key): the host logs these once logging is set up.
struct ConfigWarning {
  QString key;      // dotted path, e.g. "nats.urlz"
  int line = 0;     // 1-based line in the file, 0 when unknown
  QString message;  // full sentence naming file, line and key
};

struct LoadedConfig {
  Config config;
  QList<ConfigWarning> warnings;
};

// Parses a TOML file. Errors name the file, the line and the key:
//   "/etc/harmonylite/config.toml:12: replication_log.shards: expected an integer, got a string"
Result<LoadedConfig> loadConfigFile(const QString& path);

// Parses TOML text (for tests and for embedded defaults); `sourceName` is used in messages.
Result<LoadedConfig> loadConfigText(const QString& text, const QString& sourceName);
// Parses a file's bytes as they are (loadConfigFile): invalid UTF-8, NUL and other control
// characters are errors naming `sourceName` and the line, like every other defect.
Result<LoadedConfig> loadConfigBytes(const QByteArray& bytes, const QString& sourceName);

// First-run defaults (docs/configuration.md#first-run): database and state under `dataDir` (the
// user's data directory when empty), embedded NATS. Creates `dataDir` when missing.
Result<Config> firstRunConfig(const QString& dataDir = QString());

// The user's data directory for the first-run defaults (e.g. ~/.local/share/harmonylite).
QString defaultDataDir();

// One line of the effective configuration, as the dashboard's Settings page and logs show it.
struct ConfigEntry {
  QString key;    // dotted TOML path, e.g. "nats.user_password"
  QString value;  // as TOML would spell it; secrets are masked ("********" when set)
  bool secret = false;
};

// The effective configuration, every key in file order, with secrets (passwords, S3 keys, the
// password inside WebDAV/SFTP URLs) masked. Safe to log and to show.
QList<ConfigEntry> describeConfig(const Config& config);

// Resolves node_id == 0: reads "<state dir>/node-id", or generates a random id and writes it
// there atomically. Returns the id to use.
Result<uint64_t> resolveNodeId(const Config& config);

}  // namespace hl

Q_DECLARE_METATYPE(hl::Config)
