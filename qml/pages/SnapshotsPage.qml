// Snapshots: the store this node keeps its snapshots in, who holds the snapshot lease and when
// the next timed snapshot is due, the operation under way with its progress, and the catalogue,
// newest first: when each snapshot was taken and by which node, its size, the stream position
// it covers per shard, its schema hash (flagged when it differs from this node's), checksum and
// last restore drill; "unknown" where the snapshot does not say (a Go node's carries nothing).
// Save now, Verify (a restore drill into a temporary file) and Restore, which replaces the live
// database and so asks first (docs/dashboard.md#snapshots-page).
pragma ComponentBehavior: Bound  // delegates use the page's ids
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components

Item {
  id: page
  objectName: "snapshotsPage"
  required property DashboardController controller  // from Main.qml or the test
  readonly property snapshotSummary s: page.controller.snapshotSummary
  // A narrow window drops the checksum column and puts the header's figures in two columns.
  readonly property bool wide: width >= 1000
  // Column widths: wide, narrow (the watermark takes the rest).
  readonly property var w: wide ? {"time": 150, "node": 70, "size": 80, "schema": 120, "verified": 160, "badges": 100}
                                : {"time": 132, "node": 50, "size": 64, "schema": 90, "verified": 120, "badges": 90}
  readonly property var columns: wide
      ? [[qsTr("Taken at"), w.time], [qsTr("By node"), w.node], [qsTr("Size"), w.size], [qsTr("Watermark"), -1],
         [qsTr("Schema"), w.schema], [qsTr("Checksum"), 110], [qsTr("Last verified"), w.verified], ["", w.badges]]
      : [[qsTr("Taken at"), w.time], [qsTr("Node"), w.node], [qsTr("Size"), w.size], [qsTr("Watermark"), -1],
         [qsTr("Schema"), w.schema], [qsTr("Last verified"), w.verified], ["", w.badges]]
  // The selected snapshot, by id, so that it stays selected while the list changes; "" = none.
  property string selectedId: ""
  // Its roles by name ({} when it is gone); read again with every status.
  readonly property var selected: page.s.valid && page.selectedId.length > 0
                                  ? page.controller.snapshots.entry(page.selectedId) : ({})
  readonly property bool hasSelection: page.selected.id !== undefined
  readonly property bool idle: page.s.valid && page.s.enabled && !page.s.busy && !page.s.restoreUnderWay

  // What is being done, for the progress panel: "Saving 20261130T150102123Z-n1".
  function activityTitle(): string {
    let word = qsTr("Working on")
    switch (page.s.activity) {
    case Hl.SnapshotActivity.Saving: word = qsTr("Saving"); break
    case Hl.SnapshotActivity.Uploading: word = qsTr("Uploading"); break
    case Hl.SnapshotActivity.Downloading: word = qsTr("Downloading"); break
    case Hl.SnapshotActivity.Verifying: word = qsTr("Verifying"); break
    case Hl.SnapshotActivity.Restoring: word = qsTr("Restoring"); break
    }
    return page.s.activityTarget.length > 0 ? word + " " + page.s.activityTarget : word
  }

  // Restore asks first, naming what it replaces; a schema that differs from this node's can be
  // forced through only from here.
  function askRestore() {
    const e = page.selected
    const id = e.id
    const taken = e.takenAt === "unknown" ? qsTr("at an unknown time") : e.takenAt
    const by = e.nodeId === "unknown" ? (e.foreign ? qsTr("another program (a Go node)") : qsTr("an unknown node"))
                                      : qsTr("node %1").arg(e.nodeId)
    const then = e.watermark === "unknown"
        ? qsTr("then the node applies everything the streams still hold (the snapshot carries no stream positions).")
        : qsTr("then the node applies the messages the streams hold after the snapshot's positions (%1).").arg(e.watermark)
    let message = qsTr("Replace the live database %1 with snapshot %2 taken %3 by %4? Local changes not yet published are sent first "
                       + "(the restore is refused if they cannot be); %5 The node does not replicate until the restore is done.")
                  .arg(page.controller.summary.dbPath || page.controller.dbPath).arg(id).arg(taken).arg(by).arg(then)
    if (e.schemaMismatch)
      message += " " + qsTr("Its schema (%1…) differs from this node's (%2…): the engine refuses it unless forced.")
                       .arg(e.schemaHashShort).arg(page.controller.summary.schemaHash.substring(0, 12))
    confirm.force = false
    confirm.offerForce = e.schemaMismatch
    confirm.ask(qsTr("Restore snapshot %1?").arg(id), message,
                () => page.controller.restoreSnapshot(id, confirm.offerForce && confirm.force))
  }

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Snapshots")
      subtitle: !page.s.valid ? "" : !page.s.enabled ? qsTr("snapshots are off on this node")
                : qsTr("%1 · %2 in the catalogue").arg(page.s.store).arg(page.s.count)
      Layout.fillWidth: true
      Button {
        objectName: "saveButton"
        text: qsTr("Save now")
        enabled: page.idle
        Accessible.name: qsTr("Save a snapshot now")
        Accessible.description: qsTr("Uploads a copy of this node's database to the snapshot store")
        ToolTip.visible: hovered
        ToolTip.text: qsTr("Take a snapshot of this node's database now and upload it")
        onClicked: page.controller.saveSnapshot()
      }
      Button {
        objectName: "verifyButton"
        text: qsTr("Verify")
        enabled: page.idle && page.hasSelection
        Accessible.name: qsTr("Verify the selected snapshot")
        Accessible.description: qsTr("Restores it into a temporary file and checks it; the live database is not touched")
        ToolTip.visible: hovered
        ToolTip.text: qsTr("Restore the selected snapshot into a temporary file and check it; the live database is not touched")
        onClicked: page.controller.verifySnapshot(page.selectedId)
      }
      Button {
        objectName: "restoreButton"
        text: qsTr("Restore…")
        enabled: page.idle && page.hasSelection
        Accessible.name: qsTr("Restore the selected snapshot into the live database")
        Accessible.description: qsTr("Replaces the live database with the snapshot, after a confirmation")
        onClicked: page.askRestore()
      }
      Button {
        objectName: "refreshButton"
        text: qsTr("Refresh")
        enabled: page.s.valid && page.s.enabled
        Accessible.name: qsTr("Read the snapshot catalogue again")
        Accessible.description: qsTr("Reads the list of snapshots from the store")
        onClicked: page.controller.refreshSnapshots()
      }
    }

    // Store, lease, schedule; the last error in red.
    Card {
      objectName: "storeCard"
      title: qsTr("Store")
      visible: page.s.valid && page.s.enabled
      Layout.fillWidth: true
      GridLayout {
        columns: page.wide ? 4 : 2
        columnSpacing: Theme.spacing
        rowSpacing: 4
        Layout.fillWidth: true
        Label { text: qsTr("Store"); color: Theme.textMuted }
        CopyableLabel { objectName: "storeText"; text: page.s.store || "–"; Layout.fillWidth: true }
        Label { text: qsTr("Leader"); color: Theme.textMuted }
        Label {
          objectName: "leaderText"
          text: page.s.leader
          font.bold: page.s.isLeader
          elide: Text.ElideRight
          Layout.fillWidth: true
        }
        Label { text: qsTr("Next scheduled"); color: Theme.textMuted }
        Label { objectName: "nextScheduledText"; text: page.s.nextScheduled; elide: Text.ElideRight; Layout.fillWidth: true }
        Label { text: qsTr("Last saved here"); color: Theme.textMuted }
        Label { objectName: "lastSavedText"; text: page.s.lastSaved; Layout.fillWidth: true }
      }
      Label {
        objectName: "lastErrorText"
        visible: text.length > 0
        text: page.s.lastError.length > 0 ? qsTr("Last error: %1").arg(page.s.lastError)
            : page.s.catalogError.length > 0 ? qsTr("The catalogue could not be read: %1").arg(page.s.catalogError) : ""
        color: Theme.bad
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
    }

    // The operation under way.
    Rectangle {
      objectName: "progressPanel"
      visible: page.s.valid && page.s.busy
      color: Theme.accentSoft
      radius: Theme.radius
      Layout.fillWidth: true
      implicitHeight: progressCol.implicitHeight + 2 * Theme.padding
      ColumnLayout {
        id: progressCol
        anchors.fill: parent
        anchors.margins: Theme.padding
        spacing: 6
        Label {
          objectName: "progressTitle"
          text: page.activityTitle()
          font.bold: true
          color: Theme.accent
          elide: Text.ElideMiddle
          Layout.fillWidth: true
        }
        ProgressBar {
          objectName: "progressBar"
          from: 0
          to: 100
          value: Math.max(0, page.s.percent)
          indeterminate: page.s.percent < 0
          Accessible.name: qsTr("Snapshot progress")
          Layout.fillWidth: true
        }
        Label { objectName: "progressText"; text: page.s.progress; color: Theme.text; Layout.fillWidth: true }
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

      ColumnLayout {
        anchors.fill: parent
        anchors.margins: 1
        spacing: 0
        visible: page.s.enabled
        TableHeader { columns: page.columns; Layout.fillWidth: true }
        ListView {
          id: list
          objectName: "snapshotList"
          model: page.controller.snapshots
          Layout.fillWidth: true
          Layout.fillHeight: true
          clip: true
          keyNavigationEnabled: true
          Accessible.role: Accessible.List
          Accessible.name: qsTr("Snapshot catalogue")
          ScrollBar.vertical: ScrollBar {}
          delegate: Rectangle {
            id: row
            required property var model
            required property int index
            objectName: "snapshotRow_" + index
            readonly property bool selected: model.id === page.selectedId
            width: ListView.view.width
            height: Theme.rowHeight
            color: selected ? Theme.accentSoft : index % 2 ? Theme.surfaceAlt : Theme.surface
            Accessible.role: Accessible.ListItem
            Accessible.name: qsTr("Snapshot %1, taken %2 by node %3").arg(row.model.id).arg(row.model.takenAt).arg(row.model.nodeId)
            Accessible.selected: selected
            ListView.onIsCurrentItemChanged: if (ListView.isCurrentItem && list.activeFocus) page.selectedId = row.model.id
            TapHandler {
              onTapped: {
                page.selectedId = row.model.id
                list.currentIndex = row.index
              }
            }
            RowLayout {
              anchors.fill: parent
              anchors.leftMargin: Theme.padding
              anchors.rightMargin: Theme.padding
              spacing: Theme.spacing
              Label { objectName: "takenAt"; text: row.model.takenAt; elide: Text.ElideRight; Layout.preferredWidth: page.w.time }
              Label { objectName: "takenBy"; text: row.model.nodeId; Layout.preferredWidth: page.w.node }
              Label { objectName: "size"; text: row.model.size; Layout.preferredWidth: page.w.size }
              Label {
                objectName: "watermark"
                text: row.model.watermark
                font.family: "monospace"
                elide: Text.ElideRight
                Layout.fillWidth: true
              }
              Label {
                objectName: "schemaHash"
                // 12 characters, 8 in a narrow window; "≠": differs from this node's.
                text: (page.wide ? row.model.schemaHashShort : row.model.schemaHashShort.substring(0, 8))
                      + (row.model.schemaMismatch ? " ≠" : "")
                font.family: "monospace"
                font.bold: row.model.schemaMismatch
                color: row.model.schemaMismatch ? Theme.bad : Theme.text
                elide: Text.ElideRight
                Layout.preferredWidth: page.w.schema
                HoverHandler { id: schemaHover }
                ToolTip.visible: schemaHover.hovered && row.model.schemaHash.length > 0
                ToolTip.text: row.model.schemaMismatch ? qsTr("%1 (differs from this node's schema)").arg(row.model.schemaHash) : row.model.schemaHash
              }
              Label {
                objectName: "sha256"
                visible: page.wide
                text: row.model.sha256Short
                font.family: "monospace"
                elide: Text.ElideRight
                Layout.preferredWidth: 110
                HoverHandler { id: shaHover }
                ToolTip.visible: shaHover.hovered && row.model.sha256.length > 0
                ToolTip.text: "sha256 " + row.model.sha256
              }
              Label {
                objectName: "verified"
                text: row.model.verified
                color: row.model.verifyFailed ? Theme.bad : row.model.verifiedOk ? Theme.good : Theme.textMuted
                elide: Text.ElideRight
                Layout.preferredWidth: page.w.verified
                HoverHandler { id: verifiedHover }
                ToolTip.visible: verifiedHover.hovered && row.model.verifyFailed
                ToolTip.text: row.model.verified
              }
              Row {
                spacing: 4
                Layout.preferredWidth: page.w.badges
                StateChip {
                  objectName: "latestBadge"
                  visible: row.model.latest
                  text: qsTr("latest")
                  tone: Theme.Tone.Good
                }
                StateChip {
                  objectName: "foreignBadge"
                  visible: row.model.foreign
                  text: qsTr("Go")
                  tone: Theme.Tone.Warn
                }
              }
            }
          }
        }
      }
      EmptyState {
        objectName: "emptyState"
        anchors.centerIn: parent
        width: Math.min(parent.width - 2 * Theme.padding, 520)
        visible: !page.s.enabled || list.count === 0
        title: !page.s.valid ? qsTr("No snapshot status yet")
             : !page.s.enabled ? qsTr("Snapshots are off")
             : qsTr("No snapshots yet")
        message: !page.s.valid ? qsTr("The catalogue shows once the node runs.")
               : !page.s.enabled ? qsTr("[snapshot] enabled = false in this node's configuration: no snapshot is saved, listed or restored here.")
               : page.s.catalogError.length > 0 ? qsTr("The catalogue could not be read: %1").arg(page.s.catalogError)
               : qsTr("The store holds no snapshot. Save now takes one; with [snapshot] interval set, the leader takes one on schedule.")
      }
    }
  }

  ConfirmDialog {
    id: confirm
    objectName: "confirmDialog"
    // The force option shows only for a snapshot whose schema differs from this node's.
    property bool offerForce: false
    property bool force: false
    width: Math.min(520, page.width)
    contentItem: ColumnLayout {
      spacing: Theme.spacing
      Label {
        objectName: "confirmMessage"
        text: confirm.message
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
      // No ids in here: contentItem is a deferred property.
      CheckBox {
        objectName: "forceSchemaBox"
        visible: confirm.offerForce
        checked: confirm.force
        onToggled: confirm.force = checked
        text: qsTr("Force the schema mismatch through")
        Accessible.name: qsTr("Restore even though the snapshot's schema differs from this node's")
        Accessible.description: qsTr("Only when the schema difference is intended")
      }
    }
  }
}
