// Plots of training histories (cairo): the four network2 monitors as a 2x2 figure with runs
// overlaid, and per-layer gradient norms on a log axis. PNG or SVG, chosen by the file name.
#pragma once

#include <string>
#include <vector>

#include "nnet/health.h"
#include "nnet/history.h"
#include "nnet/status.h"

namespace nnet {

// One curve set: a history and the name the legend shows for it.
struct PlotRun {
  std::string label;
  History history;
};

// True when `path` ends in .svg (case-insensitive); everything else is written as PNG.
bool is_svg_path(const std::string& path);

// Draws training/evaluation cost and accuracy per epoch (2x2 panels, one line per run, legend)
// and writes it to `path` atomically. Panels no run monitored say so. Code 65 when no run has any
// monitored figure.
Status plot_curves(const std::vector<PlotRun>& runs, const std::string& path);

// Draws each layer's mean |dC/db| per epoch on a log y axis (the book's chapter 5 figure; the
// runs must have been trained with --record-gradients) and writes it to `path`. Code 65 when no
// run recorded gradients.
Status plot_gradients(const std::vector<PlotRun>& runs, const std::string& path);

// plot_gradients' legend names for the `layers` weight layers of run `h`: "layer 1: conv:20:5", ...
// when h.options["layers"] spells a stack with that many weight layers (conv, fc, softmax), else
// "hidden layer 1", ..., "output layer".
std::vector<std::string> weight_layer_names(const History& h, size_t layers);

// Draws the health evidence a run recorded (`nnet train --history`, hints on) per epoch, one panel
// per signal with the threshold its hint fires on marked (health.h): wrong-side output
// saturation, the top class's share, dead and saturated hidden units per layer, the first/last
// layer gradient ratio (log axis), training minus evaluation accuracy and the sample's cost.
// Code 65 when no run recorded health.
Status plot_health(const std::vector<PlotRun>& runs, const std::string& path);

// A legend label for a history file: its file name without directory and extension.
std::string label_from_path(const std::string& path);

}  // namespace nnet
