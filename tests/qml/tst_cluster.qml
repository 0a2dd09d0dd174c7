import QtQuick
import QtTest
import HarmonyLite.Backend
import HarmonyLite.Pages
import HarmonyLite.Components

// The runner (tst_qml.cpp) hands QML the context properties `controller` (the DashboardController)
// and `fake` (FakeStatus), which qmllint cannot know of: unqualified access is not checked here.
// qmllint disable unqualified

// TestCase is invisible by design: the page under test is its sibling in a visible root.
Item {
  id: root
  readonly property DashboardController dashboardController: controller  // for the page
  width: 1100
  height: 700
  ClusterPage { id: page; controller: root.dashboardController; anchors.fill: parent }
  TestCase {
    name: "ClusterPage"
    when: windowShown


    function cell(node, name) { const r = findChild(page, "clusterRow_" + node); verify(r, "row " + node); return findChild(r, name) }

    function test_everyNodeAndSchemaMismatch() {
      fake.push({nodeId: 7, schemaHash: "hash-A-0123456789",
                 peers: [{nodeId: 9, schemaHash: "hash-B-0123456789", version: "1.2.3", agoMs: 4000, healthy: false, reason: "NATS disconnected", lag: 40},
                         {nodeId: 7}, {nodeId: 8, agoMs: 1500}]})
      const list = findChild(page, "clusterList")
      compare(list.count, 3)
      tryVerify(() => findChild(page, "clusterRow_9") !== null)
      compare(cell(7, "nodeId").text, "7 (this node)")
      compare(cell(7, "lastSeen").text, "this node")
      compare(cell(9, "version").text, "1.2.3")
      compare(cell(9, "lastSeen").text, "4 s ago")
      compare(cell(9, "health").text, "unhealthy")
      compare(cell(9, "lag").text, "40")
      compare(cell(9, "schemaHash").color, Theme.bad)     // highlighted
      compare(cell(8, "schemaHash").color, Theme.text)
      compare(controller.cluster.mismatches, 1)
      verify(findChild(page, "schemaWarning").visible)
    }

    // The last consistency check: the Agreement column, the verdict, the differing rows with
    // each node's values, and a repair only after the confirmation.
    function test_consistencyCheckAndRepair() {
      compare(findChild(page, "consistencySummary").text.startsWith("Not checked yet"), true)
      const before = fake.controlCount
      mouseClick(findChild(page, "checkNowButton"))
      compare(fake.lastControl, "kCheckConsistency")
      compare(fake.controlCount, before + 1)
      fake.push({nodeId: 7, peers: [{nodeId: 7}, {nodeId: 8}, {nodeId: 9}],
                 consistency: {verdict: "differ", agoMs: 3000, positions: "harmonylite-changes-c-1=41",
                               nodes: {"7": "agrees", "8": "differs in items", "9": "agrees"},
                               tables: [{table: "items", agree: false,
                                         digests: ["node 7: 3 rows, digest aa", "node 8: 3 rows, digest bb"],
                                         rows: [{key: "7", values: ["node 7: id=7, qty=2", "node 8: id=7, qty=999", "node 9: id=7, qty=2"]}]},
                                        {table: "tags", agree: true}]}})
      tryCompare(cell(8, "agreement"), "text", "differs in items")
      compare(cell(8, "agreement").color, Theme.warn)
      compare(cell(7, "agreement").text, "agrees")
      compare(findChild(page, "consistencyVerdict").text, "differ")
      verify(findChild(page, "consistencySummary").text.startsWith("1 of 2 table(s) differ, 1 row(s) · 3 s ago"),
             findChild(page, "consistencySummary").text)
      compare(findChild(page, "consistencyPositions").text, "Compared at harmonylite-changes-c-1=41")
      const row = findChild(findChild(page, "consistencyTable_items"), "differingRow")
      verify(row.text.includes("node 8: id=7, qty=999"), row.text)
      verify(findChild(page, "consistencyTable_tags") !== null)
      // Repair from node 8: nothing is asked before the confirmation, then with confirm.
      const combo = findChild(page, "repairNode")
      combo.currentIndex = 1
      compare(combo.currentText, "8")
      const asked = fake.controlCount
      const tables = findChild(page, "consistencyTables")
      tryVerify(() => tables.height > 100, 5000, "the tables are laid out")
      mouseClick(findChild(page, "repairButton"))
      const dialog = findChild(page, "repairConfirmDialog")
      tryCompare(dialog, "opened", true)
      compare(fake.controlCount, asked)
      dialog.accept()
      compare(fake.lastControl, "kRepairConsistency")
      compare(fake.lastId, 8)
      compare(fake.lastConfirm, true)
      // No check yet on a fresh status: no agreement shown.
      fake.push({nodeId: 7, peers: [{nodeId: 7}]})
      tryCompare(cell(7, "agreement"), "text", "–")
    }

    function test_oneSchemaNoWarning() {
      fake.push({nodeId: 7, peers: [{nodeId: 7}, {nodeId: 8}]})
      compare(controller.cluster.mismatches, 0)
      verify(!findChild(page, "schemaWarning").visible)
      compare(findChild(page, "clusterHeader").subtitle, "2 nodes · one schema")
      fake.push({nodeId: 7, peers: [{nodeId: 7}]})
      compare(findChild(page, "clusterHeader").subtitle, "1 node · one schema")  // not "1 nodes"
    }
  }
}
