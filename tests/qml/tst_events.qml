import QtQuick
import QtTest
import HarmonyLite.Pages

// The runner (tst_qml.cpp) hands QML the context properties `controller` (the DashboardController)
// and `fake` (FakeStatus), which qmllint cannot know of: unqualified access is not checked here.
// qmllint disable unqualified

// TestCase is invisible by design: the page under test is its sibling in a visible root.
Item {
  id: root
  readonly property var dashboardController: controller  // for the page
  width: 1100
  height: 800
  EventsPage { id: page; controller: root.dashboardController; anchors.fill: parent }
  TestCase {
    name: "EventsPage"
    when: windowShown


    function rowWith(title) {
      const list = findChild(page, "eventList")
      for (let i = 0; i < list.count; ++i) {
        const r = findChild(page, "eventRow_" + i)
        if (r && findChild(r, "title").text.indexOf(title) >= 0) return r
      }
      return null
    }

    function test_conflictsAndDeadLettersNewestFirst() {
      fake.push({conflicts: 1, deadLetters: 1, conflictList: [{id: 1001, key: "[42]"}],
                 deadLetterList: [{id: 3, reason: "message: expected map"}]})
      tryVerify(() => rowWith("Dead letter #3") !== null)
      tryVerify(() => rowWith("Conflict on Books [42]") !== null)
      tryCompare(findChild(page, "eventRow_0"), "kind", "dead-letter")   // the newest event is first
      // The same records in the next status are not new events.
      const total = controller.events.total
      fake.push({conflicts: 1, deadLetters: 1, conflictList: [{id: 1001, key: "[42]"}],
                 deadLetterList: [{id: 3, reason: "message: expected map"}]})
      compare(controller.events.total, total)
    }

    function test_filterByKindAndText() {
      fake.push({deadLetters: 2, deadLetterList: [{id: 5, reason: "zstd frame"}, {id: 4, reason: "unknown table"}]})
      controller.events.kindFilter = "dead-letter"
      for (let i = 0; i < controller.events.count; ++i)
        compare(findChild(page, "eventRow_" + i).kind, "dead-letter")
      controller.events.textFilter = "zstd"
      compare(controller.events.count, 1)
      controller.events.textFilter = "no such words"
      compare(controller.events.count, 0)
      controller.events.textFilter = ""
      controller.events.kindFilter = ""
    }

    function test_retryAndDiscardAskFirst() {
      fake.push({deadLetters: 1, deadLetterList: [{id: 11, reason: "poison"}]})
      tryVerify(() => rowWith("Dead letter #11") !== null)
      const row = rowWith("Dead letter #11")
      mouseClick(findChild(row, "retryButton"))
      compare(fake.lastControl, "kRetryDeadLetter")
      compare(fake.lastId, 11)
      const count = fake.controlCount
      mouseClick(findChild(row, "discardButton"))
      const dialog = findChild(page, "confirmDialog")
      tryVerify(() => dialog.opened)
      compare(fake.controlCount, count)       // nothing sent before the answer
      dialog.reject()
      compare(fake.controlCount, count)       // cancelled: nothing sent
      mouseClick(findChild(row, "discardButton"))
      tryVerify(() => dialog.opened)
      dialog.accept()
      compare(fake.lastControl, "kDiscardDeadLetter")
      compare(fake.lastId, 11)
      compare(fake.lastConfirm, true)
      // Gone from the table: the row has no buttons any more.
      fake.push({deadLetters: 0, deadLetterList: []})
      verify(!findChild(row, "discardButton").visible)
    }

    function test_clearConflictJournalAsksFirst() {
      fake.push({conflicts: 2, conflictList: [{id: 20}, {id: 21}]})
      const button = findChild(page, "clearConflictsButton")
      verify(button.enabled)
      mouseClick(button)
      const dialog = findChild(page, "confirmDialog")
      tryVerify(() => dialog.opened)
      dialog.accept()
      compare(fake.lastControl, "kClearConflicts")
      compare(fake.lastConfirm, true)
    }

    // After the journal is cleared, ids start again from 1: new records are still noticed.
  function test_idsStartingAgainAreNoticed() {
    fake.push({conflicts: 1, conflictList: [{id: 5000, key: "[7]"}]})
    fake.push({conflicts: 1, conflictList: [{id: 1, key: "[8]"}]})
    tryVerify(() => rowWith("Conflict on Books [8]") !== null)
  }

  function test_stateChangesAndRefusals() {
      fake.push({natsConnected: true})
      fake.push({natsConnected: false})
      tryVerify(() => rowWith("NATS disconnected") !== null)
      compare(rowWith("NATS disconnected").kind, "error")
      controller.reconnectNats()
      fake.answer(false, "refused for the test")
      tryVerify(() => rowWith("Refused: reconnect NATS") !== null)
    }
  }
}
