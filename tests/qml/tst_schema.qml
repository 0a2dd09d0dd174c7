import QtQuick
import QtTest
import HarmonyLite.Backend
import HarmonyLite.Pages
import HarmonyLite.Components

// The runner (tst_qml.cpp) hands QML the context properties `controller` (the DashboardController)
// and `fake` (FakeStatus), which qmllint cannot know of: unqualified access is not checked here.
// qmllint disable unqualified

// TestCase is invisible by design: the pages under test are its siblings in a visible root. The
// Overview beside the Schema page shows the banner of the shards waiting for a schema change.
Item {
  id: root
  readonly property DashboardController dashboardController: controller  // for the pages
  width: 2300
  height: 1400
  SchemaPage { id: page; controller: root.dashboardController; x: 0; width: 1150; height: 1400 }
  OverviewPage { id: overview; controller: root.dashboardController; x: 1170; width: 1100; height: 1400 }
  SignalSpy { id: openSpy; target: overview; signalName: "openSchemaPage" }
  TestCase {
    name: "SchemaPage"
    when: windowShown

    readonly property string ourHash: "aaaa1111bbbb2222cccc3333"  // FakeStatus's schema hash
    readonly property string newHash: "bbbb2222cccc3333dddd4444"
    readonly property var ourTables: [
      {name: "Authors", columns: [{name: "id", type: "INTEGER", pk: 1}, {name: "name", type: "TEXT"}]},
      {name: "Books", columns: [{name: "id", type: "INTEGER", pk: 1}, {name: "title", type: "TEXT", notNull: true}]}
    ]
    // Node 2's Books has a column more: email.
    readonly property var newTables: [
      {name: "Authors", columns: [{name: "id", type: "INTEGER", pk: 1}, {name: "name", type: "TEXT"}]},
      {name: "Books", columns: [{name: "id", type: "INTEGER", pk: 1}, {name: "title", type: "TEXT", notNull: true},
                                {name: "email", type: "TEXT"}]}
    ]
    // This node (7) on its schema; nodes 2 and 3 on the new one, and node 5, a Go node (no column
    // list), too: the new schema is the majority. Node 9 is heard of but not in the registry.
    function split() {
      return {nodeId: 7, tables: 2,
              peers: [{nodeId: 7}, {nodeId: 2}, {nodeId: 3}, {nodeId: 5}, {nodeId: 9}],
              schema: {tables: ourTables, previousHash: "ffff9999eeee8888",
                       registry: [{nodeId: 7, tables: ourTables, previousHash: "ffff9999eeee8888"},
                                  {nodeId: 3, schemaHash: newHash, tables: newTables, version: "1.4.0"},
                                  {nodeId: 2, schemaHash: newHash, tables: newTables, agoMs: 12000},
                                  {nodeId: 5, schemaHash: newHash, version: "go-0.9"}]}}
    }
    function node(id) { return findChild(page, "schemaNode_" + id) }
    // Rows are laid out at the next polish: wait for it before clicking one.
    function laidOut() { tryVerify(() => node(2) && node(3) && node(2).y < node(3).y) }
    function cell(id, name) { const r = node(id); verify(r, "node " + id); return findChild(r, name) }
    function text(item, name) { const i = findChild(item, name); verify(i, name); return i.text }

    function init() {
      controller.compareSchemaWith("")
    }

    function test_nodesGroupedByHashWithTheMajority() {
      fake.push(split())
      tryVerify(() => node(9) !== null)
      compare(controller.schemaNodes.count, 5)
      compare(controller.schemaNodes.groups, 2)
      // The new schema, held by three nodes, first and marked as the majority.
      const first = findChild(page, "schemaGroup_0")
      verify(first && first.visible)
      compare(text(first, "groupTitle"), "Schema " + newHash.substring(0, 12))
      compare(text(first, "groupSize"), "3 nodes")
      verify(findChild(first, "majorityMark").visible)
      verify(!findChild(first, "selfMark").visible)
      verify(findChild(first, "differsMark").visible)
      // This node's schema, alone: not the majority.
      const second = findChild(page, "schemaGroup_1")
      verify(second && second.visible)
      compare(text(second, "groupTitle"), "Schema " + ourHash.substring(0, 12))
      compare(text(second, "groupSize"), "1 node")
      verify(!findChild(second, "majorityMark").visible)
      verify(findChild(second, "selfMark").visible)
      compare(text(findChild(page, "schemaGroup_2"), "groupTitle"), "Unknown schema")
      // The rows, in group order then by node id.
      compare(cell(7, "nodeId").text, "7 (this node)")
      compare(cell(2, "nodeId").text, "2")
      compare(cell(2, "updatedAt").text, "12 s ago")
      compare(cell(2, "tables").text, "2 tables")
      compare(cell(3, "version").text, "1.4.0")
      compare(cell(5, "tables").text, "no column list (Go node)")
      compare(cell(9, "tables").text, "not in the registry")
      compare(cell(7, "previousHash").text, "ffff9999eeee")
      verify(!cell(7, "compareButton").visible)   // no comparing this node with itself
      // Laid out at the next polish.
      tryVerify(() => node(2).y < node(3).y && node(3).y < node(5).y && node(5).y < node(7).y && node(7).y < node(9).y)
      // This node's card.
      compare(text(page, "selfHash"), ourHash)
      compare(text(page, "selfPreviousHash"), "ffff9999eeee8888")
      compare(text(page, "watchedTables"), "2")
      compare(text(page, "agreementText"), "3 of 5 nodes run another schema")
      compare(text(page, "agreementChip"), "3 nodes differ")
      compare(findChild(page, "agreementChip").tone, Theme.Tone.Warn)
      verify(!findChild(page, "keylessWarning").visible)  // both tables have a key
    }

    // A watched table without a declared primary key is named in this node's card.
    function test_tableWithoutAKeyIsWarnedOf() {
      const tables = ourTables.concat([{name: "Log", columns: [{name: "at", type: "TEXT"}, {name: "line", type: "TEXT"}]}])
      fake.push({nodeId: 7, tables: 3, schema: {tables: tables, registry: [{nodeId: 7, tables: tables}]}})
      const warning = findChild(page, "keylessWarning")
      tryVerify(() => warning.visible)
      verify(warning.text.startsWith("Table Log has no declared primary key: it replicates by rowid"), warning.text)
      fake.push({nodeId: 7, tables: 2, schema: {tables: ourTables, registry: [{nodeId: 7, tables: ourTables}]}})
      tryVerify(() => !warning.visible)
    }

    function test_diffShowsTheColumnMissingHere() {
      fake.push(split())
      tryVerify(() => findChild(page, "diffRow_0") !== null)
      // The default: the first node of another schema that publishes its columns.
      compare(controller.schemaDiff.nodeId, "2")
      compare(findChild(page, "compareChooser").displayText, "node 2")
      compare(controller.schemaDiff.count, 1)
      const row = findChild(page, "diffRow_0")
      compare(text(row, "table"), "Books")
      compare(text(row, "column"), "email")
      compare(text(row, "kind"), "column missing here")
      compare(findChild(row, "kind").color, Theme.bad)
      compare(text(row, "here"), "-")
      compare(text(row, "there"), "TEXT")
      verify(!findChild(page, "diffEmpty").visible)
      // Node 3, chosen with its row's button: the same differences.
      laidOut()
      mouseClick(cell(3, "compareButton"))
      compare(controller.schemaDiff.nodeId, "3")
      compare(findChild(page, "compareChooser").displayText, "node 3")
      compare(text(findChild(page, "diffRow_0"), "column"), "email")
      // A Go node publishes no columns; a node missing from the registry has none known.
      mouseClick(cell(5, "compareButton"))
      compare(controller.schemaDiff.count, 0)
      verify(findChild(page, "diffEmpty").visible)
      verify(text(page, "diffEmpty").indexOf("Node 5 publishes no column list (a Go node)") === 0, text(page, "diffEmpty"))
      controller.compareSchemaWith("9")
      compare(text(page, "diffEmpty"), "Node 9 is not in the schema registry yet: its columns are not known.")
      // The choice holds across statuses.
      fake.push(split())
      compare(controller.schemaDiff.nodeId, "9")
    }

    function test_pausedShardAndTheOverviewBanner() {
      const spec = split()
      spec.shards = [{shard: 1, state: Hl.ShardState.SchemaPaused, waitingForHash: newHash, waitingFromNode: 2,
                      waitingTable: "Books", waitingReason: "no column email in Books", waitingSeq: 41, lag: 12,
                      waitingAgoMs: 185000, redeliveries: 3},
                     {shard: 2}]
      fake.push(spec)
      tryVerify(() => findChild(page, "pausedShard_1") !== null)
      verify(findChild(page, "pausedShard_2") === null)   // running: not listed
      const row = findChild(page, "pausedShard_1")
      compare(text(row, "waitingFor"), newHash.substring(0, 12))
      compare(text(row, "fromNode"), "2")
      compare(text(row, "table"), "Books")
      compare(text(row, "reason"), "no column email in Books")
      compare(text(row, "waiting"), "12 msgs")
      compare(text(row, "since"), "for 3 min")
      compare(text(row, "redeliveries"), "3")
      compare(text(page, "pausedCount"), "1 paused")
      verify(findChild(page, "resumeStep").visible)
      verify(text(page, "resumeStep").indexOf("apply the same schema change on this node") > 0)
      verify(!findChild(page, "pausesEmpty").visible)
      compare(Theme.shardTone(Hl.ShardState.SchemaPaused), Theme.Tone.Warn)
      compare(controller.summary.schemaPausedShards, 1)

      // The Overview says what the shard waits for and opens the Schema page.
      const banner = findChild(overview, "schemaBanner")
      verify(banner.visible)
      compare(text(overview, "schemaBannerText"),
              "Shard 1 waits for schema " + newHash.substring(0, 12) + "…, sent by node 2 (no column email in Books). "
              + "Apply the same schema change on this node to resume.")
      openSpy.clear()
      mouseClick(findChild(overview, "openSchemaButton"))
      compare(openSpy.count, 1)

      // The change applied here: the shard runs again.
      spec.shards = [{shard: 1}, {shard: 2}]
      fake.push(spec)
      verify(!banner.visible)
      verify(findChild(page, "pausesEmpty").visible)
      compare(text(page, "pausedCount"), "none")
    }

    function test_emptyStates() {
      // No registry read yet: this node alone, nothing to compare.
      fake.push({nodeId: 7})
      compare(controller.schemaNodes.count, 1)
      compare(controller.schemaDiff.nodeId, "")
      verify(findChild(page, "diffEmpty").visible)
      compare(text(page, "diffEmpty"), "The schema registry has not been read yet.")
      compare(findChild(page, "compareChooser").displayText, "no other node")
      verify(findChild(page, "pausesEmpty").visible)
      compare(text(page, "selfPreviousHash"), "none")
      // Every node on this node's schema: one group, the majority, and nothing to compare.
      fake.push({nodeId: 7, peers: [{nodeId: 7}, {nodeId: 2}],
                 schema: {tables: ourTables, registry: [{nodeId: 7, tables: ourTables}, {nodeId: 2, tables: ourTables}]}})
      tryVerify(() => node(2) !== null)
      compare(controller.schemaNodes.groups, 1)
      const group = findChild(page, "schemaGroup_0")
      compare(text(group, "groupSize"), "2 nodes")
      verify(findChild(group, "majorityMark").visible)
      verify(findChild(group, "selfMark").visible)
      verify(findChild(page, "schemaGroup_1") === null)
      compare(text(page, "diffEmpty"), "Every node runs this node's schema: nothing to compare.")
      compare(text(page, "agreementChip"), "all nodes agree")
      compare(text(page, "agreementText"), "every node of the registry runs this schema")
      controller.compareSchemaWith("2")
      compare(text(page, "diffEmpty"), "Node 2 runs the same schema as this node.")
      verify(!findChild(overview, "schemaBanner").visible)
    }
  }
}
