// Lag in messages per shard over the last `window` seconds, from controller.shardLagSampleAdded.
// One line per shard for up to 8 shards; with more, one line for their sum.
import QtQuick
import QtCharts
import HarmonyLite.Backend
import HarmonyLite.Components

ChartView {
  id: chart
  required property DashboardController controller  // from the page
  property real window: 120
  property real maxY: 10
  property var lines: []
  readonly property int lineCount: lines.length
  antialiasing: false
  legend.alignment: Qt.AlignBottom
  backgroundColor: Theme.surface
  plotAreaColor: Theme.surface
  margins { top: 4; bottom: 4; left: 4; right: 4 }

  // Why the axis lines silence qmllint's import/type/property checks (on those lines only): Qt
  // 6.4's QtCharts plugins.qmltypes describes QValueAxis twice and qmllint keeps the deprecated
  // ValuesAxis export, so it resolves neither ValueAxis, its properties, nor an axis set to one.
  ValueAxis { id: xAxis; min: 0; max: chart.window; labelFormat: "%.0f s"; tickCount: 7; labelsColor: Theme.textMuted }  // qmllint disable import type property
  ValueAxis { id: yAxis; min: 0; max: chart.maxY; labelFormat: "%.0f"; labelsColor: Theme.textMuted }  // qmllint disable import type property

  readonly property var palette: ["#2563a8", "#1f8a4c", "#b86e00", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400"]

  // Samples kept while hidden, drawn when the chart shows (see RateChart.qml).
  property var samples: []

  function add(t, lags) {
    samples.push([t, lags.length > 8 ? [lags.reduce((a, b) => a + b, 0)] : lags, lags.length > 8])
    while (samples.length > 0 && samples[0][0] < t - window) samples.shift()
    if (!visible) return
    const latest = samples[samples.length - 1]
    if (latest[1].length !== lines.length) { draw(); return }
    // Visible: one point more per line, the old ones out.
    for (let i = 0; i < lines.length; ++i) {
      lines[i].append(t, latest[1][i])
      while (lines[i].count > samples.length) lines[i].remove(0)
    }
    scale()
  }

  function scale() {
    let top = 10
    for (const sample of samples)
      for (const v of sample[1]) top = Math.max(top, v)
    maxY = Math.ceil(top * 1.15)
    const t = samples.length > 0 ? samples[samples.length - 1][0] : 0
    xAxis.min = Math.max(0, t - window)
    xAxis.max = Math.max(window, t)
  }

  function draw() {
    if (samples.length === 0) return
    const latest = samples[samples.length - 1]
    const values = latest[1]
    if (values.length !== lines.length) {
      removeAllSeries()
      const made = []
      for (let i = 0; i < values.length; ++i) {
        const s = createSeries(ChartView.SeriesTypeLine, latest[2] ? "all shards" : "shard " + (i + 1), xAxis, yAxis)
        s.color = palette[i % palette.length]
        s.width = 2
        made.push(s)
      }
      lines = made
    }
    for (let i = 0; i < lines.length; ++i) lines[i].clear()
    for (const sample of samples) {
      if (sample[1].length !== lines.length) continue
      for (let i = 0; i < lines.length; ++i) lines[i].append(sample[0], sample[1][i])
    }
    scale()
  }

  onVisibleChanged: if (visible) draw()

  Connections {
    target: chart.controller
    function onShardLagSampleAdded(t, lags) { chart.add(t, lags) }
  }
}
