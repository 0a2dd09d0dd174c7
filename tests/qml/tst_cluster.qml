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

    function test_oneSchemaNoWarning() {
      fake.push({nodeId: 7, peers: [{nodeId: 7}, {nodeId: 8}]})
      compare(controller.cluster.mismatches, 0)
      verify(!findChild(page, "schemaWarning").visible)
    }
  }
}
