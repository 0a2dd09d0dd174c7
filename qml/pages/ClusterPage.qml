// Cluster: every node heard from through the status records, with its version, when it was
// last heard, lag, schema hash (a hash that differs from this node's is highlighted), health,
// and what the last consistency check found for it (Agreement). "Check now" runs the check
// (docs/consistency.md); a table that differs lists its rows with each node's values and offers
// a repair from the node the operator chooses, after a confirmation.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components

Item {
  id: page
  objectName: "clusterPage"
  required property DashboardController controller  // from Main.qml or the test
  // The table's least width: every column at its width, the filling one at 160.
  readonly property int tableWidth: columns.reduce((w, c) => w + (c[1] > 0 ? c[1] : 160) + Theme.spacing, 2 * Theme.padding)
  readonly property var columns: [[qsTr("Node"), 130], [qsTr("Version"), 170], [qsTr("Last seen"), 100],
                                  [qsTr("Health"), 100], [qsTr("Lag"), 70], [qsTr("Lag (s)"), 60],
                                  [qsTr("Schema hash"), 200], [qsTr("Agreement"), 150], [qsTr("Shards"), -1]]
  readonly property var check: controller.consistency

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Cluster")
      readonly property string nodes: page.controller.cluster.count === 1
                                      ? qsTr("1 node") : qsTr("%1 nodes").arg(page.controller.cluster.count)
      id: header
      objectName: "clusterHeader"
      subtitle: page.controller.cluster.mismatches > 0
                ? qsTr("%1 · %2 with a different schema").arg(header.nodes).arg(page.controller.cluster.mismatches)
                : qsTr("%1 · one schema").arg(header.nodes)
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

    // The last consistency check and the button that runs one.
    RowLayout {
      Layout.fillWidth: true
      spacing: Theme.spacing
      Button {
        objectName: "checkNowButton"
        Accessible.name: qsTr("Check consistency now")
        text: page.check.running ? qsTr("Checking…") : qsTr("Check now")
        enabled: !page.check.running
        onClicked: page.controller.checkConsistency()
        Accessible.description: qsTr("Compare every node's tables at the same stream positions")
      }
      StateChip {
        objectName: "consistencyVerdict"
        visible: page.check.verdict.length > 0
        text: page.check.verdict === "agree" ? qsTr("agree")
              : page.check.verdict === "differ" ? qsTr("differ")
              : page.check.verdict === "busy" ? qsTr("not comparable") : qsTr("failed")
        tone: page.check.verdict === "agree" ? Theme.Tone.Good
              : page.check.verdict === "differ" ? Theme.Tone.Warn : Theme.Tone.Neutral
      }
      Label {
        objectName: "consistencySummary"
        text: page.check.summary + (page.check.when ? " · " + page.check.when : "")
              + (page.check.scheduled ? " · " + qsTr("scheduled %1").arg(page.check.scheduled) : "")
        elide: Text.ElideRight
        Layout.fillWidth: true
      }
    }
    Label {
      objectName: "consistencyPositions"
      visible: page.check.positions.length > 0
      text: qsTr("Compared at %1").arg(page.check.positions)
      color: Theme.textMuted
      font.pixelSize: Theme.fontSmall
      elide: Text.ElideRight
      Layout.fillWidth: true
    }

    Rectangle {
      color: Theme.surface
      radius: Theme.radius
      border.color: Theme.border
      Layout.fillWidth: true
      Layout.fillHeight: true
      clip: true

      // Narrower than its columns (a 1024x600 panel): the table scrolls sideways.
      Flickable {
        id: tableScroll
        anchors.fill: parent
        anchors.margins: 1
        contentWidth: Math.max(width, page.tableWidth)
        contentHeight: height
        flickableDirection: Flickable.HorizontalFlick
        boundsBehavior: Flickable.StopAtBounds
        clip: true
        ScrollBar.horizontal: ScrollBar {}
        ColumnLayout {
          width: tableScroll.contentWidth
          height: tableScroll.height
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
                CopyableLabel {
                  objectName: "schemaHash"
                  text: row.model.schemaHash ? row.model.schemaHash.substring(0, 16) + "…" : "–"
                  fullText: row.model.schemaHash
                  font.family: "monospace"
                  font.bold: row.model.schemaMismatch
                  color: row.model.schemaMismatch ? Theme.bad : Theme.text
                  elide: Text.ElideRight
                  Layout.preferredWidth: 200
                }
                Label {
                  objectName: "agreement"
                  text: row.model.agreement || "–"
                  color: row.model.agreement.startsWith("differs") ? Theme.warn : Theme.text
                  font.bold: row.model.agreement.startsWith("differs")
                  elide: Text.ElideRight
                  Layout.preferredWidth: 150
                  HoverHandler { id: agreementHover }
                  ToolTip.visible: agreementHover.hovered && row.model.agreement.length > 0
                  ToolTip.text: row.model.agreement
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

    // The tables of the last check: agree, or the rows that differ with each node's values.
    ScrollView {
      objectName: "consistencyTables"
      visible: page.check.tables.length > 0
      Layout.fillWidth: true
      Layout.preferredHeight: Math.min(tablesColumn.implicitHeight, page.height * 0.45)
      clip: true
      ColumnLayout {
        id: tablesColumn
        width: page.width
        spacing: Theme.spacing / 2
        Repeater {
          model: page.check.tables
          delegate: ColumnLayout {
            id: tableItem
            required property var modelData
            objectName: "consistencyTable_" + modelData.table
            Layout.fillWidth: true
            spacing: 2
            RowLayout {
              spacing: Theme.spacing
              Label { text: tableItem.modelData.table; font.bold: true }
              StateChip {
                text: tableItem.modelData.agree ? qsTr("agree") : qsTr("differs")
                tone: tableItem.modelData.agree ? Theme.Tone.Good : Theme.Tone.Warn
              }
              Label {
                visible: !tableItem.modelData.agree
                text: tableItem.modelData.locateError
                      ? qsTr("rows not located: %1").arg(tableItem.modelData.locateError)
                      : qsTr("%1 row(s)%2").arg(tableItem.modelData.rows.length)
                          .arg(tableItem.modelData.truncated ? qsTr(", more not listed") : "")
                color: Theme.textMuted
              }
            }
            Repeater {
              model: tableItem.modelData.agree ? [] : tableItem.modelData.rows
              delegate: Label {
                required property var modelData
                objectName: "differingRow"
                text: qsTr("row %1\n%2").arg(modelData.key).arg(modelData.values)
                font.family: "monospace"
                font.pixelSize: Theme.fontSmall
                wrapMode: Text.WrapAnywhere
                Layout.fillWidth: true
                Layout.leftMargin: Theme.padding
              }
            }
          }
        }
        RowLayout {
          visible: page.check.verdict === "differ"
          spacing: Theme.spacing
          Label { text: qsTr("Repair from node") }
          ComboBox {
            id: repairNode
            objectName: "repairNode"
            model: page.check.nodes
            Accessible.name: qsTr("Node whose version of the differing rows wins")
            Accessible.description: qsTr("Its version of the differing rows is published again to every node")
          }
          Button {
            objectName: "repairButton"
            Accessible.name: qsTr("Repair from the chosen node")
            Accessible.description: qsTr("Publishes the chosen node's version of the differing rows, after a confirmation")
            text: qsTr("Repair…")
            enabled: !page.check.running && repairNode.currentText.length > 0
            onClicked: confirm.ask(qsTr("Repair from node %1?").arg(repairNode.currentText),
                                   qsTr("Node %1 publishes its version of every differing row again (a delete where it has none). Every other node's version of those rows is overwritten through normal replication.").arg(repairNode.currentText),
                                   () => page.controller.repairConsistency(repairNode.currentText))
          }
        }
        Label {
          objectName: "lastRepair"
          visible: page.check.lastRepair.length > 0
          text: qsTr("Last repair %1").arg(page.check.lastRepair)
          color: Theme.textMuted
          wrapMode: Text.WordWrap
          Layout.fillWidth: true
        }
      }
    }
  }

  ConfirmDialog { id: confirm; objectName: "repairConfirmDialog" }
}
