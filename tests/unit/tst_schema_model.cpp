// The Schema page's C++ side without a window: diffSchemas() (data-driven: every kind of
// difference, case-insensitive column names, sorted output), the three schema list models under
// QAbstractItemModelTester (grouping by hash, the majority rule, diff rows, paused shards, no
// signal when the same status comes twice), and the controller's part: the summary's schema
// figures, the Overview's banner text and the default node to compare with.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

#include "dashboard_controller.h"
#include "harmonylite/schema_diff.h"
#include "schema_model.h"

using namespace hl;
using Kind = SchemaDifference::Kind;

Q_DECLARE_METATYPE(QList<hl::SchemaTable>)

namespace {

SchemaColumn col(const QString& name, const QString& type, bool notNull = false, int pk = 0) {
  return SchemaColumn{name, type, notNull, pk};
}

// Books(id INTEGER key 1, title TEXT NOT NULL) and Authors(id INTEGER key 1, name TEXT).
QList<SchemaTable> baseTables() {
  return {SchemaTable{"Authors", {col("id", "INTEGER", false, 1), col("name", "TEXT")}},
          SchemaTable{"Books", {col("id", "INTEGER", false, 1), col("title", "TEXT", true)}}};
}

// baseTables() with Books.email added.
QList<SchemaTable> withEmail() {
  QList<SchemaTable> t = baseTables();
  t[1].columns << col("email", "TEXT");
  return t;
}

SchemaNode registryNode(uint64_t id, const QString& hash, const QList<SchemaTable>& tables,
                        qint64 updatedAtMs, bool hasTables = true) {
  SchemaNode n;
  n.nodeId = id;
  n.schemaHash = hash;
  n.version = "1.4.0";
  n.updatedAtMs = updatedAtMs;
  n.hasTables = hasTables;
  if (hasTables) n.tables = tables;
  return n;
}

PeerStatus peer(uint64_t id) {
  PeerStatus p;
  p.nodeId = id;
  p.version = "1.4.0";
  return p;
}

ShardStatus pausedShard(int n, const QString& hash, uint64_t from, const QString& reason,
                        qint64 sinceMs) {
  ShardStatus s;
  s.shard = n;
  s.state = ShardState::SchemaPaused;
  s.waitingForHash = hash;
  s.waitingFromNode = from;
  s.waitingTable = "Books";
  s.waitingReason = reason;
  s.waitingSeq = 41;
  s.waitingSinceMs = sinceMs;
  s.lagMessages = 12;
  s.redeliveries = 3;
  return s;
}

const QString kOurs = "aaaa1111bbbb2222cccc3333";
const QString kNew = "bbbb2222cccc3333dddd4444";
const qint64 kNow = 1'800'000'000'000;

// Node 7 (this one) on kOurs; nodes 2 and 3 on kNew with Books.email, node 5 a Go node on kNew;
// node 9 heard of through the cluster view only.
NodeStatus splitStatus() {
  NodeStatus s;
  s.nodeId = 7;
  s.version = "1.4.0";
  s.schemaHash = kOurs;
  s.schema.hash = kOurs;
  s.schema.previousHash = "ffff9999eeee8888";
  s.schema.tables = baseTables();
  s.schema.registryReadMs = kNow - 5000;
  s.schema.registry = {registryNode(3, kNew, withEmail(), kNow - 600'000),
                       registryNode(7, kOurs, baseTables(), kNow - 300'000),
                       registryNode(5, kNew, {}, kNow - 10'800'000, false),
                       registryNode(2, kNew, withEmail(), kNow - 12'000)};
  s.cluster = {peer(7), peer(2), peer(3), peer(5), peer(9)};
  return s;
}

QVariant role(const QAbstractItemModel& m, int row, int r) {
  return m.data(m.index(row, 0), r);
}

}  // namespace

class TestSchemaModel : public QObject {
  Q_OBJECT
 private slots:
  void diffSchemasFindsEveryDifference_data() {
    QTest::addColumn<QList<SchemaTable>>("here");
    QTest::addColumn<QList<SchemaTable>>("there");
    QTest::addColumn<QStringList>("expected");  // "table.column kind | here | there"
    QTest::newRow("same") << baseTables() << baseTables() << QStringList();
    QTest::newRow("added column there")
        << baseTables() << withEmail() << QStringList{"Books.email column missing here | - | TEXT"};
    QTest::newRow("dropped column there")
        << withEmail() << baseTables()
        << QStringList{"Books.email column missing there | TEXT | -"};
    QList<SchemaTable> t = baseTables();
    t[1].columns[1].type = "VARCHAR(80)";
    QTest::newRow("type changed")
        << baseTables() << t
        << QStringList{"Books.title type changed | TEXT NOT NULL | VARCHAR(80) NOT NULL"};
    t = baseTables();
    t[1].columns[1].notNull = false;
    QTest::newRow("NOT NULL changed")
        << baseTables() << t << QStringList{"Books.title NOT NULL changed | TEXT NOT NULL | TEXT"};
    t = baseTables();
    t[0].columns[1].pk = 2;
    QTest::newRow("key changed") << baseTables() << t
                                 << QStringList{"Authors.name key changed | TEXT | TEXT key 2"};
    t = baseTables();
    t << SchemaTable{"Loans", {col("id", "INTEGER", false, 1), col("book", "INTEGER")}};
    QTest::newRow("table missing here")
        << baseTables() << t << QStringList{"Loans. table missing here | - | 2 columns"};
    QTest::newRow("table missing there")
        << t << baseTables() << QStringList{"Loans. table missing there | 2 columns | -"};
    t = baseTables();
    t[1].columns[1].name = "TITLE";  // SQLite's column names ignore case
    QTest::newRow("column names ignore case") << baseTables() << t << QStringList();
    t = baseTables();
    t[0].name = "authors";  // table names do not
    QTest::newRow("table names are exact")
        << baseTables() << t
        << QStringList{"Authors. table missing there | 2 columns | -",
                       "authors. table missing here | - | 2 columns"};
    // Several differences come sorted by table then column, whatever order they were found in.
    t = withEmail();
    t[0].columns << col("born", "INTEGER");
    t[1].columns[1].type = "BLOB";
    t.prepend(SchemaTable{"Zebras", {col("id", "INTEGER", false, 1)}});
    QTest::newRow("sorted") << baseTables() << t
                            << QStringList{
                                   "Authors.born column missing here | - | INTEGER",
                                   "Books.email column missing here | - | TEXT",
                                   "Books.title type changed | TEXT NOT NULL | BLOB NOT NULL",
                                   "Zebras. table missing here | - | 1 columns"};
  }

  void diffSchemasFindsEveryDifference() {
    QFETCH(QList<SchemaTable>, here);
    QFETCH(QList<SchemaTable>, there);
    QFETCH(QStringList, expected);
    QStringList got;
    for (const SchemaDifference& d : diffSchemas(here, there))
      got << QStringLiteral("%1.%2 %3 | %4 | %5")
                 .arg(d.table, d.column, differenceKindText(d.kind), d.here, d.there);
    QCOMPARE(got, expected);
  }

  // Grouped by hash, the largest group first; the majority marked; unknown hashes last.
  void nodeModelGroupsByHash() {
    SchemaNodeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy counts(&model, &SchemaNodeModel::countChanged);
    const NodeStatus s = splitStatus();
    model.update(s, kNow);
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.nodeIds(), (QList<uint64_t>{2, 3, 5, 7, 9}));
    QCOMPARE(model.groups(), 2);
    QCOMPARE(model.differing(), 3);
    QCOMPARE(model.otherNodeIds(), (QStringList{"2", "3", "5", "9"}));
    using R = SchemaNodeModel;
    QCOMPARE(role(model, 0, R::kNodeIdRole).toString(), QStringLiteral("2"));
    QCOMPARE(role(model, 0, R::kSchemaHashRole).toString(), kNew);
    QCOMPARE(role(model, 0, R::kSchemaHashShortRole).toString(), kNew.left(12));
    QCOMPARE(role(model, 0, R::kUpdatedAtRole).toString(), QStringLiteral("12 s ago"));
    QCOMPARE(role(model, 0, R::kUpdatedAtMsRole).toDouble(), double(kNow - 12'000));
    QCOMPARE(role(model, 0, R::kTablesRole).toString(), QStringLiteral("2 tables"));
    QCOMPARE(role(model, 0, R::kVersionRole).toString(), QStringLiteral("1.4.0"));
    QCOMPARE(role(model, 0, R::kPreviousHashShortRole).toString(), QStringLiteral("none"));
    for (int r = 0; r < 3; ++r) {  // nodes 2, 3, 5: the majority
      QCOMPARE(role(model, r, R::kGroupRole).toInt(), 0);
      QCOMPARE(role(model, r, R::kGroupSizeRole).toInt(), 3);
      QCOMPARE(role(model, r, R::kGroupStartRole).toBool(), r == 0);
      QVERIFY(role(model, r, R::kIsMajorityRole).toBool());
      QVERIFY(!role(model, r, R::kMatchesSelfRole).toBool());
      QVERIFY(!role(model, r, R::kIsSelfRole).toBool());
    }
    QVERIFY(!role(model, 2, R::kHasTablesRole).toBool());  // node 5, a Go node
    QCOMPARE(role(model, 2, R::kTablesRole).toString(), QStringLiteral("no column list (Go node)"));
    // This node: its own group, not the majority.
    QCOMPARE(role(model, 3, R::kNodeIdRole).toString(), QStringLiteral("7"));
    QVERIFY(role(model, 3, R::kIsSelfRole).toBool());
    QVERIFY(role(model, 3, R::kMatchesSelfRole).toBool());
    QVERIFY(!role(model, 3, R::kIsMajorityRole).toBool());
    QCOMPARE(role(model, 3, R::kGroupRole).toInt(), 1);
    QVERIFY(role(model, 3, R::kGroupStartRole).toBool());
    QCOMPARE(role(model, 3, R::kUpdatedAtRole).toString(), QStringLiteral("5 min ago"));
    // Node 9: heard of, not in the registry: unknown hash, last group.
    QCOMPARE(role(model, 4, R::kSchemaHashRole).toString(), QString());
    QCOMPARE(role(model, 4, R::kSchemaHashShortRole).toString(), QStringLiteral("unknown"));
    QVERIFY(!role(model, 4, R::kInRegistryRole).toBool());
    QCOMPARE(role(model, 4, R::kTablesRole).toString(), QStringLiteral("not in the registry"));
    QCOMPARE(role(model, 4, R::kGroupRole).toInt(), 2);
    QCOMPARE(role(model, 4, R::kGroupSizeRole).toInt(), 1);
    QVERIFY(!role(model, 4, R::kIsMajorityRole).toBool());
    QVERIFY(!role(model, 4, R::kMatchesSelfRole).toBool());
    QCOMPARE(resets.count(), 1);
    QCOMPARE(counts.count(), 1);

    // The same status again: no signal at all.
    model.update(s, kNow);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 0);
    QCOMPARE(counts.count(), 1);
    // A second later: only the rows whose "x s ago" text changed.
    model.update(s, kNow + 1000);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 1);  // node 2: "12 s ago" -> "13 s ago"; the others keep theirs
    QCOMPARE(changes.first().at(0).toModelIndex().row(), 0);

    // This node's hash is its current one, also while its registry entry lags behind. Its row
    // joins the first group in place (the order stays), every row's marks change.
    NodeStatus next = s;
    next.schemaHash = kNew;
    next.schema.hash = kNew;
    changes.clear();
    model.update(next, kNow + 1000);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 5);
    QCOMPARE(counts.count(), 2);  // groups and differing changed
    QCOMPARE(model.groups(), 1);
    QCOMPARE(model.differing(), 0);
    QCOMPARE(model.nodeIds(), (QList<uint64_t>{2, 3, 5, 7, 9}));
    QVERIFY(role(model, 3, R::kIsMajorityRole).toBool());
    QVERIFY(role(model, 3, R::kMatchesSelfRole).toBool());
    QCOMPARE(role(model, 3, R::kGroupRole).toInt(), 0);
    QVERIFY(!role(model, 3, R::kGroupStartRole).toBool());
    // A node that moves to another group reorders the list: a reset.
    next.schema.registry[3].schemaHash = "cccc";  // node 2
    model.update(next, kNow + 1000);
    QCOMPARE(resets.count(), 2);
    QCOMPARE(model.nodeIds(), (QList<uint64_t>{3, 5, 7, 2, 9}));
    QCOMPARE(model.differing(), 1);
  }

  // A tie between the two largest groups marks no majority; this node's group comes first.
  void nodeModelTieHasNoMajority() {
    SchemaNodeModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    NodeStatus s = splitStatus();
    s.cluster.clear();
    s.schema.registry = {
        registryNode(7, kOurs, baseTables(), kNow), registryNode(8, kOurs, baseTables(), kNow),
        registryNode(2, kNew, withEmail(), kNow), registryNode(3, kNew, withEmail(), kNow)};
    model.update(s, kNow);
    QCOMPARE(model.nodeIds(), (QList<uint64_t>{7, 8, 2, 3}));
    for (int r = 0; r < 4; ++r) QVERIFY(!role(model, r, SchemaNodeModel::kIsMajorityRole).toBool());
    QCOMPARE(role(model, 2, SchemaNodeModel::kGroupRole).toInt(), 1);
    // This node missing from the registry: listed with what it knows of itself.
    s.schema.registry = {registryNode(2, kNew, withEmail(), kNow),
                         registryNode(3, kNew, withEmail(), kNow)};
    model.update(s, kNow);
    QCOMPARE(model.nodeIds(), (QList<uint64_t>{2, 3, 7}));  // kNew: 2 nodes of 3
    QVERIFY(role(model, 0, SchemaNodeModel::kIsMajorityRole).toBool());
    QVERIFY(!role(model, 2, SchemaNodeModel::kIsMajorityRole).toBool());
    QCOMPARE(role(model, 2, SchemaNodeModel::kTablesRole).toString(), QStringLiteral("2 tables"));
    QCOMPARE(role(model, 2, SchemaNodeModel::kUpdatedAtRole).toString(),
             QStringLiteral("not in the registry"));
    QCOMPARE(role(model, 2, SchemaNodeModel::kSchemaHashRole).toString(), kOurs);
    QVERIFY(!role(model, 2, SchemaNodeModel::kInRegistryRole).toBool());
    QVERIFY(role(model, 2, SchemaNodeModel::kHasTablesRole).toBool());
    QCOMPARE(role(model, 2, SchemaNodeModel::kPreviousHashRole).toString(),
             QStringLiteral("ffff9999eeee8888"));
    model.update(NodeStatus(), kNow);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.groups(), 0);
  }

  void diffModelRowsAndEmptyText() {
    SchemaDiffModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy subject(&model, &SchemaDiffModel::subjectChanged);
    QList<SchemaTable> there = withEmail();
    there[1].columns[0].pk = 0;
    there[0].columns[1].type = "VARCHAR(40)";
    const QList<SchemaDifference> diff = diffSchemas(baseTables(), there);
    model.update(2, diff, "unused while there are rows");
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.nodeId(), QStringLiteral("2"));
    QCOMPARE(model.emptyText(), QString());
    using R = SchemaDiffModel;
    QCOMPARE(role(model, 0, R::kTableRole).toString(), QStringLiteral("Authors"));
    QCOMPARE(role(model, 0, R::kColumnRole).toString(), QStringLiteral("name"));
    QCOMPARE(role(model, 0, R::kKindRole).toString(), QStringLiteral("type changed"));
    QCOMPARE(role(model, 0, R::kHereRole).toString(), QStringLiteral("TEXT"));
    QCOMPARE(role(model, 0, R::kThereRole).toString(), QStringLiteral("VARCHAR(40)"));
    QVERIFY(!role(model, 0, R::kMissingHereRole).toBool());
    QCOMPARE(role(model, 1, R::kColumnRole).toString(), QStringLiteral("email"));
    QCOMPARE(role(model, 1, R::kKindRole).toString(), QStringLiteral("column missing here"));
    QVERIFY(role(model, 1, R::kMissingHereRole).toBool());
    QCOMPARE(role(model, 2, R::kColumnRole).toString(), QStringLiteral("id"));
    QCOMPARE(role(model, 2, R::kKindRole).toString(), QStringLiteral("key changed"));
    QCOMPARE(role(model, 2, R::kHereRole).toString(), QStringLiteral("INTEGER key 1"));
    QCOMPARE(resets.count(), 1);
    QCOMPARE(subject.count(), 1);
    model.update(2, diff, "unused while there are rows");  // the same: nothing
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 0);
    QCOMPARE(subject.count(), 1);
    // A table missing here: a whole-table row.
    QList<SchemaTable> more = baseTables();
    more << SchemaTable{"Loans", {col("id", "INTEGER", false, 1)}};
    model.update(3, diffSchemas(baseTables(), more), "x");
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(role(model, 0, R::kTableRole).toString(), QStringLiteral("Loans"));
    QCOMPARE(role(model, 0, R::kColumnRole).toString(), QString());
    QCOMPARE(role(model, 0, R::kKindRole).toString(), QStringLiteral("table missing here"));
    QVERIFY(role(model, 0, R::kMissingHereRole).toBool());
    QCOMPARE(subject.count(), 2);
    model.update(0, {}, "Every node runs this node's schema: nothing to compare.");
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.nodeId(), QString());
    QCOMPARE(model.emptyText(),
             QStringLiteral("Every node runs this node's schema: nothing to compare."));
    QCOMPARE(subject.count(), 3);
  }

  void pauseModelListsSchemaPausedShards() {
    SchemaPauseModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changes(&model, &QAbstractItemModel::dataChanged);
    ShardStatus running;
    running.shard = 1;
    running.state = ShardState::Running;
    const QList<ShardStatus> shards = {
        pausedShard(3, kNew, 2, "no column email in Books", kNow - 185'000), running,
        pausedShard(2, QString(), 0, QString(), 0)};
    model.update(shards, kNow);
    QCOMPARE(model.rowCount(), 2);
    using R = SchemaPauseModel;
    QCOMPARE(role(model, 0, R::kShardRole).toInt(), 2);  // by shard number
    QCOMPARE(role(model, 0, R::kWaitingForHashShortRole).toString(), QStringLiteral("unknown"));
    QCOMPARE(role(model, 0, R::kWaitingFromNodeRole).toString(), QStringLiteral("unknown"));
    QCOMPARE(role(model, 0, R::kSinceRole).toString(), QStringLiteral("unknown"));
    QCOMPARE(role(model, 1, R::kShardRole).toInt(), 3);
    QCOMPARE(role(model, 1, R::kWaitingForHashRole).toString(), kNew);
    QCOMPARE(role(model, 1, R::kWaitingForHashShortRole).toString(), kNew.left(12));
    QCOMPARE(role(model, 1, R::kWaitingFromNodeRole).toString(), QStringLiteral("2"));
    QCOMPARE(role(model, 1, R::kWaitingTableRole).toString(), QStringLiteral("Books"));
    QCOMPARE(role(model, 1, R::kWaitingReasonRole).toString(),
             QStringLiteral("no column email in Books"));
    QCOMPARE(role(model, 1, R::kWaitingSeqRole).toDouble(), 41.0);
    QCOMPARE(role(model, 1, R::kWaitingMessagesRole).toDouble(), 12.0);
    QCOMPARE(role(model, 1, R::kSinceRole).toString(), QStringLiteral("for 3 min"));
    QCOMPARE(role(model, 1, R::kSinceMsRole).toDouble(), double(kNow - 185'000));
    QCOMPARE(role(model, 1, R::kRedeliveriesRole).toDouble(), 3.0);
    QCOMPARE(resets.count(), 1);
    model.update(shards, kNow);  // the same status: nothing
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 0);
    QList<ShardStatus> next = shards;
    next[0].redeliveries = 4;  // delivered once more: that row only
    model.update(next, kNow + 500);
    QCOMPARE(resets.count(), 1);
    QCOMPARE(changes.count(), 1);
    QCOMPARE(changes.first().at(0).toModelIndex().row(), 1);
    next[0].state = ShardState::Running;  // resumed
    model.update(next, kNow + 1000);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(forText(kNow - 7'200'000, kNow), QStringLiteral("for 2 h"));
    QCOMPARE(forText(kNow - 5'000, kNow), QStringLiteral("for 5 s"));
  }

  void bannerTextSaysWhatTheShardsWaitFor() {
    QCOMPARE(schemaPauseText({}), QString());
    const ShardStatus one = pausedShard(1, kNew, 2, "no column email in Books", kNow);
    QCOMPARE(schemaPauseText({one}),
             QStringLiteral("Shard 1 waits for schema bbbb2222cccc…, sent by node 2 (no column "
                            "email in Books). Apply the same schema change on this node to "
                            "resume."));
    ShardStatus three = pausedShard(3, kNew, 2, "no column email in Books", kNow);
    QCOMPARE(schemaPauseText({three, one}),
             QStringLiteral("Shards 1, 3 wait for schema bbbb2222cccc…, sent by node 2 (no "
                            "column email in Books). Apply the same schema change on this node "
                            "to resume."));
    three.waitingForHash = "cccc";
    QCOMPARE(schemaPauseText({one, three}),
             QStringLiteral("2 shards wait for schema changes this node lacks (shard 1: schema "
                            "bbbb2222cccc…, sent by node 2, no column email in Books). Apply the "
                            "same schema changes on this node to resume."));
    QCOMPARE(schemaPauseText({pausedShard(4, QString(), 0, QString(), 0)}),
             QStringLiteral("Shard 4 waits for a schema this node lacks, sent by an unknown "
                            "node. Apply the same schema change on this node to resume."));
  }

  // Watched tables without a declared primary key: none, one, several (in the order given).
  void keylessTablesAreNamed() {
    const SchemaTable keyed{"Authors", {{"id", "INTEGER", false, 1}, {"name", "TEXT", false, 0}}};
    const SchemaTable log{"Log", {{"at", "TEXT", false, 0}}};
    const SchemaTable notes{"Notes", {{"body", "TEXT", true, 0}}};
    QCOMPARE(keylessTablesText({}), QString());
    QCOMPARE(keylessTablesText({keyed}), QString());
    QCOMPARE(keylessTablesText({keyed, log}),
             QStringLiteral("Table Log has no declared primary key: it replicates by rowid, which "
                            "every node assigns on its own, so rows inserted on two nodes at once "
                            "collide: the later one moves to a new rowid (keep-both), or is lost "
                            "under last-writer-wins. Give such a table a primary key that cannot "
                            "collide: a random one, or one that includes the node."));
    QVERIFY(keylessTablesText({log, keyed, notes})
                .startsWith("2 tables have no declared primary key (Log, Notes): they replicate "
                            "by rowid"));
    DashboardController c;
    NodeStatus s = splitStatus();
    c.applyStatusAt(s, kNow, 1000);
    QCOMPARE(c.summary().schemaKeyless, QString());
    s.schema.tables << log;
    c.applyStatusAt(s, kNow, 1500);
    QVERIFY(c.summary().schemaKeyless.startsWith("Table Log has no declared primary key"));
  }

  // The controller: summary figures, the default comparison and the choice, and no model
  // signal when the same status comes twice.
  void controllerFeedsTheSchemaPage() {
    DashboardController c;
    QAbstractItemModelTester t1(c.schemaNodes(),
                                QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t2(c.schemaDiff(),
                                QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t3(c.schemaPauses(),
                                QAbstractItemModelTester::FailureReportingMode::QtTest);
    NodeStatus s = splitStatus();
    s.shards = {pausedShard(1, kNew, 2, "no column email in Books", kNow - 60'000)};
    s.schema.changes = 2;
    s.schema.lastChangeMs = kNow - 180'000;
    c.applyStatusAt(s, kNow, 1000);
    const NodeSummary& n = c.summary();
    QCOMPARE(n.previousSchemaHash, QStringLiteral("ffff9999eeee8888"));
    QCOMPARE(n.schemaPausedShards, 1);
    QCOMPARE(n.pausedShards, 0);  // the operator's pauses only
    QVERIFY(!n.schemaAgreement);
    QVERIFY2(n.schemaBanner.startsWith("Shard 1 waits for schema bbbb2222cccc…, sent by node 2"),
             qPrintable(n.schemaBanner));
    QCOMPARE(n.schemaRegistryRead, QStringLiteral("5 s ago"));
    QCOMPARE(n.schemaChanges, 2.0);
    QCOMPARE(n.schemaLastChange, QStringLiteral("3 min ago"));
    QCOMPARE(c.schemaNodes()->rowCount(), 5);
    QCOMPARE(c.schemaPauses()->rowCount(), 1);
    // The default: the first node of another schema with a column list (node 2, not node 5).
    QCOMPARE(c.schemaDiff()->nodeId(), QStringLiteral("2"));
    QCOMPARE(c.schemaDiff()->rowCount(), 1);
    QCOMPARE(role(*c.schemaDiff(), 0, SchemaDiffModel::kKindRole).toString(),
             QStringLiteral("column missing here"));

    QSignalSpy nodeResets(c.schemaNodes(), &QAbstractItemModel::modelReset);
    QSignalSpy nodeChanges(c.schemaNodes(), &QAbstractItemModel::dataChanged);
    QSignalSpy diffResets(c.schemaDiff(), &QAbstractItemModel::modelReset);
    QSignalSpy diffChanges(c.schemaDiff(), &QAbstractItemModel::dataChanged);
    QSignalSpy pauseResets(c.schemaPauses(), &QAbstractItemModel::modelReset);
    QSignalSpy pauseChanges(c.schemaPauses(), &QAbstractItemModel::dataChanged);
    c.applyStatusAt(s, kNow, 1500);  // the same status again
    for (QSignalSpy* spy :
         {&nodeResets, &nodeChanges, &diffResets, &diffChanges, &pauseResets, &pauseChanges})
      QCOMPARE(spy->count(), 0);

    // A Go node chosen: no rows, and why.
    c.compareSchemaWith("5");
    QCOMPARE(c.schemaDiff()->nodeId(), QStringLiteral("5"));
    QCOMPARE(c.schemaDiff()->rowCount(), 0);
    QVERIFY2(c.schemaDiff()->emptyText().startsWith("Node 5 publishes no column list (a Go node)"),
             qPrintable(c.schemaDiff()->emptyText()));
    // A chosen node that leaves gives way to the default, and is compared again once back.
    NodeStatus without = s;
    without.schema.registry.removeAt(2);  // node 5, gone from the cluster view too
    without.cluster.removeAt(3);
    c.applyStatusAt(without, kNow, 2000);
    QCOMPARE(c.schemaDiff()->nodeId(), QStringLiteral("2"));
    c.applyStatusAt(s, kNow, 2500);
    QCOMPARE(c.schemaDiff()->nodeId(), QStringLiteral("5"));
    c.compareSchemaWith("");
    QCOMPARE(c.schemaDiff()->nodeId(), QStringLiteral("2"));

    // Converged: agreement, no banner, nothing to compare.
    NodeStatus agreed = s;
    agreed.shards = {};
    for (SchemaNode& node : agreed.schema.registry) {
      node.schemaHash = kOurs;
      if (node.hasTables) node.tables = baseTables();
    }
    c.applyStatusAt(agreed, kNow, 3000);
    QVERIFY(c.summary().schemaAgreement);
    QCOMPARE(c.summary().schemaPausedShards, 0);
    QCOMPARE(c.summary().schemaBanner, QString());
    QCOMPARE(c.schemaDiff()->nodeId(), QString());
    QCOMPARE(c.schemaDiff()->emptyText(),
             QStringLiteral("Every node runs this node's schema: nothing to compare."));
    c.compareSchemaWith("2");
    QCOMPARE(c.schemaDiff()->emptyText(),
             QStringLiteral("Node 2 runs the same schema as this node."));
    // A restart empties the page.
    c.onEngineStarting();
    QCOMPARE(c.schemaNodes()->rowCount(), 0);
    QCOMPARE(c.schemaPauses()->rowCount(), 0);
    QCOMPARE(c.schemaDiff()->emptyText(), QStringLiteral("No status yet."));
  }
};

QTEST_GUILESS_MAIN(TestSchemaModel)
#include "tst_schema_model.moc"
