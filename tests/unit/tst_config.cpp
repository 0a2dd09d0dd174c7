// Configuration loading (docs/configuration.md, docs/configuration.md#first-run): defaults, the
// deployment guide's config verbatim, errors that name file, line and key, warnings for unknown
// keys, node id persistence.
#include <QDir>
#include <QHash>
#include <QTemporaryDir>
#include <QtTest>

#include "harmonylite/config.h"
#include "test_support.h"

using namespace hl;

namespace {
// The production deployment guide's configuration example (its ```toml block), verbatim.
QString guideToml() {
  return QString::fromUtf8(test::readFile(test::dataDir() + "/production-config.toml"));
}

Result<LoadedConfig> load(const QString& text) {
  return loadConfigText(text, "/etc/hl/test.toml");
}
}  // namespace

class TestConfig : public QObject {
  Q_OBJECT
 private slots:
  void defaultsOfEveryKey() {
    auto r = load("db_path = \"/data/app.db\"\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    const Config& c = r->config;
    QCOMPARE(c.dbPath, QString("/data/app.db"));
    QCOMPARE(c.nodeId, uint64_t(0));
    QCOMPARE(c.effectiveSeqMapPath(), QString("/data/seq-map.cbor"));
    QCOMPARE(c.publish, true);
    QCOMPARE(c.replicate, true);
    QCOMPARE(c.scanMaxChanges, 512);
    QCOMPARE(c.cleanupIntervalMs, int64_t(5000));
    QCOMPARE(c.sleepTimeoutMs, int64_t(0));
    QCOMPARE(c.pollingIntervalMs, int64_t(0));
    QVERIFY(c.ignoreTables.isEmpty());
    QCOMPARE(c.replicationLog.shards, 1);
    QCOMPARE(c.replicationLog.maxEntries, int64_t(1024));
    QCOMPARE(c.replicationLog.replicas, 1);
    QCOMPARE(c.replicationLog.compress, true);
    QCOMPARE(c.replicationLog.updateExisting, false);
    QCOMPARE(c.replicationLog.keepPublishedMs, int64_t(600000));
    QCOMPARE(c.snapshot.enabled, true);
    QCOMPARE(c.snapshot.store, QString("nats"));
    QCOMPARE(c.snapshot.intervalMs, int64_t(0));
    QCOMPARE(c.snapshot.leaderTtlMs, int64_t(30000));
    QCOMPARE(c.snapshot.keep, 5);
    QCOMPARE(c.snapshot.autoRestore, true);
    QCOMPARE(c.snapshot.nats.replicas, 1);
    QCOMPARE(c.effectiveSnapshotBucket(), QString("harmonylite-changes-snapshot-store"));
    QCOMPARE(c.snapshot.s3.useSsl, false);
    QVERIFY(c.snapshot.s3.region.isEmpty());  // from the endpoint, else us-east-1
    QVERIFY(c.snapshot.s3.endpoint.isEmpty());
    QVERIFY(c.snapshot.webdav.url.isEmpty());
    QVERIFY(c.snapshot.sftp.url.isEmpty());
    QVERIFY(c.nats.urls.isEmpty());
    QCOMPARE(c.nats.subjectPrefix, QString("harmonylite-change-log"));
    QCOMPARE(c.nats.streamPrefix, QString("harmonylite-changes"));
    QCOMPARE(c.nats.bindAddress, QString(":-1"));
    QVERIFY(c.nats.serverConfig.isEmpty());
    QCOMPARE(c.nats.connectRetries, 5);
    QCOMPARE(c.nats.reconnectWaitSeconds, 2);
    QVERIFY(c.nats.userName.isEmpty() && c.nats.userPassword.isEmpty() &&
            c.nats.seedFile.isEmpty() && c.nats.caFile.isEmpty() && c.nats.certFile.isEmpty() &&
            c.nats.keyFile.isEmpty());
    QCOMPARE(c.logging.verbose, false);
    QCOMPARE(c.logging.format, QString("console"));
    QCOMPARE(c.prometheus.enable, false);
    QCOMPARE(c.prometheus.bind, QString(":3010"));
    QCOMPARE(c.prometheus.nameSpace, QString("harmonylite"));
    QCOMPARE(c.prometheus.subsystem, QString());
    QCOMPARE(c.healthCheck.enable, false);
    QCOMPARE(c.healthCheck.bind, QString("0.0.0.0:8090"));
    QCOMPARE(c.healthCheck.path, QString("/health"));
    QCOMPARE(c.healthCheck.detailed, true);
    QVERIFY(r->warnings.isEmpty());
    // Derived names (docs/wire-format.md#streams).
    QCOMPARE(c.streamName(2), QString("harmonylite-changes-c-2"));
    QCOMPARE(c.subjectName(2), QString("harmonylite-change-log-2"));
    QCOMPARE(c.effectiveReplicas(), 1);
  }

  void guideProductionConfigVerbatim() {
    const QString toml = guideToml();
    QVERIFY2(toml.contains("db_path"), "tests/data/production-config.toml not found");
    auto r = load(toml);
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QVERIFY2(r->warnings.isEmpty(), qPrintable(r->warnings.value(0).message));
    const Config& c = r->config;
    QCOMPARE(c.dbPath, QString("/var/lib/harmonylite/data.db"));
    QCOMPARE(c.nodeId, uint64_t(1));
    QCOMPARE(c.seqMapPath, QString("/var/lib/harmonylite/seq-map.cbor"));
    QCOMPARE(c.cleanupIntervalMs, int64_t(30000));
    QCOMPARE(c.replicationLog.shards, 4);
    QCOMPARE(c.replicationLog.maxEntries, int64_t(2048));
    QCOMPARE(c.replicationLog.replicas, 3);
    QCOMPARE(c.replicationLog.compress, true);
    QCOMPARE(c.snapshot.enabled, true);
    QCOMPARE(c.snapshot.store, QString("s3"));
    QCOMPARE(c.snapshot.intervalMs, int64_t(3600000));
    QCOMPARE(c.snapshot.s3.endpoint, QString("s3.amazonaws.com"));
    QCOMPARE(c.snapshot.s3.bucket, QString("your-backup-bucket"));
    QCOMPARE(c.snapshot.s3.path, QString("harmonylite/snapshots"));
    QCOMPARE(c.snapshot.s3.useSsl, true);
    QCOMPARE(c.snapshot.s3.accessKey, QString("your-access-key"));
    QCOMPARE(c.snapshot.s3.secret, QString("your-secret-key"));
    QCOMPARE(c.nats.urls, QStringList({"nats://nats-server-1:4222", "nats://nats-server-2:4222",
                                       "nats://nats-server-3:4222"}));
    QCOMPARE(c.nats.connectRetries, 10);
    QCOMPARE(c.nats.reconnectWaitSeconds, 5);
    QCOMPARE(c.prometheus.enable, true);
    QCOMPARE(c.prometheus.bind, QString("127.0.0.1:3010"));
    QCOMPARE(c.logging.verbose, false);
    QCOMPARE(c.logging.format, QString("json"));
    // Keys the guide leaves out keep their defaults.
    QCOMPARE(c.scanMaxChanges, 512);
    QCOMPARE(c.healthCheck.enable, false);
    QCOMPARE(c.effectiveReplicas(), 3);
    QCOMPARE(c.streamName(4), QString("harmonylite-changes-c-4"));
  }

  void errorsNameFileLineAndKey_data() {
    QTest::addColumn<QString>("toml");
    QTest::addColumn<QString>("expected");
    const QString db = "db_path = \"/d/a.db\"\n";
    QTest::newRow("shards two") << db + "[replication_log]\nshards = \"two\"\n"
                                << "/etc/hl/test.toml:3: replication_log.shards: expected an "
                                   "integer, got a string";
    QTest::newRow("shards zero") << db + "[replication_log]\nshards = 0\n"
                                 << "test.toml:3: replication_log.shards: 0 is out of range";
    QTest::newRow("publish string") << db + "publish = \"yes\"\n"
                                    << "test.toml:2: publish: expected a boolean, got a string";
    QTest::newRow("negative cleanup") << db + "cleanup_interval = -5\n"
                                      << "test.toml:2: cleanup_interval: -5 is out of range";
    QTest::newRow("float interval") << db + "[snapshot]\ninterval = 1.5\n"
                                    << "test.toml:3: snapshot.interval: expected an integer, got "
                                       "a float";
    QTest::newRow("keep zero") << db + "[snapshot]\nkeep = 0\n"
                               << "test.toml:3: snapshot.keep:";
    QTest::newRow("auto_restore string") << db + "[snapshot]\nauto_restore = \"yes\"\n"
                                         << "test.toml:3: snapshot.auto_restore:";
    QTest::newRow("unknown store") << db + "[snapshot]\nstore = \"ftp\"\n"
                                   << "test.toml:3: snapshot.store: unknown value \"ftp\" "
                                      "(expected one of: local, nats, s3, sftp, webdav)";
    QTest::newRow("unknown format") << db + "[logging]\nformat = \"xml\"\n"
                                    << "test.toml:3: logging.format: unknown value \"xml\" "
                                       "(expected one of: console, json)";
    QTest::newRow("urls not array") << db + "[nats]\nurls = \"nats://x:4222\"\n"
                                    << "test.toml:3: nats.urls: expected an array of strings";
    QTest::newRow("urls item int") << db + "[nats]\nurls = [\"nats://a:1\", 5]\n"
                                   << "nats.urls: expected an array of strings, found an integer";
    QTest::newRow("bad bind") << db + "[prometheus]\nbind = \"localhost\"\n"
                              << "test.toml:3: prometheus.bind: \"localhost\" is not a bind";
    QTest::newRow("bad port") << db + "[health_check]\nbind = \"0.0.0.0:99999\"\n"
                              << "test.toml:3: health_check.bind:";
    QTest::newRow("table as value") << db + "nats = 3\n"
                                    << "test.toml:2: nats: expected a table, got an integer";
    QTest::newRow("syntax error") << db + "[nats\nurls = []\n"
                                  << "/etc/hl/test.toml:2:";
    QTest::newRow("no db_path") << "node_id = 3\n"
                                << "db_path: required";
    QTest::newRow("negative node id") << db + "node_id = -1\n"
                                      << "test.toml:2: node_id: -1 is out of range";
    QTest::newRow("leader ttl small") << db + "[snapshot]\nleader_ttl = 10\n"
                                      << "snapshot.leader_ttl: 10 is out of range";
    QTest::newRow("health path") << db + "[health_check]\npath = \"health\"\n"
                                 << "test.toml:3: health_check.path: must start with /";
    // The chosen store's own keys (docs/snapshots.md#remote-stores).
    QTest::newRow("s3 no bucket")
        << db + "[snapshot]\nstore = \"s3\"\n[snapshot.s3]\n"
                "endpoint = \"s3.amazonaws.com\"\n"
        << "test.toml:3: snapshot.s3.bucket: store = \"s3\" needs a bucket";
    QTest::newRow("s3 endpoint url") << db + "[snapshot]\nstore = \"s3\"\n[snapshot.s3]\n"
                                             "endpoint = \"https://minio:9000\"\nbucket = \"b\"\n"
                                     << "test.toml:5: snapshot.s3.endpoint: store = \"s3\" needs "
                                        "the server as host or host:port";
    QTest::newRow("s3 addressing") << db + "[snapshot.s3]\naddressing = \"dns\"\n"
                                   << "test.toml:3: snapshot.s3.addressing: unknown value \"dns\"";
    QTest::newRow("webdav not http") << db + "[snapshot]\nstore = \"webdav\"\n[snapshot.webdav]\n"
                                             "url = \"ftp://h/x\"\n"
                                     << "test.toml:5: snapshot.webdav.url: store = \"webdav\" "
                                        "needs an http:// or https:// URL";
    QTest::newRow("sftp no user") << db + "[snapshot]\nstore = \"sftp\"\n[snapshot.sftp]\n"
                                          "url = \"sftp://host/backups\"\n"
                                  << "test.toml:5: snapshot.sftp.url: store = \"sftp\" needs a URL "
                                     "sftp://user[:password]@host[:port]/path";
    QTest::newRow("sftp no way in")
        << db + "[snapshot]\nstore = \"sftp\"\n[snapshot.sftp]\n"
                "url = \"sftp://u@host/backups\"\n"
        << "test.toml:5: snapshot.sftp.url: the URL has no password and "
           "snapshot.sftp.key_file is not set";
    QTest::newRow("retries") << db + "[snapshot]\nretries = -1\n"
                             << "test.toml:3: snapshot.retries: -1 is out of range";
    QTest::newRow("connect_timeout") << db + "[snapshot]\nconnect_timeout = 5\n"
                                     << "test.toml:3: snapshot.connect_timeout: 5 is out of range";
    QTest::newRow("ignore_tables") << db + "ignore_tables = \"t\"\n"
                                   << "test.toml:2: ignore_tables: expected an array of strings";
    QTest::newRow("keep_published negative")
        << db + "[replication_log]\nshards = 2\nkeep_published = -1\n"
        << "/etc/hl/test.toml:4: replication_log.keep_published: -1 is out of range";
    QTest::newRow("conflicts policy")
        << db + "[conflicts]\npolicy = \"both\"\n"
        << "test.toml:3: conflicts.policy: unknown value \"both\" (expected one of: auto, "
           "dead-letter, keep-both, last-writer-wins)";
    QTest::newRow("conflicts table policy")
        << db + "[conflicts]\ntables = { a = \"keep-both\", Log = \"keep\" }\n"
        << "test.toml:3: conflicts.tables.Log: unknown value \"keep\" (expected one of: auto, "
           "dead-letter, keep-both, last-writer-wins)";
    QTest::newRow("conflicts table number") << db + "[conflicts]\ntables = { a = 1 }\n"
                                            << "test.toml:3: conflicts.tables.a: expected a "
                                               "string, got an integer";
    QTest::newRow("conflicts tables not a table")
        << db + "[conflicts]\ntables = \"a\"\n"
        << "test.toml:3: conflicts.tables: expected a table of strings, got a string";
    QTest::newRow("alerts disk percent")
        << db + "[alerts]\ndisk_free_percent = 101\n"
        << "test.toml:3: alerts.disk_free_percent: 101 is out of range";
    QTest::newRow("alerts lag string") << db + "[alerts]\nlag_seconds = \"1m\"\n"
                                       << "test.toml:3: alerts.lag_seconds: expected an integer, "
                                          "got a string";
    QTest::newRow("history hours") << db + "[history]\nhours = -1\n"
                                   << "test.toml:3: history.hours: -1 is out of range";
    QTest::newRow("keep_published string")
        << db + "[replication_log]\nkeep_published = \"10m\"\n"
        << "/etc/hl/test.toml:3: replication_log.keep_published: expected an integer, got a "
           "string";
  }

  void errorsNameFileLineAndKey() {
    QFETCH(QString, toml);
    QFETCH(QString, expected);
    auto r = load(toml);
    QVERIFY(!r.ok());
    QCOMPARE(r.status().code(), Status::Code::kInvalidArgument);
    QVERIFY2(r.status().message().contains(expected), qPrintable(r.status().message()));
  }

  void unknownKeysAreWarnedByName() {
    auto r = load(
        "db_path = \"/d/a.db\"\nfoo = 1\n[nats]\nurlz = []\n[snapshot.s3]\nregionz = "
        "\"x\"\n[extra]\nk = 1\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QCOMPARE(r->warnings.size(), 4);
    QStringList keys;
    for (const auto& w : r->warnings) keys << w.key;
    keys.sort();
    QCOMPARE(keys, QStringList({"extra", "foo", "nats.urlz", "snapshot.s3.regionz"}));
    for (const auto& w : r->warnings) {
      QVERIFY2(w.message.startsWith("/etc/hl/test.toml:"), qPrintable(w.message));
      QVERIFY(w.message.contains(w.key));
      QVERIFY(w.line > 0);
    }
    QCOMPARE(r->warnings[0].line, 2);  // foo
  }

  void ignoreTablesAtTopAndUnderSharding() {
    auto r = load(
        "db_path = \"/d/a.db\"\nignore_tables = [\"a\", \"b\"]\n[sharding]\n"
        "ignore_tables = [\"b\", \"c\"]\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QCOMPARE(r->config.ignoreTables, QStringList({"a", "b", "c"}));
    QVERIFY(r->warnings.isEmpty());
  }

  // The pre-check that keeps toml++ 3.3 away from its unreachable paths (config.cpp,
  // precheckToml) must let valid TOML through however it is spaced: strings right after "=",
  // arrays spread over lines with comments, inline tables, quoted keys and dates.
  void compactValidTomlPassesThePrecheck() {
    auto r = load(
        "db_path=\"/d/a.db\"\nnode_id=7\nignore_tables=[\"a\",'b',\n  # c\n  \"c\"]\n"
        "x={k=1,s=\"v\",t=[1,\"w\"]}\nwhen=1979-05-27 07:32:00\n\"q\".r='z\xc3\xa4'\n"
        "m=\"\"\"\xd1\x93\\\n  y\"\"\"\n[nats]\n"
        "urls=[\"nats://a:1\",\"nats://b:2\"]\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QCOMPARE(r->config.nodeId, 7);
    QCOMPARE(r->config.ignoreTables, QStringList({"a", "b", "c"}));
    QCOMPARE(r->config.nats.urls, QStringList({"nats://a:1", "nats://b:2"}));
  }

  void everyKeySet() {
    auto r = load(R"(db_path = "rel/app.db"
node_id = 42
seq_map_path = "/s/map.cbor"
publish = false
replicate = false
scan_max_changes = 100
cleanup_interval = 0
sleep_timeout = 60000
polling_interval = 250
[replication_log]
shards = 3
max_entries = 9999
replicas = 0
compress = false
update_existing = true
keep_published = 0
[snapshot]
enabled = false
store = "webdav"
interval = 1000
leader_ttl = 5000
keep = 9
auto_restore = false
connect_timeout = 2500
idle_timeout = 15000
retries = 7
[snapshot.nats]
replicas = 3
bucket = "b"
[snapshot.s3]
session_token = "tok"
region = "eu-west-3"
addressing = "path"
insecure_skip_verify = true
[snapshot.webdav]
url = "https://h/dav?dir=/x&login=u&secret=p"
insecure_skip_verify = true
[snapshot.sftp]
url = "sftp://u:p@h:22/p"
key_file = "keys/id_ed25519"
key_passphrase = "kp"
known_hosts = "/etc/harmonylite/known_hosts"
[nats]
urls = ["nats://a:1"]
subject_prefix = "sp"
stream_prefix = "st"
bind_address = "127.0.0.1:4333"
server_config = "/etc/n.conf"
user_name = "u"
user_password = "pw"
seed_file = "/k/seed.nk"
ca_file = "/k/ca.pem"
cert_file = "/k/c.pem"
key_file = "/k/k.pem"
[logging]
verbose = true
format = "json"
[prometheus]
enable = true
bind = ":9100"
namespace = "ns"
subsystem = "sub"
[health_check]
enable = true
bind = "127.0.0.1:8091"
path = "/hz"
detailed = false
)");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QVERIFY(r->warnings.isEmpty());
    const Config& c = r->config;
    QCOMPARE(c.dbPath, QString("/etc/hl/rel/app.db"));  // relative to the config's folder
    QCOMPARE(c.nodeId, uint64_t(42));
    QCOMPARE(c.effectiveSeqMapPath(), QString("/s/map.cbor"));
    QVERIFY(!c.publish && !c.replicate);
    QCOMPARE(c.scanMaxChanges, 100);
    QCOMPARE(c.cleanupIntervalMs, int64_t(0));
    QCOMPARE(c.sleepTimeoutMs, int64_t(60000));
    QCOMPARE(c.pollingIntervalMs, int64_t(250));
    QCOMPARE(c.replicationLog.shards, 3);
    QCOMPARE(c.replicationLog.maxEntries, int64_t(9999));
    QCOMPARE(c.effectiveReplicas(), 2);  // 0 -> shards/2 + 1
    QCOMPARE(c.streamName(1), QString("st-1"));
    QCOMPARE(c.subjectName(3), QString("sp-3"));
    QVERIFY(c.replicationLog.updateExisting);
    QCOMPARE(c.replicationLog.keepPublishedMs, int64_t(0));  // drop at once after the ack
    QVERIFY(!c.snapshot.enabled);
    QCOMPARE(c.snapshot.store, QString("webdav"));
    QCOMPARE(c.snapshot.intervalMs, int64_t(1000));
    QCOMPARE(c.snapshot.leaderTtlMs, int64_t(5000));
    QCOMPARE(c.snapshot.keep, 9);
    QCOMPARE(c.snapshot.autoRestore, false);
    QCOMPARE(c.snapshot.nats.replicas, 3);
    QCOMPARE(c.effectiveSnapshotBucket(), QString("b"));
    QCOMPARE(c.snapshot.s3.sessionToken, QString("tok"));
    QCOMPARE(c.snapshot.s3.region, QString("eu-west-3"));
    QCOMPARE(c.snapshot.webdav.url, QString("https://h/dav?dir=/x&login=u&secret=p"));
    QCOMPARE(c.snapshot.sftp.url, QString("sftp://u:p@h:22/p"));
    QCOMPARE(c.snapshot.connectTimeoutMs, int64_t(2500));
    QCOMPARE(c.snapshot.idleTimeoutMs, int64_t(15000));
    QCOMPARE(c.snapshot.retries, 7);
    QCOMPARE(c.snapshot.s3.addressing, QString("path"));
    QVERIFY(c.snapshot.s3.insecureSkipVerify);
    QVERIFY(c.snapshot.webdav.insecureSkipVerify);
    QVERIFY(c.snapshot.sftp.keyFile.endsWith("/keys/id_ed25519"));  // relative to the file
    QVERIFY(QDir::isAbsolutePath(c.snapshot.sftp.keyFile));
    QCOMPARE(c.snapshot.sftp.keyPassphrase, QString("kp"));
    QCOMPARE(c.snapshot.sftp.knownHosts, QString("/etc/harmonylite/known_hosts"));
    QCOMPARE(c.nats.urls, QStringList({"nats://a:1"}));
    QCOMPARE(c.nats.bindAddress, QString("127.0.0.1:4333"));
    QCOMPARE(c.nats.serverConfig, QString("/etc/n.conf"));
    QCOMPARE(c.nats.userName, QString("u"));
    QCOMPARE(c.nats.userPassword, QString("pw"));
    QCOMPARE(c.nats.seedFile, QString("/k/seed.nk"));
    QCOMPARE(c.nats.caFile, QString("/k/ca.pem"));
    QCOMPARE(c.nats.certFile, QString("/k/c.pem"));
    QCOMPARE(c.nats.keyFile, QString("/k/k.pem"));
    QVERIFY(c.logging.verbose);
    QCOMPARE(c.logging.format, QString("json"));
    QVERIFY(c.prometheus.enable);
    QCOMPARE(c.prometheus.bind, QString(":9100"));
    QCOMPARE(c.prometheus.nameSpace, QString("ns"));
    QCOMPARE(c.prometheus.subsystem, QString("sub"));
    QVERIFY(c.healthCheck.enable);
    QCOMPARE(c.healthCheck.bind, QString("127.0.0.1:8091"));
    QCOMPARE(c.healthCheck.path, QString("/hz"));
    QVERIFY(!c.healthCheck.detailed);
  }

  void keepPublishedIsReadAndListed() {
    auto r = load("db_path = \"/d/a.db\"\n[replication_log]\nkeep_published = 3600000\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QVERIFY(r->warnings.isEmpty());  // a known key
    QCOMPARE(r->config.replicationLog.keepPublishedMs, int64_t(3600000));
    QString listed;
    for (const ConfigEntry& e : describeConfig(r->config))
      if (e.key == "replication_log.keep_published") listed = e.value;
    QCOMPARE(listed, QString("3600000"));
  }

  // docs/alerts.md: [alerts], [history] and [consistency] are known tables (no warning), read,
  // and listed; the history file's default is beside db_path.
  void alertsHistoryAndConsistencyAreRead() {
    auto r = load(
        "db_path = \"/d/a.db\"\n[alerts]\nlag_seconds = 5\nlag_messages = 0\n"
        "snapshot_age_seconds = 7\ndead_letters = 3\nconflicts_per_minute = 9\n"
        "nats_disconnected_seconds = 11\ndisk_free_percent = 12\nhold_seconds = 1\n"
        "[history]\nhours = 48\n[consistency]\ninterval = 60000\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QVERIFY2(r->warnings.isEmpty(), qPrintable(r->warnings.value(0).message));
    const AlertsConfig& a = r->config.alerts;
    QCOMPARE(a.lagSeconds, 5);
    QCOMPARE(a.lagMessages, 0);
    QCOMPARE(a.snapshotAgeSeconds, 7);
    QCOMPARE(a.deadLetters, 3);
    QCOMPARE(a.conflictsPerMinute, 9);
    QCOMPARE(a.natsDisconnectedSeconds, 11);
    QCOMPARE(a.diskFreePercent, 12);
    QCOMPARE(a.holdSeconds, 1);
    QCOMPARE(r->config.history.hours, 48);
    QCOMPARE(r->config.consistency.intervalMs, 60000);
    QCOMPARE(r->config.effectiveHistoryPath(), QString("/d/harmonylite-history.db"));
    QMap<QString, QString> listed;
    for (const ConfigEntry& e : describeConfig(r->config)) listed.insert(e.key, e.value);
    QCOMPARE(listed.value("alerts.hold_seconds"), QString("1"));
    QCOMPARE(listed.value("history.path"), QString("\"/d/harmonylite-history.db\""));
    // Defaults.
    auto d = load("db_path = \"/d/a.db\"\n");
    QCOMPARE(d->config.alerts.lagSeconds, 60);
    QCOMPARE(d->config.alerts.holdSeconds, 30);
    QCOMPARE(d->config.history.hours, 24);
  }

  // docs/configuration.md#conflicts: the default, a policy for every table, one per table.
  void conflictPoliciesAreReadAndListed() {
    auto r = load("db_path = \"/d/a.db\"\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QCOMPARE(r->config.conflicts.policy, QString("auto"));
    QVERIFY(r->config.conflicts.tables.isEmpty());
    r = load(
        "db_path = \"/d/a.db\"\n[conflicts]\npolicy = \"last-writer-wins\"\n"
        "tables = { Log = \"keep-both\", \"Order Items\" = \"auto\", Jobs = \"dead-letter\" }\n");
    QVERIFY2(r.ok(), qPrintable(r.status().message()));
    QVERIFY(r->warnings.isEmpty());
    QCOMPARE(r->config.conflicts.policy, QString("last-writer-wins"));
    QCOMPARE(r->config.conflicts.tables.value("Log"), QString("keep-both"));
    QCOMPARE(r->config.conflicts.tables.value("Jobs"), QString("dead-letter"));
    QCOMPARE(r->config.conflicts.tables.value("Order Items"), QString("auto"));
    QString listed;
    for (const ConfigEntry& e : describeConfig(r->config))
      if (e.key == "conflicts.tables") listed = e.value;
    QCOMPARE(listed, QString("{ \"Jobs\" = \"dead-letter\", \"Log\" = \"keep-both\", \"Order "
                             "Items\" = \"auto\" }"));
  }

  void replicasCappedAtFive() {
    auto r = load("db_path = \"/d/a.db\"\n[replication_log]\nshards = 20\nreplicas = -1\n");
    QVERIFY(r.ok());
    QCOMPARE(r->config.effectiveReplicas(), 5);
  }

  void missingAndUnreadableFiles() {
    auto r = loadConfigFile("/nonexistent/dir/config.toml");
    QVERIFY(!r.ok());
    QCOMPARE(r.status().code(), Status::Code::kNotFound);
    QVERIFY(r.status().message().contains("/nonexistent/dir/config.toml"));

    QTemporaryDir dir;
    auto dirAsFile = loadConfigFile(dir.path());  // a directory cannot be read as a file
    QVERIFY(!dirAsFile.ok());
    QVERIFY(dirAsFile.status().message().contains(dir.path()));
  }

  void loadFromFileUsesItsPath() {
    QTemporaryDir dir;
    const QString path = dir.filePath("c.toml");
    QVERIFY(test::writeFile(path, "db_path = \"data.db\"\n[nats]\nconnect_retries = true\n"));
    auto r = loadConfigFile(path);
    QVERIFY(!r.ok());
    QVERIFY2(r.status().message().startsWith(path + ":3: nats.connect_retries:"),
             qPrintable(r.status().message()));
    QVERIFY(test::writeFile(path, "db_path = \"data.db\"\n"));
    auto ok = loadConfigFile(path);
    QVERIFY(ok.ok());
    QCOMPARE(ok->config.dbPath, dir.filePath("data.db"));
    QCOMPARE(ok->config.sourcePath, path);
  }

  void firstRunDefaultsAndPersistentNodeId() {
    QTemporaryDir dir;
    const QString data = dir.filePath("nested/data");
    auto c = firstRunConfig(data);
    QVERIFY2(c.ok(), qPrintable(c.status().message()));
    QVERIFY(QDir(data).exists());
    QCOMPARE(c->dbPath, data + "/harmonylite.db");
    QVERIFY(c->nats.urls.isEmpty());  // embedded NATS
    QCOMPARE(c->effectiveSeqMapPath(), data + "/seq-map.cbor");

    auto id1 = resolveNodeId(*c);
    QVERIFY(id1.ok());
    QVERIFY(*id1 > 0);
    auto id2 = resolveNodeId(*c);
    QVERIFY(id2.ok());
    QCOMPARE(*id2, *id1);  // generated once, persisted
    QCOMPARE(test::readFile(data + "/node-id").trimmed(), QByteArray::number(quint64(*id1)));

    Config explicitId = *c;
    explicitId.nodeId = 7;
    QCOMPARE(*resolveNodeId(explicitId), uint64_t(7));

    QVERIFY(test::writeFile(data + "/node-id", "garbage"));
    auto bad = resolveNodeId(*c);
    QVERIFY(!bad.ok());
    QCOMPARE(bad.status().code(), Status::Code::kCorruption);
  }

  void firstRunFailsClearlyWhenDirCannotBeMade() {
    QTemporaryDir dir;
    const QString file = dir.filePath("a-file");
    QVERIFY(test::writeFile(file, "x"));
    auto c = firstRunConfig(file + "/sub");
    QVERIFY(!c.ok());
    QVERIFY(c.status().message().contains(file + "/sub"));
  }

  void defaultDataDirFollowsXdg() {
    qputenv("XDG_DATA_HOME", "/tmp/hl-xdg-test");
    QCOMPARE(defaultDataDir(), QString("/tmp/hl-xdg-test/harmonylite"));
  }

  // The Settings page and logs show describeConfig(): every secret masked, the rest verbatim.
  void describeConfigMasksSecrets() {
    auto loaded = hl::loadConfigText(
        "db_path = \"/tmp/x.db\"\n"
        "[nats]\n"
        "user_name = \"svc\"\n"
        "user_password = \"hunter2-nats\"\n"
        "[snapshot.s3]\n"
        "access_key = \"AKIA-SECRET\"\n"
        "secret = \"s3-secret-value\"\n"
        "[snapshot.webdav]\n"
        "url = \"https://dav.example/snap?dir=/s&login=bob&secret=dav-secret-value\"\n"
        "[snapshot.sftp]\n"
        "url = \"sftp://alice:sftp-secret-value@host:22/backups\"\n"
        "key_passphrase = \"key-passphrase-value\"\n",
        "t.toml");
    QVERIFY2(loaded, qPrintable(loaded.status().message()));
    const QList<hl::ConfigEntry> entries = hl::describeConfig(loaded->config);
    QString all;
    QHash<QString, hl::ConfigEntry> byKey;
    for (const hl::ConfigEntry& e : entries) {
      all += e.key + '=' + e.value + '\n';
      byKey.insert(e.key, e);
    }
    for (const char* leaked : {"hunter2-nats", "AKIA-SECRET", "s3-secret-value", "dav-secret-value",
                               "sftp-secret-value", "key-passphrase-value"})
      QVERIFY2(!all.contains(QLatin1String(leaked)), leaked);
    QCOMPARE(byKey.value("nats.user_password").value, QStringLiteral("********"));
    QVERIFY(byKey.value("nats.user_password").secret);
    QCOMPARE(byKey.value("nats.user_name").value, QStringLiteral("\"svc\""));
    QCOMPARE(byKey.value("db_path").value, QStringLiteral("\"/tmp/x.db\""));
    QVERIFY(byKey.value("snapshot.sftp.url").value.contains("alice:********@host"));
    QVERIFY(byKey.value("snapshot.webdav.url").value.contains("login=bob"));
    QCOMPARE(byKey.value("snapshot.s3.session_token").value, QStringLiteral("\"\""));  // unset
    QCOMPARE(byKey.value("snapshot.s3.region").value, QStringLiteral("\"\""));
    QVERIFY(!byKey.value("snapshot.s3.region").secret);
    QCOMPARE(entries.first().key, QStringLiteral("db_path"));
    QVERIFY(byKey.contains("health_check.detailed"));
  }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"
