import QtQuick
import QtTest
import HarmonyLite.Backend
import HarmonyLite.Pages

// The runner (tst_qml.cpp) hands QML the context properties `controller` (the DashboardController)
// and `fake` (FakeStatus), which qmllint cannot know of: unqualified access is not checked here.
// qmllint disable unqualified

// TestCase is invisible by design: the page under test is its sibling in a visible root.
Item {
  id: root
  readonly property DashboardController dashboardController: controller  // for the page
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
      fake.push({conflicts: 1, deadLetters: 1})
      fake.conflictRecorded(1001, "[42]")
      fake.deadLettered(3, "message: expected map")
      tryVerify(() => rowWith("Dead letter #3") !== null)
      tryVerify(() => rowWith("Conflict on Books [42]") !== null)
      tryCompare(findChild(page, "eventRow_0"), "kind", EventModel.Kind.DeadLetter)   // the newest event is first
      compare(findChild(findChild(page, "eventRow_0"), "kind").text, "dead-letter")
      compare(findChild(rowWith("Conflict on Books [42]"), "kind").text, "conflict")
      // Statuses are no events: the same counts again add no row.
      const total = controller.events.total
      fake.push({conflicts: 1, deadLetters: 1})
      compare(controller.events.total, total)
    }

    function test_filterByKindAndText() {
      fake.push({deadLetters: 2})
      fake.deadLettered(5, "zstd frame")
      fake.deadLettered(4, "unknown table")
      fake.natsConnection(true)
      controller.events.setKindFilter(EventModel.Kind.DeadLetter)
      verify(controller.events.count >= 2)
      for (let i = 0; i < controller.events.count; ++i)
        compare(findChild(page, "eventRow_" + i).kind, EventModel.Kind.DeadLetter)
      controller.events.textFilter = "zstd"
      compare(controller.events.count, 1)
      controller.events.textFilter = "no such words"
      compare(controller.events.count, 0)
      controller.events.textFilter = ""
      controller.events.clearKindFilter()
      compare(controller.events.count, controller.events.total)
    }

    // The kind box filters the list through the model.
    function test_kindBoxFilters() {
      fake.deadLettered(6, "from the kind box test")
      fake.natsConnection(false)
      const box = findChild(page, "kindFilter")
      box.currentIndex = 2   // Dead letters
      box.activated(2)
      for (let i = 0; i < controller.events.count; ++i)
        compare(findChild(page, "eventRow_" + i).kind, EventModel.Kind.DeadLetter)
      box.currentIndex = 0   // All events
      box.activated(0)
      compare(controller.events.count, controller.events.total)
    }

    function test_retryAndDiscardAskFirst() {
      fake.push({deadLetters: 1})
      fake.deadLettered(11, "poison")
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
      // The engine says it is gone from the table: the row has no buttons any more.
      fake.push({deadLetters: 0})
      verify(findChild(row, "discardButton").visible)   // a status alone closes nothing
      fake.deadLetterClosed(11)
      verify(!findChild(row, "discardButton").visible)
    }

    function test_clearConflictJournalAsksFirst() {
      fake.push({conflicts: 2})
      const button = findChild(page, "clearConflictsButton")
      verify(button.enabled)
      mouseClick(button)
      const dialog = findChild(page, "confirmDialog")
      tryVerify(() => dialog.opened)
      dialog.accept()
      compare(fake.lastControl, "kClearConflicts")
      compare(fake.lastConfirm, true)
    }

    // After the journal is cleared, ids start again from 1: each conflict the engine tells is a
    // row, whatever its id.
    function test_idsStartingAgainAreNoticed() {
      fake.conflictRecorded(5000, "[7]")
      fake.conflictRecorded(1, "[8]")
      tryVerify(() => rowWith("Conflict on Books [8]") !== null)
    }

    function test_stateChangesAndRefusals() {
      fake.natsConnection(true)
      fake.natsConnection(false)
      tryVerify(() => rowWith("NATS disconnected") !== null)
      compare(rowWith("NATS disconnected").kind, EventModel.Kind.Error)
      compare(findChild(rowWith("NATS disconnected"), "kind").text, "error")
      controller.reconnectNats()
      fake.answer(false, "refused for the test")
      tryVerify(() => rowWith("Refused: reconnect NATS") !== null)
    }
  }
}
