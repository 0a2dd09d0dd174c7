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
  height: 800
  ShardsPage { id: page; controller: root.dashboardController; anchors.fill: parent }
  TestCase {
    name: "ShardsPage"
    when: windowShown


    function row(n) { return findChild(page, "shardRow_" + n) }
    function cell(n, name) { const r = row(n); verify(r, "row " + n); return findChild(r, name) }

    function test_oneRowPerShard() {
      fake.push({shards: [{shard: 1, applied: 1000, appliedChanges: 10}, {shard: 2, applied: 20, lag: 0, appliedChanges: 0}]}, 1000)
      fake.push({shards: [{shard: 1, applied: 12345, received: 12400, lag: 55, lagSeconds: 2.5, appliedChanges: 410},
                          {shard: 2, applied: 20, lag: 0, state: Hl.ShardState.NeedsRestore, error: "gap at 21"}]}, 2000)
      const list = findChild(page, "shardList")
      compare(list.count, 2)
      tryVerify(() => row(2) !== null)
      compare(cell(1, "applied").text, "12,345")
      compare(cell(1, "received").text, "12,400")
      compare(cell(1, "lag").text, "55")
      compare(cell(1, "rate").text, "200 /s")       // (410 - 10) / 2 s
      compare(cell(1, "state").text, "running")
      compare(cell(2, "state").text, "needs-restore")
      compare(cell(1, "state").tone, Theme.Tone.Good)
      compare(cell(2, "state").tone, Theme.Tone.Bad)
      verify(!cell(2, "toggleButton").enabled)      // a stopped shard cannot be paused
    }

    function test_pauseAndResumeOneShard() {
      fake.push({shards: [{shard: 1}, {shard: 2}]})
      tryVerify(() => row(2) !== null)
      mouseClick(cell(2, "toggleButton"))
      compare(fake.lastControl, "kPauseApplying")
      compare(fake.lastId, 2)
      fake.push({shards: [{shard: 1}, {shard: 2, state: Hl.ShardState.Paused}]})
      compare(cell(2, "toggleButton").text, "Resume")
      compare(cell(2, "state").text, "paused")
      compare(cell(2, "state").tone, Theme.Tone.Warn)
      mouseClick(cell(2, "toggleButton"))
      compare(fake.lastControl, "kResumeApplying")
      compare(fake.lastId, 2)
      verify(findChild(page, "resumeAllButton").enabled)
      mouseClick(findChild(page, "pauseAllButton"))
      compare(fake.lastControl, "kPauseApplying")
      compare(fake.lastId, 0)
    }

    function test_lagChartHasALinePerShard() {
      fake.push({shards: [{shard: 1, lag: 3}, {shard: 2, lag: 9}, {shard: 3, lag: 0}]})
      compare(findChild(page, "lagChart").lineCount, 3)
    }

    function test_emptyState() {
      fake.push({shards: []})
      compare(findChild(page, "shardList").count, 0)
    }
  }
}
