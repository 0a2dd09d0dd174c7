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
  height: 900
  OverviewPage { id: page; controller: root.dashboardController; anchors.fill: parent }
  TestCase {
    id: tc
    name: "OverviewPage"
    when: windowShown


    function text(name) { const item = findChild(page, name); verify(item, name); return item.text }

    function test_countersAndRates() {
      fake.push({published: 100, shards: [{shard: 1, appliedChanges: 50}]}, 1000)
      fake.push({published: 1334, pending: 12, conflicts: 3, deadLetters: 2,
                 shards: [{shard: 1, appliedChanges: 550, lag: 7, lagSeconds: 1.5}]}, 2000)
      compare(text("publishedValue"), "1,334")
      compare(text("appliedValue"), "550")
      compare(text("pendingValue"), "12")
      compare(text("lagValue"), "7")
      compare(text("conflictsValue"), "3")
      compare(text("deadLettersValue"), "2")
      compare(controller.summary.publishRate, 617)   // (1334 - 100) / 2 s
      compare(controller.summary.applyRate, 250)
      const chart = findChild(page, "rateChart")
      verify(chart.publishSeries.count >= 2)
      compare(chart.publishSeries.at(chart.publishSeries.count - 1).y, 617)
    }

    // docs/replication.md#insert-collisions: the Conflicts tile says how many were insert
    // collisions found by this node since start, summed over its tables.
    function test_insertCollisionsOnTheConflictsTile() {
      fake.push({conflicts: 5})
      compare(text("conflictsCaption"), "in the journal")
      fake.push({conflicts: 5, collisions: {a: 3, logs: 1}})
      compare(text("conflictsCaption"), "4 insert collisions since start")
    }

    function test_healthBadgeAndReason() {
      fake.push({healthy: false, reason: "shard 1 is needs-restore: messages aged out"})
      compare(findChild(page, "healthBadge").text, "Unhealthy")
      verify(findChild(page, "problemBanner").visible)
      verify(text("problemText").indexOf("needs-restore: messages aged out") >= 0)
      fake.push({healthy: true})
      compare(findChild(page, "healthBadge").text, "Healthy")
      verify(!findChild(page, "problemBanner").visible)
      // A consistency check that found differing data: amber, with the reason.
      fake.push({healthy: true, consistency: {verdict: "differ", tables: [{table: "t", agree: false}]}})
      compare(findChild(page, "healthBadge").text, "Data differs")
      compare(findChild(page, "healthBadge").tone, Theme.Tone.Warn)
      fake.push({healthy: true, consistency: {verdict: "agree"}})
      compare(findChild(page, "healthBadge").text, "Healthy")
      compare(findChild(page, "healthBadge").tone, Theme.Tone.Good)
    }

    // "1 node heard from", not "1 nodes".
    function test_clusterSize() {
      fake.push({peers: [{nodeId: 7}]})
      compare(text("clusterSize"), "1 node heard from")
      fake.push({peers: [{nodeId: 7}, {nodeId: 8}]})
      compare(text("clusterSize"), "2 nodes heard from")
    }

    function test_natsAndEmbeddedState() {
      fake.push({natsConnected: false, embedded: Hl.ServerState.Restarting})
      compare(findChild(page, "natsState").text, "disconnected")
      compare(text("embeddedState"), "restarting")
      compare(findChild(page, "embeddedState").color, Theme.warn)
      fake.push({natsConnected: true, embedded: Hl.ServerState.Running})
      compare(findChild(page, "natsState").text, "connected")
      compare(text("embeddedState"), "running")
      compare(findChild(page, "embeddedState").color, Theme.good)
      fake.push({embedded: Hl.ServerState.None})
      compare(text("embeddedState"), "not used (external servers)")
    }

    function test_firstRunBanner() {
      fake.configure("", "/home/op/.local/share/harmonylite/harmonylite.db", "")
      verify(findChild(page, "firstRunBanner").visible)
      verify(findChild(page, "openDatabaseButton"))
      fake.configure("/etc/harmonylite/config.toml", "/var/lib/harmonylite/data.db", "")
      verify(!findChild(page, "firstRunBanner").visible)
    }

    function test_pauseAndResumePublishing() {
      fake.push({publishingPaused: false})
      const button = findChild(page, "publishingButton")
      compare(button.text, "Pause publishing")
      const before = fake.controlCount
      mouseClick(button)
      compare(fake.controlCount, before + 1)
      compare(fake.lastControl, "kPausePublishing")
      compare(controller.controlsInFlight, 1)
      fake.answer(true, "publishing paused")
      compare(controller.controlsInFlight, 0)
      fake.push({publishingPaused: true})
      compare(button.text, "Resume publishing")
      compare(findChild(page, "publishingState").text, "paused")
      mouseClick(button)
      compare(fake.lastControl, "kResumePublishing")
      fake.answer(true, "publishing resumed")
    }

    function test_reconnect() {
      fake.push({})
      mouseClick(findChild(page, "reconnectButton"))
      compare(fake.lastControl, "kReconnectNats")
      fake.answer(false, "not connected yet")
      compare(controller.lastControlOk, false)
      compare(controller.lastControlMessage, "not connected yet")
    }
  }
}
