// Shards: one row per shard (stream, received and applied sequences, lag in messages and
// seconds, apply rate, state) with pause/resume per shard, and the lag over time.
pragma ComponentBehavior: Bound  // delegates use the page's ids
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components
import HarmonyLite.Charts

Item {
  id: page
  objectName: "shardsPage"
  required property DashboardController controller  // from Main.qml or the test
  // The table's least width: every column at its width, the filling one at 160.
  readonly property int tableWidth: columns.reduce((w, c) => w + (c[1] > 0 ? c[1] : 160) + Theme.spacing, 2 * Theme.padding)
  readonly property var columns: [[qsTr("Shard"), 60], [qsTr("Stream"), -1], [qsTr("Received"), 100],
                                  [qsTr("Applied"), 100], [qsTr("Lag"), 80], [qsTr("Lag (s)"), 70],
                                  [qsTr("Rate"), 90], [qsTr("State"), 120], ["", 96]]

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Shards")
      subtitle: qsTr("%1 streams · %2 messages behind").arg(page.controller.shards.count).arg(Theme.number(page.controller.summary.lagMessages))
      Layout.fillWidth: true
      Button {
        objectName: "pauseAllButton"
        Accessible.name: qsTr("Pause applying on every shard")
        Accessible.description: qsTr("Stops applying changes from other nodes; they wait in the streams")
        text: qsTr("Pause all")
        enabled: page.controller.shards.count > 0
        onClicked: page.controller.pauseApplying(0)
      }
      Button {
        objectName: "resumeAllButton"
        Accessible.name: qsTr("Resume applying on every shard")
        Accessible.description: qsTr("Applies the waiting changes again")
        text: qsTr("Resume all")
        enabled: page.controller.summary.pausedShards > 0
        onClicked: page.controller.resumeApplying(0)
      }
    }

    Rectangle {
      color: Theme.surface
      radius: Theme.radius
      border.color: Theme.border
      Layout.fillWidth: true
      Layout.fillHeight: true
      Layout.minimumHeight: 160
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
            objectName: "shardList"
            model: page.controller.shards
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            keyNavigationEnabled: true
            focus: true
            ScrollBar.vertical: ScrollBar {}
            delegate: Rectangle {
              id: row
              required property var model
              required property int index
              objectName: "shardRow_" + model.shard
              width: ListView.view.width
              height: Theme.rowHeight
              color: ListView.isCurrentItem && list.activeFocus ? Theme.accentSoft : index % 2 ? Theme.surfaceAlt : Theme.surface
              readonly property int shardState: model.state  // Hl.ShardState
              readonly property bool paused: shardState === Hl.ShardState.Paused
              RowLayout {
                anchors.fill: parent
                anchors.leftMargin: Theme.padding
                anchors.rightMargin: Theme.padding
                spacing: Theme.spacing
                Label { objectName: "shard"; text: row.model.shard; font.bold: true; Layout.preferredWidth: 60 }
                Label { text: row.model.stream; elide: Text.ElideRight; Layout.fillWidth: true }
                Label { objectName: "received"; text: Theme.number(row.model.received); Layout.preferredWidth: 100 }
                Label { objectName: "applied"; text: Theme.number(row.model.applied); Layout.preferredWidth: 100 }
                Label {
                  objectName: "lag"
                  text: Theme.number(row.model.lagMessages)
                  color: row.model.lagMessages > 0 ? Theme.warn : Theme.text
                  Layout.preferredWidth: 80
                }
                Label { text: Number(row.model.lagSeconds).toFixed(1); Layout.preferredWidth: 70 }
                Label { objectName: "rate"; text: Theme.rate(row.model.rate); Layout.preferredWidth: 90 }
                Item {
                  Layout.preferredWidth: 120
                  implicitHeight: chip.implicitHeight
                  StateChip {
                    id: chip
                    objectName: "state"
                    text: row.model.stateText
                    tone: Theme.shardTone(row.shardState)
                    anchors.verticalCenter: parent.verticalCenter
                  }
                  HoverHandler { id: hover }
                  ToolTip.visible: hover.hovered && row.model.lastError.length > 0
                  ToolTip.text: row.model.lastError
                }
                Button {
                  objectName: "toggleButton"
                  Accessible.name: (row.paused ? qsTr("Resume applying shard %1") : qsTr("Pause applying shard %1")).arg(row.model.shard)
                  Accessible.description: qsTr("Stops or restarts applying this shard's changes")
                  text: row.paused ? qsTr("Resume") : qsTr("Pause")
                  enabled: row.shardState === Hl.ShardState.Running || row.paused
                  Layout.preferredWidth: 96
                  onClicked: row.paused ? page.controller.resumeApplying(row.model.shard) : page.controller.pauseApplying(row.model.shard)
                }
              }
            }
            EmptyState {
              anchors.centerIn: parent
              visible: list.count === 0
              title: qsTr("No shards yet")
              message: page.controller.engineState === DashboardController.EngineState.Running
                       ? qsTr("Replication is off on this node (replicate = false), so no shard is consumed.")
                       : qsTr("The shards appear once the node has connected to NATS.")
            }
          }
        }
      }
    }

    Card {
      title: qsTr("Lag over time (messages)")
      Layout.fillWidth: true
      Layout.preferredHeight: 280
      headerItems: RangeChoice { id: lagRange; objectName: "lagRange" }
      LagChart {
        objectName: "lagChart"
        controller: page.controller
        range: lagRange.range
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
    }
  }
}
