// Schema: this node's schema (its hash, the one before, the watched tables, whether the nodes of
// the schema registry agree with it), the shards paused on a change from a schema this node lacks
// with the step that resumes them, every node of the registry grouped by hash (the majority and
// this node marked), and what differs between this node's tables and another node's
// (docs/dashboard.md#schema-page).
pragma ComponentBehavior: Bound  // delegates use the page's ids
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components

ScrollView {
  id: page
  objectName: "schemaPage"
  required property DashboardController controller  // from Main.qml or the test
  readonly property nodeSummary s: page.controller.summary
  readonly property SchemaNodeModel nodes: page.controller.schemaNodes
  readonly property SchemaDiffModel diff: page.controller.schemaDiff
  readonly property SchemaPauseModel pauses: page.controller.schemaPauses
  readonly property var pauseColumns: [[qsTr("Shard"), 50], [qsTr("Waits for schema"), 120], [qsTr("From node"), 80],
                                       [qsTr("Table"), 110], [qsTr("What this node lacks"), -1], [qsTr("Waiting"), 80],
                                       [qsTr("Paused"), 90], [qsTr("Redelivered"), 90]]
  readonly property var nodeColumns: [[qsTr("Node"), 150], [qsTr("Version"), 150], [qsTr("Updated"), 130],
                                      [qsTr("Columns"), -1], [qsTr("Previous hash"), 130], ["", 90]]
  readonly property var diffColumns: [[qsTr("Table"), 140], [qsTr("Column"), 140], [qsTr("Difference"), 170],
                                      [qsTr("This node"), 280],
                                      [page.diff.nodeId ? qsTr("Node %1").arg(page.diff.nodeId) : qsTr("Other node"), -1]]
  contentWidth: availableWidth
  clip: true

  ColumnLayout {
    width: page.availableWidth
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Schema")
      subtitle: !page.s.valid ? ""
              : page.nodes.groups > 1 ? qsTr("%1 nodes · %2 schemas").arg(page.nodes.count).arg(page.nodes.groups)
              : qsTr("%1 nodes · one schema").arg(page.nodes.count)
      Layout.fillWidth: true
    }

    // (a) This node.
    Card {
      objectName: "schemaSelfCard"
      title: qsTr("This node")
      Layout.fillWidth: true
      headerItems: StateChip {
        objectName: "agreementChip"
        visible: page.s.valid
        text: page.s.schemaAgreement ? qsTr("all nodes agree") : qsTr("%1 nodes differ").arg(page.nodes.differing)
        tone: page.s.schemaAgreement ? Theme.Tone.Good : Theme.Tone.Warn
      }
      GridLayout {
        columns: 4
        columnSpacing: Theme.spacing
        rowSpacing: 4
        Layout.fillWidth: true
        Label { text: qsTr("Schema hash"); color: Theme.textMuted }
        CopyableLabel {
          objectName: "selfHash"
          text: page.s.schemaHash || "–"
          font.family: "monospace"
          elide: Text.ElideMiddle
          Layout.fillWidth: true
          Layout.preferredWidth: 1
        }
        Label { text: qsTr("Watched tables"); color: Theme.textMuted }
        Label { objectName: "watchedTables"; text: page.s.valid ? page.s.tablesTracked : "–"; Layout.fillWidth: true; Layout.preferredWidth: 1 }
        Label { text: qsTr("Previous hash"); color: Theme.textMuted }
        CopyableLabel {
          objectName: "selfPreviousHash"
          text: page.s.previousSchemaHash || qsTr("none")
          font.family: "monospace"
          elide: Text.ElideMiddle
          Layout.fillWidth: true
          Layout.preferredWidth: 1
        }
        Label { text: qsTr("Changes"); color: Theme.textMuted }
        Label {
          objectName: "schemaChanges"
          text: page.s.schemaChanges > 0 ? qsTr("%1 since start, the last %2").arg(Theme.number(page.s.schemaChanges)).arg(page.s.schemaLastChange)
                                         : qsTr("none since start")
          elide: Text.ElideRight
          Layout.fillWidth: true
          Layout.preferredWidth: 1
        }
        Label { text: qsTr("Agreement"); color: Theme.textMuted }
        Label {
          objectName: "agreementText"
          text: !page.s.valid ? "–"
              : page.s.schemaAgreement ? qsTr("every node of the registry runs this schema")
              : qsTr("%1 of %2 nodes run another schema").arg(page.nodes.differing).arg(page.nodes.count)
          color: page.s.valid && !page.s.schemaAgreement ? Theme.warn : Theme.text
          elide: Text.ElideRight
          Layout.fillWidth: true
          Layout.preferredWidth: 1
        }
        Label { text: qsTr("Registry read"); color: Theme.textMuted }
        Label { objectName: "registryRead"; text: page.s.schemaRegistryRead || "–"; Layout.fillWidth: true; Layout.preferredWidth: 1 }
      }
      Label {
        objectName: "keylessWarning"
        visible: page.s.schemaKeyless.length > 0
        text: page.s.schemaKeyless
        color: Theme.warn
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
      Label {
        objectName: "registryError"
        visible: page.s.schemaRegistryError.length > 0
        text: qsTr("The schema registry could not be read or written: %1").arg(page.s.schemaRegistryError)
        color: Theme.bad
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
    }

    // (d) Shards waiting for a schema this node lacks: what they wait for, and how to resume them.
    Card {
      objectName: "schemaPausesCard"
      title: qsTr("Shards waiting for a schema change")
      Layout.fillWidth: true
      headerItems: StateChip {
        objectName: "pausedCount"
        text: page.pauses.count > 0 ? qsTr("%1 paused").arg(page.pauses.count) : qsTr("none")
        tone: page.pauses.count > 0 ? Theme.Tone.Warn : Theme.Tone.Good
      }
      Label {
        objectName: "resumeStep"
        visible: page.pauses.count > 0
        text: qsTr("Each shard stopped at a change that uses a table or column this node does not have; the changes behind it "
                   + "wait in the stream, nothing is lost. To resume: apply the same schema change on this node (the same "
                   + "ALTER TABLE or CREATE TABLE the sending node ran). The shards resume by themselves once this node's "
                   + "schema has what they wait for.")
        wrapMode: Text.WordWrap
        color: Theme.warn
        Layout.fillWidth: true
      }
      ColumnLayout {
        visible: page.pauses.count > 0
        spacing: 0
        Layout.fillWidth: true
        TableHeader { columns: page.pauseColumns; Layout.fillWidth: true }
        Repeater {
          model: page.pauses
          Rectangle {
            id: pauseRow
            required property var model
            required property int index
            objectName: "pausedShard_" + model.shard
            color: index % 2 ? Theme.surfaceAlt : Theme.surface
            implicitHeight: Theme.rowHeight
            Layout.fillWidth: true
            RowLayout {
              anchors.fill: parent
              anchors.leftMargin: Theme.padding
              anchors.rightMargin: Theme.padding
              spacing: Theme.spacing
              Label { objectName: "shard"; text: pauseRow.model.shard; font.bold: true; Layout.preferredWidth: 50 }
              Label {
                objectName: "waitingFor"
                text: pauseRow.model.waitingForHashShort
                font.family: "monospace"
                color: Theme.warn
                elide: Text.ElideRight
                Layout.preferredWidth: 120
                HoverHandler { id: hashHover }
                ToolTip.visible: hashHover.hovered && pauseRow.model.waitingForHash.length > 0
                ToolTip.text: pauseRow.model.waitingForHash
              }
              Label { objectName: "fromNode"; text: pauseRow.model.waitingFromNode; Layout.preferredWidth: 80 }
              Label { objectName: "table"; text: pauseRow.model.waitingTable; elide: Text.ElideRight; Layout.preferredWidth: 110 }
              Label {
                objectName: "reason"
                text: pauseRow.model.waitingReason || qsTr("not given")
                elide: Text.ElideRight
                Layout.fillWidth: true
                HoverHandler { id: reasonHover }
                ToolTip.visible: reasonHover.hovered && pauseRow.model.waitingReason.length > 0
                ToolTip.text: qsTr("%1 (stream sequence %2)").arg(pauseRow.model.waitingReason).arg(pauseRow.model.waitingSeq)
              }
              Label { objectName: "waiting"; text: qsTr("%1 msgs").arg(Theme.number(pauseRow.model.waitingMessages)); Layout.preferredWidth: 80 }
              Label { objectName: "since"; text: pauseRow.model.since; Layout.preferredWidth: 90 }
              Label { objectName: "redeliveries"; text: Theme.number(pauseRow.model.redeliveries); Layout.preferredWidth: 90 }
            }
          }
        }
      }
      Label {
        objectName: "pausesEmpty"
        visible: page.pauses.count === 0
        text: qsTr("No shard is waiting: every change received so far fits this node's schema.")
        color: Theme.textMuted
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
    }

    // (b) Every node of the registry, grouped by schema hash.
    Card {
      objectName: "schemaNodesCard"
      title: qsTr("Nodes by schema")
      Layout.fillWidth: true
      ColumnLayout {
        visible: page.nodes.count > 0
        spacing: 0
        Layout.fillWidth: true
        TableHeader { columns: page.nodeColumns; Layout.fillWidth: true }
        Repeater {
          model: page.nodes
          ColumnLayout {
            id: nodeRow
            required property var model
            required property int index
            objectName: "schemaNode_" + model.nodeId
            spacing: 0
            Layout.fillWidth: true
            // The group's title, above its first node.
            Rectangle {
              objectName: nodeRow.model.groupStart ? "schemaGroup_" + nodeRow.model.group : ""
              visible: nodeRow.model.groupStart
              color: nodeRow.model.matchesSelf ? Theme.accentSoft : nodeRow.model.schemaHash ? Theme.warnSoft : Theme.surfaceAlt
              implicitHeight: Theme.rowHeight
              Layout.fillWidth: true
              Layout.topMargin: nodeRow.index > 0 ? 6 : 0
              RowLayout {
                anchors.fill: parent
                anchors.leftMargin: Theme.padding
                anchors.rightMargin: Theme.padding
                spacing: 8
                Label {
                  objectName: "groupTitle"
                  text: nodeRow.model.schemaHash ? qsTr("Schema %1").arg(nodeRow.model.schemaHashShort) : qsTr("Unknown schema")
                  font.family: "monospace"
                  font.bold: true
                  color: nodeRow.model.matchesSelf || !nodeRow.model.schemaHash ? Theme.text : Theme.warn
                  HoverHandler { id: groupHover }
                  ToolTip.visible: groupHover.hovered && nodeRow.model.schemaHash.length > 0
                  ToolTip.text: nodeRow.model.schemaHash
                }
                Label {
                  objectName: "groupSize"
                  text: nodeRow.model.groupSize === 1 ? qsTr("1 node") : qsTr("%1 nodes").arg(nodeRow.model.groupSize)
                  color: Theme.textMuted
                }
                StateChip {
                  objectName: "majorityMark"
                  visible: nodeRow.model.isMajority
                  text: qsTr("majority")
                  tone: Theme.Tone.Good
                }
                StateChip {
                  objectName: "selfMark"
                  visible: nodeRow.model.matchesSelf
                  text: qsTr("this node's schema")
                  tone: Theme.Tone.Neutral
                }
                StateChip {
                  objectName: "differsMark"
                  visible: !nodeRow.model.matchesSelf && nodeRow.model.schemaHash.length > 0
                  text: qsTr("differs from this node")
                  tone: Theme.Tone.Warn
                }
                Item { Layout.fillWidth: true }
              }
            }
            Rectangle {
              color: nodeRow.model.isSelf ? Theme.accentSoft : Theme.surface
              implicitHeight: Theme.rowHeight
              Layout.fillWidth: true
              RowLayout {
                anchors.fill: parent
                anchors.leftMargin: Theme.padding
                anchors.rightMargin: Theme.padding
                spacing: Theme.spacing
                Label {
                  objectName: "nodeId"
                  text: nodeRow.model.nodeId + (nodeRow.model.isSelf ? qsTr(" (this node)") : "")
                  font.bold: nodeRow.model.isSelf
                  elide: Text.ElideRight
                  Layout.preferredWidth: 150
                }
                Label { objectName: "version"; text: nodeRow.model.version; elide: Text.ElideRight; Layout.preferredWidth: 150 }
                Label { objectName: "updatedAt"; text: nodeRow.model.updatedAt; elide: Text.ElideRight; Layout.preferredWidth: 130 }
                Label {
                  objectName: "tables"
                  text: nodeRow.model.tables
                  color: nodeRow.model.hasTables ? Theme.text : Theme.textMuted
                  elide: Text.ElideRight
                  Layout.fillWidth: true
                }
                Label {
                  objectName: "previousHash"
                  text: nodeRow.model.previousHashShort
                  font.family: "monospace"
                  color: Theme.textMuted
                  elide: Text.ElideRight
                  Layout.preferredWidth: 130
                }
                Button {
                  objectName: "compareButton"
                  readonly property bool compared: page.diff.nodeId === nodeRow.model.nodeId
                  text: compared ? qsTr("Compared") : qsTr("Compare")
                  visible: !nodeRow.model.isSelf
                  enabled: !compared
                  flat: true
                  Accessible.name: qsTr("Compare this node's schema with node %1").arg(nodeRow.model.nodeId)
                  Accessible.description: qsTr("Shows the differences between the two schemas")
                  Layout.preferredWidth: 90
                  onClicked: page.controller.compareSchemaWith(nodeRow.model.nodeId)
                }
                Item { visible: nodeRow.model.isSelf; Layout.preferredWidth: 90 }
              }
            }
          }
        }
      }
      EmptyState {
        objectName: "nodesEmpty"
        visible: page.nodes.count === 0
        title: qsTr("No schema registry entry yet")
        message: qsTr("Every node writes its schema into the registry (harmonylite-schema-registry) when it starts and when its schema changes.")
        Layout.fillWidth: true
      }
    }

    // (c) What differs between this node's tables and another node's.
    Card {
      objectName: "schemaDiffCard"
      title: qsTr("Compare with")
      Layout.fillWidth: true
      headerItems: ComboBox {
        id: chooser
        objectName: "compareChooser"
        readonly property var ids: page.nodes.otherNodeIds
        model: chooser.ids.map(id => qsTr("node %1").arg(id))
        enabled: chooser.ids.length > 0
        currentIndex: chooser.ids.indexOf(page.diff.nodeId)
        displayText: currentIndex >= 0 ? currentText : qsTr("no other node")
        implicitWidth: 170
        Accessible.name: qsTr("The node whose schema is compared with this node's")
        Accessible.description: qsTr("The differences listed are against this node")
        onActivated: index => page.controller.compareSchemaWith(chooser.ids[index])
      }
      ColumnLayout {
        visible: page.diff.count > 0
        spacing: 0
        Layout.fillWidth: true
        TableHeader { columns: page.diffColumns; Layout.fillWidth: true }
        Repeater {
          model: page.diff
          Rectangle {
            id: diffRow
            required property var model
            required property int index
            objectName: "diffRow_" + index
            color: index % 2 ? Theme.surfaceAlt : Theme.surface
            implicitHeight: Theme.rowHeight
            Layout.fillWidth: true
            RowLayout {
              anchors.fill: parent
              anchors.leftMargin: Theme.padding
              anchors.rightMargin: Theme.padding
              spacing: Theme.spacing
              Label { objectName: "table"; text: diffRow.model.table; font.bold: true; elide: Text.ElideRight; Layout.preferredWidth: 140 }
              Label {
                objectName: "column"
                text: diffRow.model.column || qsTr("(whole table)")
                color: diffRow.model.column ? Theme.text : Theme.textMuted
                elide: Text.ElideRight
                Layout.preferredWidth: 140
              }
              Label {
                objectName: "kind"
                text: diffRow.model.kind
                color: diffRow.model.missingHere ? Theme.bad : Theme.warn
                font.bold: diffRow.model.missingHere
                elide: Text.ElideRight
                Layout.preferredWidth: 170
              }
              Label { objectName: "here"; text: diffRow.model.here; font.family: "monospace"; elide: Text.ElideRight; Layout.preferredWidth: 280 }
              Label { objectName: "there"; text: diffRow.model.there; font.family: "monospace"; elide: Text.ElideRight; Layout.fillWidth: true }
            }
          }
        }
      }
      Label {
        objectName: "diffEmpty"
        visible: page.diff.count === 0
        text: page.diff.emptyText
        color: Theme.textMuted
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
    }
  }
}
