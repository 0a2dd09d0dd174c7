// Cluster: every node heard from through the status records, with its version, when it was
// last heard, lag, schema hash (a hash that differs from this node's is highlighted) and health.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components

Item {
  id: page
  objectName: "clusterPage"
  required property DashboardController controller  // from Main.qml or the test
  readonly property var columns: [[qsTr("Node"), 130], [qsTr("Version"), 170], [qsTr("Last seen"), 100],
                                  [qsTr("Health"), 100], [qsTr("Lag"), 70], [qsTr("Lag (s)"), 60],
                                  [qsTr("Schema hash"), 200], [qsTr("Shards"), -1]]

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Cluster")
      subtitle: page.controller.cluster.mismatches > 0
                ? qsTr("%1 nodes · %2 with a different schema").arg(page.controller.cluster.count).arg(page.controller.cluster.mismatches)
                : qsTr("%1 nodes · one schema").arg(page.controller.cluster.count)
      Layout.fillWidth: true
    }

    Rectangle {
      objectName: "schemaWarning"
      visible: page.controller.cluster.mismatches > 0
      color: Theme.warnSoft
      radius: Theme.radius
      Layout.fillWidth: true
      implicitHeight: warnText.implicitHeight + 2 * Theme.padding
      Label {
        id: warnText
        anchors.fill: parent
        anchors.margins: Theme.padding
        wrapMode: Text.WordWrap
        color: Theme.warn
        text: qsTr("Some nodes run a different schema (highlighted). Finish the rolling schema upgrade on every node so that they converge.")
      }
    }

    Rectangle {
      color: Theme.surface
      radius: Theme.radius
      border.color: Theme.border
      Layout.fillWidth: true
      Layout.fillHeight: true
      clip: true

      ColumnLayout {
        anchors.fill: parent
        anchors.margins: 1
        spacing: 0
        TableHeader { columns: page.columns; Layout.fillWidth: true }
        ListView {
          id: list
          objectName: "clusterList"
          model: page.controller.cluster
          Layout.fillWidth: true
          Layout.fillHeight: true
          clip: true
          keyNavigationEnabled: true
          ScrollBar.vertical: ScrollBar {}
          delegate: Rectangle {
            id: row
            required property var model
            required property int index
            objectName: "clusterRow_" + model.nodeId
            width: ListView.view.width
            height: Theme.rowHeight
            color: model.isSelf ? Theme.accentSoft : index % 2 ? Theme.surfaceAlt : Theme.surface
            RowLayout {
              anchors.fill: parent
              anchors.leftMargin: Theme.padding
              anchors.rightMargin: Theme.padding
              spacing: Theme.spacing
              Label {
                objectName: "nodeId"
                text: row.model.nodeId + (row.model.isSelf ? qsTr(" (this node)") : "")
                font.bold: true
                elide: Text.ElideRight
                Layout.preferredWidth: 130
              }
              Label { objectName: "version"; text: row.model.version; elide: Text.ElideRight; Layout.preferredWidth: 170 }
              Label { objectName: "lastSeen"; text: row.model.lastSeen; Layout.preferredWidth: 100 }
              Item {
                Layout.preferredWidth: 100
                implicitHeight: chip.implicitHeight
                StateChip {
                  id: chip
                  objectName: "health"
                  text: row.model.healthy ? qsTr("healthy") : qsTr("unhealthy")
                  tone: row.model.healthy ? Theme.Tone.Good : Theme.Tone.Bad
                  anchors.verticalCenter: parent.verticalCenter
                }
                HoverHandler { id: hover }
                ToolTip.visible: hover.hovered && row.model.reason.length > 0
                ToolTip.text: row.model.reason
              }
              Label { objectName: "lag"; text: Theme.number(row.model.lagMessages); Layout.preferredWidth: 70 }
              Label { text: Number(row.model.lagSeconds).toFixed(1); Layout.preferredWidth: 60 }
              Label {
                objectName: "schemaHash"
                text: row.model.schemaHash ? row.model.schemaHash.substring(0, 16) + "…" : "–"
                font.family: "monospace"
                font.bold: row.model.schemaMismatch
                color: row.model.schemaMismatch ? Theme.bad : Theme.text
                elide: Text.ElideRight
                Layout.preferredWidth: 200
              }
              Label { text: row.model.shardStates; elide: Text.ElideRight; color: Theme.textMuted; Layout.fillWidth: true }
            }
          }
          EmptyState {
            anchors.centerIn: parent
            visible: list.count === 0
            title: qsTr("No status records yet")
            message: qsTr("Every node publishes a status record every 2 seconds; the nodes appear here as they are heard.")
          }
        }
      }
    }
  }
}
