// Pictures of digits and networks: labelled digit grids (PNG and terminal), a confusion matrix
// heat map, and first-layer weight tiles. Pure functions: they draw into an Image or a string.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "nnet/image.h"
#include "nnet/network.h"
#include "nnet/status.h"

namespace nnet {

// One digit to draw: rows*cols ink values 0..1 (row-major, as in Dataset) and a caption.
struct DigitTile {
  const float* pixels = nullptr;  // (rows * cols)
  std::string caption;            // drawn under the digit; "" for none
  bool highlight = false;         // draw the caption in red (e.g. a wrong prediction)
};

struct GridStyle {
  int rows = 28, cols = 28;  // pixels per digit
  int scale = 3;             // each pixel becomes scale x scale (nearest neighbour)
  int columns = 10;          // digits per row of the grid
  std::string title;         // drawn above the grid when not empty
};

// Draws the tiles dark-on-white (like the book's figures) in a grid with captions; RGB output.
// Each digit occupies the exact square (scale*cols x scale*rows) that tile_origin() reports.
Status render_digit_grid(const std::vector<DigitTile>& tiles, const GridStyle& style, Image* out);

// Top-left pixel of tile i's digit square in render_digit_grid's output.
void tile_origin(const GridStyle& style, size_t tiles, size_t i, int* x, int* y);

// The tiles as terminal text: two pixel rows per line using "▀" with 256-colour grayscale
// foreground/background (color), or an ASCII ramp with doubled columns (no color). As many digits
// per line as fit in `width` columns; captions above each row of digits.
std::string terminal_digits(const std::vector<DigitTile>& tiles, int rows, int cols, int width,
                            bool color);

// A confusion matrix heat map: counts is (n, n) row-major, rows = true label, columns =
// predicted. Cells are shaded by their share of the row and show the count; RGB output.
Status render_confusion(const std::vector<long>& counts, int n, const std::string& title,
                        Image* out);

// Each row of w (neurons, rows*cols) as a rows x cols tile in a diverging colour map (blue < 0 <
// red, white at 0), each tile scaled by its own largest |weight|; RGB output.
Status render_weights(const Eigen::Ref<const Eigen::MatrixXf>& w, int rows, int cols,
                      const std::string& title, Image* out);

// Conv kernels w (filters, channels*kernel*kernel), column (c*K + ky)*K + kx as NetworkT stores
// them, as K x K tiles upscaled to ~60 pixels in render_weights' colour map: one tile per filter
// (captioned f) when channels == 1, else one row of `channels` tiles per filter ("f:c"); each
// filter scaled by its own largest |weight|. At most 4096 tiles; RGB output.
Status render_filters(const Eigen::Ref<const Eigen::MatrixXf>& w, int channels, int kernel,
                      const std::string& title, Image* out);

// Weight layer `layer` (1 = the first) of `net`: a conv layer as render_filters draws it, any
// other layer as render_weights tiles when its inputs form a one-channel image or a square (28x28
// pixels, the softmax after fc:25 as 5x5). `name` (e.g. the model file) starts the title and any
// error: a layer out of range is a usage error, one whose inputs are no picture a data error.
Status render_layer_weights(const Network& net, int layer, const std::string& name, Image* out);

}  // namespace nnet
