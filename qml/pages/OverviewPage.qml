// Overview: who this node is, whether it is healthy and why not, NATS and the embedded server,
// publish/apply rates, pending changes, conflicts and dead letters, the newest snapshot's age
// (and the snapshot operation under way), a banner while shards wait for a schema change this
// node lacks, and the node-wide controls.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components
import HarmonyLite.Charts

ScrollView {
  id: page
  objectName: "overviewPage"
  required property DashboardController controller  // from Main.qml or the test
  readonly property nodeSummary s: page.controller.summary
  readonly property snapshotSummary snap: page.controller.snapshotSummary
  readonly property var check: page.controller.consistency  // the last consistency check
  // The schema banner's button: Main.qml shows the Schema page.
  signal openSchemaPage()
  contentWidth: availableWidth
  clip: true

  ColumnLayout {
    width: page.availableWidth
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Overview")
      subtitle: qsTr("Node %1 · %2").arg(page.controller.nodeId).arg(page.controller.dbPath)
      Layout.fillWidth: true
      HealthBadge {
        id: healthBadge
        objectName: "healthBadge"
        known: page.s.valid
        healthy: page.s.healthy
        differs: page.check.verdict === "differ"
        alertLevel: page.s.alertLevel
        alerts: page.s.alertsFiring
        reason: !page.s.healthy ? page.s.unhealthyReason
              : page.s.alertsFiring > 0 ? page.s.alertText
              : healthBadge.differs ? qsTr("The last consistency check found differing data (Cluster page)")
              : ""
      }
    }

    // First run: how to point the node at the user's own database and cluster.
    Rectangle {
      objectName: "firstRunBanner"
      visible: page.controller.firstRun
      color: Theme.accentSoft
      radius: Theme.radius
      Layout.fillWidth: true
      implicitHeight: firstRunCol.implicitHeight + 2 * Theme.padding
      ColumnLayout {
        id: firstRunCol
        anchors.fill: parent
        anchors.margins: Theme.padding
        Label {
          text: qsTr("Running on the first-run defaults")
          font.bold: true
          color: Theme.accent
        }
        Label {
          text: qsTr("This node replicates %1 through its own embedded NATS server. To replicate your " +
                     "database with other nodes, open your database file, choose the NATS servers of " +
                     "your cluster, or load a config file (see docs/configuration.md).").arg(page.controller.dbPath)
          wrapMode: Text.WordWrap
          color: Theme.text
          Layout.fillWidth: true
        }
        SetupActions { controller: page.controller }
      }
    }

    Rectangle {
      id: problemBanner
      objectName: "problemBanner"
      readonly property bool failed: page.controller.engineState === DashboardController.EngineState.Failed
      visible: failed || (page.s.valid && !page.s.healthy) || page.controller.configError.length > 0
      color: Theme.badSoft
      radius: Theme.radius
      Layout.fillWidth: true
      implicitHeight: problemText.implicitHeight + 2 * Theme.padding
      Label {
        id: problemText
        objectName: "problemText"
        anchors.fill: parent
        anchors.margins: Theme.padding
        wrapMode: Text.WordWrap
        color: Theme.bad
        text: page.controller.configError.length > 0 ? page.controller.configError
            : problemBanner.failed ? qsTr("The node could not start: %1").arg(page.controller.engineError)
            : qsTr("Unhealthy: %1").arg(page.s.unhealthyReason)
      }
    }

    // Firing alerts (docs/alerts.md), one line each; the Events page keeps their history.
    Rectangle {
      id: alertBanner
      objectName: "alertBanner"
      visible: page.s.valid && page.s.alertsFiring > 0
      color: page.s.alertLevel >= 1 ? Theme.badSoft : Theme.warnSoft
      radius: Theme.radius
      Layout.fillWidth: true
      implicitHeight: alertText.implicitHeight + 2 * Theme.padding
      Label {
        id: alertText
        objectName: "alertText"
        anchors.fill: parent
        anchors.margins: Theme.padding
        wrapMode: Text.WordWrap
        color: page.s.alertLevel >= 1 ? Theme.bad : Theme.warn
        text: page.s.alertText
        Accessible.name: qsTr("Firing alerts")
        Accessible.description: page.s.alertText
      }
    }

    // Shards waiting for a schema change this node lacks: what they wait for and the way out.
    Rectangle {
      objectName: "schemaBanner"
      visible: page.s.schemaPausedShards > 0
      color: Theme.warnSoft
      radius: Theme.radius
      Layout.fillWidth: true
      implicitHeight: schemaRow.implicitHeight + 2 * Theme.padding
      RowLayout {
        id: schemaRow
        anchors.fill: parent
        anchors.margins: Theme.padding
        spacing: Theme.spacing
        Label {
          objectName: "schemaBannerText"
          text: page.s.schemaBanner
          color: Theme.warn
          wrapMode: Text.WordWrap
          Layout.fillWidth: true
        }
        Button {
          objectName: "openSchemaButton"
          text: qsTr("Open the Schema page")
          Accessible.name: qsTr("Open the Schema page: what the paused shards wait for")
          Accessible.description: qsTr("Shows the paused shards and the schema change they wait for")
          onClicked: page.openSchemaPage()
        }
      }
    }

    GridLayout {
      columns: page.availableWidth >= 7 * 170 ? 7 : 4
      columnSpacing: Theme.spacing
      rowSpacing: Theme.spacing
      Layout.fillWidth: true
      StatTile {
        objectName: "published"
        label: qsTr("Published")
        value: Theme.number(page.s.published)
        caption: Theme.rate(page.s.publishRate)
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
      StatTile {
        objectName: "applied"
        label: qsTr("Applied")
        value: Theme.number(page.s.applied)
        caption: Theme.rate(page.s.applyRate)
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
      StatTile {
        objectName: "pending"
        label: qsTr("Pending changes")
        value: Theme.number(page.s.pendingChanges)
        caption: page.s.publishingPaused ? qsTr("publishing paused") : qsTr("last sent %1").arg(page.s.lastPublished)
        valueColor: page.s.publishingPaused ? Theme.warn : Theme.text
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
      StatTile {
        objectName: "lag"
        label: qsTr("Lag")
        value: Theme.number(page.s.lagMessages)
        caption: qsTr("%1 s behind · last applied %2").arg(Number(page.s.lagSeconds).toFixed(1)).arg(page.s.lastReplicated)
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
      StatTile {
        objectName: "conflicts"
        label: qsTr("Conflicts")
        value: Theme.number(page.s.conflicts)
        caption: page.s.insertCollisions > 0 ? qsTr("%1 insert collisions since start").arg(Theme.number(page.s.insertCollisions)) : qsTr("in the journal")
        valueColor: page.s.conflicts > 0 ? Theme.warn : Theme.text
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
      StatTile {
        objectName: "deadLetters"
        label: qsTr("Dead letters")
        value: Theme.number(page.s.deadLetters)
        caption: page.s.failedChanges > 0 ? qsTr("%1 changes too large").arg(page.s.failedChanges) : qsTr("waiting for retry or discard")
        valueColor: page.s.deadLetters > 0 ? Theme.bad : Theme.text
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
      StatTile {
        objectName: "newestSnapshot"
        label: qsTr("Newest snapshot")
        value: !page.snap.valid ? "–" : !page.snap.enabled ? qsTr("off") : page.snap.newestAge
        caption: page.snap.busy ? qsTr("%1 under way").arg(page.snap.activityText)
               : page.snap.newestId.length > 0 ? qsTr("by %1").arg(page.snap.newestBy) : ""
        valueColor: page.snap.lastError.length > 0 ? Theme.bad : Theme.text
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
    }

    // The snapshot operation under way, in one line (the Snapshots page has the details).
    Label {
      objectName: "snapshotProgress"
      visible: page.snap.valid && page.snap.busy
      text: qsTr("Snapshot %1 %2: %3").arg(page.snap.activityText).arg(page.snap.activityTarget).arg(page.snap.progress)
      color: Theme.accent
      elide: Text.ElideMiddle
      Layout.fillWidth: true
    }

    RowLayout {
      spacing: Theme.spacing
      Layout.fillWidth: true

      Card {
        title: qsTr("Node")
        Layout.fillWidth: true
        Layout.preferredWidth: 1
        Layout.alignment: Qt.AlignTop
        GridLayout {
          columns: 2
          columnSpacing: Theme.spacing
          Layout.fillWidth: true
          Label { text: qsTr("Node id"); color: Theme.textMuted }
          Label { objectName: "nodeIdText"; text: page.controller.nodeId; font.bold: true }
          Label { text: qsTr("Version"); color: Theme.textMuted }
          Label { text: page.s.version || "–" }
          Label { text: qsTr("Uptime"); color: Theme.textMuted }
          Label { text: page.s.uptime || "–" }
          Label { text: qsTr("Database"); color: Theme.textMuted }
          Label { text: page.s.dbSize || "–" }
          Label { text: qsTr("Tables"); color: Theme.textMuted }
          Label { text: qsTr("%1 replicated%2").arg(page.s.tablesTracked).arg(page.s.cdcInstalled ? "" : qsTr(", capture off")) }
          Label { text: qsTr("Schema hash"); color: Theme.textMuted }
          CopyableLabel { objectName: "schemaHashText"; text: page.s.schemaHash ? page.s.schemaHash.substring(0, 16) + "…" : "–"; fullText: page.s.schemaHash; font.family: "monospace" }
          Label { text: qsTr("Cluster"); color: Theme.textMuted }
          Label {
            objectName: "clusterSize"
            text: page.s.clusterSize === 1 ? qsTr("1 node heard from")
                                           : qsTr("%1 nodes heard from").arg(page.s.clusterSize)
          }
        }
      }

      Card {
        title: qsTr("NATS")
        Layout.fillWidth: true
        Layout.preferredWidth: 1
        Layout.alignment: Qt.AlignTop
        headerItems: StateChip {
          objectName: "natsState"
          text: page.s.natsConnected ? qsTr("connected") : page.s.valid ? qsTr("disconnected") : ""
          tone: page.s.natsConnected ? Theme.Tone.Good : page.s.valid ? Theme.Tone.Bad : Theme.Tone.Neutral
        }
        GridLayout {
          columns: 2
          columnSpacing: Theme.spacing
          Layout.fillWidth: true
          Label { text: qsTr("Server"); color: Theme.textMuted }
          CopyableLabel { text: page.s.natsServer || "–"; Layout.fillWidth: true }
          Label { text: qsTr("Embedded"); color: Theme.textMuted }
          Label {
            objectName: "embeddedState"
            text: page.s.embeddedServerText || qsTr("not used (external servers)")
            color: page.s.embeddedServer === Hl.ServerState.None ? Theme.text : Theme.toneColor(Theme.serverTone(page.s.embeddedServer))
          }
          Label { text: qsTr("Reconnects"); color: Theme.textMuted }
          Label { text: Theme.number(page.s.natsReconnects) }
        }
        Button {
          objectName: "reconnectButton"
          Accessible.name: qsTr("Reconnect to NATS")
          Accessible.description: qsTr("Drops the NATS connection and connects again")
          text: qsTr("Reconnect")
          enabled: page.s.valid
          onClicked: page.controller.reconnectNats()
        }
      }

      Card {
        title: qsTr("Publishing")
        Layout.fillWidth: true
        Layout.preferredWidth: 1
        Layout.alignment: Qt.AlignTop
        headerItems: StateChip {
          objectName: "publishingState"
          text: !page.s.valid ? "" : page.s.publishingPaused ? qsTr("paused") : qsTr("running")
          tone: !page.s.valid ? Theme.Tone.Neutral : page.s.publishingPaused ? Theme.Tone.Warn : Theme.Tone.Good
        }
        GridLayout {
          columns: 2
          columnSpacing: Theme.spacing
          Layout.fillWidth: true
          Label { text: qsTr("Last published"); color: Theme.textMuted }
          Label { text: page.s.lastPublished || "–" }
          Label { text: qsTr("Publish retries"); color: Theme.textMuted }
          Label { text: Theme.number(page.s.failedPublishes) }
          Label { text: qsTr("Too large"); color: Theme.textMuted }
          Label { text: Theme.number(page.s.failedChanges) }
        }
        RowLayout {
          Button {
            objectName: "publishingButton"
            Accessible.name: text
            Accessible.description: qsTr("Stops or restarts sending this node's changes; they are kept meanwhile")
            text: page.s.publishingPaused ? qsTr("Resume publishing") : qsTr("Pause publishing")
            enabled: page.s.valid
            onClicked: page.s.publishingPaused ? page.controller.resumePublishing() : page.controller.pausePublishing()
          }
          Button {
            objectName: "retryFailedButton"
            Accessible.name: qsTr("Retry the changes that were too large")
            Accessible.description: qsTr("Sends the changes that were larger than the server accepts again")
            text: qsTr("Retry too large")
            visible: page.s.failedChanges > 0
            onClicked: page.controller.retryFailedPublishes()
          }
        }
      }
    }

    Card {
      title: qsTr("Changes per second")
      Layout.fillWidth: true
      Layout.preferredHeight: 300
      headerItems: RangeChoice { id: rateRange; objectName: "rateRange" }
      RateChart {
        objectName: "rateChart"
        controller: page.controller
        range: rateRange.range
        Layout.fillWidth: true
        Layout.fillHeight: true
      }
    }
  }
}
