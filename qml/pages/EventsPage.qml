// Events: conflicts, dead letters (retry / discard), errors and state changes, newest first,
// filtered by kind and text. Discarding a dead letter and clearing the conflict journal ask first.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import "../components"

Item {
  id: page
  objectName: "eventsPage"
  readonly property var kinds: [["", qsTr("All events")], ["conflict", qsTr("Conflicts")],
                                ["dead-letter", qsTr("Dead letters")], ["error", qsTr("Errors")],
                                ["state", qsTr("State changes")]]

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Events")
      subtitle: qsTr("%1 shown of %2 · %3 conflicts and %4 dead letters on the node")
                .arg(controller.events.count).arg(controller.events.total)
                .arg(Theme.number(controller.summary.conflicts)).arg(Theme.number(controller.summary.deadLetters))
      Layout.fillWidth: true
      ComboBox {
        id: kindBox
        objectName: "kindFilter"
        model: page.kinds.map(k => k[1])
        implicitWidth: 170
        onActivated: controller.events.kindFilter = page.kinds[currentIndex][0]
      }
      TextField {
        objectName: "textFilter"
        placeholderText: qsTr("Filter…")
        implicitWidth: 220
        onTextChanged: controller.events.textFilter = text
      }
      Button {
        objectName: "clearConflictsButton"
        text: qsTr("Clear conflict journal")
        enabled: controller.summary.conflicts > 0
        onClicked: confirm.ask(qsTr("Clear the conflict journal?"),
                               qsTr("The %1 recorded conflicts are deleted from this node. The rows themselves are not changed.")
                               .arg(controller.summary.conflicts),
                               () => controller.clearConflicts())
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
        model: controller.events
        clip: true
        keyNavigationEnabled: true
        ScrollBar.vertical: ScrollBar {}
        delegate: Rectangle {
          objectName: "eventRow_" + index
          width: ListView.view.width
          height: Math.max(Theme.rowHeight + 12, col.implicitHeight + 12)
          color: index % 2 ? Theme.surfaceAlt : Theme.surface
          readonly property string kind: model.kind
          RowLayout {
            anchors.fill: parent
            anchors.leftMargin: Theme.padding
            anchors.rightMargin: Theme.padding
            spacing: Theme.spacing
            Label { text: model.time; color: Theme.textMuted; font.pixelSize: Theme.fontSmall; Layout.preferredWidth: 140 }
            Item {
              Layout.preferredWidth: 96
              implicitHeight: kindChip.implicitHeight
              StateChip {
                id: kindChip
                objectName: "kind"
                state: model.kind
                tone: model.kind === "state" ? "running" : model.kind === "conflict" ? "paused" : "failed"
              }
            }
            ColumnLayout {
              id: col
              spacing: 2
              Layout.fillWidth: true
              Label { objectName: "title"; text: model.title; font.bold: true; elide: Text.ElideRight; Layout.fillWidth: true }
              Label {
                text: model.detail
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
              visible: model.kind === "dead-letter" && model.open
              text: qsTr("Retry")
              onClicked: controller.retryDeadLetter(model.refId)
            }
            Button {
              objectName: "discardButton"
              visible: model.kind === "dead-letter" && model.open
              text: qsTr("Discard")
              onClicked: confirm.ask(qsTr("Discard dead letter #%1?").arg(model.refId),
                                     qsTr("The change it holds is never applied on this node. Only discard it when you know the row is right."),
                                     () => controller.discardDeadLetter(model.refId))
            }
          }
        }
        EmptyState {
          anchors.centerIn: parent
          visible: list.count === 0
          title: controller.events.total === 0 ? qsTr("Nothing has happened yet") : qsTr("No event matches the filter")
          message: controller.events.total === 0
                   ? qsTr("Conflicts, dead letters, errors and state changes of this node show here, newest first.")
                   : qsTr("Change the kind or the text to see more.")
        }
      }
    }
  }

  ConfirmDialog { id: confirm; objectName: "confirmDialog" }
}
