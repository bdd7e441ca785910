// Latency percentile plots (bench/README.md): per scenario, a gnuplot script and data files, rendered to a PNG.
#ifndef PORTRAIT_BRIDGE_BENCH_PLOT_H_
#define PORTRAIT_BRIDGE_BENCH_PLOT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace portrait_bridge::bench {

/// One latency distribution on a chart. Curves of one `group` share a colour; `baseline` ones are dashed.
struct Curve {
  std::string label;
  std::vector<uint32_t> sorted_us;  ///< Every sample, sorted (microseconds).
  int group = 0;
  bool baseline = false;
};

/// A horizontal line across the chart (a target).
struct PlotLine {
  double ms = 0;
  std::string label;
};

/// Writes `<dir>/scenario-<name>-<k>.dat` (percentile, -log10(1 - p), latency ms; one file per curve) and
/// `<dir>/scenario-<name>.gp`, then renders `<dir>/scenario-<name>.png` with gnuplot: latency (log scale) against
/// percentile on a log axis (50%, 90%, 99%, 99.9%, ...), the HdrHistogram-style plot. Returns the line to print:
/// where the plot is, or why it was not rendered (no gnuplot: the data and script are written anyway).
std::string WritePercentilePlot(const std::string& dir, const std::string& name, const std::string& title,
                                const std::vector<Curve>& curves, const std::vector<PlotLine>& lines);

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_PLOT_H_
