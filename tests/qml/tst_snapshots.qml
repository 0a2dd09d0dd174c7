import QtQuick
import QtTest
import HarmonyLite.Backend
import HarmonyLite.Pages
import HarmonyLite.Components

// The runner (tst_qml.cpp) hands QML the context properties `controller` (the DashboardController)
// and `fake` (FakeStatus), which qmllint cannot know of: unqualified access is not checked here.
// qmllint disable unqualified

// TestCase is invisible by design: the pages under test are its siblings in a visible root. The
// Snapshots page is in a narrow window's width (the smallest the dashboard allows leaves about
// 760 px for a page); the Overview beside it shows the newest snapshot's tile.
Item {
  id: root
  readonly property DashboardController dashboardController: controller  // for the pages
  width: 1900
  height: 800
  SnapshotsPage { id: page; controller: root.dashboardController; x: 0; width: 780; height: 800 }
  OverviewPage { id: overview; controller: root.dashboardController; x: 800; width: 1100; height: 800 }
  TestCase {
    name: "SnapshotsPage"
    when: windowShown

    readonly property string ourHash: "aaaa1111bbbb2222cccc3333"  // FakeStatus's schema hash
    // Three entries, not in time order: a Go node's snapshot.db (its time is the object's, the
    // rest unknown), one of node 7 (ours, 5 min old, the latest, verified 3 min ago) and an
    // older one of node 2 with another schema whose last drill failed.
    readonly property var catalog: [
      {id: "snapshot.db", foreign: true, agoMs: 7200000},
      {id: "20261130T150300000Z-n7", agoMs: 300000, latest: true, size: 2097152, watermark: [1234, 88],
       verifiedAgoMs: 180000},
      {id: "20261130T140000000Z-n2", agoMs: 3600000, nodeId: 2, schemaHash: "ffff0000eeee1111dddd2222",
       verifiedAgoMs: 5000, verifiedOk: false, verifyMessage: "checksum differs"}
    ]

    function row(n) { return findChild(page, "snapshotRow_" + n) }
    function cell(n, name) { const r = row(n); verify(r, "row " + n); return findChild(r, name) }
    function button(name) { const b = findChild(page, name); verify(b, name); return b }
    function select(n) {
      tryVerify(() => row(n) !== null)
      mouseClick(row(n), 20, row(n).height / 2)
      compare(controller.snapshots.rowOf(page.selectedId), n)
    }

    function init() {
      findChild(page, "confirmDialog").close()   // left open by a failed test
      page.selectedId = ""
      fake.pushSnapshots({catalog: catalog, leader: 2, nextInMs: 605000})  // "in 10 min 4 s" or 5 s
      tryVerify(() => row(2) !== null)
    }

    function test_catalogueNewestFirstWithUnknowns() {
      compare(findChild(page, "snapshotList").count, 3)
      compare(controller.snapshots.count, 3)
      // Newest first: node 7's (5 min), node 2's (1 h), the Go node's (2 h).
      compare(cell(0, "takenBy").text, "7")
      compare(cell(0, "size").text, "2.0 MB")
      compare(cell(0, "watermark").text, "1:1234 2:88")
      compare(cell(0, "schemaHash").text, ourHash.substring(0, 8))
      compare(cell(0, "verified").text, "ok 3 min ago")
      compare(cell(0, "verified").color, Theme.good)
      verify(cell(0, "latestBadge").visible)
      verify(!cell(0, "foreignBadge").visible)

      compare(cell(1, "takenBy").text, "2")
      compare(cell(1, "schemaHash").text, "ffff0000 ≠")   // differs from ours: flagged (8 characters when narrow)
      compare(cell(1, "schemaHash").color, Theme.bad)
      compare(cell(1, "verified").text, "FAILED: checksum differs")
      compare(cell(1, "verified").color, Theme.bad)

      // The Go node's: nothing but its time is known.
      verify(cell(2, "foreignBadge").visible)
      compare(cell(2, "foreignBadge").text, "Go")
      verify(cell(2, "takenAt").text !== "unknown")
      for (const name of ["takenBy", "size", "watermark", "schemaHash"])
        compare(cell(2, name).text, "unknown", name)
      compare(cell(2, "verified").text, "never")
      verify(!cell(2, "sha256").visible)   // a narrow page has no checksum column

      // The header: the lease holder, the schedule, no error.
      compare(findChild(page, "leaderText").text.indexOf("node 2 until "), 0)
      verify(findChild(page, "nextScheduledText").text.indexOf("(in 10 min") > 0)
      verify(!findChild(page, "lastErrorText").visible)
      verify(!findChild(page, "emptyState").visible)
      verify(!findChild(page, "progressPanel").visible)
      fake.pushSnapshots({catalog: catalog, isLeader: true})
      compare(findChild(page, "leaderText").text, "this node")
    }

    // Unchanged statuses change no row; a new snapshot is inserted above the selection, which
    // stays on the same snapshot.
    function test_updatesKeepTheSelection() {
      select(1)
      const id = page.selectedId
      fake.pushSnapshots({catalog: catalog})
      compare(page.selectedId, id)
      fake.pushSnapshots({catalog: [{id: "20261130T160000000Z-n7", agoMs: 1000}].concat(catalog)})
      tryCompare(findChild(page, "snapshotList"), "count", 4)
      compare(controller.snapshots.rowOf(id), 2)
      tryCompare(row(2), "selected", true)
      verify(!row(1).selected)
    }

    function test_saveNow() {
      const count = fake.controlCount
      mouseClick(button("saveButton"))
      compare(fake.controlCount, count + 1)
      compare(fake.lastControl, "kSaveSnapshot")
      compare(fake.lastName, "")
      mouseClick(button("refreshButton"))
      compare(fake.lastControl, "kRefreshSnapshots")
    }

    function test_verifySelected() {
      verify(!button("verifyButton").enabled)   // nothing selected
      verify(!button("restoreButton").enabled)
      select(1)
      verify(button("verifyButton").enabled)
      mouseClick(button("verifyButton"))
      compare(fake.lastControl, "kVerifySnapshot")
      compare(fake.lastName, "20261130T140000000Z-n2")
      compare(fake.lastConfirm, false)
    }

    function test_restoreAsksFirst() {
      select(0)
      const count = fake.controlCount
      mouseClick(button("restoreButton"))
      const dialog = findChild(page, "confirmDialog")
      tryVerify(() => dialog.opened)
      compare(fake.controlCount, count)        // nothing sent before the answer
      const message = findChild(dialog.contentItem, "confirmMessage").text
      verify(message.indexOf("Replace the live database /data/app.db with snapshot 20261130T150300000Z-n7 taken ") === 0, message)
      verify(message.indexOf("by node 7") > 0, message)
      verify(message.indexOf("Local changes not yet published are sent first") > 0, message)
      verify(message.indexOf("1:1234 2:88") > 0, message)
      verify(!findChild(dialog.contentItem, "forceSchemaBox").visible)   // same schema: no force
      dialog.reject()
      tryVerify(() => !dialog.visible)
      compare(fake.controlCount, count)        // cancelled: nothing sent
      mouseClick(button("restoreButton"))
      tryVerify(() => dialog.opened)
      dialog.accept()
      compare(fake.controlCount, count + 1)
      compare(fake.lastControl, "kRestoreSnapshot")
      compare(fake.lastName, "20261130T150300000Z-n7")
      compare(fake.lastConfirm, true)
      compare(fake.lastId, 0)                   // not forced
      tryVerify(() => !dialog.visible)
    }

    // A snapshot of another schema: the dialog says so and offers to force it through.
    function test_restoreForcesASchemaMismatchOnlyWhenAsked() {
      select(1)
      mouseClick(button("restoreButton"))
      const dialog = findChild(page, "confirmDialog")
      tryVerify(() => dialog.opened)
      const force = findChild(dialog.contentItem, "forceSchemaBox")
      verify(force.visible)
      verify(!force.checked)
      verify(findChild(dialog.contentItem, "confirmMessage").text.indexOf("differs from this node's") > 0)
      dialog.accept()
      compare(fake.lastControl, "kRestoreSnapshot")
      compare(fake.lastId, 0)                  // not ticked: not forced
      tryVerify(() => !dialog.visible)
      mouseClick(button("restoreButton"))
      tryVerify(() => dialog.opened)
      verify(!force.checked)                   // each question starts unticked
      mouseClick(force)
      verify(force.checked)
      dialog.accept()
      compare(fake.lastControl, "kRestoreSnapshot")
      compare(fake.lastName, "20261130T140000000Z-n2")
      compare(fake.lastConfirm, true)
      compare(fake.lastId, 1)                  // forced
      tryVerify(() => !dialog.visible)
    }

    function test_progressWhileBusy() {
      fake.pushSnapshots({catalog: catalog, activity: Hl.SnapshotActivity.Uploading, target: "20261130T170000000Z-n7",
                          done: 1048576, total: 4194304, rate: 524288})
      const panel = findChild(page, "progressPanel")
      verify(panel.visible)
      compare(findChild(page, "progressTitle").text, "Uploading 20261130T170000000Z-n7")
      compare(findChild(page, "progressText").text, "1.0 MB of 4.0 MB (25%) · 512.0 KB/s")
      compare(findChild(page, "progressBar").value, 25)
      verify(!button("saveButton").enabled)    // one operation at a time
      // The Overview says it too.
      verify(findChild(overview, "snapshotProgress").visible)
      compare(findChild(overview, "newestSnapshot").caption, "uploading under way")
      // Unknown total: an indeterminate bar and the bytes so far.
      fake.pushSnapshots({catalog: catalog, activity: Hl.SnapshotActivity.Saving, done: 2048})
      verify(findChild(page, "progressBar").indeterminate)
      compare(findChild(page, "progressText").text, "2.0 KB")
      fake.pushSnapshots({catalog: catalog})
      verify(!panel.visible)
      verify(!findChild(overview, "snapshotProgress").visible)
      verify(button("saveButton").enabled)
    }

    function test_lastErrorShows() {
      fake.pushSnapshots({catalog: catalog, lastError: "upload: no space left in the bucket"})
      const error = findChild(page, "lastErrorText")
      verify(error.visible)
      compare(error.text, "Last error: upload: no space left in the bucket")
      compare(findChild(overview, "newestSnapshotValue").color, Theme.bad)
    }

    function test_emptyState() {
      fake.pushSnapshots({catalog: []})
      const empty = findChild(page, "emptyState")
      verify(empty.visible)
      compare(empty.title, "No snapshots yet")
      compare(findChild(overview, "newestSnapshotValue").text, "none")
      verify(button("saveButton").enabled)
      fake.pushSnapshots({enabled: false})
      compare(empty.title, "Snapshots are off")
      verify(!button("saveButton").enabled)
      verify(!button("refreshButton").enabled)
      compare(findChild(overview, "newestSnapshotValue").text, "off")
    }

    function test_overviewTileShowsTheNewestAge() {
      compare(findChild(overview, "newestSnapshotValue").text, "5 min ago")
      compare(findChild(overview, "newestSnapshot").caption, "by node 7")
    }

    // A restore's shard state has its own word and a warning tone.
    function test_restoringShardHasATone() {
      compare(Theme.shardTone(Hl.ShardState.Restoring), Theme.Tone.Warn)
      compare(Theme.shardTone(Hl.ShardState.NeedsRestore), Theme.Tone.Bad)
    }

    // What the engine tells when an operation ends is a row of the Events page: an error row
    // when it failed.
    function test_finishedOperationsBecomeEvents() {
      fake.snapshotFinished(Hl.SnapshotActivity.Saving, true, "20261130T150300000Z-n7, 2.0 MB")
      fake.snapshotFinished(Hl.SnapshotActivity.Verifying, false, "20261130T140000000Z-n2: checksum differs")
      controller.events.textFilter = "Snapshot saved"
      compare(controller.events.count, 1)
      controller.events.textFilter = "Snapshot verify failed"
      compare(controller.events.count, 1)
      controller.events.setKindFilter(EventModel.Kind.Error)
      compare(controller.events.count, 1)
      controller.events.clearKindFilter()
      controller.events.textFilter = ""
    }
  }
}
