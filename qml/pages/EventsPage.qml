// Events: conflicts, dead letters (retry / discard), errors, warnings, alerts (with those of
// earlier runs, from the node's history) and state changes, newest first, filtered by kind and
// text. Discarding a dead letter and clearing the conflict journal
// ask first.
pragma ComponentBehavior: Bound  // delegates use the page's ids
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components

Item {
  id: page
  objectName: "eventsPage"
  required property DashboardController controller  // from Main.qml or the test
  // The filter's choices: every kind (null), or one EventModel.Kind.
  readonly property var kinds: [[null, qsTr("All events")], [EventModel.Kind.Conflict, qsTr("Conflicts")],
                                [EventModel.Kind.DeadLetter, qsTr("Dead letters")], [EventModel.Kind.Error, qsTr("Errors")],
                                [EventModel.Kind.State, qsTr("State changes")], [EventModel.Kind.Warning, qsTr("Warnings")],
                                [EventModel.Kind.Alert, qsTr("Alerts")]]

  // An event kind's word on its chip, and its tone.
  function kindText(kind: int): string {
    switch (kind) {
    case EventModel.Kind.Conflict: return qsTr("conflict")
    case EventModel.Kind.DeadLetter: return qsTr("dead-letter")
    case EventModel.Kind.Error: return qsTr("error")
    case EventModel.Kind.Warning: return qsTr("warning")
    case EventModel.Kind.Alert: return qsTr("alert")
    default: return qsTr("state")
    }
  }
  function kindTone(kind: int): int {
    switch (kind) {
    case EventModel.Kind.State: return Theme.Tone.Good
    case EventModel.Kind.Conflict: case EventModel.Kind.Warning: case EventModel.Kind.Alert: return Theme.Tone.Warn
    default: return Theme.Tone.Bad  // errors, dead letters
    }
  }

  FileDialog {
    id: saveDialog
    property bool history: false
    title: history ? qsTr("Save the node's history as CSV") : qsTr("Save the events as CSV")
    fileMode: FileDialog.SaveFile
    defaultSuffix: "csv"
    nameFilters: [qsTr("CSV files (*.csv)")]
    onAccepted: history ? page.controller.saveHistoryCsv(selectedFile) : page.controller.saveEventsCsv(selectedFile)
  }

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Events")
      subtitle: qsTr("%1 shown of %2 · %3 conflicts and %4 dead letters on the node")
                .arg(page.controller.events.count).arg(page.controller.events.total)
                .arg(Theme.number(page.controller.summary.conflicts)).arg(Theme.number(page.controller.summary.deadLetters))
      Layout.fillWidth: true
      ComboBox {
        id: kindBox
        objectName: "kindFilter"
        Accessible.name: qsTr("Show events of kind")
        Accessible.description: qsTr("Lists only the events of this kind")
        model: page.kinds.map(k => k[1])
        implicitWidth: 170
        onActivated: {
          const kind = page.kinds[currentIndex][0]
          if (kind === null) page.controller.events.clearKindFilter()
          else page.controller.events.setKindFilter(kind)
        }
      }
      TextField {
        objectName: "textFilter"
        Accessible.name: qsTr("Filter events by text")
        Accessible.description: qsTr("Lists only the events whose title or detail contain this text")
        placeholderText: qsTr("Filter…")
        implicitWidth: 220
        onTextChanged: page.controller.events.textFilter = text
      }
      Button {
        objectName: "clearConflictsButton"
        Accessible.name: qsTr("Clear the conflict journal")
        Accessible.description: qsTr("Deletes the recorded conflicts, after a confirmation; the rows are not changed")
        text: qsTr("Clear conflict journal")
        enabled: page.controller.summary.conflicts > 0
        onClicked: confirm.ask(qsTr("Clear the conflict journal?"),
                               qsTr("The %1 recorded conflicts are deleted from this node. The rows themselves are not changed.")
                               .arg(page.controller.summary.conflicts),
                               () => page.controller.clearConflicts())
      }
      // CSV of the events shown (filtered, newest first) or of the node's per-minute history
      // (docs/alerts.md#history); the answer shows in the toast.
      Button {
        id: exportButton
        objectName: "exportButton"
        Accessible.name: qsTr("Save events or history as CSV")
        Accessible.description: qsTr("Saves the events shown, or the node's per-minute history, as a CSV file")
        text: qsTr("Export…")
        onClicked: exportMenu.popup(exportButton, 0, exportButton.height)
        Menu {
          id: exportMenu
          MenuItem {
            objectName: "exportEvents"
            text: qsTr("Events shown, as CSV…")
            onTriggered: { saveDialog.history = false; saveDialog.open() }
          }
          MenuItem {
            objectName: "exportHistory"
            text: qsTr("History of this node, as CSV…")
            onTriggered: { saveDialog.history = true; saveDialog.open() }
          }
        }
      }
    }

    Rectangle {
      color: Theme.surface
      radius: Theme.radius
      border.color: Theme.border
      Layout.fillWidth: true
      Layout.fillHeight: true
      clip: true

      ListView {
        id: list
        objectName: "eventList"
        anchors.fill: parent
        anchors.margins: 1
        model: page.controller.events
        clip: true
        keyNavigationEnabled: true
        ScrollBar.vertical: ScrollBar {}
        delegate: Rectangle {
          id: row
          required property var model
          required property int index
          objectName: "eventRow_" + index
          width: ListView.view.width
          height: Math.max(Theme.rowHeight + 12, col.implicitHeight + 12)
          color: index % 2 ? Theme.surfaceAlt : Theme.surface
          readonly property int kind: model.kind  // EventModel.Kind
          RowLayout {
            anchors.fill: parent
            anchors.leftMargin: Theme.padding
            anchors.rightMargin: Theme.padding
            spacing: Theme.spacing
            Label { text: row.model.time; color: Theme.textMuted; font.pixelSize: Theme.fontSmall; Layout.preferredWidth: 140 }
            Item {
              Layout.preferredWidth: 96
              implicitHeight: kindChip.implicitHeight
              StateChip {
                id: kindChip
                objectName: "kind"
                text: page.kindText(row.kind)
                tone: page.kindTone(row.kind)
              }
            }
            ColumnLayout {
              id: col
              spacing: 2
              Layout.fillWidth: true
              Label { objectName: "title"; text: row.model.title; font.bold: true; elide: Text.ElideRight; Layout.fillWidth: true }
              Label {
                text: row.model.detail
                visible: text.length > 0
                color: Theme.textMuted
                font.pixelSize: Theme.fontSmall
                wrapMode: Text.WordWrap
                maximumLineCount: 2
                elide: Text.ElideRight
                Layout.fillWidth: true
              }
            }
            Button {
              objectName: "retryButton"
              Accessible.name: qsTr("Retry this dead letter")
              Accessible.description: qsTr("Applies the message again")
              visible: row.kind === EventModel.Kind.DeadLetter && row.model.open
              text: qsTr("Retry")
              onClicked: page.controller.retryDeadLetter(row.model.refId)
            }
            Button {
              objectName: "discardButton"
              Accessible.name: qsTr("Discard this dead letter")
              Accessible.description: qsTr("Deletes the message, after a confirmation")
              visible: row.kind === EventModel.Kind.DeadLetter && row.model.open
              text: qsTr("Discard")
              onClicked: confirm.ask(qsTr("Discard dead letter #%1?").arg(row.model.refId),
                                     qsTr("The change it holds is never applied on this node. Only discard it when you know the row is right."),
                                     () => page.controller.discardDeadLetter(row.model.refId))
            }
          }
        }
        EmptyState {
          anchors.centerIn: parent
          visible: list.count === 0
          title: page.controller.events.total === 0 ? qsTr("Nothing has happened yet") : qsTr("No event matches the filter")
          message: page.controller.events.total === 0
                   ? qsTr("Conflicts, dead letters, errors and state changes of this node show here, newest first.")
                   : qsTr("Change the kind or the text to see more.")
        }
      }
    }
  }

  ConfirmDialog { id: confirm; objectName: "confirmDialog" }
}
