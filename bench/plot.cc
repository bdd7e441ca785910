#include "bench/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "bench/measure.h"

namespace portrait_bridge::bench {
namespace {

// Points per decade of the x axis (-log10(1 - p)): enough for a smooth curve, few enough to read the file.
constexpr int kPointsPerDecade = 50;
// Latency axis floor: a log axis cannot show 0.
constexpr double kMinMs = 0.001;

// A string inside a gnuplot double-quoted string.
std::string Quoted(const std::string& text) {
  return "\"" + absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}}) + "\"";
}

// Long titles broken into lines at "; " and " (", so that they fit over the chart.
std::string Wrapped(const std::string& title, size_t width) {
  std::string out, line;
  size_t start = 0;
  while (start < title.size()) {
    size_t cut = title.find_first_of(";(", start);
    cut = cut == std::string::npos ? title.size() : cut + 1;
    const std::string piece = title.substr(start, cut - start);
    if (!line.empty() && line.size() + piece.size() > width) {
      out += line + "\\n";  // A line break inside a gnuplot double-quoted string.
      line.clear();
    }
    line += piece;
    start = cut;
  }
  return out + line;
}

// A path inside a shell single-quoted string.
std::string ShellQuoted(const std::string& text) { return "'" + absl::StrReplaceAll(text, {{"'", "'\\''"}}) + "'"; }

// percentile (%), -log10(1 - p), latency (ms): from p = 0 (the minimum) to p = 1 - 1/n, then the maximum.
void WriteData(const std::string& path, const std::string& name, const Curve& curve) {
  std::ofstream out(path, std::ios::trunc);
  const size_t n = curve.sorted_us.size();
  out << "# scenario " << name << ": " << curve.label << "; " << n
      << " latency samples, nearest-rank percentiles\n# percentile  nines(-log10(1-p))  latency_ms\n";
  if (n == 0) return;
  const double last = std::log10(static_cast<double>(n));
  auto point = [&](double nines, double ms) {
    const double p = 1 - std::pow(10.0, -nines);
    out << absl::StrFormat("%.6f %.4f %.3f\n", 100 * p, nines, std::max(kMinMs, ms));
  };
  for (int step = 0; static_cast<double>(step) / kPointsPerDecade < last; ++step) {
    const double nines = static_cast<double>(step) / kPointsPerDecade;
    point(nines, Percentile(curve.sorted_us, 1 - std::pow(10.0, -nines)));
  }
  point(last, curve.sorted_us.back() / 1000.0);
}

}  // namespace

std::string WritePercentilePlot(const std::string& dir, const std::string& name, const std::string& title,
                                const std::vector<Curve>& curves, const std::vector<PlotLine>& lines) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return "plot: cannot create " + dir + ": " + error.message();
  const std::string base = "scenario-" + name;
  // Data files of an earlier run that had more curves would otherwise look like part of this one.
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(base + "-", 0) == 0 && entry.path().extension() == ".dat") {
      std::filesystem::remove(entry.path(), error);
    }
  }
  double max_nines = 1;
  std::string plot;
  for (size_t k = 0; k < curves.size(); ++k) {
    const Curve& curve = curves[k];
    const std::string data = absl::StrCat(base, "-", k + 1, ".dat");
    WriteData(dir + "/" + data, name, curve);
    if (curve.sorted_us.empty()) continue;
    max_nines = std::max(max_nines, std::log10(static_cast<double>(curve.sorted_us.size())));
    absl::StrAppend(&plot, plot.empty() ? "plot " : ", \\\n     ", Quoted(data), " using 2:3 with lines lw 2 lc ",
                    curve.group + 1, " dt ", curve.baseline ? 2 : 1, " title ", Quoted(curve.label));
  }
  if (plot.empty()) return "plot: no latency samples, nothing drawn";
  // Targets: a line each, named where it ends (a legend entry per line could not say which line is which).
  std::string labels;
  for (const PlotLine& line : lines) {
    absl::StrAppend(&plot, ", \\\n     ", line.ms, " with lines lw 1.5 lc rgb \"dark-red\" dt 4 notitle");
    absl::StrAppend(&labels, "set label ", Quoted(absl::StrCat(line.label, ": ", line.ms, " ms")),
                    " at graph 0.99, first ", line.ms, " right offset 0,0.6 textcolor rgb \"dark-red\" front\n");
  }
  // Percentile ticks at whole nines; x = -log10(1 - p) so each nine gets the same width. Tic labels are format
  // strings to gnuplot: "%%" is a percent sign.
  std::string tics = "\"0%%\" 0, \"50%%\" 0.30103";
  static const char* const kNines[] = {"90%%", "99%%", "99.9%%", "99.99%%", "99.999%%", "99.9999%%", "99.99999%%"};
  const int decades = static_cast<int>(std::ceil(max_nines));
  for (int d = 1; d <= decades && d <= static_cast<int>(std::size(kNines)); ++d) {
    absl::StrAppend(&tics, ", \"", kNines[d - 1], "\" ", d);
  }
  const std::string script = base + ".gp";
  {
    std::ofstream out(dir + "/" + script, std::ios::trunc);
    out << "# Latency percentile plot of scenario " << name << " (bench/README.md); run in this directory.\n"
        << "set terminal pngcairo noenhanced size 1100,650 font \"sans,10\"\n"
        << "set output " << Quoted(base + ".png") << "\n"
        << "set title \"" << absl::StrReplaceAll(Wrapped(title, 110), {{"\"", "\\\""}}) << "\"\n"
        << "set xlabel \"percentile (log axis: x = -log10(1 - p))\"\n"
        << "set ylabel \"latency (ms, log scale)\"\n"
        << "set logscale y\n"
        << "set xrange [0:" << decades << "]\n"
        << "set xtics (" << tics << ")\n"
        << "set grid xtics ytics mytics\n"
        << "set key bottom right box opaque\n"  // Where percentile curves never go.
        << labels << plot << "\n";
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return "plot: gnuplot not found (Debian: gnuplot-nox), not rendered; data and script in " + dir + "/" + base + "*";
  }
  const std::string command =
      "cd " + ShellQuoted(dir) + " && gnuplot " + ShellQuoted(script) + " 2>" + ShellQuoted(base + ".gnuplot.log");
  if (std::system(command.c_str()) != 0) {
    return "plot: gnuplot failed; see " + dir + "/" + base + ".gnuplot.log";
  }
  std::filesystem::remove(dir + "/" + base + ".gnuplot.log", error);
  return "plot: " + dir + "/" + base + ".png (data " + base + "-*.dat, script " + script + ")";
}

}  // namespace portrait_bridge::bench
